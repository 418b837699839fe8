package filterfile

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/store/embedded"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// screens reports, for each key, whether lists says "maybe" for list name.
func allMaybe(t *testing.T, lists *dnc.Lists, name string, keys []uint64) {
	t.Helper()
	for _, k := range keys {
		_, maybe := lists.Screen(k, []string{name}, nil, nil)
		if !slices.Contains(maybe, name) {
			t.Fatalf("key %d: the filter rules it out of list %s", k, name)
		}
	}
}

func TestImages(t *testing.T) {
	ctx := context.Background()
	st := embedded.MustOpenTemp(t)
	dir := filepath.Join(t.TempDir(), "filters")
	keys := make([]uint64, 5000)
	for i := range keys {
		keys[i] = 12125550000 + uint64(i)*3
	}
	if _, err := st.AddToList(ctx, "national", keys); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddToList(ctx, "internal", keys[:10]); err != nil {
		t.Fatal(err)
	}
	names := []string{"national", "internal"}

	// First start: no images, both lists scanned; then images written.
	first := dnc.New(st, dnc.Options{})
	defer first.Close()
	installed, err := Load(ctx, dir, first, st, names, quiet())
	if err != nil || len(installed) != 0 {
		t.Fatalf("first load: installed %v, %v; want none", installed, err)
	}
	if err := Save(ctx, dir, first, st, 1, quiet()); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, err := os.Stat(path(dir, n)); err != nil {
			t.Fatalf("no image of %s: %v", n, err)
		}
	}

	// A restart: both from their images, every key "maybe".
	second := dnc.New(st, dnc.Options{})
	defer second.Close()
	installed, err = Load(ctx, dir, second, st, names, quiet())
	if err != nil || !slices.Equal(installed, []string{"internal", "national"}) {
		t.Fatalf("second load: installed %v, %v; want both", installed, err)
	}
	if !second.Ready() {
		t.Error("not ready after the images were installed")
	}
	allMaybe(t, second, "national", keys)

	// A write since the image: the list is scanned (and holds the new key).
	if _, err := st.AddToList(ctx, "national", []uint64{13125550000}); err != nil {
		t.Fatal(err)
	}
	third := dnc.New(st, dnc.Options{})
	defer third.Close()
	if installed, err = Load(ctx, dir, third, st, names, quiet()); err != nil || !slices.Equal(installed, []string{"internal"}) {
		t.Fatalf("after a write: installed %v, %v; want only internal", installed, err)
	}
	allMaybe(t, third, "national", append(keys, 13125550000))
	// Save rewrites the stale one only.
	before, _ := os.Stat(path(dir, "internal"))
	if err := Save(ctx, dir, third, st, 1, quiet()); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(path(dir, "internal")); !after.ModTime().Equal(before.ModTime()) {
		t.Error("Save rewrote a current image")
	}
	if !current(path(dir, "national"), mustInfo(t, st, "national")) {
		t.Error("Save did not bring the national image up to date")
	}

	// Damaged files are refused and the list scanned: a flipped bit in the
	// data, a truncated file, a header of another list.
	good, err := os.ReadFile(path(dir, "national"))
	if err != nil {
		t.Fatal(err)
	}
	nl := bytes.IndexByte(good, '\n')
	other, _ := os.ReadFile(path(dir, "internal"))
	for name, bad := range map[string][]byte{
		"flipped bit":   flip(good, nl+100),
		"truncated":     good[:len(good)-8],
		"trailing data": append(slices.Clone(good), 0),
		"no header":     good[nl+1:],
		"another list":  other,
	} {
		if err := os.WriteFile(path(dir, "national"), bad, 0o600); err != nil {
			t.Fatal(err)
		}
		l := dnc.New(st, dnc.Options{})
		installed, err := Load(ctx, dir, l, st, names, quiet())
		if err != nil || slices.Contains(installed, "national") {
			t.Errorf("%s: installed %v, %v; want national scanned", name, installed, err)
		}
		allMaybe(t, l, "national", keys)
		l.Close()
	}

	// Lists under the minimum get no image (and lose theirs).
	if err := Save(ctx, dir, third, st, 100, quiet()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path(dir, "internal")); !os.IsNotExist(err) {
		t.Errorf("a list of 10 keys kept its image with a minimum of 100: %v", err)
	}
	if err := Save(ctx, dir, third, st, 1, quiet()); err != nil {
		t.Fatal(err)
	}

	// A deleted list's image goes.
	if err := st.DeleteList(ctx, "internal"); err != nil {
		t.Fatal(err)
	}
	if err := Save(ctx, dir, third, st, 1, quiet()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path(dir, "internal")); !os.IsNotExist(err) {
		t.Errorf("the image of a deleted list is still there: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	out := slices.Clone(b)
	out[i] ^= 1
	return out
}

func mustInfo(t *testing.T, st *embedded.Store, list string) filter.ListInfo {
	t.Helper()
	infos, err := st.Lists(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.Name == list {
			return in
		}
	}
	t.Fatalf("no list %s", list)
	return filter.ListInfo{}
}

func TestPathEscapes(t *testing.T) {
	for _, name := range []string{"../x", "a/b", `a\b`, "national~staging", ".."} {
		if p := path("/d", name); filepath.Dir(p) != "/d" {
			t.Errorf("list %q: image at %s, outside the directory", name, p)
		}
	}
}
