package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// tally is one worker's counts; each worker owns its own, so counting needs
// no lock, and they are summed when the run ends.
type tally struct {
	requests, numbers, late int64
	errors                  map[string]int64
	decisions               map[string]int64
	reasons                 map[string]int64
}

func newTally() *tally {
	return &tally{errors: map[string]int64{}, decisions: map[string]int64{}, reasons: map[string]int64{}}
}

// histShard is a lock-protected histogram. Workers are spread over a few
// shards: one histogram per worker would cost ~200 KB each, one for all
// would serialize every worker on one lock.
type histShard struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// runner is the state shared by the workers of one run.
type runner struct {
	cfg    Config
	client *fasthttp.Client
	uris   []string // one per target, for the path in use
	auth   string
	bodies [][]byte
	next   atomic.Uint64 // round-robin over bodies and targets
	shards []*histShard
	// tallies are the workers', read once they have all stopped.
	tallies []*tally
}

// checkAnswer is the part of a decision the generator counts.
type checkAnswer struct {
	Decision string `json:"decision"`
	Reasons  []struct {
		Code string `json:"code"`
	} `json:"reasons"`
}

type batchAnswer struct {
	Results []checkAnswer `json:"results"`
}

// Run performs one load-generation run and reports on it. It returns early,
// with what was measured so far, when ctx is cancelled.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	bodies, err := buildBodies(cfg)
	if err != nil {
		return nil, err
	}
	conns := cfg.Workers
	if cfg.Mode == "open" {
		conns = cfg.MaxInFlight
	}
	path := "/v1/check"
	if cfg.Batch > 0 {
		path = "/v1/check/batch"
	}
	r := &runner{
		cfg: cfg,
		client: &fasthttp.Client{
			// One connection per possible in-flight request, so a
			// request never waits for a connection inside the client,
			// where its wait would go unmeasured.
			MaxConnsPerHost:               conns,
			ReadTimeout:                   cfg.Timeout,
			WriteTimeout:                  cfg.Timeout,
			MaxIdleConnDuration:           time.Minute,
			NoDefaultUserAgentHeader:      true,
			DisableHeaderNamesNormalizing: true,
			DisablePathNormalizing:        true,
			// Checks are not idempotent with reserve:true: never resend.
			RetryIf: func(*fasthttp.Request) bool { return false },
		},
		auth:   "Bearer " + cfg.Key,
		bodies: bodies,
	}
	for _, t := range cfg.Targets {
		u, _ := url.Parse(t) // validated
		u.Path = path
		r.uris = append(r.uris, u.String())
	}
	nShards := min(conns, 2*runtime.GOMAXPROCS(0))
	for range nShards {
		r.shards = append(r.shards, &histShard{h: newHistogram()})
	}

	var start time.Time
	var dropped int64
	if cfg.Mode == "open" {
		start, dropped = r.runOpen(ctx)
	} else {
		start = r.runClosed(ctx)
	}
	elapsed := time.Since(start)
	r.client.CloseIdleConnections()
	return r.report(start, elapsed, dropped), nil
}

// runClosed runs Workers goroutines, each sending its next request as soon as
// the previous one is answered; it returns the start time once all have
// stopped.
func (r *runner) runClosed(ctx context.Context) time.Time {
	var issued atomic.Int64
	limit := int64(r.cfg.MaxRequests)
	workers := r.newWorkers(r.cfg.Workers)
	// The clock starts once the workers exist, so their set-up is not
	// charged to the service.
	start := time.Now()
	if r.cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, start.Add(r.cfg.Duration))
		defer cancel()
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			defer w.release()
			for ctx.Err() == nil {
				// Claiming a slot before sending makes MaxRequests
				// exact across workers.
				if limit > 0 && issued.Add(1) > limit {
					return
				}
				w.do(time.Now())
			}
		})
	}
	wg.Wait()
	return start
}

// runOpen sends requests on a fixed timetable (request i is due at
// start + i/Rate) and measures each from its due time, so a stalled server
// cannot slow the generator down and hide the stall (coordinated omission).
// At most MaxInFlight requests are outstanding; a request that comes due
// while the bound is reached is dropped and counted, never delayed. It
// returns the start time and the number dropped once every sent request has
// completed.
func (r *runner) runOpen(ctx context.Context) (start time.Time, dropped int64) {
	c := r.cfg
	// The buffer holds every ticket that can be outstanding, so the
	// scheduler never blocks on a send: inFlight gates admission.
	tickets := make(chan time.Time, c.MaxInFlight)
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	for _, w := range r.newWorkers(c.MaxInFlight) {
		wg.Go(func() {
			defer w.release()
			for due := range tickets {
				if time.Since(due) > LateThreshold {
					w.t.late++
				}
				w.do(due)
				inFlight.Add(-1)
			}
		})
	}
	defer wg.Wait()
	defer close(tickets)

	start = time.Now()
	end := time.Time{}
	if c.Duration > 0 {
		end = start.Add(c.Duration)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	perRequest := float64(time.Second) / c.Rate
	for i := 0; c.MaxRequests <= 0 || i < c.MaxRequests; i++ {
		due := start.Add(time.Duration(float64(i) * perRequest))
		if !end.IsZero() && !due.Before(end) {
			break
		}
		// Sleep only when ahead of the timetable; when behind, the due
		// requests go out back to back (and are measured from their due
		// time, so the lag is not lost).
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return start, dropped
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return start, dropped
		}
		if inFlight.Load() >= int64(c.MaxInFlight) {
			dropped++
			continue
		}
		inFlight.Add(1)
		tickets <- due
	}
	return start, dropped
}

// worker is one sending goroutine's reusable request state.
type worker struct {
	r     *runner
	t     *tally
	shard *histShard
	req   *fasthttp.Request
	resp  *fasthttp.Response
}

// newWorkers prepares n workers, spread over the histogram shards.
func (r *runner) newWorkers(n int) []*worker {
	ws := make([]*worker, n)
	for i := range ws {
		ws[i] = r.newWorker(i)
	}
	return ws
}

func (r *runner) newWorker(i int) *worker {
	t := newTally()
	r.tallies = append(r.tallies, t)
	w := &worker{r: r, t: t, shard: r.shards[i%len(r.shards)], req: fasthttp.AcquireRequest(), resp: fasthttp.AcquireResponse()}
	w.req.Header.SetMethod(fasthttp.MethodPost)
	w.req.Header.SetContentType("application/json")
	if r.cfg.Key != "" {
		w.req.Header.Set("Authorization", r.auth)
	}
	return w
}

func (w *worker) release() {
	fasthttp.ReleaseRequest(w.req)
	fasthttp.ReleaseResponse(w.resp)
}

// do sends one request and records its outcome, its latency counted from
// since (the send time in the closed loop, the due time in the open loop).
func (w *worker) do(since time.Time) {
	r := w.r
	n := r.next.Add(1)
	w.req.SetRequestURI(r.uris[n%uint64(len(r.uris))])
	w.req.SetBodyRaw(r.bodies[n%uint64(len(r.bodies))])
	w.resp.Reset()
	err := r.client.DoTimeout(w.req, w.resp, r.cfg.Timeout)
	lat := time.Since(since)

	w.t.requests++
	items := int64(max(1, r.cfg.Batch))
	w.t.numbers += items
	if err != nil {
		w.t.errors[classify(err)]++
	} else if st := w.resp.StatusCode(); st >= 500 {
		w.t.errors[ErrStatus5xx]++
	} else if st >= 400 {
		w.t.errors[ErrStatus4xx]++
	} else if st != fasthttp.StatusOK || !w.count(w.resp.Body()) {
		w.t.errors[ErrBadBody]++
	}

	us := lat.Microseconds()
	us = max(histMinUS, min(us, histMaxUS))
	w.shard.mu.Lock()
	_ = w.shard.h.RecordValue(us) // clamped into range above: cannot fail
	w.shard.mu.Unlock()
}

// count tallies the decisions of an answer; false if it is not one.
func (w *worker) count(body []byte) bool {
	add := func(a *checkAnswer) bool {
		if a.Decision != "allow" && a.Decision != "deny" {
			return false
		}
		w.t.decisions[a.Decision]++
		for _, rs := range a.Reasons {
			w.t.reasons[rs.Code]++
		}
		return true
	}
	if w.r.cfg.Batch == 0 {
		var a checkAnswer
		return json.Unmarshal(body, &a) == nil && add(&a)
	}
	var b batchAnswer
	if json.Unmarshal(body, &b) != nil || len(b.Results) != w.r.cfg.Batch {
		return false
	}
	for i := range b.Results {
		if !add(&b.Results[i]) {
			return false
		}
	}
	return true
}

// classify maps a transport error to an error kind.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrDialTimeout), errors.Is(err, syscall.ECONNREFUSED), isDial(err):
		return ErrConnect
	case errors.Is(err, fasthttp.ErrTimeout), errors.As(err, &ne) && ne.Timeout():
		return ErrTimeout
	}
	return ErrOther
}

func isDial(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// report sums the tallies and histograms into a Report.
func (r *runner) report(start time.Time, elapsed time.Duration, dropped int64) *Report {
	cfg := r.cfg
	cfg.Key = "" // never echo the secret
	rep := &Report{
		Config:    cfg,
		StartedAt: start.UTC().Round(0),
		Duration:  elapsed,
		Dropped:   dropped,
		Errors:    map[string]int64{},
		Decisions: map[string]int64{},
		Reasons:   map[string]int64{},
	}
	for _, t := range r.tallies {
		rep.Requests += t.requests
		rep.Numbers += t.numbers
		rep.Late += t.late
		for k, v := range t.errors {
			rep.Errors[k] += v
		}
		for k, v := range t.decisions {
			rep.Decisions[k] += v
		}
		for k, v := range t.reasons {
			rep.Reasons[k] += v
		}
	}
	h := newHistogram()
	for _, s := range r.shards {
		h.Merge(s.h)
	}
	rep.Latency = latencyOf(h)
	if secs := elapsed.Seconds(); secs > 0 {
		rep.Throughput = Throughput{
			RequestsPerSec: float64(rep.Requests) / secs,
			NumbersPerSec:  float64(rep.Numbers) / secs,
		}
	}
	return rep
}
