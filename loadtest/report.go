package loadtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Error kinds counted in Report.Errors.
const (
	ErrConnect   = "connect"
	ErrTimeout   = "timeout"
	ErrStatus4xx = "status_4xx"
	ErrStatus5xx = "status_5xx"
	ErrBadBody   = "bad_body"
	ErrOther     = "other"
)

// Histogram bounds: 1 µs to 60 s at 3 significant digits.
const (
	histMinUS  = 1
	histMaxUS  = 60_000_000
	histDigits = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinUS, histMaxUS, histDigits)
}

// Throughput is completed work per second of the run.
type Throughput struct {
	RequestsPerSec float64 `json:"requests_per_sec"`
	// NumbersPerSec counts checked numbers: equal to RequestsPerSec for
	// single checks, Batch times it for batches.
	NumbersPerSec float64 `json:"numbers_per_sec"`
}

// Latency holds the percentiles of all completed requests (errors included:
// a slow failure is still a slow answer). In the open loop they are measured
// from each request's intended send time.
type Latency struct {
	Count int64         `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
}

// Report is the outcome of one run; it round-trips through JSON so runs can
// be kept and compared.
type Report struct {
	Config    Config        `json:"config"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration_ns"`
	// Requests is the number of HTTP requests that completed (answered or
	// failed); Numbers the checks they carried.
	Requests int64 `json:"requests"`
	Numbers  int64 `json:"numbers"`
	// Dropped counts open-loop requests not sent because MaxInFlight was
	// reached; Late those sent more than LateThreshold after their turn.
	Dropped int64 `json:"dropped"`
	Late    int64 `json:"late"`
	// Errors by kind (connect, timeout, status_4xx, status_5xx, bad_body,
	// other), per request.
	Errors map[string]int64 `json:"errors"`
	// Decisions by outcome (allow, deny) and Reasons by code, per number.
	Decisions  map[string]int64 `json:"decisions"`
	Reasons    map[string]int64 `json:"reasons"`
	Throughput Throughput       `json:"throughput"`
	Latency    Latency          `json:"latency"`
}

// LateThreshold is how far behind its timetable an open-loop request may be
// sent before it counts as late.
const LateThreshold = time.Millisecond

// ErrorCount is the total of Errors.
func (r *Report) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

func latencyOf(h *hdrhistogram.Histogram) Latency {
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return Latency{
		Count: h.TotalCount(),
		Mean:  time.Duration(h.Mean() * float64(time.Microsecond)),
		P50:   us(h.ValueAtQuantile(50)),
		P90:   us(h.ValueAtQuantile(90)),
		P99:   us(h.ValueAtQuantile(99)),
		P999:  us(h.ValueAtQuantile(99.9)),
		Max:   us(h.Max()),
	}
}

// MarshalJSON and UnmarshalJSON are the default encoding; they exist so the
// format is explicit API.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal((*plain)(r))
}

// UnmarshalJSON reads a report written by MarshalJSON.
func (r *Report) UnmarshalJSON(b []byte) error {
	type plain Report
	return json.Unmarshal(b, (*plain)(r))
}

func sortedKeys(m map[string]int64) []string { return slices.Sorted(maps.Keys(m)) }

// Text is the human summary of a report.
func (r *Report) Text() string {
	var b strings.Builder
	c := r.Config
	shape := "single /v1/check"
	if c.Batch > 0 {
		shape = fmt.Sprintf("batch of %d", c.Batch)
	}
	loop := fmt.Sprintf("closed loop, %d workers", c.Workers)
	if c.Mode == "open" {
		loop = fmt.Sprintf("open loop, %.0f req/s, max %d in flight", c.Rate, c.MaxInFlight)
	}
	fmt.Fprintf(&b, "callfilter load test: %s, %s → %s\n", loop, shape, strings.Join(c.Targets, ", "))
	fmt.Fprintf(&b, "mix: listed %.0f%%, e164 %.0f%%, reserve %.0f%%, seed %d\n",
		100*c.Mix.ListedShare, 100*c.Mix.E164Share, 100*c.Mix.ReserveShare, c.Seed)
	fmt.Fprintf(&b, "started %s, ran %v\n", r.StartedAt.Format(time.RFC3339), r.Duration.Round(time.Millisecond))
	fmt.Fprintf(&b, "requests   %d (%d numbers), errors %d", r.Requests, r.Numbers, r.ErrorCount())
	if c.Mode == "open" {
		fmt.Fprintf(&b, ", dropped %d, late %d", r.Dropped, r.Late)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "throughput %.1f req/s, %.1f numbers/s\n", r.Throughput.RequestsPerSec, r.Throughput.NumbersPerSec)
	l := r.Latency
	fmt.Fprintf(&b, "latency    p50 %v  p90 %v  p99 %v  p99.9 %v  max %v  (mean %v)\n",
		l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean.Round(time.Microsecond))
	if len(r.Errors) > 0 {
		b.WriteString("errors    ")
		for _, k := range sortedKeys(r.Errors) {
			fmt.Fprintf(&b, " %s=%d", k, r.Errors[k])
		}
		b.WriteString("\n")
	}
	b.WriteString("decisions ")
	for _, k := range sortedKeys(r.Decisions) {
		fmt.Fprintf(&b, " %s=%d", k, r.Decisions[k])
	}
	b.WriteString("\n")
	if len(r.Reasons) > 0 {
		b.WriteString("reasons   ")
		for _, k := range sortedKeys(r.Reasons) {
			fmt.Fprintf(&b, " %s=%d", k, r.Reasons[k])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// pct is the relative change from old to new, in percent.
func pct(old, new float64) string {
	if old == 0 {
		if new == 0 {
			return "±0.0%"
		}
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100*(new-old)/old)
}

// Compare prints new against old: throughput and each latency percentile,
// with the relative change (positive latency change = slower).
func Compare(old, new *Report) string {
	var b strings.Builder
	row := func(name, o, n, d string) { fmt.Fprintf(&b, "%-16s %14s %14s %10s\n", name, o, n, d) }
	row("", "old", "new", "delta")
	f := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	row("req/s", f(old.Throughput.RequestsPerSec), f(new.Throughput.RequestsPerSec),
		pct(old.Throughput.RequestsPerSec, new.Throughput.RequestsPerSec))
	row("numbers/s", f(old.Throughput.NumbersPerSec), f(new.Throughput.NumbersPerSec),
		pct(old.Throughput.NumbersPerSec, new.Throughput.NumbersPerSec))
	for _, p := range []struct {
		name     string
		old, new time.Duration
	}{
		{"p50", old.Latency.P50, new.Latency.P50},
		{"p90", old.Latency.P90, new.Latency.P90},
		{"p99", old.Latency.P99, new.Latency.P99},
		{"p99.9", old.Latency.P999, new.Latency.P999},
		{"max", old.Latency.Max, new.Latency.Max},
	} {
		row(p.name, p.old.String(), p.new.String(), pct(float64(p.old), float64(p.new)))
	}
	row("errors", fmt.Sprint(old.ErrorCount()), fmt.Sprint(new.ErrorCount()),
		pct(float64(old.ErrorCount()), float64(new.ErrorCount())))
	if old.Config.Mode != new.Config.Mode || old.Config.Batch != new.Config.Batch ||
		old.Config.Workers != new.Config.Workers || old.Config.Rate != new.Config.Rate {
		b.WriteString("note: the two runs were configured differently (mode, batch, workers or rate)\n")
	}
	return b.String()
}
