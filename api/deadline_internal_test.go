package api

import (
	"context"
	"testing"
	"time"
)

func TestRequestDeadlines(t *testing.T) {
	// The rows below are computed from base, but the contexts' deadlines
	// pass on the real clock: a timeout far longer than any stall of a
	// loaded machine, so that "cancel ended a shared context" cannot be the
	// deadline passing while the test was descheduled (50 ms did).
	const timeout = time.Minute
	d := requestDeadlines{timeout: timeout}
	base := time.Now().Truncate(time.Millisecond)

	tests := []struct {
		name      string
		at        time.Duration // after base
		sameAsPre bool          // shares the previous row's context
	}{
		{"first of a millisecond", 100 * time.Microsecond, false},
		{"same millisecond", 900 * time.Microsecond, true},
		{"next millisecond", 1000 * time.Microsecond, false},
		{"later in it", 1999 * time.Microsecond, true},
	}
	var prev context.Context
	for _, tt := range tests {
		now := base.Add(tt.at)
		ctx, cancel := d.with(context.Background(), now)
		dl, ok := ctx.Deadline()
		if !ok {
			t.Fatalf("%s: no deadline", tt.name)
		}
		if got := dl.Sub(now); got < timeout || got > timeout+deadlineSlot {
			t.Errorf("%s: deadline %v after the start, want between %v and %v", tt.name, got, timeout, timeout+deadlineSlot)
		}
		if shared := ctx == prev; shared != tt.sameAsPre {
			t.Errorf("%s: shares the previous context = %v, want %v", tt.name, shared, tt.sameAsPre)
		}
		cancel() // a shared context's cancel must not end it for the others
		if ctx.Err() != nil {
			t.Errorf("%s: cancel ended a shared context", tt.name)
		}
		prev = ctx
	}

	// It ends by itself at its deadline.
	d = requestDeadlines{timeout: 50 * time.Millisecond}
	ctx, _ := d.with(context.Background(), time.Now())
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the shared context did not end at its deadline")
	}
	if ctx.Err() != context.DeadlineExceeded {
		t.Errorf("Err = %v, want DeadlineExceeded", ctx.Err())
	}

	// A parent of the caller's own is kept: its values and its cancellation.
	type key struct{}
	parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	ctx, cancel := d.with(parent, time.Now())
	defer cancel()
	if ctx.Value(key{}) != "v" {
		t.Error("the parent's value is lost")
	}
	cancelParent()
	if ctx.Err() == nil {
		t.Error("cancelling the parent did not end the request's context")
	}
}
