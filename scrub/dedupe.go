package scrub

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// SpillDirPrefix starts the name of the directory a duplicate set spills to
// (one per scrub, deleted when it ends): what a crash leaves is found by it.
const SpillDirPrefix = "callfilter-scrub-dup-"

// DefaultDuplicateMemory is the memory the set of numbers seen may use when
// Options.DuplicateMemory is zero.
const DefaultDuplicateMemory = 64 << 20

// minDuplicateMemory keeps the structures usable; tests go this low to force
// spills on a few thousand keys.
const minDuplicateMemory = 4 << 10

// dupSet is the exact set of the number keys a scrub has seen, in a fixed
// memory budget. Keys go into an in-memory table; when it is full its keys
// are sorted, written to a run file in a temporary directory and added to a
// bloom filter, and the table is emptied. A key absent from the table is
// looked up in the runs only when the bloom filter says it may be there, so a
// new number seldom costs a read, and a false positive costs a read, never a
// false duplicate. Past a few times the budget in keys the bloom filter fills
// and more lookups read the runs: slower, still exact, same memory.
//
// The run files hold number keys (phone numbers as integers), transient data
// like a list extract: close removes them, and Write calls close on every
// path, errors included.
type dupSet struct {
	mem     *keySet
	maxKeys int // the table spills when it holds this many

	bloom     []uint64 // allocated at the first spill: small scrubs never pay for it
	bloomBits int      // a power of two, at least 512
	bloomMask uint64   // of the block index

	tempRoot string // "" is os.TempDir()
	dir      string // created at the first spill
	runs     []*keyRun
	nextRun  int
	block    []byte

	touched uint64 // the sum of what peek read, so that its reads are kept
}

// peek reads the table slot where k's probe starts, and changes nothing.
// Peeking at a chunk's keys before adding them brings their slots into the
// cache together: these loads do not depend on one another, so their cache
// misses overlap, where add's come one key at a time (the table of a large
// scrub is megabytes).
func (d *dupSet) peek(k uint64) uint64 {
	return d.mem.slots[mix64(k)&uint64(len(d.mem.slots)-1)]
}

// keyRun is one sorted run file of distinct keys, little-endian uint64s, with
// the first key of every block in memory (8 bytes per runBlockKeys keys).
type keyRun struct {
	f     *os.File
	n     int
	first []uint64
}

const (
	runBlockKeys = 512 // 4 KiB: one read per lookup
	maxRuns      = 4   // more are merged into one, bounding reads per lookup
	bloomHashes  = 6
)

// newDupSet returns a set using about budget bytes: half for the table
// (growing to it; 3/4 of the budget while it doubles), a quarter for the
// bloom filter, the rest for the runs' indexes and buffers.
func newDupSet(budget int64, tempRoot string) *dupSet {
	budget = max(budget, minDuplicateMemory)
	slots := 64
	for int64(slots)*2*8 <= budget/2 {
		slots *= 2
	}
	bits := 512
	for int64(bits)*2 <= budget/4*8 {
		bits *= 2
	}
	return &dupSet{
		mem:       newKeySet(min(slots, 1<<16)),
		maxKeys:   slots / 4 * 3,
		bloomBits: bits,
		bloomMask: uint64(bits/512 - 1),
		tempRoot:  tempRoot,
	}
}

// add adds k (never 0) and reports whether it was already there. Its errors
// are those of the run files; the set must not be used after one.
func (d *dupSet) add(k uint64) (seen bool, err error) {
	if len(d.runs) > 0 && d.bloomHas(k) {
		if d.mem.has(k) { // a key is in the table or in one run, not both
			return true, nil
		}
		for _, r := range d.runs {
			found, err := r.has(k, d.block)
			if err != nil || found {
				return found, err
			}
		}
	}
	if d.mem.n >= d.maxKeys {
		// Look before spilling: a spilled k would read as new.
		if d.mem.has(k) {
			return true, nil
		}
		if err := d.spill(); err != nil {
			return false, err
		}
	}
	return d.mem.add(k), nil
}

// The bloom filter is blocked: a key's bloomHashes bits are in one 512-bit
// block, one cache line, so a test costs one cache miss, not bloomHashes.
func (d *dupSet) bloomBlock(k uint64) (block []uint64, bits uint64) {
	h := mix64(k ^ 0x9e3779b97f4a7c15)
	b := (h & d.bloomMask) * 8
	return d.bloom[b : b+8 : b+8], mix64(h + 0x632be59bd9b4e019)
}

func (d *dupSet) bloomHas(k uint64) bool {
	block, bits := d.bloomBlock(k)
	for i := 0; i < bloomHashes; i++ {
		b := bits >> (9 * i) & 511
		if block[b>>6]&(1<<(b&63)) == 0 {
			return false
		}
	}
	return true
}

func (d *dupSet) bloomAdd(k uint64) {
	block, bits := d.bloomBlock(k)
	for i := 0; i < bloomHashes; i++ {
		b := bits >> (9 * i) & 511
		block[b>>6] |= 1 << (b & 63)
	}
}

// spill writes the table's keys as a sorted run and empties the table.
func (d *dupSet) spill() error {
	if d.dir == "" {
		dir, err := os.MkdirTemp(d.tempRoot, SpillDirPrefix+"*")
		if err != nil {
			return fmt.Errorf("scrub: duplicate set: %w", err)
		}
		d.dir = dir
		d.bloom = make([]uint64, d.bloomBits/64)
		d.block = make([]byte, runBlockKeys*8)
	}
	// Sort in place: the keys are moved to the front of the table's slots,
	// which are cleared afterwards.
	keys := d.mem.slots[:0]
	for _, k := range d.mem.slots {
		if k != 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		d.bloomAdd(k)
	}
	r, err := d.writeRun(func(yield func(uint64) error) error {
		for _, k := range keys {
			if err := yield(k); err != nil {
				return err
			}
		}
		return nil
	})
	clear(d.mem.slots)
	d.mem.n = 0
	if err != nil {
		return err
	}
	d.runs = append(d.runs, r)
	if len(d.runs) > maxRuns {
		return d.merge()
	}
	return nil
}

// writeRun writes the keys that each yields, ascending, to a new run file.
func (d *dupSet) writeRun(each func(yield func(uint64) error) error) (*keyRun, error) {
	d.nextRun++
	f, err := os.Create(filepath.Join(d.dir, fmt.Sprintf("run-%d", d.nextRun)))
	if err != nil {
		return nil, fmt.Errorf("scrub: duplicate set: %w", err)
	}
	r := &keyRun{f: f}
	bw := bufio.NewWriterSize(f, 1<<16)
	var b [8]byte
	err = each(func(k uint64) error {
		if r.n%runBlockKeys == 0 {
			r.first = append(r.first, k)
		}
		r.n++
		binary.LittleEndian.PutUint64(b[:], k)
		_, err := bw.Write(b[:])
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		r.close()
		return nil, fmt.Errorf("scrub: duplicate set: %w", err)
	}
	return r, nil
}

// merge replaces the runs by one, so a lookup reads at most maxRuns blocks.
func (d *dupSet) merge() error {
	type cursor struct {
		br  *bufio.Reader
		k   uint64
		end bool
	}
	cs := make([]*cursor, len(d.runs))
	var b [8]byte
	next := func(c *cursor) error {
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			if errors.Is(err, io.EOF) {
				c.end = true
				return nil
			}
			return err
		}
		c.k = binary.LittleEndian.Uint64(b[:])
		return nil
	}
	for i, r := range d.runs {
		cs[i] = &cursor{br: bufio.NewReaderSize(io.NewSectionReader(r.f, 0, int64(r.n)*8), 1<<16)}
		if err := next(cs[i]); err != nil {
			return fmt.Errorf("scrub: duplicate set: %w", err)
		}
	}
	merged, err := d.writeRun(func(yield func(uint64) error) error {
		for {
			var low *cursor
			for _, c := range cs {
				if !c.end && (low == nil || c.k < low.k) {
					low = c
				}
			}
			if low == nil {
				return nil
			}
			if err := yield(low.k); err != nil {
				return err
			}
			if err := next(low); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return err
	}
	for _, r := range d.runs {
		r.close()
	}
	d.runs = append(d.runs[:0], merged)
	return nil
}

// has reports whether the run holds k, reading the one block that may.
func (r *keyRun) has(k uint64, buf []byte) (bool, error) {
	i := sort.Search(len(r.first), func(i int) bool { return r.first[i] > k }) - 1
	if i < 0 {
		return false, nil
	}
	n := min(runBlockKeys, r.n-i*runBlockKeys)
	buf = buf[:n*8]
	if _, err := r.f.ReadAt(buf, int64(i)*runBlockKeys*8); err != nil {
		return false, fmt.Errorf("scrub: duplicate set: %w", err)
	}
	j := sort.Search(n, func(j int) bool { return binary.LittleEndian.Uint64(buf[j*8:]) >= k })
	return j < n && binary.LittleEndian.Uint64(buf[j*8:]) == k, nil
}

func (r *keyRun) close() {
	name := r.f.Name()
	_ = r.f.Close()
	_ = os.Remove(name)
}

// close removes the run files and their directory.
func (d *dupSet) close() error {
	for _, r := range d.runs {
		r.close()
	}
	d.runs = nil
	if d.dir == "" {
		return nil
	}
	err := os.RemoveAll(d.dir)
	d.dir = ""
	return err
}
