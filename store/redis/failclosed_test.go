package redis_test

import (
	"callfilter/store/redis/redistest"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/filter"
	cfredis "callfilter/store/redis"
)

func wantKind(t *testing.T, err error, want filter.Kind, what string) {
	t.Helper()
	if _, ok := errors.AsType[*filter.Error](err); !ok || filter.ErrorKind(err) != want {
		t.Fatalf("%s: got %T %v (kind %s), want a *filter.Error of kind %s", what, err, err, filter.ErrorKind(err), want)
	}
}

func TestOpenUnreachable(t *testing.T) {
	addr := "127.0.0.1:" + itoa(redistest.FreePort(t)) // nothing listens there
	start := time.Now()
	_, err := cfredis.Open(t.Context(), cfredis.Options{Addrs: []string{addr}, DialTimeout: 200 * time.Millisecond})
	wantKind(t, err, filter.EUnavailable, "Open of an address where nothing listens")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Open of an unreachable server took %v", d)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts cfredis.Options
		ok   bool
	}{
		{"one address", cfredis.Options{Addrs: []string{"127.0.0.1:6379"}}, true},
		{"cluster seeds", cfredis.Options{Addrs: []string{"a:1", "b:2"}}, true},
		{"no address", cfredis.Options{}, false},
		{"not host:port", cfredis.Options{Addrs: []string{"localhost"}}, false},
		{"braces in prefix", cfredis.Options{Addrs: []string{"a:1"}, KeyPrefix: "cf{x}"}, false},
		{"db in cluster", cfredis.Options{Addrs: []string{"a:1", "b:2"}, DB: 3}, false},
		{"negative timeout", cfredis.Options{Addrs: []string{"a:1"}, ReadTimeout: -1}, false},
		{"negative pool", cfredis.Options{Addrs: []string{"a:1"}, PoolSize: -1}, false},
		{"retries below -1", cfredis.Options{Addrs: []string{"a:1"}, MaxRetries: -2}, false},
		{"wait replicas on a primary", cfredis.Options{Addrs: []string{"a:1"}, WaitReplicas: 1}, true},
		{"wait replicas through a sentinel", cfredis.Options{Addrs: []string{"a:1", "b:2"}, MasterName: "m", WaitReplicas: 2}, true},
		{"wait replicas in cluster", cfredis.Options{Addrs: []string{"a:1", "b:2"}, WaitReplicas: 1}, false},
		{"negative wait replicas", cfredis.Options{Addrs: []string{"a:1"}, WaitReplicas: -1}, false},
		{"negative wait timeout", cfredis.Options{Addrs: []string{"a:1"}, WaitReplicas: 1, WaitTimeout: -1}, false},
	} {
		err := tc.opts.Validate()
		if tc.ok && err != nil {
			t.Errorf("%s: got %v, want valid", tc.name, err)
		}
		if !tc.ok {
			if err == nil {
				t.Errorf("%s: got valid, want an error", tc.name)
			} else if filter.ErrorKind(err) != filter.EInvalid {
				t.Errorf("%s: got kind %s, want invalid", tc.name, filter.ErrorKind(err))
			}
		}
	}
}

// TestFailClosed kills the store's server mid-test: reads and reservations
// then fail with EUnavailable within the configured timeouts, never hang.
func TestFailClosed(t *testing.T) {
	addr, cmd := redistest.Start(t)
	st := mustOpen(t, cfredis.Options{Addrs: []string{addr}, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, PoolTimeout: 200 * time.Millisecond})
	subj := sha256.Sum256([]byte("fail-closed"))
	q := filter.FactsQuery{Key: 12125550134, Lists: []string{"federal"}, Subject: subj, Seller: "acme",
		Purpose: "insurance", Channel: filter.ChannelCall, AttemptsSince: time.Now().Add(-time.Hour)}
	rq := filter.ReserveQuery{Subject: subj, Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall,
		At: time.Now(), Caps: []filter.Cap{{Max: 3, Window: time.Hour}}}
	if _, err := st.AddToList(t.Context(), "federal", []uint64{12125550134}); err != nil {
		t.Fatal(err)
	}
	if f, err := st.Facts(t.Context(), q); err != nil || f.ListState("federal") != filter.ListPresent {
		t.Fatalf("Facts before the kill: %+v, %v", f, err)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	for name, call := range map[string]func(ctx context.Context) error{
		"Facts": func(ctx context.Context) error {
			f, err := st.Facts(ctx, q)
			if err == nil {
				t.Errorf("Facts after the kill returned facts %+v", f)
			}
			return err
		},
		"Reserve": func(ctx context.Context) error {
			ok, err := st.Reserve(ctx, rq)
			if ok {
				t.Error("Reserve after the kill granted")
			}
			return err
		},
		"AddToList": func(ctx context.Context) error {
			_, err := st.AddToList(ctx, "federal", []uint64{1})
			return err
		},
	} {
		start := time.Now()
		err := call(t.Context())
		wantKind(t, err, filter.EUnavailable, name+" with the server killed")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s with the server killed took %v, want well under 2s", name, d)
		}
	}

	// A context deadline bounds a call too.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := st.Facts(ctx, q)
	wantKind(t, err, filter.EUnavailable, "Facts with a deadline and the server killed")
	if d := time.Since(start); d > time.Second {
		t.Errorf("Facts with a 50ms deadline took %v", d)
	}
}

// TestClusterConcurrentReserve races 50 reservations for one key under a cap
// of 3 on the Cluster: exactly 3 are granted.
func TestClusterConcurrentReserve(t *testing.T) {
	st := MustOpenCluster(t)
	const racers, limit = 50, 3
	base := time.Now().Truncate(time.Millisecond)
	for round := range 3 {
		subj := sha256.Sum256([]byte("cluster-race-" + itoa(round)))
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			granted int
		)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				ok, err := st.Reserve(t.Context(), filter.ReserveQuery{Subject: subj, Seller: "acme", Purpose: "insurance",
					Channel: filter.ChannelSMS, At: base.Add(time.Duration(i) * time.Millisecond),
					Caps: []filter.Cap{{Max: limit, Window: 24 * time.Hour}}})
				if err != nil {
					t.Errorf("Reserve: %v", err)
				}
				if ok {
					mu.Lock()
					granted++
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if granted != limit {
			t.Fatalf("round %d: %d racers, cap %d: %d granted, want exactly %d", round, racers, limit, granted, limit)
		}
		f, err := st.Facts(t.Context(), filter.FactsQuery{Subject: subj, Seller: "acme", Purpose: "insurance",
			Channel: filter.ChannelSMS, AttemptsSince: base.Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Attempts) != limit {
			t.Fatalf("round %d: %d attempts recorded, want %d", round, len(f.Attempts), limit)
		}
	}
}

// TestScriptFlushed flushes the server's script cache (as a restart or a
// failover does): the scripts are sent again (EVALSHA falls back to EVAL).
func TestScriptFlushed(t *testing.T) {
	addr, _ := redistest.Start(t)
	st := mustOpen(t, cfredis.Options{Addrs: []string{addr}})
	subj := sha256.Sum256([]byte("flush"))
	rq := filter.ReserveQuery{Subject: subj, Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall,
		At: time.Now(), Caps: []filter.Cap{{Max: 2, Window: time.Hour}}}
	for i, want := range []bool{true, true, false} {
		if i > 0 {
			c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
			if err := c.ScriptFlush(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		ok, err := st.Reserve(t.Context(), rq)
		if err != nil || ok != want {
			t.Fatalf("Reserve #%d after SCRIPT FLUSH: got %v, %v, want %v, nil", i+1, ok, err, want)
		}
	}
}
