package feed

import (
	"callfilter/store/redis/redistest"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/service"
	cfredis "callfilter/store/redis"
)

// The tests run against real redis-server processes (package redistest):
// the shared server on 127.0.0.1:6379 when it answers, each test under its
// own key prefix, and servers started here for the tests that kill Redis.

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

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
