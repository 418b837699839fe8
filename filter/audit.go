package filter

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
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
// rules read of the number (never the number itself) and every fact Decide
// reads (filter.Facts), as it was at that instant. Like the entry, it holds
// no phone number: facts about the number are kept without its Subject (the
// entry has it once).
type AuditReplay struct {
	At        time.Time `json:"at"`
	Region    string    `json:"region,omitempty"`
	Area      string    `json:"area,omitempty"`
	LineType  string    `json:"line_type,omitempty"`
	TimeZones []string  `json:"timezones,omitempty"`
	// FactLineType is Facts.LineType: a line type known from a list or a
	// carrier lookup, overriding LineType (the numbering plan's) for
	// wireless_prohibited.
	FactLineType string `json:"fact_line_type,omitempty"`
	// PostalCode is the request's (Request.PostalCode): its state's rules
	// and zones apply too.
	PostalCode    string         `json:"postal_code,omitempty"`
	Lists         []AuditList    `json:"lists,omitempty"`
	Consents      []AuditConsent `json:"consents,omitempty"`
	Revocations   []AuditRevoke  `json:"revocations,omitempty"`
	Relationships []AuditRel     `json:"relationships,omitempty"`
	Attempts      []time.Time    `json:"attempts,omitempty"`
	// Outcomes are the call outcomes read (Facts.Outcomes).
	Outcomes []AuditOutcome `json:"outcomes,omitempty"`
	// DisconnectedAt is the number's last disconnect known then
	// (Facts.DisconnectedAt), zero for none.
	DisconnectedAt time.Time `json:"disconnected_at,omitzero"`
	Unavailable    []string  `json:"unavailable,omitempty"`
}

// AuditList is a list's state as a decision read it, at its instant: an
// entry whose expiry had come is absent (ListFact.StateAt), and ExpiresAt is
// kept only for one still present.
type AuditList struct {
	List  string    `json:"list"`
	State ListState `json:"state"`
	// UpdatedAt is when the list was last updated, as read for a list with a
	// maximum age (ListFact.UpdatedAt); zero when not read.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// SourceDate is when the registry published the list's data
	// (ListFact.SourceDate), read with UpdatedAt; zero when unknown.
	SourceDate time.Time `json:"source_date,omitzero"`
	// ExpiresAt is when a present entry stops matching; zero for never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// AuditListAt returns the AuditList of l as Decide reads it at instant at.
// (AuditList and ListFact convert into each other: a field added to
// ListFact, which Decide may read, does not compile here until the audit
// keeps it too.)
func AuditListAt(l ListFact, at time.Time) AuditList {
	a := AuditList(l)
	if !a.ExpiresAt.IsZero() { // only an expiry changes a state with time
		if a.State = l.StateAt(at); a.State != ListPresent {
			a.ExpiresAt = time.Time{}
		}
	}
	return a
}

// Fact returns the list fact a replays.
func (a AuditList) Fact() ListFact { return ListFact(a) }

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
	// PolicyExpiresAt is Relationship.PolicyExpiresAt, zero for none.
	PolicyExpiresAt time.Time `json:"policy_expires_at,omitzero"`
}

// AuditOutcome is a call outcome as a decision read it.
type AuditOutcome struct {
	Seller  string      `json:"seller"`
	Purpose string      `json:"purpose"`
	Channel Channel     `json:"channel"`
	Kind    OutcomeKind `json:"kind"`
	At      time.Time   `json:"at"`
}

// AuditEntry is one record of the tamper-evident audit trail. Entries form one
// chain per store: Seq counts from 1 with no gap, Prev is the Hash of entry
// Seq-1 (zero for the first, or the checkpoint's hash after expiry) and Hash
// is the SHA-256 of the entry's AuditRecord (which holds Seq and Prev too).
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

// auditJSON is the form of an AuditEntry in API responses and exports:
// hashes and the subject in hex, times in UTC with nanoseconds, fields in a
// fixed order. (It was also the stored and hashed form until the binary
// AuditRecord replaced it.)
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

// MarshalJSON encodes e as API responses and exports show it.
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

// UnmarshalJSON decodes what MarshalJSON encodes.
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

// AuditRecord is an entry in its stored and hashed form, encoded once when it
// is queued and never again: the writer fills in Seq, Prev and Hash, stores
// write the bytes as they are, and a verifier hashes the bytes it reads (so an
// edit is caught whether or not it still decodes). The format changed from
// the JSON of MarshalJSON to this one (version 2), then gained the facts of
// list expiries and ages, disconnects, policy expiries and call outcomes in
// the Replay (version 3); there was no deployed data to migrate either time,
// and a record of an earlier version does not decode (the store reports it
// damaged, never skips it).
//
//	[0:32]    Hash: SHA-256 of the rest of the record, [32:]
//	[32]      format version (AuditRecordVersion)
//	[33:41]   Seq, big-endian
//	[41:73]   Prev
//	[73:85]   Time: Unix seconds (int64), nanoseconds (uint32), big-endian
//	[85]      flags: 1 Subject follows, 2 the Replay is at the end
//	[86:118]  Subject, when flagged
//	then      Kind, ID, Actor, Last4, Seller, Purpose, Channel, Campaign,
//	          Decision, RulesVersion, Action, Target, Detail as strings (a
//	          uvarint length, then the bytes); Reasons as a uvarint count of
//	          (Code, List); the Replay when flagged, below.
//
// The Replay, in order (each slice as a uvarint count, then its elements):
// At; Region, Area, LineType, FactLineType, PostalCode; TimeZones; Lists
// (List, then a byte: State in bits 0-3, bit 4 UpdatedAt follows, bit 5
// ExpiresAt follows, bit 6 SourceDate follows, then those times in that
// order); Consents (Seller, Purpose, Channel, GrantedAt, ExpiresAt);
// Revocations (Seller, Purpose, Channel, At); Relationships (Seller, Kind,
// At, PolicyExpiresAt as an optional time); Attempts; Outcomes (Seller,
// Purpose, Channel, Kind, At); DisconnectedAt as an optional time;
// Unavailable. A time is a zig-zag varint of Unix seconds and a uvarint of
// nanoseconds; an optional time is a byte, 0 for the zero time, else 1 and
// the time. A zero time is never flagged as present, so an entry has one
// encoding.
//
// Time and Subject sit at fixed offsets so that a store can filter records by
// them without decoding.
type AuditRecord []byte

// AuditRecordVersion is the format version of AuditRecord.
const AuditRecordVersion = 3

const (
	recHash     = 0
	recVersion  = 32
	recSeq      = 33
	recPrev     = 41
	recTime     = 73
	recFlags    = 85
	recSubject  = 86
	recMinLen   = recSubject
	flagSubject = 1
	flagReplay  = 2

	// In a replayed list's state byte.
	listStateMask  = 0x0f
	listHasUpdated = 0x10
	listHasExpiry  = 0x20
	listHasSource  = 0x40
)

// Seq is the record's position in the chain. The record must be Valid.
func (r AuditRecord) Seq() uint64 { return binary.BigEndian.Uint64(r[recSeq:]) }

// Prev is the hash of the record's predecessor. The record must be Valid.
func (r AuditRecord) Prev() (h [32]byte) { copy(h[:], r[recPrev:recTime]); return h }

// Hash is the hash the record carries. The record must be Valid.
func (r AuditRecord) Hash() (h [32]byte) { copy(h[:], r[recHash:recVersion]); return h }

// Time is the entry's Time, read without decoding. The record must be Valid.
func (r AuditRecord) Time() time.Time {
	return time.Unix(int64(binary.BigEndian.Uint64(r[recTime:])), int64(binary.BigEndian.Uint32(r[recTime+8:]))).UTC()
}

// UnixNano is Time in Unix nanoseconds, for indexes. The record must be Valid.
func (r AuditRecord) UnixNano() int64 {
	return int64(binary.BigEndian.Uint64(r[recTime:]))*1e9 + int64(binary.BigEndian.Uint32(r[recTime+8:]))
}

// Subject is the entry's Subject (false when it concerns no number), read
// without decoding. The record must be Valid.
func (r AuditRecord) Subject() (s Subject, ok bool) {
	if r[recFlags]&flagSubject == 0 {
		return s, false
	}
	copy(s[:], r[recSubject:])
	return s, true
}

// HasSubject reports whether the record concerns s. The record must be Valid.
func (r AuditRecord) HasSubject(s *Subject) bool {
	return r[recFlags]&flagSubject != 0 && string(r[recSubject:recSubject+32]) == string(s[:])
}

// Valid reports whether the fixed part of the record is well formed (the
// accessors above may be used); Decode checks the rest.
func (r AuditRecord) Valid() bool {
	if len(r) < recMinLen || r[recVersion] != AuditRecordVersion {
		return false
	}
	return r[recFlags]&flagSubject == 0 || len(r) >= recSubject+32
}

// ComputeHash returns the hash the record must carry: SHA-256 of every byte
// after the Hash field, in one pass over the stored bytes. The record must be
// Valid.
func (r AuditRecord) ComputeHash() [32]byte { return sha256.Sum256(r[recVersion:]) }

// Seal sets the record's Seq and Prev, computes its Hash, stores it in the
// record and returns it.
func (r AuditRecord) Seal(seq uint64, prev [32]byte) [32]byte {
	binary.BigEndian.PutUint64(r[recSeq:], seq)
	copy(r[recPrev:recTime], prev[:])
	h := r.ComputeHash()
	copy(r[recHash:recVersion], h[:])
	return h
}

// AppendAuditRecord appends e's record to b, with e's Seq, Prev and Hash
// (zero until Seal sets them), and returns the extended slice. It does not
// keep e or anything e refers to.
func AppendAuditRecord(b []byte, e *AuditEntry) []byte {
	b = append(b, e.Hash[:]...)
	b = append(b, AuditRecordVersion)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = append(b, e.Prev[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(e.Time.Nanosecond()))
	var flags byte
	if e.Subject != (Subject{}) {
		flags |= flagSubject
	}
	if e.Replay != nil {
		flags |= flagReplay
	}
	b = append(b, flags)
	if flags&flagSubject != 0 {
		b = append(b, e.Subject[:]...)
	}
	for _, s := range [...]string{string(e.Kind), e.ID, e.Actor, e.Last4, e.Seller, e.Purpose, string(e.Channel), e.Campaign,
		string(e.Decision), e.RulesVersion, e.Action, e.Target, e.Detail} {
		b = appendStr(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Reasons)))
	for _, r := range e.Reasons {
		b = appendStr(appendStr(b, string(r.Code)), r.List)
	}
	if r := e.Replay; r != nil {
		b = appendTime(b, r.At)
		b = appendStr(appendStr(appendStr(appendStr(appendStr(b, r.Region), r.Area), r.LineType), r.FactLineType), r.PostalCode)
		b = binary.AppendUvarint(b, uint64(len(r.TimeZones)))
		for _, z := range r.TimeZones {
			b = appendStr(b, z)
		}
		b = binary.AppendUvarint(b, uint64(len(r.Lists)))
		for _, l := range r.Lists {
			st := byte(l.State) & listStateMask
			if !l.UpdatedAt.IsZero() {
				st |= listHasUpdated
			}
			if !l.ExpiresAt.IsZero() {
				st |= listHasExpiry
			}
			if !l.SourceDate.IsZero() {
				st |= listHasSource
			}
			b = append(appendStr(b, l.List), st)
			if st&listHasUpdated != 0 {
				b = appendTime(b, l.UpdatedAt)
			}
			if st&listHasExpiry != 0 {
				b = appendTime(b, l.ExpiresAt)
			}
			if st&listHasSource != 0 {
				b = appendTime(b, l.SourceDate)
			}
		}
		b = binary.AppendUvarint(b, uint64(len(r.Consents)))
		for _, c := range r.Consents {
			b = appendStr(appendStr(appendStr(b, c.Seller), c.Purpose), string(c.Channel))
			b = appendTime(appendTime(b, c.GrantedAt), c.ExpiresAt)
		}
		b = binary.AppendUvarint(b, uint64(len(r.Revocations)))
		for _, v := range r.Revocations {
			b = appendStr(appendStr(appendStr(b, v.Seller), v.Purpose), string(v.Channel))
			b = appendTime(b, v.At)
		}
		b = binary.AppendUvarint(b, uint64(len(r.Relationships)))
		for _, v := range r.Relationships {
			b = appendTime(appendStr(appendStr(b, v.Seller), string(v.Kind)), v.At)
			b = appendOptTime(b, v.PolicyExpiresAt)
		}
		b = binary.AppendUvarint(b, uint64(len(r.Attempts)))
		for _, t := range r.Attempts {
			b = appendTime(b, t)
		}
		b = binary.AppendUvarint(b, uint64(len(r.Outcomes)))
		for _, o := range r.Outcomes {
			b = appendStr(appendStr(appendStr(appendStr(b, o.Seller), o.Purpose), string(o.Channel)), string(o.Kind))
			b = appendTime(b, o.At)
		}
		b = appendOptTime(b, r.DisconnectedAt)
		b = binary.AppendUvarint(b, uint64(len(r.Unavailable)))
		for _, u := range r.Unavailable {
			b = appendStr(b, u)
		}
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendTime(b []byte, t time.Time) []byte {
	return binary.AppendUvarint(binary.AppendVarint(b, t.Unix()), uint64(t.Nanosecond()))
}

// appendOptTime appends an optional time: 0 for the zero time, else 1 and
// the time.
func appendOptTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return appendTime(append(b, 1), t)
}

// recReader decodes a record's variable part; the first error sticks.
type recReader struct {
	b   []byte
	bad bool
}

// uvarint reads a varint, refusing a longer encoding than the shortest (a
// record has one encoding: decoded and encoded again, it is the same bytes).
func (d *recReader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n > 1 && d.b[n-1] == 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a slice length, bounded by the bytes left (each element takes
// at least one), so a damaged record cannot make Decode allocate much.
func (d *recReader) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return 0
	}
	return int(n)
}

func (d *recReader) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *recReader) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *recReader) time() time.Time {
	s, n := binary.Varint(d.b)
	if n <= 0 || n > 1 && d.b[n-1] == 0 {
		d.bad, d.b = true, nil
		return time.Time{}
	}
	d.b = d.b[n:]
	ns := d.uvarint()
	if ns >= 1e9 {
		d.bad = true
		return time.Time{}
	}
	return time.Unix(s, int64(ns)).UTC()
}

// presentTime reads a time flagged as present: the zero time is refused (it
// is written as absent).
func (d *recReader) presentTime() time.Time {
	t := d.time()
	if t.IsZero() {
		d.bad = true
	}
	return t
}

func (d *recReader) optTime() time.Time {
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
		return d.presentTime()
	}
	d.bad = true
	return time.Time{}
}

// Decode returns the entry the record holds. An EInvalid error means the
// record is damaged (it is not one AppendAuditRecord wrote).
func (r AuditRecord) Decode() (AuditEntry, error) {
	if !r.Valid() {
		return AuditEntry{}, Errorf(EInvalid, "", "audit record: damaged header")
	}
	e := AuditEntry{Seq: r.Seq(), Prev: r.Prev(), Hash: r.Hash(), Time: r.Time()}
	if binary.BigEndian.Uint32(r[recTime+8:]) >= 1e9 {
		return AuditEntry{}, Errorf(EInvalid, "", "audit record: damaged time")
	}
	d := recReader{b: r[recSubject:]}
	flags := r[recFlags]
	if flags&^(flagSubject|flagReplay) != 0 {
		return AuditEntry{}, Errorf(EInvalid, "", "audit record: unknown flags")
	}
	if flags&flagSubject != 0 {
		if e.Subject, _ = r.Subject(); e.Subject == (Subject{}) {
			// AppendAuditRecord writes no zero subject: the flag says none.
			return AuditEntry{}, Errorf(EInvalid, "", "audit record: zero subject")
		}
		d.b = d.b[32:]
	}
	e.Kind, e.ID, e.Actor, e.Last4 = AuditKind(d.str()), d.str(), d.str(), d.str()
	e.Seller, e.Purpose, e.Channel, e.Campaign = d.str(), d.str(), Channel(d.str()), d.str()
	e.Decision, e.RulesVersion, e.Action, e.Target, e.Detail = Outcome(d.str()), d.str(), d.str(), d.str(), d.str()
	if n := d.count(); n > 0 {
		e.Reasons = make([]AuditReason, n)
		for i := range e.Reasons {
			e.Reasons[i] = AuditReason{Code: ReasonCode(d.str()), List: d.str()}
		}
	}
	if flags&flagReplay != 0 {
		rp := &AuditReplay{At: d.time(), Region: d.str(), Area: d.str(), LineType: d.str(), FactLineType: d.str(), PostalCode: d.str()}
		if n := d.count(); n > 0 {
			rp.TimeZones = make([]string, n)
			for i := range rp.TimeZones {
				rp.TimeZones[i] = d.str()
			}
		}
		if n := d.count(); n > 0 {
			rp.Lists = make([]AuditList, n)
			for i := range rp.Lists {
				l := &rp.Lists[i]
				l.List = d.str()
				st := d.byte()
				if st&^(listStateMask|listHasUpdated|listHasExpiry|listHasSource) != 0 || st&listStateMask > byte(ListPresent) {
					d.bad = true
				}
				l.State = ListState(st & listStateMask)
				if st&listHasUpdated != 0 {
					l.UpdatedAt = d.presentTime()
				}
				if st&listHasExpiry != 0 {
					l.ExpiresAt = d.presentTime()
				}
				if st&listHasSource != 0 {
					l.SourceDate = d.presentTime()
				}
			}
		}
		if n := d.count(); n > 0 {
			rp.Consents = make([]AuditConsent, n)
			for i := range rp.Consents {
				rp.Consents[i] = AuditConsent{Seller: d.str(), Purpose: d.str(), Channel: Channel(d.str()), GrantedAt: d.time(), ExpiresAt: d.time()}
			}
		}
		if n := d.count(); n > 0 {
			rp.Revocations = make([]AuditRevoke, n)
			for i := range rp.Revocations {
				rp.Revocations[i] = AuditRevoke{Seller: d.str(), Purpose: d.str(), Channel: Channel(d.str()), At: d.time()}
			}
		}
		if n := d.count(); n > 0 {
			rp.Relationships = make([]AuditRel, n)
			for i := range rp.Relationships {
				rp.Relationships[i] = AuditRel{Seller: d.str(), Kind: RelationshipKind(d.str()), At: d.time(), PolicyExpiresAt: d.optTime()}
			}
		}
		if n := d.count(); n > 0 {
			rp.Attempts = make([]time.Time, n)
			for i := range rp.Attempts {
				rp.Attempts[i] = d.time()
			}
		}
		if n := d.count(); n > 0 {
			rp.Outcomes = make([]AuditOutcome, n)
			for i := range rp.Outcomes {
				rp.Outcomes[i] = AuditOutcome{Seller: d.str(), Purpose: d.str(), Channel: Channel(d.str()), Kind: OutcomeKind(d.str()), At: d.time()}
			}
		}
		rp.DisconnectedAt = d.optTime()
		if n := d.count(); n > 0 {
			rp.Unavailable = make([]string, n)
			for i := range rp.Unavailable {
				rp.Unavailable[i] = d.str()
			}
		}
		e.Replay = rp
	}
	if d.bad || len(d.b) != 0 {
		return AuditEntry{}, Errorf(EInvalid, "", "audit record %d: damaged", e.Seq)
	}
	return e, nil
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
	// AppendAudit appends records (AuditRecord, sealed), which continue
	// head: recs[i].Seq() is head.Seq+1+i, recs[0].Prev() is head.Hash and
	// each next record's Prev is its predecessor's Hash. The store writes the
	// bytes as they are and does not keep recs after it returns. The append
	// is atomic: all or nothing. When the chain's head is not head any more
	// (another writer appended), nothing is appended and the error is
	// EConflict: the caller reads the head again, re-seals and retries.
	// EInvalid for records that do not continue head.
	AppendAudit(ctx context.Context, head AuditHead, recs []AuditRecord) error
	// QueryAudit returns a page of the entries q selects, in chain order, and
	// the cursor of the next page ("" when there is none).
	QueryAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, string, error)
	// ScanAudit calls fn with the stored bytes of every entry from Seq from
	// on, in chain order, with the Seq the store keeps it under, stopping at
	// fn's first error, which it returns. rec is valid only during the call
	// and may be damaged (not Valid): a verifier hashes what is stored.
	// Entries that are missing (deleted) are skipped: a verifier sees the gap
	// in Seq.
	ScanAudit(ctx context.Context, from uint64, fn func(seq uint64, rec AuditRecord) error) error
	// AuditCheckpoint returns the last expired entry's Seq and Hash: the
	// chain now starts after it (zero when nothing has expired).
	AuditCheckpoint(ctx context.Context) (AuditHead, error)
	// ExpireAudit deletes the entries at the start of the chain whose Time is
	// before before, up to limit of them, moves the checkpoint past them and
	// returns how many it deleted. The chain stays contiguous: it stops at the
	// first entry that is not old enough.
	ExpireAudit(ctx context.Context, before time.Time, limit int) (int, error)
}

// MayMatch reports whether a Valid record can pass q, from the fields a
// record holds at fixed offsets (Subject and Time): stores call it before
// decoding, and Matches after.
func (q *AuditQuery) MayMatch(r AuditRecord) bool {
	if q.Subject != (Subject{}) && !r.HasSubject(&q.Subject) {
		return false
	}
	if q.From.IsZero() && q.To.IsZero() {
		return true
	}
	t := r.Time()
	return (q.From.IsZero() || !t.Before(q.From)) && (q.To.IsZero() || t.Before(q.To))
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
