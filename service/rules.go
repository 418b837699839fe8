package service

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"callfilter/filter"
)

// AuthorSystem is the author of the revision imported from the rules file.
const AuthorSystem = "system"

func (s *Service) rulesStore() (filter.RulesStore, error) {
	if rs := s.officerOpts().RulesStore; rs != nil {
		return rs, nil
	}
	return nil, filter.Errorf(filter.EUnavailable, "", "this store keeps no rule versions")
}

// InitRules makes the store's current rule set the one in force: the store
// wins over the file the service was started with. When the store has none,
// the service's rules (the file's) are imported as revision 1. It reports
// whether it imported.
func (s *Service) InitRules(ctx context.Context) (imported bool, err error) {
	s.off.rulesMu.Lock()
	defer s.off.rulesMu.Unlock()
	cur, imported, err := s.currentLocked(ctx)
	if err != nil {
		return false, err
	}
	return imported, s.applyLocked(ctx, cur)
}

// currentLocked returns the store's current revision, importing the rules
// in force as revision 1 when there is none.
func (s *Service) currentLocked(ctx context.Context) (filter.RulesRevision, bool, error) {
	st, err := s.rulesStore()
	if err != nil {
		return filter.RulesRevision{}, false, err
	}
	cur, err := st.CurrentRules(ctx)
	if filter.ErrorKind(err) != filter.ENotFound {
		return cur, false, err
	}
	rs := s.rules.Load()
	cur, err = st.PutRules(ctx, filter.RulesRevision{
		Version: rs.Version, Author: AuthorSystem, At: s.opts.Now().UTC(),
		Summary: "imported from the rules file", Diff: lineDiff(nil, rs.Source()), Source: rs.Source(),
	}, 0)
	if filter.ErrorKind(err) == filter.EConflict {
		// Another instance imported first: theirs is current.
		cur, err = st.CurrentRules(ctx)
		return cur, false, err
	}
	return cur, err == nil, err
}

// applyLocked puts revision r in force on this instance, atomically, after
// loading any list it names that is not loaded yet.
func (s *Service) applyLocked(ctx context.Context, r filter.RulesRevision) error {
	if r.Revision == s.off.revision.Load() {
		return nil
	}
	rs, err := filter.ParseRules(r.Source)
	if err != nil {
		return filter.Wrap(filter.EUnavailable, err, "stored rules revision %d does not parse", r.Revision)
	}
	loaded := map[string]bool{}
	for _, st := range s.lists.Status() {
		loaded[st.Name] = st.Loaded
	}
	for _, name := range rs.ListNames() {
		if !loaded[name] {
			if err := s.officerOpts().LoadLists(ctx, rs.ListNames()); err != nil {
				return err
			}
			break
		}
	}
	s.rules.Store(rs)
	s.off.revision.Store(r.Revision)
	return nil
}

// CurrentRules returns the revision in force, with its document.
func (s *Service) CurrentRules(ctx context.Context) (filter.RulesRevision, error) {
	s.off.rulesMu.Lock()
	defer s.off.rulesMu.Unlock()
	cur, _, err := s.currentLocked(ctx)
	if err != nil {
		return cur, err
	}
	return cur, s.applyLocked(ctx, cur)
}

// ValidateRules parses a draft: the *filter.Error it returns wraps a
// *filter.RulesError listing every problem.
func (s *Service) ValidateRules(doc []byte) (*filter.RuleSet, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, filter.Errorf(filter.EInvalid, "missing_document", "document is required: the rule set in YAML or JSON")
	}
	return filter.ParseRules(doc)
}

func staleError(ifMatch, cur string) error {
	return filter.Errorf(filter.EConflict, filter.CodeStaleVersion, "the rule set is at version %q, not %q: reload it, redo the edit and send If-Match: \"%s\"", cur, ifMatch, cur)
}

// PutRules replaces the rule set with doc if the version in force is ifMatch.
// The document's version must be new. On success the new set is in force on
// this instance at once, and on the others at their next poll.
func (s *Service) PutRules(ctx context.Context, doc []byte, ifMatch string) (filter.RulesRevision, error) {
	rs, err := s.ValidateRules(doc)
	if err != nil {
		return filter.RulesRevision{}, err
	}
	return s.publish(ctx, rs, ifMatch, "rules.put", func(cur filter.RulesRevision, st filter.RulesStore) (string, error) {
		if rs.Version == cur.Version {
			return "", filter.Errorf(filter.EInvalid, "version_unchanged", "version is still %q: give the edited rule set a new version", cur.Version)
		}
		if _, err := st.RulesByVersion(ctx, rs.Version); err == nil {
			return "", filter.Errorf(filter.EConflict, "version_exists", "version %q was used before: give the edit a new version (or roll back to it)", rs.Version)
		} else if filter.ErrorKind(err) != filter.ENotFound {
			return "", err
		}
		return "edit", nil
	})
}

// RollbackRules puts the rule set of version v back in force, as a new
// revision; ifMatch, when not empty, must be the version in force.
func (s *Service) RollbackRules(ctx context.Context, v, ifMatch string) (filter.RulesRevision, error) {
	st, err := s.rulesStore()
	if err != nil {
		return filter.RulesRevision{}, err
	}
	old, err := st.RulesByVersion(ctx, v)
	if err != nil {
		return filter.RulesRevision{}, err
	}
	rs, err := filter.ParseRules(old.Source)
	if err != nil {
		return filter.RulesRevision{}, filter.Wrap(filter.EUnavailable, err, "stored version %q does not parse", v)
	}
	return s.publish(ctx, rs, ifMatch, "rules.rollback", func(filter.RulesRevision, filter.RulesStore) (string, error) {
		return fmt.Sprintf("rollback to version %s (revision %d)", v, old.Revision), nil
	})
}

func (s *Service) publish(ctx context.Context, rs *filter.RuleSet, ifMatch, action string, check func(filter.RulesRevision, filter.RulesStore) (string, error)) (filter.RulesRevision, error) {
	st, err := s.rulesStore()
	if err != nil {
		return filter.RulesRevision{}, err
	}
	s.off.rulesMu.Lock()
	defer s.off.rulesMu.Unlock()
	cur, _, err := s.currentLocked(ctx)
	if err != nil {
		return filter.RulesRevision{}, err
	}
	if ifMatch != "" && ifMatch != cur.Version {
		return filter.RulesRevision{}, staleError(ifMatch, cur.Version)
	}
	what, err := check(cur, st)
	if err != nil {
		return filter.RulesRevision{}, err
	}
	diff := lineDiff(cur.Source, rs.Source())
	next, err := st.PutRules(ctx, filter.RulesRevision{
		Version: rs.Version, Author: actor(ctx), At: s.opts.Now().UTC(),
		Summary: summarize(what, cur.Version, rs.Version, diff), Diff: diff, Source: rs.Source(),
	}, cur.Revision)
	if err != nil {
		if filter.ErrorKind(err) == filter.EConflict {
			return filter.RulesRevision{}, staleError(ifMatch, "a newer one")
		}
		return filter.RulesRevision{}, err
	}
	if err := s.applyLocked(ctx, next); err != nil {
		// Stored: every instance (this one at its next poll) applies it once
		// its lists load.
		return next, err
	}
	return next, s.changed(ctx, nil, change{Action: action, Target: rs.Version, Detail: next.Summary})
}

func summarize(what, from, to, diff string) string {
	var add, del int
	for l := range strings.Lines(diff) {
		switch {
		case strings.HasPrefix(l, "+ "):
			add++
		case strings.HasPrefix(l, "- "):
			del++
		}
	}
	return fmt.Sprintf("%s: version %s → %s, %d lines added, %d removed", what, from, to, add, del)
}

// RulesHistory returns up to limit revisions, newest first.
func (s *Service) RulesHistory(ctx context.Context, limit int) ([]filter.RulesRevision, error) {
	if _, err := s.CurrentRules(ctx); err != nil {
		return nil, err
	}
	st, err := s.rulesStore()
	if err != nil {
		return nil, err
	}
	return st.RulesHistory(ctx, limit)
}

// RulesVersion returns the stored revision of version v, with its document.
func (s *Service) RulesVersion(ctx context.Context, v string) (filter.RulesRevision, error) {
	if _, err := s.CurrentRules(ctx); err != nil {
		return filter.RulesRevision{}, err
	}
	st, err := s.rulesStore()
	if err != nil {
		return filter.RulesRevision{}, err
	}
	return st.RulesByVersion(ctx, v)
}

// WatchRules polls the store every interval and puts a new revision (another
// instance's edit) in force, until ctx is done. Run it in a goroutine the
// caller owns.
func (s *Service) WatchRules(ctx context.Context, every time.Duration, log *slog.Logger) {
	runEvery(ctx, every, func() {
		if err := s.pollRules(ctx); err != nil && ctx.Err() == nil {
			log.Warn("rules poll failed; the rules in force stay", "err", err)
		}
	})
}

// runEvery calls fn every interval until ctx is done.
func runEvery(ctx context.Context, every time.Duration, fn func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}

func (s *Service) pollRules(ctx context.Context) error {
	st, err := s.rulesStore()
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cur, err := st.CurrentRules(pctx)
	if err != nil || cur.Revision == s.off.revision.Load() {
		if filter.ErrorKind(err) == filter.ENotFound {
			return nil
		}
		return err
	}
	s.off.rulesMu.Lock()
	defer s.off.rulesMu.Unlock()
	return s.applyLocked(ctx, cur)
}

// RulesRevision returns the stored revision in force on this instance (0
// before InitRules).
func (s *Service) RulesRevision() int64 { return s.off.revision.Load() }

// lineDiff returns a line diff of b against a: "  " for kept lines, "- "
// removed, "+ " added (a longest-common-subsequence diff; past 4000 lines a
// side it shows the whole replacement).
func lineDiff(a, b []byte) string {
	x, y := lines(a), lines(b)
	var out strings.Builder
	if len(x) > 4000 || len(y) > 4000 {
		for _, l := range x {
			out.WriteString("- " + l + "\n")
		}
		for _, l := range y {
			out.WriteString("+ " + l + "\n")
		}
		return out.String()
	}
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int32, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out.WriteString("  " + x[i] + "\n")
			i++
			j++
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+ " + y[j] + "\n")
			j++
		default:
			out.WriteString("- " + x[i] + "\n")
			i++
		}
	}
	return out.String()
}

func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// PreviewInput asks for a replay of recent audited decisions under a draft.
type PreviewInput struct {
	Document []byte
	// Window bounds how far back decisions are replayed (default 24h);
	// Limit how many (default 10000, at most 100000).
	Window time.Duration
	Limit  int
}

// Flips counts decisions that would change.
type Flips struct {
	AllowToDeny int `json:"allow_to_deny"`
	DenyToAllow int `json:"deny_to_allow"`
}

// Preview is the blast radius of a draft: the recent audited checks replayed
// with the facts they were decided on, under the rules in force and under
// the draft.
type Preview struct {
	DraftVersion   string
	CurrentVersion string
	From, To       time.Time
	Replayed       int
	// Skipped are audited decisions that cannot be replayed (an unreadable
	// number, or a purpose the draft or the rules in force do not know).
	Skipped   int
	Flips     Flips
	ByPurpose map[string]*Flips
	// ByReason counts allow→deny flips by the draft's deny reasons, and
	// deny→allow flips by the reasons the draft lifted.
	ByReason          map[string]*Flips
	SampleAllowToDeny []string
	SampleDenyToAllow []string
}

// maxSamples bounds the sample decision ids of each kind of flip.
const maxSamples = 20

// PreviewRules replays the audited decisions of the last window under doc.
// The facts are those recorded with each decision (what the store said
// then), so the comparison isolates the effect of the rules.
func (s *Service) PreviewRules(ctx context.Context, in PreviewInput) (Preview, error) {
	draft, err := s.ValidateRules(in.Document)
	if err != nil {
		return Preview{}, err
	}
	if in.Window < 0 || in.Limit < 0 || in.Limit > 100000 {
		return Preview{}, filter.Errorf(filter.EInvalid, "invalid_window", "window must be positive and limit at most 100000")
	}
	if in.Window == 0 {
		in.Window = 24 * time.Hour
	}
	if in.Limit == 0 {
		in.Limit = 10000
	}
	cur := s.rules.Load()
	now := s.opts.Now()
	p := Preview{DraftVersion: draft.Version, CurrentVersion: cur.Version, From: now.Add(-in.Window), To: now,
		ByPurpose: map[string]*Flips{}, ByReason: map[string]*Flips{}}
	count := func(m map[string]*Flips, k string, a2d bool) {
		f := m[k]
		if f == nil {
			f = &Flips{}
			m[k] = f
		}
		if a2d {
			f.AllowToDeny++
		} else {
			f.DenyToAllow++
		}
	}
	errDone := fmt.Errorf("done")
	err = s.ExportAudit(ctx, AuditQuery{Kind: string(filter.AuditDecision), From: p.From, To: now.Add(time.Nanosecond)}, func(e filter.AuditEntry) error {
		if p.Replayed+p.Skipped >= in.Limit {
			return errDone
		}
		req, facts, at, ok := replayed(&e)
		if !ok {
			p.Skipped++
			return nil
		}
		if _, err := draft.Resolve(req.Purpose, req.Channel, req.Number); err != nil {
			p.Skipped++
			return nil
		}
		before := filter.Decide(cur, req, facts, at)
		after := filter.Decide(draft, req, facts, at)
		p.Replayed++
		switch {
		case before.Outcome == filter.Allow && after.Outcome == filter.Deny:
			p.Flips.AllowToDeny++
			count(p.ByPurpose, req.Purpose, true)
			for _, code := range denyCodes(after) {
				count(p.ByReason, code, true)
			}
			if len(p.SampleAllowToDeny) < maxSamples {
				p.SampleAllowToDeny = append(p.SampleAllowToDeny, e.ID)
			}
		case before.Outcome == filter.Deny && after.Outcome == filter.Allow:
			p.Flips.DenyToAllow++
			count(p.ByPurpose, req.Purpose, false)
			for _, code := range denyCodes(before) {
				count(p.ByReason, code, false)
			}
			if len(p.SampleDenyToAllow) < maxSamples {
				p.SampleDenyToAllow = append(p.SampleDenyToAllow, e.ID)
			}
		}
		return nil
	})
	if err != nil && err != errDone {
		return Preview{}, err
	}
	return p, nil
}

// denyCodes names each deny reason of d once ("on_list:national").
func denyCodes(d filter.Decision) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range d.Reasons {
		if r.Code == filter.ReasonRelationshipExemption || r.Code == filter.ReasonConsent {
			continue
		}
		k := string(r.Code)
		if r.List != "" {
			k += ":" + r.List
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
