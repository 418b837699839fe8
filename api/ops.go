package api

import (
	"crypto/rand"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"callfilter/filter"
	"callfilter/service"
)

// ops is what the operators' side of the server keeps: the HTTP metrics, the
// rate limiter and the request-id source.
type ops struct {
	metrics        *httpMetrics
	limiter        *limiter // nil when no rate limit is set
	ids            requestIDs
	metricsHandler fiber.Handler
}

// localRequest is the c.Locals key of the request's requestInfo.
const localRequest localKey = 100

// requestInfo is what a request's log lines need to know of it: one value
// per request, set by instrument, because c.Locals allocates for each string
// it is given.
type requestInfo struct {
	id       [requestIDLen]byte
	idLen    uint8
	key      string      // the authenticated key's name, "" before
	role     filter.Role // the authenticated key's role
	decision string      // the decision id of a single check
}

// info returns the request's requestInfo; a request that did not pass
// instrument gets a fresh one, kept for the rest of the request.
func info(c *fiber.Ctx) *requestInfo {
	if ri, ok := c.Locals(localRequest).(*requestInfo); ok {
		return ri
	}
	ri := new(requestInfo)
	c.Locals(localRequest, ri)
	return ri
}

// HeaderRequestID carries the request id (in every response), which the
// request's log lines carry too.
const HeaderRequestID = "X-Request-Id"

// opsRoutes sets up the operators' side and registers its routes: /metrics
// (Prometheus text format) and /openapi.json (the API document). Neither needs
// a key: neither holds a secret or a number, and the metrics should be reached
// by a scraper on the private network only (see deploy/).
func (s *Server) opsRoutes(app *fiber.App) {
	s.ops = &ops{
		metrics: newHTTPMetrics(s.opts.Metrics),
		limiter: newLimiter(s.opts.RateLimit),
	}
	s.ops.ids.init()
	s.ops.metricsHandler = adaptor.HTTPHandler(promhttp.HandlerFor(s.opts.Metrics, promhttp.HandlerOpts{
		ErrorLog:      promLogger{s},
		ErrorHandling: promhttp.ContinueOnError,
	}))
	app.Get("/metrics", s.ops.metricsHandler)
	app.Get("/openapi.json", serveOpenAPI)
}

// promLogger sends promhttp's gathering errors to the server's log.
type promLogger struct{ s *Server }

func (l promLogger) Println(v ...any) { l.s.log.Error("metrics", "err", v) }

// instrument gives each request its id (the X-Request-Id response header and
// the request's log lines) and measures it for the metrics: by method, route
// pattern and status. It runs inside observe, so an error from the chain is
// not written yet: its status is the one writeError will send.
func (s *Server) instrument(c *fiber.Ctx) error {
	start := time.Now()
	ri := new(requestInfo)
	ri.idLen = uint8(s.ops.ids.next(&ri.id))
	c.Locals(localRequest, ri)
	c.Response().Header.SetBytesV(HeaderRequestID, ri.id[:ri.idLen])
	s.ops.metrics.inFlight.Inc()
	err := c.Next()
	s.ops.metrics.inFlight.Dec()
	status := c.Response().StatusCode()
	route := routePattern(c)
	if err != nil {
		status, _, _ = classify(err)
		var fe *fiber.Error
		if errors.As(err, &fe) && (fe.Code == http.StatusNotFound || fe.Code == http.StatusMethodNotAllowed) {
			route = ""
		}
	}
	s.ops.metrics.observeRequest(c.Method(), route, status, time.Since(start))
	return err
}

// limit applies the rate limit of the key named name: past it, a 429
// rate_limited error with Retry-After. guard calls it once the key is known.
func (s *Server) limit(c *fiber.Ctx, name string) error {
	if s.ops.limiter == nil {
		return nil
	}
	ok, wait := s.ops.limiter.allow(name)
	if ok {
		return nil
	}
	s.ops.metrics.rateLimited.Inc()
	c.Set(fiber.HeaderRetryAfter, retryAfter(wait))
	return errRateLimited
}

var errRateLimited = &httpError{http.StatusTooManyRequests, "rate_limited", "this API key sent more requests than its rate limit allows: retry after the number of seconds in Retry-After"}

// recordDecisions counts decisions by purpose, channel, outcome and reason,
// and keeps the decision id of a single check for the request's log line.
func (s *Server) recordDecisions(c *fiber.Ctx, ins []service.CheckInput, results []service.CheckResult) {
	// The service refused any purpose or channel its rules do not name, so
	// both labels are bounded by the rules.
	for i, r := range results {
		s.ops.metrics.observeDecision(ins[i].Purpose, ins[i].Channel, r.Decision)
	}
	if len(results) == 1 {
		info(c).decision = results[0].Decision.ID
	}
}

// requestID and decisionID return the request's ids for logs ("" when none).
func requestID(c *fiber.Ctx) string {
	ri := info(c)
	return string(ri.id[:ri.idLen])
}

func decisionID(c *fiber.Ctx) string { return info(c).decision }

// requestIDs makes request ids: 8 random letters fixed per process, a dash
// and a counter. They are written in letters only, so that no request id can
// be mistaken for (or checked as) a phone number in a log.
type requestIDs struct {
	prefix [8]byte
	seq    atomic.Uint64
}

const idAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ" // 48 letters, no l, I, O

func (g *requestIDs) init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	for i, v := range b {
		g.prefix[i] = idAlphabet[int(v)%len(idAlphabet)]
	}
}

// requestIDLen is the longest request id: the prefix, the dash and a
// counter of up to 12 letters.
const requestIDLen = 8 + 1 + 12

// next writes the next id into buf and returns its length.
func (g *requestIDs) next(buf *[requestIDLen]byte) int {
	n := g.seq.Add(1)
	var digits [12]byte
	i := len(digits)
	for {
		i--
		digits[i] = idAlphabet[n%uint64(len(idAlphabet))]
		n /= uint64(len(idAlphabet))
		if n == 0 || i == 0 {
			break
		}
	}
	copy(buf[:], g.prefix[:])
	buf[8] = '-'
	return 9 + copy(buf[9:], digits[i:])
}
