package feed

import (
	"callfilter/store/redis/redistest"
	"context"
	"math/rand/v2"
	"net"
	"os"
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
// stream excluded and reported apart), with Redis's default settings, and
// the time for a new instance to become ready with the 10M-number list by a
// full scan and from the list's filter image plus the feed's tail. It takes
// a minute or two: run it with CALLFILTER_MEASURE=1.
//
//	CALLFILTER_MEASURE=1 go test -run TestMeasure -v -timeout 30m ./feed
func TestMeasure(t *testing.T) {
	if os.Getenv("CALLFILTER_MEASURE") == "" {
		t.Skip("set CALLFILTER_MEASURE=1 to measure (minutes)")
	}
	port := redistest.FreePort(t)
	srv := redistest.StartAt(t, port, redistest.Dir(t, "measure-"+strconv.Itoa(port)), "--appendonly", "no")
	defer redistest.Kill(srv)
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
	for _, intset := range []string{""} { // the layout needs no Redis setting: measure the defaults
		if err := rc.FlushAll(ctx).Err(); err != nil { // our own dedicated server
			t.Fatal(err)
		}
		label := "default Redis settings"
		if intset != "" {
			label = "set-max-intset-entries " + intset
			if err := rc.ConfigSet(ctx, "set-max-intset-entries", intset).Err(); err != nil {
				t.Fatal(err)
			}
		}
		d, ds, dt := load("national", dense)
		t.Logf("%s: dense 10M: %.2f bytes/number (feed stream %d MB apart), added in %v", label, d, ds>>20, dt)

		// A new instance: feed head, full scan, tail.
		lists := dnc.New(st, dnc.Options{})
		f := New(st, lists, Options{Images: ImageOptions{NoLoad: true, Every: -1}})
		start := time.Now()
		if err := f.Load(ctx, []string{"national"}); err != nil {
			t.Fatal(err)
		}
		for !lists.Ready() || !f.Synced() {
			time.Sleep(time.Millisecond)
		}
		t.Logf("%s: new instance ready with the 10M-number list by a full scan in %v", label, time.Since(start))
		start = time.Now()
		if err := f.WriteImage(ctx, "national", true); err != nil {
			t.Fatal(err)
		}
		t.Logf("filter image of the 10M-number list written in %v", time.Since(start))
		f.Close()
		lists.Close()

		// Changes after the image: the new instance applies them from the feed.
		tail := make([]uint64, 10_000)
		for i := range tail {
			tail[i] = 1_313_000_0000 + uint64(i)
		}
		for i := 0; i < len(tail); i += 100 {
			if _, err := st.AddToList(ctx, "national", tail[i:i+100]); err != nil {
				t.Fatal(err)
			}
		}
		lists = dnc.New(st, dnc.Options{})
		f = New(st, lists, Options{Images: ImageOptions{Every: -1}})
		start = time.Now()
		if err := f.Load(ctx, []string{"national"}); err != nil {
			t.Fatal(err)
		}
		for !lists.Ready() || !f.Synced() {
			time.Sleep(time.Millisecond)
		}
		took := time.Since(start)
		if st := f.ImageStats(); st.Loaded != 1 {
			t.Fatalf("image not loaded: %+v", st)
		}
		for _, k := range append(dense[:1000:1000], tail...) {
			if _, maybe := lists.Screen(k, []string{"national"}, nil, nil); len(maybe) != 1 {
				t.Fatalf("key %d screened absent after loading the image", k)
			}
		}
		t.Logf("%s: new instance ready with the 10M-number list from its image + 100 feed entries in %v", label, took)
		f.Close()
		lists.Close()

		s, ss, stt := load("state", sparse)
		t.Logf("%s: sparse 1M: %.2f bytes/number (feed stream %d MB apart), added in %v", label, s, ss>>20, stt)
	}
}
