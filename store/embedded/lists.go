package embedded

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"slices"
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
// Keys are written sorted, Options.ListChunk per transaction. If a later chunk
// fails (EUnavailable, or ctx done between chunks), the chunks before it stay
// written and added counts them: that is safe because adding is idempotent, so
// the caller retries the whole call.
func (s *Store) AddToList(ctx context.Context, list string, keys []uint64) (int, error) {
	return s.addToList(ctx, list, keys, time.Time{})
}

// AddToListUntil adds keys as AddToList does, each expiring at expiresAt;
// the expiry is kept in the entry's value, in the same transaction. An
// entry's expiry only moves later: a permanent entry stays permanent.
// EInvalid as AddToList, and for a zero expiresAt.
func (s *Store) AddToListUntil(ctx context.Context, list string, keys []uint64, expiresAt time.Time) (int, error) {
	if err := filter.ValidateListExpiry(expiresAt); err != nil {
		return 0, err
	}
	return s.addToList(ctx, list, keys, expiresAt)
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
	added := 0
	for first := true; first || len(sorted) > 0; first = false {
		chunk := sorted[:min(len(sorted), s.opts.ListChunk)]
		sorted = sorted[len(chunk):]
		n, err := s.addChunk(ctx, list, chunk, until)
		added += n
		if err != nil {
			return added, err
		}
	}
	return added, nil
}

func (s *Store) addChunk(ctx context.Context, list string, keys []uint64, until time.Time) (int, error) {
	var added int
	err := s.update(ctx, "add to list", func(tx *bolt.Tx) error {
		added = 0
		now := s.opts.Now()
		b, err := createListBucket(tx, list)
		if err != nil {
			return err
		}
		// bbolt keeps a reference to values until commit: one value for all.
		val := encodeListEntry(now.Unix(), until)
		var kb [8]byte
		c := b.Cursor() // one cursor for every lookup: no allocation per key
		for _, k := range keys {
			key := listKey(&kb, k)
			if got, old := c.Seek(key); bytes.Equal(got, key) {
				first, exp, ok := decodeListEntry(old)
				if !ok {
					return errCorrupt("list entry")
				}
				// Permanent stays permanent; an expiry only moves later;
				// a permanent add makes an expiring entry permanent.
				if exp.IsZero() || (!until.IsZero() && !until.After(exp)) {
					continue
				}
				if err := b.Put(slices.Clone(key), encodeListEntry(first, until)); err != nil {
					return err
				}
				continue
			}
			if err := b.Put(key, val); err != nil {
				return err
			}
			added++
		}
		return s.touchList(tx, list, int64(added), now)
	})
	if err != nil {
		return 0, err
	}
	return added, nil
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
// there. A list that does not exist is not created. Like AddToList, it works
// in chunks, and a failed call may have removed some keys (removing is
// idempotent too); it sets UpdatedAt of an existing list.
func (s *Store) RemoveFromList(ctx context.Context, list string, keys []uint64) (int, error) {
	if err := checkList(list); err != nil {
		return 0, err
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	removed := 0
	for first := true; first || len(sorted) > 0; first = false {
		chunk := sorted[:min(len(sorted), s.opts.ListChunk)]
		sorted = sorted[len(chunk):]
		n, err := s.removeChunk(ctx, list, chunk)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

func (s *Store) removeChunk(ctx context.Context, list string, keys []uint64) (int, error) {
	var removed int
	err := s.update(ctx, "remove from list", func(tx *bolt.Tx) error {
		removed = 0
		b := listBucket(tx, list)
		if b == nil {
			return nil
		}
		var kb [8]byte
		c := b.Cursor()
		for _, k := range keys {
			key := listKey(&kb, k)
			if got, _ := c.Seek(key); !bytes.Equal(got, key) {
				continue
			}
			if err := c.Delete(); err != nil {
				return err
			}
			removed++
		}
		return s.touchList(tx, list, -int64(removed), s.opts.Now())
	})
	if err != nil {
		return 0, err
	}
	return removed, nil
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
	page := make([]uint64, 0, min(s.opts.ScanPage, 1024))
	var next uint64 // the smallest key the next page may hold
	for {
		page = page[:0]
		err := s.view(ctx, "scan list", func(tx *bolt.Tx) error {
			b := listBucket(tx, list)
			if b == nil {
				return nil
			}
			var kb [8]byte
			c := b.Cursor()
			for k, _ := c.Seek(listKey(&kb, next)); k != nil && len(page) < s.opts.ScanPage; k, _ = c.Next() {
				if len(k) != 8 {
					return errCorrupt("list")
				}
				page = append(page, binary.BigEndian.Uint64(k))
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
