package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"callfilter/filter"
)

// kindStatus maps each error kind to its one HTTP status.
var kindStatus = map[filter.Kind]int{
	filter.EInvalid:      http.StatusBadRequest,
	filter.ENotFound:     http.StatusNotFound,
	filter.EConflict:     http.StatusConflict,
	filter.EUnavailable:  http.StatusServiceUnavailable,
	filter.EUnauthorized: http.StatusUnauthorized,
	filter.EForbidden:    http.StatusForbidden,
	filter.EInternal:     http.StatusInternalServerError,
}

// httpError is an error of the HTTP layer itself (media type, routing, size),
// which has no domain kind.
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.message }

// fiberErrors gives Fiber's and fasthttp's own errors a stable code and a fixed
// message: theirs can echo the request (the path, a parse error), which may
// hold a phone number.
var fiberErrors = map[int]httpError{
	http.StatusBadRequest:                  {http.StatusBadRequest, "bad_request", "the HTTP request is malformed"},
	http.StatusNotFound:                    {http.StatusNotFound, "not_found", "no such route"},
	http.StatusMethodNotAllowed:            {http.StatusMethodNotAllowed, "method_not_allowed", "the route does not take this method"},
	http.StatusRequestTimeout:              {http.StatusRequestTimeout, "request_timeout", "the request was not received in time"},
	http.StatusRequestEntityTooLarge:       {http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than the server accepts"},
	http.StatusUnsupportedMediaType:        {http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json"},
	http.StatusRequestHeaderFieldsTooLarge: {http.StatusRequestHeaderFieldsTooLarge, "headers_too_large", "the request headers are too large"},
}

// errorBody is the one shape of every error response.
type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// classify returns the status, code and client message of err. Only classified
// errors say what went wrong; anything else is "internal error".
func classify(err error) (status int, code, message string) {
	var (
		fe *filter.Error
		he *httpError
		xe *fiber.Error
	)
	switch {
	case errors.As(err, &fe):
		if st, ok := kindStatus[fe.Kind]; ok {
			return st, fe.Code, fe.Message
		}
	case errors.As(err, &he):
		return he.status, he.code, he.message
	case errors.As(err, &xe):
		if e, ok := fiberErrors[xe.Code]; ok {
			return e.status, e.code, e.message
		}
		if xe.Code >= 400 && xe.Code < 500 {
			return xe.Code, "bad_request", http.StatusText(xe.Code)
		}
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, string(filter.EUnavailable), "the request did not finish in time"
	}
	return http.StatusInternalServerError, string(filter.EInternal), "internal error"
}

// handleError is the app's ErrorHandler: every error a handler, a middleware or
// fasthttp returns ends here.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	return s.writeError(c, err)
}

// writeError is the one path by which errors reach clients. A server-side
// failure is logged with its cause; the client gets the code and message only.
func (s *Server) writeError(c *fiber.Ctx, err error) error {
	status, code, message := classify(err)
	if status >= http.StatusInternalServerError {
		s.log.LogAttrs(c.UserContext(), slog.LevelError, "request failed",
			slog.String("method", c.Method()),
			slog.String("route", routePattern(c)),
			slog.Int("status", status),
			slog.String("code", code),
			slog.String("key", keyName(c)),
			slog.String("request_id", requestID(c)),
			slog.Any("err", err),
		)
	}
	if status == http.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="callfilter"`)
	}
	return c.Status(status).JSON(errorBody{Error: errorJSON{Code: code, Message: message}})
}

// routePattern is the matched route's pattern ("/v1/lists/:list/numbers"), never
// the path itself, which may hold a phone number. Before routing (an error of
// fasthttp's, such as a body too large) there is none: "".
func routePattern(c *fiber.Ctx) string {
	if r := c.Route(); len(r.Handlers) > 0 {
		return r.Path
	}
	return ""
}
