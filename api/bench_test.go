package api_test

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"callfilter/filter"
)

// The two benchmarks drive a server on a loopback port with a fasthttp client
// from parallel goroutines, the same way, so that their difference is the cost
// of a check (auth, decoding, normalization, bloom screens, one store read,
// the decision, encoding) over a bare Fiber handler. Client and server share
// the process: ns/op and allocs/op count both.

// BenchmarkCheckHTTP is POST /v1/check for a clean number over TCP.
func BenchmarkCheckHTTP(b *testing.B) {
	e := newEnv(b, func(c *envConfig) { c.quiet = true })
	addr := serve(b, e)
	benchPost(b, addr, "/v1/check", "Bearer "+e.keys[filter.RoleDialer], checkBody(nyClean, "call", atWednesday, `"seller":"acme"`))
}

// BenchmarkCheckBatchHTTP is POST /v1/check/batch with 100 clean numbers in
// E.164 (the parser's fast path) per request; numbers/s counts the items.
func BenchmarkCheckBatchHTTP(b *testing.B) {
	e := newEnv(b, func(c *envConfig) { c.quiet = true })
	addr := serve(b, e)
	const n = 100
	items := make([]string, n)
	for i := range items {
		items[i] = checkBody(fmt.Sprintf("+1212555%04d", 2000+i), "call", atWednesday, `"seller":"acme"`)
	}
	benchPost(b, addr, "/v1/check/batch", "Bearer "+e.keys[filter.RoleDialer], `{"items":[`+strings.Join(items, ",")+`]}`)
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "numbers/s")
}

// BenchmarkTrivialFiber is a Fiber app whose one handler returns a fixed small
// JSON: the floor under BenchmarkCheckHTTP.
func BenchmarkTrivialFiber(b *testing.B) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	type answer struct {
		Decision string `json:"decision"`
	}
	app.Post("/v1/check", func(c *fiber.Ctx) error { return c.JSON(answer{Decision: "allow"}) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Listener(ln) }()
	b.Cleanup(func() {
		_ = app.Shutdown()
		<-done
	})
	benchPost(b, ln.Addr().String(), "/v1/check", "", checkBody(nyClean, "call", atWednesday, `"seller":"acme"`))
}

func benchPost(b *testing.B, addr, path, auth, body string) {
	client := &fasthttp.HostClient{Addr: addr, MaxConns: 512}
	b.ReportAllocs()
	// Several requests in flight per CPU, as from a dialer's many lines: the
	// loopback round trip would otherwise leave the server idle.
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := fasthttp.AcquireRequest()
		res := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(res)
		req.SetRequestURI("http://" + addr + path)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/json")
		if auth != "" {
			req.Header.Set(fasthttp.HeaderAuthorization, auth)
		}
		req.SetBodyString(body)
		for pb.Next() {
			if err := client.Do(req, res); err != nil {
				b.Error(err)
				return
			}
			if res.StatusCode() != fasthttp.StatusOK {
				b.Errorf("status %d: %s", res.StatusCode(), res.Body())
				return
			}
		}
	})
}
