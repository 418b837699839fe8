// Package redistest runs real redis-server processes for tests: the shared
// server on 127.0.0.1:6379 when it answers (each test under its own key
// prefix, deleted afterwards; never FLUSHALL), servers started on free
// loopback ports, and a 3-primary Cluster. Every server it starts is killed
// by PID when Main returns. A missing redis-server fails the test, never
// skips it: CI installs it.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

var (
	mu    sync.Mutex
	procs []*exec.Cmd
	root  string
)

// Main runs the tests of a package and then stops every server started for
// them. Use it from TestMain: os.Exit(redistest.Main(m)).
func Main(m *testing.M) int {
	goredis.SetLogger(quiet{}) // dial failures are expected in fail-closed tests
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	for _, p := range procs {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
	if root != "" {
		_ = os.RemoveAll(root)
	}
	return code
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Dir returns a fresh folder named name under this run's temporary root.
func Dir(tb testing.TB, name string) string {
	tb.Helper()
	mu.Lock()
	if root == "" {
		dir, err := os.MkdirTemp("", "callfilter-redis-")
		if err != nil {
			mu.Unlock()
			tb.Fatal(err)
		}
		root = dir
	}
	dir := filepath.Join(root, name)
	mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// FreePort returns a loopback port nothing listens on now.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Ping reports whether a Redis server answers at addr within a second.
func Ping(addr string) bool {
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err() == nil
}

// StartAt starts redis-server on port with its files in dir (no RDB
// snapshots; extra args appended) and waits for PING. It is killed when Main
// returns, or earlier with Kill.
func StartAt(tb testing.TB, port int, dir string, extra ...string) *exec.Cmd {
	tb.Helper()
	cmd, ok := startAt(tb, port, dir, extra...)
	if !ok {
		tb.Fatalf("redis-server on port %d did not answer PING", port)
	}
	return cmd
}

func startAt(tb testing.TB, port int, dir string, extra ...string) (*exec.Cmd, bool) {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatal("redis-server is not installed: install it (apt-get install redis-server) to run these tests")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--dir", dir, "--logfile", filepath.Join(dir, "log")}, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	mu.Lock()
	procs = append(procs, cmd)
	mu.Unlock()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if Ping(addr) {
			return cmd, true
		}
	}
	Kill(cmd)
	return nil, false
}

// Start starts redis-server without persistence on a free loopback port
// (trying three ports) and returns its address and process.
func Start(tb testing.TB, extra ...string) (string, *exec.Cmd) {
	tb.Helper()
	for range 3 {
		port := FreePort(tb)
		args := append([]string{"--appendonly", "no"}, extra...)
		if cmd, ok := startAt(tb, port, Dir(tb, strconv.Itoa(port)), args...); ok {
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd
		}
	}
	tb.Fatal("redis-server did not answer PING after 3 attempts")
	return "", nil
}

// Kill stops a server with SIGKILL and reaps it.
func Kill(cmd *exec.Cmd) {
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

var (
	standaloneOnce sync.Once
	standalone     string
)

// Standalone is the server on 127.0.0.1:6379 if it answers, else one started
// for the tests.
func Standalone(tb testing.TB) string {
	tb.Helper()
	standaloneOnce.Do(func() {
		if Ping("127.0.0.1:6379") {
			standalone = "127.0.0.1:6379"
			return
		}
		standalone, _ = Start(tb)
	})
	if standalone == "" {
		tb.Fatal("no standalone redis-server")
	}
	return standalone
}

var (
	clusterOnce sync.Once
	cluster     []string
	clusterErr  string
)

// Cluster starts a 3-primary Cluster once and waits until it is ok.
func Cluster(tb testing.TB) []string {
	tb.Helper()
	clusterOnce.Do(func() {
		var addrs []string
		dir := Dir(tb, "cluster")
		for range 3 {
			addr, _ := Start(tb, "--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", time.Now().UnixNano())))
			addrs = append(addrs, addr)
		}
		cli, err := exec.LookPath("redis-cli")
		if err != nil {
			clusterErr = "redis-cli is not installed: install redis-tools"
			return
		}
		args := append([]string{"--cluster", "create"}, addrs...)
		args = append(args, "--cluster-replicas", "0", "--cluster-yes")
		if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
			clusterErr = fmt.Sprintf("redis-cli --cluster create: %v\n%s", err, out)
			return
		}
		deadline := time.Now().Add(15 * time.Second)
		for _, a := range addrs {
			for {
				c := goredis.NewClient(&goredis.Options{Addr: a, DisableIdentity: true})
				info, _ := c.ClusterInfo(context.Background()).Result()
				c.Close()
				if strings.Contains(info, "cluster_state:ok") {
					break
				}
				if time.Now().After(deadline) {
					clusterErr = "cluster did not reach cluster_state:ok in 15s on " + a
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		cluster = addrs
	})
	if cluster == nil {
		tb.Fatal("no cluster: " + clusterErr)
	}
	return cluster
}

// RandomPrefix returns a fresh key prefix, so tests never meet each other's
// keys on a shared server.
func RandomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "cftest-" + hex.EncodeToString(b[:])
}

// CleanupPrefix deletes the keys of prefix on the server at addr when tb ends.
func CleanupPrefix(tb testing.TB, addr, prefix string) {
	tb.Cleanup(func() {
		c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 500 {
				c.Unlink(ctx, batch...)
				batch = batch[:0]
			}
		}
		if len(batch) > 0 {
			c.Unlink(ctx, batch...)
		}
	})
}
