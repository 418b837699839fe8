package listfeed

import (
	"context"
	"fmt"
)

// mergeBatch is how many keys of the list's scan go to the merge at a time.
const mergeBatch = 4096

// apply runs one pass of a full import's merge of the list with the staging
// list: adds (the staging list's keys the list lacks) or removes (the list's
// keys in scope that the staging list lacks), in chunks, checkpointing after
// each. A pass computes its work from the lists as they are, so a re-run of a
// pass that stopped midway does only what is left.
func (im *importer) apply(ctx context.Context, adds bool) error {
	buf := make([]uint64, 0, im.opts.Chunk)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if adds {
			n, err := im.dst.AddToList(ctx, im.list, buf)
			im.res.Added += int64(n)
			if err != nil {
				return err
			}
		} else {
			n, err := im.dst.RemoveFromList(ctx, im.list, buf)
			im.res.Removed += int64(n)
			if err != nil {
				return err
			}
		}
		buf = buf[:0]
		if err := im.checkpoint(); err != nil {
			return err
		}
		im.progress()
		return ctx.Err()
	}
	scoped := im.r.ScopeByAreaCode()
	inScope := func(k uint64) bool {
		if !scoped {
			return true
		}
		a, ok := areaCodeOf(k)
		return ok && im.areas[a]
	}
	err := mergeLists(ctx, im.dst, im.list, im.staging, func(k uint64, inList, inStaging bool) error {
		switch {
		case adds && inStaging && !inList:
		case !adds && inList && !inStaging && inScope(k):
		default:
			return nil
		}
		buf = append(buf, k)
		if len(buf) == cap(buf) {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// mergeLists scans the lists a and b together, both in ascending order, and
// calls fn once per key of either, saying which holds it. a is scanned by a
// goroutine of its own, handing batches over a channel; fn runs on the
// caller's goroutine, so it may write to the lists (ScanList's callback runs
// outside any transaction of the store).
func mergeLists(ctx context.Context, dst Store, a, b string, fn func(k uint64, inA, inB bool) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []uint64, 2)
	scanErr := make(chan error, 1)
	go func() {
		defer close(batches)
		batch := make([]uint64, 0, mergeBatch)
		var last uint64
		err := dst.ScanList(ctx, a, func(k uint64) error {
			if k <= last {
				return fmt.Errorf("list %s: scan gave key %d after %d, not in ascending order", a, k, last)
			}
			last = k
			batch = append(batch, k)
			if len(batch) < mergeBatch {
				return nil
			}
			select {
			case batches <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			batch = make([]uint64, 0, mergeBatch)
			return nil
		})
		if err == nil && len(batch) > 0 {
			select {
			case batches <- batch:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		scanErr <- err
	}()
	// wait stops the scan of a and returns the first error. When the merge
	// went through, the scan had ended by itself, so its error is its own.
	wait := func(err error) error {
		cancel()
		for range batches { // unblock the scanner
		}
		if serr := <-scanErr; err == nil {
			err = serr
		}
		return err
	}

	var cur []uint64 // the batch of a being merged; cur[0] is a's head
	aDone := false
	head := func() (uint64, bool) {
		for len(cur) == 0 && !aDone {
			next, ok := <-batches
			if !ok {
				aDone = true
				break
			}
			cur = next
		}
		if len(cur) == 0 {
			return 0, false
		}
		return cur[0], true
	}
	var lastB uint64
	err := dst.ScanList(ctx, b, func(k uint64) error {
		if k <= lastB {
			return fmt.Errorf("list %s: scan gave key %d after %d, not in ascending order", b, k, lastB)
		}
		lastB = k
		for {
			h, ok := head()
			if !ok || h > k {
				return fn(k, false, true)
			}
			cur = cur[1:]
			if h == k {
				return fn(k, true, true)
			}
			if err := fn(h, true, false); err != nil {
				return err
			}
		}
	})
	for err == nil {
		h, ok := head()
		if !ok {
			break
		}
		cur = cur[1:]
		err = fn(h, true, false)
	}
	return wait(err)
}
