package redis_test

import (
	"testing"
	"time"

	cfredis "callfilter/store/redis"
)

// TestSweepFeed: a sweep appends entries of op "r" to the list's feed, in
// sequence, whose counts add up to what it removed, so that other instances
// count the removals. The dense bucket takes several pages (several entries).
func TestSweepFeed(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *cfredis.Store{"standalone": MustOpenStandalone, "cluster": MustOpenCluster} {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			ctx := t.Context()
			at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			var keys []uint64
			for i := range uint64(2500) {
				keys = append(keys, 12125000000+i*3)
			}
			keys = append(keys, 13105550000, 8613800138000)
			if _, err := st.AddToListUntil(ctx, "l", keys, at); err != nil {
				t.Fatal(err)
			}
			if _, err := st.AddToListUntil(ctx, "l", []uint64{12125000001}, at.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			head, err := st.FeedHead(ctx, "l")
			if err != nil {
				t.Fatal(err)
			}
			removed, err := st.SweepList(ctx, "l", at)
			if err != nil || removed != len(keys) {
				t.Fatalf("SweepList: %d, %v; want %d", removed, err, len(keys))
			}
			changes, err := st.ReadFeed(ctx, "l", head.ID, time.Millisecond, 10000)
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) < 2 {
				t.Fatalf("the sweep wrote %d feed entries, want one per page (several)", len(changes))
			}
			sum, seq := 0, head.Seq
			for _, c := range changes {
				if !c.Removed || c.Count <= 0 {
					t.Fatalf("feed entry %+v after a sweep, want a removal", c)
				}
				if seq++; c.Pos.Seq != seq || c.Pos.Epoch != head.Epoch {
					t.Fatalf("feed entry at %+v, want seq %d epoch %s", c.Pos, seq, head.Epoch)
				}
				sum += c.Count
			}
			if sum != removed {
				t.Fatalf("the sweep's feed entries count %d removals, it removed %d", sum, removed)
			}
		})
	}
}
