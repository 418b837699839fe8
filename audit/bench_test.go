package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/audit"
	"callfilter/filter"
	"callfilter/store/embedded"
	cfredis "callfilter/store/redis"
	"callfilter/store/redis/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

func benchEntry(n int) filter.AuditEntry {
	return filter.AuditEntry{
		Kind: filter.AuditDecision, ID: fmt.Sprintf("%032x", n), Time: time.Now(), Actor: "dialer-1",
		Subject: filter.Subject{byte(n), byte(n >> 8), 1}, Last4: "0134", Seller: "acme", Purpose: "insurance",
		Channel: filter.ChannelCall, Decision: filter.Allow, RulesVersion: "2026-01-15.1",
		Replay: &filter.AuditReplay{At: time.Now(), Region: "US", TimeZones: []string{"America/New_York"},
			Lists: []filter.AuditList{{List: "national", State: filter.ListAbsent}, {List: "internal", State: filter.ListAbsent}}},
	}
}

// openRedis opens a store on a redis-server started for tb alone (the
// shared one on 6379 serves every test of the machine: its load would be
// measured too), killed when tb ends. The function returned reads the
// server's CPU time.
func openRedis(tb testing.TB) (*cfredis.Store, func() time.Duration) {
	tb.Helper()
	addr, cmd := redistest.Start(tb)
	tb.Cleanup(func() { redistest.Kill(cmd) })
	st, err := cfredis.Open(context.Background(), cfredis.Options{Addrs: []string{addr}, KeyPrefix: redistest.RandomPrefix()})
	if err != nil {
		tb.Fatalf("open redis store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
	tb.Cleanup(func() { _ = c.Close() })
	return st, func() time.Duration {
		info, err := c.Info(context.Background(), "cpu").Result()
		if err != nil {
			tb.Fatal(err)
		}
		var total float64
		for _, line := range strings.Split(info, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if k == "used_cpu_user" || k == "used_cpu_sys" {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
		return time.Duration(total * float64(time.Second))
	}
}

// benchWriter is the sustained append throughput of a Writer over st:
// entries are enqueued as fast as the queue takes them, and the clock stops
// when the last one is durable. allocs/op are the whole program's per entry
// (the entries' own construction included).
func benchWriter(b *testing.B, st filter.AuditStore, serverCPU func() time.Duration) {
	w, err := audit.NewWriter(st, audit.Options{Retention: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	var srv0 time.Duration
	if serverCPU != nil {
		srv0 = serverCPU()
	}
	for i := range b.N {
		for w.Enqueue(benchEntry(i)) != nil {
			time.Sleep(50 * time.Microsecond)
		}
	}
	for w.Stats().Appended < uint64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	if serverCPU != nil {
		b.ReportMetric(float64((serverCPU()-srv0).Nanoseconds())/float64(b.N), "server-cpu-ns/entry")
	}
	w.Close(time.Second)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	// The machine is shared: wall time moves with its load, the CPU the
	// process spent per entry (producer, writer, GC, store) much less.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/entry")
}

// BenchmarkWriterEmbedded is the writer's throughput over the embedded store.
func BenchmarkWriterEmbedded(b *testing.B) { benchWriter(b, embedded.MustOpenTemp(b), nil) }

// BenchmarkWriterRedis is the writer's throughput over Redis (a standalone
// server of its own). cpu-ns/entry counts this process only, not the server.
func BenchmarkWriterRedis(b *testing.B) {
	st, serverCPU := openRedis(b)
	benchWriter(b, st, serverCPU)
}

// BenchmarkEnqueue is the cost the check path pays: one Enqueue.
func BenchmarkEnqueue(b *testing.B) {
	st := embedded.MustOpenTemp(b)
	w, err := audit.NewWriter(st, audit.Options{Retention: -1, QueueSize: 1 << 22, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close(time.Minute)
	e := benchEntry(1)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := w.Enqueue(e); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestVerifyEmpty(t *testing.T) {
	r, err := audit.Verify(context.Background(), embedded.MustOpenTemp(t))
	if err != nil || !r.OK {
		t.Fatalf("empty chain: %+v, %v", r, err)
	}
}
