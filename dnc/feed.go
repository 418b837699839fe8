package dnc

import (
	"context"

	"callfilter/filter"
)

// The memory-only side of a change feed: another instance changed a list in
// the shared store, and this instance's filters must follow. The feed itself
// (reading the store's change stream, noticing gaps) is the caller's; these
// methods only bring its changes into memory, under the concurrency design in
// the package comment.
//
// ApplyAdded inserts into the newest recent set exactly as Add does, minus
// the store write. It does not take the list's gate: the gate makes a rebuild
// wait for keys still being written to the store, and a key that reached the
// feed is in the store already (the store appends a change to the feed in the
// same atomic step as the change). So whichever side of a rebuild's seal the
// insert lands on, the key survives: before the seal it is in the store the
// scan reads, after it in a set the new snapshot keeps.

// ApplyAdded makes keys that another instance added to the named list screen
// "maybe" here, at once: they are inserted into the list's recent set (a fold
// into the filter follows in the background). A list this instance has not
// registered is left alone: its first Load reads the store, which holds the
// keys. Safe for concurrent use with everything else; allocates only when a
// recent set fills up.
func (l *Lists) ApplyAdded(name string, keys []uint64) {
	if len(keys) == 0 {
		return
	}
	lst := (*l.reg.Load())[name]
	if lst == nil {
		return
	}
	sealed, full := lst.insert(keys, l.opts.RecentKeys)
	switch {
	case full:
		l.request(lst, workRebuild)
	case sealed:
		l.request(lst, workFold)
	}
}

// ApplyRemoved counts n keys that another instance removed from the named
// list, as Remove does for this instance's removals: the filter keeps saying
// "maybe" for them (the exact check says absent) and is rebuilt in the
// background once removals pass a tenth of the list.
func (l *Lists) ApplyRemoved(name string, n int) { l.countRemoved(name, n) }

// countRemoved counts n keys removed from the named list and asks for a
// rebuild once the removals pass a tenth of it.
func (l *Lists) countRemoved(name string, n int) {
	lst := (*l.reg.Load())[name]
	if lst == nil || n <= 0 {
		return
	}
	r := lst.removed.Add(int64(n))
	if s := lst.snap.Load(); s.filter != nil && 10*r > s.count+s.recent() {
		l.request(lst, workRebuild)
	}
}

// Rebuild builds the named list's filter again from the store, now, and
// swaps it in (registering the list if it is new). A feed calls it when it
// may have missed changes: read the feed's position first, then Rebuild, then
// apply the feed from that position, and no key is missed. Until it returns
// the old filter keeps answering, so the caller must not trust it meanwhile.
// EUnavailable when the store cannot be read; the old filter then stays.
func (l *Lists) Rebuild(ctx context.Context, name string) error {
	if name == "" {
		return filter.Errorf(filter.EInvalid, "", "list name is empty")
	}
	infos, err := l.st.Lists(ctx)
	if err != nil {
		return storeErr(err, "read the lists")
	}
	var count int64
	for _, in := range infos {
		if in.Name == name {
			count = in.Count
		}
	}
	lst := l.list(name)
	s := lst.snap.Load()
	count = max(count, s.count+s.recent())
	return l.load(ctx, lst, capacityFor(count))
}
