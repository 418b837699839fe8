package loadtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
)

// areaCodes are real, geographic NANP area codes spread over the US time
// zones, so the service's calling-hours rules see several zones.
var areaCodes = []int{
	212, 305, 415, 312, 617, 213, 202, 404, 713, 206,
	303, 602, 215, 702, 503, 612, 314, 816, 504, 615,
}

// The line-number space is split in two so the listed and unlisted
// populations are disjoint by construction, whatever the seed and sizes.
const (
	listedLineLo   = 0
	unlistedLineLo = 5000
	lineSpan       = 5000
)

// nanp is one number as its parts, formatted on demand.
type nanp struct{ area, exchange, line int }

func (n nanp) e164() string { return fmt.Sprintf("+1%03d%03d%04d", n.area, n.exchange, n.line) }
func (n nanp) national() string {
	return fmt.Sprintf("(%03d) %03d-%04d", n.area, n.exchange, n.line)
}

// randomNANP draws a number whose line lies in [lineLo, lineLo+lineSpan).
// Exchanges are 200–999 and never N11 (211, 311, … are service codes).
func randomNANP(r *rand.Rand, lineLo int) nanp {
	ex := 200 + r.IntN(800)
	for ex%100 == 11 {
		ex = 200 + r.IntN(800)
	}
	return nanp{areaCodes[r.IntN(len(areaCodes))], ex, lineLo + r.IntN(lineSpan)}
}

func population(seed int64, n, lineLo int, salt uint64) []nanp {
	if n <= 0 {
		return nil
	}
	n = min(n, MaxPopulation)
	r := rand.New(rand.NewPCG(uint64(seed), salt))
	seen := make(map[nanp]struct{}, n)
	out := make([]nanp, 0, n)
	for len(out) < n {
		p := randomNANP(r, lineLo)
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		out = append(out, p)
	}
	return out
}

func e164s(ps []nanp) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.e164()
	}
	return out
}

// PopulationNumbers returns n distinct E.164 NANP numbers, the same for the
// same seed and n (a prefix of the list for a larger n). These are the
// numbers to preload on a do-not-call list; the generator draws its "listed"
// share from them.
func PopulationNumbers(seed int64, n int) []string {
	return e164s(population(seed, n, listedLineLo, 0x6c6973746564))
}

// UnlistedNumbers returns n distinct E.164 NANP numbers, deterministic in
// (seed, n) and disjoint from every PopulationNumbers set.
func UnlistedNumbers(seed int64, n int) []string {
	return e164s(population(seed, n, unlistedLineLo, 0x756e6c6973746564))
}

// checkItem is the JSON of one check, as the service reads it.
type checkItem struct {
	Number  string `json:"number"`
	Channel string `json:"channel"`
	Purpose string `json:"purpose"`
	Seller  string `json:"seller,omitempty"`
	At      string `json:"at,omitempty"`
	Reserve bool   `json:"reserve,omitempty"`
}

// weighted picks keys by weight; keys are sorted so a seed reproduces.
type weighted struct {
	keys []string
	cum  []float64
}

func newWeighted(m map[string]float64) weighted {
	var w weighted
	for k := range m {
		w.keys = append(w.keys, k)
	}
	sort.Strings(w.keys)
	sum := 0.0
	for _, k := range w.keys {
		sum += m[k]
		w.cum = append(w.cum, sum)
	}
	for i := range w.cum {
		w.cum[i] /= sum
	}
	return w
}

func (w weighted) pick(r *rand.Rand) string {
	x := r.Float64()
	for i, c := range w.cum {
		if x < c {
			return w.keys[i]
		}
	}
	return w.keys[len(w.keys)-1]
}

// bodyPoolItems is roughly how many checks are pre-built. Bodies are built
// once so the send path does no JSON encoding; a pool this size keeps the
// drawn shares within a percent or so of the configured mix.
const bodyPoolItems = 16384

// buildBodies pre-builds the request bodies of a (defaulted, valid) config.
func buildBodies(c Config) ([][]byte, error) {
	r := rand.New(rand.NewPCG(uint64(c.Seed), 0x626f64696573))
	listed := population(c.Seed, c.ListedPopulation, listedLineLo, 0x6c6973746564)
	purposes, channels := newWeighted(c.Mix.Purposes), newWeighted(c.Mix.Channels)
	item := func() checkItem {
		var p nanp
		if r.Float64() < c.Mix.ListedShare {
			p = listed[r.IntN(len(listed))]
		} else {
			p = randomNANP(r, unlistedLineLo)
		}
		num := p.national()
		if r.Float64() < c.Mix.E164Share {
			num = p.e164()
		}
		return checkItem{
			Number:  num,
			Channel: channels.pick(r),
			Purpose: purposes.pick(r),
			Seller:  c.Seller,
			At:      c.At,
			Reserve: r.Float64() < c.Mix.ReserveShare,
		}
	}
	var bodies [][]byte
	if c.Batch == 0 {
		bodies = make([][]byte, bodyPoolItems)
		for i := range bodies {
			b, err := json.Marshal(item())
			if err != nil {
				return nil, err
			}
			bodies[i] = b
		}
		return bodies, nil
	}
	n := max(4, bodyPoolItems/c.Batch)
	bodies = make([][]byte, n)
	for i := range bodies {
		items := make([]checkItem, c.Batch)
		for j := range items {
			items[j] = item()
		}
		b, err := json.Marshal(struct {
			Items []checkItem `json:"items"`
		}{items})
		if err != nil {
			return nil, err
		}
		bodies[i] = b
	}
	return bodies, nil
}
