// Package api is callfilter's HTTP interface: a Fiber app that authenticates
// API keys, authorizes their roles, decodes JSON requests strictly, calls the
// service and encodes its answers. It knows HTTP, not storage: every decision
// and record is the service's. It is the only package that imports Fiber.
//
// Three rules hold throughout:
//   - Errors reach clients through one path (writeError) as
//     {"error":{"code":"...","message":"..."}}: a kind of error maps to one
//     status; an unclassified error is logged and sent as "internal error".
//   - Fiber reuses its buffers: strings from Params, Query, Get and Body are
//     copied before anything keeps them past the handler.
//   - fasthttp never cancels a request, so every request runs the service under
//     its own context.WithTimeout.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"callfilter/service"
)

// Options configure a Server. Zero fields take the defaults given.
type Options struct {
	// BodyLimit bounds a request body in bytes (default 4 MiB); a larger body
	// is refused with 413 body_too_large.
	BodyLimit int
	// RequestTimeout bounds the service work of one request (default 2s).
	RequestTimeout time.Duration
	// ReadTimeout, WriteTimeout and IdleTimeout bound a connection's reads,
	// writes and keep-alive idleness (defaults 10s, 10s, 60s). They must not be
	// zero: Shutdown would wait for idle keep-alive connections for ever.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	// ScrubDir is the directory scrub jobs keep their uploads and results in
	// (beside the store); "" disables POST /v1/scrub/jobs.
	ScrubDir string
	// ScrubDuplicateMemory bounds each scrub's duplicate set in bytes (0:
	// scrub's default), past which it spills to ScrubDir.
	ScrubDuplicateMemory int64
	// ScrubJobRetention is how long a finished scrub job (its result, which
	// holds the upload's numbers) is kept before it is deleted; 0 means
	// DefaultScrubJobRetention.
	ScrubJobRetention time.Duration
	// Logger receives failures (with their causes) and, at debug level, one line
	// per request. Default slog.Default(). Logs never hold a plain phone number
	// or an API key.
	Logger *slog.Logger
	// Metrics is the registry /metrics serves; the API registers its own
	// metrics (callfilter_http_*, callfilter_decisions_*) in it. Default: a
	// new registry.
	Metrics *prometheus.Registry
	// RateLimit bounds each API key's requests; the zero value sets no limit.
	RateLimit RateLimit
}

// Defaults.
const (
	DefaultBodyLimit      = 4 << 20
	DefaultRequestTimeout = 2 * time.Second
	DefaultReadTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultIdleTimeout    = 60 * time.Second
)

// Validate fills the defaults and reports what must be fixed.
func (o *Options) Validate() error {
	var errs []error
	if o.BodyLimit < 0 {
		errs = append(errs, fmt.Errorf("body limit (%d) cannot be negative: use 0 for the default of 4 MiB", o.BodyLimit))
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"request timeout", &o.RequestTimeout, DefaultRequestTimeout},
		{"read timeout", &o.ReadTimeout, DefaultReadTimeout},
		{"write timeout", &o.WriteTimeout, DefaultWriteTimeout},
		{"idle timeout", &o.IdleTimeout, DefaultIdleTimeout},
	} {
		switch {
		case *d.v < 0:
			errs = append(errs, fmt.Errorf("%s (%v) cannot be negative: use 0 for the default of %v", d.name, *d.v, d.def))
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if o.BodyLimit == 0 {
		o.BodyLimit = DefaultBodyLimit
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = prometheus.NewRegistry()
	}
	if err := o.RateLimit.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("api: %w", errors.Join(errs...))
	}
	return nil
}

// Server is the HTTP API over a service. Its methods are safe for concurrent use.
type Server struct {
	svc  *service.Service
	opts Options
	log  *slog.Logger
	app  *fiber.App
	ops  *ops // metrics, rate limits, request ids: set up by opsRoutes
	// deadlines gives /v1 requests their deadline, RequestTimeout.
	deadlines requestDeadlines
	jobs      *scrubJobs // set up by scrubRoutes
}

// New returns a Server for svc. Zero options take their defaults; New panics
// if opts.Validate reports an error, so options read from outside should be
// validated first.
func New(svc *service.Service, opts Options) *Server {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	s := &Server{svc: svc, opts: opts, log: opts.Logger}
	s.deadlines.timeout = opts.RequestTimeout
	s.app = fiber.New(fiber.Config{
		AppName:               "callfilter",
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		BodyLimit:             opts.BodyLimit,
		// POST /v1/scrub reads uploads of any size as a stream (bounded in
		// api/scrub.go); JSON routes keep BodyLimit through requestBody.
		StreamRequestBody: true,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		// "tcp" rather than Fiber's default "tcp4", so that Listen takes IPv6
		// addresses too.
		Network: fiber.NetworkTCP,
	})
	s.routes()
	return s
}

// App returns the Fiber app, for tests (app.Test) and for mounting.
func (s *Server) App() *fiber.App { return s.app }

// Listen serves on addr until Shutdown.
func (s *Server) Listen(addr string) error { return s.app.Listen(addr) }

// Listener serves on ln until Shutdown.
func (s *Server) Listener(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections and waits for in-flight requests to
// finish, until ctx is done; it then returns ctx's error. Wait for Shutdown,
// not for Listen, before exiting.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }
