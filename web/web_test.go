package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(Files(), name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNoInlineCode: the page works under a CSP without 'unsafe-inline', so it
// must hold no inline script, style or event handler.
func TestNoInlineCode(t *testing.T) {
	html := read(t, "index.html")
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>`),
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`),
		regexp.MustCompile(`(?:src|href)="(?:https?:)?//`), // nothing from another origin
	} {
		if m := re.FindString(html); m != "" {
			t.Errorf("index.html: %q is not allowed (CSP without inline code, no other origin)", m)
		}
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, " src=") {
			t.Errorf("index.html: %s has no src: scripts must be files", tag)
		}
	}
	if !strings.Contains(html, `<script src="/console/console.js"`) {
		t.Error("index.html does not load /console/console.js")
	}
}

// TestElementIDs: every element the script looks up by id exists, so a
// renamed element fails here rather than in an officer's browser.
func TestElementIDs(t *testing.T) {
	html, js := read(t, "index.html"), read(t, "console.js")
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(html, -1) {
		if ids[m[1]] {
			t.Errorf("index.html: id %q is used twice", m[1])
		}
		ids[m[1]] = true
	}
	uses := regexp.MustCompile(`\$\("([^"]+)"\)`).FindAllStringSubmatch(js, -1)
	if len(uses) < 20 {
		t.Fatalf("found %d element look-ups in console.js: the pattern is out of date", len(uses))
	}
	for _, m := range uses {
		if !ids[m[1]] {
			t.Errorf("console.js looks up #%s, which index.html does not have", m[1])
		}
	}
	// Screens are looked up as "screen-" + name.
	for _, m := range regexp.MustCompile(`const screens = \[([^\]]+)\]`).FindAllStringSubmatch(js, -1) {
		for _, name := range regexp.MustCompile(`"([a-z]+)"`).FindAllStringSubmatch(m[1], -1) {
			if !ids["screen-"+name[1]] {
				t.Errorf("console.js has screen %q, index.html no #screen-%s", name[1], name[1])
			}
		}
	}
}

// TestNoHTMLInjection: data from the API is rendered as text; the script
// never assigns markup.
func TestNoHTMLInjection(t *testing.T) {
	js := read(t, "console.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(js, bad) {
			t.Errorf("console.js uses %s: render API data with el() or textContent", bad)
		}
	}
}
