package service

import (
	"cmp"
	"context"
	"regexp"
	"slices"
	"time"

	"callfilter/filter"
)

// listName is what a list may be called: it appears in rules, URLs and keys.
var listName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func validList(name string) error {
	if !listName.MatchString(name) {
		return filter.Errorf(filter.EInvalid, "invalid_list", "list name %q: use 1-63 lower-case letters, digits, '-' or '_'", name)
	}
	return nil
}

// AddNumbers adds numbers to a list. Unreadable entries are reported with their
// index and the rest are added; the numbers are denied on this instance as soon
// as the call returns.
func (s *Service) AddNumbers(ctx context.Context, list string, numbers []string, region string) (ListChange, error) {
	keys, ch, err := s.listKeys(list, numbers, region)
	if err != nil || len(keys) == 0 {
		return ch, err
	}
	ch.Changed, err = s.lists.Add(ctx, list, keys)
	return ch, s.changed(ctx, err, listChange("list.add", ch))
}

// AddNumbersUntil adds numbers to a list as AddNumbers does, each to stop
// matching at expiresAt (filter.ExpiringListStore): an entry's expiry only
// moves later, and a permanent entry stays permanent. EInvalid with code
// expiry_in_past when expiresAt is not after now.
func (s *Service) AddNumbersUntil(ctx context.Context, list string, numbers []string, region string, expiresAt time.Time) (ListChange, error) {
	if !expiresAt.After(s.opts.Now()) {
		return ListChange{List: list}, filter.Errorf(filter.EInvalid, CodeExpiryInPast, "the expiry %s is not in the future", expiresAt.UTC().Format(time.RFC3339))
	}
	keys, ch, err := s.listKeys(list, numbers, region)
	if err != nil || len(keys) == 0 {
		return ch, err
	}
	ch.Changed, err = s.lists.AddUntil(ctx, list, keys, expiresAt)
	c := listChange("list.add", ch)
	c.Detail += "; expiring at " + expiresAt.UTC().Format(time.RFC3339)
	return ch, s.changed(ctx, err, c)
}

// CodeExpiryInPast is the error code of an expiry that is not in the future.
const CodeExpiryInPast = "expiry_in_past"

// RemoveNumbers removes numbers from a list, reporting unreadable entries.
func (s *Service) RemoveNumbers(ctx context.Context, list string, numbers []string, region string) (ListChange, error) {
	keys, ch, err := s.listKeys(list, numbers, region)
	if err != nil || len(keys) == 0 {
		return ch, err
	}
	ch.Changed, err = s.lists.Remove(ctx, list, keys)
	return ch, s.changed(ctx, err, listChange("list.remove", ch))
}

func (s *Service) listKeys(list string, numbers []string, region string) ([]uint64, ListChange, error) {
	ch := ListChange{List: list}
	if err := validList(list); err != nil {
		return nil, ch, err
	}
	if len(numbers) == 0 {
		return nil, ch, filter.Errorf(filter.EInvalid, "empty_numbers", "numbers must hold at least one number")
	}
	if len(numbers) > s.opts.MaxListEdit {
		return nil, ch, filter.Errorf(filter.EInvalid, "too_many_numbers", "one request edits at most %d numbers, got %d", s.opts.MaxListEdit, len(numbers))
	}
	keys := make([]uint64, 0, len(numbers))
	for i, raw := range numbers {
		n, err := s.normalizeForRecord(raw, region)
		if err != nil {
			ch.Rejected = append(ch.Rejected, Rejected{Index: i, Code: filter.ErrorCode(err), Message: filter.ErrorMessage(err)})
			continue
		}
		keys = append(keys, n.Key)
	}
	ch.Accepted = len(keys)
	return keys, ch, nil
}

// Lists describes every list the store or the rules know.
func (s *Service) Lists(ctx context.Context) ([]ListStatus, error) {
	infos, err := s.store.Lists(ctx)
	if err != nil {
		return nil, err
	}
	inRules := map[string]bool{}
	for _, name := range s.rules.Load().ListNames() {
		inRules[name] = true
	}
	loaded := map[string]bool{}
	for _, st := range s.lists.Status() {
		loaded[st.Name] = st.Loaded
	}
	out := make([]ListStatus, 0, len(infos)+len(inRules))
	seen := map[string]bool{}
	for _, in := range infos {
		seen[in.Name] = true
		out = append(out, ListStatus{Name: in.Name, Count: in.Count, UpdatedAt: in.UpdatedAt, SourceDate: in.SourceDate, Loaded: loaded[in.Name], InRules: inRules[in.Name]})
	}
	for name := range inRules {
		if !seen[name] {
			out = append(out, ListStatus{Name: name, Loaded: loaded[name], InRules: true})
		}
	}
	slices.SortFunc(out, func(a, b ListStatus) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

func required(field, value string) error {
	if value == "" {
		return filter.Errorf(filter.EInvalid, "missing_"+field, "%s is required", field)
	}
	return nil
}

// PutConsent records a consent grant.
func (s *Service) PutConsent(ctx context.Context, in ConsentInput) error {
	n, err := s.normalizeForRecord(in.Number, in.Region)
	if err != nil {
		return err
	}
	ch, err := filter.ParseChannel(in.Channel)
	if err != nil {
		return err
	}
	for _, f := range [][2]string{{"seller", in.Seller}, {"purpose", in.Purpose}, {"source", in.Source}} {
		if err := required(f[0], f[1]); err != nil {
			return err
		}
	}
	if err := s.knownPurpose(in.Purpose); err != nil {
		return err
	}
	granted := s.instant(in.GrantedAt)
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(granted) {
		return filter.Errorf(filter.EInvalid, "invalid_expires_at", "expires_at must be after granted_at")
	}
	return s.changed(ctx, s.store.PutConsent(ctx, filter.Consent{
		Subject: s.subject(n), Last4: n.Last4(),
		Seller: in.Seller, Purpose: in.Purpose, Channel: ch,
		GrantedAt: granted, ExpiresAt: in.ExpiresAt,
		Source: in.Source, Evidence: in.Evidence,
	}), change{Action: "consent.put", Number: &n, Seller: in.Seller, Purpose: in.Purpose, Channel: ch, Detail: "source " + in.Source + "; evidence " + in.Evidence})
}

// RevokeConsent records a revocation; empty seller, purpose or channel revoke all.
func (s *Service) RevokeConsent(ctx context.Context, in RevokeInput) (int, error) {
	n, err := s.normalizeForRecord(in.Number, in.Region)
	if err != nil {
		return 0, err
	}
	var ch filter.Channel
	if in.Channel != "" {
		if ch, err = filter.ParseChannel(in.Channel); err != nil {
			return 0, err
		}
	}
	if err := required("source", in.Source); err != nil {
		return 0, err
	}
	matched, err := s.store.Revoke(ctx, filter.Revocation{
		Subject: s.subject(n), Last4: n.Last4(),
		Seller: in.Seller, Purpose: in.Purpose, Channel: ch,
		At: s.instant(in.At), Source: in.Source,
	})
	return matched, s.changed(ctx, err, change{Action: "consent.revoke", Number: &n, Seller: in.Seller, Purpose: in.Purpose, Channel: ch, Detail: "source " + in.Source})
}

// PutRelationship records a purchase or an inquiry.
func (s *Service) PutRelationship(ctx context.Context, in RelationshipInput) error {
	n, err := s.normalizeForRecord(in.Number, in.Region)
	if err != nil {
		return err
	}
	kind, err := filter.ParseRelationshipKind(in.Kind)
	if err != nil {
		return err
	}
	if err := required("seller", in.Seller); err != nil {
		return err
	}
	at := s.instant(in.At)
	if !in.PolicyExpiresAt.IsZero() && in.PolicyExpiresAt.Before(at) {
		return filter.Errorf(filter.EInvalid, "invalid_policy_expires_at", "policy_expires_at must not be before at")
	}
	return s.changed(ctx, s.store.PutRelationship(ctx, filter.Relationship{
		Subject: s.subject(n), Last4: n.Last4(), Seller: in.Seller, Kind: kind, At: at, PolicyExpiresAt: in.PolicyExpiresAt,
	}), change{Action: "relationship.put", Number: &n, Seller: in.Seller, Target: string(kind)})
}

// InternalList is the company's own do-not-contact list, which opt-outs feed and
// no exemption overrides.
const InternalList = "internal"

// OptOut honours a do-not-contact request: the number goes on the company list
// (so it is denied for every seller and purpose, whatever consent says) and the
// matching consents are revoked. Both are durable before it returns.
func (s *Service) OptOut(ctx context.Context, in OptOutInput) (OptOutResult, error) {
	n, err := s.normalizeForRecord(in.Number, in.Region)
	if err != nil {
		return OptOutResult{}, err
	}
	var ch filter.Channel
	if in.Channel != "" {
		if ch, err = filter.ParseChannel(in.Channel); err != nil {
			return OptOutResult{}, err
		}
	}
	if err := required("source", in.Source); err != nil {
		return OptOutResult{}, err
	}
	added, err := s.lists.Add(ctx, InternalList, []uint64{n.Key})
	if err != nil {
		return OptOutResult{}, err
	}
	revoked, err := s.store.Revoke(ctx, filter.Revocation{
		Subject: s.subject(n), Last4: n.Last4(), Seller: in.Seller, Channel: ch,
		At: s.instant(in.At), Source: in.Source,
	})
	if err != nil {
		return OptOutResult{}, err
	}
	return OptOutResult{Listed: added > 0, Revoked: revoked}, s.changed(ctx, nil, change{Action: "optout", Number: &n, Seller: in.Seller, Channel: ch, Target: InternalList, Detail: "source " + in.Source})
}

func (s *Service) knownPurpose(p string) error {
	if !slices.Contains(s.rules.Load().PurposeNames(), p) {
		return filter.Errorf(filter.EInvalid, filter.CodeUnknownPurpose, "unknown purpose %q", p)
	}
	return nil
}
