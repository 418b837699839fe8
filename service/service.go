// Package service carries out what the API offers: it normalizes input, screens
// numbers through the bloom-filtered lists, reads the remaining facts from the
// store in one round trip, asks the pure decision engine, and records what must
// be recorded. It knows the domain and the store contract, not HTTP.
package service

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sync/atomic"
	"time"

	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/phone"
)

// Options configure a Service.
type Options struct {
	// DefaultRegion reads numbers written without a country code ("US").
	DefaultRegion string
	// Hasher turns numbers into the subjects that consent, relationship and
	// attempt records are keyed by.
	Hasher *filter.Hasher
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxBatch bounds the items of one batch check (default 1000).
	MaxBatch int
	// MaxListEdit bounds the numbers of one list edit (default 100000).
	MaxListEdit int
	// ExactLists makes every check confirm every list in the store instead of
	// trusting a bloom "no". A store shared by several instances needs it until
	// their filters follow each other's changes: another instance's add is in
	// the store at once but not in this instance's filters.
	ExactLists bool
	// Synced, when set, says whether the bloom filters follow every change
	// other instances make (a change feed is in step). While it returns
	// false every check confirms every list in the store, as with
	// ExactLists. It is called on every check: it must be cheap.
	Synced func() bool
	// Health, when set, says whether the store and the change feed can be
	// relied on; Ready is false while it returns an error.
	Health func() error
	// SMS configures inbound text messages (see SMSOptions).
	SMS SMSOptions
}

// Validate fills defaults and reports what must be fixed.
func (o *Options) Validate() error {
	if o.Hasher == nil {
		return errors.New("service: a Hasher is required (set hmac_secret)")
	}
	if o.DefaultRegion == "" {
		o.DefaultRegion = "US"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	if o.MaxListEdit <= 0 {
		o.MaxListEdit = 100000
	}
	return nil
}

// Service is safe for concurrent use.
type Service struct {
	store filter.Store
	lists *dnc.Lists
	rules atomic.Pointer[filter.RuleSet]
	opts  Options
	ids   idSource
	keys  keyCache
	sms   smsState
	ages  listAges
	off   officer // audit trail and versioned rules (audit.go, rules.go)
}

// New returns a Service over st and lists, deciding under rules.
func New(st filter.Store, lists *dnc.Lists, rules *filter.RuleSet, opts Options) (*Service, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if rules == nil {
		return nil, errors.New("service: a rule set is required")
	}
	s := &Service{store: st, lists: lists, opts: opts}
	s.rules.Store(rules)
	s.ids.init()
	return s, nil
}

// Rules returns the rule set checks are decided under now.
func (s *Service) Rules() *filter.RuleSet { return s.rules.Load() }

// SetRules replaces the rule set atomically: a check sees the old set or the new
// one, never a mix.
func (s *Service) SetRules(rs *filter.RuleSet) { s.rules.Store(rs) }

// Ready reports whether checks can be answered from loaded lists, and the
// store and change feed are healthy (Options.Health).
func (s *Service) Ready() bool {
	return s.lists.Ready() && (s.opts.Health == nil || s.opts.Health() == nil)
}

// Now is the service's clock (Options.Now).
func (s *Service) Now() time.Time { return s.opts.Now() }

// DefaultRegion is the region numbers without a country code are read in.
func (s *Service) DefaultRegion() string { return s.opts.DefaultRegion }

func (s *Service) region(r string) string {
	if r == "" {
		return s.opts.DefaultRegion
	}
	return r
}

func (s *Service) instant(at time.Time) time.Time {
	if at.IsZero() {
		return s.opts.Now()
	}
	return at
}

// idSource makes decision ids: 6 bytes of milliseconds, 4 random bytes fixed per
// process (so instances do not collide) and a 6-byte counter, as 32 hex digits.
// They sort by time within a process and cost one allocation.
type idSource struct {
	prefix [4]byte
	seq    atomic.Uint64
}

func (g *idSource) init() {
	_, _ = rand.Read(g.prefix[:])
	var b [8]byte
	_, _ = rand.Read(b[:])
	g.seq.Store(binary.BigEndian.Uint64(b[:]) >> 16)
}

func (g *idSource) next(now time.Time) string {
	var raw [16]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(now.UnixMilli()))
	copy(raw[0:6], ms[2:])
	copy(raw[6:10], g.prefix[:])
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], g.seq.Add(1))
	copy(raw[10:16], seq[2:])
	return hex.EncodeToString(raw[:])
}

// normalizeForRecord reads a number for a write (list, consent, opt-out). It is
// lenient (any possible number) so that a number in an area code the metadata
// does not know yet can still be listed or opted out: that fails safe.
func (s *Service) normalizeForRecord(raw, region string) (phone.Number, error) {
	n, err := phone.ParseKey(raw, s.region(region))
	if err != nil {
		return phone.Number{}, numberError(err)
	}
	return n, nil
}

// numberError maps a phone error to the domain's invalid_number/missing_number.
func numberError(err error) error {
	if errors.Is(err, phone.ErrMissing) {
		return &filter.Error{Kind: filter.EInvalid, Code: filter.CodeMissingNumber, Message: "number is missing", Err: err}
	}
	return &filter.Error{Kind: filter.EInvalid, Code: filter.CodeInvalidNumber, Message: err.Error(), Err: err}
}

func (s *Service) subject(n phone.Number) filter.Subject { return s.opts.Hasher.Subject(n.E164) }
