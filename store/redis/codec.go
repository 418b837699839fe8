package redis

import (
	"encoding/hex"
	"encoding/json"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/filter"
)

// Records are JSON; instants are Unix milliseconds (the precision kept) and
// come back in UTC. The Subject is in the key, not the record.

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// ceilMS is the first whole millisecond at or after t.
func ceilMS(t time.Time) int64 {
	v := t.UnixMilli()
	if time.UnixMilli(v).Before(t) {
		v++
	}
	return v
}

type consentRec struct {
	Seller   string `json:"seller"`
	Purpose  string `json:"purpose"`
	Channel  string `json:"channel"`
	Last4    string `json:"last4,omitempty"`
	Granted  int64  `json:"granted"`
	Expires  *int64 `json:"expires,omitempty"`
	Source   string `json:"source,omitempty"`
	Evidence string `json:"evidence,omitempty"`
}

func encodeConsent(c *filter.Consent) string {
	r := consentRec{Seller: c.Seller, Purpose: c.Purpose, Channel: string(c.Channel), Last4: c.Last4,
		Granted: ms(c.GrantedAt), Source: c.Source, Evidence: c.Evidence}
	if !c.ExpiresAt.IsZero() {
		e := ms(c.ExpiresAt)
		r.Expires = &e
	}
	return mustJSON(r)
}

func decodeConsent(s filter.Subject, v string) (filter.Consent, error) {
	var r consentRec
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return filter.Consent{}, errCorrupt("consent")
	}
	c := filter.Consent{Subject: s, Last4: r.Last4, Seller: r.Seller, Purpose: r.Purpose,
		Channel: filter.Channel(r.Channel), GrantedAt: fromMS(r.Granted), Source: r.Source, Evidence: r.Evidence}
	if r.Expires != nil {
		c.ExpiresAt = fromMS(*r.Expires)
	}
	return c, nil
}

type revocationRec struct {
	Seller  string `json:"seller,omitempty"`
	Purpose string `json:"purpose,omitempty"`
	Channel string `json:"channel,omitempty"`
	Last4   string `json:"last4,omitempty"`
	At      int64  `json:"at"`
	Source  string `json:"source,omitempty"`
}

func encodeRevocation(r *filter.Revocation) string {
	return mustJSON(revocationRec{Seller: r.Seller, Purpose: r.Purpose, Channel: string(r.Channel),
		Last4: r.Last4, At: ms(r.At), Source: r.Source})
}

func decodeRevocation(s filter.Subject, v string) (filter.Revocation, error) {
	var r revocationRec
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return filter.Revocation{}, errCorrupt("revocation")
	}
	return filter.Revocation{Subject: s, Last4: r.Last4, Seller: r.Seller, Purpose: r.Purpose,
		Channel: filter.Channel(r.Channel), At: fromMS(r.At), Source: r.Source}, nil
}

// relationshipRec's "at" is read by relationshipScript.
type relationshipRec struct {
	Seller string `json:"seller"`
	Kind   string `json:"kind"`
	Last4  string `json:"last4,omitempty"`
	At     int64  `json:"at"`
	// Policy is the policy's expiry, Unix ms; absent when none.
	Policy int64 `json:"policy,omitempty"`
}

func encodeRelationship(r *filter.Relationship) string {
	rec := relationshipRec{Seller: r.Seller, Kind: string(r.Kind), Last4: r.Last4, At: ms(r.At)}
	if !r.PolicyExpiresAt.IsZero() {
		rec.Policy = ms(r.PolicyExpiresAt)
	}
	return mustJSON(rec)
}

func decodeRelationship(s filter.Subject, v string) (filter.Relationship, error) {
	var r relationshipRec
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return filter.Relationship{}, errCorrupt("relationship")
	}
	rel := filter.Relationship{Subject: s, Last4: r.Last4, Seller: r.Seller,
		Kind: filter.RelationshipKind(r.Kind), At: fromMS(r.At)}
	if r.Policy != 0 {
		rel.PolicyExpiresAt = fromMS(r.Policy)
	}
	return rel, nil
}

// apiKeyRec's "hash" is read by deleteKeyScript.
type apiKeyRec struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Hash    string `json:"hash"`
	Created int64  `json:"created"`
}

func encodeAPIKey(k *filter.APIKey) string {
	return mustJSON(apiKeyRec{Name: k.Name, Role: string(k.Role), Hash: hex.EncodeToString(k.Hash[:]), Created: ms(k.CreatedAt)})
}

func decodeAPIKey(v string) (filter.APIKey, error) {
	var r apiKeyRec
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return filter.APIKey{}, errCorrupt("API key")
	}
	k := filter.APIKey{Name: r.Name, Role: filter.Role(r.Role)}
	if b, err := hex.DecodeString(r.Hash); err != nil || len(b) != len(k.Hash) {
		return filter.APIKey{}, errCorrupt("API key")
	} else {
		copy(k.Hash[:], b)
	}
	if r.Created != 0 {
		k.CreatedAt = fromMS(r.Created)
	}
	return k, nil
}

// mustJSON marshals records of plain strings and integers, which cannot fail.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// outcomeRec is a call outcome in its sorted set; R makes two outcomes at one
// instant distinct members.
type outcomeRec struct {
	Purpose string `json:"p"`
	Channel string `json:"c"`
	Kind    string `json:"k"`
	R       string `json:"r"`
}

func encodeOutcome(o *filter.CallOutcome, r string) string {
	return mustJSON(outcomeRec{Purpose: o.Purpose, Channel: string(o.Channel), Kind: string(o.Kind), R: r})
}

func decodeOutcome(s filter.Subject, seller string, z goredis.Z) (filter.CallOutcome, error) {
	var r outcomeRec
	m, _ := z.Member.(string)
	if err := json.Unmarshal([]byte(m), &r); err != nil {
		return filter.CallOutcome{}, errCorrupt("outcome")
	}
	return filter.CallOutcome{Subject: s, Seller: seller, Purpose: r.Purpose, Channel: filter.Channel(r.Channel),
		Kind: filter.OutcomeKind(r.Kind), At: fromMS(int64(z.Score))}, nil
}
