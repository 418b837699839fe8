package dnc

import (
	"context"

	"callfilter/filter"
)

// replacer is what Replace and Delete need of the store beyond Store; every
// filter.ListStore has it.
type replacer interface {
	ReplaceList(ctx context.Context, list, from string) (filter.ListInfo, error)
	DeleteList(ctx context.Context, list string) error
}

// Replace makes the named list, in the store, exactly the keys of its
// variant from, deleting from (filter.ListStore.ReplaceList), and rebuilds
// the list's filter from the store. A filter of the old contents may lack
// keys of the new, so from before the store call until a rebuild after it
// succeeds, Screen answers "maybe" for the list: every check confirms it in
// the store (no false allow), and none is answered from a stale filter. If
// that rebuild fails (EUnavailable, returned with the store's ListInfo), the
// background worker retries it and Screen keeps answering "maybe" meanwhile.
// Other instances follow through the change feed, which makes them rebuild.
// The store's refusals (EInvalid, ENotFound, EConflict) change nothing.
func (l *Lists) Replace(ctx context.Context, name, from string) (filter.ListInfo, error) {
	r, ok := l.st.(replacer)
	if !ok {
		return filter.ListInfo{}, filter.Errorf(filter.EInvalid, "", "the store cannot replace lists")
	}
	if err := filter.ValidateReplace(name, from); err != nil {
		return filter.ListInfo{}, err
	}
	lst := l.list(name)
	lst.exact.Add(1)
	defer lst.exact.Add(-1)
	info, err := r.ReplaceList(ctx, name, from)
	switch filter.ErrorKind(err) {
	case filter.EInvalid, filter.ENotFound, filter.EConflict:
		return info, err
	}
	// Rebuild also after an error that may have come after the store
	// replaced the list (a reply lost on the way).
	if lerr := l.rebuildAfter(ctx, lst, info.Count); lerr != nil && err == nil {
		return info, filter.Wrap(filter.EUnavailable, lerr, "list %q replaced, but its filter is not rebuilt yet (checks confirm it in the store meanwhile)", name)
	}
	if err != nil {
		return info, storeErr(err, "replace list %q", name)
	}
	return info, nil
}

// Delete deletes the named list from the store (filter.ListStore.DeleteList)
// and rebuilds its filter, empty: until then it only holds keys the store no
// longer has, which the exact check rules out. Store errors keep their kind.
func (l *Lists) Delete(ctx context.Context, name string) error {
	r, ok := l.st.(replacer)
	if !ok {
		return filter.Errorf(filter.EInvalid, "", "the store cannot delete lists")
	}
	if err := r.DeleteList(ctx, name); err != nil {
		return storeErr(err, "delete list %q", name)
	}
	if lst := (*l.reg.Load())[name]; lst != nil && lst.snap.Load().filter != nil {
		if err := l.load(ctx, lst, 0); err != nil {
			l.request(lst, workRebuild) // the filter is only too big meanwhile
			lst.mu.Lock()
			lst.lastErr = err.Error()
			lst.mu.Unlock()
		}
	}
	return nil
}

// rebuildAfter rebuilds lst from the store, sized for count keys; if it
// fails, lst stays exact (Screen says "maybe") until a rebuild succeeds,
// which the background worker is asked for.
func (l *Lists) rebuildAfter(ctx context.Context, lst *list, count int64) error {
	// Replace's exact count covers the time until this build ends. Marked
	// only after it failed: every build from then on (they hold lst.build
	// in turn) scans the new contents, and the first to succeed clears it.
	err := l.load(ctx, lst, capacityFor(count))
	if err != nil {
		lst.stale.Store(true)
		lst.mu.Lock()
		lst.lastErr = err.Error()
		lst.mu.Unlock()
		l.request(lst, workRebuild)
	}
	return err
}
