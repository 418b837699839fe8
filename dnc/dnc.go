// Package dnc keeps callfilter's do-not-contact lists for the check's hot path:
// each named list has an in-memory bloom filter in front of the exact
// membership kept in a store. A check asks the filters first (Screen): a
// "definitely not" needs no I/O, a "maybe" is confirmed exactly in the store by
// the caller, and a list that is not loaded is unknown, so the check fails
// closed (DESIGN.md, invariants 1 and 2).
//
// A bloom filter never says "no" for a key it holds, and this package adds a
// key to the instance's memory before it writes the store, so once Add returns
// the key is screened "maybe" on this instance: no false allow.
//
// # Concurrency
//
// bloom.BloomFilter is not safe for Add concurrent with Test (bloom #91), so a
// published filter is never mutated. Each list holds an atomic pointer to an
// immutable snapshot: the filter, plus a short chain of lock-free insert-only
// key sets (keySet) holding the keys added since that filter was built. Screen
// loads the pointer and tests the filter, then the sets; it takes no lock and
// allocates nothing (but a plan the first time it sees a list of names).
// Writers (Add, and the builders below) serialize on a per-list mutex that
// Screen never touches.
//
// When the newest set fills up, Add seals it and starts a larger one, and the
// background worker folds the sealed sets into a copy of the filter and swaps
// the copy in. Folding only ever adds keys, so it needs no coordination with
// Add beyond the swap. Rebuilding from the store (Load, growing a filter that
// exceeded its capacity, dropping removed keys) replaces the filter with one
// built by scanning the store, so it must not lose a key whose Add is still
// writing: Add holds the list's gate (read side) from its memory insert to the
// end of its store write, and a rebuild takes the gate (write side) only to
// seal the sets. Every Add that finished before the seal is in the store the
// scan reads; every Add after it lands in a set the new snapshot keeps. The
// seal waits for the Adds in flight (bounded by their contexts); Screen never
// waits for anything.
//
// Screen hashes each key once for all its lists and tests each filter's bits
// itself (hash.go says why, and how the copy of bloom's hash is kept honest).
// What Screen does skip is the registry look-up of each name: see resolve.
//
// # Other instances
//
// A key added through another instance reaches this one's filters through
// the change feed (package feed, over the Redis store's per-list streams),
// which calls ApplyAdded and ApplyRemoved (feed.go). While the feed is not in
// step, the service does not trust a filter's "no" and confirms every list in
// the store, so a stale filter never turns into an allow.
package dnc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bits-and-blooms/bloom/v3"

	"callfilter/filter"
)

// Store is what dnc needs of a store: the list half of filter.ListStore, whose
// documentation it follows. Methods are safe for concurrent use and return
// *filter.Error values (EUnavailable when the store cannot be reached).
type Store interface {
	// AddToList adds keys to the named list, creating it if needed, and
	// returns how many were not there before.
	AddToList(ctx context.Context, list string, keys []uint64) (added int, err error)
	// RemoveFromList removes keys from the named list and returns how many
	// were there.
	RemoveFromList(ctx context.Context, list string, keys []uint64) (removed int, err error)
	// ScanList calls fn with every key of the named list in ascending order,
	// stopping at fn's first error, which it returns. It sees at least every
	// write acknowledged before it was called.
	ScanList(ctx context.Context, list string, fn func(key uint64) error) error
	// Lists describes every list, sorted by name.
	Lists(ctx context.Context) ([]filter.ListInfo, error)
}

var _ Store = filter.ListStore(nil)

// Defaults for Options.
const (
	DefaultFalsePositiveRate = 1e-4
	DefaultMinCapacity       = 1 << 20
	DefaultRecentKeys        = 1 << 12
)

// Options tune the filters. The zero value of each field means its default.
type Options struct {
	// FalsePositiveRate is the target rate of "maybe" answers for keys not on
	// a list, at the filter's capacity. Each "maybe" costs a store look-up;
	// 1e-4 costs about 19 bits (2.4 bytes) per key.
	FalsePositiveRate float64
	// MinCapacity is the fewest keys a filter is sized for. A list's filter
	// holds max(MinCapacity, 2×count) keys at FalsePositiveRate and is rebuilt
	// twice as big when its count passes its capacity.
	MinCapacity uint
	// RecentKeys is how many keys added since the last build a list keeps in
	// its exact set before they are folded into a new filter in the
	// background. Larger means fewer filter copies under a steady trickle of
	// opt-outs and more memory per list.
	RecentKeys int
}

// Validate reports the first option that is out of range, saying how to fix it.
func (o Options) Validate() error {
	if o.FalsePositiveRate < 0 || o.FalsePositiveRate >= 1 || math.IsNaN(o.FalsePositiveRate) {
		return filter.Errorf(filter.EInvalid, "", "dnc false_positive_rate (%v) must be above 0 and below 1, e.g. 0.0001 (0 means the default, %v)", o.FalsePositiveRate, DefaultFalsePositiveRate)
	}
	if o.RecentKeys < 0 {
		return filter.Errorf(filter.EInvalid, "", "dnc recent_keys (%d) cannot be negative (0 means the default, %d)", o.RecentKeys, DefaultRecentKeys)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.FalsePositiveRate == 0 {
		o.FalsePositiveRate = DefaultFalsePositiveRate
	}
	if o.MinCapacity == 0 {
		o.MinCapacity = DefaultMinCapacity
	}
	if o.RecentKeys == 0 {
		o.RecentKeys = DefaultRecentKeys
	}
	return o
}

// Lists are the do-not-contact lists of one process. All methods are safe for
// concurrent use. Create it with New, fill it with Load, stop it with Close.
type Lists struct {
	st   Store
	opts Options

	// reg maps a name to its list. Copy-on-write: Screen reads it without a
	// lock; lists are created rarely (Load, Add to a new list), under regMu.
	reg   atomic.Pointer[map[string]*list]
	regMu sync.Mutex
	// plans remember, for the few name lists Screen is asked about (a
	// policy's lists), what they resolve to in reg: see resolve.
	plans [8]atomic.Pointer[plan]

	wantMu sync.Mutex
	want   []string // the names of the last Load
	loaded bool     // Load has been called

	// The background worker folds, grows and rebuilds filters. It is owned
	// by Lists: started by New, stopped by Close.
	qmu     sync.Mutex
	pending map[*list]work
	closed  bool
	wake    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once
}

// work is a background job for one list; a larger value subsumes a smaller.
type work uint8

const (
	workFold    work = iota + 1 // fold the sealed recent sets into a copy of the filter
	workRebuild                 // rebuild from the store, sized for the current count
)

// list is one named list.
type list struct {
	name string
	snap atomic.Pointer[snapshot]

	// build serializes builders (load, fold); lock order is build, gate, mu.
	build sync.Mutex
	// gate is held for reading by Add from its memory insert to the end of
	// its store write, and for writing by a rebuild while it seals: see the
	// package comment.
	gate sync.RWMutex
	// mu serializes writers of snap and of the newest key set.
	mu      sync.Mutex
	lastErr string // the last background build's error; guarded by mu

	removed atomic.Int64 // keys removed from the store since the filter's scan began

	// exact counts Replace calls under way and stale is set from a replace
	// until a build that scanned the new contents succeeds: while either is,
	// the filter may lack listed keys, and Screen answers "maybe".
	exact atomic.Int32
	stale atomic.Bool
}

// snapshot is one published state of a list. It is never modified after it
// is published, except that keys are inserted into its newest set.
type snapshot struct {
	filter    *bloom.BloomFilter // nil until the list is loaded: unknown
	sets      []*keySet          // keys added since filter was built, oldest first; never empty
	count     int64              // keys added to filter
	capacity  uint               // keys filter was sized for
	builtAt   time.Time
	buildTime time.Duration
}

// recent is the number of keys in s's sets.
func (s *snapshot) recent() int64 {
	var n int64
	for _, ks := range s.sets {
		n += ks.len()
	}
	return n
}

// New returns the lists kept in st, none loaded yet, and starts their
// background worker. It panics if opts.Validate fails: validate options where
// they are read. Call Close to stop the worker.
func New(st Store, opts Options) *Lists {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Lists{
		st:      st,
		opts:    opts.withDefaults(),
		pending: map[*list]work{},
		wake:    make(chan struct{}, 1),
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	l.reg.Store(&map[string]*list{})
	go l.run(ctx)
	return l
}

// Close stops the background worker, abandoning any rebuild in progress (the
// filter it would have replaced stays), and waits for it. The lists remain
// usable; filters are then only folded or rebuilt by Load.
func (l *Lists) Close() {
	l.once.Do(func() {
		l.qmu.Lock()
		l.closed = true
		l.qmu.Unlock()
		l.cancel()
		<-l.done
	})
}

// keyBytes is the form in which keys are hashed into filters.
func keyBytes(k uint64) [8]byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], k)
	return b
}

// Screen is the hot path. For each name it appends to facts ListUnknown when
// the list is not loaded and ListAbsent when its filter rules the key out,
// and appends to maybe the names the caller must confirm in the store. It
// appends into the callers' slices and allocates nothing when they have room
// (but the first time it sees a list of names: see resolve).
func (l *Lists) Screen(key uint64, names []string, facts []filter.ListFact, maybe []string) ([]filter.ListFact, []string) {
	for start := 0; start < len(names); start += MaxMaskLists {
		chunk := names[start:min(start+MaxMaskLists, len(names))]
		absent, unknown := l.ScreenMask(key, chunk)
		facts, maybe = AppendScreened(chunk, absent, unknown, facts, maybe)
	}
	return facts, maybe
}

// MaxMaskLists is the most names one ScreenMask call takes.
const MaxMaskLists = 64

// ScreenMask is Screen's answer as bit masks, for a caller that can often
// act on it without the facts (a scrub whose lists all rule the number out
// reuses a decision): bit j of absent is set when names[j]'s filter rules
// the key out, bit j of unknown when names[j] is not loaded; the names of
// neither must be confirmed in the store. At most MaxMaskLists names (more
// panic).
func (l *Lists) ScreenMask(key uint64, names []string) (absent, unknown uint64) {
	if len(names) > MaxMaskLists {
		panic("dnc: ScreenMask of more than MaxMaskLists names")
	}
	regp := l.reg.Load()
	lists := l.resolve(regp, names)
	h := keyHash(key)
	for start := 0; start < len(names); start += screenBatch {
		batch := names[start:min(start+screenBatch, len(names))]
		var lsts [screenBatch]*list
		var snaps [screenBatch]*snapshot
		var probing, inFilter uint32 // bit j: batch[j]'s filter is being probed, holds the key
		for j, name := range batch {
			lst := (*list)(nil)
			if lists != nil {
				lst = lists[start+j]
			} else {
				lst = (*regp)[name]
			}
			if lst == nil {
				continue
			}
			s := lst.snap.Load()
			lsts[j], snaps[j] = lst, s
			switch {
			case s.filter == nil:
			case !hashAgrees:
				if b := keyBytes(key); s.filter.Test(b[:]) {
					inFilter |= 1 << j
				}
			default:
				probing |= 1 << j
			}
		}
		// Probe the filters in step, location i of each before location
		// i+1 of any: the loads are independent, so their cache misses
		// overlap instead of queueing one filter after another.
		for i := uint64(0); probing != 0; i++ {
			for p := probing; p != 0; p &= p - 1 {
				j := bits.TrailingZeros32(p)
				f := snaps[j].filter
				if !f.BitSet().Test(uint(keyLocation(&h, i) % uint64(f.Cap()))) {
					probing &^= 1 << j
				} else if i+1 == uint64(f.K()) {
					probing &^= 1 << j
					inFilter |= 1 << j
				}
			}
		}
		for j := range batch {
			lst, s := lsts[j], snaps[j]
			switch {
			case lst == nil || s.filter == nil:
				unknown |= 1 << (start + j)
			case inFilter&(1<<j) != 0 || s.has(key) || lst.exact.Load() > 0 || lst.stale.Load():
			default:
				absent |= 1 << (start + j)
			}
		}
	}
	return absent, unknown
}

// AppendScreened appends ScreenMask's answer for names to facts and maybe as
// Screen does.
func AppendScreened(names []string, absent, unknown uint64, facts []filter.ListFact, maybe []string) ([]filter.ListFact, []string) {
	for j, name := range names {
		switch {
		case unknown&(1<<j) != 0:
			facts = append(facts, filter.ListFact{List: name, State: filter.ListUnknown})
		case absent&(1<<j) != 0:
			facts = append(facts, filter.ListFact{List: name, State: filter.ListAbsent})
		default:
			maybe = append(maybe, name)
		}
	}
	return facts, maybe
}

// screenBatch is how many lists Screen probes in step.
const screenBatch = 8

// plan is what a list of names resolves to in one registry: lists[i] is
// (*reg)[names[i]], nil for a name not registered. It is never modified.
type plan struct {
	reg   *map[string]*list
	names []string // a copy of the names asked about
	lists []*list
}

// resolve returns the lists names resolve to in reg, from the plans, adding
// a plan for names when a slot is free or holds one of an older registry; nil
// when all the slots hold other names (the caller then looks each name up).
// Screen is called with a policy's list of names, of which a rule set has a
// few: a plan spares a map look-up (hashing the name) per name and key, a
// twentieth of a scrub. Registries are never modified once stored, and
// replaced only when a list is created, so a plan is right for as long as
// its registry is the current one, and the slots fill at most once for each.
// Comparing names to a plan's is a length check and a pointer comparison for
// the same strings.
func (l *Lists) resolve(reg *map[string]*list, names []string) []*list {
	slot, old := -1, (*plan)(nil)
	for i := range l.plans {
		p := l.plans[i].Load()
		switch {
		case p == nil || p.reg != reg:
			if slot < 0 {
				slot, old = i, p
			}
		case slices.Equal(p.names, names):
			return p.lists
		}
	}
	if slot < 0 {
		return nil
	}
	p := &plan{reg: reg, names: slices.Clone(names), lists: make([]*list, len(names))}
	for i, name := range names {
		p.lists[i] = (*reg)[name]
	}
	// Losing the slot to another Screen leaves its plan, which is as good.
	l.plans[slot].CompareAndSwap(old, p)
	return p.lists
}

// has reports whether k is in one of s's recent sets.
func (s *snapshot) has(k uint64) bool {
	for _, ks := range s.sets {
		// Skipping an empty set saves touching its slots: a cache miss
		// when the filters' probes have pushed them out.
		if ks.len() != 0 && ks.has(k) {
			return true
		}
	}
	return false
}

// Load builds, from the store, the filter of each list in names (the lists
// the rules use) and of every list the store has, each sized for twice its
// count, and makes them visible to Screen one by one. Until its first build
// succeeds a list is unknown. Calling Load again rebuilds: checks keep using
// the old filter until the new one is swapped in, and keys added meanwhile
// are kept. It tries every list and returns an EUnavailable error naming
// those it could not build.
func (l *Lists) Load(ctx context.Context, names []string) error {
	counts, err := l.wanted(ctx, names)
	if err != nil {
		return err
	}
	all := make([]string, 0, len(counts))
	for name := range counts {
		if name != "" {
			all = append(all, name)
		}
	}
	slices.Sort(all)

	var errs []error
	for _, name := range all {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := l.load(ctx, l.list(name), capacityFor(counts[name])); err != nil {
			errs = append(errs, fmt.Errorf("list %q: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return filter.Wrap(filter.EUnavailable, errors.Join(errs...), "load do-not-contact lists: %d of %d failed", len(errs), len(all))
	}
	return nil
}

// capacityFor is the capacity to build a list of count keys for: twice its
// count, so that it can double before it needs to grow.
func capacityFor(count int64) uint {
	if count <= 0 {
		return 0
	}
	return uint(2 * count)
}

// Ready reports whether Load has been called and every list it named is loaded.
func (l *Lists) Ready() bool {
	l.wantMu.Lock()
	want, loaded := l.want, l.loaded
	l.wantMu.Unlock()
	if !loaded {
		return false
	}
	reg := *l.reg.Load()
	for _, name := range want {
		lst := reg[name]
		if lst == nil || lst.snap.Load().filter == nil {
			return false
		}
	}
	return true
}

// Add adds keys to the named list, creating it if needed, and returns how many
// were new to the store. The keys are in this instance's memory before the
// store is written, so once the store acknowledges them Screen says "maybe"
// here; if the write fails they stay "maybe" in memory, which is harmless (the
// exact check says absent). Store errors keep their kind (EUnavailable...).
//
// A list that is not loaded yet (new, or Load has not reached it) is loaded
// from the store after the write, so Add may take as long as a scan of the
// list; if that load fails, the keys are stored but the list stays unknown
// (fail closed) and Add returns the count with an EUnavailable error. Retrying
// is safe: adding a present key is a no-op.
func (l *Lists) Add(ctx context.Context, name string, keys []uint64) (added int, err error) {
	return l.addWith(ctx, name, keys, l.st.AddToList)
}

// AddUntil adds keys as Add does, each to expire at expiresAt (see
// filter.ExpiringListStore): the filter holds them as any other key (a
// "maybe"), and the store's exact answer carries the expiry. EInvalid when
// the store keeps no expiring entries (every filter.Store does; a Store of
// lists only may not).
func (l *Lists) AddUntil(ctx context.Context, name string, keys []uint64, expiresAt time.Time) (added int, err error) {
	x, ok := l.st.(filter.ExpiringListStore)
	if !ok {
		return 0, filter.Errorf(filter.EInvalid, "", "the store does not keep expiring list entries")
	}
	if err := filter.ValidateListExpiry(expiresAt); err != nil {
		return 0, err
	}
	return l.addWith(ctx, name, keys, func(ctx context.Context, list string, keys []uint64) (int, error) {
		return x.AddToListUntil(ctx, list, keys, expiresAt)
	})
}

func (l *Lists) addWith(ctx context.Context, name string, keys []uint64, write func(ctx context.Context, list string, keys []uint64) (int, error)) (added int, err error) {
	if name == "" {
		return 0, filter.Errorf(filter.EInvalid, "", "list name is empty")
	}
	if len(keys) == 0 {
		return 0, nil
	}
	lst := l.list(name)
	if added, err = l.add(ctx, lst, keys, write); err != nil {
		return 0, err
	}
	if lst.snap.Load().filter == nil {
		if err := l.loadOnce(ctx, lst); err != nil {
			return added, filter.Wrap(filter.EUnavailable, err, "list %q: keys added, but the list could not be loaded", name)
		}
	}
	return added, nil
}

// add puts keys in memory, then in the store, holding the gate throughout.
func (l *Lists) add(ctx context.Context, lst *list, keys []uint64, write func(ctx context.Context, list string, keys []uint64) (int, error)) (int, error) {
	lst.gate.RLock()
	defer lst.gate.RUnlock()
	sealed, full := lst.insert(keys, l.opts.RecentKeys)
	switch {
	case full:
		l.request(lst, workRebuild)
	case sealed:
		l.request(lst, workFold)
	}
	added, err := write(ctx, lst.name, keys)
	if err != nil {
		return 0, storeErr(err, "add to list %q", lst.name)
	}
	return added, nil
}

// insert adds keys to the newest recent set, starting a new one when they do
// not fit, and reports whether it sealed a set of a loaded list (a fold is
// due) and whether the list now holds more keys than its filter's capacity (a
// bigger filter is due).
func (lst *list) insert(keys []uint64, setKeys int) (sealed, full bool) {
	lst.mu.Lock()
	defer lst.mu.Unlock()
	s := lst.snap.Load()
	newest := s.sets[len(s.sets)-1]
	if newest.room() < len(keys) {
		// Size the new set for the keys and for everything waiting to be
		// folded, so that a burst (an import) makes a few sets, not many.
		newest = newKeySet(max(setKeys, len(keys), int(s.recent())))
		ns := *s
		ns.sets = append(slices.Clip(s.sets), newest)
		lst.snap.Store(&ns)
		s = &ns
		sealed = s.filter != nil
	}
	for _, k := range keys {
		newest.insert(k)
	}
	full = s.filter != nil && s.count+s.recent() > int64(s.capacity)
	return sealed, full
}

// Remove removes keys from the named list in the store and returns how many
// were there. The filter keeps saying "maybe" for them (a bloom filter cannot
// forget; the exact check in the store says absent), so Remove counts them
// and, once they pass a tenth of the list, rebuilds the filter from the store
// in the background.
func (l *Lists) Remove(ctx context.Context, name string, keys []uint64) (removed int, err error) {
	if name == "" {
		return 0, filter.Errorf(filter.EInvalid, "", "list name is empty")
	}
	if len(keys) == 0 {
		return 0, nil
	}
	removed, err = l.st.RemoveFromList(ctx, name, keys)
	if err != nil {
		return 0, storeErr(err, "remove from list %q", name)
	}
	l.countRemoved(name, removed)
	return removed, nil
}

// Sweep removes from the store the entries of every list this process knows
// that expired at or before before (filter.ExpiringListStore.SweepList), and
// returns how many it removed from each list that lost some. They count
// toward a rebuild as Remove's removals do; until it, the filter says
// "maybe" for them and the store says absent, as it did from their expiry.
// A store without expiring entries sweeps nothing. It sweeps every list even
// when one fails, and returns the failures joined.
func (l *Lists) Sweep(ctx context.Context, before time.Time) (map[string]int, error) {
	x, ok := l.st.(filter.ExpiringListStore)
	if !ok {
		return nil, nil
	}
	names := slices.Sorted(maps.Keys(*l.reg.Load()))
	swept := map[string]int{}
	var errs []error
	for _, name := range names {
		n, err := x.SweepList(ctx, name, before)
		if n > 0 {
			swept[name] = n
			l.countRemoved(name, n)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep the expired entries of list %q: %w", name, err))
		}
	}
	return swept, errors.Join(errs...)
}

// list returns the named list, registering it (unloaded) if it is new.
func (l *Lists) list(name string) *list {
	if lst := (*l.reg.Load())[name]; lst != nil {
		return lst
	}
	l.regMu.Lock()
	defer l.regMu.Unlock()
	old := *l.reg.Load()
	if lst := old[name]; lst != nil {
		return lst
	}
	lst := &list{name: name}
	lst.snap.Store(&snapshot{sets: []*keySet{newKeySet(l.opts.RecentKeys)}})
	reg := make(map[string]*list, len(old)+1)
	for k, v := range old {
		reg[k] = v
	}
	reg[name] = lst
	l.reg.Store(&reg)
	return lst
}

// seal starts a new recent set, so that the existing ones receive no more
// keys, and returns the snapshot before it: its sets are the sealed ones.
func (lst *list) seal(setKeys int) *snapshot {
	lst.mu.Lock()
	defer lst.mu.Unlock()
	s := lst.snap.Load()
	ns := *s
	ns.sets = append(slices.Clip(s.sets), newKeySet(setKeys))
	lst.snap.Store(&ns)
	return s
}

// publish swaps in a filter that holds every key of the sets sealed in prev,
// keeping the sets started since.
func (lst *list) publish(prev *snapshot, next snapshot) {
	lst.mu.Lock()
	defer lst.mu.Unlock()
	cur := lst.snap.Load()
	// Sets are only appended (by insert and seal) and only dropped here, by
	// the one builder holding lst.build: prev's sets are a prefix of cur's.
	next.sets = slices.Clone(cur.sets[len(prev.sets):])
	lst.snap.Store(&next)
	lst.lastErr = ""
}

// load builds the list's filter from the store, sized for capacity keys (at
// least MinCapacity), and swaps it in.
func (l *Lists) load(ctx context.Context, lst *list, capacity uint) error {
	lst.build.Lock()
	defer lst.build.Unlock()
	return l.loadLocked(ctx, lst, capacity)
}

// loadOnce loads the list unless it is loaded already (by a concurrent Add or
// Load that held the build lock first).
func (l *Lists) loadOnce(ctx context.Context, lst *list) error {
	lst.build.Lock()
	defer lst.build.Unlock()
	if lst.snap.Load().filter != nil {
		return nil
	}
	return l.loadLocked(ctx, lst, 0)
}

// loadLocked is load, with lst.build held.
func (l *Lists) loadLocked(ctx context.Context, lst *list, capacity uint) error {
	capacity = max(capacity, l.opts.MinCapacity)
	start := time.Now()

	// Wait for the Adds in flight to finish writing the store, so that the
	// scan sees them; later Adds go to the set seal starts, which is kept.
	lst.gate.Lock()
	prev := lst.seal(l.opts.RecentKeys)
	lst.removed.Store(0)
	lst.gate.Unlock()

	f := bloom.NewWithEstimates(capacity, l.opts.FalsePositiveRate)
	adder := newBulkAdder(f)
	var n int64
	err := l.st.ScanList(ctx, lst.name, func(k uint64) error {
		adder.add(k)
		n++
		if n%(1<<16) == 0 {
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return storeErr(err, "scan list %q", lst.name)
	}
	adder.flush()
	lst.publish(prev, snapshot{filter: f, count: n, capacity: capacity, builtAt: start, buildTime: time.Since(start)})
	lst.stale.Store(false) // a scan begun after the mark: it read the new contents
	if n > int64(capacity) {
		// The list grew between Lists and the scan: the filter is overfull.
		l.request(lst, workRebuild)
	}
	return nil
}

// fold swaps in a copy of the filter holding the sealed recent sets too.
// It only adds keys, so unlike load it need not wait for Adds in flight.
func (l *Lists) fold(lst *list) {
	lst.build.Lock()
	defer lst.build.Unlock()
	start := time.Now()
	if s := lst.snap.Load(); s.filter == nil || s.recent() == 0 {
		return // not loaded (its load takes the keys) or nothing to fold
	}
	prev := lst.seal(l.opts.RecentKeys)
	f := prev.filter.Copy()
	n := prev.count
	for _, ks := range prev.sets {
		ks.each(func(k uint64) {
			// Count only keys new to the filter: a recent key may be in it
			// already (added again, or stored before a rebuild's scan
			// reached it), and the count drives the grow and the estimate.
			b := keyBytes(k)
			if !f.TestAndAdd(b[:]) {
				n++
			}
		})
	}
	lst.publish(prev, snapshot{filter: f, count: n, capacity: prev.capacity, builtAt: start, buildTime: time.Since(start)})
}

// request queues background work for lst and wakes the worker.
func (l *Lists) request(lst *list, w work) {
	l.qmu.Lock()
	if !l.closed && l.pending[lst] < w {
		l.pending[lst] = w
	}
	l.qmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default: // already awake or about to be
	}
}

// run is the background worker, owned by Lists: it does the queued work
// until ctx (cancelled by Close) ends.
func (l *Lists) run(ctx context.Context) {
	defer close(l.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
		l.qmu.Lock()
		jobs := l.pending
		l.pending = map[*list]work{}
		l.qmu.Unlock()
		for lst, w := range jobs {
			if ctx.Err() != nil {
				return
			}
			s := lst.snap.Load()
			if s.filter == nil {
				continue // Load or Add will load it, recent keys included
			}
			total := s.count + s.recent()
			full := total > int64(s.capacity)
			if !full && 10*lst.removed.Load() <= total && !lst.stale.Load() {
				// No rebuild is due (any more: Adds keep asking while a
				// rebuild runs, and a rebuild may have just happened).
				if w == workFold || s.recent() > 0 {
					l.fold(lst)
				}
				continue
			}
			// Overfull or many removals: build a filter sized for twice the
			// count from the store; it drops removed keys too.
			if err := l.load(ctx, lst, capacityFor(total)); err != nil {
				// The old filter stays: it is still never wrong about a key
				// it was told. Status shows the error; the next Add, Remove
				// or Load asks again.
				lst.mu.Lock()
				lst.lastErr = err.Error()
				lst.mu.Unlock()
				if lst.stale.Load() {
					// A stale filter makes every check of the list exact:
					// try again soon rather than wait for an Add.
					time.AfterFunc(staleRetry, func() { l.request(lst, workRebuild) })
				}
			}
		}
	}
}

// staleRetry is how long the worker waits before building a stale list
// (Replace) again after a failed build.
const staleRetry = 500 * time.Millisecond

// ListStatus describes one list's filter.
type ListStatus struct {
	Name   string
	Loaded bool
	// Count is the keys in memory: in the filter plus added since it was built
	// (a key added twice may count twice).
	Count int64
	// Recent is the keys added since the filter was built, kept exactly.
	Recent int64
	// Removed is the keys removed from the store since the filter was built;
	// the filter still says "maybe" for them.
	Removed int64
	// Capacity is the keys the filter was sized for at FalsePositiveRate.
	Capacity uint
	// Bits and HashFunctions are the filter's m and k.
	Bits          uint
	HashFunctions uint
	// FalsePositiveRate is the filter's expected rate at its current count.
	FalsePositiveRate float64
	// BuiltAt is when the filter's build began; BuildTime how long it took.
	BuiltAt   time.Time
	BuildTime time.Duration
	// Err is the last background build's error, if it failed.
	Err string
}

// Status describes every list, sorted by name.
func (l *Lists) Status() []ListStatus {
	reg := *l.reg.Load()
	out := make([]ListStatus, 0, len(reg))
	for name, lst := range reg {
		s := lst.snap.Load()
		st := ListStatus{
			Name:      name,
			Loaded:    s.filter != nil,
			Recent:    s.recent(),
			Removed:   lst.removed.Load(),
			Capacity:  s.capacity,
			BuiltAt:   s.builtAt,
			BuildTime: s.buildTime,
		}
		st.Count = s.count + st.Recent
		if s.filter != nil {
			st.Bits, st.HashFunctions = s.filter.Cap(), s.filter.K()
			st.FalsePositiveRate = fpRate(st.Bits, st.HashFunctions, s.count)
		}
		lst.mu.Lock()
		st.Err = lst.lastErr
		lst.mu.Unlock()
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b ListStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// fpRate is the expected false-positive rate of a filter of m bits and k hash
// functions holding n keys: (1 - e^(-kn/m))^k.
func fpRate(m, k uint, n int64) float64 {
	if m == 0 {
		return 1
	}
	return math.Pow(1-math.Exp(-float64(k)*float64(n)/float64(m)), float64(k))
}

// storeErr returns a store's error as it is when it carries a kind (the store
// said what went wrong, e.g. EUnavailable or EInvalid); anything else is a
// failure to reach the store: EUnavailable, so checks fail closed.
func storeErr(err error, format string, args ...any) error {
	var e *filter.Error
	if errors.As(err, &e) {
		return err
	}
	return filter.Wrap(filter.EUnavailable, err, format, args...)
}

// wanted records names as the lists Ready waits for and returns the size of
// every list to build: those named (0 if the store has none) and those the
// store has.
func (l *Lists) wanted(ctx context.Context, names []string) (map[string]int64, error) {
	want := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "" })
	slices.Sort(want)
	want = slices.Compact(want)
	l.wantMu.Lock()
	l.want, l.loaded = want, true
	l.wantMu.Unlock()

	infos, err := l.st.Lists(ctx)
	if err != nil {
		return nil, storeErr(err, "read the lists")
	}
	counts := make(map[string]int64, len(infos)+len(want))
	for _, name := range want {
		counts[name] = 0
	}
	for _, in := range infos {
		counts[in.Name] = in.Count
	}
	return counts, nil
}
