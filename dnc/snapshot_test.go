package dnc

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"callfilter/filter"
)

// TestImageRoundTrip: an image of a loaded list (recent keys included),
// decoded and installed in another Lists, screens every key "maybe"; keys
// already recent in the target survive the install.
func TestImageRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	keys := make([]uint64, 5000)
	for i := range keys {
		keys[i] = 12125550000 + uint64(i)*13
	}
	if _, err := st.AddToList(ctx, "national", keys[:4000]); err != nil {
		t.Fatal(err)
	}
	a := MustNew(t, st, Options{MinCapacity: 10000})
	MustLoad(t, a, "national")
	if _, err := a.Add(ctx, "national", keys[4000:]); err != nil { // recent, not folded yet
		t.Fatal(err)
	}
	h, data, err := a.Image("national", append([]uint64{1}, keys[:20]...))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Canaries) != 16 || h.Count < 5000 {
		t.Fatalf("header %+v", h)
	}
	f, err := DecodeImage(h, data)
	if err != nil {
		t.Fatal(err)
	}
	b := MustNew(t, st, Options{MinCapacity: 10000})
	b.ApplyAdded("national", []uint64{1}) // not registered: ignored
	b.list("national")
	b.ApplyAdded("national", []uint64{19995550000})
	if err := b.Install("national", h, f); err != nil {
		t.Fatal(err)
	}
	for _, k := range append(keys, 19995550000) {
		if got := screen1(b, "national", k); got == filter.ListAbsent || got == filter.ListUnknown {
			t.Fatalf("key %d screened %v after install", k, got)
		}
	}
}

// TestImageRefusedBeforeReadFrom: a damaged length field inside the data
// (with a checksum that matches it) is refused before bloom's ReadFrom could
// allocate from it; and a header whose length does not follow from m is
// refused before any data is looked at.
func TestImageRefusedBeforeReadFrom(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	if _, err := st.AddToList(ctx, "national", []uint64{12125550100, 12125550101}); err != nil {
		t.Fatal(err)
	}
	a := MustNew(t, st, Options{MinCapacity: 1000})
	MustLoad(t, a, "national")
	h, data, err := a.Image("national", []uint64{12125550100})
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), data...)
	binary.BigEndian.PutUint64(bad[16:], 1<<62) // bitset length: ReadFrom would try to allocate it
	sum := sha256.Sum256(bad)
	hb := h
	hb.SHA256 = hex.EncodeToString(sum[:])
	if _, err := DecodeImage(hb, bad); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Fatalf("damaged length field: %v", err)
	}
	hb = h
	hb.Bytes = 1 << 40
	if err := CheckImageHeader(hb); err == nil {
		t.Fatal("a header claiming 1 TiB passed")
	}
	hb = h
	hb.Version = 99
	if _, err := DecodeImage(hb, data); err == nil {
		t.Fatal("another version decoded")
	}
	if _, err := DecodeImage(h, data[:len(data)-1]); err == nil {
		t.Fatal("truncated data decoded")
	}
}
