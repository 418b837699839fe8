package redis_test

import (
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/store"
	cfredis "callfilter/store/redis"
	"callfilter/store/redis/redistest"
)

// MustOpenSentinel opens a store through the Sentinel of set, under a fresh
// prefix (the set is the test's own: nothing to clean up).
func MustOpenSentinel(tb testing.TB, set *redistest.SentinelSet) *cfredis.Store {
	tb.Helper()
	return mustOpen(tb, cfredis.Options{Addrs: []string{set.Sentinel}, MasterName: set.MasterName, KeyPrefix: redistest.RandomPrefix()})
}

// TestSentinel runs the conformance suite with the client finding the primary
// through a Sentinel, as `store: {kind: redis, master_name: …}` does.
func TestSentinel(t *testing.T) {
	set := redistest.StartSentinel(t)
	store.Suite{
		Open:   func(t *testing.T) filter.Store { return MustOpenSentinel(t, set) },
		Reopen: reopen,
	}.Run(t)
}

// TestSentinelFailover kills the primary under a store opened through the
// Sentinel: while no primary is elected every call fails with EUnavailable
// (checks deny with unavailable; nothing hangs), and once the replica is
// promoted the same store serves again without a restart, with every write
// acknowledged and replicated before the crash, scripts included (they are
// not replicated: the store must reload them on the new primary).
func TestSentinelFailover(t *testing.T) {
	set := redistest.StartSentinel(t)
	st := MustOpenSentinel(t, set)
	ctx := t.Context()
	subj := filter.Subject(sha256.Sum256([]byte("+12125550134")))
	if _, err := st.AddToList(ctx, "internal", []uint64{12125550134}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)
	consent := filter.Consent{Subject: subj, Last4: "0134", Seller: "acme", Purpose: "insurance", Channel: filter.ChannelSMS, GrantedAt: at, Source: "web"}
	if err := st.PutConsent(ctx, consent); err != nil {
		t.Fatal(err)
	}
	caps := []filter.Cap{{Max: 2, Window: 24 * time.Hour}}
	reserve := func(at time.Time) (bool, error) {
		return st.Reserve(ctx, filter.ReserveQuery{Subject: subj, Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, At: at, Caps: caps})
	}
	if ok, err := reserve(at); err != nil || !ok {
		t.Fatalf("Reserve before the failover: %v, %v; want granted", ok, err)
	}
	set.WaitReplicated(t)

	set.KillPrimary()
	start := time.Now()
	_, err := st.Facts(ctx, filter.FactsQuery{Key: 12125550134, Lists: []string{"internal"}, Subject: subj, Seller: "acme"})
	wantKind(t, err, filter.EUnavailable, "Facts with the primary killed")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Facts with the primary killed took %v: it must fail within the timeouts", d)
	}

	set.WaitFailover(t, 20*time.Second)
	// The client learns the new primary from the Sentinel on its next dial;
	// allow it a few tries.
	var f filter.Facts
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		f, err = st.Facts(ctx, filter.FactsQuery{Key: 12125550134, Lists: []string{"internal"}, Subject: subj, Seller: "acme",
			Purpose: "insurance", Channel: filter.ChannelCall, AttemptsSince: at.Add(-time.Hour)})
		if err == nil {
			break
		}
		wantKind(t, err, filter.EUnavailable, "Facts during the failover")
		if time.Now().After(deadline) {
			t.Fatalf("Facts after the failover: still %v", err)
		}
	}
	if got := f.ListState("internal"); got != filter.ListPresent {
		t.Errorf("after failover: list internal state %v, want present (an acknowledged opt-out was lost)", got)
	}
	if !slices.ContainsFunc(f.Consents, func(c filter.Consent) bool { return c.Seller == "acme" && c.Channel == filter.ChannelSMS }) {
		t.Errorf("after failover: consents %+v, want the one granted before the crash", f.Consents)
	}
	if len(f.Attempts) != 1 {
		t.Errorf("after failover: %d attempts, want the 1 reserved before the crash", len(f.Attempts))
	}
	// Reserve runs a Lua script the new primary has never seen.
	if ok, err := reserve(at.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("Reserve after the failover: %v, %v; want granted (2nd of cap 2)", ok, err)
	}
	if ok, err := reserve(at.Add(2 * time.Minute)); err != nil || ok {
		t.Fatalf("Reserve after the failover: %v, %v; want refused (3rd of cap 2)", ok, err)
	}
	if _, err := st.AddToList(ctx, "internal", []uint64{12125550135}); err != nil {
		t.Fatalf("AddToList after the failover: %v", err)
	}
}

// TestSentinelWaitReplicas: with WaitReplicas, a write succeeds only once the
// replica holds it. With the replica stopped, writes fail EUnavailable
// within the wait timeout (and the API would answer 503); once it runs again
// they succeed; and every write acknowledged right up to a crash of the
// primary is there after the failover, with no WaitReplicated of the test's
// own. The conformance suite also runs with WaitReplicas set.
func TestSentinelWaitReplicas(t *testing.T) {
	set := redistest.StartSentinel(t)
	open := func(t *testing.T) *cfredis.Store {
		return mustOpen(t, cfredis.Options{Addrs: []string{set.Sentinel}, MasterName: set.MasterName, KeyPrefix: redistest.RandomPrefix(),
			WaitReplicas: 1, WaitTimeout: 200 * time.Millisecond})
	}
	t.Run("suite", func(t *testing.T) {
		store.Suite{Open: func(t *testing.T) filter.Store { return open(t) }, Reopen: reopen}.Run(t)
	})
	st := open(t)
	ctx := t.Context()
	subj := filter.Subject(sha256.Sum256([]byte("+12125550134")))
	consent := filter.Consent{Subject: subj, Last4: "0134", Seller: "acme", Purpose: "insurance", Channel: filter.ChannelSMS,
		GrantedAt: time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC), Source: "web"}
	if _, err := st.AddToList(ctx, "internal", []uint64{12125550100}); err != nil {
		t.Fatal(err)
	}

	set.StopReplica(t)
	start := time.Now()
	_, err := st.AddToList(ctx, "internal", []uint64{12125550101})
	wantKind(t, err, filter.EUnavailable, "AddToList with the replica stopped")
	wantKind(t, st.PutConsent(ctx, consent), filter.EUnavailable, "PutConsent with the replica stopped")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("two writes with the replica stopped took %v: each must fail within the wait timeout", d)
	}
	set.ContinueReplica(t)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err = st.AddToList(ctx, "internal", []uint64{12125550101}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("AddToList after the replica resumed: still %v", err)
		}
	}
	if err := st.PutConsent(ctx, consent); err != nil {
		t.Fatal(err)
	}

	keys := []uint64{12125550100, 12125550101}
	for i := range 50 {
		k := uint64(12125550200 + i)
		if _, err := st.AddToList(ctx, "internal", []uint64{k}); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	set.KillPrimary()
	set.WaitFailover(t, 20*time.Second)
	for _, k := range keys {
		var f filter.Facts
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if f, err = st.Facts(ctx, filter.FactsQuery{Key: k, Lists: []string{"internal"}, Subject: subj, Seller: "acme"}); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Facts after the failover: still %v", err)
			}
		}
		if got := f.ListState("internal"); got != filter.ListPresent {
			t.Errorf("after failover: %d is %v, want present (an acknowledged opt-out was lost)", k, got)
		}
		if k == keys[0] && len(f.Consents) != 1 {
			t.Errorf("after failover: consents %+v, want the one granted before the crash", f.Consents)
		}
	}
}
