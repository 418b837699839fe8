package api

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPI is the API's OpenAPI 3.1 document, written by hand beside this file
// and served at /openapi.json. openapi_test.go fails when a registered route
// is missing from it, when it names a route that does not exist, or when one
// of its request examples does not get the documented answer from the real
// handlers.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API document (a copy).
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(openAPI)
}
