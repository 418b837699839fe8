package audit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"callfilter/filter"
)

// Options configure a Writer. Zero fields take the defaults given.
type Options struct {
	// QueueSize bounds the entries waiting to be written (default 65536).
	// When it is full, Enqueue fails and checks deny with unavailable.
	QueueSize int
	// BatchSize bounds the entries of one append (default 1000).
	BatchSize int
	// FlushInterval is the longest an entry waits for others to share its
	// append (default 5ms).
	FlushInterval time.Duration
	// EnqueueWait is how long Enqueue waits for room in a full queue before
	// failing (default 2ms): a burst is absorbed, a stuck store is not.
	EnqueueWait time.Duration
	// Retention is how long entries are kept (default 5 years); the store
	// deletes older ones from the start of the chain. Negative keeps them for
	// ever.
	Retention time.Duration
	// ExpireEvery is how often expiry runs (default 1h).
	ExpireEvery time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives append failures (default slog.Default()).
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultQueueSize     = 65536
	DefaultBatchSize     = 1000
	DefaultFlushInterval = 5 * time.Millisecond
	DefaultEnqueueWait   = 2 * time.Millisecond
	DefaultRetention     = 5 * 365 * 24 * time.Hour
	DefaultExpireEvery   = time.Hour
)

// Validate fills the defaults and reports what must be fixed.
func (o *Options) Validate() error {
	switch {
	case o.QueueSize < 0, o.BatchSize < 0, o.FlushInterval < 0, o.EnqueueWait < 0, o.ExpireEvery < 0:
		return filter.Errorf(filter.EInvalid, "", "audit options must not be negative: use 0 for the defaults")
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.EnqueueWait == 0 {
		o.EnqueueWait = DefaultEnqueueWait
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.ExpireEvery == 0 {
		o.ExpireEvery = DefaultExpireEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// ErrFull is the cause of an Enqueue that found no room.
var ErrFull = errors.New("audit queue is full")

// ErrClosed is the cause of an Enqueue or Commit after Close.
var ErrClosed = errors.New("audit writer is closed")

// pending is one Commit waiting for its entries to be durable.
type pending struct {
	upto uint64 // the entries enqueued up to this count
	done chan error
}

// Writer appends entries to a store in order, in batches, from one goroutine
// it owns. Safe for concurrent use.
type Writer struct {
	st   filter.AuditStore
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	queue    []filter.AuditEntry
	enqueued uint64 // entries ever enqueued
	written  uint64 // entries ever written
	waiters  []pending
	closed   bool
	room     chan struct{} // closed and replaced when the queue drains

	wake    chan struct{}
	stop    chan struct{}
	abort   chan struct{} // closed when Close gives up waiting
	stopped chan struct{}

	appended atomic.Uint64
	refused  atomic.Uint64
	failures atomic.Uint64
}

// NewWriter returns a Writer over st and starts its goroutine; Close stops it.
func NewWriter(st filter.AuditStore, opts Options) (*Writer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	w := &Writer{
		st: st, opts: opts, log: opts.Logger,
		room: make(chan struct{}),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), abort: make(chan struct{}), stopped: make(chan struct{}),
	}
	go w.run()
	return w, nil
}

// Stats are the writer's counters.
type Stats struct {
	Appended uint64 // entries written
	Refused  uint64 // entries refused because the queue was full
	Failures uint64 // failed appends (retried)
	Queued   int    // entries waiting now
}

// Stats returns the counters.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	q := len(w.queue)
	w.mu.Unlock()
	return Stats{Appended: w.appended.Load(), Refused: w.refused.Load(), Failures: w.failures.Load(), Queued: q}
}

// Enqueue queues entries to be chained and written, all or none. When the
// queue has no room for them within Options.EnqueueWait it returns an
// EUnavailable error (cause ErrFull): the caller must fail closed.
func (w *Writer) Enqueue(entries ...filter.AuditEntry) error {
	_, err := w.enqueue(entries, w.opts.EnqueueWait)
	return err
}

func (w *Writer) enqueue(entries []filter.AuditEntry, wait time.Duration) (uint64, error) {
	var timer *time.Timer
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return 0, filter.Wrap(filter.EUnavailable, ErrClosed, "audit trail unavailable")
		}
		if len(w.queue)+len(entries) <= w.opts.QueueSize {
			w.queue = append(w.queue, entries...)
			w.enqueued += uint64(len(entries))
			upto := w.enqueued
			w.mu.Unlock()
			select {
			case w.wake <- struct{}{}:
			default:
			}
			return upto, nil
		}
		room := w.room
		w.mu.Unlock()
		if wait <= 0 {
			break
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		timedOut := false
		select {
		case <-room:
		case <-timer.C:
			timedOut = true
		}
		if timedOut {
			break
		}
	}
	w.refused.Add(uint64(len(entries)))
	return 0, filter.Wrap(filter.EUnavailable, ErrFull, "audit trail unavailable: the queue is full")
}

// Commit queues entries and waits until they are durably appended, or ctx is
// done. It waits for room in a full queue (until ctx is done).
func (w *Writer) Commit(ctx context.Context, entries ...filter.AuditEntry) error {
	wait := time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	upto, err := w.enqueue(entries, wait)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	w.mu.Lock()
	if w.written >= upto {
		w.mu.Unlock()
		return nil
	}
	w.waiters = append(w.waiters, pending{upto: upto, done: done})
	w.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return filter.Wrap(filter.EUnavailable, ctx.Err(), "audit trail: the change is queued but not yet written")
	}
}

// Close writes what is queued (trying for at most timeout) and stops the
// goroutine. Entries still unwritten after timeout are logged as lost.
func (w *Writer) Close(timeout time.Duration) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.stopped
		return
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	select {
	case <-w.stopped:
	case <-time.After(timeout):
		close(w.abort)
		<-w.stopped
	}
}

func (w *Writer) run() {
	defer close(w.stopped)
	defer func() {
		w.mu.Lock()
		for _, p := range w.waiters {
			p.done <- filter.Wrap(filter.EUnavailable, ErrClosed, "audit trail: the writer stopped")
		}
		w.waiters = nil
		w.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var head filter.AuditHead
	haveHead := false
	backoff := 10 * time.Millisecond
	expire := time.NewTicker(w.opts.ExpireEvery)
	defer expire.Stop()
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	w.expire(ctx)
	for {
		w.mu.Lock()
		n := len(w.queue)
		closed := w.closed
		w.mu.Unlock()
		if n == 0 {
			if closed {
				return
			}
			select {
			case <-w.wake:
			case <-w.stop:
			case <-expire.C:
				w.expire(ctx)
			}
			continue
		}
		if n < w.opts.BatchSize && !closed {
			// Let others join the batch, briefly.
			flush.Reset(w.opts.FlushInterval)
			select {
			case <-flush.C:
			case <-w.stop:
				flush.Stop()
			}
		}
		w.mu.Lock()
		n = min(len(w.queue), w.opts.BatchSize)
		batch := make([]filter.AuditEntry, n)
		copy(batch, w.queue[:n])
		w.mu.Unlock()
		if err := w.append(ctx, &head, &haveHead, batch); err != nil {
			w.failures.Add(1)
			w.log.Error("audit append failed; retrying (checks deny with unavailable once the queue is full)", "err", err, "entries", n)
			select {
			case <-time.After(backoff):
			case <-w.stop:
				// Keep trying while closing, until Close gives up.
				select {
				case <-time.After(backoff):
				case <-w.abort:
					w.log.Error("audit writer stopped with entries unwritten", "entries", w.Stats().Queued)
					return
				}
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		w.mu.Lock()
		w.queue = w.queue[n:]
		if len(w.queue) == 0 {
			w.queue = w.queue[:0:0]
		}
		w.written += uint64(n)
		kept := w.waiters[:0]
		for _, p := range w.waiters {
			if p.upto <= w.written {
				p.done <- nil
			} else {
				kept = append(kept, p)
			}
		}
		w.waiters = kept
		close(w.room)
		w.room = make(chan struct{})
		w.mu.Unlock()
		w.appended.Add(uint64(n))
	}
}

// append chains batch on the store's head and appends it, re-reading the head
// and re-chaining when another writer (instance) appended first.
func (w *Writer) append(ctx context.Context, head *filter.AuditHead, have *bool, batch []filter.AuditEntry) error {
	for attempt := 0; attempt < 100; attempt++ {
		if !*have {
			h, err := w.st.AuditHead(ctx)
			if err != nil {
				return err
			}
			*head, *have = h, true
		}
		next, err := Chain(*head, batch)
		if err != nil {
			return err
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = w.st.AppendAudit(actx, *head, batch)
		cancel()
		switch {
		case err == nil:
			*head = next
			return nil
		case filter.ErrorKind(err) == filter.EConflict:
			*have = false
			continue
		default:
			*have = false
			return err
		}
	}
	return filter.Errorf(filter.EUnavailable, "", "audit: the chain's head kept moving")
}

func (w *Writer) expire(ctx context.Context) {
	if w.opts.Retention < 0 {
		return
	}
	before := w.opts.Now().Add(-w.opts.Retention)
	for {
		n, err := w.st.ExpireAudit(ctx, before, 1000)
		if err != nil {
			w.log.Warn("audit expiry failed; retried later", "err", err)
			return
		}
		if n < 1000 {
			return
		}
	}
}
