package metrics_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/metrics"
	"callfilter/store"
	"callfilter/store/embedded"
)

// openStore opens a real embedded store behind a failure-injecting wrapper.
func openStore(t *testing.T) *store.Faulty {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"), embedded.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	f := store.NewFaulty(st)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func TestInstrumentStore(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	faulty := openStore(t)
	st := metrics.InstrumentStore(faulty, reg)
	if _, err := st.AddToList(ctx, "national", []uint64{12125550134}); err != nil {
		t.Fatal(err)
	}
	f, err := st.Facts(ctx, filter.FactsQuery{Key: 12125550134, Lists: []string{"national", "state"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Lists) != 2 {
		t.Fatalf("facts lists %v", f.Lists)
	}
	if _, err := st.KeyByHash(ctx, [32]byte{1}); filter.ErrorKind(err) != filter.ENotFound {
		t.Fatalf("KeyByHash: %v, want not found", err)
	}
	faulty.FailOn(store.MethodFacts, nil)
	if _, err := st.Facts(ctx, filter.FactsQuery{Key: 1}); err == nil {
		t.Fatal("Facts: no injected error")
	}

	for _, c := range []struct {
		c    prometheus.Collector
		want float64
		what string
	}{
		{counter(t, reg, "callfilter_store_calls_total", "method", "Facts"), 2, "Facts calls"},
		{counter(t, reg, "callfilter_store_calls_total", "method", "AddToList"), 1, "AddToList calls"},
		{counter(t, reg, "callfilter_store_calls_total", "method", "KeyByHash"), 1, "KeyByHash calls"},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.what, got, c.want)
		}
	}
	wantText(t, reg, `callfilter_store_errors_total{kind="unavailable",method="Facts"} 1`)
	wantText(t, reg, `callfilter_bloom_exact_lookups_total{list="national",result="present"} 1`)
	wantText(t, reg, `callfilter_bloom_exact_lookups_total{list="state",result="absent"} 1`)
	// A not-found answer is not a store failure.
	if n, _ := testutil.GatherAndCount(reg, "callfilter_store_errors_total"); n != 1 {
		t.Errorf("%d error series, want 1 (Facts only)", n)
	}
}

// The writes of expiring entries, disconnects and outcomes reach the wrapped
// store (its Facts read them back) and are counted, failures included.
func TestInstrumentStoreLifecycle(t *testing.T) {
	ctx := t.Context()
	reg := prometheus.NewRegistry()
	faulty := openStore(t)
	st := metrics.InstrumentStore(faulty, reg)
	now := time.Now().UTC().Truncate(time.Second)
	subj := filter.Subject{7}
	until := now.Add(24 * time.Hour)
	if _, err := st.AddToListUntil(ctx, "internal", []uint64{12125550134}, until); err != nil {
		t.Fatalf("AddToListUntil: %v", err)
	}
	if err := st.PutDisconnects(ctx, []filter.Disconnect{{Subject: subj, At: now.Add(-time.Hour)}}); err != nil {
		t.Fatalf("PutDisconnects: %v", err)
	}
	o := filter.CallOutcome{Subject: subj, Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, Kind: filter.OutcomeNoAnswer, At: now.Add(-time.Minute)}
	if err := st.RecordOutcome(ctx, o); err != nil {
		t.Fatalf("RecordOutcome: %v", err)
	}
	f, err := st.Facts(ctx, filter.FactsQuery{Key: 12125550134, Lists: []string{"internal"}, Subject: subj, Seller: "acme", OutcomesSince: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Lists) != 1 || !f.Lists[0].ExpiresAt.Equal(until) {
		t.Errorf("lists %+v, want internal expiring at %v", f.Lists, until)
	}
	if got, want := f.DisconnectedAt, now.Add(-time.Hour); !got.Equal(want) {
		t.Errorf("DisconnectedAt = %v, want %v", got, want)
	}
	if len(f.Outcomes) != 1 || f.Outcomes[0].Kind != filter.OutcomeNoAnswer {
		t.Errorf("outcomes %+v, want the one no_answer", f.Outcomes)
	}
	faulty.FailOn(store.MethodRecordOutcome, nil)
	if err := st.RecordOutcome(ctx, o); err == nil {
		t.Fatal("RecordOutcome: no injected error")
	}
	for _, c := range []struct {
		method string
		want   float64
	}{
		{"AddToListUntil", 1}, {"PutDisconnects", 1}, {"RecordOutcome", 2},
	} {
		if got := testutil.ToFloat64(counter(t, reg, "callfilter_store_calls_total", "method", c.method)); got != c.want {
			t.Errorf("%s calls = %v, want %v", c.method, got, c.want)
		}
	}
	wantText(t, reg, `callfilter_store_errors_total{kind="unavailable",method="RecordOutcome"} 1`)

	// A sweep past the expiry removes the entry and counts it by list.
	if n, err := st.SweepList(ctx, "internal", until); err != nil || n != 1 {
		t.Fatalf("SweepList = %d, %v; want 1, nil", n, err)
	}
	if n, err := st.SweepList(ctx, "internal", until); err != nil || n != 0 {
		t.Fatalf("second SweepList = %d, %v; want 0, nil", n, err)
	}
	wantText(t, reg, `callfilter_list_entries_swept_total{list="internal"} 1`)
	wantText(t, reg, `callfilter_store_calls_total{method="SweepList"} 2`)
}

// counter returns a collector of the one series name{label=value}, by
// re-gathering: the store's vectors are unexported.
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
					g.Set(m.GetCounter().GetValue())
					return g
				}
			}
		}
	}
	t.Fatalf("no series %s{%s=%q}", name, label, value)
	return nil
}

// wantText fails unless the exposition of reg holds line.
func wantText(t *testing.T, reg *prometheus.Registry, line string) {
	t.Helper()
	text := exposition(t, reg)
	if !strings.Contains(text, line+"\n") {
		t.Errorf("no line %s in:\n%s", line, text)
	}
}

func exposition(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			b.WriteString(mf.GetName())
			if len(labels) > 0 {
				b.WriteString("{" + strings.Join(labels, ",") + "}")
			}
			b.WriteString(" " + strconv.FormatFloat(v, 'g', -1, 64) + "\n")
		}
	}
	return b.String()
}

func TestListsCollectors(t *testing.T) {
	ctx := context.Background()
	faulty := openStore(t)
	if _, err := faulty.AddToList(ctx, "national", []uint64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	lists := dnc.New(faulty, dnc.Options{})
	t.Cleanup(lists.Close)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewListsCollector(lists.Status), metrics.NewStoreListsCollector(faulty.Lists))

	wantText(t, reg, `callfilter_list_store_scrape_ok 1`)
	wantText(t, reg, `callfilter_list_stored_keys{list="national"} 3`)
	if err := lists.Load(ctx, []string{"national", "state"}); err != nil {
		t.Fatal(err)
	}
	if _, err := lists.Add(ctx, "national", []uint64{4}); err != nil {
		t.Fatal(err)
	}
	wantText(t, reg, `callfilter_list_loaded{list="national"} 1`)
	wantText(t, reg, `callfilter_list_loaded{list="state"} 1`)
	wantText(t, reg, `callfilter_list_keys{list="national"} 4`)
	wantText(t, reg, `callfilter_list_recent_keys{list="national"} 1`)
	if n, _ := testutil.GatherAndCount(reg, "callfilter_list_filter_age_seconds"); n != 2 {
		t.Errorf("%d filter age series, want 2", n)
	}
	if n, _ := testutil.GatherAndCount(reg, "callfilter_list_updated_timestamp_seconds"); n != 1 {
		t.Errorf("%d updated series, want 1 (national; state was never written)", n)
	}
	faulty.FailOn(store.MethodLists, nil)
	wantText(t, reg, `callfilter_list_store_scrape_ok 0`)
}
