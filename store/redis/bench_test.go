package redis_test

import (
	"crypto/sha256"
	"strconv"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/store"
	cfredis "callfilter/store/redis"
	"callfilter/store/redis/redistest"
)

func itoa(i int) string { return strconv.Itoa(i) }

func BenchmarkFacts(b *testing.B) {
	st := MustOpenStandalone(b)
	ctx := b.Context()
	keys := make([]uint64, 10000)
	for i := range keys {
		keys[i] = 12125550000 + uint64(i)*7
	}
	for _, l := range []string{"federal", "state", "company"} {
		if _, err := st.AddToList(ctx, l, keys); err != nil {
			b.Fatal(err)
		}
	}
	subj := sha256.Sum256([]byte("bench"))
	now := time.Now()
	for i := range 5 {
		c := filter.Consent{Subject: subj, Last4: "0134", Seller: "acme", Purpose: "p" + itoa(i),
			Channel: filter.ChannelCall, GrantedAt: now, Source: "web"}
		if err := st.PutConsent(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := st.Reserve(ctx, filter.ReserveQuery{Subject: subj, Seller: "acme", Purpose: "p0",
			Channel: filter.ChannelCall, At: now.Add(time.Duration(i) * time.Second)}); err != nil {
			b.Fatal(err)
		}
	}
	q := filter.FactsQuery{Key: keys[42], Lists: []string{"federal", "state", "company"}, Subject: subj,
		Seller: "acme", Purpose: "p0", Channel: filter.ChannelCall, AttemptsSince: now.Add(-24 * time.Hour)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f, err := st.Facts(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Consents) != 5 || len(f.Attempts) != 3 {
			b.Fatalf("facts: %d consents, %d attempts", len(f.Consents), len(f.Attempts))
		}
	}
}

func BenchmarkReserve(b *testing.B) {
	st := MustOpenStandalone(b)
	ctx := b.Context()
	caps := []filter.Cap{{Max: 1 << 30, Window: time.Hour}, {Max: 1 << 30, Window: 24 * time.Hour}}
	now := time.Now()
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		subj := sha256.Sum256([]byte("bench-reserve-" + itoa(i%1000)))
		i++
		ok, err := st.Reserve(ctx, filter.ReserveQuery{Subject: subj, Seller: "acme", Purpose: "insurance",
			Channel: filter.ChannelCall, At: now, Caps: caps})
		if err != nil || !ok {
			b.Fatalf("Reserve: %v, %v", ok, err)
		}
	}
}

// BenchmarkWaitReplicas is the cost of store.wait_replicas: an opt-out
// (AddToList of one key) and a Reserve on a primary with one replica,
// without waiting and with WaitReplicas 1, in the same run.
func BenchmarkWaitReplicas(b *testing.B) {
	set := redistest.StartSentinel(b)
	for _, wait := range []int{0, 1} {
		st := mustOpen(b, cfredis.Options{Addrs: []string{set.Sentinel}, MasterName: set.MasterName,
			KeyPrefix: redistest.RandomPrefix(), WaitReplicas: wait})
		ctx := b.Context()
		b.Run("add/wait="+itoa(wait), func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				if _, err := st.AddToList(ctx, "internal", []uint64{12125550000 + uint64(i%100000)}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("reserve/wait="+itoa(wait), func(b *testing.B) {
			now := time.Now()
			i := 0
			for b.Loop() {
				i++
				subj := sha256.Sum256([]byte("bench-wait-" + itoa(i%1000)))
				if _, err := st.Reserve(ctx, filter.ReserveQuery{Subject: subj, Seller: "acme", Purpose: "insurance",
					Channel: filter.ChannelCall, At: now, Caps: []filter.Cap{{Max: 1 << 30, Window: time.Hour}}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSweepList: store.BenchSweep of 100k expired entries on the
// standalone test server.
func BenchmarkSweepList(b *testing.B) {
	store.BenchSweep(b, MustOpenStandalone(b), 100_000)
}
