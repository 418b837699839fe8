package redis_test

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

	"callfilter/filter"
	"callfilter/store"
	cfredis "callfilter/store/redis"
)

// The tests run against real redis-server processes: the server on
// 127.0.0.1:6379 when it answers (each test under its own key prefix, deleted
// afterwards; never FLUSHALL), else one started here; and a 3-node Cluster
// started here. Servers started here are killed by PID in TestMain.

var (
	procsMu sync.Mutex
	procs   []*exec.Cmd
	tmpRoot string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cfredis-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpRoot = dir
	goredis.SetLogger(quiet{}) // dial failures are expected in the fail-closed tests
	code := m.Run()
	procsMu.Lock()
	for _, p := range procs {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
	procsMu.Unlock()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func ping(addr string) bool {
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err() == nil
}

// startServer starts redis-server on a free loopback port with extra args and
// returns its address and process. The process is killed in TestMain, or
// earlier by the caller.
func startServer(tb testing.TB, extra ...string) (string, *exec.Cmd) {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatal("redis-server is not installed: install it (apt-get install redis-server) to run these tests")
	}
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(tb)
		dir := filepath.Join(tmpRoot, strconv.Itoa(port))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--logfile", filepath.Join(dir, "log")}, extra...)
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start redis-server: %v", err)
		}
		procsMu.Lock()
		procs = append(procs, cmd)
		procsMu.Unlock()
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if ping(addr) {
				return addr, cmd
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	tb.Fatal("redis-server did not answer PING after 3 attempts")
	return "", nil
}

var (
	standaloneOnce sync.Once
	standalone     string
)

// standaloneAddr is the server on 127.0.0.1:6379 if it answers, else one
// started for the tests.
func standaloneAddr(tb testing.TB) string {
	tb.Helper()
	standaloneOnce.Do(func() {
		if ping("127.0.0.1:6379") {
			standalone = "127.0.0.1:6379"
			return
		}
		standalone, _ = startServer(tb)
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

// clusterAddrs starts a 3-primary Cluster once and waits until it is ok.
func clusterAddrs(tb testing.TB) []string {
	tb.Helper()
	clusterOnce.Do(func() {
		var addrs []string
		for range 3 {
			port := freePort(tb)
			dir := filepath.Join(tmpRoot, "cluster")
			_ = os.MkdirAll(dir, 0o755)
			addr, _ := startServer(tb, "--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d-%d.conf", port, time.Now().UnixNano())))
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

func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "cftest-" + hex.EncodeToString(b[:])
}

var optsOf sync.Map // *cfredis.Store → cfredis.Options

// mustOpen opens a store with opts and registers its Close.
func mustOpen(tb testing.TB, opts cfredis.Options) *cfredis.Store {
	tb.Helper()
	st, err := cfredis.Open(context.Background(), opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	optsOf.Store(st, opts)
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

// cleanupPrefix deletes the keys of prefix on a standalone server.
func cleanupPrefix(tb testing.TB, addr, prefix string) {
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

// MustOpenStandalone opens a store under a fresh prefix on the standalone
// server; its keys are deleted when tb ends.
func MustOpenStandalone(tb testing.TB) *cfredis.Store {
	tb.Helper()
	addr := standaloneAddr(tb)
	prefix := randomPrefix()
	cleanupPrefix(tb, addr, prefix)
	return mustOpen(tb, cfredis.Options{Addrs: []string{addr}, KeyPrefix: prefix})
}

// MustOpenCluster opens a store under a fresh prefix on the test Cluster.
func MustOpenCluster(tb testing.TB) *cfredis.Store {
	tb.Helper()
	return mustOpen(tb, cfredis.Options{Addrs: clusterAddrs(tb), KeyPrefix: randomPrefix()})
}

func reopen(t *testing.T, s filter.Store) filter.Store {
	t.Helper()
	opts, ok := optsOf.Load(s)
	if !ok {
		t.Fatal("reopen: unknown store")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return mustOpen(t, opts.(cfredis.Options))
}

func TestStandalone(t *testing.T) {
	store.Suite{
		Open:   func(t *testing.T) filter.Store { return MustOpenStandalone(t) },
		Reopen: reopen,
	}.Run(t)
}

func TestCluster(t *testing.T) {
	store.Suite{
		Open:   func(t *testing.T) filter.Store { return MustOpenCluster(t) },
		Reopen: reopen,
	}.Run(t)
}
