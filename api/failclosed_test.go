package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/store"
)

// newFaultyEnv is newEnv over a store that fails when told to.
func newFaultyEnv(t *testing.T, cfgs ...func(*envConfig)) (*env, *store.Faulty) {
	t.Helper()
	var faulty *store.Faulty
	cfgs = append(cfgs, func(c *envConfig) {
		c.wrap = func(s filter.Store) filter.Store {
			faulty = store.NewFaulty(s)
			return faulty
		}
	})
	return newEnv(t, cfgs...), faulty
}

// TestFailClosed proves invariant 1 through HTTP: whatever part of the store
// fails, a check is a deny with reason unavailable (or, when the key itself
// cannot be read, a 503), never an allow.
func TestFailClosed(t *testing.T) {
	e, faulty := newFaultyEnv(t, func(c *envConfig) { c.opts.RequestTimeout = 100 * time.Millisecond })
	clean := checkBody(nyClean, "call", atWednesday, `"seller":"acme"`)
	reserve := checkBody(nyClean, "call", atWednesday, `"seller":"acme"`, `"reserve":true`)
	// Healthy first: the number is allowed (and the dialer key is cached).
	if r := e.check(t, clean); r.Decision != "allow" {
		t.Fatalf("healthy: %s %v, want allow", r.Decision, r.codes())
	}

	for _, tc := range []struct {
		name   string
		fail   func()
		bodies []string
	}{
		{"facts fail", func() { faulty.FailOn(store.MethodFacts, nil) }, []string{clean, reserve}},
		{"reserve fails", func() { faulty.FailOn(store.MethodReserve, nil) }, []string{reserve}},
		{"everything fails", func() { faulty.FailAll(fmt.Errorf("disk on fire")) }, []string{clean, reserve}},
		{"store too slow", func() { faulty.Delay(time.Second) }, []string{clean, reserve}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Healthy again first (which also keeps the dialer key cached).
			if r := e.check(t, clean); r.Decision != "allow" {
				t.Fatalf("healthy: %s %v, want allow", r.Decision, r.codes())
			}
			tc.fail()
			defer faulty.Heal()
			for _, body := range tc.bodies {
				r := e.check(t, body)
				if r.Decision != "deny" || !r.has("unavailable", "") {
					t.Errorf("%s: %s %v, want deny unavailable", body, r.Decision, r.codes())
				}
				res := e.do(t, filter.RoleDialer, "POST", "/v1/check/batch", `{"items":[`+body+`,`+body+`]}`)
				if res.status != http.StatusOK {
					t.Fatalf("batch: status %d: %s", res.status, res.body)
				}
				var out struct {
					Results []checkResult `json:"results"`
				}
				decode(t, res, &out)
				for i, r := range out.Results {
					if r.Decision != "deny" || !r.has("unavailable", "") {
						t.Errorf("batch results[%d]: %s %v, want deny unavailable", i, r.Decision, r.codes())
					}
				}
			}
		})
	}

	// Concurrent checks while the store flaps: not one allow.
	t.Run("flapping", func(t *testing.T) {
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				faulty.FailOn(store.MethodFacts, nil)
				time.Sleep(time.Millisecond)
				faulty.Heal()
				time.Sleep(time.Millisecond)
			}
		})
		// Each answer is an allow (Facts read) or a deny with unavailable
		// (Facts failed): never another deny, never an error.
		var otherDenies int
		var mu sync.Mutex
		var checks sync.WaitGroup
		for range 8 {
			checks.Go(func() {
				for range 25 {
					res := e.do(t, filter.RoleDialer, "POST", "/v1/check", clean)
					r, err := validateCheck(res.body)
					if res.status != http.StatusOK || err != nil {
						t.Errorf("status %d (%v): %s", res.status, err, res.body)
						return
					}
					if r.Decision == "deny" && !r.has("unavailable", "") {
						mu.Lock()
						otherDenies++
						mu.Unlock()
					}
				}
			})
		}
		checks.Wait()
		close(stop)
		wg.Wait()
		faulty.Heal()
		if otherDenies > 0 {
			t.Errorf("%d denies for a reason other than unavailable", otherDenies)
		}
	})

	t.Run("key unreadable", func(t *testing.T) {
		// The officer key was never used, so it is not cached: the store must
		// be read to authenticate it. A store failure is a 503, not a 401.
		faulty.FailAll(nil)
		defer faulty.Heal()
		res := e.do(t, filter.RoleOfficer, "POST", "/v1/check", clean)
		if res.status != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503: %s", res.status, res.body)
		}
		if got := errorOf(t, res); got.Error.Code != "unavailable" || strings.Contains(got.Error.Message, "injected") {
			t.Errorf("error %+v, want unavailable without the cause", got.Error)
		}
	})

	t.Run("writes", func(t *testing.T) {
		// Authenticate (and cache) the admin key while the store is healthy,
		// so that the writes themselves meet the failure.
		if res := e.do(t, filter.RoleAdmin, "GET", "/v1/keys", ""); res.status != http.StatusOK {
			t.Fatalf("GET /v1/keys: %d %s", res.status, res.body)
		}
		faulty.FailAll(nil)
		defer faulty.Heal()
		for _, w := range []struct{ path, body string }{
			{"/v1/optouts", `{"number":"` + nyOptOut + `","source":"call"}`},
			{"/v1/lists/internal/numbers", `{"numbers":["` + nyOptOut + `"]}`},
			{"/v1/consents", `{"number":"` + nySMS + `","seller":"acme","purpose":"insurance","channel":"sms","source":"web"}`},
		} {
			res := e.do(t, filter.RoleAdmin, "POST", w.path, w.body)
			if res.status != http.StatusServiceUnavailable {
				t.Errorf("POST %s: status %d, want 503: %s", w.path, res.status, res.body)
				continue
			}
			if got := errorOf(t, res).Error.Code; got != "unavailable" {
				t.Errorf("POST %s: code %q, want unavailable", w.path, got)
			}
		}
	})
}
