package service

import (
	"context"
	"fmt"
	"time"

	"callfilter/filter"
)

// ReassignedInput is one row of a reassigned-numbers feed: the number was
// disconnected at DisconnectedAt (and may since be someone else's).
type ReassignedInput struct {
	Number         string
	DisconnectedAt time.Time
}

// ReassignedResult reports an import: how many rows were recorded, and
// every rejected row with its index.
type ReassignedResult struct {
	Accepted int
	Rejected []Rejected
}

// Codes of rejected reassigned rows.
const (
	CodeMissingDisconnectedAt = "missing_disconnected_at"
	CodeDisconnectInFuture    = "disconnect_in_future"
)

// ImportReassigned records a reassigned-numbers feed: for each number the
// latest disconnect date, by Subject (the number itself is not kept). Rows
// that cannot be read are reported by index and the rest are recorded; a
// consent granted before a number's disconnect no longer counts
// (consent_reassigned). A disconnect after now is refused: a feed reports
// what happened. EInvalid for an empty or too large import; EUnavailable
// when the store keeps no reassigned numbers or cannot be written.
func (s *Service) ImportReassigned(ctx context.Context, rows []ReassignedInput, region string) (ReassignedResult, error) {
	var out ReassignedResult
	if len(rows) == 0 {
		return out, filter.Errorf(filter.EInvalid, "empty_numbers", "numbers must hold at least one row")
	}
	if len(rows) > s.opts.MaxListEdit {
		return out, filter.Errorf(filter.EInvalid, "too_many_numbers", "one import holds at most %d rows, got %d", s.opts.MaxListEdit, len(rows))
	}
	now := s.opts.Now()
	ds := make([]filter.Disconnect, 0, len(rows))
	for i, r := range rows {
		reject := func(code, msg string) {
			out.Rejected = append(out.Rejected, Rejected{Index: i, Code: code, Message: msg})
		}
		n, err := s.normalizeForRecord(r.Number, region)
		switch {
		case err != nil:
			reject(filter.ErrorCode(err), filter.ErrorMessage(err))
		case r.DisconnectedAt.IsZero():
			reject(CodeMissingDisconnectedAt, "disconnected_at is required")
		case r.DisconnectedAt.After(now):
			reject(CodeDisconnectInFuture, "disconnected_at "+r.DisconnectedAt.UTC().Format(time.RFC3339)+" is in the future")
		default:
			ds = append(ds, filter.Disconnect{Subject: s.subject(n), At: r.DisconnectedAt})
		}
	}
	out.Accepted = len(ds)
	if len(ds) == 0 {
		return out, nil
	}
	err := s.store.PutDisconnects(ctx, ds)
	return out, s.changed(ctx, err, change{Action: "reassigned.import",
		Detail: fmt.Sprintf("%d disconnects recorded, %d rows rejected", out.Accepted, len(out.Rejected))})
}
