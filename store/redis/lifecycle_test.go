package redis_test

import (
	"crypto/sha256"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/filter"
	cfredis "callfilter/store/redis"
	"callfilter/store/redis/redistest"
)

// TestFactsExpiryAfterScriptFlush: the Facts pipeline's membership script (which
// reads expiries) is loaded again after SCRIPT FLUSH, and the disconnect
// date and outcomes ride in the same pipeline.
func TestFactsExpiryAfterScriptFlush(t *testing.T) {
	addr, _ := redistest.Start(t)
	st := mustOpen(t, cfredis.Options{Addrs: []string{addr}})
	ctx := t.Context()
	until := time.Now().Add(24 * time.Hour).Truncate(time.Millisecond)
	if _, err := st.AddToListUntil(ctx, "refusers", []uint64{8613800138000}, until); err != nil {
		t.Fatal(err)
	}
	subj := sha256.Sum256([]byte("flush-facts"))
	disc := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	if err := st.PutDisconnects(ctx, []filter.Disconnect{{Subject: subj, At: disc}}); err != nil {
		t.Fatal(err)
	}
	q := filter.FactsQuery{Key: 8613800138000, Lists: []string{"refusers"}, Subject: subj, Seller: "acme"}
	for i := range 2 {
		if i > 0 {
			c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
			if err := c.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		f, err := st.Facts(ctx, q)
		if err != nil {
			t.Fatalf("Facts #%d: %v", i+1, err)
		}
		if f.Lists[0].State != filter.ListPresent || !f.Lists[0].ExpiresAt.Equal(until) || !f.DisconnectedAt.Equal(disc) {
			t.Fatalf("Facts #%d: %+v, want present until %v and disconnected at %v", i+1, f, until, disc)
		}
	}
}
