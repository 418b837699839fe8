package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"callfilter/dnc"
	cfredis "callfilter/store/redis"
)

// Filter images. A new instance with a 10M-number list would otherwise scan
// the whole list to build its filter; instead one instance at a time writes
// each list's filter, serialized (dnc.Image), to Redis with the change feed
// position it holds every change up to, and a new instance loads that image
// and applies the feed from that position.
//
// Loading an image (fromImage) refuses it — logs why and scans the list
// instead — when: the header does not decode or fails dnc.CheckImageHeader
// (version, m, k, byte length against m) — checked before any data is read;
// the chunks do not add up to the header's length; the SHA-256 differs; a
// canary key tests absent; the list's feed has another epoch than the
// image's, or is behind it, or no longer holds the entry after the image's
// position (trimmed past it). After an image is installed its tail reads the
// feed from the image's position and, as always, rebuilds on a gap.
//
// Writing (writeImages): after each Load and every Images.Check, for each
// list whose tail is in step, when the image in Redis is missing, of another
// epoch, Images.Changes feed entries behind, or older than Images.Every and
// behind at all: take the list's image lock (SET NX with a TTL, so one
// instance writes at a time and a dead writer's lock expires), read the
// tail's position, then serialize the filter (so the image holds at least
// every change up to the position), write it, release the lock.

// ImageOptions configure filter images. Zero values mean the defaults.
type ImageOptions struct {
	// Every is how old an image may get (while its list changes) before it
	// is written again. Default 10 minutes; negative: this instance writes
	// no images.
	Every time.Duration
	// Changes is how many feed entries an image may be behind before it is
	// written again, whatever its age. Default 1000.
	Changes uint64
	// Check is how often the writer looks at the images. Default one minute
	// (or Every, if shorter).
	Check time.Duration
	// LockTTL is how long a writer's lock lasts. Default two minutes.
	LockTTL time.Duration
	// Chunk is the size of one stored chunk. Default
	// cfredis.DefaultImageChunk.
	Chunk int
	// NoLoad makes Load scan every list, ignoring images.
	NoLoad bool
}

func (o ImageOptions) withDefaults() ImageOptions {
	if o.Every == 0 {
		o.Every = 10 * time.Minute
	}
	if o.Changes == 0 {
		o.Changes = 1000
	}
	if o.Check <= 0 {
		o.Check = min(time.Minute, max(o.Every, time.Second))
	}
	if o.LockTTL <= 0 {
		o.LockTTL = 2 * time.Minute
	}
	if o.Chunk <= 0 {
		o.Chunk = cfredis.DefaultImageChunk
	}
	return o
}

// ImageStats counts images loaded, refused, written, and failed writes.
type ImageStats struct {
	Loaded, Refused, Written, WriteErrors int64
}

// ImageStats returns the counts since New.
func (f *Feed) ImageStats() ImageStats {
	return ImageStats{Loaded: f.imagesLoaded.Load(), Refused: f.imagesRefused.Load(),
		Written: f.imagesWritten.Load(), WriteErrors: f.imageWriteErrs.Load()}
}

// fromImage installs the list's image if it passes every check, and returns
// the position to tail from. False when there is no image or it was refused
// (logged): the caller scans the list.
func (f *Feed) fromImage(ctx context.Context, name string) (cfredis.FeedPos, bool) {
	start := time.Now()
	pos, err := f.tryImage(ctx, name)
	switch {
	case errors.Is(err, errNoImage):
		return cfredis.FeedPos{}, false
	case err != nil:
		f.imagesRefused.Add(1)
		f.log.Warn("filter image refused; building the list's filter from the store", "list", name, "err", err)
		return cfredis.FeedPos{}, false
	}
	f.imagesLoaded.Add(1)
	f.log.Info("list filter loaded from its image", "list", name, "feed_seq", pos.Seq, "took", time.Since(start).String())
	return pos, true
}

var errNoImage = errors.New("no image")

func (f *Feed) tryImage(ctx context.Context, name string) (cfredis.FeedPos, error) {
	ref, raw, err := f.st.ImageHeader(ctx, name)
	if err != nil {
		return cfredis.FeedPos{}, err
	}
	if raw == nil {
		return cfredis.FeedPos{}, errNoImage
	}
	var h dnc.ImageHeader
	if err := json.Unmarshal(raw, &h); err != nil {
		return cfredis.FeedPos{}, fmt.Errorf("header does not decode: %w", err)
	}
	if err := dnc.CheckImageHeader(h); err != nil {
		return cfredis.FeedPos{}, err
	}
	if h.List != name {
		return cfredis.FeedPos{}, fmt.Errorf("image is of list %q", h.List)
	}
	pos := cfredis.FeedPos{ID: h.FeedID, Seq: h.FeedSeq, Epoch: h.FeedEpoch}
	if pos.ID == "" {
		return cfredis.FeedPos{}, errors.New("image has no feed position")
	}
	head, err := f.st.FeedHead(ctx, name)
	if err != nil {
		return cfredis.FeedPos{}, err
	}
	switch {
	case pos.Epoch != "" && head.Epoch != pos.Epoch:
		return cfredis.FeedPos{}, fmt.Errorf("feed epoch %q, image's %q: Redis lost the list since", head.Epoch, pos.Epoch)
	case head.Seq < pos.Seq, head.Seq == pos.Seq && head.ID != pos.ID:
		return cfredis.FeedPos{}, fmt.Errorf("feed at seq %d (%s), image at %d (%s): Redis lost changes since", head.Seq, head.ID, pos.Seq, pos.ID)
	case head.Seq > pos.Seq:
		next, err := f.st.ReadFeed(ctx, name, pos.ID, time.Millisecond, 1)
		if err != nil {
			return cfredis.FeedPos{}, err
		}
		if len(next) == 0 || next[0].Pos.Seq != pos.Seq+1 {
			return cfredis.FeedPos{}, fmt.Errorf("feed trimmed past the image's position (seq %d)", pos.Seq)
		}
	}
	data, err := f.st.ImageData(ctx, name, ref, h.Bytes)
	if err != nil {
		return cfredis.FeedPos{}, err
	}
	bf, err := dnc.DecodeImage(h, data)
	if err != nil {
		return cfredis.FeedPos{}, err
	}
	if err := f.lists.Install(name, h, bf); err != nil {
		return cfredis.FeedPos{}, err
	}
	return pos, nil
}

func (f *Feed) kickImages() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// writeImages is the image writer, owned by the Feed (see the section
// comment).
func (f *Feed) writeImages(ctx context.Context) {
	defer f.wg.Done()
	tick := time.NewTicker(f.opts.Images.Check)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-f.kick:
			// After a Load: give the tails a moment to come in step.
			for deadline := time.Now().Add(5 * time.Second); !f.Synced() && time.Now().Before(deadline) && ctx.Err() == nil; {
				time.Sleep(50 * time.Millisecond)
			}
		}
		for _, t := range *f.tails.Load() {
			if ctx.Err() != nil {
				return
			}
			if err := f.WriteImage(ctx, t.name, false); err != nil {
				f.imageWriteErrs.Add(1)
				f.log.Warn("filter image not written", "list", t.name, "err", err)
			}
		}
	}
}

// errNotInStep: the list's tail is not in step, so its filter's position is
// unknown.
var errNotInStep = errors.New("change feed not in step")

// WriteImage writes the named list's filter image if it is due (always with
// force), unless another instance holds the list's image lock. An error when
// the list's tail is not in step or Redis fails.
func (f *Feed) WriteImage(ctx context.Context, name string, force bool) error {
	f.mu.Lock()
	t := f.byName[name]
	f.mu.Unlock()
	if t == nil {
		return fmt.Errorf("list %q is not tailed", name)
	}
	p := t.pos.Load()
	if p == nil || f.clock(time.Now()) >= t.okUntil.Load() {
		// Not in step now; the next round tries again.
		if force {
			return errNotInStep
		}
		return nil
	}
	if !force {
		due, err := f.imageDue(ctx, name, *p)
		if err != nil || !due {
			return err
		}
	}
	token, ok, err := f.st.LockImage(ctx, name, f.opts.Images.LockTTL)
	if err != nil || !ok {
		return err // !ok: another instance is writing it
	}
	defer func() { _ = f.st.UnlockImage(context.WithoutCancel(ctx), name, token) }()

	// The position first, then the filter: the image holds at least every
	// change up to it (later ones too, harmlessly).
	p = t.pos.Load()
	if p == nil {
		return errNotInStep
	}
	pos := *p
	var canaries []uint64
	stop := errors.New("enough")
	err = f.st.ScanList(ctx, name, func(k uint64) error {
		canaries = append(canaries, k)
		if len(canaries) == 16 {
			return stop
		}
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return err
	}
	h, data, err := f.lists.Image(name, canaries)
	if err != nil {
		return err
	}
	h.FeedID, h.FeedSeq, h.FeedEpoch = pos.ID, pos.Seq, pos.Epoch
	raw, err := json.Marshal(h)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := f.st.PutImage(ctx, name, raw, data, f.opts.Images.Chunk); err != nil {
		return err
	}
	f.imagesWritten.Add(1)
	f.log.Info("filter image written", "list", name, "bytes", len(data), "feed_seq", pos.Seq, "took", time.Since(start).String())
	return nil
}

// imageDue reports whether the list's image in Redis should be rewritten for
// an instance at pos.
func (f *Feed) imageDue(ctx context.Context, name string, pos cfredis.FeedPos) (bool, error) {
	_, raw, err := f.st.ImageHeader(ctx, name)
	if err != nil {
		return false, err
	}
	if raw == nil {
		return true, nil
	}
	var h dnc.ImageHeader
	if json.Unmarshal(raw, &h) != nil || dnc.CheckImageHeader(h) != nil || h.FeedEpoch != pos.Epoch {
		return true, nil // damaged, or of another epoch: replace it
	}
	if h.FeedSeq >= pos.Seq {
		return false, nil // as new as this instance, or newer
	}
	behind := pos.Seq - h.FeedSeq
	age := time.Since(time.UnixMilli(h.WrittenAt))
	return behind >= f.opts.Images.Changes || (behind > 0 && f.opts.Images.Every > 0 && age >= f.opts.Images.Every), nil
}
