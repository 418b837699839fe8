package service_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/service"
	"callfilter/store"
	"callfilter/store/embedded"
)

// at is a Wednesday, 10:00 in New York: inside every US calling window.
var at = time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)

type env struct {
	svc    *service.Service
	faulty *store.Faulty
	lists  *dnc.Lists
}

// newEnv builds the real stack (embedded store behind the failure-injecting
// wrapper, bloom lists, the shipped rules); load says whether lists are loaded.
func newEnv(tb testing.TB, load bool) *env {
	tb.Helper()
	rs, err := filter.LoadRules("../rules.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	f := store.NewFaulty(embedded.MustOpenTemp(tb))
	lists := dnc.New(f, dnc.Options{})
	tb.Cleanup(lists.Close)
	if load {
		if err := lists.Load(context.Background(), rs.ListNames()); err != nil {
			tb.Fatal(err)
		}
	}
	svc, err := service.New(f, lists, rs, service.Options{Hasher: filter.NewHasher([]byte("service-test-secret"))})
	if err != nil {
		tb.Fatal(err)
	}
	return &env{svc: svc, faulty: f, lists: lists}
}

func (e *env) check(tb testing.TB, in service.CheckInput) filter.Decision {
	tb.Helper()
	if in.At.IsZero() {
		in.At = at
	}
	res, err := e.svc.Check(context.Background(), in)
	if err != nil {
		tb.Fatalf("check %+v: %v", in, err)
	}
	return res.Decision
}

func codes(d filter.Decision) []filter.ReasonCode {
	var out []filter.ReasonCode
	for _, r := range d.Reasons {
		out = append(out, r.Code)
	}
	return out
}

// TestFailClosed: whatever part of the store fails, and before the lists are
// loaded, every check denies with unavailable — never allow.
func TestFailClosed(t *testing.T) {
	inputs := []service.CheckInput{
		{Number: "+12125550134", Channel: "call", Purpose: "insurance", Seller: "acme"},
		{Number: "+12125550134", Channel: "sms", Purpose: "housing", Seller: "acme"},
		{Number: "+12125550134", Channel: "call", Purpose: "insurance", Seller: "acme", Reserve: true},
		{Number: "+8613800138000", Channel: "call", Purpose: "insurance", At: time.Date(2026, 11, 18, 3, 0, 0, 0, time.UTC)},
	}
	e := newEnv(t, true)
	e.faulty.FailOn(store.MethodFacts, nil)
	for _, in := range inputs {
		if d := e.check(t, in); d.Outcome != filter.Deny || !d.Has(filter.ReasonUnavailable) {
			t.Errorf("facts unreadable, %+v: got %s %v, want deny unavailable", in, d.Outcome, codes(d))
		}
	}
	// Reserve is consulted only after an allow, for checks that ask for it.
	e = newEnv(t, true)
	e.faulty.FailOn(store.MethodReserve, nil)
	if d := e.check(t, inputs[2]); d.Outcome != filter.Deny || !d.Has(filter.ReasonUnavailable) {
		t.Errorf("reservation unwritable: got %s %v, want deny unavailable", d.Outcome, codes(d))
	}
	if d := e.check(t, inputs[0]); d.Outcome != filter.Allow {
		t.Errorf("no reservation asked, Reserve failing: got %s %v, want allow", d.Outcome, codes(d))
	}
	e = newEnv(t, false)
	for _, in := range inputs {
		if d := e.check(t, in); d.Outcome != filter.Deny || !d.Has(filter.ReasonUnavailable) {
			t.Errorf("lists not loaded, %+v: got %s %v, want deny unavailable", in, d.Outcome, codes(d))
		}
	}
}

// TestListedAtOnce: a number is denied on this instance as soon as the add
// returns, and an entry the parser cannot read is reported with its index.
func TestListedAtOnce(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	in := service.CheckInput{Number: "(212) 555-0134", Channel: "call", Purpose: "insurance", Seller: "acme"}
	if d := e.check(t, in); d.Outcome != filter.Allow {
		t.Fatalf("before listing: got %s %v, want allow", d.Outcome, codes(d))
	}
	ch, err := e.svc.AddNumbers(ctx, "litigator", []string{"junk", "+1 212 555 0134", ""}, "")
	if err != nil {
		t.Fatal(err)
	}
	if ch.Accepted != 1 || ch.Changed != 1 || len(ch.Rejected) != 2 || ch.Rejected[0].Index != 0 || ch.Rejected[1].Index != 2 ||
		ch.Rejected[0].Code != filter.CodeInvalidNumber || ch.Rejected[1].Code != filter.CodeMissingNumber {
		t.Fatalf("add: got %+v", ch)
	}
	d := e.check(t, in)
	if d.Outcome != filter.Deny || !d.Has(filter.ReasonOnList) || d.Reasons[0].List != "litigator" {
		t.Fatalf("after listing: got %s %+v, want deny on_list litigator", d.Outcome, d.Reasons)
	}
	if _, err := e.svc.AddNumbers(ctx, "Bad Name", []string{"2125550134"}, ""); filter.ErrorCode(err) != "invalid_list" {
		t.Errorf("bad list name: got %v, want invalid_list", err)
	}
}

// TestOptOutBeatsConsentAndRelationship: an opt-out puts the number on the
// company list, which no consent or relationship exempts, for every seller.
func TestOptOutBeatsConsentAndRelationship(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	num := "2125550150"
	if err := e.svc.PutConsent(ctx, service.ConsentInput{Number: num, Seller: "acme", Purpose: "insurance", Channel: "sms", Source: "form", GrantedAt: at.AddDate(0, -1, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.PutRelationship(ctx, service.RelationshipInput{Number: num, Seller: "acme", Kind: "purchase", At: at.AddDate(0, -2, 0)}); err != nil {
		t.Fatal(err)
	}
	sms := service.CheckInput{Number: num, Channel: "sms", Purpose: "insurance", Seller: "acme"}
	if d := e.check(t, sms); d.Outcome != filter.Allow {
		t.Fatalf("with consent: got %s %v, want allow", d.Outcome, codes(d))
	}
	res, err := e.svc.OptOut(ctx, service.OptOutInput{Number: "+1 212-555-0150", Seller: "acme", Source: "sms-reply", At: at.Add(-time.Hour)})
	if err != nil || !res.Listed || res.Revoked != 1 {
		t.Fatalf("opt-out: got %+v, %v; want listed and 1 revoked", res, err)
	}
	for _, in := range []service.CheckInput{sms,
		{Number: num, Channel: "call", Purpose: "insurance", Seller: "acme"},
		{Number: num, Channel: "call", Purpose: "housing", Seller: "other"},
	} {
		d := e.check(t, in)
		if d.Outcome != filter.Deny || !d.Has(filter.ReasonOnList) {
			t.Errorf("after opt-out %s/%s/%s: got %s %v, want deny on_list", in.Purpose, in.Channel, in.Seller, d.Outcome, codes(d))
		}
	}
	again, err := e.svc.OptOut(ctx, service.OptOutInput{Number: num, Source: "sms-reply", At: at})
	if err != nil || again.Listed {
		t.Errorf("second opt-out: got %+v, %v; want idempotent (not newly listed)", again, err)
	}
}

// TestReserveRace: dialers racing for one number never exceed the cap.
func TestReserveRace(t *testing.T) {
	e := newEnv(t, true)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := e.check(t, service.CheckInput{Number: "+12125550160", Channel: "call", Purpose: "insurance", Seller: "acme", Reserve: true})
			switch {
			case d.Outcome == filter.Allow:
				allowed.Add(1)
			case !d.Has(filter.ReasonFrequencyCap):
				t.Errorf("racer denied for %v, want frequency_cap", codes(d))
			}
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != 3 {
		t.Fatalf("racers allowed: got %d, want exactly the cap, 3", got)
	}
}

// TestMalformedIsAnError: unknown purpose or channel is a request error, not
// a decision; an unreadable number is a decision.
func TestMalformedIsAnError(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	for _, in := range []service.CheckInput{
		{Number: "2125550134", Channel: "fax", Purpose: "insurance"},
		{Number: "2125550134", Channel: "call", Purpose: "lottery"},
		{Number: "2125550134", Channel: "call"},
	} {
		if _, err := e.svc.Check(ctx, in); filter.ErrorKind(err) != filter.EInvalid {
			t.Errorf("%+v: got %v, want an invalid-request error", in, err)
		}
	}
	res, err := e.svc.Check(ctx, service.CheckInput{Number: "12", Channel: "call", Purpose: "insurance", At: at})
	if err != nil || res.Number != nil || !res.Decision.Has(filter.ReasonInvalidNumber) || res.Decision.ID == "" {
		t.Errorf("invalid number: got %+v, %v; want a deny invalid_number decision with an id", res, err)
	}
	if _, err := e.svc.CheckBatch(ctx, []service.CheckInput{{Number: "1", Channel: "call", Purpose: "insurance"}, {Channel: "sms", Purpose: "x"}}); err == nil || filter.ErrorMessage(err)[:8] != "items[1]" {
		t.Errorf("batch with a bad item: got %v, want an error naming items[1]", err)
	}
}

// BenchmarkCheck is the whole check in process, without HTTP: normalize (fast
// path), four bloom screens, one store read, Decide, a decision id.
func BenchmarkCheck(b *testing.B) {
	e := newEnv(b, true)
	ctx := context.Background()
	in := service.CheckInput{Number: "+12125550134", Channel: "call", Purpose: "insurance", Seller: "acme", At: at}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Check(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// TestExactListsSeesOtherInstancesAdds: with ExactLists, a number another
// instance wrote to the shared store is denied though this instance's filters
// never saw it; without it, that is exactly the stale-filter false allow.
func TestExactListsSeesOtherInstancesAdds(t *testing.T) {
	rs, err := filter.LoadRules("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	shared := embedded.MustOpenTemp(t)
	ctx := context.Background()
	newInstance := func(exact bool) *service.Service {
		lists := dnc.New(shared, dnc.Options{})
		t.Cleanup(lists.Close)
		if err := lists.Load(ctx, rs.ListNames()); err != nil {
			t.Fatal(err)
		}
		svc, err := service.New(shared, lists, rs, service.Options{Hasher: filter.NewHasher([]byte("service-test-secret")), ExactLists: exact})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	exact, trusting := newInstance(true), newInstance(false)
	// Another instance writes straight to the shared store.
	if _, err := shared.AddToList(ctx, "national", []uint64{12125550134}); err != nil {
		t.Fatal(err)
	}
	in := service.CheckInput{Number: "+12125550134", Channel: "call", Purpose: "insurance", At: at}
	res, err := exact.Check(ctx, in)
	if err != nil || res.Decision.Outcome != filter.Deny || !res.Decision.Has(filter.ReasonOnList) {
		t.Fatalf("exact instance: got %+v, %v; want deny on_list", res.Decision, err)
	}
	// The control: the same check trusting this instance's (empty) filters
	// misses the other instance's add — the gap ExactLists closes.
	if res, _ := trusting.Check(ctx, in); res.Decision.Outcome != filter.Allow {
		t.Fatalf("bloom-trusting instance: got %+v; the control should show the stale-filter allow", res.Decision)
	}
}
