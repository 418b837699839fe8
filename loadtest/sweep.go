package loadtest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// SweepConfig drives a rate sweep: open-loop steps at rising rates until one
// fails, then a hold at a share of the peak. Rates, not workers, so that the
// latency at each rate is free of coordinated omission.
type SweepConfig struct {
	// Base is the run every step copies (targets, key, mix); Mode, Rate and
	// Duration are set per step.
	Base Config `json:"base"`
	// StartRate is the first step's rate; each next step multiplies it by
	// Factor, up to MaxRate.
	StartRate float64 `json:"start_rate"`
	Factor    float64 `json:"factor"`
	MaxRate   float64 `json:"max_rate"`
	// StepDuration is how long each step runs.
	StepDuration time.Duration `json:"step_duration"`
	// A step passes when it achieves at least MinAchieved of its rate, loses
	// (errors + dropped) at most MaxLoss of its requests, and its p99 is at
	// most P99Limit.
	MinAchieved float64       `json:"min_achieved"`
	MaxLoss     float64       `json:"max_loss"`
	P99Limit    time.Duration `json:"p99_limit"`
	// HoldShare of the peak is held for HoldDuration at the end (0 skips it).
	HoldShare    float64       `json:"hold_share"`
	HoldDuration time.Duration `json:"hold_duration"`
}

// DefaultSweep returns the sweep `make loadtest` runs, over base.
func DefaultSweep(base Config) SweepConfig {
	return SweepConfig{
		Base: base, StartRate: 2000, Factor: 1.4, MaxRate: 400_000,
		StepDuration: 5 * time.Second,
		// The p99 limit marks the knee where queues build up; it is loose
		// because on a small VM the generator's own timer wake-ups add a few
		// milliseconds at p99 (measured from the intended send time).
		MinAchieved: 0.95, MaxLoss: 0.01, P99Limit: 50 * time.Millisecond,
		HoldShare: 0.5, HoldDuration: 30 * time.Second,
	}
}

// SweepStep is one rate tried.
type SweepStep struct {
	Rate   float64 `json:"rate"`
	Pass   bool    `json:"pass"`
	Why    string  `json:"why,omitempty"`
	Report *Report `json:"report"`
}

// SweepReport is a whole sweep: its steps, the peak (the highest passing
// rate's achieved throughput) and the hold at a share of it.
type SweepReport struct {
	Config SweepConfig `json:"config"`
	Steps  []SweepStep `json:"steps"`
	// Peak is the achieved req/s of the last passing step; 0 if none passed.
	Peak float64 `json:"peak"`
	Hold *Report `json:"hold,omitempty"`
}

// Sweep runs sc, writing one line per step to progress.
func Sweep(ctx context.Context, sc SweepConfig, progress io.Writer) (*SweepReport, error) {
	if sc.Factor <= 1 || sc.StartRate <= 0 || sc.StepDuration <= 0 {
		return nil, fmt.Errorf("sweep: start rate (%v) and step duration (%v) must be positive and factor (%v) above 1", sc.StartRate, sc.StepDuration, sc.Factor)
	}
	out := &SweepReport{Config: sc}
	for rate := sc.StartRate; rate <= sc.MaxRate; rate *= sc.Factor {
		rep, err := Run(ctx, sc.step(rate, sc.StepDuration))
		if err != nil {
			return out, err
		}
		pass, why := sc.judge(rate, rep)
		out.Steps = append(out.Steps, SweepStep{Rate: rate, Pass: pass, Why: why, Report: rep})
		fmt.Fprintf(progress, "sweep %8.0f req/s: achieved %8.0f, p99 %-9v %s\n", rate, rep.Throughput.RequestsPerSec, rep.Latency.P99, verdict(pass, why))
		if !pass {
			break
		}
		out.Peak = rep.Throughput.RequestsPerSec
	}
	if out.Peak > 0 && sc.HoldShare > 0 && sc.HoldDuration > 0 {
		rate := out.Peak * sc.HoldShare
		rep, err := Run(ctx, sc.step(rate, sc.HoldDuration))
		if err != nil {
			return out, err
		}
		out.Hold = rep
		fmt.Fprintf(progress, "hold  %8.0f req/s for %v: achieved %8.0f, p99 %v\n", rate, sc.HoldDuration, rep.Throughput.RequestsPerSec, rep.Latency.P99)
	}
	return out, nil
}

func (sc SweepConfig) step(rate float64, d time.Duration) Config {
	c := sc.Base
	c.Mode, c.Rate, c.Duration, c.MaxRequests = "open", rate, d, 0
	if c.MaxInFlight == 0 {
		// Enough for 60k req/s at 8 ms each; more connections than that
		// only make a one-core server thrash.
		c.MaxInFlight = 512
	}
	return c
}

func (sc SweepConfig) judge(rate float64, r *Report) (bool, string) {
	var why []string
	if r.Throughput.RequestsPerSec < sc.MinAchieved*rate {
		why = append(why, fmt.Sprintf("achieved %.0f%% of the rate", 100*r.Throughput.RequestsPerSec/rate))
	}
	sent := r.Requests + r.Dropped
	if lost := r.ErrorCount() + r.Dropped; sent > 0 && float64(lost) > sc.MaxLoss*float64(sent) {
		why = append(why, fmt.Sprintf("%d of %d lost (errors %d, dropped %d)", lost, sent, r.ErrorCount(), r.Dropped))
	}
	if sc.P99Limit > 0 && r.Latency.P99 > sc.P99Limit {
		why = append(why, fmt.Sprintf("p99 %v over %v", r.Latency.P99, sc.P99Limit))
	}
	return len(why) == 0, strings.Join(why, "; ")
}

func verdict(pass bool, why string) string {
	if pass {
		return "pass"
	}
	return "FAIL: " + why
}

// Text is the human summary of a sweep.
func (s *SweepReport) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "peak %.0f req/s (open loop; p99 ≤ %v, loss ≤ %.0f%%, ≥ %.0f%% of the rate achieved)\n",
		s.Peak, s.Config.P99Limit, 100*s.Config.MaxLoss, 100*s.Config.MinAchieved)
	if s.Hold != nil {
		l := s.Hold.Latency
		fmt.Fprintf(&b, "hold at %.0f%% of peak (%.0f req/s) for %v: p50 %v  p99 %v  p99.9 %v  max %v\n",
			100*s.Config.HoldShare, s.Hold.Config.Rate, s.Config.HoldDuration, l.P50, l.P99, l.P999, l.Max)
	}
	return b.String()
}
