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

// DefaultSweepInterval is how often SweepLists runs when not configured.
const DefaultSweepInterval = time.Hour

// SweepLists removes the list entries that have expired (refusals blocked
// for a number of days, entries imported with an expiry) from the store
// every interval, until ctx is done: dnc.Lists.Sweep at the service's clock.
// An expired entry already matches nothing, so a sweep changes no decision;
// it keeps the store and the lists' counts from growing with entries that
// only ever expire. Instances sharing a store may all sweep: a sweep of
// what another instance swept first removes nothing. Run it in a goroutine
// the caller owns.
func (s *Service) SweepLists(ctx context.Context, every time.Duration, log *slog.Logger) {
	runEvery(ctx, every, func() { s.sweepLists(ctx, log) })
}

// SweepActor is the audit trail's actor of the sweep's removals.
const SweepActor = "sweep"

// sweepLists sweeps once and records each list's removals in the audit
// trail (action list.sweep), so an officer can see where an entry went.
func (s *Service) sweepLists(ctx context.Context, log *slog.Logger) {
	start, before := time.Now(), s.opts.Now()
	swept, err := s.lists.Sweep(ctx, before)
	if len(swept) > 0 {
		log.Info("expired list entries removed", "removed", swept, "took", time.Since(start).String())
	}
	actx := WithActor(ctx, SweepActor)
	for _, name := range slices.Sorted(maps.Keys(swept)) {
		c := change{Action: "list.sweep", Target: name,
			Detail: fmt.Sprintf("%d entries removed that expired at or before %s", swept[name], before.UTC().Format(time.RFC3339))}
		if aerr := s.changed(actx, nil, c); aerr != nil {
			err = errors.Join(err, aerr)
		}
	}
	if err != nil && ctx.Err() == nil {
		log.Warn("sweep of expired list entries failed; retried at the next interval", "err", err)
	}
}
