package feed

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/dnc"
	cfredis "callfilter/store/redis"
)

// TestMeasure reports the figures for BENCHMARKS.md on a dedicated
// redis-server started on a free loopback port: bytes per listed number for a
// dense 10M-number list and a sparse 1M one (INFO memory used_memory delta,
// stream excluded and reported apart), with Redis's default
// set-max-intset-entries and with 10000, and the time for a new instance to
// become ready (feed head + full load) with the 10M-number list. It takes a
// few minutes: run it with CALLFILTER_MEASURE=1.
//
//	CALLFILTER_MEASURE=1 go test -run TestMeasure -v -timeout 30m ./feed
func TestMeasure(t *testing.T) {
	if os.Getenv("CALLFILTER_MEASURE") == "" {
		t.Skip("set CALLFILTER_MEASURE=1 to measure (minutes)")
	}
	port := freePort(t)
	srv := startServerAt(t, port, filepath.Join(tmpRoot, "measure-"+strconv.Itoa(port)), "--appendonly", "no")
	defer kill(srv)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	rc := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true, ReadTimeout: time.Minute})
	defer rc.Close()
	ctx := context.Background()
	used := func() int64 {
		info, err := rc.Info(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(info) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		t.Fatal("no used_memory")
		return 0
	}
	dense := make([]uint64, 10_000_000)
	for i := range dense {
		dense[i] = 1_212_000_0000 + uint64(i)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	sparse := make([]uint64, 1_000_000)
	for i := range sparse {
		sparse[i] = 1_200_000_0000 + rng.Uint64N(8_000_000_000)
	}
	opts := cfredis.Options{Addrs: []string{addr}, KeyPrefix: "cf", ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	st, err := cfredis.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	load := func(list string, keys []uint64) (perKey float64, streamBytes int64, took time.Duration) {
		before := used()
		start := time.Now()
		for i := 0; i < len(keys); i += 100_000 {
			if _, err := st.AddToList(ctx, list, keys[i:min(i+100_000, len(keys))]); err != nil {
				t.Fatal(err)
			}
		}
		took = time.Since(start)
		streamBytes, _ = rc.MemoryUsage(ctx, "cf:list:{"+list+"}:feed", 0).Result()
		return float64(used()-before-streamBytes) / float64(len(keys)), streamBytes, took
	}
	for _, intset := range []string{"", "10000"} {
		if err := rc.FlushAll(ctx).Err(); err != nil { // our own dedicated server
			t.Fatal(err)
		}
		label := "set-max-intset-entries default (512)"
		if intset != "" {
			label = "set-max-intset-entries " + intset
			if err := rc.ConfigSet(ctx, "set-max-intset-entries", intset).Err(); err != nil {
				t.Fatal(err)
			}
		}
		d, ds, dt := load("national", dense)
		t.Logf("%s: dense 10M: %.2f bytes/number (feed stream %d MB apart), added in %v", label, d, ds>>20, dt)

		// A new instance: feed head, full load, tail.
		lists := dnc.New(st, dnc.Options{})
		f := New(st, lists, Options{})
		start := time.Now()
		if err := f.Load(ctx, []string{"national"}); err != nil {
			t.Fatal(err)
		}
		for !lists.Ready() || !f.Synced() {
			time.Sleep(time.Millisecond)
		}
		t.Logf("%s: new instance ready with the 10M-number list in %v", label, time.Since(start))
		f.Close()
		lists.Close()

		s, ss, stt := load("state", sparse)
		t.Logf("%s: sparse 1M: %.2f bytes/number (feed stream %d MB apart), added in %v", label, s, ss>>20, stt)
	}
}
