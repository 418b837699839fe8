// Command loadtest drives load against callfilter's POST /v1/check (or
// /v1/check/batch) over HTTP and prints a latency and throughput summary.
// With --trivial-server it also serves a do-nothing look-alike of the service,
// so the generator's own ceiling can be measured. main only parses flags and
// wires the loadtest package.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"callfilter/loadtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// targets is a repeatable, comma-separated --target flag.
type targets []string

func (t *targets) String() string { return strings.Join(*t, ",") }
func (t *targets) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*t = append(*t, strings.TrimRight(s, "/"))
		}
	}
	return nil
}

// weights is a --purposes/--channels flag: name=weight,name=weight.
type weights map[string]float64

func (w *weights) String() string {
	var parts []string
	for k, v := range *w {
		parts = append(parts, fmt.Sprintf("%s=%g", k, v))
	}
	return strings.Join(parts, ",")
}
func (w *weights) Set(v string) error {
	m := map[string]float64{}
	for _, p := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			return fmt.Errorf("want name=weight, got %q", p)
		}
		name := strings.TrimSpace(k)
		var f float64
		if _, err := fmt.Sscan(val, &f); err != nil {
			return fmt.Errorf("weight of %q: %v", name, err)
		}
		m[name] = f
	}
	*w = m
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := loadtest.DefaultConfig()
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tg targets
	purposes, channels := weights(cfg.Mix.Purposes), weights(cfg.Mix.Channels)
	fs.Var(&tg, "target", "base URL of a callfilter instance, repeatable or comma-separated (default http://127.0.0.1:8080)")
	fs.StringVar(&cfg.Key, "key", os.Getenv("CALLFILTER_KEY"), "API key (default $CALLFILTER_KEY)")
	fs.StringVar(&cfg.Mode, "mode", cfg.Mode, "closed (workers loop) or open (fixed rate)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "closed loop: concurrent workers")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: requests per second")
	fs.IntVar(&cfg.MaxInFlight, "max-in-flight", 0, "open loop: bound on outstanding requests (default rate/4, within 64..4096)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "how long to run (≤ 1h)")
	fs.IntVar(&cfg.MaxRequests, "requests", 0, "how many requests to send (0: until --duration)")
	fs.IntVar(&cfg.Batch, "batch", 0, "0: single /v1/check; N: /v1/check/batch with N items")
	fs.Float64Var(&cfg.Mix.ListedShare, "listed-share", cfg.Mix.ListedShare, "share of numbers drawn from the listed population")
	fs.Float64Var(&cfg.Mix.E164Share, "e164-share", cfg.Mix.E164Share, "share of numbers written E.164 (rest national with punctuation)")
	fs.Float64Var(&cfg.Mix.ReserveShare, "reserve-share", cfg.Mix.ReserveShare, "share of checks with reserve:true")
	fs.Var(&purposes, "purposes", "purpose weights, name=weight,…")
	fs.Var(&channels, "channels", "channel weights, name=weight,…")
	fs.IntVar(&cfg.ListedPopulation, "population", cfg.ListedPopulation, "size of the listed population (set to --preload when preloading)")
	fs.StringVar(&cfg.Seller, "seller", cfg.Seller, "seller sent with every check")
	fs.StringVar(&cfg.At, "at", "", "RFC 3339 decision instant sent with every check (default: now)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "per-request timeout")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the population and the mix")
	fs.BoolVar(&cfg.AllowNonLoopback, "allow-non-loopback", false, "allow targets that are not on this machine")
	preload := fs.Int("preload", 0, "first add N numbers of the listed population to list national")
	jsonOut := fs.String("json", "", "write the report as JSON to this file")
	compare := fs.String("compare", "", "compare with a report JSON written earlier")
	trivial := fs.String("trivial-server", "", "serve a do-nothing look-alike of the service on this loopback address (baseline)")
	sweep := fs.Bool("sweep", false, "open-loop rate sweep to the peak, then a hold at --hold-share of it (ignores --mode, --rate, --duration)")
	sc := loadtest.DefaultSweep(cfg)
	fs.Float64Var(&sc.StartRate, "start-rate", sc.StartRate, "sweep: first rate (req/s)")
	fs.Float64Var(&sc.Factor, "factor", sc.Factor, "sweep: rate multiplier per step")
	fs.DurationVar(&sc.StepDuration, "step", sc.StepDuration, "sweep: duration of each step")
	fs.DurationVar(&sc.P99Limit, "p99-limit", sc.P99Limit, "sweep: a step fails above this p99")
	fs.Float64Var(&sc.HoldShare, "hold-share", sc.HoldShare, "sweep: share of the peak to hold")
	fs.DurationVar(&sc.HoldDuration, "hold", sc.HoldDuration, "sweep: how long to hold")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadtest: unexpected arguments %q\n", fs.Args())
		return 2
	}
	cfg.Targets = tg
	cfg.Mix.Purposes, cfg.Mix.Channels = purposes, channels
	if cfg.Mode == "closed" && cfg.Rate > 0 {
		fmt.Fprintln(stderr, "loadtest: --rate is for --mode open")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var wg sync.WaitGroup
	defer wg.Wait()
	if *trivial != "" {
		srvCtx, stopSrv := context.WithCancel(ctx)
		defer stopSrv() // runs before wg.Wait: the server stops, then is waited for
		bound := make(chan net.Addr, 1)
		srvErr := make(chan error, 1)
		wg.Go(func() { srvErr <- loadtest.ServeTrivial(srvCtx, *trivial, func(a net.Addr) { bound <- a }) })
		var addr net.Addr
		select {
		case addr = <-bound:
		case err := <-srvErr:
			fmt.Fprintln(stderr, "loadtest:", err)
			return 1
		}
		fmt.Fprintf(stderr, "loadtest: trivial server on http://%s\n", addr)
		if len(cfg.Targets) == 0 {
			cfg.Targets = []string{"http://" + addr.String()}
		}
		if cfg.Duration == 0 && cfg.MaxRequests == 0 {
			// Nothing to run: serve until interrupted, as a baseline
			// for another generator process.
			<-ctx.Done()
			return 0
		}
	}

	if *sweep && cfg.Duration == 0 && cfg.MaxRequests == 0 {
		cfg.Duration = sc.StepDuration // each step sets its own; Validate wants one
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 2
	}
	if *preload > 0 {
		cfg.ListedPopulation = *preload
		nums := loadtest.PopulationNumbers(cfg.Seed, *preload)
		for _, t := range cfg.Targets {
			if err := loadtest.Preload(ctx, t, cfg.Key, "national", nums); err != nil {
				fmt.Fprintln(stderr, "loadtest:", err)
				return 1
			}
		}
		fmt.Fprintf(stderr, "loadtest: preloaded %d numbers on list national\n", *preload)
	}

	if *sweep {
		sc.Base = cfg
		srep, err := loadtest.Sweep(ctx, sc, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 1
		}
		fmt.Fprint(stdout, srep.Text())
		if *jsonOut != "" {
			b, err := json.MarshalIndent(srep, "", "  ")
			if err == nil {
				err = os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
			}
			if err != nil {
				fmt.Fprintln(stderr, "loadtest:", err)
				return 1
			}
		}
		return 0
	}

	rep, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 1
	}
	fmt.Fprint(stdout, rep.Text())
	if *jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 1
		}
	}
	if *compare != "" {
		b, err := os.ReadFile(*compare)
		if err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 1
		}
		var old loadtest.Report
		if err := json.Unmarshal(b, &old); err != nil {
			fmt.Fprintf(stderr, "loadtest: %s: %v\n", *compare, err)
			return 1
		}
		fmt.Fprintf(stdout, "\ncompared with %s:\n%s", *compare, loadtest.Compare(&old, rep))
	}
	return 0
}
