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
	// BatchSize bounds the entries of one append (default 16384). A batch
	// takes whatever is queued up to this bound, so it grows with the queue's
	// depth: one store transaction (one fsync, one Redis call) carries every
	// entry that arrived during the previous one.
	BatchSize int
	// FlushInterval is the longest an entry that finds the writer idle waits
	// for others to share its append (default 5ms). Under load the writer
	// does not wait: the previous append's duration is the batching window.
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
	DefaultBatchSize     = 16384
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
	queue    []filter.AuditRecord // encoded, unsealed; the bytes live in arena chunks
	arena    arena
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

// batchLimiter is a store that bounds the records of one AppendAudit (Redis:
// a script's run blocks every other client).
type batchLimiter interface{ AuditBatchLimit() int }

// NewWriter returns a Writer over st and starts its goroutine; Close stops it.
func NewWriter(st filter.AuditStore, opts Options) (*Writer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if l, ok := st.(batchLimiter); ok && l.AuditBatchLimit() > 0 {
		opts.BatchSize = min(opts.BatchSize, l.AuditBatchLimit())
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
// EUnavailable error (cause ErrFull): the caller must fail closed. The
// entries are encoded before Enqueue returns: the caller may reuse them and
// everything they refer to.
func (w *Writer) Enqueue(entries ...filter.AuditEntry) error {
	_, err := w.enqueue(entries, w.opts.EnqueueWait)
	return err
}

// scratch holds the encoding of one Enqueue: encoding happens outside the
// lock, on the caller's goroutine, and only the copy into the arena inside.
type scratch struct {
	buf  []byte
	ends []int
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 1024)} }}

func (w *Writer) enqueue(entries []filter.AuditEntry, wait time.Duration) (uint64, error) {
	sc := scratchPool.Get().(*scratch)
	defer func() {
		if cap(sc.buf) <= 64<<10 { // a rare huge entry is not kept for ever
			scratchPool.Put(sc)
		}
	}()
	sc.buf, sc.ends = sc.buf[:0], sc.ends[:0]
	for i := range entries {
		sc.buf = filter.AppendAuditRecord(sc.buf, &entries[i])
		sc.ends = append(sc.ends, len(sc.buf))
	}
	var timer *time.Timer
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return 0, filter.Wrap(filter.EUnavailable, ErrClosed, "audit trail unavailable")
		}
		if len(w.queue)+len(entries) <= w.opts.QueueSize {
			start := 0
			for _, end := range sc.ends {
				w.enqueued++
				w.queue = append(w.queue, w.arena.copy(sc.buf[start:end], w.enqueued))
				start = end
			}
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

// arenaChunk is the size of the buffers queued records are copied into: one
// allocation per few thousand entries instead of one per entry.
const arenaChunk = 1 << 20

// arena keeps the queued records' bytes in large chunks, recycled once every
// record in them is written. Guarded by Writer.mu.
type arena struct {
	cur  []byte
	full []chunk // chunks in use, oldest first, cur not among them
	free [][]byte
}

type chunk struct {
	buf  []byte
	last uint64 // the enqueue count of its last record
}

// copy returns a copy of rec in the arena; n is its enqueue count.
func (a *arena) copy(rec []byte, n uint64) filter.AuditRecord {
	if len(rec) > arenaChunk/8 {
		return filter.AuditRecord(append([]byte(nil), rec...))
	}
	if len(a.cur)+len(rec) > cap(a.cur) {
		if a.cur != nil {
			a.full = append(a.full, chunk{buf: a.cur, last: n - 1})
		}
		if k := len(a.free); k > 0 {
			a.cur, a.free = a.free[k-1][:0], a.free[:k-1]
		} else {
			a.cur = make([]byte, 0, arenaChunk)
		}
	}
	start := len(a.cur)
	a.cur = append(a.cur, rec...)
	return filter.AuditRecord(a.cur[start:len(a.cur):len(a.cur)])
}

// release recycles the chunks whose records are all written (written is the
// count of entries ever written).
func (a *arena) release(written uint64) {
	i := 0
	for ; i < len(a.full) && a.full[i].last <= written; i++ {
		if len(a.free) < 4 {
			a.free = append(a.free, a.full[i].buf)
		}
	}
	a.full = append(a.full[:0], a.full[i:]...)
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
	idle := true // the queue was empty after the last append
	for {
		w.mu.Lock()
		n := len(w.queue)
		closed := w.closed
		w.mu.Unlock()
		if n == 0 {
			if closed {
				return
			}
			idle = true
			select {
			case <-w.wake:
			case <-w.stop:
			case <-expire.C:
				w.expire(ctx)
			}
			continue
		}
		if idle && n < w.opts.BatchSize && !closed {
			// The first entry after a quiet spell: let others join its
			// batch, briefly. Under load the append in progress is the
			// window, and waiting would only add latency.
			flush.Reset(w.opts.FlushInterval)
			select {
			case <-flush.C:
			case <-w.stop:
				flush.Stop()
			}
		}
		w.mu.Lock()
		n = min(len(w.queue), w.opts.BatchSize)
		// The writer alone reads and seals the first n records; Enqueue only
		// appends after them, so they are used outside the lock.
		batch := w.queue[:n:n]
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
		clear(w.queue[:n]) // the arena recycles the bytes: drop the references
		w.queue = w.queue[n:]
		idle = len(w.queue) == 0
		if idle {
			w.queue = w.queue[:0:0]
		}
		w.written += uint64(n)
		w.arena.release(w.written)
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

// append seals batch on the store's head and appends it, re-reading the
// head and re-sealing when another writer (instance) appended first.
func (w *Writer) append(ctx context.Context, head *filter.AuditHead, have *bool, batch []filter.AuditRecord) error {
	for attempt := 0; attempt < 100; attempt++ {
		if !*have {
			h, err := w.st.AuditHead(ctx)
			if err != nil {
				return err
			}
			*head, *have = h, true
		}
		next := Seal(*head, batch)
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := w.st.AppendAudit(actx, *head, batch)
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
