package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEndToEndOps: the built binary serves /openapi.json and /metrics without
// a key, counts what it served, and logs each request (at debug) as JSON with
// its request id, route, status, latency and decision id.
func TestEndToEndOps(t *testing.T) {
	t.Setenv("CALLFILTER_LOG_LEVEL", "debug")
	s := startServer(t, t.TempDir())
	s.check("2125550134")

	doc := get(t, "http://"+s.addr+"/openapi.json", http.StatusOK)
	var d struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || d.OpenAPI != "3.1.0" || d.Paths["/v1/check"] == nil {
		t.Fatalf("/openapi.json: %v, openapi %q, %d paths", err, d.OpenAPI, len(d.Paths))
	}

	page := string(get(t, "http://"+s.addr+"/metrics", http.StatusOK))
	for _, want := range []string{
		`callfilter_http_requests_total{method="POST",route="/v1/check",status="200"} 1`,
		`callfilter_decisions_total{channel="call",decision="allow",purpose="insurance"} 1`,
		`callfilter_store_calls_total{method="Facts"} 1`,
		`callfilter_list_loaded{list="national"} 1`,
		`callfilter_list_store_scrape_ok 1`,
		`callfilter_build_info{version="dev"} 1`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	var found bool
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "request" || rec["route"] != "/v1/check" {
			continue
		}
		found = true
		for _, k := range []string{"request_id", "decision_id", "took", "status", "time", "level"} {
			if v, ok := rec[k]; !ok || v == "" {
				t.Errorf("request log line lacks %s: %s", k, line)
			}
		}
		if strings.Contains(line, "2125550134") || strings.Contains(line, e2eKey) {
			t.Errorf("request log line holds the number or the key: %s", line)
		}
	}
	if !found {
		t.Errorf("no request log line for /v1/check:\n%s", s.logs)
	}
}

// launch runs the binary with args, env added to the test's environment (a
// later value wins), and returns once it logs that it is serving (over TLS
// if tls): s.addr is the address it logged. Its log is collected in s.logs;
// the test's end kills it if it still runs. Use waitReady for /readyz.
func launch(t *testing.T, args []string, tls bool, env ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, logs: &syncBuffer{}}
	t.Cleanup(s.kill)
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			s.logs.Write(append(line, '\n'))
			var rec struct {
				Msg, Addr string
				TLS       bool
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "serving" && rec.TLS == tls {
				addrc <- rec.Addr
			}
		}
	}()
	select {
	case s.addr = <-addrc:
	case <-time.After(30 * time.Second):
		t.Fatalf("callfilter did not start (tls %v); logs:\n%s", tls, s.logs)
	}
	return s
}

// waitReady waits until s answers 200 on /readyz (plain HTTP).
func (s *server) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("callfilter not ready after 30s; logs:\n%s", s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(t *testing.T, url string, want int) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: status %d, want %d: %s", url, resp.StatusCode, want, body)
	}
	return body
}

// TestEndToEndTLS: with a certificate and key the binary serves HTTPS only.
func TestEndToEndTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeCert(t, dir)
	s := launch(t, []string{"serve", "--config", "../../config.yaml"}, true,
		"CALLFILTER_LISTEN=127.0.0.1:0",
		"CALLFILTER_STORE_PATH="+filepath.Join(dir, "callfilter.db"),
		"CALLFILTER_ADMIN_KEY="+e2eKey,
		"CALLFILTER_TLS_CERT_FILE="+certFile,
		"CALLFILTER_TLS_KEY_FILE="+keyFile,
	)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + s.addr + "/healthz")
	if err != nil {
		t.Fatalf("GET https /healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("GET https /healthz: status %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP on the TLS port gets no HTTP answer.
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get("http://" + s.addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP on the TLS port answered 200")
		}
	}
}

// TestCheckConfigTLSAndRateLimit: check-config refuses half a TLS set-up, an
// unreadable certificate, a negative rate limit and a negative or unreadable
// audit retention, saying how to fix them.
func TestCheckConfigTLSAndRateLimit(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ config, want string }{
		{"http: {tls_cert_file: cert.pem}\n", "set both"},
		{"http: {tls_cert_file: missing.pem, tls_key_file: missing.key}\n", "PEM certificate"},
		{"http: {rate_limit: -1}\n", "http.rate_limit"},
		{"audit: {retention: -1h}\n", "audit.retention"},
		{"audit: {retention: forever}\n", "is not a duration"},
		{"http: {debug_listen: 0.0.0.0:6060}\n", "http.debug_listen"},
		{"http: {debug_listen: 6060}\n", "http.debug_listen"},
		{"scrub: {duplicate_memory_mib: -1}\n", "scrub.duplicate_memory_mib"},
		{"store: {sweep_interval: 10ms}\n", "store.sweep_interval"},
		{"scrub: {job_retention: -1h}\n", "scrub.job_retention"},
		{"store: {sweep_interval: -1h}\n", "store.sweep_interval"},
		{"store: {kind: redis, addrs: [127.0.0.1:6379], wait_replicas: -1}\n", "wait replicas"},
		{"store: {kind: redis, addrs: [127.0.0.1:6379, 127.0.0.1:6380], wait_replicas: 1}\n", "not Cluster mode"},
	} {
		file := filepath.Join(dir, "c.yaml")
		os.WriteFile(file, []byte("rules: "+mustAbs(t, "../../rules.yaml")+"\n"+c.config), 0o600)
		out, err := exec.Command(binary, "check-config", "--config", file).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("check-config %q: %v, want an error saying %q:\n%s", c.config, err, c.want, out)
		}
	}
	certFile, keyFile, _ := writeCert(t, dir)
	file := filepath.Join(dir, "ok.yaml")
	os.WriteFile(file, []byte("rules: "+mustAbs(t, "../../rules.yaml")+"\nhttp: {tls_cert_file: "+certFile+", tls_key_file: "+keyFile+", rate_limit: 100, rate_burst: 200}\n"), 0o600)
	if out, err := exec.Command(binary, "check-config", "--config", file).CombinedOutput(); err != nil {
		t.Errorf("check-config with TLS and a rate limit: %v\n%s", err, out)
	}
	for _, retention := range []string{"0", "43800h", "720h30m"} {
		os.WriteFile(file, []byte("rules: "+mustAbs(t, "../../rules.yaml")+"\naudit: {retention: "+retention+"}\n"), 0o600)
		if out, err := exec.Command(binary, "check-config", "--config", file).CombinedOutput(); err != nil {
			t.Errorf("check-config with audit.retention %s: %v\n%s", retention, err, out)
		}
	}
}

// TestEndToEndDebugProfiles: http.debug_listen serves Go's profiles on its
// own loopback port, and the API's port does not.
func TestEndToEndDebugProfiles(t *testing.T) {
	t.Setenv("CALLFILTER_DEBUG_LISTEN", "127.0.0.1:0")
	s := startServer(t, t.TempDir())
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving Go profiles" {
				addr = rec.Addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"serving Go profiles\" line; logs:\n%s", s.logs)
		}
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("profiles served on %s, want loopback", addr)
	}
	if got := get(t, "http://"+addr+"/debug/pprof/", http.StatusOK); !strings.Contains(string(got), "goroutine") {
		t.Errorf("/debug/pprof/: %.200s", got)
	}
	if got := get(t, "http://"+addr+"/debug/pprof/profile?seconds=1", http.StatusOK); len(got) == 0 {
		t.Error("an empty CPU profile")
	}
	if got := get(t, "http://"+addr+"/debug/pprof/trace?seconds=1", http.StatusOK); len(got) == 0 {
		t.Error("an empty execution trace")
	}
	get(t, "http://"+s.addr+"/debug/pprof/", http.StatusNotFound)
}

func mustAbs(t *testing.T, p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "callfilter test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
