package feed

import (
	"callfilter/store/redis/redistest"
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/dnc"
	cfredis "callfilter/store/redis"
)

// imgInstance is an instance without the service: store, filters and feed.
type imgInstance struct {
	st    *cfredis.Store
	lists *dnc.Lists
	feed  *Feed
}

func newImgInstance(t *testing.T, opts cfredis.Options, list string) *imgInstance {
	t.Helper()
	st, err := cfredis.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	lists := dnc.New(st, dnc.Options{})
	f := New(st, lists, Options{Images: ImageOptions{Every: -1, Chunk: 4096}})
	t.Cleanup(func() {
		f.Close()
		lists.Close()
		_ = st.Close()
	})
	if err := f.Load(context.Background(), []string{list}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "feed synced", func() bool { return lists.Ready() && f.Synced() })
	return &imgInstance{st: st, lists: lists, feed: f}
}

// screensAll fails unless every key screens "maybe" on the list.
func (in *imgInstance) screensAll(t *testing.T, list string, keys []uint64) {
	t.Helper()
	for _, k := range keys {
		facts, maybe := in.lists.Screen(k, []string{list}, nil, nil)
		if len(maybe) != 1 {
			t.Fatalf("listed key %d screened %+v: a false absent", k, facts)
		}
	}
}

func imgKeys(from, n int) []uint64 {
	ks := make([]uint64, n)
	for i := range ks {
		ks[i] = 12_127_000_000 + uint64(from+i)*37
	}
	return ks
}

// TestImageRoundTrip: an instance writes its list's image; keys are added
// after; a new instance loads from the image (no scan) plus the feed's tail,
// and screens every listed key "maybe", including keys added after it
// started.
func TestImageRoundTrip(t *testing.T) {
	addr := redistest.Standalone(t)
	prefix := redistest.RandomPrefix()
	redistest.CleanupPrefix(t, addr, prefix)
	opts := cfredis.Options{Addrs: []string{addr}, KeyPrefix: prefix}
	const list = "national"
	a := newImgInstance(t, opts, list)
	ctx := t.Context()
	first := imgKeys(0, 20_000)
	if _, err := a.lists.Add(ctx, list, first); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "A applied its add", func() bool {
		st := a.feed.Status()
		return a.feed.Synced() && len(st) == 1 && st[0].Applied >= 2 // 20000 keys: two feed entries
	})
	if err := a.feed.WriteImage(ctx, list, true); err != nil {
		t.Fatal(err)
	}
	between := imgKeys(20_000, 500) // after the image, before B starts
	if _, err := a.st.AddToList(ctx, list, between); err != nil {
		t.Fatal(err)
	}

	b := newImgInstance(t, opts, list)
	if st := b.feed.ImageStats(); st.Loaded != 1 || st.Refused != 0 {
		t.Fatalf("B image stats %+v, want 1 loaded", st)
	}
	for _, ts := range b.feed.Status() {
		if ts.Rebuilds != 0 {
			t.Fatalf("B rebuilt %q: %+v", ts.List, ts)
		}
	}
	after := imgKeys(30_000, 300)
	if _, err := a.st.AddToList(ctx, list, after); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "B applies the new keys", func() bool {
		_, maybe := b.lists.Screen(after[len(after)-1], []string{list}, nil, nil)
		return len(maybe) == 1
	})
	b.screensAll(t, list, first)
	b.screensAll(t, list, between)
	b.screensAll(t, list, after)

	// Not due again until Changes entries or Every pass.
	if err := b.feed.WriteImage(ctx, list, false); err != nil {
		t.Fatal(err)
	}
	if st := b.feed.ImageStats(); st.Written != 0 {
		t.Fatalf("B wrote an image that was not due: %+v", st)
	}
}

// TestImageRefused damages the image in each way the loader checks, and
// shows each refused (logged, counted) and the list built from the store
// instead: every listed key screens "maybe".
func TestImageRefused(t *testing.T) {
	addr := redistest.Standalone(t)
	rc := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
	defer rc.Close()
	const list = "national"
	header := func(t *testing.T, prefix string) (dnc.ImageHeader, string) {
		t.Helper()
		vals, err := rc.HMGet(t.Context(), prefix+":list:{"+list+"}:image", "header", "gen").Result()
		if err != nil || vals[0] == nil {
			t.Fatalf("image header: %v %v", vals, err)
		}
		var h dnc.ImageHeader
		if err := json.Unmarshal([]byte(vals[0].(string)), &h); err != nil {
			t.Fatal(err)
		}
		return h, vals[1].(string)
	}
	putHeader := func(t *testing.T, prefix string, h dnc.ImageHeader) {
		t.Helper()
		raw, _ := json.Marshal(h)
		if err := rc.HSet(t.Context(), prefix+":list:{"+list+"}:image", "header", raw).Err(); err != nil {
			t.Fatal(err)
		}
	}
	chunk := func(prefix, gen string, i int) string {
		return prefix + ":list:{" + list + "}:image:" + gen + ":" + strconv.Itoa(i)
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, prefix string, st *cfredis.Store)
	}{
		{"checksum", func(t *testing.T, p string, _ *cfredis.Store) {
			h, _ := header(t, p)
			h.SHA256 = "00" + h.SHA256[2:]
			putHeader(t, p, h)
		}},
		{"flipped byte", func(t *testing.T, p string, _ *cfredis.Store) {
			_, gen := header(t, p)
			if err := rc.SetRange(t.Context(), chunk(p, gen, 1), 100, "\xff\xfe").Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated", func(t *testing.T, p string, _ *cfredis.Store) {
			_, gen := header(t, p)
			v := rc.Get(t.Context(), chunk(p, gen, 2)).Val()
			rc.Set(t.Context(), chunk(p, gen, 2), v[:len(v)-8], 0)
		}},
		{"chunk missing", func(t *testing.T, p string, _ *cfredis.Store) {
			_, gen := header(t, p)
			rc.Del(t.Context(), chunk(p, gen, 3))
		}},
		{"wrong length", func(t *testing.T, p string, _ *cfredis.Store) {
			h, _ := header(t, p)
			h.Bytes = 1 << 40 // would be an out-of-memory kill if allocated
			putHeader(t, p, h)
		}},
		{"wrong m", func(t *testing.T, p string, _ *cfredis.Store) {
			h, _ := header(t, p)
			h.M += 64 * 4
			h.Bytes += 8 * 4
			putHeader(t, p, h)
		}},
		{"canary missing", func(t *testing.T, p string, st *cfredis.Store) {
			h, gen := header(t, p)
			data, err := st.ImageData(t.Context(), list, cfredis.ImageRef{Gen: gen, Chunks: int((h.Bytes + 4095) / 4096)}, h.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			bf, err := dnc.DecodeImage(h, data)
			if err != nil {
				t.Fatal(err)
			}
			for k := uint64(19_000_000_000); ; k++ {
				var b [8]byte
				for i := range b {
					b[i] = byte(k >> (8 * i))
				}
				if !bf.Test(b[:]) {
					h.Canaries = append(h.Canaries, k)
					break
				}
			}
			putHeader(t, p, h)
		}},
		{"epoch differs", func(t *testing.T, p string, _ *cfredis.Store) {
			h, _ := header(t, p)
			h.FeedEpoch = "0123456789abcdef"
			putHeader(t, p, h)
		}},
		{"feed trimmed past", func(t *testing.T, p string, st *cfredis.Store) {
			for i := range 3 {
				if _, err := st.AddToList(t.Context(), list, imgKeys(50_000+i, 1)); err != nil {
					t.Fatal(err)
				}
			}
			rc.XTrimMaxLen(t.Context(), p+":list:{"+list+"}:feed", 1)
		}},
		{"header garbage", func(t *testing.T, p string, _ *cfredis.Store) {
			rc.HSet(t.Context(), p+":list:{"+list+"}:image", "header", "{not json")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := redistest.RandomPrefix()
			redistest.CleanupPrefix(t, addr, prefix)
			opts := cfredis.Options{Addrs: []string{addr}, KeyPrefix: prefix}
			a := newImgInstance(t, opts, list)
			keys := imgKeys(0, 20_000)
			if _, err := a.lists.Add(t.Context(), list, keys); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "A synced", a.feed.Synced)
			if err := a.feed.WriteImage(t.Context(), list, true); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, prefix, a.st)
			b := newImgInstance(t, opts, list)
			if st := b.feed.ImageStats(); st.Loaded != 0 || st.Refused != 1 {
				t.Fatalf("image stats %+v, want 1 refused, 0 loaded", st)
			}
			b.screensAll(t, list, keys)
		})
	}
}
