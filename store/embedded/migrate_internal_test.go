package embedded

import (
	"encoding/binary"
	"errors"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"callfilter/filter"
)

// v1List is a list as a schema 1 file holds it: key → expiry (zero: permanent).
type v1List map[uint64]time.Time

// v1Lists is the content of the schema 1 file the tests write: a sparse list,
// a dense one (a block of more than maxPacked keys), expiring entries, a
// staged variant, a variant an older build kept under lists, an empty list.
func v1Lists() map[string]v1List {
	rng := rand.New(rand.NewPCG(7, 7))
	national, refusers, staging := v1List{}, v1List{}, v1List{}
	for len(national) < 5000 {
		national[10_000_000_000+rng.Uint64N(90_000_000_000)] = time.Time{}
	}
	for i := range uint64(maxPacked + 10) {
		national[12_015_000_000+i*20] = time.Time{} // one dense block: a bitmap
	}
	national[999_999_999_999_999] = time.Time{}
	exp := time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range uint64(3000) {
		if i%3 == 0 {
			refusers[13_105_550_000+i] = time.Time{}
		} else {
			refusers[13_105_550_000+i] = exp.Add(time.Duration(i) * time.Millisecond)
		}
	}
	for i := range uint64(2500) {
		staging[14_155_550_000+i*7] = time.Time{}
	}
	return map[string]v1List{"national": national, "refusers": refusers, "national~staging": staging,
		"l~old": {1: {}, 2: {}}, "empty": {}}
}

// writeV1 writes a store file of schema version 1 at path with raw bbolt,
// as the builds before blocks did: a key per entry, valued uvarint first-add
// seconds [| uvarint expiry ms], and listmeta counts.
func writeV1(t *testing.T, path string, lists map[string]v1List) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(metaSchemaKey, []byte{0, 0, 0, 1}); err != nil {
			return err
		}
		for name, l := range lists {
			var b *bolt.Bucket
			var err error
			if name == "national~staging" { // where schema 1 kept variants
				p, err := tx.Bucket(bucketListVariants).CreateBucket([]byte("staging"))
				if err != nil {
					return err
				}
				b, err = p.CreateBucket([]byte("national"))
				if err != nil {
					return err
				}
			} else if b, err = tx.Bucket(bucketLists).CreateBucket([]byte(name)); err != nil {
				return err
			}
			for _, k := range slices.Sorted(maps.Keys(l)) { // in order: bbolt is slow otherwise
				exp := l[k]
				v := binary.AppendUvarint(nil, 1_700_000_000)
				if !exp.IsZero() {
					v = binary.AppendUvarint(v, uint64(exp.UnixMilli()))
				}
				if err := b.Put(binary.BigEndian.AppendUint64(nil, k), v); err != nil {
					return err
				}
			}
			m := encodeListMeta(new([24]byte), listMeta{count: uint64(len(l)), updated: 1})
			if err := tx.Bucket(bucketListMeta).Put([]byte(name), m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkConverted checks that s holds lists exactly.
func checkConverted(t *testing.T, s *Store, lists map[string]v1List) {
	t.Helper()
	ctx := t.Context()
	infos, err := s.Lists(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(lists) {
		t.Fatalf("Lists: %d lists, want %d", len(infos), len(lists))
	}
	for _, info := range infos {
		l := lists[info.Name]
		if info.Count != int64(len(l)) {
			t.Errorf("list %s: count %d, want %d", info.Name, info.Count, len(l))
		}
		var got []uint64
		if err := s.ScanList(ctx, info.Name, func(k uint64) error { got = append(got, k); return nil }); err != nil {
			t.Fatal(err)
		}
		if want := slices.Sorted(maps.Keys(l)); !slices.Equal(got, want) {
			t.Errorf("list %s: scan gave %d keys, want %d", info.Name, len(got), len(want))
		}
		n := 0
		for k, exp := range l {
			if n++; n > 500 {
				break
			}
			f, err := s.Facts(ctx, filter.FactsQuery{Key: k, Lists: []string{info.Name}})
			if err != nil {
				t.Fatal(err)
			}
			if lf := f.Lists[0]; lf.State != filter.ListPresent || !lf.ExpiresAt.Equal(exp) {
				t.Fatalf("list %s, key %d: %v until %v, want present until %v", info.Name, k, lf.State, lf.ExpiresAt, exp)
			}
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaSchemaKey); binary.BigEndian.Uint32(v) != schemaVersion {
			t.Errorf("schema version %d after the conversion, want %d", binary.BigEndian.Uint32(v), schemaVersion)
		}
		if tx.Bucket(bucketMigrate) != nil {
			t.Error("the bucket migrate outlived the conversion")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateV1 opens a file of schema version 1: every list is converted,
// keys, counts and expiries kept, and the lists work as any other after.
func TestMigrateV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "callfilter.db")
	lists := v1Lists()
	writeV1(t, path, lists)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a schema 1 file: %v", err)
	}
	defer s.Close()
	checkConverted(t, s, lists)
	if blocks := listBlocks(t, s, "national"); blocks[12_015] != blockBitmap {
		t.Errorf("the dense block after the conversion: format %d, want a bitmap", blocks[12_015])
	}

	// Converted lists are written and replaced as any other.
	ctx := t.Context()
	if n, err := s.AddToList(ctx, "refusers", []uint64{13_105_550_001, 13_105_559_999}); err != nil || n != 1 {
		t.Fatalf("AddToList after the conversion: %d, %v; want 1 added", n, err)
	}
	f, err := s.Facts(ctx, filter.FactsQuery{Key: 13_105_550_001, Lists: []string{"refusers"}})
	if err != nil || !f.Lists[0].ExpiresAt.IsZero() {
		t.Fatalf("a converted expiring entry added for good: %+v, %v; want permanent", f.Lists, err)
	}
	info, err := s.ReplaceList(ctx, "national", "national~staging")
	if err != nil || info.Count != int64(len(lists["national~staging"])) {
		t.Fatalf("ReplaceList from a converted variant: %+v, %v", info, err)
	}
}

// TestMigrateV1Interrupted stops the conversion after some of its steps,
// several times (as crashes would): each Open goes on from the last commit,
// the file says version 2 from the first step on (an older build refuses
// it), and the end result is the same.
func TestMigrateV1Interrupted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "callfilter.db")
	lists := v1Lists()
	writeV1(t, path, lists)
	defer func(c int) { migrateChunk, migrateHook = c, nil }(migrateChunk)
	migrateChunk = 700
	crash := errors.New("crash")
	for _, after := range []int{1, 3, 9, 2} {
		steps := 0
		migrateHook = func() error {
			if steps++; steps == after {
				return crash
			}
			return nil
		}
		if _, err := Open(path, Options{}); !errors.Is(err, crash) {
			t.Fatalf("Open stopped after %d steps: got %v, want the crash", after, err)
		}
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.View(func(tx *bolt.Tx) error {
			if v := tx.Bucket(bucketMeta).Get(metaSchemaKey); binary.BigEndian.Uint32(v) != schemaVersion || tx.Bucket(bucketMigrate) == nil {
				t.Errorf("an interrupted conversion: schema %d, migrate bucket %v; want %d and a migrate bucket", binary.BigEndian.Uint32(v), tx.Bucket(bucketMigrate) != nil, schemaVersion)
			}
			return nil
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	migrateHook = nil
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after the interruptions: %v", err)
	}
	defer s.Close()
	checkConverted(t, s, lists)
}
