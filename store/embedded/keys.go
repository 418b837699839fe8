package embedded

import (
	"encoding/binary"
	"math"
	"time"

	"callfilter/filter"
)

// The file's layout. Every bucket is top level except the per-list buckets,
// which are nested in "lists". Byte order is big-endian throughout so that
// bbolt's byte-wise key order is numeric order.
//
//	meta            "schema" → uint32 schema version (currently 2; see schemaVersion)
//	lists/<name>    block (uint64 key / 1,000,000, 8 bytes) → block value (blocks.go): the list's keys
//	                from block·10⁶ to block·10⁶+999,999, as packed 3-byte offsets or a bitmap
//	lists/<name>/expiry  key (uint64, 8 bytes) → uint64 Unix ms of its expiry: the list's expiring
//	                keys only (AddToListUntil), a nested bucket that exists while there are any; a
//	                block with such keys has the blockExpiring flag in its format byte
//	variants/<sfx>/<base>  the same, for the list <base>~<sfx> (a variant, filter.ListVariant): keyed by
//	                <base> so that ReplaceList moves it, expiries and all, to lists/<base> without copying
//	                (Tx.MoveBucket keeps a bucket's key). A variant written by a build from before
//	                variants/ stays at lists/<name>.
//	migrate         only while Open converts a schema 1 file (embedded.go: migrateLists):
//	                todo/<bucket> → progress, work/<name> → the blocks being built
//	listmeta        <name> → count (uint64, 8 bytes) | updated (int64 Unix ns, 8 bytes) [| source date (int64 Unix ms, 8 bytes)]
//	consents        subject | seller | purpose | channel → consent value (codec.go)
//	revocations     subject | seq (uint64, 8 bytes) → revocation value
//	relationships   subject | seller | kind → relationship value
//	attempts        subject | seller | purpose | channel | ts (8 bytes) | seq (8 bytes) → empty
//	disconnects     subject → int64 Unix ns of the latest disconnect (reassigned numbers)
//	outcomes        subject | seller | ts (8 bytes) | seq (8 bytes) → call outcome value (purpose, channel, kind)
//	apikeys         <name> → key value (role, hash, created)
//	apikeyhash      hash (32 bytes) → <name>
//
// subject is the 32-byte filter.Subject (an HMAC of the number, never the
// number). Strings in keys (seller, purpose, channel, kind) are written as one
// length byte followed by the bytes, so a key is unambiguous and
// subject|seller is a prefix that matches exactly one seller; they are limited
// to maxField bytes. ts is the Unix time in nanoseconds with the sign bit
// flipped, so that byte order is time order; seq comes from the bucket's
// sequence and makes two attempts at the same instant distinct keys.
//
// Lists keep no per-key time: schema 1's first-add seconds were never read and
// are dropped (see schemaVersion).
//
// Only the lists hold phone numbers (phone.Number.Key split into block and
// offset, and whole as expiry keys); every other record holds the Subject and
// at most the last four digits.
var (
	bucketMeta          = []byte("meta")
	bucketLists         = []byte("lists")
	bucketListMeta      = []byte("listmeta")
	bucketListVariants  = []byte("variants")
	bucketConsents      = []byte("consents")
	bucketRevocations   = []byte("revocations")
	bucketRelationships = []byte("relationships")
	bucketAttempts      = []byte("attempts")
	bucketAPIKeys       = []byte("apikeys")
	bucketAPIKeyHash    = []byte("apikeyhash")
	bucketDisconnects   = []byte("disconnects")
	bucketOutcomes      = []byte("outcomes")
	bucketMigrate       = []byte("migrate")

	// Open creates the buckets a file lacks, so a bucket added here needs no
	// new schema version as long as older builds may ignore it.
	allBuckets = [][]byte{
		bucketMeta, bucketLists, bucketListMeta, bucketConsents, bucketRevocations,
		bucketRelationships, bucketAttempts, bucketAPIKeys, bucketAPIKeyHash, bucketDisconnects,
		bucketOutcomes, bucketListVariants,
	}

	metaSchemaKey = []byte("schema")
)

// expiryBucket is the name of a list bucket's nested bucket of expiries. It
// is not 8 bytes long, so it is never a block's key.
var expiryBucket = []byte("expiry")

// schemaVersion is the layout described above. Open converts a file of
// version 1 (and finishes a conversion that was interrupted, while the bucket
// migrate exists), and refuses any other version rather than misreading it.
//
// Version 1 kept a list entry per key: lists/<name> (and variants/<sfx>/<base>)
// key (uint64, 8 bytes) → uvarint Unix seconds of the first add [| uvarint Unix
// ms of its expiry]. Nothing read the first-add time; version 2 drops it.
const (
	schemaVersion   = 2
	schemaVersionV1 = 1
)

// maxField is the longest string allowed in a key: a list name, seller,
// purpose, channel, relationship kind or API key name.
const maxField = filter.MaxField

// keyBufSize fits the common keys without allocating.
const keyBufSize = 128

// listKey returns the key of number key k in a list bucket.
func listKey(buf *[8]byte, k uint64) []byte {
	binary.BigEndian.PutUint64(buf[:], k)
	return buf[:]
}

// appendField appends a length-prefixed string; the caller has checked its
// length against maxField.
func appendField(dst []byte, s string) []byte {
	dst = append(dst, byte(len(s)))
	return append(dst, s...)
}

// readField reads a length-prefixed string from the front of b and returns it
// and the rest of b; ok is false if b is too short.
func readField(b []byte) (s string, rest []byte, ok bool) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return "", nil, false
	}
	n := int(b[0])
	return string(b[1 : 1+n]), b[1+n:], true
}

// subjectPrefix is the prefix of every consent and revocation of subject.
func subjectPrefix(dst []byte, subject filter.Subject) []byte {
	return append(dst, subject[:]...)
}

// sellerPrefix is the prefix of every consent and relationship of subject with seller.
func sellerPrefix(dst []byte, subject filter.Subject, seller string) []byte {
	return appendField(subjectPrefix(dst, subject), seller)
}

// consentKey is the key of the consent of subject to seller for purpose and channel.
func consentKey(dst []byte, subject filter.Subject, seller, purpose string, ch filter.Channel) []byte {
	dst = sellerPrefix(dst, subject, seller)
	dst = appendField(dst, purpose)
	return appendField(dst, string(ch))
}

// parseConsentKey returns the seller, purpose and channel of a consent key.
func parseConsentKey(k []byte) (seller, purpose string, ch filter.Channel, ok bool) {
	if len(k) < len(filter.Subject{}) {
		return "", "", "", false
	}
	rest := k[len(filter.Subject{}):]
	var c string
	if seller, rest, ok = readField(rest); !ok {
		return
	}
	if purpose, rest, ok = readField(rest); !ok {
		return
	}
	if c, rest, ok = readField(rest); !ok {
		return
	}
	return seller, purpose, filter.Channel(c), len(rest) == 0
}

// revocationKey is the key of the seq-th revocation of subject.
func revocationKey(dst []byte, subject filter.Subject, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(subjectPrefix(dst, subject), seq)
}

// relationshipKey is the key of subject's relationship of kind with seller.
func relationshipKey(dst []byte, subject filter.Subject, seller string, kind filter.RelationshipKind) []byte {
	return appendField(sellerPrefix(dst, subject, seller), string(kind))
}

// parseRelationshipKey returns the seller and kind of a relationship key.
func parseRelationshipKey(k []byte) (seller string, kind filter.RelationshipKind, ok bool) {
	if len(k) < len(filter.Subject{}) {
		return "", "", false
	}
	rest := k[len(filter.Subject{}):]
	var s string
	if seller, rest, ok = readField(rest); !ok {
		return
	}
	if s, rest, ok = readField(rest); !ok {
		return
	}
	return seller, filter.RelationshipKind(s), len(rest) == 0
}

// attemptPrefix is the prefix of every attempt for (subject, seller, purpose, channel).
func attemptPrefix(dst []byte, subject filter.Subject, seller, purpose string, ch filter.Channel) []byte {
	return consentKey(dst, subject, seller, purpose, ch)
}

// attemptKey appends the instant and sequence of an attempt to its prefix.
func attemptKey(prefix []byte, at time.Time, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(appendTS(prefix, at), seq)
}

// appendTS appends t as an order-preserving 8-byte Unix nanosecond count.
// t must be within [minTS, maxTS].
func appendTS(dst []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(t.UnixNano())^(1<<63))
}

// attemptTime returns the instant of an attempt key with prefix length n.
func attemptTime(k []byte, n int) (time.Time, bool) {
	if len(k) != n+16 {
		return time.Time{}, false
	}
	ns := int64(binary.BigEndian.Uint64(k[n:]) ^ (1 << 63))
	return time.Unix(0, ns).UTC(), true
}

// The instants an attempt key can hold: those whose Unix nanosecond count fits
// an int64 (years 1678 to 2262).
var (
	minTS = time.Unix(0, math.MinInt64).UTC()
	maxTS = time.Unix(0, math.MaxInt64).UTC()
)

// inTSRange reports whether t can be an attempt instant.
func inTSRange(t time.Time) bool { return !t.Before(minTS) && !t.After(maxTS) }
