package listfeed

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/store/embedded"
)

// TestImportDatesByAreaCode: the DNC full files of several area codes go to
// one list in any order of their dates; a file older than its own area
// code's last import is refused; the list's source date is the oldest area
// code's, and the state file keeps each area code's.
func TestImportDatesByAreaCode(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	state := filepath.Join(t.TempDir(), "national.state")
	steps := []struct {
		name     string
		area     string
		date     time.Time
		wantErr  filter.Kind // "": none
		wantList time.Time   // the list's source date after the step
	}{
		{"first area code", "201", day(2026, 11, 30), "", day(2026, 11, 30)},
		{"another area code, dated a day before", "202", day(2026, 11, 29), "", day(2026, 11, 29)},
		{"the first again, older than its last import", "201", day(2026, 11, 28), filter.EConflict, day(2026, 11, 29)},
		{"the first again, newer: the other is still the oldest", "201", day(2026, 12, 1), "", day(2026, 11, 29)},
		{"the other, newer: the list is as new as both", "202", day(2026, 12, 1), "", day(2026, 12, 1)},
	}
	for i, step := range steps {
		in := step.area + ",5550100\n" + step.area + ",5550101\n"
		r := NewDNC(strings.NewReader(in), Config{SourceDate: step.date})
		before := mustListKeys(t, st, "national")
		_, err := Import(context.Background(), st, "national", r, Options{StatePath: state, SourceID: step.name})
		if got := filter.ErrorKind(err); err != nil && got != step.wantErr || err == nil && step.wantErr != "" {
			t.Fatalf("step %d (%s): error %v, want kind %v", i, step.name, err, step.wantErr)
		}
		if err != nil {
			if after := mustListKeys(t, st, "national"); !slices.Equal(before, after) {
				t.Errorf("step %d (%s): the refused import changed the list", i, step.name)
			}
			// A refused file leaves the state file as the last finished
			// import wrote it, and no staging list.
			if cp, ok, err := ReadCheckpoint(state); err != nil || !ok || cp.Phase != PhaseDone || cp.AreaDates[201].IsZero() {
				t.Fatalf("step %d (%s): state after the refusal: %+v, %v, %v; want the last finished import's", i, step.name, cp, ok, err)
			}
			if _, ok := mustListInfo(t, st, "national"+StagingSuffix); ok {
				t.Errorf("step %d (%s): the refused import left its staging list", i, step.name)
			}
			r := NewDNC(strings.NewReader(in), Config{SourceDate: step.date})
			if _, err := Import(context.Background(), st, "national", r, Options{StatePath: state, SourceID: step.name}); filter.ErrorKind(err) != step.wantErr {
				t.Fatalf("step %d (%s), re-run: error %v, want kind %v again", i, step.name, err, step.wantErr)
			}
			r = NewDNC(strings.NewReader(in), Config{SourceDate: step.date})
			if _, err := Import(context.Background(), st, "national", r, Options{StatePath: state, SourceID: step.name, AllowOlder: true}); err != nil {
				t.Fatalf("step %d (%s), allowed: %v", i, step.name, err)
			}
			// Allowed, the area code's date moved back: put it forward again.
			r = NewDNC(strings.NewReader(in), Config{SourceDate: day(2026, 11, 30)})
			if _, err := Import(context.Background(), st, "national", r, Options{StatePath: state, SourceID: step.name + " again"}); err != nil {
				t.Fatalf("step %d (%s), forward again: %v", i, step.name, err)
			}
		}
		if got := mustSourceDate(t, st, "national"); !got.Equal(step.wantList) {
			t.Errorf("step %d (%s): list source date %v, want %v", i, step.name, got.Format(time.DateOnly), step.wantList.Format(time.DateOnly))
		}
	}
	if got := mustListKeys(t, st, "national"); len(got) != 4 {
		t.Errorf("list holds %d numbers, want both area codes' 4", len(got))
	}
	cp, _, err := ReadCheckpoint(state)
	if err != nil || !cp.AreaDates[201].Equal(day(2026, 12, 1)) || !cp.AreaDates[202].Equal(day(2026, 12, 1)) || !cp.SourceDate.Equal(day(2026, 12, 1)) {
		t.Errorf("state: %+v, %v", cp, err)
	}
}

// TestImportUndatedKeepsTheRecordedDate: a file without a date leaves the
// date on record, so an older file is still refused after it.
func TestImportUndatedKeepsTheRecordedDate(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	state := filepath.Join(t.TempDir(), "tps.state")
	mustImportFixture(t, st, "tps", "tps", "tps_20261130.txt", Config{}, Options{StatePath: state})
	r := NewTPS(strings.NewReader("02073787244\n"), Config{})
	if _, err := Import(context.Background(), st, "tps", r, Options{StatePath: state}); err != nil {
		t.Fatal(err)
	}
	if cp, _, _ := ReadCheckpoint(state); !cp.SourceDate.Equal(day(2026, 11, 30)) {
		t.Errorf("after an undated import the state records %v, want 2026-11-30 kept", cp.SourceDate)
	}
	r = NewTPS(strings.NewReader("02073787244\n"), Config{SourceDate: day(2026, 11, 1)})
	if _, err := Import(context.Background(), st, "tps", r, Options{StatePath: state}); filter.ErrorKind(err) != filter.EConflict {
		t.Errorf("an older file after an undated one: error %v, want EConflict", err)
	}
}

func TestImportNoBadLines(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	in := "2015550100\n201555\n2015550101\n"
	_, err := Import(context.Background(), st, "national", NewDNC(strings.NewReader(in), Config{}), Options{NoBadLines: true})
	if filter.ErrorKind(err) != filter.EInvalid {
		t.Errorf("a bad line with NoBadLines: error %v, want EInvalid", err)
	}
	if got := mustListKeys(t, st, "national"); len(got) != 0 {
		t.Errorf("the failed import wrote %v", got)
	}
	if _, err := Import(context.Background(), st, "national", NewDNC(strings.NewReader(in), Config{}), Options{}); err != nil {
		t.Errorf("the default accepts one bad line: %v", err)
	}
	_, err = Import(context.Background(), st, "national", NewDNC(strings.NewReader(in), Config{}), Options{NoBadLines: true, MaxBadLines: 5})
	if filter.ErrorKind(err) != filter.EInvalid {
		t.Errorf("NoBadLines with MaxBadLines: error %v, want EInvalid", err)
	}
}

func TestNewRefusesARegionForFixedCountryFormats(t *testing.T) {
	for _, format := range []string{"dnc", "dnc-change", "tps", "ctps"} {
		_, err := New(format, strings.NewReader(""), Config{Region: "GB"})
		var fe *filter.Error
		if !errors.As(err, &fe) || fe.Kind != filter.EInvalid {
			t.Errorf("%s with a region: error %v, want EInvalid", format, err)
		}
	}
	for _, format := range []string{"state", "litigator", "csv"} {
		if _, err := New(format, strings.NewReader("phone\n2015550100\n"), Config{Region: "US"}); err != nil {
			t.Errorf("%s with a region: %v", format, err)
		}
	}
}
