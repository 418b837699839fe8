package filter

import (
	"context"
	"testing"
	"time"
)

// fakeExpiring is a Store that keeps expiring entries; wrapper hides it as
// metrics.Store does (it passes only Store's methods on, and unwraps).
type fakeExpiring struct{ Store }

func (fakeExpiring) AddToListUntil(context.Context, string, []uint64, time.Time) (int, error) {
	return 7, nil
}

type wrapper struct{ Store }

func (w wrapper) Unwrap() Store { return w.Store }

func TestStoreAs(t *testing.T) {
	inner := fakeExpiring{}
	for _, tc := range []struct {
		name string
		st   Store
		ok   bool
	}{
		{"the store itself", inner, true},
		{"through one wrapper", wrapper{inner}, true},
		{"through two", wrapper{wrapper{inner}}, true},
		{"a store without it", wrapper{wrapper{nil}}, false},
	} {
		x, ok := StoreAs[ExpiringListStore](tc.st)
		if ok != tc.ok {
			t.Errorf("%s: ok = %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		if ok {
			if n, _ := x.AddToListUntil(t.Context(), "l", nil, time.Time{}); n != 7 {
				t.Errorf("%s: got another store", tc.name)
			}
		}
	}
}
