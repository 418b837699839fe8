package api

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"callfilter/filter"
)

// httpMetrics are the API's metrics. Labels are bounded: route patterns (never
// paths), standard methods, statuses, and the purposes, channels, reasons and
// lists of the rules. No number, seller or key is ever a label.
type httpMetrics struct {
	requests    *prometheus.CounterVec   // method, route, status
	duration    *prometheus.HistogramVec // method, route, status
	inFlight    prometheus.Gauge
	decisions   *prometheus.CounterVec // purpose, channel, decision
	reasons     *prometheus.CounterVec // purpose, channel, reason, list
	rateLimited prometheus.Counter
	scrubRows   *prometheus.CounterVec // decision
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	const ns = "callfilter"
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests, by method, route pattern and status (route \"\" for unmatched paths).",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency in the server, by method, route pattern and status.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: "http", Name: "requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "decisions_total",
			Help: "Check decisions (single and batch items), by purpose, channel and decision (allow or deny).",
		}, []string{"purpose", "channel", "decision"}),
		reasons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "decision_reasons_total",
			Help: "Reasons given by check decisions, by purpose, channel, reason code and list (on_list, list_stale, relationship_exemption).",
		}, []string{"purpose", "channel", "reason", "list"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: "http", Name: "rate_limited_total",
			Help: "Requests refused with 429 because their API key exceeded its rate limit.",
		}),
		scrubRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: "scrub", Name: "rows_total",
			Help: "Rows scrubbed, by decision (allow, deny) or error (a row that could not be read); rate() gives rows/s.",
		}, []string{"decision"}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.decisions, m.reasons, m.rateLimited, m.scrubRows)
	return m
}

// methods are the method labels: constants, because c.Method() is Fiber's
// buffer, reused by the next request, and a label is kept for ever.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// methodLabel bounds the method label to the standard methods, as constants.
func methodLabel(m string) string {
	for _, k := range methods {
		if k == m {
			return k
		}
	}
	return "other"
}

func (m *httpMetrics) observeRequest(method, route string, status int, took time.Duration) {
	labels := []string{methodLabel(method), route, strconv.Itoa(status)}
	m.requests.WithLabelValues(labels...).Inc()
	m.duration.WithLabelValues(labels...).Observe(took.Seconds())
}

func (m *httpMetrics) observeDecision(purpose, channel string, d filter.Decision) {
	m.decisions.WithLabelValues(purpose, channel, string(d.Outcome)).Inc()
	for _, r := range d.Reasons {
		m.reasons.WithLabelValues(purpose, channel, string(r.Code), r.List).Inc()
	}
}
