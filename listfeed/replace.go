package listfeed

import (
	"context"
	"fmt"
	"time"

	"callfilter/filter"
)

// mergeBatch is how many keys of the list's scan go to the merge at a time.
const mergeBatch = 4096

// keep runs the pass of a full import between loading the staging list and
// replacing the list with it: the list and the staging list, both scanned in
// ascending order, are merged; the list's keys outside the file's scope (for
// a file scoped by area code, those of other area codes) are copied into the
// staging list, in chunks, checkpointing after each, so that the replace
// keeps them; and the changes the replace will make are counted (Added: the
// file's keys the list lacks; Removed: the list's keys in scope the file
// lacks). The list is not written. The pass works from the lists as they
// are, so a re-run of a pass that stopped midway copies only what is left,
// and counts the same.
func (im *importer) keep(ctx context.Context) error {
	im.res.Added, im.res.Removed = 0, 0
	scoped := im.r.ScopeByAreaCode()
	buf := make([]uint64, 0, im.opts.Chunk)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if _, err := im.dst.AddToList(ctx, im.staging, buf); err != nil {
			return err
		}
		buf = buf[:0]
		if err := im.checkpoint(); err != nil {
			return err
		}
		im.progress()
		return ctx.Err()
	}
	err := mergeLists(ctx, im.dst, im.list, im.staging, func(k uint64, inList, inStaging bool) error {
		switch {
		case inStaging && !inList:
			im.res.Added++
		case inList && !inStaging:
			if a, ok := areaCodeOf(k); scoped && (!ok || !im.areas[a]) {
				buf = append(buf, k) // outside the file's scope: kept
				if len(buf) == cap(buf) {
					return flush()
				}
				return nil
			}
			im.res.Removed++
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// replace makes the list the staging list, in one store call (ReplaceList),
// the file's source date with it (set on the staging list first, so that it
// moves in the same step). If the staging list is gone when a resumed import
// gets here, the run that stopped may have replaced the list already: the
// list's source date says whether it did.
func (im *importer) replace(ctx context.Context) error {
	d := im.listSourceDate()
	var err error
	if !d.IsZero() {
		err = im.dst.SetListSource(ctx, im.staging, d)
	}
	if err == nil {
		_, err = im.dst.ReplaceList(ctx, im.list, im.staging)
	}
	if filter.ErrorKind(err) == filter.ENotFound && im.res.Resumed {
		if !d.IsZero() && im.replacedAlready(ctx, d) {
			return nil
		}
		return filter.Errorf(filter.EConflict, "", "the staging list %s is gone: if the import that stopped had replaced the list, it is complete; otherwise remove the state file %s and import the file again", im.staging, im.opts.StatePath)
	}
	return err
}

// replacedAlready reports whether the list carries source date d, as the
// replace of this import leaves it.
func (im *importer) replacedAlready(ctx context.Context, d time.Time) bool {
	infos, err := im.dst.Lists(ctx)
	if err != nil {
		return false
	}
	for _, in := range infos {
		if in.Name == im.list {
			return in.SourceDate.Equal(d.Truncate(time.Millisecond))
		}
	}
	return false
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
