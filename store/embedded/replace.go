package embedded

import (
	"context"
	"errors"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"callfilter/filter"
)

// listBucket returns the bucket of the named list's keys, nil if it has none:
// lists/<name>, or for a variant <base>~<sfx> variants/<sfx>/<base> (see
// keys.go), or lists/<name> if an older build wrote it there.
func listBucket(tx *bolt.Tx, name string) *bolt.Bucket {
	base, ok := filter.ListVariant(name)
	if !ok {
		return tx.Bucket(bucketLists).Bucket([]byte(name))
	}
	if b := tx.Bucket(bucketLists).Bucket([]byte(name)); b != nil {
		return b
	}
	if p := tx.Bucket(bucketListVariants).Bucket([]byte(name[len(base)+1:])); p != nil {
		return p.Bucket([]byte(base))
	}
	return nil
}

// createListBucket returns the bucket of the named list's keys, creating it.
func createListBucket(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	if b := listBucket(tx, name); b != nil {
		return b, nil
	}
	base, ok := filter.ListVariant(name)
	if !ok {
		return tx.Bucket(bucketLists).CreateBucket([]byte(name))
	}
	p, err := tx.Bucket(bucketListVariants).CreateBucketIfNotExists([]byte(name[len(base)+1:]))
	if err != nil {
		return nil, err
	}
	return p.CreateBucket([]byte(base))
}

// deleteListBucket deletes the named list's bucket, wherever it is.
func deleteListBucket(tx *bolt.Tx, name string) error {
	parent, key := tx.Bucket(bucketLists), []byte(name)
	if base, ok := filter.ListVariant(name); ok && parent.Bucket(key) == nil {
		if parent = tx.Bucket(bucketListVariants).Bucket([]byte(name[len(base)+1:])); parent == nil {
			return nil
		}
		key = []byte(base)
	}
	if err := parent.DeleteBucket(key); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
		return err
	}
	return nil
}

// ReplaceList makes the named list the keys of from and deletes from, in one
// write transaction: the list's bucket is deleted and from's moved in its
// place (Tx.MoveBucket: no copy, whatever the size), and from's listmeta
// record becomes the list's with UpdatedAt now. A from written by an older
// build at lists/<from> is copied instead. EInvalid and ENotFound as
// filter.ListStore says.
func (s *Store) ReplaceList(ctx context.Context, list, from string) (filter.ListInfo, error) {
	if err := filter.ValidateReplace(list, from); err != nil {
		return filter.ListInfo{}, err
	}
	var info filter.ListInfo
	err := s.update(ctx, "replace list", func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketListMeta)
		v := mb.Get([]byte(from))
		if v == nil {
			return filter.Errorf(filter.ENotFound, "", "list %q does not exist", from)
		}
		m, ok := decodeListMeta(v)
		if !ok {
			return errCorrupt("list")
		}
		if err := deleteListBucket(tx, list); err != nil {
			return err
		}
		lists := tx.Bucket(bucketLists)
		if legacy := lists.Bucket([]byte(from)); legacy != nil {
			dst, err := lists.CreateBucket([]byte(list))
			if err != nil {
				return err
			}
			if err := copyListBucket(dst, legacy); err != nil {
				return err
			}
			if err := lists.DeleteBucket([]byte(from)); err != nil {
				return err
			}
		} else if p := tx.Bucket(bucketListVariants).Bucket([]byte(from[len(list)+1:])); p != nil && p.Bucket([]byte(list)) != nil {
			// Nothing in this transaction writes to the moved bucket before the
			// move: Tx.MoveBucket would drop such changes (bbolt v1.5.0,
			// etcd-io/bbolt#1239).
			if err := tx.MoveBucket([]byte(list), p, lists); err != nil {
				return err
			}
		} else if _, err := lists.CreateBucket([]byte(list)); err != nil {
			return err // from has a record but no bucket: an empty list
		}
		now := s.opts.Now()
		m.updated = now.UnixNano()
		if err := mb.Delete([]byte(from)); err != nil {
			return err
		}
		if err := mb.Put([]byte(list), encodeListMeta(new([24]byte), m)); err != nil {
			return err
		}
		info = metaInfo(list, m)
		return nil
	})
	if err != nil {
		return filter.ListInfo{}, err
	}
	return info, nil
}

// copyListBucket copies the blocks and expiries of the list bucket src into
// the empty dst.
func copyListBucket(dst, src *bolt.Bucket) error {
	err := src.ForEach(func(k, v []byte) error {
		if v == nil {
			return nil // the expiry bucket, below
		}
		return dst.Put(k, v)
	})
	if err != nil {
		return err
	}
	sx := src.Bucket(expiryBucket)
	if sx == nil {
		return nil
	}
	dx, err := dst.CreateBucket(expiryBucket)
	if err != nil {
		return err
	}
	return sx.ForEach(func(k, v []byte) error { return dx.Put(k, v) })
}

// DeleteList removes the named list's bucket and listmeta record in one
// transaction. ENotFound if it has no record.
func (s *Store) DeleteList(ctx context.Context, list string) error {
	if err := checkList(list); err != nil {
		return err
	}
	return s.update(ctx, "delete list", func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketListMeta)
		if mb.Get([]byte(list)) == nil {
			return filter.Errorf(filter.ENotFound, "", "list %q does not exist", list)
		}
		if err := deleteListBucket(tx, list); err != nil {
			return err
		}
		return mb.Delete([]byte(list))
	})
}
