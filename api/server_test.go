package api_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"callfilter/filter"
)

// serve starts e's server on a loopback port and returns its address; the
// server is shut down when the test ends.
func serve(tb testing.TB, e *env) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.Listener(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.srv.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

// TestShutdownWithIdleKeepAlive: a client holding an idle keep-alive
// connection must not keep Shutdown waiting (fiber #942, #1146).
func TestShutdownWithIdleKeepAlive(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.srv.Listener(ln) }()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/v1/check", strings.NewReader(checkBody(nyClean, "call", atWednesday)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.keys[filter.RoleDialer])
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	// The connection now sits idle in the client's pool.

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Shutdown took %v with an idle keep-alive connection", took)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Listener returned %v after Shutdown, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Listener did not return after Shutdown")
	}
}

// TestRealConnection runs a check over TCP, as a dialer would.
func TestRealConnection(t *testing.T) {
	e := newEnv(t)
	addr := serve(t, e)
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/check", strings.NewReader(checkBody(nyClean, "call", atWednesday)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.keys[filter.RoleDialer])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if r, err := validateCheck(body); err != nil || r.Decision != "allow" {
		t.Fatalf("%s (%v), want allow", body, err)
	}
}
