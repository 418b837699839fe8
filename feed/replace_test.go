package feed

import (
	"context"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/phone"
	cfredis "callfilter/store/redis"
	"callfilter/store/redis/redistest"
)

func key(tb testing.TB, number string) uint64 {
	tb.Helper()
	n, err := phone.Normalize(number, "US")
	if err != nil {
		tb.Fatal(err)
	}
	return n.Key
}

// TestReplaceRebuildsFollowers: a replace of a list through instance A (the
// list becomes its staging variant's keys) makes B deny a number only in the
// new contents and allow one only in the old, once the propagation bound has
// passed: the replace's feed entry makes B's tail rebuild.
func TestReplaceRebuildsFollowers(t *testing.T) {
	addr := redistest.Standalone(t)
	prefix := redistest.RandomPrefix()
	redistest.CleanupPrefix(t, addr, prefix)
	testReplaceRebuildsFollowers(t, cfredis.Options{Addrs: []string{addr}, KeyPrefix: prefix})
}

// TestReplaceRebuildsFollowersCluster: the same on Redis Cluster, where the
// list and its variant must be in one slot for the replace's script.
func TestReplaceRebuildsFollowersCluster(t *testing.T) {
	testReplaceRebuildsFollowers(t, cfredis.Options{Addrs: redistest.Cluster(t), KeyPrefix: redistest.RandomPrefix()})
}

func testReplaceRebuildsFollowers(t *testing.T, opts cfredis.Options) {
	ctx := context.Background()
	a := newStack(t, opts, Options{}, true)
	b := newStack(t, opts, Options{}, true)
	a.add(t, "national", number(1), number(2))
	waitFor(t, 2*time.Second, "b denies", func() bool { return b.check(t, number(2)).Outcome == filter.Deny })

	// The new contents: number(2) stays, number(1) goes, number(3) comes.
	if _, err := a.st.AddToList(ctx, "national~staging", []uint64{key(t, number(2)), key(t, number(3))}); err != nil {
		t.Fatal(err)
	}
	if d := b.check(t, number(3)); d.Outcome != filter.Allow {
		t.Fatalf("b before the replace: %v %v for a number only staged, want allow", d.Outcome, d.Reasons)
	}
	if _, err := a.lists.Replace(ctx, "national", "national~staging"); err != nil {
		t.Fatal(err)
	}
	replaced := time.Now()
	// A rebuilt before Replace returned.
	if d := a.check(t, number(3)); d.Outcome != filter.Deny || !d.Has(filter.ReasonOnList) {
		t.Errorf("a after the replace: %v %v for a number of the new contents, want deny on_list", d.Outcome, d.Reasons)
	}
	if d := a.check(t, number(1)); d.Outcome != filter.Allow {
		t.Errorf("a after the replace: %v %v for a number of the old contents only, want allow", d.Outcome, d.Reasons)
	}
	// B: within the bound, and for good.
	waitFor(t, propagationBound, "b denies a number of the new contents", func() bool {
		return b.check(t, number(3)).Outcome == filter.Deny
	})
	time.Sleep(time.Until(replaced.Add(propagationBound)))
	for i := range 20 {
		if d := b.check(t, number(3)); d.Outcome != filter.Deny || !d.Has(filter.ReasonOnList) {
			t.Fatalf("b check %d after the bound: %v %v for a number of the new contents, want deny on_list", i, d.Outcome, d.Reasons)
		}
		if d := b.check(t, number(2)); d.Outcome != filter.Deny {
			t.Fatalf("b check %d after the bound: %v for a number of both contents, want deny", i, d.Outcome)
		}
		if d := b.check(t, number(1)); d.Outcome != filter.Allow {
			t.Fatalf("b check %d after the bound: %v %v for a number of the old contents only, want allow", i, d.Outcome, d.Reasons)
		}
	}
	// In step is a moment's state: a tail whose next read is late (a loaded
	// machine) is out of step until it reads, so wait for it.
	waitFor(t, 5*time.Second, "b's tail of national rebuilt and in step", func() bool {
		for _, ts := range b.feed.Status() {
			if ts.List == "national" {
				return ts.Rebuilds >= 1 && ts.Synced
			}
		}
		return false
	})
	// B follows the stream after the rebuild.
	a.add(t, "national", number(4))
	waitFor(t, propagationBound, "b denies a number added after the replace", func() bool {
		return b.check(t, number(4)).Outcome == filter.Deny
	})
}
