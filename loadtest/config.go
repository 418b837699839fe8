// Package loadtest is the load generator of callfilter. It is a plain HTTP
// client of the service: it imports no callfilter package, so it measures the
// service exactly as a dialer sees it.
//
// Two loop shapes are offered. The closed loop (Workers goroutines, each
// sending its next request when the previous answer arrives) measures the
// service's ceiling. The open loop sends at a fixed Rate on a timetable and
// measures every latency from the request's intended send time, so a server
// stall shows up in the percentiles instead of silently slowing the generator
// down (coordinated omission).
package loadtest

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"time"
)

// Limits that keep a mistyped flag from turning into an unbounded run.
const (
	MaxDuration    = time.Hour
	MaxRequestsCap = 100_000_000
	MaxBatch       = 1000 // the service's own batch limit
	MaxWorkers     = 10_000
	MaxRate        = 1_000_000
	MaxPopulation  = 10_000_000
)

// Mix describes the shape of the generated requests.
type Mix struct {
	// ListedShare is the share of numbers drawn from the pre-listed
	// population (PopulationNumbers); the rest are drawn from the disjoint
	// unlisted space.
	ListedShare float64 `json:"listed_share"`
	// E164Share is the share of numbers written "+12125550134"; the rest are
	// written national with punctuation, "(212) 555-0134", so the service's
	// normalizer does real work.
	E164Share float64 `json:"e164_share"`
	// Purposes and Channels are relative weights (they need not sum to 1).
	Purposes map[string]float64 `json:"purposes"`
	Channels map[string]float64 `json:"channels"`
	// ReserveShare is the share of checks sent with reserve:true.
	ReserveShare float64 `json:"reserve_share"`
}

// Config is one load-generation run.
type Config struct {
	// Targets are base URLs (http://127.0.0.1:8080), used round-robin.
	Targets []string `json:"targets"`
	// Key is the API key. It is never echoed into a report.
	Key string `json:"-"`
	// Mode is "closed" (Workers loop) or "open" (fixed Rate).
	Mode    string  `json:"mode"`
	Workers int     `json:"workers,omitempty"`
	Rate    float64 `json:"rate,omitempty"`
	// MaxInFlight bounds the open loop's concurrent requests; a request whose
	// turn comes while the bound is reached is counted as dropped.
	MaxInFlight int `json:"max_in_flight,omitempty"`
	// Duration and MaxRequests end the run, whichever comes first.
	Duration    time.Duration `json:"duration"`
	MaxRequests int           `json:"max_requests,omitempty"`
	// Batch is 0 for single /v1/check requests, N for /v1/check/batch with N
	// items each.
	Batch int `json:"batch,omitempty"`
	Mix   Mix `json:"mix"`
	// ListedPopulation is how many numbers PopulationNumbers yields for the
	// listed draws; it should match what was preloaded.
	ListedPopulation int `json:"listed_population"`
	// Seller is sent with every check; At (RFC 3339), when set, fixes the
	// decision instant so runs are comparable whatever the wall clock says.
	Seller string `json:"seller"`
	At     string `json:"at,omitempty"`
	// Timeout bounds one request.
	Timeout time.Duration `json:"timeout"`
	Seed    int64         `json:"seed"`
	// AllowNonLoopback permits targets off this machine: load tests against
	// a shared environment must be deliberate.
	AllowNonLoopback bool `json:"allow_non_loopback,omitempty"`
}

// DefaultConfig returns the defaults the command line starts from.
func DefaultConfig() Config {
	return Config{
		Targets: []string{"http://127.0.0.1:8080"},
		Mode:    "closed",
		Workers: 16,
		Mix: Mix{
			ListedShare:  0.1,
			E164Share:    0.5,
			Purposes:     map[string]float64{"insurance": 0.5, "housing": 0.5},
			Channels:     map[string]float64{"call": 0.8, "sms": 0.2},
			ReserveShare: 0,
		},
		ListedPopulation: 10_000,
		Seller:           "acme",
		Timeout:          5 * time.Second,
		Seed:             1,
	}
}

// withDefaults fills the fields whose zero value is meaningless. Shares are
// left alone: zero is a legitimate share.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if len(c.Targets) == 0 {
		c.Targets = d.Targets
	}
	if c.Mode == "" {
		c.Mode = d.Mode
	}
	if c.Mode == "closed" && c.Workers == 0 {
		c.Workers = d.Workers
	}
	if c.Mode == "open" && c.MaxInFlight == 0 {
		// Enough to ride out a quarter-second stall without dropping,
		// while keeping goroutines and connections (file descriptors)
		// well under the usual limits.
		c.MaxInFlight = min(4096, max(64, int(c.Rate/4)))
	}
	if len(c.Mix.Purposes) == 0 {
		c.Mix.Purposes = d.Mix.Purposes
	}
	if len(c.Mix.Channels) == 0 {
		c.Mix.Channels = d.Mix.Channels
	}
	if c.ListedPopulation == 0 {
		c.ListedPopulation = d.ListedPopulation
	}
	if c.Seller == "" {
		c.Seller = d.Seller
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	return c
}

// Validate reports every problem of the configuration (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, t := range c.Targets {
		if err := checkTarget(t, c.AllowNonLoopback); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Mode {
	case "closed":
		if c.Workers < 1 || c.Workers > MaxWorkers {
			bad("workers must be 1..%d, got %d", MaxWorkers, c.Workers)
		}
	case "open":
		if !(c.Rate > 0) || c.Rate > MaxRate {
			bad("rate must be in (0, %d] requests/s, got %v", MaxRate, c.Rate)
		}
		if c.MaxInFlight < 1 || c.MaxInFlight > MaxWorkers {
			bad("max in-flight must be 1..%d, got %d", MaxWorkers, c.MaxInFlight)
		}
	default:
		bad("mode must be closed or open, got %q", c.Mode)
	}
	if c.Duration <= 0 && c.MaxRequests <= 0 {
		bad("a duration or a request count is required")
	}
	if c.Duration < 0 || c.Duration > MaxDuration {
		bad("duration must be at most %v, got %v", MaxDuration, c.Duration)
	}
	if c.MaxRequests < 0 || c.MaxRequests > MaxRequestsCap {
		bad("requests must be at most %d, got %d", MaxRequestsCap, c.MaxRequests)
	}
	if c.Batch < 0 || c.Batch > MaxBatch {
		bad("batch must be 0..%d, got %d", MaxBatch, c.Batch)
	}
	for name, v := range map[string]float64{"listed share": c.Mix.ListedShare, "e164 share": c.Mix.E164Share, "reserve share": c.Mix.ReserveShare} {
		if !(v >= 0 && v <= 1) {
			bad("%s must be in [0, 1], got %v", name, v)
		}
	}
	checkWeights := func(what string, m map[string]float64) {
		sum := 0.0
		for k, v := range m {
			if k == "" || !(v >= 0) || math.IsInf(v, 0) {
				bad("%s: bad weight %q=%v", what, k, v)
			}
			sum += v
		}
		if !(sum > 0) {
			bad("%s: weights must not all be zero", what)
		}
	}
	checkWeights("purposes", c.Mix.Purposes)
	checkWeights("channels", c.Mix.Channels)
	if c.ListedPopulation < 1 || c.ListedPopulation > MaxPopulation {
		bad("listed population must be 1..%d, got %d", MaxPopulation, c.ListedPopulation)
	}
	if c.At != "" {
		if _, err := time.Parse(time.RFC3339, c.At); err != nil {
			bad("at must be RFC 3339: %v", err)
		}
	}
	if c.Timeout < 0 || c.Timeout > time.Minute {
		bad("timeout must be at most 1m, got %v", c.Timeout)
	}
	return errors.Join(errs...)
}

// checkTarget accepts an http(s) base URL, on loopback unless allowed.
func checkTarget(t string, allowNonLoopback bool) error {
	u, err := url.Parse(t)
	if err != nil {
		return fmt.Errorf("target %q: %v", t, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("target %q: scheme must be http or https", t)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("target %q: want a base URL like http://127.0.0.1:8080", t)
	}
	if allowNonLoopback {
		return nil
	}
	if !isLoopback(u.Hostname()) {
		return fmt.Errorf("target %q is not loopback: pass AllowNonLoopback (--allow-non-loopback) to load a remote host", t)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
