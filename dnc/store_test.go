package dnc

import (
	"context"
	"slices"
	"sync"
	"time"

	"callfilter/filter"
)

// memStore is a small in-memory implementation of dnc's Store, for tests: a
// double of our own interface, with the semantics filter.ListStore documents
// (ScanList sees every write acknowledged before it is called).
type memStore struct {
	mu     sync.Mutex
	lists  map[string]map[uint64]struct{}
	sorted map[string][]uint64 // cached ascending keys, dropped on write

	// Failure and delay injection, set before use.
	addErr   error
	scanErr  map[string]error
	listsErr error
	scanEach func() // called before each key a scan yields, outside the lock
}

var _ Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{lists: map[string]map[uint64]struct{}{}, sorted: map[string][]uint64{}}
}

func (m *memStore) AddToList(ctx context.Context, list string, keys []uint64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, filter.Wrap(filter.EUnavailable, err, "add to list %q", list)
	}
	if m.addErr != nil {
		return 0, m.addErr
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.lists[list]
	if set == nil {
		set = map[uint64]struct{}{}
		m.lists[list] = set
	}
	added := 0
	for _, k := range keys {
		if _, ok := set[k]; !ok {
			set[k] = struct{}{}
			added++
		}
	}
	delete(m.sorted, list)
	return added, nil
}

func (m *memStore) RemoveFromList(ctx context.Context, list string, keys []uint64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, filter.Wrap(filter.EUnavailable, err, "remove from list %q", list)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.lists[list]
	removed := 0
	for _, k := range keys {
		if _, ok := set[k]; ok {
			delete(set, k)
			removed++
		}
	}
	delete(m.sorted, list)
	return removed, nil
}

func (m *memStore) ScanList(ctx context.Context, list string, fn func(key uint64) error) error {
	if err := m.scanErr[list]; err != nil {
		return err
	}
	m.mu.Lock()
	keys, ok := m.sorted[list]
	if !ok {
		for k := range m.lists[list] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		m.sorted[list] = keys
	}
	m.mu.Unlock()
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return filter.Wrap(filter.EUnavailable, err, "scan list %q", list)
		}
		if m.scanEach != nil {
			m.scanEach()
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Lists(ctx context.Context) ([]filter.ListInfo, error) {
	if m.listsErr != nil {
		return nil, m.listsErr
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []filter.ListInfo
	for name, set := range m.lists {
		out = append(out, filter.ListInfo{Name: name, Count: int64(len(set)), UpdatedAt: time.Time{}})
	}
	slices.SortFunc(out, func(a, b filter.ListInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, nil
}

// has reports whether the store holds key in list.
func (m *memStore) has(list string, key uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.lists[list][key]
	return ok
}
