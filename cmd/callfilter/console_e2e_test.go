package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The officers' console, driven in a real headless Chromium against the real
// binary. CALLFILTER_SCREENSHOTS=docs/console (relative to the repository
// root, or absolute) saves screenshots of the main screens there;
// CALLFILTER_REQUIRE_BROWSER=1 makes a missing Chromium a failure (CI), not
// a skip.

// chromium returns the browser to drive, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CALLFILTER_REQUIRE_BROWSER") == "1" {
		t.Fatal("chromium is not installed and CALLFILTER_REQUIRE_BROWSER=1: apt-get install chromium")
	}
	t.Skip("chromium is not installed (apt-get install chromium); set CALLFILTER_REQUIRE_BROWSER=1 to fail instead")
	return ""
}

// startBrowser starts one headless Chromium with a fresh profile and returns its
// context, the parent of its tabs.
func startBrowser(t *testing.T, exe string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	// The flags keep the browser off the network (the machine has none) and
	// away from the host's profile.
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // /dev/shm is small in containers
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	// Start the browser now: a tab made from a context without a browser
	// would start a browser of its own.
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	return ctx
}

// tab is one browser tab (its own sessionStorage: its own signed-in officer).
type tab struct {
	t     *testing.T
	name  string
	ctx   context.Context
	shots string // directory for screenshots, "" for none

	mu   sync.Mutex
	logs []string // console errors, exceptions and CSP violations
}

func newTab(t *testing.T, parent context.Context, name, shots string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	b := &tab{t: t, name: name, ctx: ctx, shots: shots}
	b.do("open", chromedp.EmulateViewport(1280, 900))
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			// A refused request (the deliberate 401 and 412, the favicon's
			// 404) is the network's: anything else is the page's fault.
			if m.Source == "network" || (m.Type != chromedp.ConsoleError && !m.IsException()) {
				continue
			}
			b.mu.Lock()
			b.logs = append(b.logs, m.String())
			b.mu.Unlock()
		}
	}()
	return b
}

// fail reports what the tab showed when a step failed.
func (b *tab) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	b.shot("failure-" + strings.ReplaceAll(b.name, " ", "-"))
	b.t.Fatalf("%s: %s: %v\npage text:\n%s", b.name, what, err, body)
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.fail(what, err)
	}
}

// waitText waits until an element that matches sel is shown (not inside a
// hidden screen) and its text holds want.
func (b *tab) waitText(sel, want string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.PollFunction[chromedp.Void](`(sel, want) =>
		[...document.querySelectorAll(sel)].some((e) => !e.closest("[hidden]") && e.textContent.includes(want))`, chromedp.WithPollingArgs(sel, want), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		b.fail(fmt.Sprintf("waiting for %s to show %q", sel, want), err)
	}
}

// waitRows waits until lo to hi elements match sel.
func (b *tab) waitRows(sel string, lo, hi int) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.PollFunction[chromedp.Void](`(sel, lo, hi) => {
		const n = document.querySelectorAll(sel).length;
		return n >= lo && n <= hi;
	}`, chromedp.WithPollingArgs(sel, lo, hi), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		b.fail(fmt.Sprintf("waiting for %d to %d of %s", lo, hi, sel), err)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.fail("reading "+sel, err)
	}
	return s
}

func (b *tab) value(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.fail("reading "+sel, err)
	}
	return s
}

// setRules replaces the editor's text as an officer's paste would.
func (b *tab) setRules(doc string) {
	b.t.Helper()
	b.do("edit the rules", chromedp.SetValue(chromedp.ID("rules-doc"), doc))
}

func (b *tab) shot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

func (b *tab) signIn(base, key string) {
	b.t.Helper()
	b.do("sign in",
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible(chromedp.ID("signin-key")),
		chromedp.SendKeys(chromedp.ID("signin-key"), key),
		chromedp.Click(chromedp.ID("signin-button")),
	)
	b.waitText("#rules-version", "In force: version")
}

// consoleErrors fails the test for anything the page logged as an error.
func (b *tab) consoleErrors() {
	b.t.Helper()
	time.Sleep(100 * time.Millisecond) // the last messages are delivered from another goroutine
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.logs {
		b.t.Errorf("%s: the page logged %s", b.name, l)
	}
}

// allowedNow returns a number the shipped rules allow calling about
// insurance now, with an hour of margin to both ends of its calling hours
// (the test reads the clock: lookups decide "now"). Its checks are audited,
// so that a preview has something to replay.
func allowedNow(t *testing.T, s *server) string {
	t.Helper()
	// New York, Los Angeles, Honolulu, London, Shanghai, Tokyo, Sydney: at any
	// hour one of them is between 10:00 and 19:00.
	for _, n := range []string{"+12125550134", "+13105550134", "+18085550134", "+442079460000", "+8613800138000", "+81312345678", "+61298765432"} {
		out := s.do("POST", "/v1/check", map[string]any{"number": n, "channel": "call", "purpose": "insurance", "seller": "acme"}, http.StatusOK)
		local, err := time.Parse(time.RFC3339, out["local_time"].(string))
		if err != nil {
			t.Fatalf("local_time %v: %v", out["local_time"], err)
		}
		if out["decision"] == "allow" && local.Hour() >= 10 && local.Hour() < 19 {
			return n
		}
	}
	t.Fatal("no candidate number is inside its calling hours now: add one in another time zone")
	return ""
}

// TestConsoleInBrowser: an officer signs in, edits a rule so that a number's
// decision changes, sees the problems of a broken draft and the preview of
// the good one, saves, looks the number up and sees the new decision; a
// second officer's stale save is refused with the conflict message; the
// history shows the diff and rolls back; the audit and lists screens work.
func TestConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	shots := os.Getenv("CALLFILTER_SCREENSHOTS")
	if shots != "" {
		if !filepath.IsAbs(shots) {
			shots = filepath.Join("..", "..", shots)
		}
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	s := startServer(t, t.TempDir())
	base := "http://" + s.addr

	// The files need no key and carry the headers that keep the page strict.
	resp, err := http.Get(base + "/console")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /console: %d %v", resp.StatusCode, resp.Header)
	}

	if got := get(t, base+"/console/console.js", http.StatusOK); !strings.Contains(string(got), "use strict") {
		t.Fatalf("/console/console.js: %.100s", got)
	}
	get(t, base+"/console/no-such-file.js", http.StatusNotFound)

	number := allowedNow(t, s)
	// Enough audited checks for a preview and for more than one audit page.
	for range 8 {
		s.do("POST", "/v1/check", map[string]any{"number": number, "channel": "call", "purpose": "insurance", "seller": "acme"}, http.StatusOK)
	}
	// The audit trail is written asynchronously: wait for the checks.
	waitFor(t, func() bool {
		out := s.do("GET", "/v1/audit?kind=decision&limit=10", nil, http.StatusOK)
		return len(out["entries"].([]any)) >= 9
	}, "the checks in the audit trail")

	root := startBrowser(t, exe)
	a := newTab(t, root, "officer A", shots)

	// A wrong key is refused with the API's code.
	a.do("open the console", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.ID("signin-key")))
	a.do("sign in with a wrong key",
		chromedp.SendKeys(chromedp.ID("signin-key"), "cf_not-a-key-at-all-0000000000"),
		chromedp.Click(chromedp.ID("signin-button")))
	a.waitText("#signin-error", "unauthorized")
	a.shot("signin")
	// A dialer's key is valid but may not read the rules.
	dialer := s.do("POST", "/v1/keys", map[string]any{"name": "console-dialer", "role": "dialer"}, http.StatusCreated)["key"].(string)
	a.do("sign in with a dialer's key",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("signin-key").value = ""`),
		chromedp.SendKeys(chromedp.ID("signin-key"), dialer),
		chromedp.Click(chromedp.ID("signin-button")))
	a.waitText("#signin-error", "needs the officer or admin role")
	a.waitText("#signin-error", "forbidden")

	a.signIn(base, e2eKey)
	doc := a.value("#rules-doc")
	v1 := a.text("#rules-current")
	if !strings.Contains(doc, "version: \""+v1+"\"") {
		t.Fatalf("the editor does not hold version %q:\n%.300s", v1, doc)
	}
	a.shot("rules")

	// A broken draft: every problem with its path.
	broken := strings.Replace(doc, `hours: {start: "08:00", end: "21:00"}`, `hours: {start: "25:00", end: "21:00"}`, 1)
	broken = strings.Replace(broken, `lists: [national, state, litigator, internal]`, `lists: [national, state, litigator, internal, nationl]`, 1)
	if strings.Count(broken, "25:00")+strings.Count(broken, "nationl]") != 2 {
		t.Fatal("rules.yaml has no default hours 08:00–21:00 or lists line to break")
	}
	a.setRules(broken)
	a.do("validate", chromedp.Click(chromedp.ID("rules-validate")))
	a.waitText("#rules-message", "2 problems to fix")
	a.waitText("#rules-problems", "defaults.hours.start")
	a.waitText("#rules-problems", "defaults.lists")
	a.shot("rules-problems")

	// The edit: no more insurance calls (texts only).
	v2 := "console-e2e-2"
	edited := setVersion(t, doc, v2)
	insurance := strings.Index(edited, "\n  insurance:\n")
	call := regexp.MustCompile(`(?m)^    call: \{\}.*\n`).FindStringIndex(edited[insurance+1:])
	if insurance < 0 || call == nil {
		t.Fatal("rules.yaml has no `call: {}` line under purposes.insurance to remove")
	}
	edited = edited[:insurance+1+call[0]] + edited[insurance+1+call[1]:]
	a.setRules(edited)
	a.do("validate", chromedp.Click(chromedp.ID("rules-validate")))
	a.waitText("#rules-message", "No problems found: version "+v2)

	a.do("preview", chromedp.Click(chromedp.ID("rules-preview")))
	a.waitText("#preview-summary", "channel_not_allowed")
	if got := a.text("#preview-a2d"); got == "0" {
		t.Fatalf("preview: %s allowed→denied, want the number's audited checks", got)
	}
	a.shot("rules-preview")

	// A second officer opens the rules before A saves.
	b := newTab(t, root, "officer B", shots)
	b.signIn(base, e2eKey)

	a.do("save", chromedp.Click(chromedp.ID("rules-save")))
	a.waitText("#rules-message", "Saved: version "+v2)
	a.waitText("#rules-current", v2)

	b.setRules(setVersion(t, b.value("#rules-doc"), "console-e2e-stale"))
	b.do("stale save", chromedp.Click(chromedp.ID("rules-save")))
	b.waitText("#rules-conflict", "Someone else saved the rules first")
	b.waitText("#conflict-version", v2)
	b.shot("rules-conflict")
	b.do("reload after the conflict", chromedp.Click(chromedp.ID("conflict-reload")))
	b.waitText("#rules-current", v2)

	// The saved version's diff in the history.
	a.do("show the diff", chromedp.Click(chromedp.CSS(`.revision[data-version="`+v2+`"] .show-diff`)))
	a.waitText(`.revision[data-version="`+v2+`"] pre.diff .del`, "call: {}")
	a.do("scroll to the history", chromedp.ScrollIntoView(chromedp.ID("history-list")))
	a.shot("rules-history")

	// Facts to show beside the decisions; the evidence holds markup, which
	// must come out as text.
	evidence := `form 42 <i>signed online</i>, IP 192.0.2.7`
	s.do("POST", "/v1/consents", map[string]any{"number": number, "seller": "acme", "purpose": "insurance", "channel": "sms",
		"source": "web-form", "evidence": evidence, "granted_at": time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)}, http.StatusCreated)
	s.do("POST", "/v1/relationships", map[string]any{"number": number, "seller": "acme", "kind": "purchase",
		"at": time.Now().AddDate(0, -2, 0).UTC().Format(time.RFC3339)}, http.StatusCreated)

	// The number now: insurance calls denied, in plain language.
	a.do("look the number up",
		chromedp.Navigate(base+"/console/#lookup"),
		chromedp.WaitVisible(chromedp.ID("lookup-number")),
		chromedp.SendKeys(chromedp.ID("lookup-number"), number),
		chromedp.SendKeys(chromedp.ID("lookup-seller"), "acme"),
		chromedp.Click(chromedp.ID("lookup-button")))
	row := `#lookup-decisions tr[data-purpose="insurance"][data-channel="call"]`
	a.waitText(row, "Denied")
	a.waitText(row, "The rules do not allow this channel for this purpose.")
	a.waitText(`#lookup-decisions tr[data-purpose="housing"][data-channel="call"]`, "Allowed")
	a.waitText(`#lookup-decisions tr[data-purpose="insurance"][data-channel="sms"]`, "The person's express consent allows the contact.")
	a.waitText("#lookup-report", evidence)
	a.waitText("#lookup-report", "purchase")
	if n, err := chromedp.Run(a.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#lookup-report i").length`)); err != nil || n != 0 {
		t.Fatalf("the evidence was rendered as markup: %d <i> elements (%v)", n, err)
	}
	a.shot("lookup")
	if out := s.do("POST", "/v1/check", map[string]any{"number": number, "channel": "call", "purpose": "insurance"}, http.StatusOK); out["decision"] != "deny" {
		t.Fatalf("the API after the console's save: %v, want deny", out)
	}

	// Roll back to the first version (the confirm dialog is accepted).
	dialogs := chromedp.Events(a.ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(a.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	// A fresh page (the query makes it one), so that the history is
	// rendered once and the click cannot land on a list being replaced.
	a.do("roll back", chromedp.Navigate(base+"/console/?fresh#rules"))
	a.waitText("#rules-current", v2)
	a.do("roll back", chromedp.Click(chromedp.CSS(`.revision[data-version="`+v1+`"] .rollback`)))
	a.waitText("#rules-message", "Rolled back: version "+v1)
	if out := s.do("POST", "/v1/check", map[string]any{"number": number, "channel": "call", "purpose": "insurance"}, http.StatusOK); out["rules_version"] != v1 {
		t.Fatalf("after the rollback: rules_version %v, want %s", out["rules_version"], v1)
	}

	// The audit trail holds the edit, a page at a time.
	a.do("audit search", chromedp.Navigate(base+"/console/#audit"), chromedp.WaitVisible(chromedp.ID("audit-search")))
	a.waitText("#audit-table", "rules.put")
	a.shot("audit")
	a.do("audit page", chromedp.SetValue(chromedp.ID("audit-limit"), "10"), chromedp.Click(chromedp.ID("audit-search")))
	a.waitRows("#audit-table tbody tr", 10, 10)
	a.do("audit more", chromedp.Click(chromedp.ID("audit-more")))
	a.waitRows("#audit-table tbody tr", 11, 20)

	// The export is a download (a link cannot send the key).
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(a.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
	}); err != nil {
		t.Fatal(err)
	}
	a.do("export", chromedp.Click(chromedp.ID("audit-export-csv")))
	var csv []byte
	for deadline := time.Now().Add(30 * time.Second); strings.Count(string(csv), "\n") <= 10; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			got, _ := os.ReadDir(downloads)
			t.Fatalf("no audit.csv with the entries downloaded in 30s; the download directory holds %v, audit.csv %q", got, csv)
		}
		csv, _ = os.ReadFile(filepath.Join(downloads, "audit.csv"))
	}
	if !strings.HasPrefix(string(csv), "seq,time,kind,") || !strings.Contains(string(csv), "rules.put") {
		t.Fatalf("audit.csv:\n%.500s", csv)
	}

	// A list upload: counts, and the bad row with its line.
	file := filepath.Join(t.TempDir(), "numbers.csv")
	if err := os.WriteFile(file, []byte("phone,name\n212-555-0150,a\n(212) 555-0151,b\nnot a number,c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.do("upload", chromedp.Navigate(base+"/console/#lists"))
	a.waitText("#lists-table", "litigator")
	a.do("upload",
		chromedp.SetValue(chromedp.ID("upload-list"), "litigator"),
		chromedp.SetUploadFiles(chromedp.ID("upload-file"), []string{file}),
		chromedp.Click(chromedp.ID("upload-button")))
	a.waitText("#upload-summary", "3 numbers read from numbers.csv: 2 accepted, 2 newly added")
	a.waitText("#upload-result", "1 rejected")
	a.waitText("#upload-progress-text", "100%")
	a.shot("lists")
	if out := s.do("POST", "/v1/check", map[string]any{"number": "2125550151", "channel": "call", "purpose": "insurance"}, http.StatusOK); out["decision"] != "deny" {
		t.Fatalf("an uploaded number: %v, want deny on_list litigator", out)
	}

	// API keys, an admin's screen: create a dialer's key, use it, revoke it
	// (the confirm dialog is accepted), and it is refused.
	a.do("keys", chromedp.Navigate(base+"/console/#keys"))
	a.waitText("#keys-table", "console-dialer")
	a.do("create a key",
		chromedp.SendKeys(chromedp.ID("key-name"), "floor-2"),
		chromedp.SetValue(chromedp.ID("key-role"), "dialer"),
		chromedp.Click(chromedp.ID("key-create")))
	a.waitText("#key-created", "“floor-2” (role dialer)")
	a.waitText("#keys-table", "floor-2")
	secret := a.text("#key-secret")
	a.shot("keys")
	checkWith := func(key string) int {
		return s.statusAs(key, "POST", "/v1/check", `{"number":"+12125550134","channel":"call","purpose":"insurance"}`)
	}
	if got := checkWith(secret); got != http.StatusOK {
		t.Fatalf("a check with the key the console created: status %d, want 200", got)
	}
	a.do("revoke the key", chromedp.Click(chromedp.CSS(`button[data-key="floor-2"]`)))
	a.waitText("#key-message", "“floor-2” is revoked")
	a.waitRows(`button[data-key="floor-2"]`, 0, 0)
	if got := checkWith(secret); got != http.StatusUnauthorized {
		t.Fatalf("a check with the revoked key: status %d, want 401", got)
	}
	// An officer's key may not manage keys: no such screen for it.
	officer := s.do("POST", "/v1/keys", map[string]any{"name": "console-officer", "role": "officer"}, http.StatusCreated)["key"].(string)
	c := newTab(t, root, "officer C", shots)
	c.signIn(base, officer)
	if shown, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`!document.getElementById("nav-keys").hidden`)); err != nil || shown {
		t.Fatalf("an officer sees the API keys link: %v %v", shown, err)
	}
	c.do("open the keys screen", chromedp.Navigate(base+"/console/?officer#keys"))
	c.waitText("#rules-version", "In force: version")
	if shown, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`!document.getElementById("screen-keys").hidden`)); err != nil || shown {
		t.Fatalf("an officer reached the keys screen: %v %v", shown, err)
	}

	a.consoleErrors()
	b.consoleErrors()
	c.consoleErrors()
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}

// setVersion gives a rule document a new version.
func setVersion(t *testing.T, doc, v string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^version: .*$`)
	if !re.MatchString(doc) {
		t.Fatal("the rules have no top-level version line")
	}
	return re.ReplaceAllString(doc, `version: "`+v+`"`)
}
