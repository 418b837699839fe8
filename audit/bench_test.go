package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"callfilter/audit"
	"callfilter/filter"
	"callfilter/store/embedded"
)

func benchEntry(n int) filter.AuditEntry {
	return filter.AuditEntry{
		Kind: filter.AuditDecision, ID: fmt.Sprintf("%032x", n), Time: time.Now(), Actor: "dialer-1",
		Subject: filter.Subject{byte(n), byte(n >> 8), 1}, Last4: "0134", Seller: "acme", Purpose: "insurance",
		Channel: filter.ChannelCall, Decision: filter.Allow, RulesVersion: "2026-01-15.1",
		Replay: &filter.AuditReplay{At: time.Now(), Region: "US", TimeZones: []string{"America/New_York"},
			Lists: []filter.AuditList{{List: "national", State: filter.ListAbsent}, {List: "internal", State: filter.ListAbsent}}},
	}
}

// BenchmarkWriterEmbedded is the sustained append throughput of a Writer over
// the embedded store: entries are enqueued as fast as the queue takes them.
func BenchmarkWriterEmbedded(b *testing.B) {
	st := embedded.MustOpenTemp(b)
	w, err := audit.NewWriter(st, audit.Options{Retention: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for w.Enqueue(benchEntry(i)) != nil {
			time.Sleep(50 * time.Microsecond)
		}
	}
	for w.Stats().Appended < uint64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	w.Close(time.Second)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkEnqueue is the cost the check path pays: one Enqueue.
func BenchmarkEnqueue(b *testing.B) {
	st := embedded.MustOpenTemp(b)
	w, err := audit.NewWriter(st, audit.Options{Retention: -1, QueueSize: 1 << 22, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close(time.Minute)
	e := benchEntry(1)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := w.Enqueue(e); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifyEmpty(t *testing.T) {
	r, err := audit.Verify(context.Background(), embedded.MustOpenTemp(t))
	if err != nil || !r.OK {
		t.Fatalf("empty chain: %+v, %v", r, err)
	}
}
