// Package metrics exposes callfilter's internals to Prometheus: a store
// wrapper that counts round trips, errors and latency by method and the bloom
// filters' exact confirmations, and a collector over the do-not-contact lists'
// sizes, ages and filter shapes. The HTTP metrics (requests, latency,
// decisions) are the api package's own.
//
// Label sets are bounded: methods are the store's method names, lists are the
// names the rules and the store hold (a handful), and nothing ever carries a
// phone number, a seller or a key.
package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"callfilter/dnc"
	"callfilter/filter"
)

// Namespace prefixes every callfilter metric.
const Namespace = "callfilter"

// Store is a filter.Store that counts and times every call to the store it
// wraps. It is safe for concurrent use, as the wrapped store is.
type Store struct {
	next filter.Store

	calls    *prometheus.CounterVec   // method
	errors   *prometheus.CounterVec   // method, kind
	duration *prometheus.HistogramVec // method
	// maybes counts the lists a check had to confirm exactly (the bloom
	// filter said "maybe"); confirmed splits them into present (a real hit)
	// and absent (a false positive).
	confirmed *prometheus.CounterVec // list, result
	swept     *prometheus.CounterVec // list
}

var _ filter.Store = (*Store)(nil)

// InstrumentStore returns st wrapped so that every call is counted in reg
// (callfilter_store_*). It panics if the metrics are already registered in
// reg, as prometheus.MustRegister does.
func InstrumentStore(st filter.Store, reg prometheus.Registerer) *Store {
	s := &Store{
		next: st,
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "store", Name: "calls_total",
			Help: "Store round trips, by method.",
		}, []string{"method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "store", Name: "errors_total",
			Help: "Store calls that failed, by method and error kind (not_found and conflict answers excluded).",
		}, []string{"method", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "store", Name: "call_duration_seconds",
			Help:    "Store call latency, by method.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"method"}),
		confirmed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "bloom", Name: "exact_lookups_total",
			Help: "Exact list look-ups in the store after a bloom filter said \"maybe\" (or with exact lists), by list and result: present (a real hit) or absent (a false positive).",
		}, []string{"list", "result"}),
		swept: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "list", Name: "entries_swept_total",
			Help: "Expired list entries removed from the store by the periodic sweep, by list.",
		}, []string{"list"}),
	}
	reg.MustRegister(s.calls, s.errors, s.duration, s.confirmed, s.swept)
	return s
}

// Unwrap returns the wrapped store (for what only it has: a Redis store's
// client, for instance).
func (s *Store) Unwrap() filter.Store { return s.next }

// observe records one call of method that began at start and ended with err.
func (s *Store) observe(method string, start time.Time, err error) {
	s.calls.WithLabelValues(method).Inc()
	s.duration.WithLabelValues(method).Observe(time.Since(start).Seconds())
	if err == nil {
		return
	}
	kind := filter.ErrorKind(err)
	if kind == filter.ENotFound || kind == filter.EConflict {
		return // answers, not failures
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		kind = filter.EUnavailable
	}
	s.errors.WithLabelValues(method, string(kind)).Inc()
}

// AddToList implements filter.Store.
func (s *Store) AddToList(ctx context.Context, list string, keys []uint64) (int, error) {
	start := time.Now()
	n, err := s.next.AddToList(ctx, list, keys)
	s.observe("AddToList", start, err)
	return n, err
}

// AddToListUntil implements filter.Store.
func (s *Store) AddToListUntil(ctx context.Context, list string, keys []uint64, expiresAt time.Time) (int, error) {
	start := time.Now()
	n, err := s.next.AddToListUntil(ctx, list, keys, expiresAt)
	s.observe("AddToListUntil", start, err)
	return n, err
}

// SweepList implements filter.Store.
func (s *Store) SweepList(ctx context.Context, list string, before time.Time) (int, error) {
	start := time.Now()
	n, err := s.next.SweepList(ctx, list, before)
	s.observe("SweepList", start, err)
	if n > 0 {
		s.swept.WithLabelValues(list).Add(float64(n))
	}
	return n, err
}

// PruneAttempts implements filter.Store.
func (s *Store) PruneAttempts(ctx context.Context, before time.Time) (int, error) {
	start := time.Now()
	n, err := s.next.PruneAttempts(ctx, before)
	s.observe("PruneAttempts", start, err)
	return n, err
}

// RemoveFromList implements filter.Store.
func (s *Store) RemoveFromList(ctx context.Context, list string, keys []uint64) (int, error) {
	start := time.Now()
	n, err := s.next.RemoveFromList(ctx, list, keys)
	s.observe("RemoveFromList", start, err)
	return n, err
}

// ScanList implements filter.Store. A scan is one call however many keys it
// yields; its duration includes fn's.
func (s *Store) ScanList(ctx context.Context, list string, fn func(key uint64) error) error {
	start := time.Now()
	err := s.next.ScanList(ctx, list, fn)
	s.observe("ScanList", start, err)
	return err
}

// Lists implements filter.Store.
func (s *Store) Lists(ctx context.Context) ([]filter.ListInfo, error) {
	start := time.Now()
	l, err := s.next.Lists(ctx)
	s.observe("Lists", start, err)
	return l, err
}

// SetListSource implements filter.Store.
func (s *Store) SetListSource(ctx context.Context, list string, sourceDate time.Time) error {
	start := time.Now()
	err := s.next.SetListSource(ctx, list, sourceDate)
	s.observe("SetListSource", start, err)
	return err
}

// ReplaceList implements filter.Store.
func (s *Store) ReplaceList(ctx context.Context, list, from string) (filter.ListInfo, error) {
	start := time.Now()
	info, err := s.next.ReplaceList(ctx, list, from)
	s.observe("ReplaceList", start, err)
	return info, err
}

// DeleteList implements filter.Store.
func (s *Store) DeleteList(ctx context.Context, list string) error {
	start := time.Now()
	err := s.next.DeleteList(ctx, list)
	s.observe("DeleteList", start, err)
	return err
}

// Facts implements filter.Store. It also counts the exact list look-ups and
// their results.
func (s *Store) Facts(ctx context.Context, q filter.FactsQuery) (filter.Facts, error) {
	start := time.Now()
	f, err := s.next.Facts(ctx, q)
	s.observe("Facts", start, err)
	if err == nil {
		s.countConfirmed(f.Lists)
	}
	return f, err
}

// countConfirmed counts the exact list look-ups of one query's facts.
func (s *Store) countConfirmed(lists []filter.ListFact) {
	for _, lf := range lists {
		switch lf.State {
		case filter.ListPresent:
			s.confirmed.WithLabelValues(lf.List, "present").Inc()
		case filter.ListAbsent:
			s.confirmed.WithLabelValues(lf.List, "absent").Inc()
		}
	}
}

// FactsMany implements filter.Store, counting as Facts does.
func (s *Store) FactsMany(ctx context.Context, qs []filter.FactsQuery) ([]filter.Facts, error) {
	start := time.Now()
	fs, err := s.next.FactsMany(ctx, qs)
	s.observe("FactsMany", start, err)
	if err == nil {
		for _, f := range fs {
			s.countConfirmed(f.Lists)
		}
	}
	return fs, err
}

// Reserve implements filter.Store.
func (s *Store) Reserve(ctx context.Context, q filter.ReserveQuery) (bool, error) {
	start := time.Now()
	ok, err := s.next.Reserve(ctx, q)
	s.observe("Reserve", start, err)
	return ok, err
}

// PutConsent implements filter.Store.
func (s *Store) PutConsent(ctx context.Context, c filter.Consent) error {
	start := time.Now()
	err := s.next.PutConsent(ctx, c)
	s.observe("PutConsent", start, err)
	return err
}

// Revoke implements filter.Store.
func (s *Store) Revoke(ctx context.Context, r filter.Revocation) (int, error) {
	start := time.Now()
	n, err := s.next.Revoke(ctx, r)
	s.observe("Revoke", start, err)
	return n, err
}

// PutRelationship implements filter.Store.
func (s *Store) PutRelationship(ctx context.Context, r filter.Relationship) error {
	start := time.Now()
	err := s.next.PutRelationship(ctx, r)
	s.observe("PutRelationship", start, err)
	return err
}

// PutDisconnects implements filter.Store.
func (s *Store) PutDisconnects(ctx context.Context, ds []filter.Disconnect) error {
	start := time.Now()
	err := s.next.PutDisconnects(ctx, ds)
	s.observe("PutDisconnects", start, err)
	return err
}

// RecordOutcome implements filter.Store.
func (s *Store) RecordOutcome(ctx context.Context, o filter.CallOutcome) error {
	start := time.Now()
	err := s.next.RecordOutcome(ctx, o)
	s.observe("RecordOutcome", start, err)
	return err
}

// PutKey implements filter.Store.
func (s *Store) PutKey(ctx context.Context, k filter.APIKey) error {
	start := time.Now()
	err := s.next.PutKey(ctx, k)
	s.observe("PutKey", start, err)
	return err
}

// KeyByHash implements filter.Store.
func (s *Store) KeyByHash(ctx context.Context, h [32]byte) (filter.APIKey, error) {
	start := time.Now()
	k, err := s.next.KeyByHash(ctx, h)
	s.observe("KeyByHash", start, err)
	return k, err
}

// Keys implements filter.Store.
func (s *Store) Keys(ctx context.Context) ([]filter.APIKey, error) {
	start := time.Now()
	k, err := s.next.Keys(ctx)
	s.observe("Keys", start, err)
	return k, err
}

// DeleteKey implements filter.Store.
func (s *Store) DeleteKey(ctx context.Context, name string) error {
	start := time.Now()
	err := s.next.DeleteKey(ctx, name)
	s.observe("DeleteKey", start, err)
	return err
}

// Close implements filter.Store.
func (s *Store) Close() error { return s.next.Close() }

// ListsCollector reports the do-not-contact lists' filters at each scrape,
// from dnc.Lists.Status: keys in memory, capacity, expected false-positive
// rate, age of the filter, build time, loaded or not.
type ListsCollector struct {
	status func() []dnc.ListStatus
	now    func() time.Time

	loaded, keys, recent, removed, capacity, bits, fpRate, age, build, buildErr *prometheus.Desc
}

// NewListsCollector returns a collector over status (typically
// (*dnc.Lists).Status). Register it with reg.MustRegister.
func NewListsCollector(status func() []dnc.ListStatus) *ListsCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "list", name), help, []string{"list"}, nil)
	}
	return &ListsCollector{
		status:   status,
		now:      time.Now,
		loaded:   d("loaded", "1 when the list's bloom filter is built and checks can use it, 0 before (checks that need it deny with unavailable)."),
		keys:     d("keys", "Keys of the list in memory: in the filter plus added since it was built."),
		recent:   d("recent_keys", "Keys added since the filter was built (kept exactly)."),
		removed:  d("removed_keys", "Keys removed since the filter was built (the filter still says maybe for them)."),
		capacity: d("filter_capacity", "Keys the bloom filter was sized for."),
		bits:     d("filter_bits", "Size of the bloom filter in bits."),
		fpRate:   d("filter_false_positive_rate", "Expected false-positive rate of the bloom filter at its current count."),
		age:      d("filter_age_seconds", "Seconds since the filter's last build began."),
		build:    d("filter_build_seconds", "How long the filter's last build took."),
		buildErr: d("build_failing", "1 when the last background build of the filter failed."),
	}
}

// Describe implements prometheus.Collector.
func (c *ListsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.loaded, c.keys, c.recent, c.removed, c.capacity, c.bits, c.fpRate, c.age, c.build, c.buildErr} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ListsCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, st := range c.status() {
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, st.Name)
		}
		g(c.loaded, b(st.Loaded))
		g(c.keys, float64(st.Count))
		g(c.recent, float64(st.Recent))
		g(c.removed, float64(st.Removed))
		g(c.buildErr, b(st.Err != ""))
		if !st.Loaded {
			continue
		}
		g(c.capacity, float64(st.Capacity))
		g(c.bits, float64(st.Bits))
		g(c.fpRate, st.FalsePositiveRate)
		g(c.age, now.Sub(st.BuiltAt).Seconds())
		g(c.build, st.BuildTime.Seconds())
	}
}

// StoreListsCollector reports, at each scrape, what the store says of each
// list: its size and when it was last written (the age rules judge
// staleness by). Each scrape is one store round trip, bounded by a timeout.
type StoreListsCollector struct {
	lists   func(context.Context) ([]filter.ListInfo, error)
	timeout time.Duration

	count, updated, up *prometheus.Desc
}

// NewStoreListsCollector returns a collector over lists (typically the
// Lists method of the store).
func NewStoreListsCollector(lists func(context.Context) ([]filter.ListInfo, error)) *StoreListsCollector {
	return &StoreListsCollector{
		lists:   lists,
		timeout: 2 * time.Second,
		count: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "list", "stored_keys"),
			"Keys of the list in the store.", []string{"list"}, nil),
		updated: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "list", "updated_timestamp_seconds"),
			"When the list was last written, in Unix seconds (absent for a list never written).", []string{"list"}, nil),
		up: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "list", "store_scrape_ok"),
			"1 when the store answered the scrape's list query, 0 when it failed.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *StoreListsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.updated
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *StoreListsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	lists, err := c.lists(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, l := range lists {
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(l.Count), l.Name)
		if !l.UpdatedAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.updated, prometheus.GaugeValue, float64(l.UpdatedAt.UnixNano())/1e9, l.Name)
		}
	}
}
