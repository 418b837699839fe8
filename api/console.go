package api

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"callfilter/web"
)

// consoleCSP allows the console's own files and the API on the same origin,
// and nothing else: no inline script or style, no other origin, no framing.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// consoleTypes are the media types of the console's files: a fixed table
// rather than mime.TypeByExtension, which the host's mime.types can change.
var consoleTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".png":  "image/png",
	".svg":  "image/svg+xml",
}

// consoleFile is one embedded file, ready to send.
type consoleFile struct {
	body        []byte
	contentType string
	etag        string
}

// consoleRoutes serves the officers' console (package web) under /console.
// The files need no key: they hold none, and every call they make goes
// through the API's own authentication. It is a mount (app.Use), not an API
// route: anything it does not hold falls through to the usual 404.
func (s *Server) consoleRoutes(app *fiber.App) {
	files := map[string]consoleFile{}
	err := fs.WalkDir(web.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(web.Files(), p)
		if err != nil {
			return err
		}
		ct, ok := consoleTypes[path.Ext(p)]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		files[p] = consoleFile{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic(err) // embedded files: only a broken build can fail here
	}
	app.Use("/console", func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		// Use matches any path that starts with /console, /consoles too.
		rest := strings.TrimPrefix(c.Path(), "/console")
		if rest != "" && rest[0] != '/' {
			return c.Next()
		}
		name := strings.TrimPrefix(rest, "/")
		if name == "" {
			name = "index.html"
		}
		f, ok := files[name]
		if !ok {
			return c.Next()
		}
		c.Set(fiber.HeaderContentSecurityPolicy, consoleCSP)
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		c.Set(fiber.HeaderXFrameOptions, "DENY")
		c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
		// Revalidate every time (the ETag makes that cheap), so that an
		// upgraded binary's console is never mixed with a cached old script.
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderETag, f.etag)
		c.Set(fiber.HeaderContentType, f.contentType)
		if c.Get(fiber.HeaderIfNoneMatch) == f.etag {
			return c.SendStatus(http.StatusNotModified)
		}
		return c.Send(f.body)
	})
}
