package dnc

import (
	"math/bits"
	"sync/atomic"
)

// keySet is an insert-only hash set of keys that one writer fills while any
// number of readers test it, without locks: open addressing with linear
// probing over atomic slots. It holds the keys added to a list since its bloom
// filter was built (the "recent" keys), so that a key is denied on this
// instance the moment Add has put it here, whatever the filter says.
//
// Why not a map behind a RWMutex: every Screen would write the lock's shared
// counter, and parallel checks would contend on that cache line. Why not
// sync.Map: boxing a uint64 key allocates, and Screen must not. Why not a
// copy-on-write map: each single-key opt-out would copy the whole set.
//
// Slots are only ever filled, never moved or cleared, so a reader sees each
// key either not yet or for good; the set is at most half full, so every probe
// ends at an empty slot. Key 0 (never a phone number, but a valid uint64) is
// kept aside because 0 marks an empty slot. Sets are dropped whole once a
// filter containing their keys has been published.
type keySet struct {
	slots []atomic.Uint64
	shift uint // 64 - log2(len(slots)): the slot index is the top bits of a multiplicative hash
	limit int  // keys the set may hold: half its slots
	n     atomic.Int64
	zero  atomic.Bool
}

// newKeySet returns a set with room for at least capacity keys.
func newKeySet(capacity int) *keySet {
	capacity = max(capacity, 8)
	logSlots := bits.Len(uint(2*capacity - 1)) // smallest power of two ≥ 2×capacity
	return &keySet{
		slots: make([]atomic.Uint64, 1<<logSlots),
		shift: uint(64 - logSlots),
		limit: 1 << logSlots / 2,
	}
}

// slot is where the probe for k starts (Fibonacci hashing: phone keys are
// dense in their low digits, the multiply spreads them over the top bits).
func (s *keySet) slot(k uint64) uint64 {
	return (k * 0x9e3779b97f4a7c15) >> s.shift
}

// has reports whether k was inserted. Safe for concurrent use with insert.
func (s *keySet) has(k uint64) bool {
	if k == 0 {
		return s.zero.Load()
	}
	mask := uint64(len(s.slots) - 1)
	for i := s.slot(k); ; i = (i + 1) & mask {
		switch s.slots[i].Load() {
		case k:
			return true
		case 0:
			return false
		}
	}
}

// insert adds k and reports whether it was new. Only one goroutine may insert
// at a time (the list's writer lock), and only while room() allows it.
func (s *keySet) insert(k uint64) bool {
	if k == 0 {
		if s.zero.Load() {
			return false
		}
		s.zero.Store(true)
		s.n.Add(1)
		return true
	}
	mask := uint64(len(s.slots) - 1)
	for i := s.slot(k); ; i = (i + 1) & mask {
		switch s.slots[i].Load() {
		case k:
			return false
		case 0:
			s.slots[i].Store(k)
			s.n.Add(1)
			return true
		}
	}
}

// room is how many more keys the set may take.
func (s *keySet) room() int { return s.limit - int(s.n.Load()) }

// len is the number of keys in the set.
func (s *keySet) len() int64 { return s.n.Load() }

// each calls fn with every key of the set. Used on sealed sets, which no
// writer touches any more.
func (s *keySet) each(fn func(k uint64)) {
	if s.zero.Load() {
		fn(0)
	}
	for i := range s.slots {
		if k := s.slots[i].Load(); k != 0 {
			fn(k)
		}
	}
}
