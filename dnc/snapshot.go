package dnc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/bits-and-blooms/bloom/v3"

	"callfilter/filter"
)

// Filter images: a list's bloom filter serialized so that another instance
// can start from it instead of scanning the list (package feed keeps them in
// Redis with the change feed's position). The bytes are bloom's own WriteTo
// form — m, k, the bitset's length, its words — which has no magic, version
// or checksum, and whose length field, if damaged, makes ReadFrom allocate
// whatever it says (an out-of-memory kill, not an error). So an image travels
// with a header, and DecodeImage checks, in this order and before anything is
// allocated from the data: the format version, that m and k are sane, that
// the byte length is the one m implies and the data has exactly that many
// bytes with the embedded m, k and bitset length equal to the header's; then
// the SHA-256; then, after ReadFrom, that every canary key (keys the writer
// saw in the filter) tests present. Anything else is an error: the caller
// rebuilds from the store, never serves the image.

// ImageVersion is the format version of images this package writes and reads.
const ImageVersion = 1

// MaxImageBytes is the largest image DecodeImage accepts (and so the most it
// allocates on a header's word): 4 GiB, past a 1e-6 filter of a billion keys.
const MaxImageBytes = 4 << 30

// ImageHeader describes an image. Feed* are the change feed position the
// image holds every change up to (opaque to this package).
type ImageHeader struct {
	Version   int      `json:"version"`
	List      string   `json:"list"`
	M         uint64   `json:"m"`
	K         uint64   `json:"k"`
	Bytes     int64    `json:"bytes"`
	SHA256    string   `json:"sha256"`
	Count     int64    `json:"count"`    // keys in the filter when it was written
	Capacity  uint     `json:"capacity"` // keys the filter was sized for
	Canaries  []uint64 `json:"canaries"` // keys that must test present
	FeedID    string   `json:"feed_id"`
	FeedSeq   uint64   `json:"feed_seq"`
	FeedEpoch string   `json:"feed_epoch"`
	WrittenAt int64    `json:"written_at"` // Unix ms
}

// imageBytes is the length of bloom's WriteTo form for m bits.
func imageBytes(m uint64) int64 { return 8 + 8 + 8 + 8*int64((m+63)/64) }

// Image returns an image of the named list's filter with its recent keys
// folded in (a copy: the live filter is not touched), and the header to go
// with it, less the Feed* fields, which the caller sets. Candidates are keys
// to use as canaries: those that test present in the image are kept (at most
// 16). Call it only while the list's filter is known to hold every change up
// to the feed position the caller will record, having read that position
// first. EInvalid when the list is not loaded.
func (l *Lists) Image(name string, candidates []uint64) (ImageHeader, []byte, error) {
	lst := (*l.reg.Load())[name]
	var s *snapshot
	if lst != nil {
		s = lst.snap.Load()
	}
	if s == nil || s.filter == nil {
		return ImageHeader{}, nil, filter.Errorf(filter.EInvalid, "", "list %q is not loaded: no image", name)
	}
	f := s.filter.Copy()
	n := s.count
	for _, ks := range s.sets {
		ks.each(func(k uint64) {
			b := keyBytes(k)
			if !f.TestAndAdd(b[:]) {
				n++
			}
		})
	}
	var buf bytes.Buffer
	buf.Grow(int(imageBytes(uint64(f.Cap()))))
	if _, err := f.WriteTo(&buf); err != nil {
		return ImageHeader{}, nil, fmt.Errorf("serialize the filter of list %q: %w", name, err)
	}
	data := buf.Bytes()
	sum := sha256.Sum256(data)
	h := ImageHeader{
		Version: ImageVersion, List: name, M: uint64(f.Cap()), K: uint64(f.K()),
		Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
		Count: n, Capacity: s.capacity, WrittenAt: time.Now().UnixMilli(),
	}
	for _, k := range candidates {
		if b := keyBytes(k); f.Test(b[:]) && len(h.Canaries) < 16 {
			h.Canaries = append(h.Canaries, k)
		}
	}
	return h, data, nil
}

// CheckImageHeader checks what can be checked of a header before its data is
// read: the version, m and k, and the byte length (against m and
// MaxImageBytes). The caller reads at most h.Bytes bytes of data after it.
func CheckImageHeader(h ImageHeader) error {
	switch {
	case h.Version != ImageVersion:
		return fmt.Errorf("image version %d, want %d", h.Version, ImageVersion)
	case h.M == 0 || h.K == 0 || h.K > 64 || h.M > 8*MaxImageBytes:
		return fmt.Errorf("image m=%d k=%d out of range", h.M, h.K)
	case h.Bytes != imageBytes(h.M):
		return fmt.Errorf("image length %d bytes, m=%d implies %d", h.Bytes, h.M, imageBytes(h.M))
	case h.Bytes > MaxImageBytes:
		return fmt.Errorf("image length %d bytes exceeds %d", h.Bytes, int64(MaxImageBytes))
	case len(h.SHA256) != 2*sha256.Size:
		return errors.New("image checksum missing")
	case len(h.Canaries) == 0 && h.Count > 0:
		return errors.New("image has no canary keys")
	case h.Count < 0 || h.Capacity == 0:
		return fmt.Errorf("image count %d, capacity %d out of range", h.Count, h.Capacity)
	}
	return nil
}

// DecodeImage checks data against h (see the section comment) and returns the
// filter. Any mismatch is an error; the filter is then not to be used.
func DecodeImage(h ImageHeader, data []byte) (*bloom.BloomFilter, error) {
	if err := CheckImageHeader(h); err != nil {
		return nil, err
	}
	if int64(len(data)) != h.Bytes {
		return nil, fmt.Errorf("image has %d bytes, header says %d", len(data), h.Bytes)
	}
	// bloom's own length fields, checked before ReadFrom allocates from them.
	if m, k, bl := binary.BigEndian.Uint64(data), binary.BigEndian.Uint64(data[8:]), binary.BigEndian.Uint64(data[16:]); m != h.M || k != h.K || bl != h.M {
		return nil, fmt.Errorf("image fields m=%d k=%d length=%d do not match the header's m=%d k=%d", m, k, bl, h.M, h.K)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != h.SHA256 {
		return nil, errors.New("image checksum mismatch")
	}
	var f bloom.BloomFilter
	if n, err := f.ReadFrom(bytes.NewReader(data)); err != nil || n != h.Bytes {
		return nil, fmt.Errorf("image does not decode (%d bytes read): %v", n, err)
	}
	if uint64(f.Cap()) != h.M || uint64(f.K()) != h.K {
		return nil, fmt.Errorf("image decodes to m=%d k=%d, header says m=%d k=%d", f.Cap(), f.K(), h.M, h.K)
	}
	for _, k := range h.Canaries {
		if b := keyBytes(k); !f.Test(b[:]) {
			return nil, fmt.Errorf("image canary key %d tests absent", k)
		}
	}
	return &f, nil
}

// Install makes f (from DecodeImage of h) the named list's filter, registering
// the list if it is new, as a load from the store would, without a scan. Keys
// already in the list's recent sets (added or applied meanwhile) are folded
// into f, so none is lost. The caller then applies the change feed from the
// image's position.
func (l *Lists) Install(name string, h ImageHeader, f *bloom.BloomFilter) error {
	if name == "" || f == nil {
		return filter.Errorf(filter.EInvalid, "", "install: no list name or no filter")
	}
	lst := l.list(name)
	lst.build.Lock()
	defer lst.build.Unlock()
	start := time.Now()
	lst.gate.Lock()
	prev := lst.seal(l.opts.RecentKeys)
	lst.removed.Store(0)
	lst.gate.Unlock()
	n := h.Count
	for _, ks := range prev.sets {
		ks.each(func(k uint64) {
			b := keyBytes(k)
			if !f.TestAndAdd(b[:]) {
				n++
			}
		})
	}
	capacity := h.Capacity
	lst.publish(prev, snapshot{filter: f, count: n, capacity: capacity, builtAt: start, buildTime: time.Since(start)})
	if n > int64(capacity) {
		l.request(lst, workRebuild)
	}
	return nil
}

// LoadExcept is Load, but leaves the lists in skip as they are (they were
// installed from images): it records names as the lists Ready waits for,
// and builds from the store every other list in names or in the store.
func (l *Lists) LoadExcept(ctx context.Context, names []string, skip map[string]bool) error {
	if len(skip) == 0 {
		return l.Load(ctx, names)
	}
	counts, err := l.wanted(ctx, names)
	if err != nil {
		return err
	}
	var errs []error
	all := 0
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		if name == "" || skip[name] {
			continue
		}
		all++
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := l.load(ctx, l.list(name), capacityFor(counts[name])); err != nil {
			errs = append(errs, fmt.Errorf("list %q: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return filter.Wrap(filter.EUnavailable, errors.Join(errs...), "load do-not-contact lists: %d of %d failed", len(errs), all)
	}
	return nil
}
