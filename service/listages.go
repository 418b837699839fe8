package service

import (
	"context"
	"sync"
	"time"

	"callfilter/filter"
)

// listAgesTTL is how long the lists' update times are cached: list ages are
// counted in days, so a minute late is nothing, and checks pay no store round
// trip for them.
const listAgesTTL = time.Minute

// listAges caches the store's list update times and source dates
// (filter.ListInfo.UpdatedAt, SourceDate) for the rules' list_stale check. Its zero value is ready; safe for
// concurrent use.
type listAges struct {
	mu      sync.Mutex
	read    time.Time // when the store was last read (wall clock); zero: never
	updated map[string]listTimes
}

type listTimes struct{ updated, source time.Time }

// fill sets the UpdatedAt and SourceDate of f's lists from the cache, reading the store's
// list infos when the cache is older than listAgesTTL. Only checks under a
// policy with a list of limited age call it. If the store cannot be read and
// nothing was ever cached, the ages are named unavailable (fail closed); a
// failed refresh keeps the previous ages.
func (a *listAges) fill(ctx context.Context, st filter.ListStore, f *filter.Facts) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now := time.Now(); a.read.IsZero() || now.Sub(a.read) > listAgesTTL {
		infos, err := st.Lists(ctx)
		switch {
		case err != nil && a.read.IsZero():
			f.Unavailable = append(f.Unavailable, "list update times: "+string(filter.ErrorKind(err)))
			return
		case err == nil:
			m := make(map[string]listTimes, len(infos))
			for _, in := range infos {
				m[in.Name] = listTimes{updated: in.UpdatedAt, source: in.SourceDate}
			}
			a.updated, a.read = m, now
		}
	}
	for i := range f.Lists {
		t := a.updated[f.Lists[i].List]
		f.Lists[i].UpdatedAt, f.Lists[i].SourceDate = t.updated, t.source
	}
}
