// Package audit writes and verifies callfilter's tamper-evident audit trail.
//
// A Writer owns a bounded in-memory queue drained by one goroutine, which
// chains the entries (each carries the SHA-256 of its predecessor) and appends
// them to a filter.AuditStore in batches. Enqueue encodes each entry once, on
// the caller's goroutine, into its stored form (filter.AuditRecord); the
// writer only seals the records (Seq, Prev, Hash) and hands the bytes to the
// store. Enqueue never blocks for long: when the queue is full it fails, and
// the caller (a check) denies with unavailable rather than forgetting the
// decision. Commit waits until its entries are durable, for changes (list
// edits, consents, keys, rules) that must not be acknowledged unaudited.
// Verify walks a store's chain and names the first entry where it breaks.
package audit

import (
	"encoding/hex"

	"callfilter/filter"
)

// Seal sets Seq, Prev and Hash of recs so that they continue head, and
// returns the new head.
func Seal(head filter.AuditHead, recs []filter.AuditRecord) filter.AuditHead {
	for _, r := range recs {
		h := r.Seal(head.Seq+1, head.Hash)
		head = filter.AuditHead{Seq: head.Seq + 1, Hash: h}
	}
	return head
}

// Chain sets Seq, Prev and Hash of entries so that they continue head, and
// returns their sealed records and the new head.
func Chain(head filter.AuditHead, entries []filter.AuditEntry) ([]filter.AuditRecord, filter.AuditHead) {
	recs := make([]filter.AuditRecord, len(entries))
	for i := range entries {
		e := &entries[i]
		r := filter.AuditRecord(filter.AppendAuditRecord(nil, e))
		h := r.Seal(head.Seq+1, head.Hash)
		e.Seq, e.Prev, e.Hash = head.Seq+1, head.Hash, h
		recs[i] = r
		head = filter.AuditHead{Seq: e.Seq, Hash: h}
	}
	return recs, head
}

// HexHash is h in hex, as reports show it.
func HexHash(h [32]byte) string { return hex.EncodeToString(h[:]) }
