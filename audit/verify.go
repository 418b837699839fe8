package audit

import (
	"context"
	"errors"
	"fmt"

	"callfilter/filter"
)

// Report is the result of Verify.
type Report struct {
	// OK is true when every entry from the checkpoint to the head is present,
	// links to its predecessor and carries its own hash.
	OK bool `json:"ok"`
	// Checked is the number of entries verified.
	Checked uint64 `json:"checked"`
	// Head is the chain's last Seq; From is the first Seq checked (entries
	// before it expired under the retention).
	Head uint64 `json:"head"`
	From uint64 `json:"from"`
	// BrokenAt is the Seq of the first entry where the chain breaks (0 when
	// OK); Problem says how.
	BrokenAt uint64 `json:"broken_at,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

var errStop = errors.New("stop")

// Verify walks st's chain from its checkpoint to its head and reports the
// first entry that is missing, altered, or not linked to its predecessor. An
// error means the store could not be read (no verdict).
func Verify(ctx context.Context, st filter.AuditStore) (Report, error) {
	cp, err := st.AuditCheckpoint(ctx)
	if err != nil {
		return Report{}, err
	}
	head, err := st.AuditHead(ctx)
	if err != nil {
		return Report{}, err
	}
	r := Report{Head: head.Seq, From: cp.Seq + 1}
	prev := cp
	broken := func(seq uint64, format string, args ...any) error {
		r.BrokenAt, r.Problem = seq, fmt.Sprintf(format, args...)
		return errStop
	}
	err = st.ScanAudit(ctx, cp.Seq+1, func(seq uint64, rec filter.AuditRecord) error {
		if seq > head.Seq {
			return errStop // appended since the head was read
		}
		want := prev.Seq + 1
		if seq != want {
			return broken(want, "entry %d is missing (the next entry present is %d)", want, seq)
		}
		// The stored bytes are hashed as they are: an edit is caught whether
		// or not the record still decodes.
		if !rec.Valid() {
			return broken(seq, "entry %d is damaged: its record is not one the writer wrote", seq)
		}
		if rec.Seq() != seq {
			return broken(seq, "entry %d was moved: it says it is entry %d", seq, rec.Seq())
		}
		if p := rec.Prev(); p != prev.Hash {
			return broken(seq, "entry %d does not link to entry %d: its prev is %s, the hash of entry %d is %s", seq, prev.Seq, HexHash(p), prev.Seq, HexHash(prev.Hash))
		}
		h, carried := rec.ComputeHash(), rec.Hash()
		if h != carried {
			return broken(seq, "entry %d was altered: its content hashes to %s, it carries %s", seq, HexHash(h), HexHash(carried))
		}
		r.Checked++
		prev = filter.AuditHead{Seq: seq, Hash: carried}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return Report{}, err
	}
	if r.BrokenAt == 0 && prev.Seq < head.Seq {
		r.BrokenAt, r.Problem = prev.Seq+1, fmt.Sprintf("entry %d is missing (the head is entry %d)", prev.Seq+1, head.Seq)
	}
	if r.BrokenAt == 0 && prev.Seq == head.Seq && prev.Hash != head.Hash {
		r.BrokenAt, r.Problem = head.Seq, fmt.Sprintf("entry %d does not carry the hash the head records", head.Seq)
	}
	r.OK = r.BrokenAt == 0
	return r, nil
}
