package dnc

import (
	"slices"

	"github.com/bits-and-blooms/bloom/v3"
)

// bulkAdder fills a new filter from a scan of its list, setting the same bits
// as its Add would, in a cache-friendly order. Add sets k bits at random
// places: in the filter of a national list (hundreds of megabytes) each is a
// cache miss, and a 250M-number list took a quarter of an hour to load. The
// adder buffers the bits' positions (bloom.Locations modulo m, which is what
// Add and TestLocations compute) and sets them a batch at a time, grouped by
// region of the filter with a counting sort, so that each region's bits are
// set while its cache lines are loaded. TestBulkAdderMatchesAdd holds it to Add.
type bulkAdder struct {
	f      *bloom.BloomFilter
	m      uint64
	k      uint
	batch  int      // positions buffered before they are set
	pos    []uint64 // buffered positions
	sorted []uint64 // pos grouped by region (flush's scratch)
	starts []int    // per region: its count, then where its positions go
}

// A batch holds at least bulkBatch positions, and for a large filter one per
// 128 bits (so that a cache line of the filter gets several bits a batch
// rather than one), up to maxBulkBatch: 256 MiB of buffers for a filter of
// 512 MiB and more, freed when the load ends.
const (
	bulkBatch    = 1 << 22
	maxBulkBatch = 1 << 24

	regionShift = 18 // a region is 2^18 bits (32 KiB) of the filter
	// smallFlush is the batch below which grouping is not worth its passes.
	smallFlush = 1 << 12
)

func newBulkAdder(f *bloom.BloomFilter) *bulkAdder {
	m := uint64(f.Cap())
	batch := min(max(bulkBatch, int(m/128)), maxBulkBatch)
	return &bulkAdder{f: f, m: m, k: f.K(), batch: batch}
}

// add adds key as the filter's Add(keyBytes(key)) would, once flushed.
func (a *bulkAdder) add(key uint64) {
	b := keyBytes(key)
	for _, l := range bloom.Locations(b[:], a.k) {
		a.pos = append(a.pos, l%a.m)
	}
	if len(a.pos) >= a.batch {
		a.flush()
	}
}

// flush sets the buffered bits.
func (a *bulkAdder) flush() {
	bits := a.f.BitSet()
	if len(a.pos) < smallFlush {
		for _, p := range a.pos {
			bits.Set(uint(p))
		}
		a.pos = a.pos[:0]
		return
	}
	if a.starts == nil {
		a.starts = make([]int, a.m>>regionShift+1)
	}
	clear(a.starts)
	for _, p := range a.pos {
		a.starts[p>>regionShift]++
	}
	at := 0
	for r, n := range a.starts {
		a.starts[r] = at
		at += n
	}
	a.sorted = slices.Grow(a.sorted[:0], len(a.pos))[:len(a.pos)]
	for _, p := range a.pos {
		r := p >> regionShift
		a.sorted[a.starts[r]] = p
		a.starts[r]++
	}
	for _, p := range a.sorted {
		bits.Set(uint(p))
	}
	a.pos = a.pos[:0]
}
