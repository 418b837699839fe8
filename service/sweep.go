package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// DefaultSweepInterval is how often Sweep runs when not configured.
const DefaultSweepInterval = time.Hour

// Sweep removes from the store, every interval until ctx is done, what has
// expired and can matter to no decision: list entries past their expiry
// (refusals blocked for a number of days, entries imported with an expiry;
// dnc.Lists.Sweep) and attempts older than every cap window of the rules in
// force (PruneAttempts). A sweep changes no decision; it keeps the store
// and the lists' counts from growing with records that only ever expire.
// Instances sharing a store may all sweep: what another instance swept
// first is not there to remove. The first sweep runs a minute after the
// start (sooner for a shorter interval), so that a service restarted more
// often than every interval still sweeps. Run it in a goroutine the caller
// owns.
func (s *Service) Sweep(ctx context.Context, every time.Duration, log *slog.Logger) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(min(every, firstSweepAfter)):
	}
	s.sweep(ctx, log)
	runEvery(ctx, every, func() { s.sweep(ctx, log) })
}

// firstSweepAfter is how long after the start the first sweep runs at the
// latest: late enough that the lists are loaded. A variable for tests.
var firstSweepAfter = time.Minute

// SweepActor is the audit trail's actor of the sweep's removals.
const SweepActor = "sweep"

// attemptsKept is how long past the rules' longest cap window attempts are
// kept, so that lengthening a window by a day loses no attempt it counts.
const attemptsKept = 24 * time.Hour

// sweep sweeps once. Each list's removals are recorded in the audit trail
// (action list.sweep), so an officer can see where an entry went; pruned
// attempts are not (no fact a decision reads changes).
func (s *Service) sweep(ctx context.Context, log *slog.Logger) {
	start, now := time.Now(), s.opts.Now()
	swept, err := s.lists.Sweep(ctx, now)
	if len(swept) > 0 {
		log.Info("expired list entries removed", "removed", swept, "took", time.Since(start).String())
	}
	actx := WithActor(ctx, SweepActor)
	for _, name := range slices.Sorted(maps.Keys(swept)) {
		c := change{Action: "list.sweep", Target: name,
			Detail: fmt.Sprintf("%d entries removed that expired at or before %s", swept[name], now.UTC().Format(time.RFC3339))}
		if aerr := s.changed(actx, nil, c); aerr != nil {
			err = errors.Join(err, aerr)
		}
	}
	start = time.Now()
	pruned, perr := s.store.PruneAttempts(ctx, now.Add(-s.Rules().LongestCapWindow()-attemptsKept))
	if pruned > 0 {
		log.Info("attempts older than every cap window removed", "removed", pruned, "took", time.Since(start).String())
	}
	if err = errors.Join(err, perr); err != nil && ctx.Err() == nil {
		log.Warn("sweep of expired records failed; retried at the next interval", "err", err)
	}
}
