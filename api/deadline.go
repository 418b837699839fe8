package api

import (
	"context"
	"sync/atomic"
	"time"
)

// requestDeadlines gives requests their deadline (fasthttp never cancels a
// request). context.WithTimeout per request costs a timer and four
// allocations, a fifth of a check's server-side allocations; instead, the
// requests that start within the same millisecond share one context, whose
// deadline is the timeout after the end of that millisecond: each request
// gets between the timeout and the timeout plus 1 ms, never less.
type requestDeadlines struct {
	timeout time.Duration
	cur     atomic.Pointer[sharedDeadline]
}

type sharedDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc // never called: the context ends at its deadline
	slot   int64              // the millisecond (Unix) its requests started in
}

// deadlineSlot is how long a shared deadline context takes new requests.
const deadlineSlot = time.Millisecond

func noCancel() {}

// with returns the context of a request that starts now with parent: the
// shared context of now's millisecond when parent is the background (the
// server's requests), else one of its own; cancel releases it.
func (d *requestDeadlines) with(parent context.Context, now time.Time) (context.Context, context.CancelFunc) {
	if parent != context.Background() {
		return context.WithTimeout(parent, d.timeout)
	}
	slot := now.UnixNano() / int64(deadlineSlot)
	if cur := d.cur.Load(); cur != nil && cur.slot == slot {
		return cur.ctx, noCancel
	}
	end := now.Add(deadlineSlot - time.Duration(now.UnixNano()%int64(deadlineSlot)))
	ctx, cancel := context.WithDeadline(context.Background(), end.Add(d.timeout))
	next := &sharedDeadline{ctx: ctx, cancel: cancel, slot: slot}
	for {
		cur := d.cur.Load()
		if cur != nil && cur.slot >= slot {
			return ctx, cancel // another request set this slot's (or a later one's): ours is this request's alone
		}
		if d.cur.CompareAndSwap(cur, next) {
			return ctx, noCancel
		}
	}
}
