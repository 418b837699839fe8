package listfeed

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"testing"

	"callfilter/store/embedded"
)

// dncGen generates a DNC full file of n numbers in ascending order, as the
// registry's files are: 2 million per area code from 201 up, spread over the
// area code's exchanges. It implements io.Reader so that no big file is kept.
type dncGen struct {
	n, i int
	buf  []byte
}

func newDNCGen(n int) *dncGen { return &dncGen{n: n} }

func dncGenKey(i int) uint64 {
	npa, num := 201+i/2_000_000, 2_000_000+(i%2_000_000)*4
	return uint64(10_000_000_000 + npa*10_000_000 + num)
}

func (g *dncGen) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i < g.n {
		k := dncGenKey(g.i) - 10_000_000_000
		npa, num := k/10_000_000, k%10_000_000
		g.buf = strconv.AppendUint(g.buf, npa, 10)
		g.buf = append(g.buf, ',')
		g.buf = strconv.AppendUint(g.buf, num, 10)
		g.buf = append(g.buf, '\r', '\n')
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	return n, nil
}

// TestDNCGen checks the generator the benchmarks use.
func TestDNCGen(t *testing.T) {
	recs, bad, err := readAll(t, NewDNC(newDNCGen(2_000_010), Config{}))
	if err != nil || len(bad) != 0 || len(recs) != 2_000_010 {
		t.Fatalf("%d records, bad lines %v, %v", len(recs), bad, err)
	}
	for i, r := range recs {
		if r.Key != dncGenKey(i) || (i > 0 && r.Key <= recs[i-1].Key) {
			t.Fatalf("record %d = %d, want %d ascending", i, r.Key, dncGenKey(i))
		}
	}
}

const benchLines = 10_000_000

// BenchmarkDNCReader reads a 10M-line DNC full file, generated into memory
// before the timer starts.
func BenchmarkDNCReader(b *testing.B) {
	data, err := io.ReadAll(newDNCGen(benchLines))
	if err != nil {
		b.Fatal(err)
	}
	benchmarkReader(b, data, func(r io.Reader) Reader { return NewDNC(r, Config{}) })
}

// BenchmarkTPSReader reads 10M TPS lines ("0207 3787244", fixed width).
func BenchmarkTPSReader(b *testing.B) {
	data := make([]byte, 0, benchLines*14)
	for i := range benchLines {
		data = fmt.Appendf(data, "0%d %07d\r\n", 201+i/5_000_000, 2_000_000+i%5_000_000)
	}
	benchmarkReader(b, data, func(r io.Reader) Reader { return NewTPS(r, Config{}) })
}

func benchmarkReader(b *testing.B, data []byte, open func(io.Reader) Reader) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	var n int64
	cpu := cpuMeter(b)
	for b.Loop() {
		r := open(bytes.NewReader(data))
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "numbers/s")
	cpu(n)
}

// cpuMeter starts measuring the process's CPU time; the function it returns
// reports n numbers per CPU-second (the work of every goroutine, GC
// included). Setup after the call is counted: call it after the setup.
func cpuMeter(b *testing.B) func(n int64) {
	start := cpuTime()
	return func(n int64) {
		if used := cpuTime() - start; used > 0 {
			b.ReportMetric(float64(n)/used.Seconds(), "numbers/cpu-s")
		}
	}
}

// BenchmarkImportDNC imports a 10M-line DNC full file into an empty list of a
// new embedded store: staging load, merge, adds, staging cleanup.
func BenchmarkImportDNC(b *testing.B) {
	b.ReportAllocs()
	var n int64
	cpu := cpuMeter(b)
	for b.Loop() {
		b.StopTimer()
		st, err := embedded.Open(filepath.Join(b.TempDir(), "bench.db"), embedded.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := Import(context.Background(), st, "national", NewDNC(newDNCGen(benchLines), Config{}), Options{})
		if err != nil {
			b.Fatal(err)
		}
		n += res.Numbers
		b.StopTimer()
		_ = st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "numbers/s")
	cpu(n)
}

// BenchmarkImportDNCRefresh imports the 10M-line file into a list that holds
// it already (the usual monthly refresh: few changes), which costs the staging
// load and cleanup and the two merges, but no writes to the list.
func BenchmarkImportDNCRefresh(b *testing.B) {
	b.ReportAllocs()
	st, err := embedded.Open(filepath.Join(b.TempDir(), "bench.db"), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := Import(context.Background(), st, "national", NewDNC(newDNCGen(benchLines), Config{}), Options{}); err != nil {
		b.Fatal(err)
	}
	var n int64
	cpu := cpuMeter(b)
	for b.Loop() {
		res, err := Import(context.Background(), st, "national", NewDNC(newDNCGen(benchLines), Config{}), Options{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Added != 0 || res.Removed != 0 {
			b.Fatalf("refresh changed the list: %+v", res)
		}
		n += res.Numbers
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "numbers/s")
	cpu(n)
}
