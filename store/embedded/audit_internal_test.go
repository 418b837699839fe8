package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"callfilter/audit"
	"callfilter/filter"
	"callfilter/store"
)

// auditTamper edits the chunk that holds an entry, as someone with write
// access to the file could.
func auditTamper() store.Tamper {
	rewrite := func(t *testing.T, st filter.Store, seq uint64, edit func(filter.AuditRecord) filter.AuditRecord) {
		t.Helper()
		err := st.(*Store).db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAudit)
			var key []byte
			var recs []filter.AuditRecord
			err := b.ForEach(func(k, v []byte) error {
				ch := parseChunk(k, v)
				var rs []filter.AuditRecord
				found := false
				for i := range ch.n {
					r := append(filter.AuditRecord(nil), ch.rec(i)...)
					if r.Valid() && r.Seq() == seq {
						found = true
						if r = edit(r); r == nil {
							continue
						}
					}
					rs = append(rs, r)
				}
				if found {
					key, recs = append([]byte(nil), k...), rs
				}
				return nil
			})
			switch {
			case err != nil:
				return err
			case key == nil:
				return fmt.Errorf("no entry %d", seq)
			case len(recs) == 0:
				return b.Delete(key)
			}
			return b.Put(key, encodeChunk(recs))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return store.Tamper{
		Edit: func(t *testing.T, st filter.Store, seq uint64, edit func([]byte) []byte) {
			t.Helper()
			rewrite(t, st, seq, func(r filter.AuditRecord) filter.AuditRecord { return edit(r) })
		},
		Delete: func(t *testing.T, st filter.Store, seq uint64) {
			t.Helper()
			rewrite(t, st, seq, func(filter.AuditRecord) filter.AuditRecord { return nil })
		},
	}
}

func TestAuditConformance(t *testing.T) {
	store.RunAudit(t, func(t *testing.T) filter.Store { return MustOpenTemp(t) }, auditTamper())
}

// TestAuditConformanceSmallUnits runs the suite with segments of 4 entries
// and blocks of 2, so that its chains cross both: searches read the subject
// index and the records not indexed yet, time queries skip blocks, expiry
// drops the units it empties.
func TestAuditConformanceSmallUnits(t *testing.T) {
	seg, blk := auditSegmentShift, auditBlockShift
	auditSegmentShift, auditBlockShift = 2, 1
	t.Cleanup(func() { auditSegmentShift, auditBlockShift = seg, blk })
	store.RunAudit(t, func(t *testing.T) filter.Store { return MustOpenTemp(t) }, auditTamper())
}

// TestAuditChunks appends batches of many sizes (one chunk each) and reads
// every entry back by Seq, scans from every Seq and expires in steps that
// split chunks: the chain verifies throughout.
func TestAuditChunks(t *testing.T) {
	seg, blk := auditSegmentShift, auditBlockShift
	auditSegmentShift, auditBlockShift = 3, 2
	t.Cleanup(func() { auditSegmentShift, auditBlockShift = seg, blk })
	st := MustOpenTemp(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var head filter.AuditHead
	for head.Seq < 200 {
		es := make([]filter.AuditEntry, 1+rng.IntN(7))
		for i := range es {
			n := int(head.Seq) + i + 1
			es[i] = filter.AuditEntry{Kind: filter.AuditDecision, ID: fmt.Sprint(n), Time: base.Add(time.Duration(n) * time.Second),
				Subject: filter.Subject{byte(n % 5)}, Decision: filter.Allow}
		}
		recs, next := audit.Chain(head, es)
		if err := st.AppendAudit(ctx, head, recs); err != nil {
			t.Fatal(err)
		}
		head = next
	}
	mustVerify := func(from uint64) {
		t.Helper()
		r, err := audit.Verify(ctx, st)
		if err != nil || !r.OK || r.From != from || r.Checked != head.Seq-from+1 {
			t.Fatalf("Verify = %+v, %v; want OK from %d", r, err, from)
		}
	}
	mustVerify(1)
	err := st.view(ctx, "test", func(tx *bolt.Tx) error {
		for seq := uint64(1); seq <= head.Seq; seq++ {
			if r := getRecord(tx.Bucket(bucketAudit), seq); r == nil || r.Seq() != seq {
				t.Errorf("getRecord(%d) = %v", seq, r)
			}
		}
		if r := getRecord(tx.Bucket(bucketAudit), head.Seq+1); r != nil {
			t.Errorf("getRecord past the head = %v", r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []uint64{1, 2, 7, 100, head.Seq} {
		want := from
		err := st.ScanAudit(ctx, from, func(seq uint64, r filter.AuditRecord) error {
			if seq != want || r.Seq() != seq {
				t.Fatalf("ScanAudit from %d: got %d, want %d", from, seq, want)
			}
			want++
			return nil
		})
		if err != nil || want != head.Seq+1 {
			t.Fatalf("ScanAudit from %d ended at %d, %v", from, want, err)
		}
	}
	for cut := uint64(3); cut < 150; cut += 11 {
		if _, err := st.ExpireAudit(ctx, base.Add(time.Duration(cut)*time.Second+time.Millisecond), 5); err != nil {
			t.Fatal(err)
		}
		cp, err := st.AuditCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mustVerify(cp.Seq + 1)
		es, _, err := st.QueryAudit(ctx, filter.AuditQuery{Subject: filter.Subject{1}, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if want := (head.Seq+4)/5 - (cp.Seq+4)/5; uint64(len(es)) != want {
			t.Fatalf("after expiry to %d: %d entries of subject 1, want %d", cp.Seq, len(es), want)
		}
	}
}
