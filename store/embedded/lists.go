package embedded

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"callfilter/filter"
)

// AddToList adds keys to the named list, creating it if needed (also when keys
// is empty), and returns how many were not there before. Keys must be numbers'
// keys (1 to 15 digits), else EInvalid and nothing changes. The list's count
// and UpdatedAt change in the same transaction as its keys; UpdatedAt is set by
// every successful call, also one that adds nothing (a re-import of the same
// list refreshes it).
//
// Keys are written sorted, Options.ListChunk per transaction; in each, every
// block (a million consecutive keys, keys.go) they fall in is read once,
// merged with them and written once. If a later chunk
// fails (EUnavailable, or ctx done between chunks), the chunks before it stay
// written and added counts them: that is safe because adding is idempotent, so
// the caller retries the whole call.
func (s *Store) AddToList(ctx context.Context, list string, keys []uint64) (int, error) {
	return s.addToList(ctx, list, keys, time.Time{})
}

// AddToListUntil adds keys as AddToList does, each expiring at expiresAt;
// the expiries are kept in the list's expiry bucket (keys.go), in the same
// transaction as the keys. An entry's expiry only moves later: a permanent
// entry stays permanent. EInvalid as AddToList, and for a zero expiresAt.
func (s *Store) AddToListUntil(ctx context.Context, list string, keys []uint64, expiresAt time.Time) (int, error) {
	if err := filter.ValidateListExpiry(expiresAt); err != nil {
		return 0, err
	}
	return s.addToList(ctx, list, keys, expiresAt)
}

// listWriter holds the buffers of a list write, reused from one transaction
// to the next (bbolt keeps a reference to each value put until the
// transaction ends, so the values of one transaction are never overwritten
// before it has committed).
type listWriter struct {
	arena []byte   // the values put by the transaction under way
	offs  []uint32 // the offsets of the block at hand
}

// maxPooledArena is the largest arena put back in listWriters.
const maxPooledArena = 64 << 20

var listWriters = sync.Pool{New: func() any { return new(listWriter) }}

func getListWriter() *listWriter { return listWriters.Get().(*listWriter) }

func putListWriter(w *listWriter) {
	if cap(w.arena) <= maxPooledArena {
		listWriters.Put(w)
	}
}

// group splits the ascending keys into the first block's offsets (in w.offs)
// and the keys of later blocks.
func (w *listWriter) group(keys []uint64) (block uint64, offs []uint32, rest []uint64) {
	block = keys[0] / blockSize
	base := block * blockSize
	w.offs = w.offs[:0]
	i := 0
	for ; i < len(keys) && keys[i]-base < blockSize; i++ {
		w.offs = append(w.offs, uint32(keys[i]-base))
	}
	return block, w.offs, keys[i:]
}

// value returns a copy of v in the arena, to be put.
func (w *listWriter) value(v []byte) []byte {
	start := len(w.arena)
	w.arena = append(w.arena, v...)
	return w.arena[start:len(w.arena):len(w.arena)]
}

// addToList adds keys, permanent when until is zero.
func (s *Store) addToList(ctx context.Context, list string, keys []uint64, until time.Time) (int, error) {
	if err := checkList(list); err != nil {
		return 0, err
	}
	if err := filter.ValidateListKeys(keys); err != nil {
		return 0, err
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	w := getListWriter()
	defer putListWriter(w)
	added := 0
	for first := true; first || len(sorted) > 0; first = false {
		chunk := sorted[:min(len(sorted), s.opts.ListChunk)]
		sorted = sorted[len(chunk):]
		n, err := s.addChunk(ctx, list, chunk, until, w)
		added += n
		if err != nil {
			return added, err
		}
	}
	return added, nil
}

// addChunk adds the ascending, unique keys in one transaction: per block,
// one read of its value, a merge and one write.
func (s *Store) addChunk(ctx context.Context, list string, keys []uint64, until time.Time, w *listWriter) (int, error) {
	var added int
	err := s.update(ctx, "add to list", func(tx *bolt.Tx) error {
		added = 0
		w.arena = w.arena[:0]
		now := s.opts.Now()
		b, err := createListBucket(tx, list)
		if err != nil {
			return err
		}
		var untilMS uint64
		var untilVal []byte
		if !until.IsZero() {
			untilMS = uint64(max(until.UnixMilli(), 1))
			var eb [8]byte
			binary.BigEndian.PutUint64(eb[:], untilMS)
			untilVal = w.value(eb[:]) // one value for every expiry written
		}
		x := expiries{list: b}
		var kb, nb [8]byte
		c := b.Cursor() // one cursor for every block: no allocation per block
		for rest := keys; len(rest) > 0; {
			var blk uint64
			var offs []uint32
			blk, offs, rest = w.group(rest)
			bk := blockKey(&kb, blk)
			old, err := seekBlock(c, bk)
			if err != nil {
				return err
			}
			var flags byte
			if old != nil {
				flags = old[0] & blockExpiring
			}
			newFlags := flags
			if until.IsZero() {
				// A permanent add makes expiring entries permanent.
				if flags != 0 {
					if newFlags, err = x.clear(blk, offs); err != nil {
						return err
					}
				}
			} else {
				for _, o := range offs {
					key := listKey(&nb, blk*blockSize+uint64(o))
					if old != nil && blockHas(old, o) {
						if flags == 0 {
							continue // permanent (no key of the block expires)
						}
						exp, err := x.get(key)
						if err != nil {
							return err
						}
						// Permanent stays permanent; an expiry only moves later.
						if exp == 0 || exp >= untilMS {
							continue
						}
					} else {
						newFlags = blockExpiring
					}
					if err := x.put(key, untilVal); err != nil {
						return err
					}
				}
			}
			if old != nil && newFlags == flags && blockHasAll(old, offs) {
				continue // nothing to write
			}
			start := len(w.arena)
			out, n, ok := appendBlockAdd(w.arena, old, offs, newFlags)
			if !ok {
				return errCorrupt("list block")
			}
			w.arena = out
			if err := b.Put(bk, out[start:len(out):len(out)]); err != nil {
				return err
			}
			added += n
		}
		if err := x.tidy(); err != nil {
			return err
		}
		return s.touchList(tx, list, int64(added), now)
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// seekBlock returns the value of the block with key bk, nil if there is none.
func seekBlock(c *bolt.Cursor, bk []byte) ([]byte, error) {
	k, v := c.Seek(bk)
	if !bytes.Equal(k, bk) {
		return nil, nil
	}
	if !validBlock(v) {
		return nil, errCorrupt("list block")
	}
	return v, nil
}

// blockHasAll reports whether the valid block v holds every offset of offs.
func blockHasAll(v []byte, offs []uint32) bool {
	for _, o := range offs {
		if !blockHas(v, o) {
			return false
		}
	}
	return true
}

// blockHasAny reports whether the valid block v holds any offset of offs.
func blockHasAny(v []byte, offs []uint32) bool {
	for _, o := range offs {
		if blockHas(v, o) {
			return true
		}
	}
	return false
}

// expiries is a list's expiry bucket in a write transaction, opened when
// first needed and deleted at the end (tidy) once it holds nothing.
type expiries struct {
	list *bolt.Bucket
	b    *bolt.Bucket
}

func (x *expiries) open(create bool) (*bolt.Bucket, error) {
	if x.b == nil {
		if create {
			b, err := x.list.CreateBucketIfNotExists(expiryBucket)
			if err != nil {
				return nil, err
			}
			x.b = b
		} else {
			x.b = x.list.Bucket(expiryBucket)
		}
	}
	return x.b, nil
}

// get returns the expiry of key in Unix ms, 0 if it has none (permanent).
func (x *expiries) get(key []byte) (uint64, error) {
	b, _ := x.open(false)
	if b == nil {
		return 0, nil
	}
	v := b.Get(key)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, errCorrupt("list expiry")
	}
	return binary.BigEndian.Uint64(v), nil
}

// put records the expiry val of key.
func (x *expiries) put(key, val []byte) error {
	b, err := x.open(true)
	if err != nil {
		return err
	}
	return b.Put(key, val)
}

// clear deletes the expiries of the offsets offs of block and returns the
// block's flags afterwards: blockExpiring if some key of it still expires.
func (x *expiries) clear(block uint64, offs []uint32) (byte, error) {
	b, _ := x.open(false)
	if b == nil {
		return 0, nil
	}
	var kb [8]byte
	for _, o := range offs {
		if err := b.Delete(listKey(&kb, block*blockSize+uint64(o))); err != nil {
			return 0, err
		}
	}
	k, _ := b.Cursor().Seek(listKey(&kb, block*blockSize))
	if len(k) == 8 && binary.BigEndian.Uint64(k)/blockSize == block {
		return blockExpiring, nil
	}
	return 0, nil
}

// tidy deletes the expiry bucket if the transaction left it empty.
func (x *expiries) tidy() error {
	if x.b == nil {
		return nil
	}
	if k, _ := x.b.Cursor().First(); k != nil {
		return nil
	}
	x.b = nil
	return x.list.DeleteBucket(expiryBucket)
}

// touchList adds delta to the named list's count and sets its UpdatedAt.
func (s *Store) touchList(tx *bolt.Tx, list string, delta int64, now time.Time) error {
	mb := tx.Bucket(bucketListMeta)
	var m listMeta
	if v := mb.Get([]byte(list)); v != nil {
		var ok bool
		if m, ok = decodeListMeta(v); !ok {
			return errCorrupt("list")
		}
	}
	m.count = uint64(int64(m.count) + delta)
	m.updated = now.UnixNano()
	buf := new([24]byte) // referenced by bbolt until commit
	return mb.Put([]byte(list), encodeListMeta(buf, m))
}

// RemoveFromList removes keys from the named list and returns how many were
// there, with their expiries. A list that does not exist is not created.
// Like AddToList, it works in chunks, and a failed call may have removed some
// keys (removing is idempotent too); it sets UpdatedAt of an existing list.
func (s *Store) RemoveFromList(ctx context.Context, list string, keys []uint64) (int, error) {
	if err := checkList(list); err != nil {
		return 0, err
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	w := getListWriter()
	defer putListWriter(w)
	removed := 0
	for first := true; first || len(sorted) > 0; first = false {
		chunk := sorted[:min(len(sorted), s.opts.ListChunk)]
		sorted = sorted[len(chunk):]
		n, err := s.removeChunk(ctx, list, chunk, w)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

func (s *Store) removeChunk(ctx context.Context, list string, keys []uint64, w *listWriter) (int, error) {
	var removed int
	err := s.update(ctx, "remove from list", func(tx *bolt.Tx) (err error) {
		w.arena = w.arena[:0]
		b := listBucket(tx, list)
		if b == nil {
			removed = 0
			return nil
		}
		if removed, err = removeIn(b, keys, w); err != nil {
			return err
		}
		return s.touchList(tx, list, -int64(removed), s.opts.Now())
	})
	if err != nil {
		return 0, err
	}
	return removed, nil
}

// removeIn removes the ascending, unique keys, with their expiries, from the
// list bucket b, and returns how many were there; the caller updates the
// list's meta in the same transaction.
func removeIn(b *bolt.Bucket, keys []uint64, w *listWriter) (removed int, _ error) {
	x := expiries{list: b}
	var kb [8]byte
	c := b.Cursor()
	for rest := keys; len(rest) > 0; {
		var blk uint64
		var offs []uint32
		blk, offs, rest = w.group(rest)
		bk := blockKey(&kb, blk)
		old, err := seekBlock(c, bk)
		if err != nil {
			return 0, err
		}
		if old == nil || !blockHasAny(old, offs) {
			continue
		}
		var flags byte
		if blockExpires(old) {
			if flags, err = x.clear(blk, offs); err != nil {
				return 0, err
			}
		}
		start := len(w.arena)
		out, n, empty, ok := appendBlockRemove(w.arena, old, offs, flags)
		if !ok {
			return 0, errCorrupt("list block")
		}
		if empty {
			err = b.Delete(bk)
		} else {
			w.arena = out
			err = b.Put(bk, out[start:len(out):len(out)])
		}
		if err != nil {
			return 0, err
		}
		removed += n
	}
	return removed, x.tidy()
}

// SweepList removes the list's entries whose expiry is at or before before.
// Each transaction reads up to Options.ListChunk expired keys from the list's
// expiry bucket and removes them (removeIn), so what it removes is what the
// bucket says in that same transaction; the next one resumes after the last
// key read.
func (s *Store) SweepList(ctx context.Context, list string, before time.Time) (int, error) {
	if err := cmp.Or(checkList(list), filter.ValidateSweepBefore(before)); err != nil {
		return 0, err
	}
	cut := uint64(max(before.UnixMilli(), 0))
	w := getListWriter()
	defer putListWriter(w)
	var keys []uint64
	var from uint64 // the smallest key the next transaction looks at
	removed := 0
	for {
		more, n := false, 0
		err := s.update(ctx, "sweep list", func(tx *bolt.Tx) (err error) {
			w.arena, keys, more, n = w.arena[:0], keys[:0], false, 0
			b := listBucket(tx, list)
			if b == nil || b.Bucket(expiryBucket) == nil {
				return nil
			}
			var kb [8]byte
			c := b.Bucket(expiryBucket).Cursor()
			for k, v := c.Seek(listKey(&kb, from)); k != nil; k, v = c.Next() {
				if len(k) != 8 || len(v) != 8 {
					return errCorrupt("list expiry")
				}
				if binary.BigEndian.Uint64(v) > cut {
					continue
				}
				if len(keys) == s.opts.ListChunk {
					from, more = binary.BigEndian.Uint64(k), true
					break
				}
				keys = append(keys, binary.BigEndian.Uint64(k))
			}
			if len(keys) == 0 {
				return nil
			}
			if n, err = removeIn(b, keys, w); err != nil || n == 0 {
				return err
			}
			return s.touchList(tx, list, -int64(n), s.opts.Now())
		})
		if err != nil {
			return removed, err
		}
		removed += n
		if !more {
			return removed, nil
		}
	}
}

// ScanList calls fn with every key of the named list in ascending order,
// stopping at fn's first error, which it returns unchanged. It reads
// Options.ScanPage keys per read transaction and calls fn outside any
// transaction, so a scan is not a snapshot: a key present for the whole scan
// is seen exactly once, a key added or removed during it may or may not be.
func (s *Store) ScanList(ctx context.Context, list string, fn func(key uint64) error) error {
	if err := checkList(list); err != nil {
		return err
	}
	page := make([]uint64, 0, min(s.opts.ScanPage, 1<<16))
	var next uint64 // the smallest key the next page may hold
	for {
		page = page[:0]
		err := s.view(ctx, "scan list", func(tx *bolt.Tx) error {
			b := listBucket(tx, list)
			if b == nil {
				return nil
			}
			var kb [8]byte
			first, from := blockOf(next)
			c := b.Cursor()
			for k, v := c.Seek(blockKey(&kb, first)); k != nil; k, v = c.Next() {
				if v == nil {
					continue // the expiry bucket
				}
				if len(k) != 8 || !validBlock(v) {
					return errCorrupt("list block")
				}
				blk := binary.BigEndian.Uint64(k)
				if blk != first {
					from = 0
				}
				var full, ok bool
				if page, full, ok = appendBlockKeys(page, blk, v, from, s.opts.ScanPage); !ok {
					return errCorrupt("list block")
				}
				if full {
					break
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range page {
			if err := fn(k); err != nil {
				return err
			}
		}
		if len(page) < s.opts.ScanPage {
			return nil
		}
		next = page[len(page)-1] + 1
	}
}

// Lists describes every list, sorted by name. UpdatedAt and SourceDate are
// in UTC.
func (s *Store) Lists(ctx context.Context) ([]filter.ListInfo, error) {
	var out []filter.ListInfo
	err := s.view(ctx, "read lists", func(tx *bolt.Tx) error {
		out = out[:0]
		return tx.Bucket(bucketListMeta).ForEach(func(k, v []byte) error {
			m, ok := decodeListMeta(v)
			if !ok {
				return errCorrupt("list")
			}
			info := metaInfo(string(k), m)
			out = append(out, info)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetListSource records the named list's source date, to the millisecond,
// in its listmeta record: EInvalid for a zero (or pre-1970) date, ENotFound
// if the list does not exist.
func (s *Store) SetListSource(ctx context.Context, list string, sourceDate time.Time) error {
	if err := cmp.Or(checkList(list), filter.ValidateListSource(sourceDate)); err != nil {
		return err
	}
	return s.update(ctx, "set list source", func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketListMeta)
		v := mb.Get([]byte(list))
		if v == nil {
			return filter.Errorf(filter.ENotFound, "", "list %q does not exist", list)
		}
		m, ok := decodeListMeta(v)
		if !ok {
			return errCorrupt("list")
		}
		m.source = sourceDate.UnixMilli()
		return mb.Put([]byte(list), encodeListMeta(new([24]byte), m))
	})
}

// metaInfo is the ListInfo of a listmeta record.
func metaInfo(name string, m listMeta) filter.ListInfo {
	info := filter.ListInfo{Name: name, Count: int64(m.count), UpdatedAt: time.Unix(0, m.updated).UTC()}
	if m.source != 0 {
		info.SourceDate = time.UnixMilli(m.source).UTC()
	}
	return info
}
