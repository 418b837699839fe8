package embedded

import (
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"callfilter/filter"
)

// TestReplaceFromLegacyVariant: a variant an older build kept at
// lists/<base>~<sfx> is still read, written and moved by ReplaceList (copied).
func TestReplaceFromLegacyVariant(t *testing.T) {
	s := MustOpenTemp(t)
	ctx := t.Context()
	if _, err := s.AddToList(ctx, "l", []uint64{1, 2}); err != nil {
		t.Fatal(err)
	}
	// What an older build wrote for AddToList("l~old", 3).
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketLists).CreateBucket([]byte("l~old"))
		if err != nil {
			return err
		}
		var kb [8]byte
		v, _, _ := appendBlockAdd(nil, nil, []uint32{3}, 0)
		if err := b.Put(blockKey(&kb, 0), v); err != nil {
			return err
		}
		return s.touchList(tx, "l~old", 1, s.opts.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddToList(ctx, "l~old", []uint64{4}); err != nil {
		t.Fatal(err)
	}
	until := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.AddToListUntil(ctx, "l~old", []uint64{5}, until); err != nil {
		t.Fatal(err)
	}
	keys := func(list string) []uint64 {
		var out []uint64
		if err := s.ScanList(ctx, list, func(k uint64) error { out = append(out, k); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := keys("l~old"); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Fatalf("legacy variant: got %v, want [3 4 5] (written where it was)", got)
	}
	info, err := s.ReplaceList(ctx, "l", "l~old")
	if err != nil {
		t.Fatal(err)
	}
	if got := keys("l"); info.Count != 3 || !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Fatalf("after replace: %+v, keys %v; want count 3, keys [3 4 5]", info, got)
	}
	f, err := s.Facts(ctx, filter.FactsQuery{Key: 5, Lists: []string{"l"}})
	if err != nil || f.Lists[0].State != filter.ListPresent || !f.Lists[0].ExpiresAt.Equal(until) {
		t.Fatalf("the expiring key after replace: %+v, %v; want present until %v (copied with its expiry)", f.Lists, err, until)
	}
	if got := keys("l~old"); len(got) != 0 {
		t.Fatalf("legacy variant after replace: %v", got)
	}
}
