package api

import (
	"fmt"
	"math"
	"strconv"
	"sync"
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
// full buckets, such as those of deleted keys).
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// pruneAt is the number of buckets past which full ones are dropped.
const pruneAt = 4096

func newLimiter(r RateLimit) *limiter {
	if r.PerSecond <= 0 {
		return nil
	}
	return &limiter{rate: r.PerSecond, burst: float64(r.Burst), now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes a token from name's bucket. When there is none it reports false
// and how long until there is one.
func (l *limiter) allow(name string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
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
