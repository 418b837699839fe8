package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
)

// routes registers every route with the permission it needs.
func (s *Server) routes() {
	app := s.app
	app.Use(s.observe, s.instrument, recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}))

	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	s.opsRoutes(app)
	s.consoleRoutes(app)

	v1 := app.Group("/v1")
	v1.Post("/check", s.guard(permCheck), s.check)
	v1.Post("/check/batch", s.guard(permCheck), s.checkBatch)

	v1.Get("/lists", s.guard(permListsRead), s.lists)
	v1.Post("/lists/:list/numbers", s.guard(permListsWrite), s.addNumbers)
	v1.Delete("/lists/:list/numbers", s.guard(permListsWrite), s.removeNumbers)

	v1.Post("/consents", s.guard(permConsents), s.putConsent)
	v1.Post("/consents/revoke", s.guard(permConsents), s.revokeConsent)
	v1.Post("/relationships", s.guard(permRelationships), s.putRelationship)
	v1.Post("/optouts", s.guard(permOptOuts), s.optOut)

	v1.Post("/keys", s.guard(permKeys), s.createKey)
	v1.Get("/keys", s.guard(permKeys), s.keys)
	v1.Delete("/keys/:name", s.guard(permKeys), s.deleteKey)

	s.scrubRoutes(v1)
	s.officerRoutes(v1)
	s.smsRoutes(v1)
}

// observe is the outermost middleware: it sends the chain's error through
// writeError and, at debug level, logs one line per request (the route
// pattern, never the path, which may hold a number).
func (s *Server) observe(c *fiber.Ctx) error {
	debugOn := s.log.Enabled(c.UserContext(), slog.LevelDebug)
	var start time.Time
	if debugOn {
		start = time.Now()
	}
	if err := c.Next(); err != nil {
		if err := s.writeError(c, err); err != nil {
			return err
		}
	}
	if debugOn {
		s.log.LogAttrs(c.UserContext(), slog.LevelDebug, "request",
			slog.String("method", c.Method()),
			slog.String("route", routePattern(c)),
			slog.Int("status", c.Response().StatusCode()),
			slog.Duration("took", time.Since(start)),
			slog.String("key", keyName(c)),
			slog.String("request_id", requestID(c)),
			slog.String("decision_id", decisionID(c)),
		)
	}
	return nil
}

// logPanic logs a recovered panic with its stack; the recover middleware then
// returns it as an error, which writeError sends as 500 internal.
func (s *Server) logPanic(c *fiber.Ctx, e any) {
	s.log.LogAttrs(c.UserContext(), slog.LevelError, "panic in handler",
		slog.String("method", c.Method()),
		slog.String("route", routePattern(c)),
		slog.String("key", keyName(c)),
		slog.String("panic", fmt.Sprint(e)),
		slog.String("stack", string(debug.Stack())),
	)
}

type statusBody struct {
	Status string `json:"status"`
}

// healthz says the process serves HTTP. No authentication.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(statusBody{Status: "ok"})
}

// readyz says whether checks can be answered from loaded lists: until then
// checks deny with unavailable, and a load balancer should send none. No
// authentication.
func (s *Server) readyz(c *fiber.Ctx) error {
	if !s.svc.Ready() {
		return c.Status(http.StatusServiceUnavailable).JSON(statusBody{Status: "not_ready"})
	}
	return c.JSON(statusBody{Status: "ok"})
}
