package redis_test

import (
	"callfilter/store/redis/redistest"
	"context"
	"os"
	"sync"
	"testing"

	"callfilter/filter"
	"callfilter/store"
	cfredis "callfilter/store/redis"
)

// The tests run against real redis-server processes (package redistest):
// the server on 127.0.0.1:6379 when it answers, each test under its own key
// prefix, and a 3-node Cluster started for them.

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

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

// MustOpenStandalone opens a store under a fresh prefix on the standalone
// server; its keys are deleted when tb ends.
func MustOpenStandalone(tb testing.TB) *cfredis.Store {
	tb.Helper()
	addr := redistest.Standalone(tb)
	prefix := redistest.RandomPrefix()
	redistest.CleanupPrefix(tb, addr, prefix)
	return mustOpen(tb, cfredis.Options{Addrs: []string{addr}, KeyPrefix: prefix})
}

// MustOpenCluster opens a store under a fresh prefix on the test Cluster.
func MustOpenCluster(tb testing.TB) *cfredis.Store {
	tb.Helper()
	return mustOpen(tb, cfredis.Options{Addrs: redistest.Cluster(tb), KeyPrefix: redistest.RandomPrefix()})
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
