// Package web holds the compliance officers' console: plain HTML, CSS and
// JavaScript, embedded in the binary so that it needs no build step and no
// separate server (api serves it under /console). The console talks to the
// API with the officer's key, kept in the browser tab's sessionStorage; the
// files themselves hold no secret and need no key.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Files returns the console's files: index.html, console.js, console.css.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded above: it cannot be missing
	}
	return sub
}
