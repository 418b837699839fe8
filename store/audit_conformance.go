package store

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"callfilter/audit"
	"callfilter/filter"
)

// Tamper edits a store behind its back, as someone with access to its data
// could: the audit suite checks that Verify catches it.
type Tamper struct {
	// Edit replaces the stored form (filter.AuditRecord) of entry seq with
	// edit's result.
	Edit func(t *testing.T, st filter.Store, seq uint64, edit func([]byte) []byte)
	// Delete removes entry seq.
	Delete func(t *testing.T, st filter.Store, seq uint64)
}

// RunAudit runs the conformance suite of filter.AuditStore and
// filter.RulesStore against the stores open returns (which must implement
// both). tamper, when its functions are set, runs the tamper-evidence tests.
//
// Beyond the interfaces' doc comments it pins down: QueryAudit pages never
// repeat or skip an entry; an entry's stored form round-trips exactly (its
// hash verifies after reading); ExpireAudit keeps the chain verifiable.
func RunAudit(t *testing.T, open func(t *testing.T) filter.Store, tamper Tamper) {
	stores := func(t *testing.T) (filter.AuditStore, filter.RulesStore, filter.Store) {
		st := open(t)
		as, ok := st.(filter.AuditStore)
		if !ok {
			t.Fatalf("%T does not implement filter.AuditStore", st)
		}
		rs, ok := st.(filter.RulesStore)
		if !ok {
			t.Fatalf("%T does not implement filter.RulesStore", st)
		}
		return as, rs, st
	}
	t.Run("Audit/AppendAndScan", func(t *testing.T) { as, _, _ := stores(t); testAuditAppend(t, as) })
	t.Run("Audit/Conflict", func(t *testing.T) { as, _, _ := stores(t); testAuditConflict(t, as) })
	t.Run("Audit/Query", func(t *testing.T) { as, _, _ := stores(t); testAuditQuery(t, as) })
	t.Run("Audit/QueryTimeOutOfOrder", func(t *testing.T) { as, _, _ := stores(t); testAuditQueryBackwards(t, as) })
	t.Run("Audit/Expire", func(t *testing.T) { as, _, _ := stores(t); testAuditExpire(t, as) })
	t.Run("Audit/ConcurrentWriters", func(t *testing.T) { as, _, _ := stores(t); testAuditWriters(t, as) })
	t.Run("Audit/Closed", func(t *testing.T) {
		as, _, st := stores(t)
		_ = st.Close()
		_, err := as.AuditHead(context.Background())
		wantKind(t, err, filter.EUnavailable, "AuditHead on a closed store")
	})
	t.Run("Audit/TamperEdit", func(t *testing.T) {
		if tamper.Edit == nil {
			t.Skip("no tamper functions")
		}
		as, _, st := stores(t)
		appendN(t, as, 10)
		// A well-formed record that says allow where the decision was deny,
		// carrying the old hash.
		tamper.Edit(t, st, 4, func(b []byte) []byte {
			return reencode(t, b, false, func(e *filter.AuditEntry) { e.Decision = filter.Allow })
		})
		wantBroken(t, as, 4)
	})
	t.Run("Audit/TamperEditRehashed", func(t *testing.T) {
		if tamper.Edit == nil {
			t.Skip("no tamper functions")
		}
		as, _, st := stores(t)
		appendN(t, as, 10)
		// The forger recomputes the edited entry's own hash: its successor no
		// longer links to it.
		tamper.Edit(t, st, 4, func(b []byte) []byte {
			return reencode(t, b, true, func(e *filter.AuditEntry) { e.Decision = filter.Allow })
		})
		wantBroken(t, as, 5)
	})
	t.Run("Audit/TamperDamage", func(t *testing.T) {
		if tamper.Edit == nil {
			t.Skip("no tamper functions")
		}
		as, _, st := stores(t)
		appendN(t, as, 10)
		tamper.Edit(t, st, 3, func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
		tamper.Edit(t, st, 7, func(b []byte) []byte { return b[:20] })
		wantBroken(t, as, 3)
	})
	t.Run("Audit/TamperTruncated", func(t *testing.T) {
		if tamper.Edit == nil {
			t.Skip("no tamper functions")
		}
		as, _, st := stores(t)
		appendN(t, as, 10)
		tamper.Edit(t, st, 7, func(b []byte) []byte { return b[:20] })
		wantBroken(t, as, 7)
	})
	t.Run("Audit/TamperDelete", func(t *testing.T) {
		if tamper.Delete == nil {
			t.Skip("no tamper functions")
		}
		as, _, st := stores(t)
		appendN(t, as, 10)
		tamper.Delete(t, st, 6)
		wantBroken(t, as, 6)
	})
	t.Run("Audit/TamperDeleteLast", func(t *testing.T) {
		if tamper.Delete == nil {
			t.Skip("no tamper functions")
		}
		as, _, st := stores(t)
		appendN(t, as, 5)
		tamper.Delete(t, st, 5)
		wantBroken(t, as, 5)
	})
	t.Run("Rules/PutAndHistory", func(t *testing.T) { _, rs, _ := stores(t); testRulesPut(t, rs) })
	t.Run("Rules/ConcurrentEditors", func(t *testing.T) { _, rs, _ := stores(t); testRulesConcurrent(t, rs) })
}

// reencode decodes the record b, applies edit and encodes it again with the
// same Seq and Prev: with the hash it carried, or (rehash) a new one.
func reencode(t *testing.T, b []byte, rehash bool, edit func(*filter.AuditEntry)) []byte {
	t.Helper()
	e, err := filter.AuditRecord(b).Decode()
	if err != nil {
		t.Fatalf("decode the stored record: %v", err)
	}
	edit(&e)
	r := filter.AuditRecord(filter.AppendAuditRecord(nil, &e))
	if rehash {
		r.Seal(e.Seq, e.Prev)
	}
	return r
}

// entry returns a decision entry n, about subject n%3, at base + n minutes.
func entry(n int) filter.AuditEntry {
	d := filter.Allow
	if n%2 == 0 {
		d = filter.Deny
	}
	return filter.AuditEntry{
		Kind: filter.AuditDecision, ID: fmt.Sprintf("d%04d", n), Time: base.Add(time.Duration(n) * time.Minute),
		Actor: "dialer-1", Subject: subject(n % 3), Last4: "0134", Seller: []string{"acme", "globex"}[n%2],
		Purpose: "insurance", Channel: filter.ChannelCall, Decision: d,
		Reasons:      []filter.AuditReason{{Code: filter.ReasonOnList, List: "national"}},
		RulesVersion: "2026-01-15",
		Replay: &filter.AuditReplay{At: base, Region: "US", Area: "US-NY", TimeZones: []string{"America/New_York"},
			Lists:    []filter.AuditList{{List: "national", State: filter.ListPresent}},
			Attempts: []time.Time{base.Add(-time.Hour)}},
	}
}

// appendN appends entries 1..n in one chain and returns them as stored.
func appendN(t *testing.T, as filter.AuditStore, n int) []filter.AuditEntry {
	t.Helper()
	ctx := context.Background()
	head, err := as.AuditHead(ctx)
	must(t, err, "AuditHead")
	es := make([]filter.AuditEntry, n)
	for i := range es {
		es[i] = entry(int(head.Seq) + i + 1)
	}
	recs, _ := audit.Chain(head, es)
	must(t, as.AppendAudit(ctx, head, recs), "AppendAudit")
	return es
}

func wantBroken(t *testing.T, as filter.AuditStore, at uint64) {
	t.Helper()
	r, err := audit.Verify(context.Background(), as)
	must(t, err, "Verify")
	if r.OK || r.BrokenAt != at {
		t.Errorf("Verify = %+v, want broken at %d", r, at)
	}
}

func testAuditAppend(t *testing.T, as filter.AuditStore) {
	ctx := context.Background()
	if h, err := as.AuditHead(ctx); err != nil || h != (filter.AuditHead{}) {
		t.Fatalf("empty AuditHead = %v, %v; want zero", h, err)
	}
	es := append(appendN(t, as, 3), appendN(t, as, 2)...)
	h, err := as.AuditHead(ctx)
	must(t, err, "AuditHead")
	if h.Seq != 5 || h.Hash != es[4].Hash {
		t.Errorf("head = %d, want 5 with the last entry's hash", h.Seq)
	}
	var got []filter.AuditEntry
	must(t, as.ScanAudit(ctx, 2, func(seq uint64, r filter.AuditRecord) error {
		e, err := r.Decode()
		if err != nil || e.Seq != seq {
			t.Errorf("ScanAudit: record %d decodes as entry %d, %v", seq, e.Seq, err)
		}
		got = append(got, e)
		return nil
	}), "ScanAudit")
	if len(got) != 4 || got[0].Seq != 2 || got[3].Seq != 5 {
		t.Fatalf("ScanAudit from 2: %d entries, want 2..5", len(got))
	}
	g, w := got[0], es[1]
	if !reflect.DeepEqual(g, w) {
		t.Errorf("entry 2 read back as\n%+v\nwant\n%+v", g, w)
	}
	r, err := audit.Verify(ctx, as)
	must(t, err, "Verify")
	if !r.OK || r.Checked != 5 {
		t.Errorf("Verify = %+v, want OK with 5 checked", r)
	}
	bad, _ := audit.Chain(filter.AuditHead{Seq: 8, Hash: h.Hash}, []filter.AuditEntry{entry(9)})
	wantKind(t, as.AppendAudit(ctx, h, bad), filter.EInvalid, "AppendAudit of an entry that does not continue the chain")
	wantKind(t, as.AppendAudit(ctx, h, []filter.AuditRecord{[]byte("not a record")}), filter.EInvalid, "AppendAudit of bytes that are not a record")
}

func testAuditConflict(t *testing.T, as filter.AuditStore) {
	ctx := context.Background()
	appendN(t, as, 2)
	stale := filter.AuditHead{}
	recs, _ := audit.Chain(stale, []filter.AuditEntry{entry(1)})
	wantKind(t, as.AppendAudit(ctx, stale, recs), filter.EConflict, "AppendAudit on a stale head")
	h, _ := as.AuditHead(ctx)
	if h.Seq != 2 {
		t.Errorf("after a conflicting append the head is %d, want 2", h.Seq)
	}
}

func testAuditQuery(t *testing.T, as filter.AuditStore) {
	ctx := context.Background()
	appendN(t, as, 30)
	count := func(q filter.AuditQuery) (n int, pages int) {
		t.Helper()
		seen := map[uint64]bool{}
		for {
			es, next, err := as.QueryAudit(ctx, q)
			must(t, err, "QueryAudit")
			pages++
			for _, e := range es {
				if seen[e.Seq] {
					t.Fatalf("entry %d returned twice", e.Seq)
				}
				seen[e.Seq] = true
			}
			if next == "" {
				return len(seen), pages
			}
			q.After = next
			if pages > 100 {
				t.Fatal("paging does not end")
			}
		}
	}
	for _, tc := range []struct {
		name string
		q    filter.AuditQuery
		want int
	}{
		{"all", filter.AuditQuery{}, 30},
		{"all, pages of 7", filter.AuditQuery{Limit: 7}, 30},
		{"subject", filter.AuditQuery{Subject: subject(1)}, 10},
		{"subject, pages of 3", filter.AuditQuery{Subject: subject(1), Limit: 3}, 10},
		{"seller", filter.AuditQuery{Seller: "acme"}, 15},
		{"deny", filter.AuditQuery{Decision: filter.Deny, Limit: 4}, 15},
		{"time", filter.AuditQuery{From: base.Add(10 * time.Minute), To: base.Add(20 * time.Minute)}, 10},
		{"subject and time", filter.AuditQuery{Subject: subject(0), From: base.Add(10 * time.Minute), To: base.Add(20 * time.Minute)}, 3},
		{"change", filter.AuditQuery{Kind: filter.AuditChange}, 0},
	} {
		if got, _ := count(tc.q); got != tc.want {
			t.Errorf("%s: %d entries, want %d", tc.name, got, tc.want)
		}
	}
	_, _, err := as.QueryAudit(ctx, filter.AuditQuery{After: "nonsense"})
	wantKind(t, err, filter.EInvalid, "QueryAudit with a bad cursor")
}

// testAuditQueryBackwards: Time need not grow with Seq (clocks of several
// instances, a clock stepped back); a time query still finds every entry.
func testAuditQueryBackwards(t *testing.T, as filter.AuditStore) {
	ctx := context.Background()
	es := make([]filter.AuditEntry, 40)
	for i := range es {
		es[i] = entry(i + 1)
		es[i].Time = base.Add(time.Duration(40-i) * time.Minute)
	}
	recs, _ := audit.Chain(filter.AuditHead{}, es)
	must(t, as.AppendAudit(ctx, filter.AuditHead{}, recs), "AppendAudit")
	q := filter.AuditQuery{From: base.Add(5 * time.Minute), To: base.Add(15 * time.Minute), Limit: 3}
	var seqs []uint64
	for pages := 0; ; pages++ {
		got, next, err := as.QueryAudit(ctx, q)
		must(t, err, "QueryAudit")
		for _, e := range got {
			seqs = append(seqs, e.Seq)
		}
		if next == "" {
			break
		}
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		q.After = next
	}
	// Entry i+1 is at 40-i minutes: [5, 15) holds entries 27..36.
	want := []uint64{27, 28, 29, 30, 31, 32, 33, 34, 35, 36}
	if !reflect.DeepEqual(seqs, want) {
		t.Errorf("time query over backward times: entries %v, want %v", seqs, want)
	}
}

func testAuditExpire(t *testing.T, as filter.AuditStore) {
	ctx := context.Background()
	appendN(t, as, 10)
	n, err := as.ExpireAudit(ctx, base.Add(4*time.Minute+time.Second), 2)
	must(t, err, "ExpireAudit")
	if n != 2 {
		t.Errorf("ExpireAudit with limit 2 deleted %d", n)
	}
	n, err = as.ExpireAudit(ctx, base.Add(4*time.Minute+time.Second), 100)
	must(t, err, "ExpireAudit")
	if n != 2 {
		t.Errorf("ExpireAudit deleted %d more, want 2 (entries 3 and 4)", n)
	}
	cp, err := as.AuditCheckpoint(ctx)
	must(t, err, "AuditCheckpoint")
	if cp.Seq != 4 {
		t.Errorf("checkpoint %d, want 4", cp.Seq)
	}
	es, _, err := as.QueryAudit(ctx, filter.AuditQuery{Subject: subject(1)})
	must(t, err, "QueryAudit")
	for _, e := range es {
		if e.Seq <= 4 {
			t.Errorf("expired entry %d still found", e.Seq)
		}
	}
	r, err := audit.Verify(ctx, as)
	must(t, err, "Verify")
	if !r.OK || r.From != 5 || r.Checked != 6 {
		t.Errorf("Verify after expiry = %+v, want OK from 5, 6 checked", r)
	}
}

func testAuditWriters(t *testing.T, as filter.AuditStore) {
	ctx := context.Background()
	var ws []*audit.Writer
	for range 2 {
		w, err := audit.NewWriter(as, audit.Options{Retention: -1})
		must(t, err, "NewWriter")
		ws = append(ws, w)
	}
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 50 {
				e := entry(i*1000 + n)
				if n%10 == 9 {
					if err := w.Commit(ctx, e); err != nil {
						t.Errorf("Commit: %v", err)
					}
					continue
				}
				for w.Enqueue(e) != nil {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	for _, w := range ws {
		w.Close(5 * time.Second)
	}
	r, err := audit.Verify(ctx, as)
	must(t, err, "Verify")
	if !r.OK || r.Checked != 100 {
		t.Errorf("two writers: Verify = %+v, want OK with 100 entries", r)
	}
}

func rulesRev(v string) filter.RulesRevision {
	return filter.RulesRevision{Version: v, Author: "officer-1", At: base, Summary: "edit " + v, Diff: "+ a\n- b\n", Source: []byte("version: " + v + "\n")}
}

func testRulesPut(t *testing.T, rs filter.RulesStore) {
	ctx := context.Background()
	_, err := rs.CurrentRules(ctx)
	wantKind(t, err, filter.ENotFound, "CurrentRules of an empty store")
	for i, v := range []string{"v1", "v2", "v1"} {
		r, err := rs.PutRules(ctx, rulesRev(v), int64(i))
		must(t, err, "PutRules")
		if r.Revision != int64(i+1) {
			t.Errorf("revision %d, want %d", r.Revision, i+1)
		}
	}
	_, err = rs.PutRules(ctx, rulesRev("v3"), 1)
	wantKind(t, err, filter.EConflict, "PutRules on a stale revision")
	cur, err := rs.CurrentRules(ctx)
	must(t, err, "CurrentRules")
	if cur.Revision != 3 || cur.Version != "v1" || string(cur.Source) != "version: v1\n" || !cur.At.Equal(base) || cur.Author != "officer-1" {
		t.Errorf("current = %+v", cur)
	}
	h, err := rs.RulesHistory(ctx, 2)
	must(t, err, "RulesHistory")
	if len(h) != 2 || h[0].Revision != 3 || h[1].Revision != 2 || h[0].Source != nil || h[1].Diff == "" {
		t.Errorf("history = %+v, want revisions 3, 2 without source", h)
	}
	v2, err := rs.RulesByVersion(ctx, "v2")
	must(t, err, "RulesByVersion")
	if v2.Revision != 2 || string(v2.Source) != "version: v2\n" {
		t.Errorf("v2 = %+v", v2)
	}
	_, err = rs.RulesByVersion(ctx, "nope")
	wantKind(t, err, filter.ENotFound, "RulesByVersion of an unknown version")
}

func testRulesConcurrent(t *testing.T, rs filter.RulesStore) {
	ctx := context.Background()
	_, err := rs.PutRules(ctx, rulesRev("v1"), 0)
	must(t, err, "PutRules")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = rs.PutRules(ctx, rulesRev(fmt.Sprintf("e%d", i)), 1)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch filter.ErrorKind(err) {
		case "":
			won++
		case filter.EConflict:
		default:
			t.Errorf("PutRules: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of 8 concurrent editors won, want exactly 1", won)
	}
}
