package embedded

import (
	"encoding/binary"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"

	"callfilter/filter"
)

// subjectIndex is a bloom filter of every subject that has a record: a
// consent, revocation, relationship or attempt. Most checks are about numbers
// with no record at all, on no list; for them Facts can answer "nothing"
// without a read transaction (which costs ~20 allocations and microseconds).
//
// It must never say "no" for a subject that has a record: writers add the
// subject before their transaction commits, and Open adds every subject found
// in the file. Bits are set with atomic OR and read with atomic loads, so adds
// and tests need no lock. A subject is an HMAC-SHA256: its bytes are already
// uniformly random, so four 64-bit words of it serve as the four hashes.
// Removal is never needed (records of a subject are not deleted but by
// pruning, and a stale "maybe" only costs a read).
type subjectIndex struct {
	words []atomic.Uint64
	mask  uint64 // bit index mask: len(words)*64 - 1
}

// subjectIndexBits sizes the filter: 2^27 bits (16 MiB) keep false
// "maybe"s under 0.5% up to ten million subjects with records.
const subjectIndexBits = 27

func newSubjectIndex(log2bits uint) *subjectIndex {
	n := uint64(1) << log2bits
	return &subjectIndex{words: make([]atomic.Uint64, n/64), mask: n - 1}
}

func (x *subjectIndex) add(s filter.Subject) {
	for i := 0; i < 4; i++ {
		b := binary.LittleEndian.Uint64(s[i*8:]) & x.mask
		x.words[b>>6].Or(1 << (b & 63))
	}
}

func (x *subjectIndex) mayHave(s filter.Subject) bool {
	for i := 0; i < 4; i++ {
		b := binary.LittleEndian.Uint64(s[i*8:]) & x.mask
		if x.words[b>>6].Load()&(1<<(b&63)) == 0 {
			return false
		}
	}
	return true
}

// subjectBuckets are the buckets whose keys start with a subject.
var subjectBuckets = [][]byte{bucketConsents, bucketRevocations, bucketRelationships, bucketAttempts, bucketDisconnects, bucketOutcomes}

// fill adds every subject with a record in the file, seeking past each
// subject's records so the cost is one seek per subject, not per record.
func (x *subjectIndex) fill(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		for _, name := range subjectBuckets {
			b := tx.Bucket(name)
			if b == nil {
				continue
			}
			c := b.Cursor()
			for k, _ := c.First(); k != nil; {
				if len(k) < len(filter.Subject{}) {
					k, _ = c.Next()
					continue
				}
				var s filter.Subject
				copy(s[:], k)
				x.add(s)
				next, ok := successor(s)
				if !ok {
					break
				}
				k, _ = c.Seek(next[:])
			}
		}
		return nil
	})
}

// successor is the smallest 32-byte value greater than s, if any.
func successor(s filter.Subject) (filter.Subject, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0xff {
			s[i]++
			for j := i + 1; j < len(s); j++ {
				s[j] = 0
			}
			return s, true
		}
	}
	return s, false
}
