package redis_test

import (
	"callfilter/store/redis/redistest"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/filter"
	cfredis "callfilter/store/redis"
)

// TestBucketForms drives one bucket of a million keys through both forms
// (packed, then bitmap past 41666 offsets, then packed again below a quarter
// of that) and checks after each step, against a model, the count, the scan
// (ascending, exact) and membership through Facts, on standalone and Cluster.
func TestBucketForms(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(testing.TB) *cfredis.Store
	}{{"standalone", MustOpenStandalone}, {"cluster", MustOpenCluster}} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.open(t)
			ctx := t.Context()
			const base = 1_212_555_000_000 // one bucket: 1212555000000..1212555999999
			model := map[uint64]bool{}
			rng := rand.New(rand.NewPCG(1, 2))
			pick := func(n int) []uint64 {
				ks := make([]uint64, n)
				for i := range ks {
					ks[i] = base + rng.Uint64N(1_000_000)
				}
				return ks
			}
			check := func(step string) {
				t.Helper()
				var got []uint64
				if err := st.ScanList(ctx, "l", func(k uint64) error { got = append(got, k); return nil }); err != nil {
					t.Fatalf("%s: ScanList: %v", step, err)
				}
				want := make([]uint64, 0, len(model))
				for k := range model {
					want = append(want, k)
				}
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: scan has %d keys, want %d (or order differs)", step, len(got), len(want))
				}
				infos, err := st.Lists(ctx)
				if err != nil || len(infos) != 1 || infos[0].Count != int64(len(model)) {
					t.Fatalf("%s: Lists = %+v, %v; want count %d", step, infos, err, len(model))
				}
				probe := append(pick(50), want[:min(50, len(want))]...)
				probe = append(probe, base, base+999_999, base-1, base+1_000_000)
				for _, k := range probe {
					f, err := st.Facts(ctx, filter.FactsQuery{Key: k, Lists: []string{"l"}})
					if err != nil {
						t.Fatalf("%s: Facts: %v", step, err)
					}
					if in := f.Lists[0].State == filter.ListPresent; in != model[k] {
						t.Fatalf("%s: key %d present = %v, want %v", step, k, in, model[k])
					}
				}
			}
			add := func(step string, ks []uint64) {
				t.Helper()
				want := 0
				seen := map[uint64]bool{}
				for _, k := range ks {
					if !model[k] && !seen[k] {
						want++
					}
					seen[k] = true
				}
				n, err := st.AddToList(ctx, "l", ks)
				if err != nil || n != want {
					t.Fatalf("%s: AddToList = %d, %v; want %d", step, n, err, want)
				}
				for _, k := range ks {
					model[k] = true
				}
				check(step)
			}
			remove := func(step string, ks []uint64) {
				t.Helper()
				want := 0
				seen := map[uint64]bool{}
				for _, k := range ks {
					if model[k] && !seen[k] {
						want++
					}
					seen[k] = true
				}
				n, err := st.RemoveFromList(ctx, "l", ks)
				if err != nil || n != want {
					t.Fatalf("%s: RemoveFromList = %d, %v; want %d", step, n, err, want)
				}
				for _, k := range ks {
					delete(model, k)
				}
				check(step)
			}
			add("edges", []uint64{base, base + 999_999, base + 1, base + 1})
			add("packed", pick(30_000))
			add("to bitmap", pick(20_000))
			add("bitmap", pick(100))
			var all []uint64
			for k := range model {
				all = append(all, k)
			}
			slices.Sort(all)
			remove("bitmap remove", all[:1000])
			remove("back to packed", all[1000:len(all)-5000])
			remove("packed remove", all[len(all)-5000:len(all)-10])
			remove("empty", all[len(all)-10:])
		})
	}
}

// TestOldLayoutRefused: a prefix with lists but no layout version (written
// by the set-per-bucket layout) is refused with a clear error, as is a prefix
// marked with another version.
func TestOldLayoutRefused(t *testing.T) {
	addr := redistest.Standalone(t)
	for _, tc := range []struct {
		name string
		seed func(c *goredis.Client, p string)
	}{
		{"v1 lists", func(c *goredis.Client, p string) {
			c.SAdd(context.Background(), p+":lists", "national")
			c.SAdd(context.Background(), p+":list:{national}:b:121255", 1, 2)
		}},
		{"other version", func(c *goredis.Client, p string) { c.Set(context.Background(), p+":layout", "3", 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := redistest.RandomPrefix()
			redistest.CleanupPrefix(t, addr, prefix)
			c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
			defer c.Close()
			tc.seed(c, prefix)
			st, err := cfredis.Open(t.Context(), cfredis.Options{Addrs: []string{addr}, KeyPrefix: prefix})
			if err == nil {
				st.Close()
				t.Fatal("Open succeeded on a prefix of another layout")
			}
			var fe *filter.Error
			if !errors.As(err, &fe) || fe.Kind != filter.EInvalid {
				t.Fatalf("Open: %v, want EInvalid", err)
			}
			t.Log(err)
		})
	}
}

// TestFactsScriptFlushed: Facts reloads its membership script after the
// server's script cache is flushed (restart, failover).
func TestFactsScriptFlushed(t *testing.T) {
	addr, _ := redistest.Start(t)
	st := mustOpen(t, cfredis.Options{Addrs: []string{addr}})
	if _, err := st.AddToList(t.Context(), "l", []uint64{12125550100}); err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
	defer c.Close()
	for i := range 2 {
		if err := c.ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		f, err := st.Facts(t.Context(), filter.FactsQuery{Key: 12125550100, Lists: []string{"l"}})
		if err != nil || f.Lists[0].State != filter.ListPresent {
			t.Fatalf("Facts #%d after SCRIPT FLUSH: %+v, %v", i+1, f.Lists, err)
		}
	}
}
