package embedded

import (
	"encoding/binary"
	"time"

	"callfilter/filter"
)

// Values are encoded compactly by hand: a format byte (valueV1) and then the
// fields in a fixed order, strings as uvarint length + bytes, times as
// appendTime writes them. Fields that are part of the key are not repeated.
//
//	consent       v1 | last4 | granted | expires | source | evidence
//	revocation    v1 | seller | purpose | channel | last4 | at | source
//	relationship  v1 | last4 | at [| policy expires]   (the last only when set)
//	API key       v1 | role | hash (32 bytes) | created
//	list meta     count (uint64, 8 bytes) | updated (int64 Unix ns, 8 bytes)
//	list block    format byte (blockPacked or blockBitmap, | blockExpiring) | packed 3-byte offsets
//	              or a 125,000-byte bitmap (blocks.go)
//	list expiry   uint64 Unix ms (8 bytes, at least 1)
//	disconnect    int64 Unix ns of the latest disconnect (8 bytes)
//	call outcome  v1 | purpose | channel | kind
const valueV1 = 1

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendTime appends t as 0 for the zero time, else 1, varint Unix seconds,
// uvarint nanoseconds. Any time.Time round-trips (in UTC).
func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

// reader decodes a value; the first error sticks and makes every later read
// return zero values.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) byte() byte {
	if r.bad || len(r.b) < 1 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.bad {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.bad || uint64(len(r.b)) < n {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) time() time.Time {
	switch r.byte() {
	case 0:
		return time.Time{}
	case 1:
		sec := r.varint()
		nsec := r.uvarint()
		if r.bad || nsec >= 1e9 {
			r.bad = true
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec)).UTC()
	}
	r.bad = true
	return time.Time{}
}

func (r *reader) bytes32() (h [32]byte) {
	if r.bad || len(r.b) < 32 {
		r.bad = true
		return h
	}
	copy(h[:], r.b)
	r.b = r.b[32:]
	return h
}

// done reports whether the value decoded cleanly and completely.
func (r *reader) done() bool { return !r.bad && len(r.b) == 0 }

func encodeConsent(dst []byte, c *filter.Consent) []byte {
	dst = append(dst, valueV1)
	dst = appendString(dst, c.Last4)
	dst = appendTime(dst, c.GrantedAt)
	dst = appendTime(dst, c.ExpiresAt)
	dst = appendString(dst, c.Source)
	return appendString(dst, c.Evidence)
}

// decodeConsent decodes the consent stored under key k with value v.
func decodeConsent(k, v []byte) (filter.Consent, bool) {
	var c filter.Consent
	var ok bool
	if c.Seller, c.Purpose, c.Channel, ok = parseConsentKey(k); !ok {
		return c, false
	}
	copy(c.Subject[:], k)
	r := reader{b: v}
	if r.byte() != valueV1 {
		return c, false
	}
	c.Last4 = r.string()
	c.GrantedAt = r.time()
	c.ExpiresAt = r.time()
	c.Source = r.string()
	c.Evidence = r.string()
	return c, r.done()
}

func encodeRevocation(dst []byte, rv *filter.Revocation) []byte {
	dst = append(dst, valueV1)
	dst = appendString(dst, rv.Seller)
	dst = appendString(dst, rv.Purpose)
	dst = appendString(dst, string(rv.Channel))
	dst = appendString(dst, rv.Last4)
	dst = appendTime(dst, rv.At)
	return appendString(dst, rv.Source)
}

func decodeRevocation(k, v []byte) (filter.Revocation, bool) {
	var rv filter.Revocation
	if len(k) != len(rv.Subject)+8 {
		return rv, false
	}
	copy(rv.Subject[:], k)
	r := reader{b: v}
	if r.byte() != valueV1 {
		return rv, false
	}
	rv.Seller = r.string()
	rv.Purpose = r.string()
	rv.Channel = filter.Channel(r.string())
	rv.Last4 = r.string()
	rv.At = r.time()
	rv.Source = r.string()
	return rv, r.done()
}

func encodeRelationship(dst []byte, rel *filter.Relationship) []byte {
	dst = append(dst, valueV1)
	dst = appendString(dst, rel.Last4)
	dst = appendTime(dst, rel.At)
	if !rel.PolicyExpiresAt.IsZero() {
		// Optional and last, so records written before it existed still read.
		dst = appendTime(dst, rel.PolicyExpiresAt)
	}
	return dst
}

func decodeRelationship(k, v []byte) (filter.Relationship, bool) {
	var rel filter.Relationship
	var ok bool
	if rel.Seller, rel.Kind, ok = parseRelationshipKey(k); !ok {
		return rel, false
	}
	copy(rel.Subject[:], k)
	r := reader{b: v}
	if r.byte() != valueV1 {
		return rel, false
	}
	rel.Last4 = r.string()
	rel.At = r.time()
	if !r.bad && len(r.b) > 0 {
		rel.PolicyExpiresAt = r.time()
	}
	return rel, r.done()
}

// relationshipAt returns only the instant of an encoded relationship.
func relationshipAt(v []byte) (time.Time, bool) {
	r := reader{b: v}
	if r.byte() != valueV1 {
		return time.Time{}, false
	}
	r.string()
	at := r.time()
	if !r.bad && len(r.b) > 0 {
		r.time() // the policy's expiry
	}
	return at, r.done()
}

// decodeListEntry reads a list entry's value of schema version 1 (keys.go),
// for the conversion of such files: expires is zero for a permanent entry.
// The first-add time is read and dropped.
func decodeListEntry(v []byte) (expires time.Time, ok bool) {
	r := reader{b: v}
	r.uvarint()
	if !r.bad && len(r.b) > 0 {
		expires = time.UnixMilli(int64(r.uvarint())).UTC()
	}
	return expires, r.done()
}

func encodeAPIKey(dst []byte, k *filter.APIKey) []byte {
	dst = append(dst, valueV1)
	dst = appendString(dst, string(k.Role))
	dst = append(dst, k.Hash[:]...)
	return appendTime(dst, k.CreatedAt)
}

func decodeAPIKey(name, v []byte) (filter.APIKey, bool) {
	k := filter.APIKey{Name: string(name)}
	r := reader{b: v}
	if r.byte() != valueV1 {
		return k, false
	}
	k.Role = filter.Role(r.string())
	k.Hash = r.bytes32()
	k.CreatedAt = r.time()
	return k, r.done()
}

// listMeta is what listmeta holds for one list.
type listMeta struct {
	count   uint64
	updated int64 // Unix ns
	source  int64 // Unix ms of the source date; 0: unknown
}

// encodeListMeta writes m in 16 bytes, or 24 with a source date (files
// written before source dates hold 16: both read back).
func encodeListMeta(buf *[24]byte, m listMeta) []byte {
	binary.BigEndian.PutUint64(buf[:8], m.count)
	binary.BigEndian.PutUint64(buf[8:16], uint64(m.updated))
	if m.source == 0 {
		return buf[:16]
	}
	binary.BigEndian.PutUint64(buf[16:], uint64(m.source))
	return buf[:]
}

func decodeListMeta(v []byte) (listMeta, bool) {
	if len(v) != 16 && len(v) != 24 {
		return listMeta{}, false
	}
	m := listMeta{
		count:   binary.BigEndian.Uint64(v[:8]),
		updated: int64(binary.BigEndian.Uint64(v[8:16])),
	}
	if len(v) == 24 {
		m.source = int64(binary.BigEndian.Uint64(v[16:]))
	}
	return m, true
}

func encodeOutcome(o *filter.CallOutcome) []byte {
	dst := []byte{valueV1}
	dst = appendString(dst, o.Purpose)
	dst = appendString(dst, string(o.Channel))
	return appendString(dst, string(o.Kind))
}

// decodeOutcome reads an outcome whose key's prefix (subject | seller) is n
// bytes long.
func decodeOutcome(subject filter.Subject, seller string, k []byte, n int, v []byte) (filter.CallOutcome, bool) {
	o := filter.CallOutcome{Subject: subject, Seller: seller}
	at, ok := attemptTime(k, n)
	if !ok {
		return o, false
	}
	o.At = at
	r := reader{b: v}
	if r.byte() != valueV1 {
		return o, false
	}
	o.Purpose = r.string()
	o.Channel = filter.Channel(r.string())
	o.Kind = filter.OutcomeKind(r.string())
	return o, r.done()
}
