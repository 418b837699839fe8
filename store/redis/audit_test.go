package redis_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"callfilter/audit"
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

// TestAuditSmallBlocks runs the suite with time-summary blocks of 2 entries,
// so that time queries skip blocks and expiry deletes emptied ones.
func TestAuditSmallBlocks(t *testing.T) {
	old := *cfredis.AuditBlockShift
	*cfredis.AuditBlockShift = 1
	t.Cleanup(func() { *cfredis.AuditBlockShift = old })
	store.RunAudit(t, func(t *testing.T) filter.Store { return MustOpenStandalone(t) }, tamper(auditClient))
}

// TestAuditLargeBatch appends one batch larger than the script's chunks
// (HSET of 4000 arguments, ZADD of 1000 members), all about one number.
func TestAuditLargeBatch(t *testing.T) {
	st := MustOpenStandalone(t)
	ctx := context.Background()
	subj := filter.Subject{7}
	es := make([]filter.AuditEntry, 5000)
	for i := range es {
		es[i] = filter.AuditEntry{Kind: filter.AuditDecision, ID: strconv.Itoa(i), Time: time.Unix(1_900_000_000+int64(i), 0), Subject: subj, Decision: filter.Allow}
	}
	recs, _ := audit.Chain(filter.AuditHead{}, es)
	if err := st.AppendAudit(ctx, filter.AuditHead{}, recs); err != nil {
		t.Fatal(err)
	}
	r, err := audit.Verify(ctx, st)
	if err != nil || !r.OK || r.Checked != 5000 {
		t.Fatalf("Verify = %+v, %v; want OK with 5000 checked", r, err)
	}
	n := 0
	q := filter.AuditQuery{Subject: subj, Limit: 1000}
	for {
		got, next, err := st.QueryAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		n += len(got)
		if next == "" {
			break
		}
		q.After = next
	}
	if n != 5000 {
		t.Errorf("search by number: %d entries, want 5000", n)
	}
}
