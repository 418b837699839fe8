package api

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// RateLimit bounds the requests of each API key with a token bucket: a key
// may send Burst requests at once and PerSecond on average. A request past the
// limit gets 429 rate_limited with a Retry-After header (whole seconds). The
// zero value sets no limit. Every authenticated route counts, one per request
// (a batch counts once).
type RateLimit struct {
	PerSecond float64
	// Burst defaults to PerSecond rounded up (at least 1).
	Burst int
}

func (r *RateLimit) validate() error {
	switch {
	case r.PerSecond < 0 || math.IsNaN(r.PerSecond) || math.IsInf(r.PerSecond, 0):
		return fmt.Errorf("rate limit (%v per second) must be a positive number, or 0 for no limit", r.PerSecond)
	case r.Burst < 0:
		return fmt.Errorf("rate limit burst (%d) cannot be negative: use 0 for the default (the rate per second)", r.Burst)
	case r.PerSecond > 0 && r.Burst == 0:
		r.Burst = int(math.Max(1, math.Ceil(r.PerSecond)))
	}
	return nil
}

// limiter keeps one token bucket per key name. Names come from authenticated
// keys only, so the map is bounded by the keys that exist (and prune drops
// full buckets, such as those of deleted keys). Its limits can change while
// it serves (set).
type limiter struct {
	on  atomic.Bool // rate > 0: without a limit, allow takes no lock
	now func() time.Time

	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// pruneAt is the number of buckets past which full ones are dropped.
const pruneAt = 4096

// newLimiter returns a limiter for r, which must be validated. It is never
// nil, even without a limit, so that SetRateLimit can set one later.
func newLimiter(r RateLimit) *limiter {
	l := &limiter{now: time.Now, buckets: map[string]*bucket{}}
	l.set(r)
	return l
}

// set changes the limits. A key keeps the tokens it has, up to the new burst;
// a key not seen yet starts with a full burst.
func (l *limiter) set(r RateLimit) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.buckets {
		// Settle what accrued at the old rate before the new one applies.
		if el := now.Sub(b.last).Seconds(); el > 0 {
			b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
			b.last = now
		}
		b.tokens = math.Min(b.tokens, float64(r.Burst))
	}
	l.rate, l.burst = r.PerSecond, float64(r.Burst)
	if r.PerSecond <= 0 {
		clear(l.buckets) // a limit set later starts every key afresh
	}
	l.on.Store(r.PerSecond > 0)
}

// SetRateLimit changes the rate limit of every key while the server runs
// (the zero value removes it). It fails, changing nothing, if r is invalid.
func (s *Server) SetRateLimit(r RateLimit) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	s.ops.limiter.set(r)
	return nil
}

// allow takes a token from name's bucket. When there is none it reports false
// and how long until there is one.
func (l *limiter) allow(name string) (bool, time.Duration) {
	if !l.on.Load() {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate <= 0 { // removed since the check above
		return true, 0
	}
	b := l.buckets[name]
	if b == nil {
		if len(l.buckets) >= pruneAt {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[name] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// prune drops the buckets that would be full by now: forgetting them changes
// nothing.
func (l *limiter) prune(now time.Time) {
	for name, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, name)
		}
	}
}

// retryAfter is d in whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
