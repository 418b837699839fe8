package embedded

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"callfilter/filter"
)

func testSubject(n int) filter.Subject {
	return sha256.Sum256(fmt.Appendf(nil, "batch-%d", n))
}

// TestBatchRetryKeepsResultsRight runs Reserve, Revoke and PutRelationship in
// batches that other functions make fail, so that bbolt rolls the batch back
// and runs every function again: the results reported must be those of the
// run that committed (no double counting, no grants beyond a cap).
func TestBatchRetryKeepsResultsRight(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "callfilter.db"), Options{BatchDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		c := filter.Consent{Subject: testSubject(0), Seller: "acme", Purpose: fmt.Sprint(i), Channel: filter.ChannelCall, GrantedAt: at}
		if err := s.PutConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	const rounds, racers, limit = 5, 20, 3
	errBoom := errors.New("boom")
	for round := range rounds {
		var (
			wg                sync.WaitGroup
			mu                sync.Mutex
			granted, failures int
			matched           []int
			errs              []error
		)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				switch i % 4 {
				case 0, 1: // reservers
					ok, err := s.Reserve(ctx, filter.ReserveQuery{
						Subject: testSubject(100 + round), Seller: "acme", Purpose: "p", Channel: filter.ChannelCall,
						At: at, Caps: []filter.Cap{{Max: limit, Window: time.Hour}},
					})
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
					} else if ok {
						granted++
					}
				case 2: // revokers
					n, err := s.Revoke(ctx, filter.Revocation{Subject: testSubject(0), At: at})
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
					}
					matched = append(matched, n)
				case 3: // saboteurs: a failing function in the same batch
					err := s.db.Batch(func(tx *bolt.Tx) error {
						if err := tx.Bucket(bucketMeta).Put([]byte("scratch"), []byte("x")); err != nil {
							return err
						}
						return errBoom
					})
					mu.Lock()
					defer mu.Unlock()
					if errors.Is(err, errBoom) {
						failures++
					}
				}
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		if failures != racers/4 {
			t.Fatalf("round %d: %d saboteurs failed, want %d", round, failures, racers/4)
		}
		if granted != limit {
			t.Fatalf("round %d: %d reservations granted under a cap of %d", round, granted, limit)
		}
		for _, n := range matched {
			if n != 3 {
				t.Fatalf("round %d: a revocation reported %d matches, want 3", round, n)
			}
		}
		f, err := s.Facts(ctx, filter.FactsQuery{Subject: testSubject(100 + round), Seller: "acme", Purpose: "p", Channel: filter.ChannelCall, AttemptsSince: at.Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Attempts) != limit {
			t.Fatalf("round %d: %d attempts recorded, want %d", round, len(f.Attempts), limit)
		}
	}
	// Every revocation was recorded exactly once.
	f, err := s.Facts(ctx, filter.FactsQuery{Subject: testSubject(0)})
	if err != nil {
		t.Fatal(err)
	}
	if want := rounds * racers / 4; len(f.Revocations) != want {
		t.Fatalf("%d revocations recorded, want %d", len(f.Revocations), want)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get([]byte("scratch")) != nil {
			return errors.New("a failed batch function's write was committed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBatchContextEndsWhileQueued cancels a write while it waits for its
// batch: it must report the context's error and change nothing.
func TestBatchContextEndsWhileQueued(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "callfilter.db"), Options{BatchDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	q := filter.ReserveQuery{Subject: testSubject(1), Seller: "acme", Purpose: "p", Channel: filter.ChannelCall, At: at}
	done := make(chan error, 1)
	go func() {
		_, err := s.Reserve(ctx, q)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // queued in the batch
	cancel()
	err = <-done
	if filter.ErrorKind(err) != filter.EUnavailable || !errors.Is(err, context.Canceled) {
		t.Fatalf("Reserve cancelled in its batch: got %v, want EUnavailable wrapping context.Canceled", err)
	}
	f, err := s.Facts(t.Context(), filter.FactsQuery{Subject: q.Subject, Seller: "acme", Purpose: "p", Channel: filter.ChannelCall, AttemptsSince: at.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Attempts) != 0 {
		t.Fatalf("a cancelled reservation was recorded: %v", f.Attempts)
	}
}

// TestCodecRoundTrip checks every value encoding, zero times included.
func TestCodecRoundTrip(t *testing.T) {
	subj := testSubject(1)
	for _, c := range []filter.Consent{
		{Subject: subj, Seller: "s", Purpose: "p", Channel: "call", GrantedAt: time.Unix(1, 5).UTC()},
		{Subject: subj, Last4: "0134", Seller: "seller", Purpose: "insurance", Channel: "sms",
			GrantedAt: time.Date(1600, 1, 1, 0, 0, 0, 1, time.UTC), ExpiresAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
			Source: "src", Evidence: string(make([]byte, 300))},
	} {
		got, ok := decodeConsent(consentKey(nil, c.Subject, c.Seller, c.Purpose, c.Channel), encodeConsent(nil, &c))
		if !ok || got != c {
			t.Errorf("consent round trip: got %+v (%v), want %+v", got, ok, c)
		}
	}
	rv := filter.Revocation{Subject: subj, Last4: "1", Channel: "sms", At: time.Unix(-5, 0).UTC(), Source: "x"}
	if got, ok := decodeRevocation(revocationKey(nil, subj, 7), encodeRevocation(nil, &rv)); !ok || got != rv {
		t.Errorf("revocation round trip: got %+v (%v), want %+v", got, ok, rv)
	}
	rel := filter.Relationship{Subject: subj, Last4: "9", Seller: "s", Kind: "purchase", At: time.Unix(1e9, 0).UTC()}
	if got, ok := decodeRelationship(relationshipKey(nil, subj, rel.Seller, rel.Kind), encodeRelationship(nil, &rel)); !ok || got != rel {
		t.Errorf("relationship round trip: got %+v (%v), want %+v", got, ok, rel)
	}
	k := filter.APIKey{Name: "n", Role: filter.RoleAdmin, Hash: sha256.Sum256(nil)}
	if got, ok := decodeAPIKey([]byte(k.Name), encodeAPIKey(nil, &k)); !ok || got != k {
		t.Errorf("api key round trip: got %+v (%v), want %+v", got, ok, k)
	}
	// Truncated values never decode.
	full := encodeConsent(nil, &filter.Consent{Last4: "0134", GrantedAt: time.Unix(1, 0), Source: "abc"})
	key := consentKey(nil, subj, "s", "p", "call")
	for n := range len(full) {
		if _, ok := decodeConsent(key, full[:n]); ok {
			t.Errorf("a consent value cut to %d of %d bytes decoded", n, len(full))
		}
	}
	for _, at := range []time.Time{minTS, maxTS, time.Unix(0, 0), time.Unix(-1, 999)} {
		prefix := attemptPrefix(nil, subj, "s", "p", "call")
		got, ok := attemptTime(attemptKey(prefix, at, 3), len(prefix))
		if !ok || !got.Equal(at) {
			t.Errorf("attempt key of %v: got %v (%v)", at, got, ok)
		}
	}
}

// TestCommitsAreSynced guards invariant 3: an acknowledged write is on disk.
func TestCommitsAreSynced(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "callfilter.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.db.NoSync || s.db.NoGrowSync || s.db.NoFreelistSync {
		t.Fatalf("bbolt sync flags: NoSync %v, NoGrowSync %v, NoFreelistSync %v; want all false",
			s.db.NoSync, s.db.NoGrowSync, s.db.NoFreelistSync)
	}
}
