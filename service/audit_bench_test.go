package service_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"callfilter/audit"
	"callfilter/filter"
	"callfilter/service"
	"callfilter/store/embedded"
)

// BenchmarkCheckAudited is BenchmarkCheck with the audit trail on: the
// difference is what auditing costs the check path (building the entry and
// its replay facts, one Enqueue; the writing is on the writer's goroutine).
func BenchmarkCheckAudited(b *testing.B) {
	e := newEnv(b, true)
	w, err := audit.NewWriter(embedded.MustOpenTemp(b), audit.Options{Retention: -1, QueueSize: 1 << 20, EnqueueWait: time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close(time.Minute)
	e.svc.SetOfficer(service.OfficerOptions{Auditor: w})
	ctx := service.WithActor(context.Background(), "dialer-1")
	in := service.CheckInput{Number: "+12125550134", Channel: "call", Purpose: "insurance", Seller: "acme", At: at}
	b.ReportAllocs()
	for b.Loop() {
		res, err := e.svc.Check(ctx, in)
		if err != nil || res.Decision.Has(filter.ReasonUnavailable) {
			b.Fatal(err, res.Decision.Reasons)
		}
	}
}
