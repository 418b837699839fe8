// Package store holds what every implementation of filter.Store shares: the
// conformance suite each must pass (Run, Suite) and Faulty, a wrapper that
// makes any store fail on demand, for fail-closed tests elsewhere. The Store
// interface itself is declared by its consumer, package filter.
package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"callfilter/filter"
)

// Suite is the conformance suite of filter.Store. Beyond the doc comments of
// filter.Store, it pins down these choices, which every implementation makes
// the same way:
//
//   - Every error is a *filter.Error: EInvalid for bad arguments (nothing is
//     changed), ENotFound and EConflict where the interface says,
//     EUnavailable for everything else. A context that is done before a call
//     gives EUnavailable wrapping ctx.Err() (errors.Is(err,
//     context.Canceled) holds), and the call changes nothing. A closed store
//     answers EUnavailable, never a fact.
//   - AddToList with no keys creates the list (count 0). Every successful
//     AddToList or RemoveFromList of an existing list sets its UpdatedAt (a
//     re-import refreshes a list even when it adds nothing); a list key is a
//     number's key, 1 to 15 digits (0 is EInvalid).
//   - Facts returns exactly one ListFact per queried list, in query order;
//     a list that does not exist is ListAbsent.
//   - SetListSource keeps the date to the millisecond, in UTC, and changes
//     neither keys nor UpdatedAt; later adds and removes keep it.
//   - ReplaceList moves the variant's count, source date (none if it had
//     none), keys and expiries, and sets UpdatedAt; it creates a missing
//     list; the variant is gone from Lists after it and may be used again.
//     DeleteList removes the list from Lists; a list created again under the
//     name starts empty, without old expiries or source date.
//   - Revoke counts the consents it revokes: those Revocation.Matches that
//     were granted at or before its At.
//   - A Cap {Max, Window} of Reserve counts the attempts after At-Window (one
//     exactly Window before At is not counted) including any recorded after
//     At; Max 0 never grants; no caps always grants; a denied attempt is not
//     recorded. A Window that is not positive or a negative Max is EInvalid.
//   - Records keep at most four characters of Last4 (EInvalid otherwise), so
//     no record can hold a whole number.
//   - PutKey is EConflict for a name in use and for a hash in use (KeyByHash
//     could not tell two keys with one secret apart).
//   - Times come back equal (time.Time.Equal) to what was stored, at least to
//     the millisecond; the suite uses whole milliseconds.
//
// What the suite does not pin down: the order of Facts' slices, and whether
// attempts older than the longest cap window survive the next Reserve.
type Suite struct {
	// Open returns a fresh, empty store and registers a cleanup (t.Cleanup)
	// that closes it. The suite closes some stores itself, so that cleanup
	// must accept a store closed already (and may ignore its error).
	Open func(t *testing.T) filter.Store
	// Reopen closes s and returns a store over the same data, as a restart of
	// the process would, with a cleanup like Open's. Nil skips the durability
	// tests; an implementation that keeps data on disk must provide it.
	Reopen func(t *testing.T, s filter.Store) filter.Store
	// Skip names tests of the suite ("Lists/SweepDense") to skip: for a run
	// whose options make one needlessly slow that another run covers.
	Skip []string
}

// Run runs the conformance suite against the stores open returns, without the
// durability tests (see Suite for those).
func Run(t *testing.T, open func(t *testing.T) filter.Store) {
	Suite{Open: open}.Run(t)
}

// Run runs every test of the suite as a subtest of t.
func (s Suite) Run(t *testing.T) {
	if s.Open == nil {
		t.Fatal("store.Suite: Open is nil")
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, st filter.Store)
	}{
		{"Lists/AddAndCount", testListAdd},
		{"Lists/AddEmptyCreates", testListAddEmpty},
		{"Lists/Remove", testListRemove},
		{"Lists/Scan", testListScan},
		{"Lists/ScanStop", testListScanStop},
		{"Lists/Info", testListInfo},
		{"Lists/SourceDate", testListSource},
		{"Lists/Replace", testListReplace},
		{"Lists/ReplaceEmpty", testListReplaceEmpty},
		{"Lists/ReplaceMissing", testListReplaceMissing},
		{"Lists/VariantIsolated", testListVariantIsolated},
		{"Lists/Delete", testListDelete},
		{"Lists/Isolated", testListIsolated},
		{"Lists/Invalid", testListInvalid},
		{"Lists/ConcurrentAdds", testListConcurrent},
		{"Lists/ExpiringEntries", testListExpiring},
		{"Lists/ExpiringInvalid", testListExpiringInvalid},
		{"Lists/Sweep", testListSweep},
		{"Lists/SweepDense", testListSweepDense},
		{"Lists/SweepInvalid", testListSweepInvalid},
		{"Disconnects/Latest", testDisconnects},
		{"Disconnects/Invalid", testDisconnectsInvalid},
		{"Relationships/PolicyExpiry", testRelationshipPolicy},
		{"Outcomes/Since", testOutcomes},
		{"Outcomes/Invalid", testOutcomesInvalid},
		{"Facts/Lists", testFactsLists},
		{"Facts/Empty", testFactsEmpty},
		{"Facts/Many", testFactsMany},
		{"Consents/PerSeller", testConsents},
		{"Consents/Replace", testConsentReplace},
		{"Consents/Invalid", testConsentInvalid},
		{"Consents/Concurrent", testConsentConcurrent},
		{"Revocations/Matched", testRevoke},
		{"Revocations/KeptWhenMatchingNone", testRevokeNone},
		{"Revocations/Invalid", testRevokeInvalid},
		{"Relationships/Latest", testRelationships},
		{"Relationships/Invalid", testRelationshipInvalid},
		{"Attempts/Since", testAttemptsSince},
		{"Reserve/Cap", testReserveCap},
		{"Reserve/Boundary", testReserveBoundary},
		{"Reserve/MultipleCaps", testReserveMultipleCaps},
		{"Reserve/MaxZeroAndNoCaps", testReserveZeroAndNone},
		{"Reserve/Isolated", testReserveIsolated},
		{"Reserve/Concurrent", testReserveConcurrent},
		{"Reserve/Invalid", testReserveInvalid},
		{"Attempts/Prune", testPruneAttempts},
		{"Keys/PutGetDelete", testKeys},
		{"Keys/Conflict", testKeysConflict},
		{"Keys/Invalid", testKeysInvalid},
		{"Context/Cancelled", testCancelled},
		{"Closed", testClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if slices.Contains(s.Skip, tc.name) {
				t.Skip("store.Suite: skipped by Suite.Skip")
			}
			tc.fn(t, s.Open(t))
		})
	}
	t.Run("Durability", func(t *testing.T) {
		if s.Reopen == nil {
			t.Skip("store.Suite: no Reopen, durability not tested")
		}
		s.testDurability(t)
	})
}

// expiring returns st as an ExpiringListStore, failing if it is not one.
func expiring(t *testing.T, st filter.Store) filter.ExpiringListStore {
	t.Helper()
	x, ok := st.(filter.ExpiringListStore)
	if !ok {
		t.Fatalf("%T is not a filter.ExpiringListStore", st)
	}
	return x
}

// reassigned returns st as a ReassignedStore, failing if it is not one.
func reassigned(t *testing.T, st filter.Store) filter.ReassignedStore {
	t.Helper()
	x, ok := st.(filter.ReassignedStore)
	if !ok {
		t.Fatalf("%T is not a filter.ReassignedStore", st)
	}
	return x
}

// base is the suite's reference instant, in whole milliseconds.
var base = time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC)

// subject returns a distinct, non-zero Subject for each n.
func subject(n int) filter.Subject {
	return sha256.Sum256(fmt.Appendf(nil, "store-suite-subject-%d", n))
}

func wantKind(t *testing.T, err error, want filter.Kind, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got nil error, want kind %s", what, want)
	}
	if _, ok := errors.AsType[*filter.Error](err); !ok {
		t.Fatalf("%s: got %T %v, want a *filter.Error of kind %s", what, err, err, want)
	}
	if got := filter.ErrorKind(err); got != want {
		t.Fatalf("%s: got kind %s (%v), want %s", what, got, err, want)
	}
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustAdd(t *testing.T, st filter.Store, list string, keys ...uint64) int {
	t.Helper()
	n, err := st.AddToList(t.Context(), list, keys)
	must(t, err, "AddToList "+list)
	return n
}

func scan(t *testing.T, st filter.Store, list string) []uint64 {
	t.Helper()
	var got []uint64
	must(t, st.ScanList(t.Context(), list, func(k uint64) error {
		got = append(got, k)
		return nil
	}), "ScanList "+list)
	return got
}

func listInfo(t *testing.T, st filter.Store, name string) (filter.ListInfo, bool) {
	t.Helper()
	infos, err := st.Lists(t.Context())
	must(t, err, "Lists")
	for _, li := range infos {
		if li.Name == name {
			return li, true
		}
	}
	return filter.ListInfo{}, false
}

func facts(t *testing.T, st filter.Store, q filter.FactsQuery) filter.Facts {
	t.Helper()
	f, err := st.Facts(t.Context(), q)
	must(t, err, "Facts")
	return f
}

// sameSet fails unless got and want hold the same elements, in any order,
// after norm.
func sameSet[T comparable](t *testing.T, what string, got, want []T, norm func(T) T) {
	t.Helper()
	left := make([]T, len(want))
	for i, w := range want {
		left[i] = norm(w)
	}
	var extra []T
	for _, g := range got {
		g = norm(g)
		if i := slices.Index(left, g); i >= 0 {
			left = slices.Delete(left, i, i+1)
		} else {
			extra = append(extra, g)
		}
	}
	if len(left) > 0 || len(extra) > 0 {
		t.Fatalf("%s: got %d, want %d\nmissing: %+v\nunexpected: %+v", what, len(got), len(want), left, extra)
	}
}

func normConsent(c filter.Consent) filter.Consent {
	c.GrantedAt, c.ExpiresAt = normTime(c.GrantedAt), normTime(c.ExpiresAt)
	return c
}

func normRevocation(r filter.Revocation) filter.Revocation {
	r.At = normTime(r.At)
	return r
}

func normRelationship(r filter.Relationship) filter.Relationship {
	r.At, r.PolicyExpiresAt = normTime(r.At), normTime(r.PolicyExpiresAt)
	return r
}

func normKey(k filter.APIKey) filter.APIKey {
	k.CreatedAt = normTime(k.CreatedAt)
	return k
}

// normTime makes equal instants ==: UTC, no monotonic reading; zero stays zero.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func testListAdd(t *testing.T, st filter.Store) {
	if got := mustAdd(t, st, "national", 13105550103, 13105550101, 13105550102); got != 3 {
		t.Fatalf("first add: got %d added, want 3", got)
	}
	if got := mustAdd(t, st, "national", 13105550102, 13105550103, 13105550104, 13105550104); got != 1 {
		t.Fatalf("second add (two present, one new twice): got %d added, want 1", got)
	}
	if got := mustAdd(t, st, "national", 13105550101); got != 0 {
		t.Fatalf("re-adding a present key: got %d added, want 0", got)
	}
	want := []uint64{13105550101, 13105550102, 13105550103, 13105550104}
	if got := scan(t, st, "national"); !slices.Equal(got, want) {
		t.Fatalf("ScanList: got %v, want %v", got, want)
	}
	li, ok := listInfo(t, st, "national")
	if !ok || li.Count != 4 {
		t.Fatalf("Lists: got %+v (found %v), want count 4", li, ok)
	}
}

func testListAddEmpty(t *testing.T, st filter.Store) {
	if got := mustAdd(t, st, "empty"); got != 0 {
		t.Fatalf("AddToList with no keys: got %d added, want 0", got)
	}
	li, ok := listInfo(t, st, "empty")
	if !ok || li.Count != 0 {
		t.Fatalf("Lists after AddToList with no keys: got %+v (found %v), want the list with count 0", li, ok)
	}
}

func testListRemove(t *testing.T, st filter.Store) {
	ctx := t.Context()
	mustAdd(t, st, "company", 1, 2, 3)
	n, err := st.RemoveFromList(ctx, "company", []uint64{2, 5, 2})
	must(t, err, "RemoveFromList")
	if n != 1 {
		t.Fatalf("RemoveFromList {2, 5, 2} of {1, 2, 3}: got %d removed, want 1", n)
	}
	if n, err = st.RemoveFromList(ctx, "company", []uint64{2}); err != nil || n != 0 {
		t.Fatalf("removing an absent key: got %d, %v, want 0, nil", n, err)
	}
	if got, want := scan(t, st, "company"), []uint64{1, 3}; !slices.Equal(got, want) {
		t.Fatalf("ScanList after remove: got %v, want %v", got, want)
	}
	if li, _ := listInfo(t, st, "company"); li.Count != 2 {
		t.Fatalf("count after remove: got %d, want 2", li.Count)
	}
	if mustAdd(t, st, "company", 2) != 1 {
		t.Fatal("re-adding a removed key: want 1 added")
	}
	if n, err = st.RemoveFromList(ctx, "nosuchlist", []uint64{1}); err != nil || n != 0 {
		t.Fatalf("removing from a list that does not exist: got %d, %v, want 0, nil", n, err)
	}
	if _, ok := listInfo(t, st, "nosuchlist"); ok {
		t.Fatal("removing from a list that does not exist created it")
	}
}

func testListScan(t *testing.T, st filter.Store) {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[uint64]bool{}
	var keys []uint64
	for len(keys) < 5000 {
		k := 10_000_000_000 + rng.Uint64N(10_000_000_000)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for i := 0; i < len(keys); i += 1000 {
		mustAdd(t, st, "big", keys[i:i+1000]...)
	}
	got := scan(t, st, "big")
	want := slices.Sorted(slices.Values(keys))
	if !slices.Equal(got, want) {
		t.Fatalf("ScanList of %d random keys: got %d keys, sorted %v; want every key in ascending order",
			len(keys), len(got), slices.IsSorted(got))
	}
	if got := scan(t, st, "nosuchlist"); len(got) != 0 {
		t.Fatalf("ScanList of a list that does not exist: got %d keys, want none", len(got))
	}
}

func testListScanStop(t *testing.T, st filter.Store) {
	mustAdd(t, st, "l", 5, 4, 3, 2, 1)
	stop := errors.New("stop here")
	var got []uint64
	err := st.ScanList(t.Context(), "l", func(k uint64) error {
		got = append(got, k)
		if len(got) == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("ScanList whose fn fails: got error %v, want fn's error", err)
	}
	if want := []uint64{1, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("ScanList stopping at the 3rd key: fn saw %v, want %v", got, want)
	}
}

func testListInfo(t *testing.T, st filter.Store) {
	before := time.Now().Add(-time.Second)
	mustAdd(t, st, "b", 1, 2)
	mustAdd(t, st, "a", 1)
	mustAdd(t, st, "c", 1, 2, 3)
	after := time.Now().Add(time.Second)
	infos, err := st.Lists(t.Context())
	must(t, err, "Lists")
	names := make([]string, len(infos))
	for i, li := range infos {
		names[i] = li.Name
		if li.UpdatedAt.Before(before) || li.UpdatedAt.After(after) {
			t.Errorf("list %s: UpdatedAt %v, want between %v and %v", li.Name, li.UpdatedAt, before, after)
		}
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(names, want) {
		t.Fatalf("Lists: got names %v, want %v (sorted)", names, want)
	}
	for i, want := range []int64{1, 2, 3} {
		if infos[i].Count != want {
			t.Errorf("list %s: count %d, want %d", infos[i].Name, infos[i].Count, want)
		}
	}
	first := infos[0].UpdatedAt
	time.Sleep(5 * time.Millisecond)
	mustAdd(t, st, "a", 1) // adds nothing, still refreshes
	if li, _ := listInfo(t, st, "a"); li.UpdatedAt.Before(first) {
		t.Fatalf("UpdatedAt went back: %v after %v", li.UpdatedAt, first)
	}
}

// testListSource: SetListSource records a date Lists reports, which may move
// back, leaves the keys and UpdatedAt alone, and survives later writes.
func testListSource(t *testing.T, st filter.Store) {
	ctx := t.Context()
	mustAdd(t, st, "a", 1, 2)
	mustAdd(t, st, "b", 3)
	if li, _ := listInfo(t, st, "a"); !li.SourceDate.IsZero() {
		t.Fatalf("new list: SourceDate %v, want zero", li.SourceDate)
	}
	before, _ := listInfo(t, st, "a")
	must(t, st.SetListSource(ctx, "a", base), "SetListSource")
	li, _ := listInfo(t, st, "a")
	if !li.SourceDate.Equal(base) || li.SourceDate.Location() != time.UTC {
		t.Fatalf("SourceDate: got %v, want %v in UTC", li.SourceDate, base)
	}
	if li.Count != 2 || !li.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("SetListSource changed count or UpdatedAt: got %+v, want count 2, UpdatedAt %v", li, before.UpdatedAt)
	}
	if got := scan(t, st, "a"); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("keys after SetListSource: got %v, want [1 2]", got)
	}
	if b, _ := listInfo(t, st, "b"); !b.SourceDate.IsZero() {
		t.Fatalf("list b: SourceDate %v, want zero (set only on a)", b.SourceDate)
	}
	// An officer may correct it backwards.
	earlier := base.Add(-40*24*time.Hour + 123*time.Millisecond)
	must(t, st.SetListSource(ctx, "a", earlier), "SetListSource earlier")
	if li, _ := listInfo(t, st, "a"); !li.SourceDate.Equal(earlier) {
		t.Fatalf("SourceDate after a correction: got %v, want %v", li.SourceDate, earlier)
	}
	// Writes to the keys keep it.
	mustAdd(t, st, "a", 5)
	if _, err := st.RemoveFromList(ctx, "a", []uint64{1}); err != nil {
		t.Fatalf("RemoveFromList: %v", err)
	}
	if li, _ := listInfo(t, st, "a"); !li.SourceDate.Equal(earlier) || li.Count != 2 {
		t.Fatalf("after add and remove: got %+v, want SourceDate %v, count 2", li, earlier)
	}
	wantKind(t, st.SetListSource(ctx, "a", time.Time{}), filter.EInvalid, "SetListSource with a zero date")
	wantKind(t, st.SetListSource(ctx, "", base), filter.EInvalid, "SetListSource of an empty name")
	wantKind(t, st.SetListSource(ctx, "missing", base), filter.ENotFound, "SetListSource of a missing list")
	if _, ok := listInfo(t, st, "missing"); ok {
		t.Fatal("SetListSource of a missing list created it")
	}
	if li, _ := listInfo(t, st, "a"); !li.SourceDate.Equal(earlier) {
		t.Fatalf("a refused SetListSource changed it: got %v, want %v", li.SourceDate, earlier)
	}
}

// replaceKeys span several buckets of a store that groups keys by prefix.
var (
	replaceOld = []uint64{1, 12015550100, 12015550101, 12025550100, 442079460958}
	replaceNew = []uint64{12015550101, 12035550100, 12035550101, 33123456789}
)

// testListReplace: ReplaceList makes the list exactly the variant's keys,
// expiries and source date, and deletes the variant.
func testListReplace(t *testing.T, st filter.Store) {
	ctx := t.Context()
	x := expiring(t, st)
	mustAdd(t, st, "l", replaceOld...)
	if _, err := x.AddToListUntil(ctx, "l", []uint64{12045550100}, base.Add(time.Hour)); err != nil {
		t.Fatalf("AddToListUntil: %v", err)
	}
	must(t, st.SetListSource(ctx, "l", base.Add(-48*time.Hour)), "SetListSource l")
	mustAdd(t, st, "other", 12015550100)
	mustAdd(t, st, "l~new", replaceNew...)
	until := base.Add(2 * time.Hour)
	if _, err := x.AddToListUntil(ctx, "l~new", []uint64{12055550100}, until); err != nil {
		t.Fatalf("AddToListUntil: %v", err)
	}
	must(t, st.SetListSource(ctx, "l~new", base.Add(-time.Hour)), "SetListSource l~new")
	before := time.Now().Add(-time.Second)
	info, err := st.ReplaceList(ctx, "l", "l~new")
	must(t, err, "ReplaceList")
	want := sorted(append(slices.Clone(replaceNew), 12055550100))
	if info.Name != "l" || info.Count != int64(len(want)) || !info.SourceDate.Equal(base.Add(-time.Hour)) || info.UpdatedAt.Before(before) {
		t.Fatalf("ReplaceList: got %+v, want list l, count %d, SourceDate %v, UpdatedAt after %v", info, len(want), base.Add(-time.Hour), before)
	}
	if got := scan(t, st, "l"); !slices.Equal(got, want) {
		t.Fatalf("list after replace: got %v, want %v", got, want)
	}
	if got := scan(t, st, "l~new"); len(got) != 0 {
		t.Fatalf("variant after replace: got %v, want none", got)
	}
	if li, ok := listInfo(t, st, "l"); !ok || li.Count != info.Count || !li.SourceDate.Equal(info.SourceDate) || !li.UpdatedAt.Equal(info.UpdatedAt) {
		t.Fatalf("Lists after replace: got %+v (%v), want %+v", li, ok, info)
	}
	if _, ok := listInfo(t, st, "l~new"); ok {
		t.Fatal("Lists after replace still shows the variant")
	}
	q := filter.FactsQuery{Lists: []string{"l", "other"}, Subject: subject(1), Seller: "acme"}
	for _, c := range []struct {
		key   uint64
		state filter.ListState
		exp   time.Time
	}{
		{12015550100, filter.ListAbsent, time.Time{}}, // old only
		{12045550100, filter.ListAbsent, time.Time{}}, // old, expiring
		{12015550101, filter.ListPresent, time.Time{}},
		{33123456789, filter.ListPresent, time.Time{}},
		{12055550100, filter.ListPresent, until},
	} {
		q.Key = c.key
		f := facts(t, st, q)
		if f.Lists[0].State != c.state || !f.Lists[0].ExpiresAt.Equal(c.exp) {
			t.Errorf("key %d after replace: got %+v, want state %v expiring %v", c.key, f.Lists[0], c.state, c.exp)
		}
	}
	if got := scan(t, st, "other"); !slices.Equal(got, []uint64{12015550100}) {
		t.Fatalf("another list after replace: got %v", got)
	}
	// The list keeps working, and the variant's name can be used again.
	mustAdd(t, st, "l", 1)
	mustAdd(t, st, "l~new", 7)
	if li, _ := listInfo(t, st, "l"); li.Count != info.Count+1 {
		t.Fatalf("count after an add to the replaced list: got %d, want %d", li.Count, info.Count+1)
	}
	if got := scan(t, st, "l~new"); !slices.Equal(got, []uint64{7}) {
		t.Fatalf("variant used again: got %v, want [7]", got)
	}
	// Replacing a list that does not exist creates it.
	_, err = st.ReplaceList(ctx, "fresh", "fresh~x")
	wantKind(t, err, filter.ENotFound, "ReplaceList from a missing variant")
	mustAdd(t, st, "fresh~x", 5, 6)
	info, err = st.ReplaceList(ctx, "fresh", "fresh~x")
	must(t, err, "ReplaceList into a new list")
	if got := scan(t, st, "fresh"); info.Count != 2 || !info.SourceDate.IsZero() || !slices.Equal(got, []uint64{5, 6}) {
		t.Fatalf("new list by replace: got %+v, keys %v; want count 2, no source date, keys [5 6]", info, got)
	}
}

func sorted(keys []uint64) []uint64 {
	slices.Sort(keys)
	return slices.Compact(keys)
}

// testListReplaceEmpty: an empty variant empties the list, which stays.
func testListReplaceEmpty(t *testing.T, st filter.Store) {
	mustAdd(t, st, "l", replaceOld...)
	must(t, st.SetListSource(t.Context(), "l", base), "SetListSource")
	mustAdd(t, st, "l~new")
	info, err := st.ReplaceList(t.Context(), "l", "l~new")
	must(t, err, "ReplaceList")
	if info.Count != 0 || !info.SourceDate.IsZero() {
		t.Fatalf("ReplaceList with an empty variant: got %+v, want count 0, no source date (the variant's)", info)
	}
	if got := scan(t, st, "l"); len(got) != 0 {
		t.Fatalf("list after an empty replace: got %v, want none", got)
	}
	if li, ok := listInfo(t, st, "l"); !ok || li.Count != 0 {
		t.Fatalf("Lists after an empty replace: got %+v (%v), want l with count 0", li, ok)
	}
	q := filter.FactsQuery{Key: replaceOld[1], Lists: []string{"l"}, Subject: subject(1), Seller: "acme"}
	if f := facts(t, st, q); f.Lists[0].State != filter.ListAbsent {
		t.Fatalf("key of the old contents: %+v, want absent", f.Lists[0])
	}
}

// testListReplaceMissing: a missing variant is ENotFound, and bad names
// EInvalid; the list is unchanged.
func testListReplaceMissing(t *testing.T, st filter.Store) {
	ctx := t.Context()
	mustAdd(t, st, "l", replaceOld...)
	_, err := st.ReplaceList(ctx, "l", "l~new")
	wantKind(t, err, filter.ENotFound, "ReplaceList from a missing list")
	mustAdd(t, st, "m", 5)
	for _, c := range [][2]string{{"l", "m"}, {"l", "l"}, {"l", "m~new"}, {"l", "~new"}, {"", "~x"}, {"l~a", "l~a~b"}} {
		_, err := st.ReplaceList(ctx, c[0], c[1])
		wantKind(t, err, filter.EInvalid, fmt.Sprintf("ReplaceList(%q, %q)", c[0], c[1]))
	}
	if got := scan(t, st, "l"); !slices.Equal(got, sorted(slices.Clone(replaceOld))) {
		t.Fatalf("list after refused replaces: got %v, want %v", got, replaceOld)
	}
	if got := scan(t, st, "m"); !slices.Equal(got, []uint64{5}) {
		t.Fatalf("list m after refused replaces: got %v, want [5]", got)
	}
}

// testListVariantIsolated: a variant is a list of its own until replaced.
func testListVariantIsolated(t *testing.T, st filter.Store) {
	mustAdd(t, st, "l", 1, 2)
	mustAdd(t, st, "l~a", 2, 3)
	mustAdd(t, st, "l~b", 4)
	if n, err := st.RemoveFromList(t.Context(), "l~a", []uint64{2}); err != nil || n != 1 {
		t.Fatalf("RemoveFromList l~a: %d, %v", n, err)
	}
	for name, want := range map[string][]uint64{"l": {1, 2}, "l~a": {3}, "l~b": {4}} {
		if got := scan(t, st, name); !slices.Equal(got, want) {
			t.Errorf("list %s: got %v, want %v", name, got, want)
		}
		if li, _ := listInfo(t, st, name); li.Count != int64(len(want)) {
			t.Errorf("list %s: count %d, want %d", name, li.Count, len(want))
		}
	}
	f := facts(t, st, filter.FactsQuery{Key: 3, Lists: []string{"l", "l~a"}, Subject: subject(1), Seller: "acme"})
	if f.Lists[0].State != filter.ListAbsent || f.Lists[1].State != filter.ListPresent {
		t.Fatalf("Facts of a key of the variant only: %+v", f.Lists)
	}
}

// testListDelete: DeleteList removes the keys, expiries and info of a list;
// a missing list is ENotFound; the name can be used again.
func testListDelete(t *testing.T, st filter.Store) {
	ctx := t.Context()
	mustAdd(t, st, "l", replaceOld...)
	if _, err := expiring(t, st).AddToListUntil(ctx, "l", []uint64{12045550100}, base.Add(time.Hour)); err != nil {
		t.Fatalf("AddToListUntil: %v", err)
	}
	must(t, st.SetListSource(ctx, "l", base), "SetListSource")
	mustAdd(t, st, "other", replaceOld[1])
	mustAdd(t, st, "l~v", 9)
	must(t, st.DeleteList(ctx, "l"), "DeleteList")
	if got := scan(t, st, "l"); len(got) != 0 {
		t.Fatalf("deleted list: got %v, want none", got)
	}
	if _, ok := listInfo(t, st, "l"); ok {
		t.Fatal("Lists shows the deleted list")
	}
	f := facts(t, st, filter.FactsQuery{Key: replaceOld[1], Lists: []string{"l", "other"}, Subject: subject(1), Seller: "acme"})
	if f.Lists[0].State != filter.ListAbsent || f.Lists[1].State != filter.ListPresent {
		t.Fatalf("Facts after delete: %+v, want l absent, other present", f.Lists)
	}
	if got := scan(t, st, "l~v"); !slices.Equal(got, []uint64{9}) {
		t.Fatalf("a variant of the deleted list: got %v, want [9]", got)
	}
	wantKind(t, st.DeleteList(ctx, "l"), filter.ENotFound, "DeleteList of a deleted list")
	wantKind(t, st.DeleteList(ctx, "never"), filter.ENotFound, "DeleteList of a missing list")
	wantKind(t, st.DeleteList(ctx, ""), filter.EInvalid, "DeleteList of an empty name")
	// Created again, it starts empty, without the old expiry or source date.
	mustAdd(t, st, "l", 12045550100)
	li, ok := listInfo(t, st, "l")
	if !ok || li.Count != 1 || !li.SourceDate.IsZero() {
		t.Fatalf("list created again: got %+v (%v), want count 1, no source date", li, ok)
	}
	f = facts(t, st, filter.FactsQuery{Key: 12045550100, Lists: []string{"l"}, Subject: subject(1), Seller: "acme"})
	if f.Lists[0].State != filter.ListPresent || !f.Lists[0].ExpiresAt.IsZero() {
		t.Fatalf("key added again after delete: %+v, want present for good", f.Lists[0])
	}
	must(t, st.DeleteList(ctx, "l~v"), "DeleteList of a variant")
	if _, ok := listInfo(t, st, "l~v"); ok {
		t.Fatal("Lists shows the deleted variant")
	}
}

func testListIsolated(t *testing.T, st filter.Store) {
	mustAdd(t, st, "a", 100)
	mustAdd(t, st, "b", 200)
	if got := scan(t, st, "a"); !slices.Equal(got, []uint64{100}) {
		t.Fatalf("list a: got %v, want [100]", got)
	}
	if got := scan(t, st, "b"); !slices.Equal(got, []uint64{200}) {
		t.Fatalf("list b: got %v, want [200]", got)
	}
}

func testListInvalid(t *testing.T, st filter.Store) {
	ctx := t.Context()
	_, err := st.AddToList(ctx, "", []uint64{1})
	wantKind(t, err, filter.EInvalid, "AddToList with an empty name")
	_, err = st.AddToList(ctx, "l", []uint64{1, 0})
	wantKind(t, err, filter.EInvalid, "AddToList with key 0")
	_, err = st.AddToList(ctx, "l", []uint64{1, 10_000_000_000_000_000})
	wantKind(t, err, filter.EInvalid, "AddToList with a 17-digit key")
	if _, ok := listInfo(t, st, "l"); ok {
		t.Fatal("a rejected AddToList created its list")
	}
	_, err = st.RemoveFromList(ctx, "", []uint64{1})
	wantKind(t, err, filter.EInvalid, "RemoveFromList with an empty name")
}

func testListConcurrent(t *testing.T, st filter.Store) {
	const workers, per = 8, 500
	var wg sync.WaitGroup
	added := make([]int, workers)
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			// Worker w adds [w*per/2, w*per/2+per): half overlaps the next worker.
			keys := make([]uint64, per)
			for i := range keys {
				keys[i] = uint64(1_000_000 + w*per/2 + i)
			}
			added[w], errs[w] = st.AddToList(t.Context(), "shared", keys)
		})
	}
	wg.Wait()
	total := 0
	for w := range workers {
		must(t, errs[w], "concurrent AddToList")
		total += added[w]
	}
	want := (workers-1)*per/2 + per
	if total != want {
		t.Fatalf("concurrent adds: added counts sum to %d, want %d distinct keys", total, want)
	}
	if li, _ := listInfo(t, st, "shared"); li.Count != int64(want) {
		t.Fatalf("concurrent adds: count %d, want %d", li.Count, want)
	}
	if got := len(scan(t, st, "shared")); got != want {
		t.Fatalf("concurrent adds: scanned %d keys, want %d", got, want)
	}
}

func testListExpiring(t *testing.T, st filter.Store) {
	ctx := t.Context()
	x := expiring(t, st)
	addUntil := func(until time.Time, keys ...uint64) int {
		t.Helper()
		n, err := x.AddToListUntil(ctx, "refusers", keys, until)
		must(t, err, "AddToListUntil")
		return n
	}
	expiry := func(key uint64) (filter.ListState, time.Time) {
		t.Helper()
		f := facts(t, st, filter.FactsQuery{Key: key, Lists: []string{"refusers"}})
		return f.Lists[0].State, normTime(f.Lists[0].ExpiresAt)
	}
	want := func(what string, key uint64, wantState filter.ListState, wantExp time.Time) {
		t.Helper()
		if st, exp := expiry(key); st != wantState || !exp.Equal(wantExp) {
			t.Fatalf("%s: key %d is %v until %v, want %v until %v", what, key, st, exp, wantState, wantExp)
		}
	}
	t1, t2 := base.Add(180*24*time.Hour), base.Add(365*24*time.Hour)
	var never time.Time
	const perm, exp, other = 8613800138000, 8613800138001, 8613800138002

	mustAdd(t, st, "refusers", perm)
	if n := addUntil(t1, exp, perm); n != 1 {
		t.Fatalf("AddToListUntil of one new key and one present: got %d added, want 1", n)
	}
	want("an entry added with an expiry", exp, filter.ListPresent, t1)
	want("a permanent entry re-added with an expiry stays permanent", perm, filter.ListPresent, never)
	addUntil(base.Add(time.Hour), exp)
	want("an earlier expiry does not shorten the entry", exp, filter.ListPresent, t1)
	addUntil(t2, exp)
	want("a later expiry extends the entry", exp, filter.ListPresent, t2)
	if got := scan(t, st, "refusers"); !slices.Equal(got, []uint64{perm, exp}) {
		t.Fatalf("ScanList: got %v, want both entries (expiring ones too)", got)
	}
	if li, _ := listInfo(t, st, "refusers"); li.Count != 2 {
		t.Fatalf("count: got %d, want 2", li.Count)
	}
	if n := mustAdd(t, st, "refusers", exp); n != 0 {
		t.Fatalf("re-adding an expiring entry for good: got %d added, want 0", n)
	}
	want("re-added without expiry", exp, filter.ListPresent, never)

	addUntil(t2, other)
	n, err := st.RemoveFromList(ctx, "refusers", []uint64{other})
	must(t, err, "RemoveFromList")
	if n != 1 {
		t.Fatalf("RemoveFromList of an expiring entry: got %d removed, want 1", n)
	}
	want("removed", other, filter.ListAbsent, never)
	addUntil(t1, other)
	want("removed, then added with an earlier expiry: the removal took the old one", other, filter.ListPresent, t1)
	must(t, func() error { _, err := st.RemoveFromList(ctx, "refusers", []uint64{other}); return err }(), "RemoveFromList")
	mustAdd(t, st, "refusers", other)
	want("removed, then added for good", other, filter.ListPresent, never)

	// Many keys in one bucket and across buckets, with one expiry.
	var many []uint64
	for i := range uint64(50) {
		many = append(many, 12125550000+i*37, 13105550000+i)
	}
	if n := addUntil(t1, many...); n != len(many) {
		t.Fatalf("AddToListUntil of %d keys: got %d added", len(many), n)
	}
	for _, k := range []uint64{many[0], many[len(many)-1]} {
		want("one of many", k, filter.ListPresent, t1)
	}
	if f := facts(t, st, filter.FactsQuery{Key: many[0], Lists: []string{"national"}}); f.Lists[0].State != filter.ListAbsent {
		t.Fatal("an expiring entry of one list shows on another")
	}
}

func testListExpiringInvalid(t *testing.T, st filter.Store) {
	ctx := t.Context()
	x := expiring(t, st)
	_, err := x.AddToListUntil(ctx, "l", []uint64{1}, time.Time{})
	wantKind(t, err, filter.EInvalid, "AddToListUntil with no expiry")
	_, err = x.AddToListUntil(ctx, "l", []uint64{0}, base)
	wantKind(t, err, filter.EInvalid, "AddToListUntil with key 0")
	_, err = x.AddToListUntil(ctx, "", []uint64{1}, base)
	wantKind(t, err, filter.EInvalid, "AddToListUntil with no list name")
	if _, ok := listInfo(t, st, "l"); ok {
		t.Fatal("a rejected AddToListUntil created its list")
	}
}

func testListSweep(t *testing.T, st filter.Store) {
	ctx := t.Context()
	x := expiring(t, st)
	addUntil := func(list string, until time.Time, keys ...uint64) {
		t.Helper()
		_, err := x.AddToListUntil(ctx, list, keys, until)
		must(t, err, "AddToListUntil")
	}
	sweep := func(list string, before time.Time) int {
		t.Helper()
		n, err := x.SweepList(ctx, list, before)
		must(t, err, "SweepList "+list)
		return n
	}
	t1, t2 := base.Add(180*24*time.Hour), base.Add(365*24*time.Hour)
	const perm, later, madePerm = 8613800138000, 8613800138001, 8613800138002
	// Expiring at t1: keys in several buckets, one of them shared with
	// entries that stay.
	var soon []uint64
	for i := range uint64(40) {
		soon = append(soon, 8613800138100+i*7, 12125550000+i*37, 13105550000+i)
	}
	slices.Sort(soon)
	mustAdd(t, st, "refusers", perm)
	addUntil("refusers", t1, soon...)
	addUntil("refusers", t1, later, madePerm)
	addUntil("refusers", t2, later) // moved later: stays
	mustAdd(t, st, "refusers", madePerm)
	addUntil("other", t1, soon[0], soon[1]) // another list's entries stay
	before, _ := listInfo(t, st, "refusers")

	if n := sweep("refusers", t1.Add(-time.Millisecond)); n != 0 {
		t.Fatalf("SweepList before any expiry: removed %d, want 0", n)
	}
	if n := sweep("refusers", t1); n != len(soon) {
		t.Fatalf("SweepList at the expiry: removed %d, want the %d entries expiring then", n, len(soon))
	}
	want := []uint64{perm, later, madePerm}
	if got := scan(t, st, "refusers"); !slices.Equal(got, want) {
		t.Fatalf("after the sweep ScanList gives %v, want %v", got, want)
	}
	li, _ := listInfo(t, st, "refusers")
	if li.Count != int64(len(want)) {
		t.Fatalf("after the sweep the count is %d, want %d", li.Count, len(want))
	}
	if li.UpdatedAt.Before(before.UpdatedAt) {
		t.Fatalf("the sweep moved UpdatedAt back from %v to %v", before.UpdatedAt, li.UpdatedAt)
	}
	for _, k := range []uint64{soon[0], soon[len(soon)-1]} {
		f := facts(t, st, filter.FactsQuery{Key: k, Lists: []string{"refusers", "other"}})
		if f.Lists[0].State != filter.ListAbsent || !f.Lists[0].ExpiresAt.IsZero() {
			t.Fatalf("swept key %d reads as %+v", k, f.Lists[0])
		}
		if k == soon[0] && (f.Lists[1].State != filter.ListPresent || !normTime(f.Lists[1].ExpiresAt).Equal(t1)) {
			t.Fatalf("sweeping one list touched another's entry: %+v", f.Lists[1])
		}
	}
	f := facts(t, st, filter.FactsQuery{Key: later, Lists: []string{"refusers"}})
	if f.Lists[0].State != filter.ListPresent || !normTime(f.Lists[0].ExpiresAt).Equal(t2) {
		t.Fatalf("an entry whose expiry moved later reads %+v after the sweep, want present until %v", f.Lists[0], t2)
	}
	if n := sweep("refusers", t1); n != 0 {
		t.Fatalf("a second sweep removed %d, want 0", n)
	}
	// A swept key can come back, with its new expiry alone.
	addUntil("refusers", t1.Add(time.Hour), soon[0])
	f = facts(t, st, filter.FactsQuery{Key: soon[0], Lists: []string{"refusers"}})
	if f.Lists[0].State != filter.ListPresent || !normTime(f.Lists[0].ExpiresAt).Equal(t1.Add(time.Hour)) {
		t.Fatalf("a swept key added again reads %+v", f.Lists[0])
	}
	if n := sweep("refusers", t2); n != 2 {
		t.Fatalf("SweepList at the last expiry: removed %d, want 2", n)
	}
	want = []uint64{perm, madePerm}
	if got := scan(t, st, "refusers"); !slices.Equal(got, want) {
		t.Fatalf("after the last sweep ScanList gives %v, want the permanent entries %v", got, want)
	}
	// The swept keys were really removed: adding them again counts them.
	if n := mustAdd(t, st, "refusers", soon...); n != len(soon) {
		t.Fatalf("adding the swept keys again added %d, want %d", n, len(soon))
	}
	if n := sweep("missing", t2); n != 0 {
		t.Fatalf("SweepList of a missing list removed %d", n)
	}
	if _, ok := listInfo(t, st, "missing"); ok {
		t.Fatal("SweepList created the list it swept")
	}
}

// testListSweepDense sweeps a bucket dense enough to be kept as a bitmap
// (more than ~41,666 entries in one million-number range), all expiring,
// beside a few permanent ones.
func testListSweepDense(t *testing.T, st filter.Store) {
	ctx := t.Context()
	x := expiring(t, st)
	const n = 45_000
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = 12125000000 + uint64(i)*20
	}
	if _, err := x.AddToListUntil(ctx, "dense", keys, base); err != nil {
		t.Fatalf("AddToListUntil: %v", err)
	}
	stay := []uint64{12125000001, 12125999999}
	mustAdd(t, st, "dense", stay...)
	removed, err := x.SweepList(ctx, "dense", base)
	must(t, err, "SweepList")
	if removed != n {
		t.Fatalf("SweepList of a dense bucket removed %d, want %d", removed, n)
	}
	if got := scan(t, st, "dense"); !slices.Equal(got, stay) {
		t.Fatalf("after the sweep ScanList gives %d keys (%v…), want %v", len(got), got[:min(len(got), 4)], stay)
	}
	if li, _ := listInfo(t, st, "dense"); li.Count != int64(len(stay)) {
		t.Fatalf("after the sweep the count is %d, want %d", li.Count, len(stay))
	}
}

func testListSweepInvalid(t *testing.T, st filter.Store) {
	ctx := t.Context()
	x := expiring(t, st)
	_, err := x.SweepList(ctx, "", base)
	wantKind(t, err, filter.EInvalid, "SweepList with no list name")
	_, err = x.SweepList(ctx, "l", time.Time{})
	wantKind(t, err, filter.EInvalid, "SweepList with a zero before")
}

func testDisconnects(t *testing.T, st filter.Store) {
	ctx := t.Context()
	r := reassigned(t, st)
	put := func(ds ...filter.Disconnect) {
		t.Helper()
		must(t, r.PutDisconnects(ctx, ds), "PutDisconnects")
	}
	at := func(subj int) time.Time {
		t.Helper()
		return normTime(facts(t, st, filter.FactsQuery{Subject: subject(subj), Seller: "acme"}).DisconnectedAt)
	}
	if got := at(1); !got.IsZero() {
		t.Fatalf("no disconnect recorded: got %v, want zero", got)
	}
	put(filter.Disconnect{Subject: subject(1), At: base}, filter.Disconnect{Subject: subject(2), At: base.Add(time.Hour)})
	if got := at(1); !got.Equal(base) {
		t.Fatalf("subject 1: got %v, want %v", got, base)
	}
	put(filter.Disconnect{Subject: subject(1), At: base.Add(-24 * time.Hour)}) // older: ignored
	if got := at(1); !got.Equal(base) {
		t.Fatalf("an older disconnect replaced a later one: got %v, want %v", got, base)
	}
	put(filter.Disconnect{Subject: subject(1), At: base.Add(48 * time.Hour)}, filter.Disconnect{Subject: subject(1), At: base.Add(time.Hour)})
	if got := at(1); !got.Equal(base.Add(48 * time.Hour)) {
		t.Fatalf("the latest of a batch: got %v, want %v", got, base.Add(48*time.Hour))
	}
	if got := at(2); !got.Equal(base.Add(time.Hour)) {
		t.Fatalf("subject 2: got %v, want %v", got, base.Add(time.Hour))
	}
	if got := at(3); !got.IsZero() {
		t.Fatalf("subject 3 has none: got %v", got)
	}
	put() // none: a no-op
}

func testDisconnectsInvalid(t *testing.T, st filter.Store) {
	ctx := t.Context()
	r := reassigned(t, st)
	wantKind(t, r.PutDisconnects(ctx, []filter.Disconnect{{Subject: subject(1), At: base}, {At: base}}), filter.EInvalid, "PutDisconnects with a zero subject")
	wantKind(t, r.PutDisconnects(ctx, []filter.Disconnect{{Subject: subject(1), At: base}, {Subject: subject(2)}}), filter.EInvalid, "PutDisconnects with no date")
	if f := facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "acme"}); !f.DisconnectedAt.IsZero() {
		t.Fatalf("a rejected batch wrote its valid rows: %v", f.DisconnectedAt)
	}
}

// outcomes returns st as an OutcomeStore, failing if it is not one.
func outcomes(t *testing.T, st filter.Store) filter.OutcomeStore {
	t.Helper()
	x, ok := st.(filter.OutcomeStore)
	if !ok {
		t.Fatalf("%T is not a filter.OutcomeStore", st)
	}
	return x
}

func normOutcome(o filter.CallOutcome) filter.CallOutcome {
	o.At = normTime(o.At)
	return o
}

func testOutcomes(t *testing.T, st filter.Store) {
	ctx := t.Context()
	x := outcomes(t, st)
	out := func(subj int, seller, purpose string, k filter.OutcomeKind, at time.Time) filter.CallOutcome {
		return filter.CallOutcome{Subject: subject(subj), Seller: seller, Purpose: purpose, Channel: filter.ChannelCall, Kind: k, At: at}
	}
	all := []filter.CallOutcome{
		out(1, "acme", "insurance", filter.OutcomeNoAnswer, base.Add(-2*time.Hour)),
		out(1, "acme", "insurance", filter.OutcomeNoAnswer, base.Add(-2*time.Hour)), // the same instant: both kept
		out(1, "acme", "housing", filter.OutcomeRefused, base.Add(-time.Hour)),
		out(1, "acme", "insurance", filter.OutcomeBusy, base.Add(-48*time.Hour)),
		out(1, "other", "insurance", filter.OutcomeRefused, base),
		out(2, "acme", "insurance", filter.OutcomeRefused, base),
		out(1, "acme", "insurance", filter.OutcomeAnswered, base.Add(time.Hour)),
	}
	for _, o := range all {
		must(t, x.RecordOutcome(ctx, o), "RecordOutcome")
	}
	q := filter.FactsQuery{Subject: subject(1), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, OutcomesSince: base.Add(-3 * time.Hour)}
	sameSet(t, "outcomes of subject 1 with acme since base-3h", facts(t, st, q).Outcomes,
		[]filter.CallOutcome{all[0], all[1], all[2], all[6]}, normOutcome)
	q.OutcomesSince = base.Add(-2 * time.Hour) // at or after: the two at base-2h count
	if got := len(facts(t, st, q).Outcomes); got != 4 {
		t.Fatalf("outcomes at or after base-2h: got %d, want 4", got)
	}
	q.OutcomesSince = time.Time{}
	if got := facts(t, st, q).Outcomes; len(got) != 0 {
		t.Fatalf("OutcomesSince zero: got %d outcomes, want none read", len(got))
	}
	// Outcomes far older than MaxOutcomeAge are pruned by a later record.
	old := out(3, "acme", "insurance", filter.OutcomeRefused, base.Add(-filter.MaxOutcomeAge-24*time.Hour))
	must(t, x.RecordOutcome(ctx, old), "RecordOutcome old")
	must(t, x.RecordOutcome(ctx, out(3, "acme", "insurance", filter.OutcomeAnswered, base)), "RecordOutcome")
	q = filter.FactsQuery{Subject: subject(3), Seller: "acme", OutcomesSince: old.At.Add(-time.Hour)}
	if got := facts(t, st, q).Outcomes; len(got) != 1 || got[0].Kind != filter.OutcomeAnswered {
		t.Fatalf("after pruning: got %+v, want only the recent outcome", got)
	}
}

func testOutcomesInvalid(t *testing.T, st filter.Store) {
	ctx := t.Context()
	x := outcomes(t, st)
	ok := filter.CallOutcome{Subject: subject(1), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, Kind: filter.OutcomeBusy, At: base}
	for _, tc := range []struct {
		name string
		edit func(*filter.CallOutcome)
	}{
		{"zero subject", func(o *filter.CallOutcome) { o.Subject = filter.Subject{} }},
		{"no seller", func(o *filter.CallOutcome) { o.Seller = "" }},
		{"no purpose", func(o *filter.CallOutcome) { o.Purpose = "" }},
		{"no channel", func(o *filter.CallOutcome) { o.Channel = "" }},
		{"unknown kind", func(o *filter.CallOutcome) { o.Kind = "hung_up" }},
		{"no time", func(o *filter.CallOutcome) { o.At = time.Time{} }},
	} {
		o := ok
		tc.edit(&o)
		wantKind(t, x.RecordOutcome(ctx, o), filter.EInvalid, "RecordOutcome with "+tc.name)
	}
	f := facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "acme", OutcomesSince: base.Add(-time.Hour)})
	if len(f.Outcomes) != 0 {
		t.Fatalf("rejected outcomes were stored: %+v", f.Outcomes)
	}
}

func testRelationshipPolicy(t *testing.T, st filter.Store) {
	ctx := t.Context()
	r := filter.Relationship{Subject: subject(1), Last4: "0134", Seller: "acme", Kind: filter.RelationshipPurchase,
		At: base, PolicyExpiresAt: base.Add(365 * 24 * time.Hour)}
	must(t, st.PutRelationship(ctx, r), "PutRelationship")
	f := facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "acme"})
	sameSet(t, "relationship with a policy expiry", f.Relationships, []filter.Relationship{r}, normRelationship)
	renewed := r
	renewed.At, renewed.PolicyExpiresAt = base.Add(300*24*time.Hour), base.Add(730*24*time.Hour)
	must(t, st.PutRelationship(ctx, renewed), "PutRelationship renewed")
	f = facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "acme"})
	sameSet(t, "renewed policy", f.Relationships, []filter.Relationship{renewed}, normRelationship)
	bad := r
	bad.PolicyExpiresAt = base.Add(-time.Hour)
	bad.Kind = filter.RelationshipInquiry
	wantKind(t, st.PutRelationship(ctx, bad), filter.EInvalid, "PutRelationship with a policy expiring before it")
}

func testFactsLists(t *testing.T, st filter.Store) {
	const key = 12125550134
	mustAdd(t, st, "federal", key, 12125550135)
	mustAdd(t, st, "state", 12125550136)
	mustAdd(t, st, "company", key)
	f := facts(t, st, filter.FactsQuery{Key: key, Lists: []string{"federal", "state", "nosuchlist"}})
	want := []filter.ListFact{
		{List: "federal", State: filter.ListPresent},
		{List: "state", State: filter.ListAbsent},
		{List: "nosuchlist", State: filter.ListAbsent},
	}
	if !slices.Equal(f.Lists, want) {
		t.Fatalf("Facts lists: got %+v, want %+v (one per queried list, none for company)", f.Lists, want)
	}
	if got := f.ListState("company"); got != filter.ListUnknown {
		t.Fatalf("a list not queried: got state %v, want unknown", got)
	}
	f = facts(t, st, filter.FactsQuery{Key: key})
	if len(f.Lists) != 0 {
		t.Fatalf("Facts with no lists queried: got %+v, want none", f.Lists)
	}
}

func testFactsEmpty(t *testing.T, st filter.Store) {
	f := facts(t, st, filter.FactsQuery{
		Key: 1, Lists: []string{"x"}, Subject: subject(1), Seller: "acme",
		Purpose: "insurance", Channel: filter.ChannelCall, AttemptsSince: base.Add(-24 * time.Hour),
	})
	if len(f.Consents)+len(f.Revocations)+len(f.Relationships)+len(f.Attempts)+len(f.Unavailable) != 0 {
		t.Fatalf("Facts of an empty store: got %+v, want only an absent list", f)
	}
	if !slices.Equal(f.Lists, []filter.ListFact{{List: "x", State: filter.ListAbsent}}) {
		t.Fatalf("Facts of an empty store: lists %+v, want x absent", f.Lists)
	}
}

// testFactsMany: FactsMany answers each query of a batch exactly as Facts
// does (lists, consents, revocations, relationships, attempts, outcomes,
// disconnects; numbers with records and without), an empty batch with
// nothing, and a batch with an invalid query with EInvalid.
func testFactsMany(t *testing.T, st filter.Store) {
	ctx := t.Context()
	mustAdd(t, st, "federal", 12125550134, 12125550135)
	mustAdd(t, st, "state", 12125550136)
	putConsents(t, st, consent(1, "acme", "insurance", filter.ChannelSMS, base.Add(-time.Hour)),
		consent(2, "acme", "housing", filter.ChannelCall, base.Add(-2*time.Hour)))
	revoke(t, st, filter.Revocation{Subject: subject(2), Seller: "acme", At: base.Add(-time.Minute)})
	must(t, st.PutRelationship(ctx, filter.Relationship{Subject: subject(1), Last4: "0134", Seller: "acme",
		Kind: filter.RelationshipPurchase, At: base.Add(-24 * time.Hour)}), "PutRelationship")
	reserve(t, st, rq(base.Add(-time.Minute), filter.Cap{Max: 5, Window: time.Hour}))
	must(t, outcomes(t, st).RecordOutcome(ctx, filter.CallOutcome{Subject: subject(1), Seller: "acme", Purpose: "insurance",
		Channel: filter.ChannelCall, Kind: filter.OutcomeNoAnswer, At: base.Add(-time.Hour)}), "RecordOutcome")
	must(t, reassigned(t, st).PutDisconnects(ctx, []filter.Disconnect{{Subject: subject(2), At: base.Add(-48 * time.Hour)}}), "PutDisconnects")

	lists := []string{"federal", "state", "nosuchlist"}
	var qs []filter.FactsQuery
	for i, key := range []uint64{12125550134, 12125550136, 12125550199} {
		for subj := 1; subj <= 3; subj++ {
			q := filter.FactsQuery{Key: key, Lists: lists[:i+1], Subject: subject(subj), Seller: "acme",
				Purpose: "insurance", Channel: filter.ChannelCall}
			if subj != 3 {
				q.AttemptsSince, q.OutcomesSince = base.Add(-2*time.Hour), base.Add(-2*time.Hour)
			}
			qs = append(qs, q)
		}
	}
	qs = append(qs, filter.FactsQuery{Key: 12125550134, Subject: subject(1), Seller: "other"}, filter.FactsQuery{Key: 12125550135})
	got, err := st.FactsMany(ctx, qs)
	must(t, err, "FactsMany")
	if len(got) != len(qs) {
		t.Fatalf("FactsMany of %d queries: %d answers", len(qs), len(got))
	}
	records := 0
	for i, q := range qs {
		want := facts(t, st, q)
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("query %d (%+v):\nFactsMany %+v\nFacts     %+v", i, q, got[i], want)
		}
		records += len(want.Consents) + len(want.Revocations) + len(want.Relationships) + len(want.Attempts) + len(want.Outcomes)
	}
	if records == 0 {
		t.Fatal("no query found a record: the test does not exercise them")
	}
	none, err := st.FactsMany(ctx, nil)
	if err != nil || len(none) != 0 {
		t.Fatalf("FactsMany of no query: %v, %v; want none", none, err)
	}
	_, err = st.FactsMany(ctx, []filter.FactsQuery{qs[0], {Key: 1, Lists: []string{""}}})
	wantKind(t, err, filter.EInvalid, "FactsMany with an empty list name")
}

func consent(subj int, seller, purpose string, ch filter.Channel, granted time.Time) filter.Consent {
	return filter.Consent{
		Subject: subject(subj), Last4: "0134", Seller: seller, Purpose: purpose, Channel: ch,
		GrantedAt: granted, ExpiresAt: granted.Add(365 * 24 * time.Hour),
		Source: "web form", Evidence: "https://example.com/form/1?ip=203.0.113.7",
	}
}

func putConsents(t *testing.T, st filter.Store, cs ...filter.Consent) {
	t.Helper()
	for _, c := range cs {
		must(t, st.PutConsent(t.Context(), c), "PutConsent")
	}
}

func testConsents(t *testing.T, st filter.Store) {
	mine := []filter.Consent{
		consent(1, "acme", "insurance", filter.ChannelCall, base),
		consent(1, "acme", "insurance", filter.ChannelSMS, base.Add(time.Minute)),
		consent(1, "acme", "housing", filter.ChannelCall, base.Add(2*time.Minute)),
	}
	mine[2].ExpiresAt = time.Time{} // never
	mine[2].Last4 = ""
	putConsents(t, st, mine...)
	putConsents(t, st,
		consent(1, "acme2", "insurance", filter.ChannelCall, base), // a seller whose name extends acme
		consent(1, "other", "insurance", filter.ChannelCall, base),
		consent(2, "acme", "insurance", filter.ChannelCall, base),
	)
	f := facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall})
	sameSet(t, "consents of subject 1 with acme", f.Consents, mine, normConsent)
	f = facts(t, st, filter.FactsQuery{Subject: subject(3), Seller: "acme"})
	if len(f.Consents) != 0 {
		t.Fatalf("consents of a subject with none: got %+v", f.Consents)
	}
}

func testConsentReplace(t *testing.T, st filter.Store) {
	old := consent(1, "acme", "insurance", filter.ChannelCall, base)
	putConsents(t, st, old)
	repl := old
	repl.GrantedAt = base.Add(time.Hour)
	repl.ExpiresAt = time.Time{}
	repl.Source = "ivr"
	repl.Evidence = "recording 42"
	putConsents(t, st, repl)
	f := facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "acme"})
	sameSet(t, "consent after replacement", f.Consents, []filter.Consent{repl}, normConsent)
}

func testConsentInvalid(t *testing.T, st filter.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		edit func(*filter.Consent)
	}{
		{"zero subject", func(c *filter.Consent) { c.Subject = filter.Subject{} }},
		{"no seller", func(c *filter.Consent) { c.Seller = "" }},
		{"no purpose", func(c *filter.Consent) { c.Purpose = "" }},
		{"no channel", func(c *filter.Consent) { c.Channel = "" }},
		{"no grant time", func(c *filter.Consent) { c.GrantedAt = time.Time{} }},
		{"whole number as last4", func(c *filter.Consent) { c.Last4 = "+12125550134" }},
	} {
		c := consent(1, "acme", "insurance", filter.ChannelCall, base)
		tc.edit(&c)
		wantKind(t, st.PutConsent(ctx, c), filter.EInvalid, "PutConsent with "+tc.name)
	}
	f := facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "acme"})
	if len(f.Consents) != 0 {
		t.Fatalf("rejected consents were stored: %+v", f.Consents)
	}
}

func testConsentConcurrent(t *testing.T, st filter.Store) {
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	var want []filter.Consent
	for i := range n {
		c := consent(1, "acme", fmt.Sprintf("purpose-%02d", i), filter.ChannelCall, base.Add(time.Duration(i)*time.Second))
		want = append(want, c)
		wg.Go(func() { errs[i] = st.PutConsent(t.Context(), c) })
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err, "concurrent PutConsent")
	}
	f := facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "acme"})
	sameSet(t, "consents written concurrently", f.Consents, want, normConsent)
}

func revoke(t *testing.T, st filter.Store, r filter.Revocation) int {
	t.Helper()
	n, err := st.Revoke(t.Context(), r)
	must(t, err, "Revoke")
	return n
}

func testRevoke(t *testing.T, st filter.Store) {
	putConsents(t, st,
		consent(1, "acme", "insurance", filter.ChannelCall, base),
		consent(1, "acme", "insurance", filter.ChannelSMS, base),
		consent(1, "acme", "housing", filter.ChannelCall, base),
		consent(1, "other", "insurance", filter.ChannelCall, base),
		consent(1, "late", "insurance", filter.ChannelCall, base.Add(48*time.Hour)),
		consent(2, "acme", "insurance", filter.ChannelCall, base),
	)
	at := base.Add(time.Hour)
	bySeller := filter.Revocation{Subject: subject(1), Last4: "0134", Seller: "acme", Purpose: "insurance", At: at, Source: "sms STOP"}
	if got := revoke(t, st, bySeller); got != 2 {
		t.Fatalf("revoking acme/insurance/any channel: matched %d, want 2", got)
	}
	byChannel := filter.Revocation{Subject: subject(1), Channel: filter.ChannelCall, At: at, Source: "call"}
	if got := revoke(t, st, byChannel); got != 3 {
		t.Fatalf("revoking any seller/purpose on call (one consent granted later): matched %d, want 3", got)
	}
	all := filter.Revocation{Subject: subject(1), Last4: "0134", At: base.Add(72 * time.Hour), Source: "letter"}
	if got := revoke(t, st, all); got != 5 {
		t.Fatalf("revoking everything of a subject: matched %d, want 5", got)
	}
	if got := revoke(t, st, filter.Revocation{Subject: subject(1), At: base.Add(-time.Hour)}); got != 0 {
		t.Fatalf("revoking before any grant: matched %d, want 0", got)
	}
	before := filter.Revocation{Subject: subject(1), At: base.Add(-time.Hour)}
	f := facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "other"})
	sameSet(t, "revocations of subject 1 (all sellers)", f.Revocations,
		[]filter.Revocation{bySeller, byChannel, all, before}, normRevocation)
	f = facts(t, st, filter.FactsQuery{Subject: subject(2), Seller: "acme"})
	if len(f.Revocations) != 0 {
		t.Fatalf("revocations of subject 2: got %+v, want none", f.Revocations)
	}
	if len(f.Consents) != 1 {
		t.Fatalf("subject 2's consent after subject 1's revocations: got %d consents, want 1 (revocations do not delete consents)", len(f.Consents))
	}
}

func testRevokeNone(t *testing.T, st filter.Store) {
	r := filter.Revocation{Subject: subject(7), Last4: "0199", Seller: "acme", At: base, Source: "web"}
	if got := revoke(t, st, r); got != 0 {
		t.Fatalf("revoking without consents: matched %d, want 0", got)
	}
	f := facts(t, st, filter.FactsQuery{Subject: subject(7), Seller: "anyone"})
	sameSet(t, "a revocation matching nothing", f.Revocations, []filter.Revocation{r}, normRevocation)
}

func testRevokeInvalid(t *testing.T, st filter.Store) {
	ctx := t.Context()
	_, err := st.Revoke(ctx, filter.Revocation{At: base})
	wantKind(t, err, filter.EInvalid, "Revoke with a zero subject")
	_, err = st.Revoke(ctx, filter.Revocation{Subject: subject(1)})
	wantKind(t, err, filter.EInvalid, "Revoke with no time")
	_, err = st.Revoke(ctx, filter.Revocation{Subject: subject(1), At: base, Last4: "2125550134"})
	wantKind(t, err, filter.EInvalid, "Revoke with a whole number as last4")
	if f := facts(t, st, filter.FactsQuery{Subject: subject(1)}); len(f.Revocations) != 0 {
		t.Fatalf("rejected revocations were stored: %+v", f.Revocations)
	}
}

func testRelationships(t *testing.T, st filter.Store) {
	ctx := t.Context()
	put := func(r filter.Relationship) {
		t.Helper()
		must(t, st.PutRelationship(ctx, r), "PutRelationship")
	}
	rel := func(subj int, seller string, kind filter.RelationshipKind, at time.Time) filter.Relationship {
		return filter.Relationship{Subject: subject(subj), Last4: "0134", Seller: seller, Kind: kind, At: at}
	}
	put(rel(1, "acme", filter.RelationshipPurchase, base))
	put(rel(1, "acme", filter.RelationshipPurchase, base.Add(-24*time.Hour))) // older: ignored
	put(rel(1, "acme", filter.RelationshipInquiry, base.Add(-time.Hour)))
	put(rel(1, "acme", filter.RelationshipInquiry, base.Add(time.Hour))) // newer: kept
	put(rel(1, "other", filter.RelationshipPurchase, base.Add(5*time.Hour)))
	put(rel(2, "acme", filter.RelationshipPurchase, base.Add(5*time.Hour)))
	f := facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "acme"})
	sameSet(t, "relationships of subject 1 with acme", f.Relationships, []filter.Relationship{
		rel(1, "acme", filter.RelationshipPurchase, base),
		rel(1, "acme", filter.RelationshipInquiry, base.Add(time.Hour)),
	}, normRelationship)
}

func testRelationshipInvalid(t *testing.T, st filter.Store) {
	ctx := t.Context()
	ok := filter.Relationship{Subject: subject(1), Seller: "acme", Kind: filter.RelationshipPurchase, At: base}
	for _, tc := range []struct {
		name string
		edit func(*filter.Relationship)
	}{
		{"zero subject", func(r *filter.Relationship) { r.Subject = filter.Subject{} }},
		{"no seller", func(r *filter.Relationship) { r.Seller = "" }},
		{"no kind", func(r *filter.Relationship) { r.Kind = "" }},
		{"no time", func(r *filter.Relationship) { r.At = time.Time{} }},
		{"whole number as last4", func(r *filter.Relationship) { r.Last4 = "12125550134" }},
	} {
		r := ok
		tc.edit(&r)
		wantKind(t, st.PutRelationship(ctx, r), filter.EInvalid, "PutRelationship with "+tc.name)
	}
	if f := facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "acme"}); len(f.Relationships) != 0 {
		t.Fatalf("rejected relationships were stored: %+v", f.Relationships)
	}
}

// rq is a ReserveQuery of subject 1 with acme for insurance calls.
func rq(at time.Time, caps ...filter.Cap) filter.ReserveQuery {
	return filter.ReserveQuery{Subject: subject(1), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, At: at, Caps: caps}
}

func reserve(t *testing.T, st filter.Store, q filter.ReserveQuery) bool {
	t.Helper()
	ok, err := st.Reserve(t.Context(), q)
	must(t, err, "Reserve")
	return ok
}

// attempts returns the sorted attempts of rq's key since since.
func attempts(t *testing.T, st filter.Store, since time.Time) []time.Time {
	t.Helper()
	f := facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, AttemptsSince: since})
	out := make([]time.Time, len(f.Attempts))
	for i, a := range f.Attempts {
		out[i] = normTime(a)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

func testAttemptsSince(t *testing.T, st filter.Store) {
	for _, d := range []time.Duration{-2 * time.Hour, -time.Hour, 0, 0} {
		if !reserve(t, st, rq(base.Add(d))) {
			t.Fatal("Reserve without caps: denied")
		}
	}
	want := []time.Time{base.Add(-time.Hour), base, base}
	if got := attempts(t, st, base.Add(-time.Hour)); !slices.Equal(got, want) {
		t.Fatalf("attempts since -1h: got %v, want %v (at or after, two at one instant)", got, want)
	}
	if got := attempts(t, st, time.Time{}); len(got) != 0 {
		t.Fatalf("attempts since the zero time: got %v, want none", got)
	}
	if got := attempts(t, st, base.Add(time.Nanosecond)); len(got) != 0 {
		t.Fatalf("attempts since after the last: got %v, want none", got)
	}
}

func testReserveCap(t *testing.T, st filter.Store) {
	day := filter.Cap{Max: 3, Window: 24 * time.Hour}
	for i := range 3 {
		if !reserve(t, st, rq(base.Add(time.Duration(i)*time.Minute), day)) {
			t.Fatalf("attempt %d of 3 under a cap of 3: denied", i+1)
		}
	}
	if reserve(t, st, rq(base.Add(3*time.Minute), day)) {
		t.Fatal("4th attempt under a cap of 3 per day: granted")
	}
	if got := attempts(t, st, base.Add(-24*time.Hour)); len(got) != 3 {
		t.Fatalf("after a denied reservation: got %d attempts, want 3 (denials are not recorded)", len(got))
	}
}

func testReserveBoundary(t *testing.T, st filter.Store) {
	hour := filter.Cap{Max: 1, Window: time.Hour}
	if !reserve(t, st, rq(base, hour)) {
		t.Fatal("first attempt: denied")
	}
	if reserve(t, st, rq(base.Add(time.Hour-time.Millisecond), hour)) {
		t.Fatal("an attempt 1ms inside the window: granted")
	}
	if !reserve(t, st, rq(base.Add(time.Hour), hour)) {
		t.Fatal("an attempt exactly one window after the last: denied (the earlier one must not count)")
	}
	if reserve(t, st, rq(base.Add(90*time.Minute), hour)) {
		t.Fatal("an attempt half a window after the last: granted")
	}

	// The same boundary for a cap that is not the longest.
	caps := []filter.Cap{{Max: 1, Window: time.Hour}, {Max: 10, Window: 24 * time.Hour}}
	q := rq(base, caps...)
	q.Purpose = "housing"
	if !reserve(t, st, q) {
		t.Fatal("first attempt under two caps: denied")
	}
	q.At = base.Add(time.Hour)
	if !reserve(t, st, q) {
		t.Fatal("an attempt exactly one window of the shorter cap after the last: denied")
	}
}

func testReserveMultipleCaps(t *testing.T, st filter.Store) {
	caps := []filter.Cap{{Max: 1, Window: time.Hour}, {Max: 2, Window: 24 * time.Hour}}
	for i, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, true},
		{30 * time.Minute, false}, // hourly cap
		{61 * time.Minute, true},
		{3 * time.Hour, false}, // daily cap: two in the last day
		{24 * time.Hour, true}, // the first left the day; the hour is free
		{24*time.Hour + time.Minute, false},
	} {
		if got := reserve(t, st, rq(base.Add(tc.at), caps...)); got != tc.want {
			t.Fatalf("step %d (at +%v): granted %v, want %v", i, tc.at, got, tc.want)
		}
	}
}

func testReserveZeroAndNone(t *testing.T, st filter.Store) {
	if reserve(t, st, rq(base, filter.Cap{Max: 0, Window: time.Hour})) {
		t.Fatal("cap with max 0: granted")
	}
	for i := range 5 {
		if !reserve(t, st, rq(base.Add(time.Duration(i)*time.Second))) {
			t.Fatalf("attempt %d without caps: denied", i)
		}
	}
}

func testReserveIsolated(t *testing.T, st filter.Store) {
	one := filter.Cap{Max: 1, Window: 24 * time.Hour}
	first := rq(base, one)
	if !reserve(t, st, first) {
		t.Fatal("first attempt: denied")
	}
	for _, tc := range []struct {
		name string
		edit func(*filter.ReserveQuery)
	}{
		{"another seller", func(q *filter.ReserveQuery) { q.Seller = "other" }},
		{"a seller whose name extends it", func(q *filter.ReserveQuery) { q.Seller = "acme2" }},
		{"another purpose", func(q *filter.ReserveQuery) { q.Purpose = "housing" }},
		{"another channel", func(q *filter.ReserveQuery) { q.Channel = filter.ChannelSMS }},
		{"another subject", func(q *filter.ReserveQuery) { q.Subject = subject(2) }},
	} {
		q := rq(base.Add(time.Minute), one)
		tc.edit(&q)
		if !reserve(t, st, q) {
			t.Fatalf("attempt for %s: denied by the first attempt's cap", tc.name)
		}
	}
	if reserve(t, st, rq(base.Add(time.Minute), one)) {
		t.Fatal("second attempt for the first key: granted")
	}
	if got := attempts(t, st, base.Add(-time.Hour)); len(got) != 1 {
		t.Fatalf("attempts of the first key: got %d, want 1", len(got))
	}
}

func testReserveConcurrent(t *testing.T, st filter.Store) {
	const racers, limit = 50, 3
	day := filter.Cap{Max: limit, Window: 24 * time.Hour}
	for round := range 3 {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			granted int
			errs    []error
		)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				q := rq(base.Add(time.Duration(i)*time.Millisecond), day)
				q.Subject = subject(100 + round)
				<-start
				ok, err := st.Reserve(t.Context(), q)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if ok {
					granted++
				}
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			must(t, err, "concurrent Reserve")
		}
		if granted != limit {
			t.Fatalf("round %d: %d racers for a cap of %d: %d granted, want exactly %d", round, racers, limit, granted, limit)
		}
		f := facts(t, st, filter.FactsQuery{Subject: subject(100 + round), Seller: "acme", Purpose: "insurance",
			Channel: filter.ChannelCall, AttemptsSince: base.Add(-time.Hour)})
		if len(f.Attempts) != limit {
			t.Fatalf("round %d: %d attempts recorded, want %d", round, len(f.Attempts), limit)
		}
	}
}

func testReserveInvalid(t *testing.T, st filter.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		edit func(*filter.ReserveQuery)
	}{
		{"zero window", func(q *filter.ReserveQuery) { q.Caps = []filter.Cap{{Max: 1}} }},
		{"negative max", func(q *filter.ReserveQuery) { q.Caps = []filter.Cap{{Max: -1, Window: time.Hour}} }},
		{"zero subject", func(q *filter.ReserveQuery) { q.Subject = filter.Subject{} }},
		{"no seller", func(q *filter.ReserveQuery) { q.Seller = "" }},
		{"no purpose", func(q *filter.ReserveQuery) { q.Purpose = "" }},
		{"no channel", func(q *filter.ReserveQuery) { q.Channel = "" }},
		{"no time", func(q *filter.ReserveQuery) { q.At = time.Time{} }},
	} {
		q := rq(base, filter.Cap{Max: 1, Window: time.Hour})
		tc.edit(&q)
		_, err := st.Reserve(ctx, q)
		wantKind(t, err, filter.EInvalid, "Reserve with "+tc.name)
	}
	if got := attempts(t, st, base.Add(-time.Hour)); len(got) != 0 {
		t.Fatalf("rejected reservations were recorded: %v", got)
	}
}

// testPruneAttempts: a prune deletes no attempt after its bound, reports
// what it deleted (a store whose attempts expire by themselves may delete
// none), and refuses a zero bound.
func testPruneAttempts(t *testing.T, st filter.Store) {
	ctx := t.Context()
	cp := filter.Cap{Max: 100, Window: 24 * time.Hour}
	for _, d := range []time.Duration{-3 * time.Hour, -2 * time.Hour, -time.Hour, 0} {
		if !reserve(t, st, rq(base.Add(d), cp)) {
			t.Fatalf("Reserve at %v denied", d)
		}
	}
	other := rq(base.Add(-3*time.Hour), cp)
	other.Subject = subject(2)
	if !reserve(t, st, other) {
		t.Fatal("Reserve of another subject denied")
	}
	before := attempts(t, st, base.Add(-24*time.Hour))
	n, err := st.PruneAttempts(ctx, base.Add(-2*time.Hour))
	must(t, err, "PruneAttempts")
	after := attempts(t, st, base.Add(-24*time.Hour))
	if len(before)-len(after) > n || n > 3 {
		t.Fatalf("PruneAttempts reported %d deleted; the subject's attempts went from %d to %d (2 of them, and 1 of another subject, were due)", n, len(before), len(after))
	}
	for _, d := range []time.Duration{-time.Hour, 0} {
		if !slices.ContainsFunc(after, func(a time.Time) bool { return a.Equal(base.Add(d)) }) {
			t.Fatalf("PruneAttempts deleted the attempt at %v, after its bound: left %v", d, after)
		}
	}
	_, err = st.PruneAttempts(ctx, time.Time{})
	wantKind(t, err, filter.EInvalid, "PruneAttempts with a zero bound")
}

func apiKey(name string, role filter.Role) filter.APIKey {
	return filter.APIKey{Name: name, Role: role, Hash: sha256.Sum256([]byte("secret of " + name)), CreatedAt: base}
}

func testKeys(t *testing.T, st filter.Store) {
	ctx := t.Context()
	keys := []filter.APIKey{apiKey("dialer-2", filter.RoleDialer), apiKey("admin", filter.RoleAdmin), apiKey("officer", filter.RoleOfficer)}
	for _, k := range keys {
		must(t, st.PutKey(ctx, k), "PutKey "+k.Name)
	}
	got, err := st.KeyByHash(ctx, keys[0].Hash)
	must(t, err, "KeyByHash")
	if normKey(got) != normKey(keys[0]) {
		t.Fatalf("KeyByHash: got %+v, want %+v", got, keys[0])
	}
	_, err = st.KeyByHash(ctx, sha256.Sum256([]byte("unknown")))
	wantKind(t, err, filter.ENotFound, "KeyByHash of an unknown secret")

	list, err := st.Keys(ctx)
	must(t, err, "Keys")
	sorted := slices.SortedFunc(slices.Values(keys), func(a, b filter.APIKey) int { return cmp.Compare(a.Name, b.Name) })
	if len(list) != len(sorted) {
		t.Fatalf("Keys: got %d keys, want %d", len(list), len(sorted))
	}
	for i := range list {
		if normKey(list[i]) != normKey(sorted[i]) {
			t.Fatalf("Keys[%d]: got %+v, want %+v (sorted by name)", i, list[i], sorted[i])
		}
	}

	must(t, st.DeleteKey(ctx, "admin"), "DeleteKey")
	wantKind(t, st.DeleteKey(ctx, "admin"), filter.ENotFound, "DeleteKey of a deleted key")
	_, err = st.KeyByHash(ctx, keys[1].Hash)
	wantKind(t, err, filter.ENotFound, "KeyByHash of a deleted key")
	if list, _ = st.Keys(ctx); len(list) != 2 {
		t.Fatalf("Keys after a delete: got %d, want 2", len(list))
	}
	// The name and the secret are free again.
	must(t, st.PutKey(ctx, keys[1]), "PutKey of a deleted key's name and secret")
}

func testKeysConflict(t *testing.T, st filter.Store) {
	ctx := t.Context()
	k := apiKey("ops", filter.RoleOfficer)
	must(t, st.PutKey(ctx, k), "PutKey")
	again := apiKey("ops", filter.RoleAdmin)
	wantKind(t, st.PutKey(ctx, again), filter.EConflict, "PutKey of a name in use")
	same := k
	same.Name = "ops-copy"
	wantKind(t, st.PutKey(ctx, same), filter.EConflict, "PutKey of a secret in use")
	got, err := st.KeyByHash(ctx, k.Hash)
	must(t, err, "KeyByHash")
	if got.Role != filter.RoleOfficer || got.Name != "ops" {
		t.Fatalf("after conflicts: got %+v, want the first key unchanged", got)
	}
	wantKind(t, st.DeleteKey(ctx, "nobody"), filter.ENotFound, "DeleteKey of an unknown name")
}

func testKeysInvalid(t *testing.T, st filter.Store) {
	ctx := t.Context()
	wantKind(t, st.PutKey(ctx, apiKey("", filter.RoleDialer)), filter.EInvalid, "PutKey with no name")
	wantKind(t, st.PutKey(ctx, apiKey("x", "root")), filter.EInvalid, "PutKey with an unknown role")
	k := apiKey("x", filter.RoleDialer)
	k.Hash = [32]byte{}
	wantKind(t, st.PutKey(ctx, k), filter.EInvalid, "PutKey with no hash")
	if list, _ := st.Keys(ctx); len(list) != 0 {
		t.Fatalf("rejected keys were stored: %+v", list)
	}
}

// calls are one call of each method, for the cancellation and closed tests.
func calls(st filter.Store) map[string]func(ctx context.Context) error {
	m := map[string]func(ctx context.Context) error{
		"AddToList": func(ctx context.Context) error {
			_, err := st.AddToList(ctx, "l", []uint64{42})
			return err
		},
		"RemoveFromList": func(ctx context.Context) error {
			_, err := st.RemoveFromList(ctx, "l", []uint64{1})
			return err
		},
		"ScanList": func(ctx context.Context) error {
			return st.ScanList(ctx, "l", func(uint64) error { return nil })
		},
		"Lists": func(ctx context.Context) error {
			_, err := st.Lists(ctx)
			return err
		},
		"SetListSource": func(ctx context.Context) error {
			return st.SetListSource(ctx, "l", base)
		},
		"ReplaceList": func(ctx context.Context) error {
			_, err := st.ReplaceList(ctx, "l", "l~x")
			return err
		},
		"DeleteList": func(ctx context.Context) error {
			return st.DeleteList(ctx, "l")
		},
		"Facts": func(ctx context.Context) error {
			_, err := st.Facts(ctx, filter.FactsQuery{Key: 1, Lists: []string{"l"}, Subject: subject(1), Seller: "acme"})
			return err
		},
		"Reserve": func(ctx context.Context) error {
			_, err := st.Reserve(ctx, rq(base))
			return err
		},
		"PutConsent": func(ctx context.Context) error {
			return st.PutConsent(ctx, consent(1, "acme", "insurance", filter.ChannelSMS, base))
		},
		"Revoke": func(ctx context.Context) error {
			_, err := st.Revoke(ctx, filter.Revocation{Subject: subject(1), At: base})
			return err
		},
		"PutRelationship": func(ctx context.Context) error {
			return st.PutRelationship(ctx, filter.Relationship{Subject: subject(1), Seller: "acme", Kind: filter.RelationshipPurchase, At: base})
		},
		"PutKey": func(ctx context.Context) error {
			return st.PutKey(ctx, apiKey("k", filter.RoleDialer))
		},
		"KeyByHash": func(ctx context.Context) error {
			_, err := st.KeyByHash(ctx, apiKey("k", filter.RoleDialer).Hash)
			return err
		},
		"Keys": func(ctx context.Context) error {
			_, err := st.Keys(ctx)
			return err
		},
		"DeleteKey": func(ctx context.Context) error {
			return st.DeleteKey(ctx, "k")
		},
		"PruneAttempts": func(ctx context.Context) error {
			_, err := st.PruneAttempts(ctx, base)
			return err
		},
	}
	if x, ok := st.(filter.ExpiringListStore); ok {
		m["AddToListUntil"] = func(ctx context.Context) error {
			_, err := x.AddToListUntil(ctx, "l", []uint64{43}, base)
			return err
		}
		m["SweepList"] = func(ctx context.Context) error {
			_, err := x.SweepList(ctx, "l", base)
			return err
		}
	}
	if x, ok := st.(filter.OutcomeStore); ok {
		m["RecordOutcome"] = func(ctx context.Context) error {
			return x.RecordOutcome(ctx, filter.CallOutcome{Subject: subject(1), Seller: "acme", Purpose: "insurance",
				Channel: filter.ChannelCall, Kind: filter.OutcomeRefused, At: base})
		}
	}
	if r, ok := st.(filter.ReassignedStore); ok {
		m["PutDisconnects"] = func(ctx context.Context) error {
			return r.PutDisconnects(ctx, []filter.Disconnect{{Subject: subject(1), At: base}})
		}
	}
	return m
}

func testCancelled(t *testing.T, st filter.Store) {
	mustAdd(t, st, "l", 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, call := range calls(st) {
		err := call(ctx)
		wantKind(t, err, filter.EUnavailable, name+" with a cancelled context")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v does not wrap context.Canceled", name, err)
		}
	}
	// Nothing changed.
	if got := scan(t, st, "l"); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("list after cancelled calls: got %v, want [1]", got)
	}
	f := facts(t, st, filter.FactsQuery{Subject: subject(1), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall,
		AttemptsSince: base.Add(-time.Hour), OutcomesSince: base.Add(-time.Hour)})
	if n := len(f.Consents) + len(f.Revocations) + len(f.Relationships) + len(f.Attempts) + len(f.Outcomes); n != 0 || !f.DisconnectedAt.IsZero() {
		t.Fatalf("cancelled writes were recorded: %+v", f)
	}
	if list, _ := st.Keys(t.Context()); len(list) != 0 {
		t.Fatalf("a cancelled PutKey was recorded: %+v", list)
	}
}

func testClosed(t *testing.T, st filter.Store) {
	mustAdd(t, st, "l", 1)
	must(t, st.Close(), "Close")
	for name, call := range calls(st) {
		wantKind(t, call(t.Context()), filter.EUnavailable, name+" on a closed store")
	}
}

// testDurability writes one of everything, reopens the store and reads it back.
func (s Suite) testDurability(t *testing.T) {
	ctx := t.Context()
	st := s.Open(t)
	mustAdd(t, st, "federal", 12125550134, 12125550135, 12125550136)
	n, err := st.RemoveFromList(ctx, "federal", []uint64{12125550135})
	must(t, err, "RemoveFromList")
	if n != 1 {
		t.Fatalf("RemoveFromList: removed %d, want 1", n)
	}
	mustAdd(t, st, "empty")
	must(t, st.SetListSource(ctx, "federal", base.Add(-24*time.Hour)), "SetListSource")
	mustAdd(t, st, "replaced", 1, 2)
	mustAdd(t, st, "replaced~new", 3)
	if _, err := st.ReplaceList(ctx, "replaced", "replaced~new"); err != nil {
		t.Fatalf("ReplaceList: %v", err)
	}
	c := consent(1, "acme", "insurance", filter.ChannelCall, base)
	putConsents(t, st, c)
	r := filter.Revocation{Subject: subject(1), Last4: "0134", Seller: "other", At: base, Source: "sms STOP"}
	revoke(t, st, r)
	rel := filter.Relationship{Subject: subject(1), Last4: "0134", Seller: "acme", Kind: filter.RelationshipPurchase, At: base,
		PolicyExpiresAt: base.Add(365 * 24 * time.Hour)}
	must(t, st.PutRelationship(ctx, rel), "PutRelationship")
	until := base.Add(180 * 24 * time.Hour)
	if _, err := expiring(t, st).AddToListUntil(ctx, "federal", []uint64{12125550137}, until); err != nil {
		t.Fatalf("AddToListUntil: %v", err)
	}
	must(t, reassigned(t, st).PutDisconnects(ctx, []filter.Disconnect{{Subject: subject(1), At: base.Add(-time.Hour)}}), "PutDisconnects")
	oc := filter.CallOutcome{Subject: subject(1), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, Kind: filter.OutcomeRefused, At: base}
	must(t, outcomes(t, st).RecordOutcome(ctx, oc), "RecordOutcome")
	day := filter.Cap{Max: 2, Window: 24 * time.Hour}
	if !reserve(t, st, rq(base, day)) {
		t.Fatal("Reserve: denied")
	}
	k := apiKey("admin", filter.RoleAdmin)
	must(t, st.PutKey(ctx, k), "PutKey")
	infosBefore, err := st.Lists(ctx)
	must(t, err, "Lists")

	st = s.Reopen(t, st)

	if got, want := scan(t, st, "federal"), []uint64{12125550134, 12125550136, 12125550137}; !slices.Equal(got, want) {
		t.Fatalf("list after reopen: got %v, want %v", got, want)
	}
	if got := scan(t, st, "replaced"); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("replaced list after reopen: got %v, want [3]", got)
	}
	infos, err := st.Lists(ctx)
	must(t, err, "Lists")
	if len(infos) != len(infosBefore) {
		t.Fatalf("Lists after reopen: got %+v, want %+v", infos, infosBefore)
	}
	for i := range infos {
		if infos[i].Name != infosBefore[i].Name || infos[i].Count != infosBefore[i].Count || !infos[i].UpdatedAt.Equal(infosBefore[i].UpdatedAt) ||
			!infos[i].SourceDate.Equal(infosBefore[i].SourceDate) {
			t.Fatalf("Lists after reopen: got %+v, want %+v", infos[i], infosBefore[i])
		}
	}
	f := facts(t, st, filter.FactsQuery{
		Key: 12125550134, Lists: []string{"federal"}, Subject: subject(1), Seller: "acme",
		Purpose: "insurance", Channel: filter.ChannelCall, AttemptsSince: base.Add(-time.Hour), OutcomesSince: base.Add(-time.Hour),
	})
	sameSet(t, "outcomes after reopen", f.Outcomes, []filter.CallOutcome{oc}, normOutcome)
	if f.ListState("federal") != filter.ListPresent {
		t.Fatal("list membership lost on reopen")
	}
	if !f.DisconnectedAt.Equal(base.Add(-time.Hour)) {
		t.Fatalf("disconnect after reopen: got %v, want %v", f.DisconnectedAt, base.Add(-time.Hour))
	}
	if g := facts(t, st, filter.FactsQuery{Key: 12125550137, Lists: []string{"federal"}}); g.Lists[0].State != filter.ListPresent || !g.Lists[0].ExpiresAt.Equal(until) {
		t.Fatalf("expiring entry after reopen: got %+v, want present until %v", g.Lists[0], until)
	}
	sameSet(t, "consents after reopen", f.Consents, []filter.Consent{c}, normConsent)
	sameSet(t, "revocations after reopen", f.Revocations, []filter.Revocation{r}, normRevocation)
	sameSet(t, "relationships after reopen", f.Relationships, []filter.Relationship{rel}, normRelationship)
	if len(f.Attempts) != 1 || !f.Attempts[0].Equal(base) {
		t.Fatalf("attempts after reopen: got %v, want [%v]", f.Attempts, base)
	}
	// The cap still counts the attempt made before the restart.
	if !reserve(t, st, rq(base.Add(time.Minute), day)) {
		t.Fatal("second attempt after reopen: denied")
	}
	if reserve(t, st, rq(base.Add(2*time.Minute), day)) {
		t.Fatal("third attempt under a cap of 2 after reopen: granted (the attempt before the restart was lost)")
	}
	got, err := st.KeyByHash(ctx, k.Hash)
	must(t, err, "KeyByHash after reopen")
	if normKey(got) != normKey(k) {
		t.Fatalf("key after reopen: got %+v, want %+v", got, k)
	}
}
