// Package feed keeps one instance's do-not-contact bloom filters in step with
// the changes every other instance makes to lists in a shared Redis store, so
// that a number listed anywhere is denied here within a measured bound (see
// the propagation test) without confirming every list in the store on every
// check.
//
// Each list changed through the Redis store is also appended, atomically, to
// the list's change stream (store/redis, feed.go). A Feed runs one goroutine
// per list (a tail) that reads the stream with a short XREAD BLOCK and applies
// each addition to the filters in memory (dnc's ApplyAdded). Entries carry a
// gap-free sequence number and an epoch: a tail that sees a gap (the stream
// was trimmed past it) or another epoch (Redis lost the list and it was
// created again) rebuilds the list's filter from the store — reading the
// stream's head first, then scanning, then tailing from the head — rather
// than serve a filter that may lack keys. A replace of a list's contents
// (ReplaceList: a full import) writes an entry that skips a sequence number
// and carries a new epoch, so every tail rebuilds that list the same way.
//
// A new instance starts each list from its filter image in Redis (written by
// one instance at a time, checked before use) plus the stream after the
// image's position, rather than scanning the list; see image.go.
//
// # Trust
//
// Synced says whether the filters can be trusted to say "no": every tail is
// in step and has completed a read recently enough (within its block plus a
// grace) that a connection that silently hangs is noticed. While it says
// false — at start, while a tail cannot read its stream, while it rebuilds —
// the service confirms every list in the store (service.Options.Synced), as
// ExactLists does, so a check never trusts a filter that may be stale; and if
// the store cannot be read either, the check denies with unavailable.
//
// Health (for /readyz) is an error while the store does not answer a ping or
// a tail has been out of step for more than two seconds (a shorter lag only
// makes checks exact, so readiness does not flap). The Feed warns in its log when Redis runs
// without AOF persistence.
package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"callfilter/dnc"
	cfredis "callfilter/store/redis"
)

// Defaults for Options.
const (
	DefaultBlock          = 200 * time.Millisecond
	DefaultGrace          = 300 * time.Millisecond
	DefaultHealthInterval = 500 * time.Millisecond
	DefaultBatch          = 1000
)

// Options tune a Feed. Zero values mean the defaults.
type Options struct {
	// Block is how long one read of a stream waits for a change (XREAD
	// BLOCK). Changes are applied as soon as they arrive whatever Block is;
	// it bounds how long a silently hung connection goes unnoticed (Block +
	// Grace). Default 200ms.
	Block time.Duration
	// Grace is how long past the end of a read's Block a tail stays trusted
	// while its next read is in flight. Default 300ms.
	Grace time.Duration
	// HealthInterval is how often the store is pinged for Health. Default
	// 500ms.
	HealthInterval time.Duration
	// Batch is the most entries one read returns. Default 1000.
	Batch int64
	// Logger receives gaps, rebuilds, read errors and persistence warnings;
	// nil discards them.
	Logger *slog.Logger
	// Images configures the filter images kept in Redis (image.go).
	Images ImageOptions
}

func (o Options) withDefaults() Options {
	if o.Block <= 0 {
		o.Block = DefaultBlock
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = DefaultHealthInterval
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Images = o.Images.withDefaults()
	return o
}

// Feed brings the changes in a Redis store's list streams into dnc.Lists.
// Create it with New, start tails with Load, stop it with Close. Methods are
// safe for concurrent use.
type Feed struct {
	st    *cfredis.Store
	lists *dnc.Lists
	opts  Options
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	tails  atomic.Pointer[[]*tail] // copy-on-write under mu; read by Synced
	byName map[string]*tail

	health atomic.Pointer[error] // the last ping's error; nil pointer before the first
	closed atomic.Bool
	// epoch is the origin of clock, clockOffset before New.
	epoch time.Time

	kick                          chan struct{} // wakes the image writer (after Load)
	imagesLoaded, imagesRefused   atomic.Int64
	imagesWritten, imageWriteErrs atomic.Int64
}

// tail follows one list's stream.
type tail struct {
	name string
	// okUntil is the instant (Feed.clock) until which the list's filter is known
	// to be in step; 0 while it is not (reading failed, a gap, a rebuild).
	okUntil atomic.Int64
	// applied counts the changes applied; rebuilds the rebuilds done.
	applied, rebuilds atomic.Int64
	// pos is the position up to which every change is in the list's filter;
	// nil while unknown (before the first load, during a rebuild).
	pos atomic.Pointer[cfredis.FeedPos]
}

// New returns a Feed of st's changes into lists and starts its health probe.
// Tails start with Load.
func New(st *cfredis.Store, lists *dnc.Lists, opts Options) *Feed {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	f := &Feed{st: st, lists: lists, opts: opts, log: opts.Logger, ctx: ctx, cancel: cancel, byName: map[string]*tail{},
		kick: make(chan struct{}, 1), epoch: time.Now().Add(-clockOffset)}
	f.tails.Store(&[]*tail{})
	f.wg.Add(1)
	go f.probe(ctx)
	if opts.Images.Every > 0 {
		f.wg.Add(1)
		go f.writeImages(ctx)
	}
	return f
}

// clock is t in nanoseconds since f.epoch, read from the monotonic clocks of
// both: a tail's trust window must not stretch when the wall clock is set
// back (NTP, a VM's migration), which would let a stale filter's "no" stand
// past it. Untrusted (okUntil 0) is clockOffset in the past.
func (f *Feed) clock(t time.Time) int64 { return int64(t.Sub(f.epoch)) }

// clockOffset puts the epoch of Feed.clock that far before New, so that 0
// reads as long ago (Health's grace counts from it).
const clockOffset = 24 * time.Hour

// Close stops every tail and the probe and waits for them. Synced is false
// afterwards.
func (f *Feed) Close() {
	f.closed.Store(true)
	f.cancel()
	f.wg.Wait()
}

// Load loads the named lists (and every list the store has) into the filters,
// as dnc.Lists.Load does, and tails each of them from the position its stream
// had before the load began, so that nothing changed during or after the load
// is missed. A list not tailed yet that has a valid filter image in Redis is
// loaded from it instead and tailed from the image's position (image.go); an
// image that fails any check is refused and the list scanned. Lists already tailed are reloaded but keep their tail. When the
// store cannot be read, the named lists are tailed anyway, unsynced: each
// tail rebuilds its list as soon as the store answers, so the instance
// becomes ready by itself. It returns the load's error.
func (f *Feed) Load(ctx context.Context, names []string) error {
	all := slices.Clone(names)
	infos, lerr := f.st.Lists(ctx)
	for _, in := range infos {
		all = append(all, in.Name)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	all = slices.DeleteFunc(all, func(n string) bool { return n == "" })

	heads := map[string]cfredis.FeedPos{}
	imaged := map[string]bool{}
	var herr error
	if lerr == nil && !f.opts.Images.NoLoad {
		for _, name := range all {
			if f.tailing(name) {
				continue
			}
			if pos, ok := f.fromImage(ctx, name); ok {
				heads[name], imaged[name] = pos, true
			}
		}
	}
	if lerr == nil {
		for _, name := range all {
			if f.tailing(name) || imaged[name] {
				continue
			}
			pos, err := f.st.FeedHead(ctx, name)
			if err != nil {
				herr = err
				break
			}
			heads[name] = pos
		}
	}
	if lerr != nil || herr != nil {
		// Tail unsynced: each tail rebuilds (head, then scan) when it can.
		err := errors.Join(lerr, herr)
		for _, name := range all {
			f.start(name, cfredis.FeedPos{})
		}
		_ = f.lists.Load(ctx, names) // marks the wanted lists; fails the same way
		return fmt.Errorf("feed: read the lists' feed positions: %w", err)
	}
	err := f.lists.LoadExcept(ctx, names, imaged)
	defer f.kickImages()
	for _, name := range all {
		pos := heads[name]
		if err != nil && !loaded(f.lists, name) {
			pos = cfredis.FeedPos{} // its tail rebuilds it
		}
		f.start(name, pos)
	}
	return err
}

func loaded(l *dnc.Lists, name string) bool {
	for _, st := range l.Status() {
		if st.Name == name {
			return st.Loaded
		}
	}
	return false
}

func (f *Feed) tailing(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byName[name] != nil
}

// start starts a tail of name from pos (the zero FeedPos: rebuild first),
// unless one runs.
func (f *Feed) start(name string, pos cfredis.FeedPos) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byName[name] != nil || f.closed.Load() {
		return
	}
	t := &tail{name: name}
	f.byName[name] = t
	ts := append(slices.Clone(*f.tails.Load()), t)
	f.tails.Store(&ts)
	f.wg.Add(1)
	go f.run(f.ctx, t, pos)
}

// Synced reports whether every tailed list's filter is known to be in step
// with the store: the filters' "no" can be trusted. False before Load, after
// Close, and while any tail cannot read its stream or is rebuilding. It is
// called on every check: no lock, no allocation.
func (f *Feed) Synced() bool {
	if f.closed.Load() {
		return false
	}
	ts := *f.tails.Load()
	if len(ts) == 0 {
		return false
	}
	now := f.clock(time.Now())
	for _, t := range ts {
		if now >= t.okUntil.Load() {
			return false
		}
	}
	return true
}

// Health is nil when the store answered its last ping and no tail has been
// out of step for long (unreadyAfter); otherwise an error saying which.
func (f *Feed) Health() error {
	if p := f.health.Load(); p == nil {
		return errors.New("redis not probed yet")
	} else if *p != nil {
		return *p
	}
	// A tail a little late (a starved goroutine, a slow read) only makes
	// checks confirm lists exactly (Synced); readiness waits for longer so
	// that it does not flap.
	ts := *f.tails.Load()
	if len(ts) == 0 || f.closed.Load() {
		return errors.New("change feed not started")
	}
	now := f.clock(time.Now())
	for _, t := range ts {
		if now >= t.okUntil.Load()+int64(unreadyAfter) {
			return fmt.Errorf("change feed of list %q not in step: bloom filters are not trusted", t.name)
		}
	}
	return nil
}

// unreadyAfter is how long past its trust a tail may be before Health fails.
const unreadyAfter = 2 * time.Second

// TailStatus describes one list's tail.
type TailStatus struct {
	List     string
	Synced   bool
	Applied  int64 // changes applied from the stream
	Rebuilds int64 // rebuilds after a gap, an epoch change or a failed load
}

// Status describes every tail, in the order they started.
func (f *Feed) Status() []TailStatus {
	now := f.clock(time.Now())
	var out []TailStatus
	for _, t := range *f.tails.Load() {
		out = append(out, TailStatus{List: t.name, Synced: now < t.okUntil.Load(), Applied: t.applied.Load(), Rebuilds: t.rebuilds.Load()})
	}
	return out
}

// run is one list's tail, owned by the Feed: it reads the stream from pos
// until ctx (cancelled by Close) ends. A zero pos (ID "") means rebuild first.
func (f *Feed) run(ctx context.Context, t *tail, pos cfredis.FeedPos) {
	defer f.wg.Done()
	defer t.okUntil.Store(0)
	backoff := time.Duration(0)
	failing := false
	for ctx.Err() == nil {
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		if pos.ID == "" {
			t.okUntil.Store(0)
			p, err := f.resync(ctx, t)
			if err != nil {
				if !failing && ctx.Err() == nil {
					f.log.Error("change feed: list not rebuilt; checks confirm every list in the store meanwhile", "list", t.name, "err", err)
				}
				failing, backoff = true, nextBackoff(backoff)
				continue
			}
			pos = p
			t.pos.Store(&p)
		}
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, f.opts.Block+f.opts.Grace)
		changes, err := f.st.ReadFeed(rctx, t.name, pos.ID, f.opts.Block, f.opts.Batch)
		cancel()
		if err != nil {
			t.okUntil.Store(0)
			if !failing && ctx.Err() == nil {
				f.log.Warn("change feed: cannot read; checks confirm every list in the store until it can", "list", t.name, "err", err)
			}
			failing, backoff = true, nextBackoff(backoff)
			continue
		}
		if failing {
			f.log.Info("change feed: reading again", "list", t.name)
		}
		failing, backoff = false, 0
		for _, c := range changes {
			if c.Pos.Seq != pos.Seq+1 || (pos.Epoch != "" && c.Pos.Epoch != pos.Epoch) {
				t.okUntil.Store(0)
				t.pos.Store(nil)
				f.log.Warn("change feed: changes were missed (stream trimmed past this instance, or Redis lost data); rebuilding the list",
					"list", t.name, "have_seq", pos.Seq, "got_seq", c.Pos.Seq, "have_epoch", pos.Epoch, "got_epoch", c.Pos.Epoch)
				pos = cfredis.FeedPos{}
				break
			}
			if c.Removed {
				f.lists.ApplyRemoved(t.name, c.Count)
			} else {
				f.lists.ApplyAdded(t.name, c.Keys)
			}
			t.applied.Add(1)
			pos = c.Pos
		}
		if pos.ID != "" {
			p := pos
			t.pos.Store(&p)
			// Everything committed before this read began has been applied,
			// unless the read was cut at Batch entries: then more may wait,
			// and the trust of the last read that was not cut stands.
			if int64(len(changes)) < f.opts.Batch {
				t.okUntil.Store(f.clock(start.Add(f.opts.Block + f.opts.Grace)))
			}
		}
	}
}

// resync reads the list's stream head, then rebuilds its filter from the
// store, and returns the head to tail from.
func (f *Feed) resync(ctx context.Context, t *tail) (cfredis.FeedPos, error) {
	pos, err := f.st.FeedHead(ctx, t.name)
	if err != nil {
		return cfredis.FeedPos{}, err
	}
	start := time.Now()
	if err := f.lists.Rebuild(ctx, t.name); err != nil {
		return cfredis.FeedPos{}, err
	}
	t.rebuilds.Add(1)
	f.log.Info("change feed: list rebuilt from the store", "list", t.name, "took", time.Since(start).String())
	return pos, nil
}

func nextBackoff(d time.Duration) time.Duration {
	switch {
	case d <= 0:
		return 50 * time.Millisecond
	case d >= time.Second:
		return time.Second
	default:
		return 2 * d
	}
}

// persistenceEvery is how often the probe reads Redis's persistence settings.
const persistenceEvery = time.Minute

// probe pings the store every HealthInterval for Health, and warns when Redis
// runs without AOF. Owned by the Feed.
func (f *Feed) probe(ctx context.Context) {
	defer f.wg.Done()
	tick := time.NewTicker(f.opts.HealthInterval)
	defer tick.Stop()
	var lastPersist time.Time
	warned, down := "", false
	for {
		pctx, cancel := context.WithTimeout(ctx, f.opts.HealthInterval)
		err := f.st.Healthy(pctx)
		cancel()
		f.health.Store(&err)
		switch {
		case err != nil && !down && ctx.Err() == nil:
			f.log.Error("redis unreachable: not ready; checks deny with unavailable", "err", err)
			down = true
		case err == nil && down:
			f.log.Info("redis reachable again")
			down = false
		}
		if err == nil && time.Since(lastPersist) >= persistenceEvery {
			lastPersist = time.Now()
			aof, fsync, rdb, perr := f.st.Persistence(ctx)
			msg := ""
			switch {
			case perr != nil:
				msg = "cannot read redis persistence settings (CONFIG GET): make sure appendonly is yes"
			case aof != "yes":
				msg = "redis runs without AOF (appendonly no): acknowledged opt-outs can be lost on a Redis crash; set appendonly yes and appendfsync always or everysec"
			case fsync == "no":
				msg = "redis appendfsync is no: the OS decides when writes reach disk; set appendfsync everysec or always"
			}
			if msg != warned {
				if msg != "" {
					f.log.Warn(msg, "appendonly", aof, "appendfsync", fsync, "rdb_snapshots", rdb, "err", perr)
				}
				warned = msg
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
