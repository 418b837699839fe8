package scrub_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"testing"
	"time"

	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/scrub"
	"callfilter/service"
	"callfilter/store/embedded"
)

// wednesday is 10:00 in New York: inside every US calling window, 23:00 in Beijing.
var wednesday = time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)

// listed is on the national list in every test stack.
const listed = 12125550199

// mustService builds the real stack: embedded store, bloom lists, the shipped
// rules, the service; +1 212 555 0199 is on the national list.
func mustService(tb testing.TB) *service.Service {
	tb.Helper()
	ctx := context.Background()
	rs, err := filter.LoadRules("../rules.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	st := embedded.MustOpenTemp(tb)
	lists := dnc.New(st, dnc.Options{})
	tb.Cleanup(lists.Close)
	if err := lists.Load(ctx, rs.ListNames()); err != nil {
		tb.Fatal(err)
	}
	if _, err := lists.Add(ctx, "national", []uint64{listed}); err != nil {
		tb.Fatal(err)
	}
	svc, err := service.New(st, lists, rs, service.Options{Hasher: filter.NewHasher([]byte("scrub-test-secret"))})
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

func mustScrubber(tb testing.TB, svc *service.Service, purpose, channel string) *service.Scrubber {
	tb.Helper()
	sc, err := svc.Scrubber(service.ScrubInput{Purpose: purpose, Channel: channel, Seller: "acme", At: wednesday})
	if err != nil {
		tb.Fatal(err)
	}
	return sc
}

// mustRun scrubs in and returns the output records and the summary.
func mustRun(tb testing.TB, in []byte, opts scrub.Options) ([][]string, *scrub.Summary) {
	tb.Helper()
	var out bytes.Buffer
	sum, err := scrub.Run(context.Background(), bytes.NewReader(in), &out, opts)
	if err != nil {
		tb.Fatalf("scrub: %v", err)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(out.Bytes(), []byte{0xEF, 0xBB, 0xBF})))
	r.FieldsPerRecord = -1
	r.Comma = []rune(sum.Delimiter)[0]
	recs, err := r.ReadAll()
	if err != nil {
		tb.Fatalf("read the output back: %v\n%s", err, out.String())
	}
	return recs, sum
}
