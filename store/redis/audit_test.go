package redis_test

import (
	"context"
	"strconv"
	"testing"

	"callfilter/filter"
	"callfilter/store"
	cfredis "callfilter/store/redis"
)

// tamper edits the audit log hash directly, as someone with access to Redis
// could.
func tamper(client func(t *testing.T, st filter.Store) (redisDo, string)) store.Tamper {
	return store.Tamper{
		Edit: func(t *testing.T, st filter.Store, seq uint64, edit func([]byte) []byte) {
			t.Helper()
			do, key := client(t, st)
			v, err := do.HGet(context.Background(), key, strconv.FormatUint(seq, 10)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if err := do.HSet(context.Background(), key, strconv.FormatUint(seq, 10), string(edit([]byte(v)))).Err(); err != nil {
				t.Fatal(err)
			}
		},
		Delete: func(t *testing.T, st filter.Store, seq uint64) {
			t.Helper()
			do, key := client(t, st)
			if err := do.HDel(context.Background(), key, strconv.FormatUint(seq, 10)).Err(); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func auditClient(t *testing.T, st filter.Store) (redisDo, string) {
	t.Helper()
	o, ok := optsOf.Load(st)
	if !ok {
		t.Fatal("unknown store")
	}
	opts := o.(cfredis.Options)
	c := newClient(opts.Addrs)
	t.Cleanup(func() { _ = c.Close() })
	return c, opts.KeyPrefix + ":audit:{a}:log"
}

func TestAuditStandalone(t *testing.T) {
	store.RunAudit(t, func(t *testing.T) filter.Store { return MustOpenStandalone(t) }, tamper(auditClient))
}

func TestAuditCluster(t *testing.T) {
	store.RunAudit(t, func(t *testing.T) filter.Store { return MustOpenCluster(t) }, tamper(auditClient))
}
