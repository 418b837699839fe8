package embedded

import (
	"encoding/binary"
	"maps"
	"math/bits"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"callfilter/filter"
)

// run returns n offsets from first, step apart.
func run(first, n, step uint32) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = first + uint32(i)*step
	}
	return out
}

// blockOffsets returns every offset of the valid block v.
func blockOffsets(t testing.TB, v []byte) []uint32 {
	t.Helper()
	keys, full, ok := appendBlockKeys(nil, 0, v, 0, blockSize+1)
	if !ok || full {
		t.Fatalf("appendBlockKeys of a block: full %v, ok %v", full, ok)
	}
	out := make([]uint32, len(keys))
	for i, k := range keys {
		out[i] = uint32(k)
	}
	return out
}

// mustBlock builds the block of offs (ascending, unique).
func mustBlock(t testing.TB, offs []uint32, flags byte) []byte {
	t.Helper()
	v, n, ok := appendBlockAdd(nil, nil, offs, flags)
	if !ok || n != len(offs) {
		t.Fatalf("appendBlockAdd to an empty block: %d added, ok %v; want %d", n, ok, len(offs))
	}
	return v
}

// union and minus are the model of a block's set operations.
func union(a, b []uint32) []uint32 {
	return slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(a), b...))))
}

func minus(a, b []uint32) []uint32 {
	return slices.DeleteFunc(slices.Clone(a), func(o uint32) bool { _, found := slices.BinarySearch(b, o); return found })
}

// checkCanonical checks that v is the canonical block of want.
func checkCanonical(t testing.TB, what string, v []byte, want []uint32) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: a block of no offsets", what)
	}
	if !validBlock(v) {
		t.Fatalf("%s: not a valid block (format %#x, %d bytes)", what, v[0], len(v))
	}
	wantFormat, wantLen := byte(blockPacked), 1+3*len(want)
	if len(want) > maxPacked {
		wantFormat, wantLen = blockBitmap, 1+blockBitmapLen
	}
	if got := v[0] & blockFormat; got != wantFormat || len(v) != wantLen {
		t.Fatalf("%s: format %d, %d bytes; want format %d, %d bytes for %d offsets", what, got, len(v), wantFormat, wantLen, len(want))
	}
	if got := blockCount(v); got != len(want) {
		t.Fatalf("%s: count %d, want %d", what, got, len(want))
	}
	if got := blockOffsets(t, v); !slices.Equal(got, want) {
		t.Fatalf("%s: %d offsets, want %d (first %v, want %v)", what, len(got), len(want), got[:min(len(got), 5)], want[:min(len(want), 5)])
	}
	for _, o := range []uint32{want[0], want[len(want)-1]} {
		if !blockHas(v, o) {
			t.Fatalf("%s: blockHas(%d) = false for a member", what, o)
		}
	}
}

func TestBlockCodec(t *testing.T) {
	dense := run(0, maxPacked, 7) // exactly the most packed offsets
	for _, tc := range []struct {
		name          string
		start         []uint32
		add, remove   []uint32
		wantAdded     int
		wantRemoved   int
		wantFormat    byte // 0: the block is gone
		flags, wantFl byte
	}{
		{name: "boundary offsets", add: []uint32{0, 999_999}, wantAdded: 2, wantFormat: blockPacked},
		{name: "add to packed, some present", start: []uint32{1, 5, 9}, add: []uint32{0, 5, 10}, wantAdded: 2, wantFormat: blockPacked},
		{name: "the most packed offsets", add: dense, wantAdded: maxPacked, wantFormat: blockPacked},
		{name: "one more makes a bitmap", start: dense, add: []uint32{999_999}, wantAdded: 1, wantFormat: blockBitmap},
		{name: "a bitmap at once", add: run(0, maxPacked+1, 3), wantAdded: maxPacked + 1, wantFormat: blockBitmap},
		{name: "add to a bitmap", start: run(1, maxPacked+1, 3), add: []uint32{0, 1, 999_999}, wantAdded: 2, wantFormat: blockBitmap},
		{name: "remove from a bitmap back to packed", start: run(0, maxPacked+1, 3), remove: []uint32{3}, wantRemoved: 1, wantFormat: blockPacked},
		{name: "remove from a bitmap, still a bitmap", start: run(0, maxPacked+2, 3), remove: []uint32{3, 4}, wantRemoved: 1, wantFormat: blockBitmap},
		{name: "remove every offset of a bitmap", start: run(0, maxPacked+1, 3), remove: run(0, maxPacked+1, 3), wantRemoved: maxPacked + 1},
		{name: "remove every offset of a packed block", start: []uint32{0, 999_999}, remove: []uint32{0, 999_999}, wantRemoved: 2},
		{name: "remove absent offsets", start: []uint32{0, 999_999}, remove: []uint32{1, 999_998}, wantFormat: blockPacked},
		{name: "remove from a bitmap to packed, boundaries kept", start: append(run(0, maxPacked, 2), 999_999), remove: []uint32{2}, wantRemoved: 1, wantFormat: blockPacked},
		{name: "flags kept", start: []uint32{4}, add: []uint32{5}, wantAdded: 1, wantFormat: blockPacked, flags: blockExpiring, wantFl: blockExpiring},
		{name: "flags on a bitmap", start: run(0, maxPacked+5, 3), remove: []uint32{0}, wantRemoved: 1, wantFormat: blockBitmap, flags: blockExpiring, wantFl: blockExpiring},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v []byte
			if len(tc.start) > 0 {
				v = mustBlock(t, tc.start, tc.flags)
			}
			want := tc.start
			if tc.add != nil {
				out, n, ok := appendBlockAdd([]byte("prefix"), v, tc.add, tc.flags)
				if !ok || n != tc.wantAdded || string(out[:6]) != "prefix" {
					t.Fatalf("add: %d added, ok %v; want %d", n, ok, tc.wantAdded)
				}
				v, want = out[6:], union(want, tc.add)
			}
			if tc.remove != nil {
				out, n, empty, ok := appendBlockRemove([]byte("prefix"), v, tc.remove, tc.flags)
				if !ok || n != tc.wantRemoved || string(out[:6]) != "prefix" {
					t.Fatalf("remove: %d removed, ok %v; want %d", n, ok, tc.wantRemoved)
				}
				want = minus(want, tc.remove)
				if empty != (len(want) == 0) || (empty && len(out) != 6) {
					t.Fatalf("remove: empty %v with %d bytes written, want empty %v", empty, len(out)-6, len(want) == 0)
				}
				v = out[6:]
			}
			if tc.wantFormat == 0 {
				if len(want) != 0 {
					t.Fatalf("model: %d offsets left, want none", len(want))
				}
				return
			}
			checkCanonical(t, tc.name, v, want)
			if v[0]&blockFormat != tc.wantFormat || v[0]&blockExpiring != tc.wantFl {
				t.Fatalf("format byte %#x, want format %d flags %#x", v[0], tc.wantFormat, tc.wantFl)
			}
			if blockHas(v, 500_001) != slices.Contains(want, 500_001) {
				t.Fatal("blockHas of 500,001 disagrees with the model")
			}
		})
	}
}

func TestBlockKeysPaged(t *testing.T) {
	for _, offs := range [][]uint32{{0, 63, 64, 65, 999_999}, append(run(0, maxPacked+1, 3), 999_999)} {
		v := mustBlock(t, offs, 0)
		var got []uint64
		from := uint32(0)
		for {
			page, full, ok := appendBlockKeys(nil, 12, v, from, 3)
			if !ok {
				t.Fatal("appendBlockKeys: not ok")
			}
			got = append(got, page...)
			if !full {
				break
			}
			from = uint32(page[len(page)-1]-12*blockSize) + 1
		}
		want := make([]uint64, len(offs))
		for i, o := range offs {
			want[i] = 12*blockSize + uint64(o)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("paged keys of format %d: %d keys, want %d", v[0], len(got), len(want))
		}
	}
}

func TestValidBlock(t *testing.T) {
	for _, tc := range []struct {
		v    []byte
		want bool
	}{
		{nil, false},
		{[]byte{}, false},
		{[]byte{blockPacked}, false},
		{[]byte{blockPacked, 0, 0}, false},
		{[]byte{blockPacked, 0, 0, 1}, true},
		{[]byte{blockPacked | blockExpiring, 0, 0, 1}, true},
		{[]byte{3, 0, 0, 1}, false},
		{make([]byte, 1+blockBitmapLen), false}, // format 0
		{append([]byte{blockBitmap}, make([]byte, blockBitmapLen)...), true},
		{append([]byte{blockBitmap}, make([]byte, blockBitmapLen-1)...), false},
		{append([]byte{blockPacked}, make([]byte, 3*(maxPacked+1))...), false},
	} {
		if got := validBlock(tc.v); got != tc.want {
			t.Errorf("validBlock(format %v, %d bytes) = %v, want %v", tc.v[:min(len(tc.v), 1)], len(tc.v), got, tc.want)
		}
	}
	// Offsets out of range or order are reported, not used.
	bad := []byte{blockPacked, 0xff, 0xff, 0xff}
	if _, _, ok := appendBlockAdd(nil, bad, []uint32{1}, 0); ok {
		t.Error("appendBlockAdd of an offset out of range: ok")
	}
	if _, _, _, ok := appendBlockRemove(nil, []byte{blockPacked, 0, 0, 2, 0, 0, 1}, []uint32{1}, 0); ok {
		t.Error("appendBlockRemove of offsets out of order: ok")
	}
	if _, _, ok := appendBlockKeys(nil, 0, bad, 0, 10); ok {
		t.Error("appendBlockKeys of an offset out of range: ok")
	}
}

// FuzzBlockCodec: decoding arbitrary bytes never panics, and adds and
// removes agree with a model of the block's set. The input is read as
// operations of 5 bytes: kind, a 3-byte offset (mod blockSize), a length;
// kinds 2 and 3 touch 256 times as many offsets, to cross maxPacked. The
// first 32 operations are run.
func FuzzBlockCodec(f *testing.F) {
	f.Add([]byte{blockPacked, 0, 0, 1})
	f.Add(append([]byte{blockBitmap}, make([]byte, blockBitmapLen)...))
	f.Add([]byte{0, 0, 0, 0, 5, 1, 0, 0, 2, 1})                             // add 0..5, remove 2
	f.Add([]byte{2, 0, 0, 0, 200, 3, 0, 0, 0, 100, 1, 0x0f, 0x42, 0x3f, 0}) // dense add, dense remove: bitmap and back
	f.Add([]byte{0, 0x0f, 0x42, 0x3f, 0, 1, 0x0f, 0x42, 0x3f, 0})           // offset 999,999 in and out
	f.Fuzz(func(t *testing.T, data []byte) {
		// Arbitrary bytes as a block.
		if validBlock(data) {
			_ = blockCount(data)
			for _, o := range []uint32{0, 1, 999_999} {
				_ = blockHas(data, o)
			}
			_, _, _ = appendBlockKeys(nil, 7, data, 3, 100)
			_, _, _ = appendBlockAdd(nil, data, []uint32{0, 999_999}, 0)
			_, _, _, _ = appendBlockRemove(nil, data, []uint32{0, 999_999}, 0)
		}

		// Operations against a model.
		var model [blockSize / 64]uint64 // bit o%64 of word o/64: offset o is in
		in := func(o uint32) bool { return model[o/64]&(1<<(o%64)) != 0 }
		count := 0
		var v []byte
		// Bounded work per input (8 operations of at most 16,384 offsets:
		// enough to cross into a bitmap and back), so that the fuzzer's
		// executions stay cheap.
		for ops := 0; len(data) >= 5 && ops < 8; ops++ {
			kind, off, n := data[0]%4, (uint32(data[1])<<16|uint32(data[2])<<8|uint32(data[3]))%blockSize, uint32(data[4])+1
			data = data[5:]
			if kind >= 2 {
				n *= 64
			}
			offs := make([]uint32, 0, n)
			for o := off; o < off+n && o < blockSize; o++ {
				offs = append(offs, o)
			}
			want := 0
			for _, o := range offs {
				if in(o) != (kind%2 == 0) {
					want++
					model[o/64] ^= 1 << (o % 64)
				}
			}
			if kind%2 == 0 {
				out, added, ok := appendBlockAdd(nil, v, offs, 0)
				if !ok || added != want {
					t.Fatalf("add %d offsets from %d: %d added, ok %v; want %d", len(offs), off, added, ok, want)
				}
				v, count = out, count+added
			} else if v != nil {
				out, removed, empty, ok := appendBlockRemove(nil, v, offs, 0)
				if !ok || removed != want || empty != (count == removed) {
					t.Fatalf("remove %d offsets from %d: %d removed, empty %v, ok %v; want %d of %d", len(offs), off, removed, empty, ok, want, count)
				}
				count -= removed
				if v = out; empty {
					v = nil
				}
			}
			if v == nil {
				if count != 0 {
					t.Fatalf("no block, %d offsets in the model", count)
				}
				continue
			}
			if got := blockCount(v); got != count {
				t.Fatalf("after an operation: count %d, the model %d", got, count)
			}
			if len(data) >= 5 && ops < 7 {
				continue // the whole block is compared after the last operation
			}
			wantOffs := make([]uint32, 0, count)
			for w, word := range model {
				for ; word != 0; word &= word - 1 {
					wantOffs = append(wantOffs, uint32(64*w+bits.TrailingZeros64(word)))
				}
			}
			checkCanonical(t, "after an operation", v, wantOffs)
		}
	})
}

// listBlocks returns the block keys and formats of the named list's bucket.
func listBlocks(t *testing.T, s *Store, list string) map[uint64]byte {
	t.Helper()
	out := map[uint64]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := listBucket(tx, list)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if v != nil {
				out[binary.BigEndian.Uint64(k)] = v[0]
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestListBlocks drives the blocks through the store: boundary and 15-digit
// keys, the switch to a bitmap and back, and empty blocks deleted.
func TestListBlocks(t *testing.T) {
	s := MustOpenTemp(t)
	ctx := t.Context()
	edge := []uint64{1, 999_999, 1_000_000, 12_999_999_999, 13_000_000_000, 100_000_000_000_000, 999_999_999_999_999}
	if n, err := s.AddToList(ctx, "l", edge); err != nil || n != len(edge) {
		t.Fatalf("AddToList of the edge keys: %d, %v", n, err)
	}
	scanAll := func() []uint64 {
		var got []uint64
		if err := s.ScanList(ctx, "l", func(k uint64) error { got = append(got, k); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := scanAll(); !slices.Equal(got, edge) {
		t.Fatalf("ScanList: got %v, want %v", got, edge)
	}
	for _, k := range append(slices.Clone(edge), 2, 999_998, 13_000_000_001, 999_999_999_999_998) {
		f, err := s.Facts(ctx, filter.FactsQuery{Key: k, Lists: []string{"l"}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := f.Lists[0].State == filter.ListPresent, slices.Contains(edge, k); got != want {
			t.Fatalf("Facts of %d: present %v, want %v", k, got, want)
		}
	}
	wantBlocks := map[uint64]byte{0: blockPacked, 1: blockPacked, 12_999: blockPacked, 13_000: blockPacked,
		100_000_000: blockPacked, 999_999_999: blockPacked}
	if got := listBlocks(t, s, "l"); !maps.Equal(got, wantBlocks) {
		t.Fatalf("blocks: got %v, want %v", got, wantBlocks)
	}

	// Dense: a bitmap, and back to packed offsets as keys go.
	var dense []uint64
	for i := range uint64(maxPacked + 1) {
		dense = append(dense, 5_000_000+i*3)
	}
	if n, err := s.AddToList(ctx, "l", dense); err != nil || n != len(dense) {
		t.Fatalf("AddToList of %d dense keys: %d, %v", len(dense), n, err)
	}
	if got := listBlocks(t, s, "l")[5]; got != blockBitmap {
		t.Fatalf("block 5 with %d keys: format %d, want a bitmap", len(dense), got)
	}
	if n, err := s.RemoveFromList(ctx, "l", dense[:1]); err != nil || n != 1 {
		t.Fatalf("RemoveFromList of one dense key: %d, %v", n, err)
	}
	if got := listBlocks(t, s, "l")[5]; got != blockPacked {
		t.Fatalf("block 5 with %d keys: format %d, want packed", len(dense)-1, got)
	}
	if n, err := s.RemoveFromList(ctx, "l", append(dense[1:], 1, 999_999)); err != nil || n != len(dense)+1 {
		t.Fatalf("RemoveFromList of the rest: %d, %v; want %d", n, err, len(dense)+1)
	}
	delete(wantBlocks, 0)
	if got := listBlocks(t, s, "l"); !maps.Equal(got, wantBlocks) {
		t.Fatalf("blocks after removing blocks 0 and 5: got %v, want %v", got, wantBlocks)
	}
	infos, err := s.Lists(ctx)
	if err != nil || len(infos) != 1 || infos[0].Count != int64(len(edge)-2) {
		t.Fatalf("Lists: %+v, %v; want count %d", infos, err, len(edge)-2)
	}
}

// TestListExpiryBlocks: the expiry flag of a block follows its expiring keys,
// and the expiry bucket goes with the last of them.
func TestListExpiryBlocks(t *testing.T) {
	s := MustOpenTemp(t)
	ctx := t.Context()
	until := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.AddToList(ctx, "l", []uint64{13_000_000_001}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddToListUntil(ctx, "l", []uint64{13_000_000_002, 14_000_000_000}, until); err != nil {
		t.Fatal(err)
	}
	hasExpiryBucket := func() bool {
		var ok bool
		_ = s.db.View(func(tx *bolt.Tx) error { ok = listBucket(tx, "l").Bucket(expiryBucket) != nil; return nil })
		return ok
	}
	if got := listBlocks(t, s, "l"); got[13_000] != blockPacked|blockExpiring || got[14_000] != blockPacked|blockExpiring || !hasExpiryBucket() {
		t.Fatalf("blocks after expiring adds: %v, expiry bucket %v", got, hasExpiryBucket())
	}
	if _, err := s.AddToList(ctx, "l", []uint64{13_000_000_002}); err != nil {
		t.Fatal(err)
	}
	if got := listBlocks(t, s, "l"); got[13_000] != blockPacked || got[14_000] != blockPacked|blockExpiring {
		t.Fatalf("blocks after a permanent add: %v, want block 13000 without the flag", got)
	}
	if n, err := s.RemoveFromList(ctx, "l", []uint64{14_000_000_000}); err != nil || n != 1 {
		t.Fatalf("RemoveFromList: %d, %v", n, err)
	}
	if hasExpiryBucket() {
		t.Fatal("the expiry bucket outlived the last expiring key")
	}
	f, err := s.Facts(ctx, filter.FactsQuery{Key: 13_000_000_002, Lists: []string{"l"}})
	if err != nil || f.Lists[0].State != filter.ListPresent || !f.Lists[0].ExpiresAt.IsZero() {
		t.Fatalf("Facts: %+v, %v; want present for good", f.Lists, err)
	}
}
