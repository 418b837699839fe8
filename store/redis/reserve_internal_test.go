package redis

import (
	"crypto/sha256"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/store/redis/redistest"
)

// TestReserveRetryIsIdempotent: go-redis sends a script call again when its
// reply is lost (Options.MaxRetries). A retry of a granted reservation must
// say granted again and record nothing more; before, it counted its own
// attempt, answered "denied" and left the attempt recorded, so a cap lost a
// slot to a call its caller thought refused (TestClusterConcurrentReserve
// saw 2 grants of 3 under load).
func TestReserveRetryIsIdempotent(t *testing.T) {
	addr := redistest.Standalone(t)
	prefix := redistest.RandomPrefix()
	redistest.CleanupPrefix(t, addr, prefix)
	ctx := t.Context()
	s, err := Open(ctx, Options{Addrs: []string{addr}, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
