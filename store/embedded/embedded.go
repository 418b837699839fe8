// Package embedded is callfilter's default store: every list, consent,
// revocation, relationship, attempt and API key in one durable file, kept with
// bbolt (a copy-on-write B+tree with a single writer and many readers).
//
// Every acknowledged write has been fsynced: bbolt syncs the file on each
// commit. Small writes (Reserve, PutConsent, Revoke, PutRelationship) go
// through bbolt's DB.Batch, so that concurrent writers share one transaction
// and one fsync; list imports are written in chunks of Options.ListChunk keys
// per transaction. Facts reads everything a decision needs in one read
// transaction. Only one process may open the file at a time.
//
// The bucket and key layout is documented in keys.go, the value encodings in
// codec.go. This is the only package of callfilter that imports bbolt.
package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"callfilter/filter"
)

var (
	_ filter.Store             = (*Store)(nil)
	_ filter.ExpiringListStore = (*Store)(nil)
	_ filter.ReassignedStore   = (*Store)(nil)
	_ filter.OutcomeStore      = (*Store)(nil)
)

// Options tune a Store. The zero value of each field means its default, so
// Options{} is a sensible configuration.
type Options struct {
	// LockTimeout bounds the wait for the file's lock, held by any other
	// process that has the file open; after it Open fails with "store file …
	// is locked by another process". Default 1s.
	LockTimeout time.Duration
	// BatchDelay is the longest a small write (Reserve, PutConsent, Revoke,
	// PutRelationship) waits for others to share its transaction and fsync
	// (bbolt's MaxBatchDelay). Longer delays give more throughput under
	// concurrency and more latency when writes are rare. Default 1ms.
	BatchDelay time.Duration
	// BatchSize is the most small writes that share one transaction; a full
	// batch commits at once without waiting for BatchDelay. Default 1000.
	BatchSize int
	// ListChunk is the number of keys AddToList and RemoveFromList write per
	// transaction. Default 100000.
	ListChunk int
	// ScanPage is the number of keys ScanList reads per read transaction; a
	// scan never holds one transaction open while its callback runs (a long
	// read transaction would block the file from growing). Default 10000.
	ScanPage int
	// InitialMmapSize is the size, in bytes, of the first memory map of the
	// file. Read transactions do not block writes until the file outgrows it.
	// Default 0: map what the file holds and grow as needed.
	InitialMmapSize int
	// Now is the clock for list timestamps. Default time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultLockTimeout = time.Second
	DefaultBatchDelay  = time.Millisecond
	DefaultBatchSize   = 1000
	DefaultListChunk   = 100_000
	DefaultScanPage    = 10_000
)

// Validate reports the first option that cannot be used, as an EInvalid error
// that says how to fix it. Zero values are valid: they mean the defaults.
func (o Options) Validate() error {
	switch {
	case o.LockTimeout < 0:
		return filter.Errorf(filter.EInvalid, "", "store lock timeout (%v) must not be negative: use 0 for the default of %v", o.LockTimeout, DefaultLockTimeout)
	case o.BatchDelay < 0:
		return filter.Errorf(filter.EInvalid, "", "store batch delay (%v) must not be negative: use 0 for the default of %v", o.BatchDelay, DefaultBatchDelay)
	case o.BatchSize < 0:
		return filter.Errorf(filter.EInvalid, "", "store batch size (%d) must not be negative: use 0 for the default of %d", o.BatchSize, DefaultBatchSize)
	case o.ListChunk < 0:
		return filter.Errorf(filter.EInvalid, "", "store list chunk (%d) must not be negative: use 0 for the default of %d", o.ListChunk, DefaultListChunk)
	case o.ScanPage < 0:
		return filter.Errorf(filter.EInvalid, "", "store scan page (%d) must not be negative: use 0 for the default of %d", o.ScanPage, DefaultScanPage)
	case o.InitialMmapSize < 0:
		return filter.Errorf(filter.EInvalid, "", "store initial mmap size (%d) must not be negative: use 0 to grow as needed", o.InitialMmapSize)
	}
	return nil
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.BatchDelay == 0 {
		o.BatchDelay = DefaultBatchDelay
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.ListChunk == 0 {
		o.ListChunk = DefaultListChunk
	}
	if o.ScanPage == 0 {
		o.ScanPage = DefaultScanPage
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Store is a filter.Store in one bbolt file. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	opts Options

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool

	// subjects lets Facts skip the read transaction for numbers with no
	// record (subjects.go).
	subjects *subjectIndex
}

// Open opens the store file at path, creating it and its parent directories
// if needed. A file of schema version 1 (a key per list entry) is converted to
// the current layout first, which takes about a minute per 250M list entries
// (see migrateLists); an interrupted conversion goes on at the next Open.
// Errors are *filter.Error: EInvalid for bad options, EUnavailable when the
// file cannot be created, is locked by another process, is not a callfilter
// store, has another schema version or cannot be converted.
func Open(path string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, filter.Errorf(filter.EInvalid, "", "store path is empty: set the path of the store file")
	}
	opts = opts.withDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, filter.Wrap(filter.EUnavailable, err, "create the directory of store file %s", path)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         opts.LockTimeout,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: opts.InitialMmapSize,
		NoStatistics:    true, // unused, and they cost every read transaction
		// NoSync stays false: every commit is fsynced before it returns.
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, filter.Wrap(filter.EUnavailable, err, "store file %s is locked by another process", path)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
		return nil, filter.Wrap(filter.EUnavailable, err, "store file %s is not a callfilter store or is damaged", path)
	case err != nil:
		return nil, filter.Wrap(filter.EUnavailable, err, "open store file %s", path)
	}
	db.MaxBatchDelay = opts.BatchDelay
	db.MaxBatchSize = opts.BatchSize
	s := &Store{db: db, path: path, opts: opts, subjects: newSubjectIndex(subjectIndexBits)}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := s.subjects.fill(db); err != nil {
		_ = db.Close()
		return nil, filter.Wrap(filter.EUnavailable, err, "index store file %s", path)
	}
	return s, nil
}

// init creates the buckets of a new file and checks the schema of an old one;
// a file of schema version 1 is converted (migrateLists).
func (s *Store) init() error {
	migrating := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			// A new file is empty; one with buckets but no schema is not ours.
			if err := tx.ForEach(func([]byte, *bolt.Bucket) error { return errors.New("no schema version") }); err != nil {
				return err
			}
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta = tx.Bucket(bucketMeta)
		v := meta.Get(metaSchemaKey)
		if v == nil {
			return meta.Put(metaSchemaKey, binary.BigEndian.AppendUint32(nil, schemaVersion))
		}
		if len(v) != 4 {
			return fmt.Errorf("bad schema version record")
		}
		switch got := binary.BigEndian.Uint32(v); got {
		case schemaVersion:
			migrating = tx.Bucket(bucketMigrate) != nil // an interrupted conversion
			return nil
		case schemaVersionV1:
			migrating = true
			return startMigration(tx)
		default:
			return filter.Errorf(filter.EUnavailable, "", "store file %s has schema version %d; this build reads version %d: use a matching build", s.path, got, schemaVersion)
		}
	})
	if err == nil && migrating {
		err = s.migrateLists()
	}
	if err != nil {
		if _, ok := errors.AsType[*filter.Error](err); ok {
			return err
		}
		return filter.Wrap(filter.EUnavailable, err, "store file %s is not a callfilter store or is damaged", s.path)
	}
	return nil
}

// The conversion of a schema 1 file's lists (one key per entry, keys.go) to
// blocks. startMigration, in the transaction that finds version 1, writes
// version 2 at once (so that an older build refuses the file from then on
// rather than misread a converted list) and lists every list bucket in
// migrate/todo. Then each list is converted in transactions of migrateChunk
// entries: its blocks are built in migrate/work/<name>, and migrate/todo
// records how far the conversion got (the last key converted, then "all");
// the next transaction deletes the old bucket, moves the new one in its
// place (Tx.MoveBucket) and takes the list off migrate/todo. The bucket migrate is
// deleted last. A conversion that stops (a crash, an I/O error) continues on
// the next Open from its last commit; every commit leaves each list either
// wholly old (with its progress recorded) or wholly new. Counts and list
// meta do not change.
var (
	migrateTodo      = []byte("todo")
	migrateWork      = []byte("work")
	migrateConverted = []byte{0xff} // migrate/todo: converted, to be swapped
)

// migrateChunk is the most entries of the old layout converted per
// transaction (a variable for the tests).
var migrateChunk = 1_000_000

// migrateHook, if set, is called after each committed step of a conversion;
// an error stops it (the tests' crash).
var migrateHook func() error

// startMigration marks the file as version 2 under conversion and lists the
// buckets to convert: 'l' | name for lists/<name>, 'v' | len(sfx) | sfx |
// base for variants/<sfx>/<base>.
func startMigration(tx *bolt.Tx) error {
	mig, err := tx.CreateBucket(bucketMigrate)
	if err != nil {
		return err
	}
	todo, err := mig.CreateBucket(migrateTodo)
	if err != nil {
		return err
	}
	err = tx.Bucket(bucketLists).ForEachBucket(func(name []byte) error {
		return todo.Put(append([]byte{'l'}, name...), []byte{})
	})
	if err != nil {
		return err
	}
	vb := tx.Bucket(bucketListVariants)
	err = vb.ForEachBucket(func(sfx []byte) error {
		return vb.Bucket(sfx).ForEachBucket(func(base []byte) error {
			k := append([]byte{'v', byte(len(sfx))}, sfx...)
			return todo.Put(append(k, base...), []byte{})
		})
	})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(metaSchemaKey, binary.BigEndian.AppendUint32(nil, schemaVersion))
}

// migrateLists runs the conversion's steps to the end.
func (s *Store) migrateLists() error {
	w := getListWriter()
	defer putListWriter(w)
	var entries []v1Entry
	for {
		done := false
		err := s.db.Update(func(tx *bolt.Tx) error {
			var err error
			done, entries, err = migrateStep(tx, w, entries[:0])
			return err
		})
		if err != nil {
			return filter.Wrap(filter.EUnavailable, err, "convert the lists of store file %s to schema version %d (open it again to continue)", s.path, schemaVersion)
		}
		if done {
			return nil
		}
		if migrateHook != nil {
			if err := migrateHook(); err != nil {
				return err
			}
		}
	}
}

// v1Entry is a list entry of schema version 1: its key and expiry (Unix ms,
// 0 for a permanent entry).
type v1Entry struct{ key, exp uint64 }

// migrateBucket resolves a migrate/todo key to the bucket it names: its
// parent and its key there.
func migrateBucket(tx *bolt.Tx, todoKey []byte) (parent *bolt.Bucket, name []byte, ok bool) {
	switch {
	case len(todoKey) > 1 && todoKey[0] == 'l':
		return tx.Bucket(bucketLists), todoKey[1:], true
	case len(todoKey) > 2 && todoKey[0] == 'v' && len(todoKey) > 2+int(todoKey[1]):
		n := int(todoKey[1])
		return tx.Bucket(bucketListVariants).Bucket(todoKey[2 : 2+n]), todoKey[2+n:], true
	}
	return nil, nil, false
}

// migrateStep converts up to migrateChunk entries of the first list of
// migrate/todo, or, when none is left, deletes the bucket migrate.
func migrateStep(tx *bolt.Tx, w *listWriter, entries []v1Entry) (done bool, _ []v1Entry, _ error) {
	w.arena = w.arena[:0]
	mig := tx.Bucket(bucketMigrate)
	todo := mig.Bucket(migrateTodo)
	if todo == nil {
		return false, entries, errors.New("damaged conversion record")
	}
	tk, progress := todo.Cursor().First()
	if tk == nil {
		return true, entries, tx.DeleteBucket(bucketMigrate)
	}
	tk, progress = bytes.Clone(tk), bytes.Clone(progress)
	parent, name, ok := migrateBucket(tx, tk)
	if !ok {
		return false, entries, errors.New("damaged conversion record")
	}
	var old *bolt.Bucket
	if parent != nil {
		old = parent.Bucket(name)
	}
	if old == nil {
		return false, entries, todo.Delete(tk) // gone: nothing to convert
	}
	work, err := mig.CreateBucketIfNotExists(migrateWork)
	if err != nil {
		return false, entries, err
	}
	if len(progress) == 0 {
		// Not begun: a bucket left at work/<name> is from nothing we know.
		if err := work.DeleteBucket(name); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
			return false, entries, err
		}
		if _, err := work.CreateBucket(name); err != nil {
			return false, entries, err
		}
	}
	nb := work.Bucket(name)
	if nb == nil || (len(progress) != 0 && len(progress) != 8 && !bytes.Equal(progress, migrateConverted)) {
		return false, entries, errors.New("damaged conversion record")
	}
	if bytes.Equal(progress, migrateConverted) {
		// Swap, in a transaction that does not write to the new bucket:
		// Tx.MoveBucket drops the changes made to a bucket in the
		// transaction that moves it (bbolt v1.5.0; etcd-io/bbolt#1239).
		if err := parent.DeleteBucket(name); err != nil {
			return false, entries, err
		}
		if err := tx.MoveBucket(name, work, parent); err != nil {
			return false, entries, err
		}
		return false, entries, todo.Delete(tk)
	}

	// Read the next entries of the old bucket.
	c := old.Cursor()
	var k, v []byte
	if len(progress) == 0 {
		k, v = c.First()
	} else if k, v = c.Seek(progress); bytes.Equal(k, progress) {
		k, v = c.Next()
	}
	for ; k != nil && len(entries) < migrateChunk; k, v = c.Next() {
		if len(k) != 8 || v == nil {
			return false, entries, errCorrupt("list entry")
		}
		exp, ok := decodeListEntry(v)
		if !ok {
			return false, entries, errCorrupt("list entry")
		}
		e := v1Entry{key: binary.BigEndian.Uint64(k)}
		if !exp.IsZero() {
			e.exp = uint64(max(exp.UnixMilli(), 1))
		}
		entries = append(entries, e)
	}
	finished := k == nil

	// Write them as blocks (merged with a block the last step began).
	var kb, nk, eb [8]byte
	var xb *bolt.Bucket
	nc := nb.Cursor()
	for rest := entries; len(rest) > 0; {
		blk := rest[0].key / blockSize
		w.offs = w.offs[:0]
		var flags byte
		i := 0
		for ; i < len(rest) && rest[i].key/blockSize == blk; i++ {
			w.offs = append(w.offs, uint32(rest[i].key%blockSize))
			if rest[i].exp == 0 {
				continue
			}
			flags = blockExpiring
			if xb == nil {
				if xb, err = nb.CreateBucketIfNotExists(expiryBucket); err != nil {
					return false, entries, err
				}
			}
			binary.BigEndian.PutUint64(eb[:], rest[i].exp)
			if err := xb.Put(listKey(&nk, rest[i].key), w.value(eb[:])); err != nil {
				return false, entries, err
			}
		}
		rest = rest[i:]
		bk := blockKey(&kb, blk)
		prev, err := seekBlock(nc, bk)
		if err != nil {
			return false, entries, err
		}
		if prev != nil {
			flags |= prev[0] & blockExpiring
		}
		start := len(w.arena)
		out, _, ok := appendBlockAdd(w.arena, prev, w.offs, flags)
		if !ok {
			return false, entries, errCorrupt("list block")
		}
		w.arena = out
		if err := nb.Put(bk, out[start:len(out):len(out)]); err != nil {
			return false, entries, err
		}
	}

	if finished {
		return false, entries, todo.Put(tk, migrateConverted) // the next step swaps
	}
	last := binary.BigEndian.AppendUint64(nil, entries[len(entries)-1].key)
	return false, entries, todo.Put(tk, last)
}

// Path returns the path of the store file.
func (s *Store) Path() string { return s.path }

// Close waits for running transactions and closes the file. Calls after the
// first return its result; every other method then fails with EUnavailable.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if err := s.db.Close(); err != nil {
			s.closeErr = filter.Wrap(filter.EUnavailable, err, "close store file %s", s.path)
		}
	})
	return s.closeErr
}

// ctxErr is the error of an operation whose context is done.
func ctxErr(op string, err error) error {
	return filter.Wrap(filter.EUnavailable, err, "store: %s", op)
}

// storeErr classifies an error from a transaction: *filter.Error values pass
// unchanged, anything else (I/O, a closed file, bbolt's own errors) is
// EUnavailable.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*filter.Error](err); ok {
		return err
	}
	return filter.Wrap(filter.EUnavailable, err, "store: %s", op)
}

// errCorrupt reports a record that does not decode. Numbers are never put in
// the message.
func errCorrupt(what string) error {
	return filter.Errorf(filter.EUnavailable, "", "store: a %s record is damaged", what)
}

// view runs fn in a read transaction.
func (s *Store) view(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return ctxErr(op, err)
	}
	return storeErr(op, s.db.View(fn))
}

// update runs fn in a write transaction of its own, durable on return.
func (s *Store) update(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return ctxErr(op, err)
	}
	return storeErr(op, s.db.Update(fn))
}

// batch runs fn in a write transaction shared with other concurrent small
// writes (bbolt's DB.Batch), durable on return.
//
// DB.Batch may call fn more than once: when another function of the batch
// fails, the transaction is rolled back and the rest run again, and the
// failing one is re-run alone. So fn must set every result it reports afresh
// on each call and act only through tx. batch itself follows that rule for
// ctx: a write whose context is done by the time its function runs does
// nothing and reports the context's error; it does not fail the batch (which
// would make every other write of the batch run again).
func (s *Store) batch(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return ctxErr(op, err)
	}
	var cancelled error
	err := s.db.Batch(func(tx *bolt.Tx) error {
		if cancelled = ctx.Err(); cancelled != nil {
			return nil
		}
		return fn(tx)
	})
	if err != nil {
		return storeErr(op, err)
	}
	if cancelled != nil {
		return ctxErr(op, cancelled)
	}
	return nil
}
