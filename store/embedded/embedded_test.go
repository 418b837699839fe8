package embedded_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"callfilter/filter"
	"callfilter/store"
	"callfilter/store/embedded"
)

// mustOpen opens the store at path and closes it when the test ends.
func mustOpen(tb testing.TB, path string, opts embedded.Options) *embedded.Store {
	tb.Helper()
	s, err := embedded.Open(path, opts)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func suite(opts embedded.Options) store.Suite {
	return store.Suite{
		Open: func(t *testing.T) filter.Store {
			return mustOpen(t, filepath.Join(t.TempDir(), "callfilter.db"), opts)
		},
		Reopen: func(t *testing.T, old filter.Store) filter.Store {
			s := old.(*embedded.Store)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return mustOpen(t, s.Path(), opts)
		},
	}
}

func TestConformance(t *testing.T) {
	suite(embedded.Options{}).Run(t)
}

// TestConformanceSmallChunks runs the suite with list chunks and scan pages
// small enough that every list operation spans several transactions.
func TestConformanceSmallChunks(t *testing.T) {
	s := suite(embedded.Options{ListChunk: 7, ScanPage: 3, BatchSize: 4})
	// 45,000 keys at 7 a transaction take half a minute under -race; the
	// dense sweep is TestConformance's, and Lists/Sweep spans transactions.
	s.Skip = []string{"Lists/SweepDense"}
	s.Run(t)
}

// TestConformanceFaulty checks that a healthy Faulty is transparent.
func TestConformanceFaulty(t *testing.T) {
	store.Run(t, func(t *testing.T) filter.Store { return store.NewFaulty(embedded.MustOpenTemp(t)) })
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts embedded.Options
		want string // in the error; "" for valid
	}{
		{"zero is valid", embedded.Options{}, ""},
		{"set", embedded.Options{LockTimeout: time.Second, BatchDelay: time.Millisecond, BatchSize: 10, ListChunk: 10, ScanPage: 10, InitialMmapSize: 1 << 20}, ""},
		{"negative lock timeout", embedded.Options{LockTimeout: -1}, "lock timeout"},
		{"negative batch delay", embedded.Options{BatchDelay: -1}, "batch delay"},
		{"negative batch size", embedded.Options{BatchSize: -1}, "batch size"},
		{"negative list chunk", embedded.Options{ListChunk: -1}, "list chunk"},
		{"negative scan page", embedded.Options{ScanPage: -1}, "scan page"},
		{"negative mmap size", embedded.Options{InitialMmapSize: -1}, "mmap size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: got %v, want nil", err)
				}
				return
			}
			if filter.ErrorKind(err) != filter.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: got %v, want an EInvalid error about %s", err, tc.want)
			}
			if _, err := embedded.Open(filepath.Join(t.TempDir(), "x.db"), tc.opts); filter.ErrorKind(err) != filter.EInvalid {
				t.Fatalf("Open with invalid options: got %v, want EInvalid", err)
			}
		})
	}
}

func TestOpenCreatesParentDirs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "callfilter.db")
	s := mustOpen(t, path, embedded.Options{})
	if s.Path() != path {
		t.Fatalf("Path: got %s, want %s", s.Path(), path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("store file: %v", err)
	}
}

func TestOpenEmptyPath(t *testing.T) {
	_, err := embedded.Open("", embedded.Options{})
	if filter.ErrorKind(err) != filter.EInvalid {
		t.Fatalf("Open(\"\"): got %v, want EInvalid", err)
	}
}

// TestOpenLocked opens a file that is open already: the second Open must give
// up after LockTimeout with an error that says why, not hang.
func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "callfilter.db")
	mustOpen(t, path, embedded.Options{})
	start := time.Now()
	s, err := embedded.Open(path, embedded.Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("second Open of a locked file: got nil error")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("second Open took %v, want about the lock timeout", took)
	}
	want := fmt.Sprintf("store file %s is locked by another process", path)
	if filter.ErrorKind(err) != filter.EUnavailable || !strings.Contains(err.Error(), want) {
		t.Fatalf("second Open: got %v, want EUnavailable %q", err, want)
	}
}

func TestOpenNotAStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := embedded.Open(path, embedded.Options{LockTimeout: 100 * time.Millisecond})
	if filter.ErrorKind(err) != filter.EUnavailable || !strings.Contains(err.Error(), "not a callfilter store") {
		t.Fatalf("Open of a text file: got %v, want EUnavailable \"not a callfilter store\"", err)
	}
}

// TestOpenOtherSchema refuses a file written by a build with another layout.
func TestOpenOtherSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "callfilter.db")
	s, err := embedded.Open(path, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{0, 0, 0, 9})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = embedded.Open(path, embedded.Options{})
	if filter.ErrorKind(err) != filter.EUnavailable || !strings.Contains(err.Error(), "schema version 9") {
		t.Fatalf("Open of a schema 9 file: got %v, want EUnavailable naming schema version 9", err)
	}

	// A bbolt file that is not ours at all.
	other := filepath.Join(t.TempDir(), "other.db")
	db, err = bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("lists"))
		return err
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err = embedded.Open(other, embedded.Options{}); filter.ErrorKind(err) != filter.EUnavailable {
		t.Fatalf("Open of a foreign bbolt file: got %v, want EUnavailable", err)
	}
}

func TestCloseTwice(t *testing.T) {
	s := embedded.MustOpenTemp(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func subject(n int) filter.Subject { return sha256.Sum256(fmt.Appendf(nil, "embedded-%d", n)) }

// TestReservePrunes checks that a reservation drops the attempts of its key
// that no cap of it can count, and keeps the others.
func TestReservePrunes(t *testing.T) {
	s := embedded.MustOpenTemp(t)
	ctx := t.Context()
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	q := filter.ReserveQuery{Subject: subject(1), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall}
	day := filter.Cap{Max: 10, Window: 24 * time.Hour}
	for _, at := range []time.Time{t0, t0.Add(time.Hour), t0.Add(2 * time.Hour)} {
		q.At, q.Caps = at, nil
		if ok, err := s.Reserve(ctx, q); !ok || err != nil {
			t.Fatalf("Reserve: %v %v", ok, err)
		}
	}
	// A day and an hour after t0: t0 and t0+1h are a day old or more.
	q.At, q.Caps = t0.Add(25*time.Hour), []filter.Cap{{Max: 10, Window: time.Hour}, day}
	if ok, err := s.Reserve(ctx, q); !ok || err != nil {
		t.Fatalf("Reserve: %v %v", ok, err)
	}
	f, err := s.Facts(ctx, filter.FactsQuery{Subject: subject(1), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, AttemptsSince: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{t0.Add(2 * time.Hour), t0.Add(25 * time.Hour)}
	if !slices.EqualFunc(f.Attempts, want, time.Time.Equal) {
		t.Fatalf("attempts after pruning: got %v, want %v", f.Attempts, want)
	}
}

// TestScanListConcurrentWrites scans in small pages while another goroutine
// adds and removes other keys: every key present throughout is seen exactly
// once, in order.
func TestScanListConcurrentWrites(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "callfilter.db"), embedded.Options{ScanPage: 16})
	ctx := t.Context()
	var stable []uint64
	for i := range 2000 {
		stable = append(stable, uint64(10_000_000+2*i)) // even keys stay
	}
	if _, err := s.AddToList(ctx, "l", stable); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			odd := []uint64{uint64(10_000_001 + 2*(i%2000))}
			if _, err := s.AddToList(ctx, "l", odd); err != nil {
				done <- err
				return
			}
			if _, err := s.RemoveFromList(ctx, "l", odd); err != nil {
				done <- err
				return
			}
		}
	}()
	var evens []uint64
	var last uint64
	err := s.ScanList(ctx, "l", func(k uint64) error {
		if k <= last {
			return fmt.Errorf("key %d after %d", k, last)
		}
		last = k
		if k%2 == 0 {
			evens = append(evens, k)
		}
		return nil
	})
	close(stop)
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatalf("ScanList: %v", err)
	}
	if !slices.Equal(evens, stable) {
		t.Fatalf("ScanList during writes: saw %d of the %d stable keys", len(evens), len(stable))
	}
}

func TestErrorsAreKinded(t *testing.T) {
	s := embedded.MustOpenTemp(t)
	_, err := s.AddToList(t.Context(), strings.Repeat("x", 256), []uint64{1})
	var fe *filter.Error
	if !errors.As(err, &fe) || fe.Kind != filter.EInvalid {
		t.Fatalf("over-long list name: got %v, want EInvalid", err)
	}
	_, err = s.Facts(t.Context(), filter.FactsQuery{Seller: strings.Repeat("s", 256)})
	if filter.ErrorKind(err) != filter.EInvalid {
		t.Fatalf("Facts with an over-long seller: got %v, want EInvalid", err)
	}
}

// TestPruneAttempts: the embedded store deletes every attempt at or before
// the bound, of every subject, across read pages, and keeps the later ones.
func TestPruneAttempts(t *testing.T) {
	ctx := t.Context()
	st := mustOpen(t, filepath.Join(t.TempDir(), "callfilter.db"), embedded.Options{ScanPage: 3})
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	cp := filter.Cap{Max: 100, Window: 48 * time.Hour}
	const subjects = 5
	for i := range subjects {
		for _, d := range []time.Duration{-30 * time.Hour, -25 * time.Hour, -time.Hour, 0} {
			q := filter.ReserveQuery{Subject: subject(i + 1), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, At: at.Add(d), Caps: []filter.Cap{cp}}
			if ok, err := st.Reserve(ctx, q); err != nil || !ok {
				t.Fatalf("Reserve: %v, %v", ok, err)
			}
		}
	}
	n, err := st.PruneAttempts(ctx, at.Add(-24*time.Hour))
	if err != nil || n != 2*subjects {
		t.Fatalf("PruneAttempts = %d, %v; want %d", n, err, 2*subjects)
	}
	for i := range subjects {
		f, err := st.Facts(ctx, filter.FactsQuery{Subject: subject(i + 1), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, AttemptsSince: at.Add(-100 * time.Hour)})
		if err != nil || len(f.Attempts) != 2 {
			t.Fatalf("subject %d after the prune: %d attempts (%v), want the 2 after the bound", i+1, len(f.Attempts), err)
		}
	}
	if n, err := st.PruneAttempts(ctx, at.Add(-24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("a second PruneAttempts = %d, %v; want 0", n, err)
	}
}
