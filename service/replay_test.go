package service_test

import (
	"context"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"callfilter/audit"
	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/service"
	"callfilter/store"
	"callfilter/store/embedded"
)

// auditedEnv is the real stack with the audit trail on, on a clock an hour
// before at (so that list expiries after at may be recorded and outcomes
// before it reported).
type auditedEnv struct {
	svc    *service.Service
	faulty *store.Faulty
	st     *embedded.Store
	w      *audit.Writer
	doc    []byte // the rule set in force
}

const replaySecret = "service-test-secret"

// rulesDoc is the shipped rule set with purposes added.
func rulesDoc(t *testing.T, purposes string) []byte {
	t.Helper()
	src, err := os.ReadFile("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.Replace(string(src), "\npurposes:\n", "\npurposes:\n"+purposes, 1))
}

func newAuditedEnv(t *testing.T, purposes string) *auditedEnv {
	t.Helper()
	doc := rulesDoc(t, purposes)
	rs, err := filter.ParseRules(doc)
	if err != nil {
		t.Fatal(err)
	}
	st := embedded.MustOpenTemp(t)
	f := store.NewFaulty(st)
	lists := dnc.New(f, dnc.Options{})
	t.Cleanup(lists.Close)
	if err := lists.Load(context.Background(), rs.ListNames()); err != nil {
		t.Fatal(err)
	}
	clock := at.Add(-time.Hour)
	svc, err := service.New(f, lists, rs, service.Options{Hasher: filter.NewHasher([]byte(replaySecret)), Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	w, err := audit.NewWriter(st, audit.Options{Retention: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(10 * time.Second) })
	svc.SetOfficer(service.OfficerOptions{Auditor: w, AuditStore: st})
	return &auditedEnv{svc: svc, faulty: f, st: st, w: w, doc: doc}
}

// replayCheck is one check of a replay case and what it must decide: with
// the rules in force (Code among its reasons), and under the case's draft.
type replayCheck struct {
	In    service.CheckInput
	Want  filter.Outcome
	Code  filter.ReasonCode
	Draft filter.Outcome
}

const replayNumber = "+12125550134"

// TestReplayReproducesDecisions: for each fact a decision reads, a check
// recorded through the service replays (from its audit entry alone, as a
// rules preview does) to the same outcome, reasons, details and next
// allowed instant; without that fact in the entry it would not (so the case
// exercises it); and a preview of a draft that changes the rule on it
// counts the flip.
func TestReplayReproducesDecisions(t *testing.T) {
	ctx := context.Background()
	subject := filter.NewHasher([]byte(replaySecret)).Subject(replayNumber)
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check := func(purpose, channel string, when time.Time) service.CheckInput {
		return service.CheckInput{Number: replayNumber, Purpose: purpose, Channel: channel, Seller: "acme", At: when}
	}
	cases := []struct {
		name            string
		purposes, draft string
		setup           func(t *testing.T, e *auditedEnv)
		checks          []replayCheck
		// strip removes the fact from a replay: the first check then
		// replays differently.
		strip func(r *filter.AuditReplay)
	}{{
		name:     "list entry expiry",
		purposes: "  rlists:\n    call: {}\n",
		draft:    "  rlists:\n    call: {lists: [state, litigator, internal]}\n",
		setup: func(t *testing.T, e *auditedEnv) {
			_, err := e.svc.AddNumbersUntil(ctx, "national", []string{replayNumber}, "", at.Add(30*time.Minute))
			must(t, err)
		},
		checks: []replayCheck{
			// Expired at the instant: absent, whatever the store still holds.
			{In: check("rlists", "call", at.Add(time.Hour)), Want: filter.Allow, Draft: filter.Allow},
			{In: check("rlists", "call", at), Want: filter.Deny, Code: filter.ReasonOnList, Draft: filter.Allow},
		},
		strip: func(r *filter.AuditReplay) { // the entry as the store holds it, unexpired
			for i := range r.Lists {
				if r.Lists[i].List == "national" {
					r.Lists[i].State = filter.ListPresent
				}
			}
		},
	}, {
		name:     "reassigned number: consent",
		purposes: "  rconsent:\n    sms: {consent_required: true}\n",
		draft:    "  rconsent:\n    sms: {consent_required: false}\n",
		setup: func(t *testing.T, e *auditedEnv) {
			must(t, e.svc.PutConsent(ctx, service.ConsentInput{Number: replayNumber, Seller: "acme", Purpose: "rconsent", Channel: "sms",
				Source: "web form", GrantedAt: at.AddDate(0, 0, -100)}))
			_, err := e.svc.ImportReassigned(ctx, []service.ReassignedInput{{Number: replayNumber, DisconnectedAt: at.AddDate(0, 0, -10)}}, "")
			must(t, err)
		},
		checks: []replayCheck{{In: check("rconsent", "sms", at), Want: filter.Deny, Code: filter.ReasonConsentReassigned, Draft: filter.Allow}},
		strip:  func(r *filter.AuditReplay) { r.DisconnectedAt = time.Time{} },
	}, {
		name:     "reassigned number: relationship",
		purposes: "  rrel:\n    call: {}\n",
		draft:    "  rrel:\n    call: {lists: [state, litigator, internal]}\n",
		setup: func(t *testing.T, e *auditedEnv) {
			_, err := e.svc.AddNumbers(ctx, "national", []string{replayNumber}, "")
			must(t, err)
			must(t, e.svc.PutRelationship(ctx, service.RelationshipInput{Number: replayNumber, Seller: "acme", Kind: "purchase", At: at.AddDate(0, 0, -100)}))
			_, err = e.svc.ImportReassigned(ctx, []service.ReassignedInput{{Number: replayNumber, DisconnectedAt: at.AddDate(0, 0, -10)}}, "")
			must(t, err)
		},
		checks: []replayCheck{{In: check("rrel", "call", at), Want: filter.Deny, Code: filter.ReasonOnList, Draft: filter.Allow}},
		strip:  func(r *filter.AuditReplay) { r.DisconnectedAt = time.Time{} },
	}, {
		name:     "renewal window",
		purposes: "  rrenewal:\n    call: {renewal_window_days: 40}\n",
		draft:    "  rrenewal:\n    call: {renewal_window_days: 10}\n",
		setup: func(t *testing.T, e *auditedEnv) {
			must(t, e.svc.PutRelationship(ctx, service.RelationshipInput{Number: replayNumber, Seller: "acme", Kind: "purchase",
				At: at.AddDate(-1, 0, 0), PolicyExpiresAt: at.Add(20 * 24 * time.Hour)}))
		},
		checks: []replayCheck{
			{In: check("rrenewal", "call", at), Want: filter.Allow, Draft: filter.Deny},
			{In: check("rrenewal", "call", at.Add(-30*24*time.Hour)), Want: filter.Deny, Code: filter.ReasonOutsideRenewalWindow, Draft: filter.Deny},
		},
		strip: func(r *filter.AuditReplay) {
			for i := range r.Relationships {
				r.Relationships[i].PolicyExpiresAt = time.Time{}
			}
		},
	}, {
		name:     "unanswered calls per day",
		purposes: "  runanswered:\n    call: {unanswered_per_day: 3}\n",
		draft:    "  runanswered:\n    call: {unanswered_per_day: 5}\n",
		setup: func(t *testing.T, e *auditedEnv) {
			for i, kind := range []string{"no_answer", "busy", "no_answer"} {
				_, err := e.svc.RecordOutcome(ctx, service.OutcomeInput{Number: replayNumber, Seller: "acme", Purpose: "runanswered", Channel: "call",
					Outcome: kind, At: at.Add(-time.Duration(4-i) * 30 * time.Minute)})
				must(t, err)
			}
		},
		checks: []replayCheck{{In: check("runanswered", "call", at), Want: filter.Deny, Code: filter.ReasonUnansweredLimit, Draft: filter.Allow}},
		strip:  func(r *filter.AuditReplay) { r.Outcomes = nil },
	}, {
		name:     "refusal block",
		purposes: "  rrefusal:\n    call: {refusal_block_days: 30}\n",
		draft:    "  rrefusal:\n    call: {refusal_block_days: 3}\n",
		setup: func(t *testing.T, e *auditedEnv) {
			// The refusal alone, as a store holds it: RecordOutcome would
			// opt the number out too, and the internal list would deny
			// under any rule on refusals.
			must(t, e.faulty.RecordOutcome(ctx, filter.CallOutcome{Subject: subject, Seller: "acme", Purpose: "rrefusal", Channel: filter.ChannelCall,
				Kind: filter.OutcomeRefused, At: at.AddDate(0, 0, -5)}))
		},
		checks: []replayCheck{{In: check("rrefusal", "call", at), Want: filter.Deny, Code: filter.ReasonRefusalBlock, Draft: filter.Allow}},
		strip:  func(r *filter.AuditReplay) { r.Outcomes = nil },
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newAuditedEnv(t, c.purposes)
			c.setup(t, e)
			var decided []filter.Decision
			var want service.Flips
			for _, ch := range c.checks {
				res, err := e.svc.Check(ctx, ch.In)
				must(t, err)
				d := res.Decision
				if d.Outcome != ch.Want || ch.Code != "" && !d.Has(ch.Code) {
					t.Fatalf("check at %s: %s %v, want %s with %s", ch.In.At, d.Outcome, codes(d), ch.Want, ch.Code)
				}
				decided = append(decided, d)
				switch {
				case ch.Want == filter.Allow && ch.Draft == filter.Deny:
					want.AllowToDeny++
				case ch.Want == filter.Deny && ch.Draft == filter.Allow:
					want.DenyToAllow++
				}
			}
			e.w.Close(10 * time.Second) // everything queued is durable
			entries, _, err := e.st.QueryAudit(ctx, filter.AuditQuery{Kind: filter.AuditDecision, Limit: 1000})
			must(t, err)
			byID := map[string]filter.AuditEntry{}
			for _, en := range entries {
				byID[en.ID] = en
			}
			rs := e.svc.Rules()
			for i, d := range decided {
				en, ok := byID[d.ID]
				if !ok {
					t.Fatalf("decision %s is not in the audit trail", d.ID)
				}
				if en.Decision != d.Outcome || !slices.Equal(en.Reasons, auditReasons(d)) {
					t.Errorf("check %d: audited as %s %v, decided %s %v", i, en.Decision, en.Reasons, d.Outcome, auditReasons(d))
				}
				got, ok := service.ReplayAudited(rs, &en)
				if !ok {
					t.Fatalf("check %d: the entry cannot be replayed", i)
				}
				got.ID = d.ID
				if !reflect.DeepEqual(got.Reasons, d.Reasons) || got.Outcome != d.Outcome || !got.NextAllowedAt.Equal(d.NextAllowedAt) || got.RulesVersion != d.RulesVersion {
					t.Errorf("check %d replayed as\n%s %+v (next %s)\nwant\n%s %+v (next %s)", i, got.Outcome, got.Reasons, got.NextAllowedAt, d.Outcome, d.Reasons, d.NextAllowedAt)
				}
				if i == 0 {
					c.strip(en.Replay)
					if stripped, _ := service.ReplayAudited(rs, &en); stripped.Outcome == d.Outcome && slices.Equal(codes(stripped), codes(d)) {
						t.Errorf("without the fact, check %d still replays as %s %v: the case does not exercise it", i, stripped.Outcome, codes(stripped))
					}
				}
			}
			same, err := e.svc.PreviewRules(ctx, service.PreviewInput{Document: e.doc})
			must(t, err)
			if same.Replayed != len(c.checks) || same.Skipped != 0 || same.Flips != (service.Flips{}) {
				t.Errorf("preview of the rules in force: replayed %d, skipped %d, flips %+v; want %d, 0, none", same.Replayed, same.Skipped, same.Flips, len(c.checks))
			}
			draft, err := e.svc.PreviewRules(ctx, service.PreviewInput{Document: rulesDoc(t, c.draft)})
			must(t, err)
			if draft.Replayed != len(c.checks) || draft.Flips != want {
				t.Errorf("preview of the draft: replayed %d, flips %+v; want %d, %+v", draft.Replayed, draft.Flips, len(c.checks), want)
			}
		})
	}
}

func auditReasons(d filter.Decision) []filter.AuditReason {
	out := []filter.AuditReason{}
	for _, r := range d.Reasons {
		out = append(out, filter.AuditReason{Code: r.Code, List: r.List})
	}
	return out
}

// TestCheckAllocs: the in-process check (BenchmarkCheck's) allocates at most
// three times (the number kept in the result, its E.164 string, the
// decision id).
func TestCheckAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	e := newEnv(t, true)
	ctx := context.Background()
	in := service.CheckInput{Number: replayNumber, Channel: "call", Purpose: "insurance", Seller: "acme", At: at}
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := e.svc.Check(ctx, in); err != nil {
			t.Fatal(err)
		}
	}); n > 3 {
		t.Errorf("a check allocates %.1f times, want at most 3", n)
	}
}
