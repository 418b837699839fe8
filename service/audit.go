package service

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"callfilter/filter"
	"callfilter/phone"
)

// Auditor records the audit trail; *audit.Writer is one. Safe for concurrent
// use.
type Auditor interface {
	// Enqueue queues entries without blocking for long; an error (the queue
	// is full, the writer stopped) means they are not recorded and the
	// caller must fail closed. It encodes them before it returns and keeps
	// nothing of them: the caller reuses them (pooled scratch).
	Enqueue(entries ...filter.AuditEntry) error
	// Commit queues entries and waits until they are durable.
	Commit(ctx context.Context, entries ...filter.AuditEntry) error
}

// OfficerOptions wire the compliance officers' features: the audit trail and
// the versioned rules. Zero fields are taken from the service's store when it
// implements the interface (a store wrapped for metrics does not: pass the
// unwrapped one).
type OfficerOptions struct {
	// Auditor records decisions and changes; nil records nothing.
	Auditor Auditor
	// AuditStore answers audit queries, exports and verification.
	AuditStore filter.AuditStore
	// RulesStore keeps every revision of the rule set.
	RulesStore filter.RulesStore
	// LoadLists loads the bloom filters of lists a new rule set names that
	// are not loaded yet; nil uses the service's lists (dnc.Lists.Load).
	LoadLists func(ctx context.Context, names []string) error
}

// officer is the service's state for the officers' features.
type officer struct {
	opts     OfficerOptions
	set      atomic.Bool
	rulesMu  sync.Mutex   // serializes rule edits and the poller on this instance
	revision atomic.Int64 // the stored revision in force here (0: none yet)
}

// SetOfficer wires the audit trail and the versioned rules. Call it before
// serving.
func (s *Service) SetOfficer(o OfficerOptions) {
	if o.AuditStore == nil {
		o.AuditStore, _ = s.store.(filter.AuditStore)
	}
	if o.RulesStore == nil {
		o.RulesStore, _ = s.store.(filter.RulesStore)
	}
	if o.LoadLists == nil {
		o.LoadLists = s.lists.Load
	}
	s.off.opts = o
	s.off.set.Store(true)
}

func (s *Service) officerOpts() *OfficerOptions {
	if !s.off.set.Load() {
		s.SetOfficer(OfficerOptions{})
	}
	return &s.off.opts
}

func (s *Service) auditStore() (filter.AuditStore, error) {
	if as := s.officerOpts().AuditStore; as != nil {
		return as, nil
	}
	return nil, filter.Errorf(filter.EUnavailable, "", "this store keeps no audit trail")
}

type actorKey struct{}

// WithActor returns ctx carrying the name of the API key that makes the
// request: the audit trail records it.
func WithActor(ctx context.Context, name string) context.Context {
	return &actorContext{Context: ctx, name: name}
}

// actorContext is context.WithValue for the actor in one allocation instead
// of two (WithValue boxes the string): it is made for every request.
type actorContext struct {
	context.Context
	name string
}

func (c *actorContext) Value(key any) any {
	if _, ok := key.(actorKey); ok {
		return c
	}
	return c.Context.Value(key)
}

func actor(ctx context.Context) string {
	if c, ok := ctx.Value(actorKey{}).(*actorContext); ok {
		return c.name
	}
	return ""
}

// auditScratch is what one audited check builds: pooled, because the Auditor
// encodes the entry before Enqueue returns and keeps nothing of it (without
// the pool, the entry, its replay and their slices are four allocations a
// check). The arrays cover the common sizes; larger ones allocate.
type auditScratch struct {
	entry    [1]filter.AuditEntry
	replay   filter.AuditReplay
	reasons  [4]filter.AuditReason
	lists    [8]filter.AuditList
	attempts [8]time.Time
}

var auditScratchPool = sync.Pool{New: func() any { return new(auditScratch) }}

// replay returns what an audit entry keeps to replay a check, nil when
// nothing is audited. It copies: facts may be pooled scratch. audited returns
// it to its pool.
func (s *Service) replay(req *filter.Request, facts *filter.Facts, at time.Time) *auditScratch {
	if !s.off.set.Load() || s.off.opts.Auditor == nil {
		return nil
	}
	sc := auditScratchPool.Get().(*auditScratch)
	replayInto(&sc.replay, sc, req, facts, at)
	return sc
}

// audited records a check's decision in the audit trail; when it cannot be
// queued the decision becomes a deny with unavailable (fail closed: a
// decision is never made without its record). req is nil for an unreadable
// number, and subj and sc then too; else subj is req.Number's subject (the
// check computed it once).
func (s *Service) audited(ctx context.Context, res CheckResult, in *CheckInput, req *filter.Request, subj *filter.Subject, sc *auditScratch) CheckResult {
	a := s.off.opts.Auditor
	if !s.off.set.Load() || a == nil {
		return res
	}
	if sc == nil {
		sc = auditScratchPool.Get().(*auditScratch)
		sc.replay = filter.AuditReplay{}
	}
	defer func() {
		sc.entry[0], sc.replay = filter.AuditEntry{}, filter.AuditReplay{} // drop references before pooling
		auditScratchPool.Put(sc)
	}()
	d := &res.Decision
	e := &sc.entry[0]
	*e = filter.AuditEntry{
		Kind: filter.AuditDecision, ID: d.ID, Time: s.opts.Now(), Actor: actor(ctx),
		Seller: in.Seller, Purpose: in.Purpose, Channel: filter.Channel(in.Channel), Campaign: in.Campaign,
		Decision: d.Outcome, RulesVersion: d.RulesVersion,
		Reasons: sc.reasons[:0],
	}
	for _, r := range d.Reasons {
		e.Reasons = append(e.Reasons, filter.AuditReason{Code: r.Code, List: r.List})
	}
	if req != nil {
		e.Subject, e.Last4 = *subj, req.Number.Last4()
		e.Replay = &sc.replay
	}
	if err := a.Enqueue(sc.entry[:]...); err != nil {
		d.Outcome = filter.Deny
		d.Reasons = []filter.Reason{{Code: filter.ReasonUnavailable, Detail: "the decision could not be recorded in the audit trail: " + filter.ErrorMessage(err)}}
		d.NextAllowedAt = time.Time{}
	}
	return res
}

// replayInto keeps in r what Decide needs to decide the same check again —
// every field of f it reads, lists as they were at at — in sc's arrays where
// they are large enough. A fact Decide comes to read must be kept here, in
// the record (filter.AppendAuditRecord) and in replayed:
// TestReplayKeepsEveryFact fails for one that is not.
func replayInto(r *filter.AuditReplay, sc *auditScratch, req *filter.Request, f *filter.Facts, at time.Time) {
	n := &req.Number
	*r = filter.AuditReplay{
		At: at, Region: n.Region, Area: n.Area, LineType: string(n.Type), TimeZones: n.TimeZones,
		FactLineType:   string(f.LineType),
		PostalCode:     req.PostalCode,
		Lists:          sc.lists[:0],
		Attempts:       append(sc.attempts[:0], f.Attempts...),
		DisconnectedAt: f.DisconnectedAt,
		Unavailable:    slices.Clone(f.Unavailable),
	}
	if len(f.Attempts) == 0 {
		r.Attempts = nil
	}
	for i := range f.Lists {
		r.Lists = append(r.Lists, filter.AuditListAt(f.Lists[i], at))
	}
	for _, c := range f.Consents {
		r.Consents = append(r.Consents, filter.AuditConsent{Seller: c.Seller, Purpose: c.Purpose, Channel: c.Channel, GrantedAt: c.GrantedAt, ExpiresAt: c.ExpiresAt})
	}
	for _, v := range f.Revocations {
		r.Revocations = append(r.Revocations, filter.AuditRevoke{Seller: v.Seller, Purpose: v.Purpose, Channel: v.Channel, At: v.At})
	}
	for _, v := range f.Relationships {
		r.Relationships = append(r.Relationships, filter.AuditRel{Seller: v.Seller, Kind: v.Kind, At: v.At, PolicyExpiresAt: v.PolicyExpiresAt})
	}
	for _, o := range f.Outcomes {
		r.Outcomes = append(r.Outcomes, filter.AuditOutcome{Seller: o.Seller, Purpose: o.Purpose, Channel: o.Channel, Kind: o.Kind, At: o.At})
	}
}

// replayed rebuilds the request and facts of an audited check, with subject
// as the number's identity (Decide needs no more of the number).
func replayed(e *filter.AuditEntry) (filter.Request, filter.Facts, time.Time, bool) {
	r := e.Replay
	if r == nil || e.Kind != filter.AuditDecision {
		return filter.Request{}, filter.Facts{}, time.Time{}, false
	}
	n := phone.Number{E164: "+" + e.Last4, Region: r.Region, Area: r.Area, Type: phone.LineType(r.LineType), TimeZones: r.TimeZones}
	req := filter.Request{Number: n, Channel: e.Channel, Purpose: e.Purpose, Seller: e.Seller, Campaign: e.Campaign, PostalCode: r.PostalCode}
	f := filter.Facts{Attempts: r.Attempts, Unavailable: r.Unavailable, DisconnectedAt: r.DisconnectedAt, LineType: phone.LineType(r.FactLineType)}
	for _, l := range r.Lists {
		f.Lists = append(f.Lists, l.Fact())
	}
	for _, c := range r.Consents {
		f.Consents = append(f.Consents, filter.Consent{Subject: e.Subject, Seller: c.Seller, Purpose: c.Purpose, Channel: c.Channel, GrantedAt: c.GrantedAt, ExpiresAt: c.ExpiresAt})
	}
	for _, v := range r.Revocations {
		f.Revocations = append(f.Revocations, filter.Revocation{Subject: e.Subject, Seller: v.Seller, Purpose: v.Purpose, Channel: v.Channel, At: v.At})
	}
	for _, v := range r.Relationships {
		f.Relationships = append(f.Relationships, filter.Relationship{Subject: e.Subject, Seller: v.Seller, Kind: v.Kind, At: v.At, PolicyExpiresAt: v.PolicyExpiresAt})
	}
	for _, o := range r.Outcomes {
		f.Outcomes = append(f.Outcomes, filter.CallOutcome{Subject: e.Subject, Seller: o.Seller, Purpose: o.Purpose, Channel: o.Channel, Kind: o.Kind, At: o.At})
	}
	return req, f, r.At, true
}

// change describes a change to be audited.
type change struct {
	Action, Target, Detail string
	Number                 *phone.Number
	Seller, Purpose        string
	Channel                filter.Channel
}

// changed records a change that err says was made (err nil) and returns err,
// or the audit trail's error: the change is made but its record is not
// durable, and the client is told to retry (every change is idempotent or
// harmless to repeat).
func (s *Service) changed(ctx context.Context, err error, c change) error {
	if err != nil {
		return err
	}
	a := s.officerOpts().Auditor
	if a == nil {
		return nil
	}
	now := s.opts.Now()
	e := filter.AuditEntry{
		Kind: filter.AuditChange, ID: s.ids.next(now), Time: now, Actor: actor(ctx),
		Action: c.Action, Target: c.Target, Detail: c.Detail, Seller: c.Seller, Purpose: c.Purpose, Channel: c.Channel,
	}
	if c.Number != nil {
		e.Subject, e.Last4 = s.subject(*c.Number), c.Number.Last4()
	}
	if err := a.Commit(ctx, e); err != nil {
		return filter.Wrap(filter.EUnavailable, err, "the change was made but could not be recorded in the audit trail: retry it")
	}
	return nil
}

// AuditQuery is an audit search as an officer asks it: the plain number is
// hashed here, never stored or logged.
type AuditQuery struct {
	Number, Region string
	Seller         string
	Kind           string
	Decision       string
	From, To       time.Time
	Cursor         string
	Limit          int
}

func (s *Service) auditQuery(q AuditQuery) (filter.AuditQuery, error) {
	fq := filter.AuditQuery{Seller: q.Seller, From: q.From, To: q.To, After: q.Cursor, Limit: q.Limit}
	if q.Number != "" {
		n, err := s.normalizeForRecord(q.Number, q.Region)
		if err != nil {
			return fq, err
		}
		fq.Subject = s.subject(n)
	}
	switch q.Kind {
	case "", string(filter.AuditDecision), string(filter.AuditChange):
		fq.Kind = filter.AuditKind(q.Kind)
	default:
		return fq, filter.Errorf(filter.EInvalid, "invalid_kind", "kind %q: use decision or change", q.Kind)
	}
	switch q.Decision {
	case "", string(filter.Allow), string(filter.Deny):
		fq.Decision = filter.Outcome(q.Decision)
	default:
		return fq, filter.Errorf(filter.EInvalid, "invalid_decision", "decision %q: use allow or deny", q.Decision)
	}
	if q.Limit < 0 || q.Limit > 1000 {
		return fq, filter.Errorf(filter.EInvalid, "invalid_limit", "limit must be between 1 and 1000")
	}
	return fq, nil
}

// Audit returns a page of audit entries and the cursor of the next ("" at the end).
func (s *Service) Audit(ctx context.Context, q AuditQuery) ([]filter.AuditEntry, string, error) {
	as, err := s.auditStore()
	if err != nil {
		return nil, "", err
	}
	fq, err := s.auditQuery(q)
	if err != nil {
		return nil, "", err
	}
	return as.QueryAudit(ctx, fq)
}

// ExportAudit calls fn with every entry q selects, page by page, until fn
// fails or ctx is done.
func (s *Service) ExportAudit(ctx context.Context, q AuditQuery, fn func(filter.AuditEntry) error) error {
	as, err := s.auditStore()
	if err != nil {
		return err
	}
	fq, err := s.auditQuery(q)
	if err != nil {
		return err
	}
	fq.Limit = 1000
	for {
		es, next, err := as.QueryAudit(ctx, fq)
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := fn(e); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		fq.After = next
	}
}

// AuditStore returns the store of the audit trail, for verification.
func (s *Service) AuditStore() (filter.AuditStore, error) { return s.auditStore() }

func listChange(action string, ch ListChange) change {
	return change{Action: action, Target: ch.List, Detail: fmt.Sprintf("%d numbers accepted, %d changed the list, %d rejected", ch.Accepted, ch.Changed, len(ch.Rejected))}
}
