// Package audit writes and verifies callfilter's tamper-evident audit trail.
//
// A Writer owns a bounded in-memory queue drained by one goroutine, which
// chains the entries (each carries the SHA-256 of its predecessor) and appends
// them to a filter.AuditStore in batches. Enqueue never blocks for long: when
// the queue is full it fails, and the caller (a check) denies with
// unavailable rather than forgetting the decision. Commit waits until its
// entries are durable, for changes (list edits, consents, keys, rules) that
// must not be acknowledged unaudited. Verify walks a store's chain and names
// the first entry where it breaks.
package audit

import (
	"crypto/sha256"
	"encoding/hex"

	"callfilter/filter"
)

// Hash returns the hash an entry must carry: SHA-256 of its Prev and its
// canonical encoding (filter.AuditEntry.Canonical, which includes Prev too).
func Hash(e *filter.AuditEntry) ([32]byte, error) {
	b, err := e.Canonical()
	if err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	h.Write(e.Prev[:])
	h.Write(b)
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// Chain sets Seq, Prev and Hash of entries so that they continue head, and
// returns the new head.
func Chain(head filter.AuditHead, entries []filter.AuditEntry) (filter.AuditHead, error) {
	for i := range entries {
		e := &entries[i]
		e.Seq = head.Seq + 1
		e.Prev = head.Hash
		h, err := Hash(e)
		if err != nil {
			return head, filter.Wrap(filter.EInternal, err, "audit: encode entry")
		}
		e.Hash = h
		head = filter.AuditHead{Seq: e.Seq, Hash: h}
	}
	return head, nil
}

// HexHash is h in hex, as reports show it.
func HexHash(h [32]byte) string { return hex.EncodeToString(h[:]) }
