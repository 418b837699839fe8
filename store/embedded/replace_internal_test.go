package embedded

import (
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
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
		if err := b.Put(listKey(&kb, 3), encodeListEntry(1, time.Time{})); err != nil {
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
	keys := func(list string) []uint64 {
		var out []uint64
		if err := s.ScanList(ctx, list, func(k uint64) error { out = append(out, k); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := keys("l~old"); !slices.Equal(got, []uint64{3, 4}) {
		t.Fatalf("legacy variant: got %v, want [3 4] (written where it was)", got)
	}
	info, err := s.ReplaceList(ctx, "l", "l~old")
	if err != nil {
		t.Fatal(err)
	}
	if got := keys("l"); info.Count != 2 || !slices.Equal(got, []uint64{3, 4}) {
		t.Fatalf("after replace: %+v, keys %v; want count 2, keys [3 4]", info, got)
	}
	if got := keys("l~old"); len(got) != 0 {
		t.Fatalf("legacy variant after replace: %v", got)
	}
}
