package redis

import (
	"crypto/sha256"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/store/redis/redistest"
)

// openInternal opens a store under a fresh prefix on the test server, for
// the tests that run its scripts directly.
func openInternal(t *testing.T) *Store {
	t.Helper()
	addr := redistest.Standalone(t)
	prefix := redistest.RandomPrefix()
	redistest.CleanupPrefix(t, addr, prefix)
	s, err := Open(t.Context(), Options{Addrs: []string{addr}, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestReserveRetryIsIdempotent: go-redis sends a script call again when its
// reply is lost (Options.MaxRetries). A retry of a granted reservation must
// say granted again and record nothing more; before, it counted its own
// attempt, answered "denied" and left the attempt recorded, so a cap lost a
// slot to a call its caller thought refused (TestClusterConcurrentReserve
// saw 2 grants of 3 under load).
func TestReserveRetryIsIdempotent(t *testing.T) {
	s := openInternal(t)
	ctx := t.Context()
	q := filter.ReserveQuery{Subject: sha256.Sum256([]byte("retry")), Seller: "acme", Purpose: "insurance",
		Channel: filter.ChannelCall, At: time.Now(), Caps: []filter.Cap{{Max: 1, Window: time.Hour}}}
	keys, args := s.reserveCall(q)
	for run := range 2 {
		n, err := reserveScript.Run(ctx, s.rdb, keys, args...).Int()
		if err != nil || n != 1 {
			t.Fatalf("run %d of one call: %d, %v; want granted", run+1, n, err)
		}
	}
	if n, err := s.rdb.ZCard(ctx, keys[0]).Result(); err != nil || n != 1 {
		t.Fatalf("%d attempts recorded (%v), want 1", n, err)
	}
	keys2, args2 := s.reserveCall(q)
	if n, err := reserveScript.Run(ctx, s.rdb, keys2, args2...).Int(); err != nil || n != 0 {
		t.Fatalf("another call under the full cap: %d, %v; want refused", n, err)
	}
}

// TestWriteScriptsRetryIdempotent: the scripts whose second run would
// otherwise report a conflict for a write that succeeded (a new API key, a
// rules revision, an audit append) say success again on a retry of the same
// call and write nothing more; a different call still conflicts.
func TestWriteScriptsRetryIdempotent(t *testing.T) {
	s := openInternal(t)
	ctx := t.Context()
	run := func(what string, keys []string, args []any, want int) {
		t.Helper()
		var n int
		var err error
		switch what {
		case "key":
			n, err = putKeyScript.Run(ctx, s.rdb, keys, args...).Int()
		case "rules":
			n, err = putRulesScript.Run(ctx, s.rdb, keys, args...).Int()
		case "audit":
			n, err = appendAuditScript.Run(ctx, s.rdb, keys, args...).Int()
		}
		if err != nil || n != want {
			t.Fatalf("%s %v: %d, %v; want %d", what, args[:3], n, err, want)
		}
	}
	keyKeys := []string{s.k.keysByName(), s.k.keysByHash()}
	run("key", keyKeys, []any{"ops", "aa", `{"name":"ops"}`}, 0)
	run("key", keyKeys, []any{"ops", "aa", `{"name":"ops"}`}, 0) // the retry
	run("key", keyKeys, []any{"ops", "bb", `{"name":"ops","other":1}`}, 1)
	run("key", keyKeys, []any{"dev", "aa", `{"name":"dev"}`}, 2)

	rulesKeys := []string{s.k.rulesCur(), s.k.rulesRevs(), s.k.rulesVer()}
	run("rules", rulesKeys, []any{"0", "1", "v1", `{"revision":1}`}, 1)
	run("rules", rulesKeys, []any{"0", "1", "v1", `{"revision":1}`}, 1) // the retry
	run("rules", rulesKeys, []any{"0", "1", "v1b", `{"revision":1,"other":1}`}, 0)

	auditKeys := []string{s.k.auditHead(), s.k.auditLog(), s.k.auditBlock()}
	run("audit", auditKeys, []any{"0", "", "1", "h1", 1, "1", "r1", 0}, 1)
	run("audit", auditKeys, []any{"0", "", "1", "h1", 1, "1", "r1", 0}, 1) // the retry
	run("audit", auditKeys, []any{"0", "", "1", "h1b", 1, "1", "r1b", 0}, 0)
	if n, err := s.rdb.HLen(ctx, s.k.auditLog()).Result(); err != nil || n != 1 {
		t.Fatalf("audit log holds %d records (%v), want 1", n, err)
	}
}

// TestSweepRetryIsIdempotent: a retry of a sweepScript call (same op-result
// key) returns the first run's count and removes nothing more: the feed gets
// one entry of op "r", and the count falls once.
func TestSweepRetryIsIdempotent(t *testing.T) {
	s := openInternal(t)
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	keys := []uint64{12125550001, 12125550002, 12125550003}
	if _, err := s.AddToListUntil(ctx, "l", keys, at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddToList(ctx, "l", []uint64{12125550004}); err != nil {
		t.Fatal(err)
	}
	feedLen := func() int64 {
		t.Helper()
		n, err := s.rdb.XLen(ctx, s.k.listFeed("l")).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	entries := feedLen()
	ks, args := s.sweepCall("l", ms(at), []sweepBucket{{12125, []uint64{550001, 550002, 550003}}})
	for run := range 2 {
		n, err := sweepScript.Run(ctx, s.rdb, ks, args...).Int()
		if err != nil || n != len(keys) {
			t.Fatalf("run %d of one call: %d, %v; want %d", run+1, n, err, len(keys))
		}
	}
	if got := feedLen(); got != entries+1 {
		t.Fatalf("the call and its retry wrote %d feed entries, want 1", got-entries)
	}
	if c, err := s.rdb.HGet(ctx, s.k.listMeta("l"), "count").Int(); err != nil || c != 1 {
		t.Fatalf("count %d (%v) after the sweep, want 1", c, err)
	}
	// Another call finds nothing to sweep and writes no entry.
	ks2, args2 := s.sweepCall("l", ms(at), []sweepBucket{{12125, []uint64{550001, 550002, 550003}}})
	if n, err := sweepScript.Run(ctx, s.rdb, ks2, args2...).Int(); err != nil || n != 0 {
		t.Fatalf("another call after the sweep: %d, %v; want 0", n, err)
	}
	if got := feedLen(); got != entries+1 {
		t.Fatalf("a sweep that removed nothing wrote a feed entry")
	}
}

// TestReserveWithoutCapsExpires: an attempt recorded with no cap, which no
// later reservation prunes, still expires: its key lives for the longest
// window a cap may have.
func TestReserveWithoutCapsExpires(t *testing.T) {
	s := openInternal(t)
	ctx := t.Context()
	q := filter.ReserveQuery{Subject: filter.Subject{9}, Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, At: time.Now()}
	if ok, err := s.Reserve(ctx, q); err != nil || !ok {
		t.Fatalf("Reserve = %v, %v", ok, err)
	}
	ttl, err := s.rdb.PTTL(ctx, s.k.attempts(q.Subject, q.Seller, q.Purpose, q.Channel)).Result()
	if err != nil || ttl <= filter.MaxCapWindow-time.Hour || ttl > filter.MaxCapWindow {
		t.Fatalf("attempts key TTL %v (%v), want about %v", ttl, err, filter.MaxCapWindow)
	}
}
