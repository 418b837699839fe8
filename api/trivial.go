package api

import (
	"net"

	"github.com/gofiber/fiber/v2"
)

// ServeTrivial serves, on ln, a Fiber app whose one handler answers POST
// /v1/check with a fixed small JSON, configured as the real server is. It is
// the baseline load tests divide by: what Fiber and the machine give before
// callfilter does any work. It returns when ln is closed.
func ServeTrivial(ln net.Listener) error {
	app := fiber.New(fiber.Config{DisableStartupMessage: true, AppName: "callfilter-trivial"})
	type answer struct {
		Decision string   `json:"decision"`
		Reasons  []string `json:"reasons"`
	}
	ok := answer{Decision: "allow", Reasons: []string{}}
	app.Post("/v1/check", func(c *fiber.Ctx) error { return c.JSON(ok) })
	app.Get("/readyz", func(c *fiber.Ctx) error { return c.SendString(`{"status":"ok"}`) })
	return app.Listener(ln)
}
