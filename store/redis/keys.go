package redis

import (
	"encoding/hex"
	"strconv"
	"strings"

	"callfilter/filter"
)

// The key layout. P is Options.KeyPrefix (default "cf"); {…} is a hash tag:
// every key with the same tag is in one Cluster slot.
//
//	P:lists                         set: names of lists (a registry; a name whose meta hash is missing is ignored)
//	P:list:{N}:meta                 hash: count → number of keys, updated → Unix ms of the last add/remove,
//	                                source → Unix ms of the data's source date (SetListSource; absent: unknown)
//	P:layout                        string: the layout version ("2"); see checkLayout
//	P:list:{N}:buckets              sorted set: member and score = bucket (key / 1000000) that holds keys
//	P:list:{N}:p:<bucket>           string: the offsets key % 1000000, packed or a bitmap (see luaBuckets in scripts.go)
//	P:list:{N}:image…               a serialized bloom filter of the list and its lock (see image.go)
//	P:list:{N}:feed                 stream: the list's changes, in order (see addScript), trimmed MAXLEN ~
//	P:list:{N}:x:<bucket>           hash: offset → Unix ms at which that entry expires (expiring entries only)
//	P:list:{N}:xbuckets             set: the buckets that have an expiry hash (so permanent adds look only there)
//	P:list:{N}:op:<random>          string: one list script call's result, kept a minute for go-redis's retry of it (see addScript)
//	P:subj:{S}:consents             hash: consentField(seller, purpose, channel) → consent JSON
//	P:subj:{S}:revocations          list: revocation JSON, in the order recorded
//	P:subj:{S}:relationships        hash: relField(seller, kind) → relationship JSON
//	P:subj:{S}:att:<tuple>          sorted set: score = attempt Unix ms, member = "<ms>-<random>"
//	P:subj:{S}:disconnected         sorted set: member "at", score = Unix ms of the latest disconnect (ZADD GT)
//	P:subj:{S}:out:<seller>         sorted set: score = outcome Unix ms, member = outcome JSON with a random r (codec.go)
//	P:keys:{k}:byname               hash: key name → API key JSON
//	P:keys:{k}:byhash               hash: hex SHA-256 → key name
//
// For a variant of a list N~V (filter.ListVariant), every key above is
// P:list:{N}~V:… instead: in the slot of N, so that ReplaceList and its one
// script can swap them. (A variant written by a build before this layout is
// under {N~V} and is not seen.)
//
// N is the list name (which may not contain '{' or '}'); S is the subject in
// hex (an HMAC of the number, never the number). <tuple> is seller, purpose
// and channel, each written as its length, ':', and the bytes, so that no two
// tuples give one key. Only the list keys hold numbers; every other record
// holds the Subject and at most the last four digits.
type keys struct{ prefix string }

func (k keys) lists() string  { return k.prefix + ":lists" }
func (k keys) layout() string { return k.prefix + ":layout" }

// replicationMark is the counter replicated writes to wait on (durable.go).
func (k keys) replicationMark() string { return k.prefix + ":replication-mark" }

// list is the prefix of the named list's keys. A variant of a list
// (filter.ListVariant: "national~staging") takes the hash tag of the list it
// is a variant of ("P:list:{national}~staging"), so that ReplaceList's one
// script can move it in place of the list in Cluster. No key of the list
// itself has '~' after its tag, so the two never share a key.
func (k keys) list(name string) string {
	if base, ok := filter.ListVariant(name); ok {
		return k.prefix + ":list:{" + base + "}" + name[len(base):]
	}
	return k.prefix + ":list:{" + name + "}"
}
func (k keys) listMeta(name string) string    { return k.list(name) + ":meta" }
func (k keys) listBuckets(name string) string { return k.list(name) + ":buckets" }
func (k keys) listFeed(name string) string    { return k.list(name) + ":feed" }
func (k keys) listBucket(name string, bucket uint64) string {
	return k.list(name) + ":p:" + strconv.FormatUint(bucket, 10)
}
func (k keys) listExpiries(name string, bucket uint64) string {
	return k.list(name) + ":x:" + strconv.FormatUint(bucket, 10)
}
func (k keys) listExpiryBuckets(name string) string { return k.list(name) + ":xbuckets" }
func (k keys) listOp(name, id string) string        { return k.list(name) + ":op:" + id }

func (k keys) subject(s filter.Subject) string {
	return k.prefix + ":subj:{" + hex.EncodeToString(s[:]) + "}"
}
func (k keys) consents(s filter.Subject) string      { return k.subject(s) + ":consents" }
func (k keys) revocations(s filter.Subject) string   { return k.subject(s) + ":revocations" }
func (k keys) relationships(s filter.Subject) string { return k.subject(s) + ":relationships" }
func (k keys) disconnected(s filter.Subject) string  { return k.subject(s) + ":disconnected" }
func (k keys) outcomes(s filter.Subject, seller string) string {
	return k.subject(s) + ":out:" + tuple(seller)
}
func (k keys) attempts(s filter.Subject, seller, purpose string, ch filter.Channel) string {
	return k.subject(s) + ":att:" + tuple(seller, purpose, string(ch))
}

func (k keys) keysByName() string { return k.prefix + ":keys:{k}:byname" }
func (k keys) keysByHash() string { return k.prefix + ":keys:{k}:byhash" }

// tuple joins strings unambiguously: each as its length, ':', the bytes.
func tuple(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// consentField is the field of a consent in its subject's consents hash.
func consentField(seller, purpose string, ch filter.Channel) string {
	return tuple(seller, purpose, string(ch))
}

// relField is the field of a relationship in its subject's relationships hash.
func relField(seller string, kind filter.RelationshipKind) string {
	return tuple(seller, string(kind))
}
