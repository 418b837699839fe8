package feed

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
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/service"
	cfredis "callfilter/store/redis"
)

// The tests run against real redis-server processes: the shared server on
// 127.0.0.1:6379 when it answers (each test under its own key prefix, deleted
// afterwards; never FLUSHALL), else one started here; and servers started
// here for the tests that kill Redis. Servers started here are killed by PID
// in TestMain.

var (
	procsMu sync.Mutex
	procs   []*exec.Cmd
	tmpRoot string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cffeed-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpRoot = dir
	goredis.SetLogger(quiet{})
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

// startServerAt starts redis-server on port with its files in dir and waits
// for PING. The process is killed in TestMain, or earlier by the caller.
func startServerAt(tb testing.TB, port int, dir string, extra ...string) *exec.Cmd {
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
	procsMu.Lock()
	procs = append(procs, cmd)
	procsMu.Unlock()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ping(addr) {
			return cmd
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	tb.Fatalf("redis-server on %s did not answer PING", addr)
	return nil
}

// kill stops a server started here with SIGKILL and reaps it.
func kill(cmd *exec.Cmd) {
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

var (
	sharedOnce sync.Once
	shared     string
)

// sharedAddr is the server on 127.0.0.1:6379 if it answers, else one started
// for the tests.
func sharedAddr(tb testing.TB) string {
	tb.Helper()
	sharedOnce.Do(func() {
		if ping("127.0.0.1:6379") {
			shared = "127.0.0.1:6379"
			return
		}
		port := freePort(tb)
		startServerAt(tb, port, filepath.Join(tmpRoot, strconv.Itoa(port)), "--appendonly", "no")
		shared = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	})
	return shared
}

func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "cftest-feed-" + hex.EncodeToString(b[:])
}

// cleanupPrefix deletes the keys of prefix when tb ends.
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

// at is a Wednesday, 10:00 in New York: inside every US calling window.
var at = time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)

// stack is one callfilter instance minus HTTP: its own store connection,
// filters, change feed and service, on a shared Redis.
type stack struct {
	st    *cfredis.Store
	lists *dnc.Lists
	feed  *Feed
	svc   *service.Service
	rules *filter.RuleSet
}

// newStack builds an instance on Redis at addr under prefix. load says
// whether to Load the rules' lists through the feed.
func newStack(tb testing.TB, opts cfredis.Options, fopts Options, load bool) *stack {
	tb.Helper()
	rs, err := filter.LoadRules("../rules.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	st, err := cfredis.Open(context.Background(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	lists := dnc.New(st, dnc.Options{})
	f := New(st, lists, fopts)
	svc, err := service.New(st, lists, rs, service.Options{
		Hasher: filter.NewHasher([]byte("feed-test-secret-0123")),
		Synced: f.Synced,
		Health: f.Health,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		f.Close()
		lists.Close()
		_ = st.Close()
	})
	s := &stack{st: st, lists: lists, feed: f, svc: svc, rules: rs}
	if load {
		if err := f.Load(context.Background(), rs.ListNames()); err != nil {
			tb.Fatal(err)
		}
		waitFor(tb, 5*time.Second, "feed synced", f.Synced)
	}
	return s
}

// check asks whether number may be called about insurance at the test instant.
func (s *stack) check(tb testing.TB, number string) filter.Decision {
	tb.Helper()
	res, err := s.svc.Check(context.Background(), service.CheckInput{Number: number, Channel: "call", Purpose: "insurance", Seller: "acme", At: at})
	if err != nil {
		tb.Fatalf("check %s: %v", number, err)
	}
	return res.Decision
}

func (s *stack) add(tb testing.TB, list string, numbers ...string) {
	tb.Helper()
	if _, err := s.svc.AddNumbers(context.Background(), list, numbers, "US"); err != nil {
		tb.Fatalf("add %v to %s: %v", numbers, list, err)
	}
}

func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, d)
		}
	}
}

func number(i int) string { return fmt.Sprintf("+1212736%04d", i) }
