package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"callfilter/audit"
	"callfilter/filter"
	"callfilter/store/embedded"
)

// TestWriterRoundTrip queues entries of many sizes (some larger than an
// arena chunk's share, so they are copied on their own) through enough
// chunks to recycle them, and reads every entry back as it was queued.
func TestWriterRoundTrip(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	w, err := audit.NewWriter(st, audit.Options{Retention: -1, BatchSize: 500, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20_000
	want := make([]filter.AuditEntry, n)
	for i := range want {
		e := benchEntry(i)
		e.Detail = strings.Repeat("x", i%97)
		if i%5000 == 17 {
			e.Detail = strings.Repeat("y", 300_000)
		}
		want[i] = e
		// The entry is encoded by Enqueue: changing it afterwards must not
		// change what is written.
		for w.Enqueue(e) != nil {
			time.Sleep(time.Millisecond)
		}
		e.Replay.Lists[0].List = "changed"
	}
	w.Close(10 * time.Second)
	if s := w.Stats(); s.Appended != n {
		t.Fatalf("appended %d of %d", s.Appended, n)
	}
	i := 0
	err = st.ScanAudit(context.Background(), 1, func(seq uint64, r filter.AuditRecord) error {
		got, err := r.Decode()
		if err != nil {
			return err
		}
		w := want[i]
		w.Seq, w.Prev, w.Hash, w.Time = got.Seq, got.Prev, got.Hash, w.Time.UTC().Round(0)
		w.Replay.At = w.Replay.At.UTC().Round(0)
		w.Replay.Lists[0].List = "national"
		if seq != uint64(i+1) || !reflect.DeepEqual(got, w) {
			return fmt.Errorf("entry %d read back as\n%+v\nwant\n%+v", seq, got, w)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("read %d entries back, want %d", i, n)
	}
	r, err := audit.Verify(context.Background(), st)
	if err != nil || !r.OK || r.Checked != n {
		t.Fatalf("Verify = %+v, %v", r, err)
	}
}

// FuzzRecordDecode: no input makes Decode panic, and a record that decodes
// encodes back to the same bytes (one encoding per entry: what is hashed is
// what is read).
func FuzzRecordDecode(f *testing.F) {
	for i := range 5 {
		e := benchEntry(i)
		if i == 1 {
			e.Replay = nil
			e.Subject = filter.Subject{}
		}
		if i == 2 {
			e.Reasons = []filter.AuditReason{{Code: filter.ReasonOnList, List: "national"}}
			e.Replay.Consents = []filter.AuditConsent{{Seller: "acme", Purpose: "insurance", Channel: filter.ChannelSMS, GrantedAt: time.Unix(1, 2)}}
			e.Replay.Attempts = []time.Time{time.Unix(-5, 999_999_999)}
		}
		if i == 3 {
			// Every fact of record version 3: list ages, sources and
			// expiries, policy expiries, outcomes, the disconnect.
			ts := func(s int64) time.Time { return time.Unix(s, s%1000) }
			e.Replay.FactLineType, e.Replay.PostalCode = "mobile", "10001"
			e.Replay.Lists = []filter.AuditList{
				{List: "national", State: filter.ListPresent, UpdatedAt: ts(1794000000), SourceDate: ts(1793000000), ExpiresAt: ts(1796000000)},
				{List: "internal", State: filter.ListAbsent, UpdatedAt: ts(1794000001)},
			}
			e.Replay.Relationships = []filter.AuditRel{{Seller: "acme", Kind: filter.RelationshipPurchase, At: ts(1700000000), PolicyExpiresAt: ts(1797000000)},
				{Seller: "acme", Kind: filter.RelationshipInquiry, At: ts(1700000001)}}
			e.Replay.Outcomes = []filter.AuditOutcome{{Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, Kind: filter.OutcomeNoAnswer, At: ts(1794990000)}}
			e.Replay.DisconnectedAt = ts(1790000000)
		}
		recs, _ := audit.Chain(filter.AuditHead{Seq: uint64(i)}, []filter.AuditEntry{e})
		f.Add([]byte(recs[0]))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := filter.AuditRecord(b)
		e, err := r.Decode()
		if err != nil {
			return
		}
		if again := filter.AppendAuditRecord(nil, &e); string(again) != string(b) {
			t.Fatalf("decoded and encoded again:\n%x\nwant\n%x", again, b)
		}
	})
}
