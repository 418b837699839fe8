package listfeed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/store/embedded"
)

// failing wraps a Store and fails the Nth write (AddToList or RemoveFromList)
// to one list, counting the keys written to each list.
type failing struct {
	Store
	mu     sync.Mutex
	list   string // the list whose writes count towards failAt
	failAt int    // fail the failAt-th write to list; 0 never
	// failReplace fails every ReplaceList.
	failReplace bool
	writes      int
	keysAdded   map[string]int
}

var errInjected = errors.New("injected failure")

func (f *failing) write(list string, added int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keysAdded == nil {
		f.keysAdded = map[string]int{}
	}
	if list == f.list {
		f.writes++
		if f.writes == f.failAt {
			return errInjected
		}
	}
	f.keysAdded[list] += added
	return nil
}

func (f *failing) AddToList(ctx context.Context, list string, keys []uint64) (int, error) {
	if err := f.write(list, len(keys)); err != nil {
		return 0, err
	}
	return f.Store.AddToList(ctx, list, keys)
}

func (f *failing) RemoveFromList(ctx context.Context, list string, keys []uint64) (int, error) {
	if err := f.write(list, 0); err != nil {
		return 0, err
	}
	return f.Store.RemoveFromList(ctx, list, keys)
}

func (f *failing) ReplaceList(ctx context.Context, list, from string) (filter.ListInfo, error) {
	if f.failReplace {
		return filter.ListInfo{}, errInjected
	}
	return f.Store.ReplaceList(ctx, list, from)
}

func mustListKeys(tb testing.TB, st Store, list string) []uint64 {
	tb.Helper()
	var out []uint64
	if err := st.ScanList(context.Background(), list, func(k uint64) error {
		out = append(out, k)
		return nil
	}); err != nil {
		tb.Fatalf("ScanList(%s): %v", list, err)
	}
	return out
}

func mustAdd(tb testing.TB, st Store, list string, keys ...uint64) {
	tb.Helper()
	if _, err := st.AddToList(context.Background(), list, keys); err != nil {
		tb.Fatalf("AddToList(%s): %v", list, err)
	}
}

func mustImportFixture(tb testing.TB, st Store, list, format, file string, cfg Config, opts Options) Result {
	tb.Helper()
	cfg.Name = file
	r, err := New(format, mustOpenFixture(tb, file), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := Import(context.Background(), st, list, r, opts)
	if err != nil {
		tb.Fatalf("Import(%s): %v", file, err)
	}
	return res
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func sorted(keys ...uint64) []uint64 {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return slices.Compact(keys)
}

var dnc201 = []uint64{12015550100, 12015550101, 12015550102, 12015550103, 12015550104, 12015550106, 12015550108}

func TestImportDNCFullIntoEmptyList(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	res := mustImportFixture(t, st, "national", "dnc", "dnc_201_20261130.txt", Config{}, Options{})
	want := Result{
		List: "national", Format: "dnc", Kind: KindFull, Lines: 12, Numbers: 7, Bad: 3, Added: 7,
		AreaCodes: []int{201}, SourceDate: day(2026, 11, 30),
	}
	res.Elapsed = 0
	if fmt.Sprint(res) != fmt.Sprint(want) {
		t.Errorf("result:\n got %+v\nwant %+v", res, want)
	}
	if got := mustListKeys(t, st, "national"); !slices.Equal(got, dnc201) {
		t.Errorf("list = %v, want %v", got, dnc201)
	}
	if got := mustListKeys(t, st, "national"+StagingSuffix); len(got) != 0 {
		t.Errorf("staging list left with %d keys", len(got))
	}
}

// TestImportFullReplacesItsAreaCodes: a full file per area code replaces the
// numbers of its area code and leaves the others alone.
func TestImportFullReplacesItsAreaCodes(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	mustAdd(t, st, "national", 12015550100, 12015559999, 12025550100, 442079460958)
	res := mustImportFixture(t, st, "national", "dnc", "dnc_201_20261130.txt", Config{}, Options{})
	if res.Added != 6 || res.Removed != 1 {
		t.Errorf("added %d, removed %d; want 6, 1", res.Added, res.Removed)
	}
	want := sorted(append(slices.Clone(dnc201), 12025550100, 442079460958)...)
	if got := mustListKeys(t, st, "national"); !slices.Equal(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}
}

// TestImportFullReplacesTheList: a file not scoped by area code (TPS)
// replaces the whole list.
func TestImportFullReplacesTheList(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	mustAdd(t, st, "tps", 442073787244, 441234567890, 12015550100)
	res := mustImportFixture(t, st, "tps", "tps", "tps_20261130.txt", Config{}, Options{})
	want := sorted(442073787244, 441635506160, 441915657153, 447860338653, 442073787245, 44138712345, 442079460958)
	if got := mustListKeys(t, st, "tps"); !slices.Equal(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}
	if res.Added != 6 || res.Removed != 2 || res.Bad != 2 || res.AreaCodes != nil {
		t.Errorf("result %+v: want 6 added, 2 removed, 2 bad, no area codes", res)
	}
}

func TestImportDNCChanges(t *testing.T) {
	// Chunk 1 applies each line on its own; the default applies the file in
	// one chunk, where a number's last line wins. Both end the same.
	for _, tc := range []struct {
		chunk                int
		wantAdded, wantRemov int64
	}{
		{0, 2, 2},
		{1, 3, 3},
	} {
		t.Run(fmt.Sprint("chunk ", tc.chunk), func(t *testing.T) {
			st := embedded.MustOpenTemp(t)
			mustAdd(t, st, "national", 12015550100, 12025550300, 12015550999)
			res := mustImportFixture(t, st, "national", "dnc-change", "dnc_change_20261201.txt", Config{}, Options{Chunk: tc.chunk})
			want := sorted(12015550201, 12015550204, 12015550999)
			if got := mustListKeys(t, st, "national"); !slices.Equal(got, want) {
				t.Errorf("list = %v, want %v", got, want)
			}
			if res.Added != tc.wantAdded || res.Removed != tc.wantRemov || res.Bad != 3 || res.Numbers != 6 {
				t.Errorf("result %+v: want %d added, %d removed, 3 bad, 6 numbers", res, tc.wantAdded, tc.wantRemov)
			}
			if !res.SourceDate.Equal(day(2026, 12, 1)) {
				t.Errorf("source date %v", res.SourceDate)
			}
			if got := mustListKeys(t, st, "national"+StagingSuffix); len(got) != 0 {
				t.Errorf("a change import used the staging list: %v", got)
			}
		})
	}
}

func TestImportDNCAdditionsAndDeletionsFiles(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	mustAdd(t, st, "national", 12015550101, 12015550102, 12015550103)
	a := mustImportFixture(t, st, "national", "dnc-change", "dnc_additions.txt", Config{Op: OpAdd}, Options{})
	d := mustImportFixture(t, st, "national", "dnc-change", "dnc_deletions.txt", Config{Op: OpRemove}, Options{})
	if a.Added != 2 || d.Removed != 2 {
		t.Errorf("added %d, removed %d; want 2, 2", a.Added, d.Removed)
	}
	if got, want := mustListKeys(t, st, "national"), sorted(12015550103, 12015550300, 12015550301); !slices.Equal(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}
}

// writeDNC writes a DNC full file of n numbers of area codes 201 and up.
func writeDNC(tb testing.TB, path string, n int) []uint64 {
	tb.Helper()
	var b strings.Builder
	keys := make([]uint64, n)
	for i := range n {
		npa, num := 201+i/1000, 5550000+i%1000
		fmt.Fprintf(&b, "%d,%d\r\n", npa, num)
		keys[i] = uint64(10_000_000_000 + npa*10_000_000 + num)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return keys
}

func importFile(tb testing.TB, st Store, list, format, path string, cfg Config, opts Options) (Result, error) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	id, err := FileID(path)
	if err != nil {
		tb.Fatal(err)
	}
	opts.SourceID = id
	cfg.Name = path
	r, err := New(format, f, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return Import(context.Background(), st, list, r, opts)
}

// TestImportResumesFullAfterLoadFailure: a full import that fails while
// loading leaves the list as it was; the re-run continues after the last
// acknowledged chunk and completes.
func TestImportResumesFullAfterLoadFailure(t *testing.T) {
	dir := t.TempDir()
	path, state := filepath.Join(dir, "dnc_20261130.txt"), filepath.Join(dir, "national.state")
	keys := writeDNC(t, path, 2500)
	st := embedded.MustOpenTemp(t)
	before := []uint64{12016660001, 12995559999}
	mustAdd(t, st, "national", before...)

	// The 1st write creates the staging list, the 2nd to 4th load chunks.
	bad := &failing{Store: st, list: "national" + StagingSuffix, failAt: 5}
	opts := Options{Chunk: 100, StatePath: state}
	if _, err := importFile(t, bad, "national", "dnc", path, Config{}, opts); !errors.Is(err, errInjected) {
		t.Fatalf("first run: error %v, want the injected one", err)
	}
	if got := mustListKeys(t, st, "national"); !slices.Equal(got, before) {
		t.Fatalf("after the failed load the list is %d keys, want it unchanged", len(got))
	}
	cp, ok, err := ReadCheckpoint(state)
	if err != nil || !ok || cp.Phase != PhaseLoad || cp.Pos.Line != 300 || cp.Numbers != 300 {
		t.Fatalf("checkpoint %+v, %v, %v: want phase load at line 300", cp, ok, err)
	}

	counted := &failing{Store: st}
	res, err := importFile(t, counted, "national", "dnc", path, Config{}, opts)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if !res.Resumed || res.Numbers != 2500 || res.Lines != 2500 {
		t.Errorf("second run: %+v; want resumed with 2500 numbers", res)
	}
	// 2200 from the file, and 12995559999 (another area code: kept).
	if got := counted.keysAdded["national"+StagingSuffix]; got != 2201 {
		t.Errorf("second run wrote %d keys to staging, want 2201 (continuing after line 300, and the kept key)", got)
	}
	// 12016660001 is in area code 201 (replaced), 12995559999 in 299 (not in the file).
	want := sorted(append(slices.Clone(keys), 12995559999)...)
	if got := mustListKeys(t, st, "national"); !slices.Equal(got, want) {
		t.Errorf("list has %d keys, want %d", len(got), len(want))
	}
	if res.Added != 2500 || res.Removed != 1 {
		t.Errorf("added %d, removed %d; want 2500, 1", res.Added, res.Removed)
	}
	if cp, _, _ := ReadCheckpoint(state); cp.Phase != PhaseDone || !cp.SourceDate.Equal(day(2026, 11, 30)) {
		t.Errorf("final state %+v: want phase done with the source date", cp)
	}
}

// TestImportFullFailureAtAnyPointLeavesListUnchanged: a full import that
// fails at any point (a write to the staging list while loading or copying
// the kept numbers, setting its source date, the replace) leaves the list as
// it was; the re-run completes it.
func TestImportFullFailureAtAnyPointLeavesListUnchanged(t *testing.T) {
	// Writes to staging: 1 creates it, 2-26 load the 25 chunks, 27-29 copy
	// the 250 numbers of area code 299 (kept).
	for _, tc := range []struct {
		name        string
		failAt      int
		failSource  bool
		failReplace bool
		wantPhase   Phase
	}{
		{"creating the staging list", 1, false, false, ""}, // before the first checkpoint
		{"loading", 10, false, false, PhaseLoad},
		{"the last load chunk", 26, false, false, PhaseLoad},
		{"copying the kept numbers", 28, false, false, PhaseAdd},
		{"setting the source date", 0, true, false, PhaseCleanup},
		{"replacing", 0, false, true, PhaseCleanup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, state := filepath.Join(dir, "dnc_20261130.txt"), filepath.Join(dir, "national.state")
			keys := writeDNC(t, path, 2500)
			st := embedded.MustOpenTemp(t)
			var before, kept []uint64
			for i := range 300 { // numbers of area code 201 not in the file: removed
				before = append(before, uint64(12016660000+i))
			}
			for i := range 250 { // numbers of area code 299: kept
				kept = append(kept, uint64(12995550000+i))
			}
			before = sorted(append(before, kept...)...)
			mustAdd(t, st, "national", before...)
			bad := &failing{Store: st, list: "national" + StagingSuffix, failAt: tc.failAt, failReplace: tc.failReplace}
			var dst Store = bad
			if tc.failSource {
				dst = &sourceFailing{Store: bad, fail: true}
			}
			opts := Options{Chunk: 100, StatePath: state}
			_, err := importFile(t, dst, "national", "dnc", path, Config{}, opts)
			if tc.failSource && filter.ErrorKind(err) != filter.EUnavailable || !tc.failSource && !errors.Is(err, errInjected) {
				t.Fatalf("first run: error %v, want the injected one", err)
			}
			if got := mustListKeys(t, st, "national"); !slices.Equal(got, before) {
				t.Fatalf("after the failure the list has %d keys, want the %d it had", len(got), len(before))
			}
			if cp, _, _ := ReadCheckpoint(state); cp.Phase != tc.wantPhase {
				t.Fatalf("checkpoint phase %s, want %s", cp.Phase, tc.wantPhase)
			}
			res, err := importFile(t, st, "national", "dnc", path, Config{}, opts)
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			want := sorted(append(slices.Clone(keys), kept...)...)
			if got := mustListKeys(t, st, "national"); !slices.Equal(got, want) {
				t.Errorf("list has %d keys, want %d (the file's and the kept)", len(got), len(want))
			}
			if res.Added != 2500 || res.Removed != 300 || res.Resumed != (tc.wantPhase != "") {
				t.Errorf("result %+v: want 2500 added, 300 removed, resumed %v", res, tc.wantPhase != "")
			}
			if got := mustListKeys(t, st, "national"+StagingSuffix); len(got) != 0 {
				t.Errorf("staging list left with %d keys", len(got))
			}
			if got := mustSourceDate(t, st, "national"); !got.Equal(day(2026, 11, 30)) {
				t.Errorf("source date %v, want 2026-11-30", got)
			}
		})
	}
}

// TestImportFullWithoutStateDeletesStaging: a failed full import that
// cannot resume (no state file) deletes its staging list.
func TestImportFullWithoutStateDeletesStaging(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	mustAdd(t, st, "national", 12015550100)
	bad := &failing{Store: st, failReplace: true}
	r := NewDNC(strings.NewReader("2015550101\n2015550102\n"), Config{})
	if _, err := Import(context.Background(), bad, "national", r, Options{}); !errors.Is(err, errInjected) {
		t.Fatalf("error %v, want the injected one", err)
	}
	if got := mustListKeys(t, st, "national"); !slices.Equal(got, []uint64{12015550100}) {
		t.Errorf("list = %v, want it unchanged", got)
	}
	infos, err := st.Lists(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.Name == "national"+StagingSuffix {
			t.Errorf("staging list left: %+v", in)
		}
	}
}

// TestImportResumesV1Cleanup: a version 1 checkpoint in its cleanup phase
// (the list merged in place, the staging list being emptied) is finished as
// such: the staging list, partly emptied, does not replace the list.
func TestImportResumesV1Cleanup(t *testing.T) {
	dir := t.TempDir()
	path, state := filepath.Join(dir, "dnc_20261130.txt"), filepath.Join(dir, "national.state")
	keys := writeDNC(t, path, 50)
	st := embedded.MustOpenTemp(t)
	mustAdd(t, st, "national", keys...)
	mustAdd(t, st, "national"+StagingSuffix, keys[:10]...) // partly emptied
	id, err := FileID(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeCheckpoint(state, Checkpoint{Version: 1, List: "national", Format: "dnc", SourceID: id, Kind: KindFull.String(),
		Phase: PhaseCleanup, Lines: 50, Numbers: 50, Added: 50, AreaCodes: []int{201}, SourceDate: day(2026, 11, 30)}); err != nil {
		t.Fatal(err)
	}
	res, err := importFile(t, st, "national", "dnc", path, Config{}, Options{StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustListKeys(t, st, "national"); !slices.Equal(got, keys) || !res.Resumed {
		t.Errorf("list has %d keys (resumed %v), want the file's %d", len(got), res.Resumed, len(keys))
	}
	if got := mustListKeys(t, st, "national"+StagingSuffix); len(got) != 0 {
		t.Errorf("staging list left with %d keys", len(got))
	}
	if cp, _, _ := ReadCheckpoint(state); cp.Phase != PhaseDone || cp.Version != checkpointVersion {
		t.Errorf("final state %+v: want done, version %d", cp, checkpointVersion)
	}
}

func TestImportResumesChanges(t *testing.T) {
	dir := t.TempDir()
	path, state := filepath.Join(dir, "changes.txt"), filepath.Join(dir, "national.state")
	var b strings.Builder
	var want []uint64
	for i := range 1000 {
		k := 2015550000 + i
		if i%3 == 0 {
			fmt.Fprintf(&b, "%d,D\n", k) // deletes what the list held
		} else {
			fmt.Fprintf(&b, "%d,A\n", k)
			want = append(want, uint64(10_000_000_000+k))
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	st := embedded.MustOpenTemp(t)
	for i := 0; i < 1000; i += 3 {
		mustAdd(t, st, "national", uint64(12015550000+i))
	}
	bad := &failing{Store: st, list: "national", failAt: 7}
	opts := Options{Chunk: 100, StatePath: state}
	if _, err := importFile(t, bad, "national", "dnc-change", path, Config{}, opts); !errors.Is(err, errInjected) {
		t.Fatalf("first run: %v, want the injected error", err)
	}
	res, err := importFile(t, st, "national", "dnc-change", path, Config{}, opts)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if got := mustListKeys(t, st, "national"); !slices.Equal(got, want) {
		t.Errorf("list has %d keys, want %d", len(got), len(want))
	}
	if !res.Resumed || res.Numbers != 1000 || res.Added != int64(len(want)) || res.Removed != 334 {
		t.Errorf("result %+v: want resumed, 1000 numbers, %d added, 334 removed", res, len(want))
	}
}

// TestImportFullFailureLeavesListUnchanged: every way a full import can fail
// before applying leaves the list exactly as it was.
func TestImportFullFailureLeavesListUnchanged(t *testing.T) {
	before := []uint64{12015550100, 12015559999, 12025550100}
	for _, tc := range []struct {
		name   string
		in     string
		opts   Options
		failAt int
	}{
		{"store fails while loading", strings.Repeat("2015550123\n", 50), Options{Chunk: 10}, 3},
		{"too many bad lines", strings.Repeat("201,555\n", 20) + "2015550100\n", Options{MaxBadLines: 10}, 0},
		{"no numbers", "\n\n", Options{}, 0},
		{"a change file given as full", "201,5550100,A\n201,5550101,D\n", Options{MaxBadLines: 1}, 0},
		{"not NANP numbers", "+44 20 7946 0958\n", Options{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := embedded.MustOpenTemp(t)
			mustAdd(t, st, "national", before...)
			dst := &failing{Store: st, list: "national" + StagingSuffix, failAt: tc.failAt}
			_, err := Import(context.Background(), dst, "national", NewDNC(strings.NewReader(tc.in), Config{}), tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if got := mustListKeys(t, st, "national"); !slices.Equal(got, before) {
				t.Errorf("list = %v, want it unchanged %v", got, before)
			}
		})
	}
}

func TestImportSourceDateChecks(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "tps.state")
	st := embedded.MustOpenTemp(t)
	res := mustImportFixture(t, st, "tps", "tps", "tps_20261130.txt", Config{}, Options{StatePath: state})
	if !res.SourceDate.Equal(day(2026, 11, 30)) {
		t.Errorf("source date from the name = %v", res.SourceDate)
	}
	cp, ok, err := ReadCheckpoint(state)
	if err != nil || !ok || cp.Phase != PhaseDone || !cp.SourceDate.Equal(day(2026, 11, 30)) || cp.Numbers != 7 {
		t.Errorf("state after the import: %+v, %v, %v", cp, ok, err)
	}
	// An older file is refused, unless allowed.
	r := NewTPS(strings.NewReader("02073787244\n"), Config{SourceDate: day(2026, 11, 1)})
	_, err = Import(context.Background(), st, "tps", r, Options{StatePath: state})
	var fe *filter.Error
	if !errors.As(err, &fe) || fe.Kind != filter.EConflict {
		t.Errorf("older file: error %v, want EConflict", err)
	}
	if got := mustListKeys(t, st, "tps"); len(got) != 7 {
		t.Errorf("the refused import changed the list: %d keys", len(got))
	}
	r = NewTPS(strings.NewReader("02073787244\n"), Config{SourceDate: day(2026, 11, 1)})
	res, err = Import(context.Background(), st, "tps", r, Options{StatePath: state, AllowOlder: true, SourceDate: day(2026, 12, 2)})
	if err != nil || !res.SourceDate.Equal(day(2026, 12, 2)) {
		t.Errorf("Options.SourceDate: %v, %v; want it to win over the reader's", res.SourceDate, err)
	}
}

func TestImportRefusesAnotherImportsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	path, state := filepath.Join(dir, "a.txt"), filepath.Join(dir, "national.state")
	writeDNC(t, path, 300)
	st := embedded.MustOpenTemp(t)
	bad := &failing{Store: st, list: "national" + StagingSuffix, failAt: 2}
	if _, err := importFile(t, bad, "national", "dnc", path, Config{}, Options{Chunk: 100, StatePath: state}); err == nil {
		t.Fatal("first run: no error")
	}
	other := filepath.Join(dir, "b.txt")
	writeDNC(t, other, 200)
	_, err := importFile(t, st, "national", "dnc", other, Config{}, Options{Chunk: 100, StatePath: state})
	var fe *filter.Error
	if !errors.As(err, &fe) || fe.Kind != filter.EConflict {
		t.Errorf("another file with the state of an unfinished import: %v, want EConflict", err)
	}
}

func TestImportProgress(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dnc.txt")
	writeDNC(t, path, 1050)
	st := embedded.MustOpenTemp(t)
	var got []Progress
	res, err := importFile(t, st, "national", "dnc", path, Config{}, Options{Chunk: 100, Progress: func(p Progress) { got = append(got, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 11 {
		t.Fatalf("%d progress reports, want one per chunk at least", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Lines < got[i-1].Lines || got[i].Numbers < got[i-1].Numbers || got[i].Added < got[i-1].Added {
			t.Errorf("progress went back: %+v then %+v", got[i-1], got[i])
		}
	}
	last := got[len(got)-1]
	if last.Phase != PhaseDone || last.Numbers != 1050 || last.Added != res.Added || last.Rate <= 0 {
		t.Errorf("last report %+v: want done, 1050 numbers, added %d, a rate", last, res.Added)
	}
	var bad []int64
	_, err = Import(context.Background(), st, "x", NewDNC(strings.NewReader("2015550100\n12\n201,555\n"), Config{}), Options{BadLine: func(e *LineError) { bad = append(bad, e.Line) }})
	if err != nil || !slices.Equal(bad, []int64{2, 3}) {
		t.Errorf("BadLine got lines %v (%v), want [2 3]", bad, err)
	}
}

func TestMergeLists(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "s.db"), embedded.Options{ScanPage: 3, ListChunk: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var a, b []uint64
	for k := uint64(1); k <= 3000; k++ {
		if k%3 == 0 {
			a = append(a, k)
		}
		if k%5 == 0 {
			b = append(b, k)
		}
	}
	mustAdd(t, st, "a", a...)
	mustAdd(t, st, "b", b...)
	var last uint64
	n := 0
	err = mergeLists(context.Background(), st, "a", "b", func(k uint64, inA, inB bool) error {
		if k <= last {
			t.Fatalf("key %d after %d", k, last)
		}
		last = k
		n++
		if inA != (k%3 == 0) || inB != (k%5 == 0) {
			t.Errorf("key %d: inA %v, inB %v", k, inA, inB)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := 3000/3 + 3000/5 - 3000/15; n != want {
		t.Errorf("%d keys merged, want %d", n, want)
	}
	// fn's error stops the merge and is returned; the scanner goroutine ends.
	stop := errors.New("stop here")
	if err := mergeLists(context.Background(), st, "a", "b", func(uint64, bool, bool) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("error %v, want fn's", err)
	}
}

// TestImportIgnoresAnAbandonedStagingList: keys left in the staging list by
// an import that was given up (no state file) do not reach the list.
func TestImportIgnoresAnAbandonedStagingList(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	mustAdd(t, st, "national"+StagingSuffix, 12015557777, 12015558888)
	mustImportFixture(t, st, "national", "dnc", "dnc_201_20261130.txt", Config{}, Options{})
	if got := mustListKeys(t, st, "national"); !slices.Equal(got, dnc201) {
		t.Errorf("list = %v, want the file's %v", got, dnc201)
	}
}

// TestImportChangesStopsAtTooManyBadLines: the chunk with the bad line too
// many is not applied; those before it are.
func TestImportChangesStopsAtTooManyBadLines(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	in := "2015550100,A\n2015550101,A\n201,55,A\n2015550102,A\n201,55,A\n2015550103,A\n"
	res, err := Import(context.Background(), st, "national", NewDNCChange(strings.NewReader(in), Config{}), Options{Chunk: 2, MaxBadLines: 1})
	var fe *filter.Error
	if !errors.As(err, &fe) || fe.Kind != filter.EInvalid {
		t.Fatalf("error %v, want EInvalid for too many bad lines", err)
	}
	if got, want := mustListKeys(t, st, "national"), sorted(12015550100, 12015550101); !slices.Equal(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}
	if res.Bad != 2 || res.Added != 2 {
		t.Errorf("result %+v: want 2 bad, 2 added", res)
	}
}

func TestImportValidates(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	for name, tc := range map[string]struct {
		list string
		opts Options
	}{
		"negative chunk": {"national", Options{Chunk: -1}},
		"no list":        {"", Options{}},
		"long list name": {strings.Repeat("x", 250), Options{}},
	} {
		_, err := Import(context.Background(), st, tc.list, NewDNC(strings.NewReader("2015550100\n"), Config{}), tc.opts)
		var fe *filter.Error
		if !errors.As(err, &fe) || fe.Kind != filter.EInvalid {
			t.Errorf("%s: error %v, want EInvalid", name, err)
		}
	}
}

// sourceFailing fails SetListSource while fail is set.
type sourceFailing struct {
	Store
	fail bool
}

func (s *sourceFailing) SetListSource(ctx context.Context, list string, d time.Time) error {
	if s.fail {
		return filter.Wrap(filter.EUnavailable, errInjected, "set source")
	}
	return s.Store.SetListSource(ctx, list, d)
}

func mustSourceDate(tb testing.TB, st *embedded.Store, list string) time.Time {
	tb.Helper()
	in, ok := mustListInfo(tb, st, list)
	if !ok {
		tb.Fatalf("no list %s", list)
	}
	return in.SourceDate
}

// mustListInfo returns what the store says of the named list, and whether
// it has the list.
func mustListInfo(tb testing.TB, st *embedded.Store, list string) (filter.ListInfo, bool) {
	tb.Helper()
	infos, err := st.Lists(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	for _, in := range infos {
		if in.Name == list {
			return in, true
		}
	}
	return filter.ListInfo{}, false
}

// TestImportEmptyFileRefusedCleanly: a full file with no numbers is refused
// with the list, the state file and the store as they were (no staging
// list), so that the next import of the list, of another file, runs; with
// no earlier import, no state file is left.
func TestImportEmptyFileRefusedCleanly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := embedded.MustOpenTemp(t)
	state := filepath.Join(dir, "litigator.state")
	file := func(in string) Reader {
		r, err := NewLitigator(strings.NewReader(in), Config{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	empty := func(id string) error {
		_, err := Import(ctx, st, "litigator", file("number\n"), Options{StatePath: state, SourceID: id})
		return err
	}
	if err := empty("empty-1"); filter.ErrorKind(err) != filter.EInvalid || !strings.Contains(err.Error(), "--allow-empty") {
		t.Fatalf("empty file, first import: %v; want EInvalid naming --allow-empty", err)
	}
	if _, err := os.Stat(state); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused first import left a state file (%v)", err)
	}
	if _, err := Import(ctx, st, "litigator", file("number\n+12125550134\n"), Options{StatePath: state, SourceID: "full"}); err != nil {
		t.Fatal(err)
	}
	want, _, err := ReadCheckpoint(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := empty("empty-2"); filter.ErrorKind(err) != filter.EInvalid {
		t.Fatalf("empty file after an import: %v; want EInvalid", err)
	}
	if got, _, err := ReadCheckpoint(state); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("state after the refusal: %+v, %v; want the last import's %+v", got, err, want)
	}
	if _, ok := mustListInfo(t, st, "litigator"+StagingSuffix); ok {
		t.Error("the refused import left its staging list")
	}
	if got := mustListKeys(t, st, "litigator"); !slices.Equal(got, []uint64{12125550134}) {
		t.Errorf("list after the refusal: %v", got)
	}
	// The next import of another file runs.
	if _, err := Import(ctx, st, "litigator", file("number\n+12125550135\n"), Options{StatePath: state, SourceID: "next"}); err != nil {
		t.Fatalf("the import after the refusal: %v", err)
	}
}

// TestImportRecordsSourceDate: a finished import records the file's source
// date as the list's; a change file of removals creates the list to do so;
// a file without a date leaves the list's alone; a failure to record it
// fails the import, and the re-run records it.
func TestImportRecordsSourceDate(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	mustImportFixture(t, st, "tps", "tps", "tps_20261130.txt", Config{}, Options{})
	if got := mustSourceDate(t, st, "tps"); !got.Equal(day(2026, 11, 30)) {
		t.Errorf("tps source date after a full import = %v, want 2026-11-30", got)
	}
	mustImportFixture(t, st, "gone", "dnc-change", "dnc_deletions.txt", Config{Op: OpRemove}, Options{SourceDate: day(2026, 12, 3)})
	if got := mustSourceDate(t, st, "gone"); !got.Equal(day(2026, 12, 3)) {
		t.Errorf("source date after a change file of removals = %v, want 2026-12-03", got)
	}
	mustImportFixture(t, st, "tps", "dnc-change", "dnc_additions.txt", Config{Op: OpAdd}, Options{})
	if got := mustSourceDate(t, st, "tps"); !got.Equal(day(2026, 11, 30)) {
		t.Errorf("a file without a date changed the source date to %v", got)
	}

	state := filepath.Join(t.TempDir(), "tps.state")
	sf := &sourceFailing{Store: st, fail: true}
	r := NewTPS(strings.NewReader("02073787244\n"), Config{SourceDate: day(2026, 12, 5)})
	if _, err := Import(context.Background(), sf, "tps", r, Options{StatePath: state, SourceID: "x"}); filter.ErrorKind(err) != filter.EUnavailable {
		t.Fatalf("import with SetListSource failing: error %v, want EUnavailable", err)
	}
	if cp, _, _ := ReadCheckpoint(state); cp.Phase == PhaseDone {
		t.Fatal("the import was recorded as finished without its source date")
	}
	sf.fail = false
	r = NewTPS(strings.NewReader("02073787244\n"), Config{SourceDate: day(2026, 12, 5)})
	if _, err := Import(context.Background(), sf, "tps", r, Options{StatePath: state, SourceID: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := mustSourceDate(t, st, "tps"); !got.Equal(day(2026, 12, 5)) {
		t.Errorf("source date after the re-run = %v, want 2026-12-05", got)
	}
}
