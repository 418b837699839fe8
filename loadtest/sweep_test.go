package loadtest

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestSweepFindsTheServersLimit: a server that can only take ~one request at
// a time for 2 ms (≈ 500 req/s) must stop the sweep near that rate.
func TestSweepFindsTheServersLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{}, 1)
	srv := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
		gate <- struct{}{}
		time.Sleep(2 * time.Millisecond)
		<-gate
		TrivialHandler(c)
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })

	base := DefaultConfig()
	base.Targets = []string{"http://" + ln.Addr().String()}
	sc := DefaultSweep(base)
	sc.StartRate, sc.Factor, sc.StepDuration = 100, 2, 400*time.Millisecond
	sc.P99Limit = 50 * time.Millisecond
	sc.HoldShare, sc.HoldDuration = 0.5, 300*time.Millisecond
	rep, err := Sweep(context.Background(), sc, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) == 0 || rep.Steps[len(rep.Steps)-1].Pass {
		t.Fatalf("sweep did not end on a failing step: %+v", rep.Steps)
	}
	// 800 cannot pass (≈ 500/s ceiling); 100, 200 and 400 can, but on a
	// loaded machine an early step may miss its p99 or its rate too (even
	// the first, which ends the sweep with no peak), so only the ceiling is
	// asserted (speed is never asserted in unit tests).
	for i, s := range rep.Steps[:len(rep.Steps)-1] {
		if !s.Pass {
			t.Fatalf("step %d (%.0f req/s) failed but the sweep went on: %+v", i, s.Rate, rep.Steps)
		}
	}
	if rep.Peak > 520 {
		t.Fatalf("peak %.0f req/s, want at most 520 for a ~500 req/s server", rep.Peak)
	}
	if len(rep.Steps) == 1 {
		// The first step failed (a loaded machine): no peak, no hold.
		t.Logf("the first step failed: %s", rep.Steps[0].Why)
		if rep.Peak != 0 || rep.Hold != nil {
			t.Fatalf("no step passed, yet peak %.0f and hold %+v", rep.Peak, rep.Hold)
		}
		return
	}
	if want := rep.Steps[len(rep.Steps)-2].Report.Throughput.RequestsPerSec; rep.Peak != want {
		t.Fatalf("peak %.0f req/s, want the last passing step's throughput %.0f", rep.Peak, want)
	}
	if rep.Hold == nil || rep.Hold.Config.Rate != rep.Peak*0.5 {
		t.Fatalf("hold: got %+v, want a run at half the peak", rep.Hold)
	}
}
