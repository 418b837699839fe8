package filter

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"time"
)

// AuditKind says what an audit entry records.
type AuditKind string

// Audit kinds.
const (
	// AuditDecision is one check decision (a single check or a batch item).
	AuditDecision AuditKind = "decision"
	// AuditChange is a change to lists, consents, relationships, opt-outs,
	// API keys or rules.
	AuditChange AuditKind = "change"
)

// AuditReason is one reason of an audited decision: its code and, for the
// reasons that name one, the list.
type AuditReason struct {
	Code ReasonCode `json:"code"`
	List string     `json:"list,omitempty"`
}

// AuditReplay is what Decide needs to decide an audited check again (a
// preview of a draft rule set replays it): the evaluation instant, what the
// rules read of the number (never the number itself) and the facts read.
type AuditReplay struct {
	At            time.Time      `json:"at"`
	Region        string         `json:"region,omitempty"`
	Area          string         `json:"area,omitempty"`
	LineType      string         `json:"line_type,omitempty"`
	TimeZones     []string       `json:"timezones,omitempty"`
	Lists         []AuditList    `json:"lists,omitempty"`
	Consents      []AuditConsent `json:"consents,omitempty"`
	Revocations   []AuditRevoke  `json:"revocations,omitempty"`
	Relationships []AuditRel     `json:"relationships,omitempty"`
	Attempts      []time.Time    `json:"attempts,omitempty"`
	Unavailable   []string       `json:"unavailable,omitempty"`
}

// AuditList is a list's state as a decision read it.
type AuditList struct {
	List  string    `json:"list"`
	State ListState `json:"state"`
}

// AuditConsent is a consent as a decision read it (without its evidence,
// which the consent record keeps).
type AuditConsent struct {
	Seller    string    `json:"seller"`
	Purpose   string    `json:"purpose"`
	Channel   Channel   `json:"channel"`
	GrantedAt time.Time `json:"granted_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// AuditRevoke is a revocation as a decision read it.
type AuditRevoke struct {
	Seller  string    `json:"seller,omitempty"`
	Purpose string    `json:"purpose,omitempty"`
	Channel Channel   `json:"channel,omitempty"`
	At      time.Time `json:"at"`
}

// AuditRel is a relationship as a decision read it.
type AuditRel struct {
	Seller string           `json:"seller"`
	Kind   RelationshipKind `json:"kind"`
	At     time.Time        `json:"at"`
}

// AuditEntry is one record of the tamper-evident audit trail. Entries form one
// chain per store: Seq counts from 1 with no gap, Prev is the Hash of entry
// Seq-1 (zero for the first, or the checkpoint's hash after expiry) and Hash
// is the SHA-256 of Prev and the entry's canonical encoding (package audit).
// An entry never holds a phone number: Subject is its keyed hash and Last4 at
// most its last four digits.
type AuditEntry struct {
	Seq  uint64
	Prev [32]byte
	Hash [32]byte

	Kind AuditKind
	// ID is the decision id of a decision, a fresh id for a change.
	ID string
	// Time is when the service recorded the entry.
	Time time.Time
	// Actor is the name of the API key that asked ("" for the service itself).
	Actor string

	Subject  Subject // zero when the entry concerns no number
	Last4    string
	Seller   string
	Purpose  string
	Channel  Channel
	Campaign string

	// Decision fields.
	Decision     Outcome
	Reasons      []AuditReason
	RulesVersion string
	Replay       *AuditReplay

	// Change fields: Action names the change ("list.add", "consent.put",
	// "consent.revoke", "relationship.put", "optout", "key.create",
	// "key.delete", "rules.put", "rules.rollback"), Target what it applied to
	// (a list, a key name, a rules version), Detail says more, for people.
	Action string
	Target string
	Detail string
}

// auditJSON is the stored and hashed form of an AuditEntry: hashes and the
// subject in hex, times in UTC with nanoseconds, fields in a fixed order.
type auditJSON struct {
	Seq          uint64        `json:"seq"`
	Prev         string        `json:"prev"`
	Hash         string        `json:"hash,omitempty"`
	Kind         AuditKind     `json:"kind"`
	ID           string        `json:"id"`
	Time         time.Time     `json:"time"`
	Actor        string        `json:"actor,omitempty"`
	Subject      string        `json:"subject,omitempty"`
	Last4        string        `json:"last4,omitempty"`
	Seller       string        `json:"seller,omitempty"`
	Purpose      string        `json:"purpose,omitempty"`
	Channel      Channel       `json:"channel,omitempty"`
	Campaign     string        `json:"campaign,omitempty"`
	Decision     Outcome       `json:"decision,omitempty"`
	Reasons      []AuditReason `json:"reasons,omitempty"`
	RulesVersion string        `json:"rules_version,omitempty"`
	Replay       *AuditReplay  `json:"replay,omitempty"`
	Action       string        `json:"action,omitempty"`
	Target       string        `json:"target,omitempty"`
	Detail       string        `json:"detail,omitempty"`
}

// MarshalJSON encodes e in its stored form.
func (e AuditEntry) MarshalJSON() ([]byte, error) {
	j := auditJSON{
		Seq: e.Seq, Prev: hex.EncodeToString(e.Prev[:]), Kind: e.Kind, ID: e.ID, Time: e.Time.UTC(),
		Actor: e.Actor, Last4: e.Last4, Seller: e.Seller, Purpose: e.Purpose, Channel: e.Channel,
		Campaign: e.Campaign, Decision: e.Decision, Reasons: e.Reasons, RulesVersion: e.RulesVersion,
		Replay: e.Replay, Action: e.Action, Target: e.Target, Detail: e.Detail,
	}
	if e.Hash != ([32]byte{}) {
		j.Hash = hex.EncodeToString(e.Hash[:])
	}
	if e.Subject != (Subject{}) {
		j.Subject = hex.EncodeToString(e.Subject[:])
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the stored form.
func (e *AuditEntry) UnmarshalJSON(data []byte) error {
	var j auditJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*e = AuditEntry{
		Seq: j.Seq, Kind: j.Kind, ID: j.ID, Time: j.Time, Actor: j.Actor, Last4: j.Last4,
		Seller: j.Seller, Purpose: j.Purpose, Channel: j.Channel, Campaign: j.Campaign,
		Decision: j.Decision, Reasons: j.Reasons, RulesVersion: j.RulesVersion, Replay: j.Replay,
		Action: j.Action, Target: j.Target, Detail: j.Detail,
	}
	for _, f := range []struct {
		s   string
		dst []byte
	}{{j.Prev, e.Prev[:]}, {j.Hash, e.Hash[:]}, {j.Subject, e.Subject[:]}} {
		if f.s == "" {
			continue
		}
		b, err := hex.DecodeString(f.s)
		if err != nil || len(b) != 32 {
			return Errorf(EInvalid, "", "audit entry: a hash is not 64 hex digits")
		}
		copy(f.dst, b)
	}
	return nil
}

// Canonical returns the bytes an entry's Hash covers: its stored form with
// Hash left out. Decoding stored entries and encoding them again gives the
// same bytes, so a verifier recomputes the hash of what it reads.
func (e AuditEntry) Canonical() ([]byte, error) {
	e.Hash = [32]byte{}
	return e.MarshalJSON()
}

// AuditHead is the position of a chain's last entry: its Seq and Hash (zero
// for an empty chain).
type AuditHead struct {
	Seq  uint64
	Hash [32]byte
}

// AuditQuery selects audit entries. Zero fields select everything.
type AuditQuery struct {
	Subject  Subject // zero: any number
	Seller   string
	Kind     AuditKind
	Decision Outcome
	From, To time.Time // Time in [From, To); zero: unbounded
	// After is the cursor a previous page returned: entries after it.
	After string
	// Limit bounds the page (the store may return fewer); 0 means 100.
	Limit int
}

// AuditStore keeps the audit trail: one hash chain per store, shared by every
// instance that uses the store. All methods are safe for concurrent use;
// errors are *Error values, EUnavailable when the store cannot be read or
// written.
type AuditStore interface {
	// AuditHead returns the chain's head (zero when empty).
	AuditHead(ctx context.Context) (AuditHead, error)
	// AppendAudit appends entries, which continue head: entries[i].Seq is
	// head.Seq+1+i and entries[0].Prev is head.Hash. The append is atomic:
	// all or nothing. When the chain's head is not head any more (another
	// writer appended), nothing is appended and the error is EConflict: the
	// caller reads the head again, re-chains and retries. EInvalid for
	// entries that do not continue head.
	AppendAudit(ctx context.Context, head AuditHead, entries []AuditEntry) error
	// QueryAudit returns a page of the entries q selects, in chain order, and
	// the cursor of the next page ("" when there is none).
	QueryAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, string, error)
	// ScanAudit calls fn with every entry from Seq from on, in chain order,
	// stopping at fn's first error, which it returns. Entries that are missing
	// (deleted) are skipped: a verifier sees the gap in Seq.
	ScanAudit(ctx context.Context, from uint64, fn func(AuditEntry) error) error
	// AuditCheckpoint returns the last expired entry's Seq and Hash: the
	// chain now starts after it (zero when nothing has expired).
	AuditCheckpoint(ctx context.Context) (AuditHead, error)
	// ExpireAudit deletes the entries at the start of the chain whose Time is
	// before before, up to limit of them, moves the checkpoint past them and
	// returns how many it deleted. The chain stays contiguous: it stops at the
	// first entry that is not old enough.
	ExpireAudit(ctx context.Context, before time.Time, limit int) (int, error)
}

// Matches reports whether e passes every filter of q (stores also use an
// index for one of them; checking all again is cheap and keeps them honest).
func (q AuditQuery) Matches(e *AuditEntry) bool {
	switch {
	case q.Subject != (Subject{}) && e.Subject != q.Subject,
		q.Seller != "" && e.Seller != q.Seller,
		q.Kind != "" && e.Kind != q.Kind,
		q.Decision != "" && e.Decision != q.Decision,
		!q.From.IsZero() && e.Time.Before(q.From),
		!q.To.IsZero() && !e.Time.Before(q.To):
		return false
	}
	return true
}
