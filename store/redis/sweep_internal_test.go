package redis

import (
	"testing"
	"time"
)

// TestSweepLeftovers: an expired expiry whose key is not listed (a crash
// between expireScript and the add) is deleted by a sweep and counts
// nothing, and a registered bucket whose expiry hash is gone (clearExpiries
// empties hashes but leaves the registry) leaves the registry; a list
// without meta is not touched.
func TestSweepLeftovers(t *testing.T) {
	s := openInternal(t)
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.AddToList(ctx, "l", []uint64{12125550001}); err != nil {
		t.Fatal(err)
	}
	exp := ms(at)
	x := s.k.listExpiryBuckets("l")
	if err := s.rdb.HSet(ctx, s.k.listExpiries("l", 12125), "550002", exp).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.SAdd(ctx, x, "12125", "13105").Err(); err != nil { // 13105: no hash
		t.Fatal(err)
	}
	n, err := s.SweepList(ctx, "l", at)
	if err != nil || n != 0 {
		t.Fatalf("SweepList of leftovers: %d, %v; want 0", n, err)
	}
	if e, err := s.rdb.Exists(ctx, s.k.listExpiries("l", 12125), x).Result(); err != nil || e != 0 {
		t.Fatalf("%d of the expiry hash and registry left (%v), want none", e, err)
	}
	if l, err := s.rdb.XLen(ctx, s.k.listFeed("l")).Result(); err != nil || l != 1 {
		t.Fatalf("feed holds %d entries (%v), want the add's alone", l, err)
	}

	// No meta: the leftovers of a list that was never created stay.
	if err := s.rdb.HSet(ctx, s.k.listExpiries("m", 12125), "550002", exp).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.SAdd(ctx, s.k.listExpiryBuckets("m"), "12125").Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SweepList(ctx, "m", at); err != nil || n != 0 {
		t.Fatalf("SweepList of a list without meta: %d, %v; want 0", n, err)
	}
	if e, err := s.rdb.Exists(ctx, s.k.listMeta("m"), s.k.listFeed("m"), s.k.listExpiries("m", 12125)).Result(); err != nil || e != 1 {
		t.Fatalf("%d keys of the missing list (%v), want its expiry hash alone", e, err)
	}
}
