package redis

import (
	"cmp"
	"context"
	"errors"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/filter"
)

// scriptChunk is the most keys one addScript or removeScript call carries, so
// that one call never blocks Redis for long (~10 ms).
const scriptChunk = 10000

// listOpTTL is how long a list script's result is kept for a retry of the
// same call (see addScript): longer than any retry takes.
const listOpTTL = time.Minute

// scanPage is the number of buckets ScanList reads per round trip.
const scanPage = 64

// AddToList adds keys to the named list, creating it, and returns how many
// were not there before. Keys go in chunks of scriptChunk, each one atomic
// script that updates the sets and the count together; a failure between
// chunks leaves the earlier chunks added (adds are idempotent: retry). The
// list's name is registered first, in P:lists (another slot); a name
// registered by a call that failed before its first chunk is not listed.
// EInvalid for an empty or too long name, a name with '{' or '}', or a key
// that is not 1 to 15 digits.
func (s *Store) AddToList(ctx context.Context, list string, keys []uint64) (int, error) {
	const op = "add to list"
	if err := cmp.Or(checkList(list), filter.ValidateListKeys(keys)); err != nil {
		return 0, err
	}
	if err := s.begin(ctx, op); err != nil {
		return 0, err
	}
	if err := s.rdb.SAdd(ctx, s.k.lists(), list).Err(); err != nil {
		return 0, fail(ctx, op, err)
	}
	// A permanent add makes an expiring entry permanent. Before the add too:
	// a SweepList between the add and the clear would otherwise remove a
	// present key whose old expiry had passed, undoing the acknowledged add.
	// After it, for an AddToListUntil of the key that ran meanwhile.
	if err := s.clearExpiries(ctx, op, list, keys); err != nil {
		return 0, err
	}
	added, err := s.runListScript(ctx, op, addScript, list, keys)
	if err != nil {
		return added, err
	}
	if err := s.clearExpiries(ctx, op, list, keys); err != nil {
		return added, err
	}
	return added, s.replicated(ctx, op)
}

// AddToListUntil adds keys as AddToList does, each expiring at expiresAt
// (to the millisecond). The expiries are written first (expireScript: an
// expiry only moves later, a permanent entry stays permanent), then the keys
// are added with addScript, so that other instances' change feeds carry the
// add as any other. EInvalid as AddToList, and for a zero expiresAt.
func (s *Store) AddToListUntil(ctx context.Context, list string, keys []uint64, expiresAt time.Time) (int, error) {
	const op = "add to list until"
	if err := cmp.Or(checkList(list), filter.ValidateListKeys(keys), filter.ValidateListExpiry(expiresAt)); err != nil {
		return 0, err
	}
	if err := s.begin(ctx, op); err != nil {
		return 0, err
	}
	if err := s.rdb.SAdd(ctx, s.k.lists(), list).Err(); err != nil {
		return 0, fail(ctx, op, err)
	}
	exp := strconv.FormatInt(max(ms(expiresAt), 2), 10) // 0 and 1 mean absent and permanent to memberUntilScript
	for bucket, offs := range byBucket(keys) {
		for len(offs) > 0 {
			part := offs[:min(len(offs), scriptChunk)]
			offs = offs[len(part):]
			args := make([]any, 0, 2+len(part))
			args = append(args, exp, strconv.FormatUint(bucket, 10))
			for _, m := range part {
				args = append(args, strconv.FormatUint(m, 10))
			}
			ks := []string{s.k.listExpiryBuckets(list), s.k.listBucket(list, bucket), s.k.listExpiries(list, bucket)}
			if err := expireScript.Run(ctx, s.rdb, ks, args...).Err(); err != nil {
				return 0, fail(ctx, op, err)
			}
		}
	}
	added, err := s.runListScript(ctx, op, addScript, list, keys)
	if err != nil {
		return added, err
	}
	return added, s.replicated(ctx, op)
}

// byBucket groups keys by bucket: bucket → offsets, ascending and unique.
func byBucket(keys []uint64) map[uint64][]uint64 {
	out := map[uint64][]uint64{}
	for _, k := range keys {
		out[k/bucketSize] = append(out[k/bucketSize], k%bucketSize)
	}
	for b, offs := range out {
		out[b] = slices.Compact(slices.Sorted(slices.Values(offs)))
	}
	return out
}

// clearExpiries deletes the expiries of keys, in the buckets of the list's
// registry only (most lists have no expiring entry: one SMEMBERS).
func (s *Store) clearExpiries(ctx context.Context, op, list string, keys []uint64) error {
	if len(keys) == 0 {
		return nil
	}
	raw, err := s.rdb.SMembers(ctx, s.k.listExpiryBuckets(list)).Result()
	if err != nil {
		return fail(ctx, op, err)
	}
	if len(raw) == 0 {
		return nil
	}
	groups := byBucket(keys)
	pipe := s.rdb.Pipeline()
	var cmds []*goredis.IntCmd
	for _, r := range raw {
		bucket, err := strconv.ParseUint(r, 10, 64)
		if err != nil {
			return errCorrupt("list expiry buckets")
		}
		offs := groups[bucket]
		if len(offs) == 0 {
			continue
		}
		fields := make([]string, len(offs))
		for i, m := range offs {
			fields[i] = strconv.FormatUint(m, 10)
		}
		cmds = append(cmds, pipe.HDel(ctx, s.k.listExpiries(list, bucket), fields...))
	}
	if len(cmds) == 0 {
		return nil
	}
	_, _ = pipe.Exec(ctx) // every command's error is checked below
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return fail(ctx, op, err)
		}
	}
	return nil
}

// RemoveFromList removes keys from the named list and returns how many were
// there; chunked like AddToList. A list that does not exist is not created.
func (s *Store) RemoveFromList(ctx context.Context, list string, keys []uint64) (int, error) {
	const op = "remove from list"
	if err := cmp.Or(checkList(list), filter.ValidateListKeys(keys)); err != nil {
		return 0, err
	}
	if err := s.begin(ctx, op); err != nil {
		return 0, err
	}
	removed, err := s.runListScript(ctx, op, removeScript, list, keys)
	if err != nil {
		return removed, err
	}
	// After the keys: a crash in between leaves an expiry of a key that is
	// not listed, which its next add replaces or deletes.
	if err := s.clearExpiries(ctx, op, list, keys); err != nil {
		return removed, err
	}
	return removed, s.replicated(ctx, op)
}

// sweepPage is how many expiry fields SweepList asks each HSCAN for, and
// about the most candidates one sweepScript call carries; sweepBuckets is
// the most buckets one pipeline of HSCANs reads and one call sweeps.
const (
	sweepPage    = 1000
	sweepBuckets = 128
)

// sweepBucket is one bucket's part of a sweepScript call: the offsets whose
// expiry HSCAN read as passed.
type sweepBucket struct {
	bucket uint64
	offs   []uint64
}

// SweepList removes the entries of the named list whose expiry is at or
// before before (to the millisecond) and returns how many it removed. It
// reads the buckets in the list's expiry registry sweepBuckets at a time,
// the first HSCAN page of each in one pipeline (a small hash comes whole),
// and passes their expired offsets to sweepScript, which reads each expiry
// again and removes them as removeScript does, feed entry included, in one
// atomic step per call. A failure leaves the earlier calls' sweeps done;
// sweeping again is safe. EInvalid for a bad list name or a zero before.
func (s *Store) SweepList(ctx context.Context, list string, before time.Time) (int, error) {
	const op = "sweep list"
	if err := cmp.Or(checkList(list), filter.ValidateSweepBefore(before)); err != nil {
		return 0, err
	}
	if err := s.begin(ctx, op); err != nil {
		return 0, err
	}
	raw, err := s.rdb.SMembers(ctx, s.k.listExpiryBuckets(list)).Result()
	if err != nil {
		return 0, fail(ctx, op, err)
	}
	buckets := make([]uint64, len(raw))
	for i, r := range raw {
		if buckets[i], err = strconv.ParseUint(r, 10, 64); err != nil {
			return 0, errCorrupt("list expiry buckets")
		}
	}
	slices.Sort(buckets)
	limit := ms(before)
	total, ran := 0, false
	var batch []sweepBucket
	pending := 0 // candidates in batch
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		ks, args := s.sweepCall(list, limit, batch)
		n, err := sweepScript.Run(ctx, s.rdb, ks, args...).Int()
		if err != nil {
			return fail(ctx, op, err)
		}
		total, ran, batch, pending = total+n, true, batch[:0], 0
		return nil
	}
	// add queues a bucket's candidates, in calls of about sweepPage. A
	// bucket with none (its expiry hash is gone) still goes once: the script
	// takes it out of the registry.
	add := func(bucket uint64, offs []uint64) error {
		for first := true; first || len(offs) > 0; first = false {
			part := offs[:min(len(offs), sweepPage)]
			offs = offs[len(part):]
			if len(batch) == sweepBuckets || (pending > 0 && pending+len(part) > sweepPage) {
				if err := flush(); err != nil {
					return err
				}
			}
			batch = append(batch, sweepBucket{bucket, part})
			pending += len(part)
		}
		return nil
	}
	for group := range slices.Chunk(buckets, sweepBuckets) {
		if err := s.begin(ctx, op); err != nil {
			return total, err
		}
		pipe := s.rdb.Pipeline()
		scans := make([]*goredis.ScanCmd, len(group))
		for i, bucket := range group {
			scans[i] = pipe.HScan(ctx, s.k.listExpiries(list, bucket), 0, "", sweepPage)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return total, fail(ctx, op, err)
		}
		for i, bucket := range group {
			kvs, cursor, err := scans[i].Result()
			var cand []uint64
			seen := false // the hash has fields
			for {
				if err != nil {
					return total, fail(ctx, op, err)
				}
				seen = seen || len(kvs) > 0
				if cand, err = expiredFields(cand, kvs, limit); err != nil {
					return total, err
				}
				if cursor == 0 {
					break
				}
				kvs, cursor, err = s.rdb.HScan(ctx, s.k.listExpiries(list, bucket), cursor, "", sweepPage).Result()
			}
			if len(cand) == 0 && seen {
				continue // nothing expired yet: nothing to write
			}
			// HSCAN may return a field twice: the script wants offsets
			// ascending and unique.
			slices.Sort(cand)
			if err := add(bucket, slices.Compact(cand)); err != nil {
				return total, err
			}
		}
	}
	if err := flush(); err != nil {
		return total, err
	}
	if !ran {
		return total, nil
	}
	return total, s.replicated(ctx, op)
}

// expiredFields appends to cand the offsets among HSCAN's field/value pairs
// kvs whose expiry (Unix ms) is at or before limit.
func expiredFields(cand []uint64, kvs []string, limit int64) ([]uint64, error) {
	for i := 0; i+1 < len(kvs); i += 2 {
		m, err1 := strconv.ParseUint(kvs[i], 10, 64)
		exp, err2 := strconv.ParseInt(kvs[i+1], 10, 64)
		if err1 != nil || err2 != nil || m >= bucketSize {
			return cand, errCorrupt("list expiry")
		}
		if exp <= limit {
			cand = append(cand, m)
		}
	}
	return cand, nil
}

// sweepCall is the KEYS and ARGV of one sweepScript call over batch, whose
// offsets expired at limit (Unix ms).
func (s *Store) sweepCall(list string, limit int64, batch []sweepBucket) ([]string, []any) {
	ks := make([]string, 0, 5+2*len(batch))
	ks = append(ks, s.k.listMeta(list), s.k.listBuckets(list), s.k.listFeed(list),
		s.k.listOp(list, newEpoch()), // one per call: a retry of it finds its result
		s.k.listExpiryBuckets(list))
	args := make([]any, 0, 5+len(batch))
	args = append(args, strconv.FormatInt(ms(time.Now()), 10), newEpoch(), strconv.FormatInt(s.feedMaxLen, 10),
		strconv.FormatInt(listOpTTL.Milliseconds(), 10), strconv.FormatInt(limit, 10))
	var b []byte
	for _, sb := range batch {
		ks = append(ks, s.k.listBucket(list, sb.bucket), s.k.listExpiries(list, sb.bucket))
		b = strconv.AppendUint(b[:0], sb.bucket, 10)
		for _, m := range sb.offs {
			b = append(b, ' ')
			b = strconv.AppendUint(b, m, 10)
		}
		args = append(args, string(b))
	}
	return ks, args
}

// runListScript runs addScript or removeScript over keys, grouped by bucket,
// in chunks; with no keys it runs once with no buckets.
func (s *Store) runListScript(ctx context.Context, op string, script *goredis.Script, list string, keys []uint64) (int, error) {
	byBucket := map[uint64][]uint64{}
	for _, k := range keys {
		byBucket[k/bucketSize] = append(byBucket[k/bucketSize], k%bucketSize)
	}
	buckets := slices.Sorted(func(yield func(uint64) bool) {
		for b := range byBucket {
			if !yield(b) {
				return
			}
		}
	})
	total := 0
	run := func(ks []string, args []any) error {
		args[0] = strconv.FormatInt(ms(time.Now()), 10)
		args[1] = newEpoch()
		ks[3] = s.k.listOp(list, newEpoch()) // one per call: a retry of it finds its result
		n, err := script.Run(ctx, s.rdb, ks, args...).Int()
		if err != nil {
			return fail(ctx, op, err)
		}
		total += n
		return nil
	}
	head := []string{s.k.listMeta(list), s.k.listBuckets(list), s.k.listFeed(list), ""}
	maxLen := strconv.FormatInt(s.feedMaxLen, 10)
	opTTL := strconv.FormatInt(listOpTTL.Milliseconds(), 10)
	ks, args, inChunk := slices.Clone(head), []any{"", "", maxLen, opTTL}, 0
	var b strings.Builder
	for _, bucket := range buckets {
		offs := slices.Compact(slices.Sorted(slices.Values(byBucket[bucket]))) // the scripts want offsets ascending, unique
		// A bucket holds up to a million keys: split it across calls so
		// that no call carries more than scriptChunk keys.
		for len(offs) > 0 {
			part := offs[:min(len(offs), scriptChunk-inChunk)]
			offs = offs[len(part):]
			b.Reset()
			b.WriteString(strconv.FormatUint(bucket, 10))
			for _, m := range part {
				b.WriteByte(' ')
				b.WriteString(strconv.FormatUint(m, 10))
			}
			ks = append(ks, s.k.listBucket(list, bucket))
			args = append(args, b.String())
			inChunk += len(part)
			if inChunk >= scriptChunk {
				if err := run(ks, args); err != nil {
					return total, err
				}
				ks, args, inChunk = slices.Clone(head), []any{"", "", maxLen, opTTL}, 0
			}
		}
	}
	if len(ks) > len(head) || len(buckets) == 0 {
		if err := run(ks, args); err != nil {
			return total, err
		}
	}
	return total, nil
}

// ScanList calls fn with every key of the named list in ascending order,
// reading scanPage buckets per round trip. It is not a snapshot: keys added or
// removed during the scan may or may not be seen.
func (s *Store) ScanList(ctx context.Context, list string, fn func(key uint64) error) error {
	const op = "scan list"
	if err := checkList(list); err != nil {
		return err
	}
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	raw, err := s.rdb.ZRangeByScore(ctx, s.k.listBuckets(list), &goredis.ZRangeBy{Min: "-inf", Max: "+inf"}).Result()
	if err != nil {
		return fail(ctx, op, err)
	}
	buckets := make([]uint64, len(raw))
	for i, r := range raw {
		if buckets[i], err = strconv.ParseUint(r, 10, 64); err != nil {
			return errCorrupt("list bucket")
		}
	}
	slices.Sort(buckets)
	for len(buckets) > 0 {
		page := buckets[:min(scanPage, len(buckets))]
		buckets = buckets[len(page):]
		if err := s.begin(ctx, op); err != nil {
			return err
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*goredis.StringCmd, len(page))
		for i, bucket := range page {
			cmds[i] = pipe.Get(ctx, s.k.listBucket(list, bucket))
		}
		_, _ = pipe.Exec(ctx) // every command's error is checked below
		for i, bucket := range page {
			v, err := cmds[i].Bytes()
			if errors.Is(err, goredis.Nil) {
				continue // emptied since the bucket index was read
			}
			if err != nil {
				return fail(ctx, op, err)
			}
			if err := scanBucket(v, bucket*bucketSize, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// scanBucket calls fn with base + each offset of a bucket (see luaBuckets),
// in ascending order. A value of neither form is damaged.
func scanBucket(v []byte, base uint64, fn func(key uint64) error) error {
	if len(v) == bitmapLen {
		for i, b := range v {
			for b != 0 {
				z := bits.LeadingZeros8(b)
				if err := fn(base + uint64(i)*8 + uint64(z)); err != nil {
					return err
				}
				b &^= 0x80 >> z
			}
		}
		return nil
	}
	if len(v)%3 != 0 || len(v) > 3*maxPacked {
		return errCorrupt("list bucket")
	}
	prev := -1
	for i := 0; i < len(v); i += 3 {
		m := int(v[i])<<16 | int(v[i+1])<<8 | int(v[i+2])
		if m <= prev || m >= bucketSize {
			return errCorrupt("list bucket")
		}
		prev = m
		if err := fn(base + uint64(m)); err != nil {
			return err
		}
	}
	return nil
}

// Lists describes every list, sorted by name, in two round trips (one per
// node in Cluster for the second).
func (s *Store) Lists(ctx context.Context) ([]filter.ListInfo, error) {
	const op = "read lists"
	if err := s.begin(ctx, op); err != nil {
		return nil, err
	}
	names, err := s.rdb.SMembers(ctx, s.k.lists()).Result()
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	slices.Sort(names)
	pipe := s.rdb.Pipeline()
	cmds := make([]*goredis.SliceCmd, len(names))
	for i, name := range names {
		cmds[i] = pipe.HMGet(ctx, s.k.listMeta(name), "count", "updated", "source")
	}
	if len(names) > 0 {
		_, _ = pipe.Exec(ctx) // every command's error is checked below
	}
	infos := make([]filter.ListInfo, 0, len(names))
	for i, name := range names {
		vals, err := cmds[i].Result()
		if err != nil {
			return nil, fail(ctx, op, err)
		}
		if vals[0] == nil && vals[1] == nil {
			continue // registered by an add that failed before its first chunk
		}
		count, err1 := strconv.ParseInt(str(vals[0]), 10, 64)
		updated, err2 := strconv.ParseInt(str(vals[1]), 10, 64)
		if err1 != nil || err2 != nil {
			return nil, errCorrupt("list meta")
		}
		info := filter.ListInfo{Name: name, Count: count, UpdatedAt: fromMS(updated)}
		if v := str(vals[2]); v != "" {
			source, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, errCorrupt("list meta")
			}
			info.SourceDate = fromMS(source)
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// SetListSource records the named list's source date, to the millisecond,
// in its meta hash (one script: the list must exist). EInvalid for a zero
// date or a bad name, ENotFound if the list does not exist.
func (s *Store) SetListSource(ctx context.Context, list string, sourceDate time.Time) error {
	const op = "set list source"
	if err := cmp.Or(checkList(list), filter.ValidateListSource(sourceDate)); err != nil {
		return err
	}
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	n, err := setSourceScript.Run(ctx, s.rdb, []string{s.k.listMeta(list)}, strconv.FormatInt(ms(sourceDate), 10)).Int()
	if err != nil {
		return fail(ctx, op, err)
	}
	if n == 0 {
		return filter.Errorf(filter.ENotFound, "", "list %q does not exist", list)
	}
	return s.replicated(ctx, op)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// replaceAttempts bounds how often ReplaceList and DeleteList read the
// buckets again because a write changed them in between.
const replaceAttempts = 8

// listBuckets reads the bucket numbers of the named list: those of its key
// buckets and of its expiry hashes, in one round trip.
func (s *Store) listBuckets(ctx context.Context, pipe goredis.Pipeliner, list string) (buckets, xbuckets func() ([]string, error)) {
	b := pipe.ZRange(ctx, s.k.listBuckets(list), 0, -1)
	x := pipe.SMembers(ctx, s.k.listExpiryBuckets(list))
	return b.Result, x.Result
}

// bucketKeys returns the keys of the given buckets of list (key buckets, or
// expiry hashes when expiries is set).
func (s *Store) bucketKeys(list string, nums []string, expiries bool) ([]string, error) {
	out := make([]string, len(nums))
	for i, n := range nums {
		b, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			return nil, errCorrupt("list buckets")
		}
		if expiries {
			out[i] = s.k.listExpiries(list, b)
		} else {
			out[i] = s.k.listBucket(list, b)
		}
	}
	return out, nil
}

// ReplaceList makes the named list the keys of its variant from and deletes
// from, in one script (replaceScript: both are in the list's slot, see
// keys.go): the buckets are renamed, not copied. The list's feed gets an entry
// that makes every reader rebuild its filter. The buckets are read first and
// passed to the script, which checks them; if a write changed them in
// between, they are read again. EInvalid and ENotFound as filter.ListStore
// says; EConflict if the lists keep changing under it.
func (s *Store) ReplaceList(ctx context.Context, list, from string) (filter.ListInfo, error) {
	const op = "replace list"
	if err := cmp.Or(filter.ValidateReplace(list, from), checkList(list), checkList(from)); err != nil {
		return filter.ListInfo{}, err
	}
	if err := s.begin(ctx, op); err != nil {
		return filter.ListInfo{}, err
	}
	if err := s.rdb.SAdd(ctx, s.k.lists(), list).Err(); err != nil {
		return filter.ListInfo{}, fail(ctx, op, err)
	}
	opKey := s.k.listOp(list, newEpoch()) // one per call: a retry of it finds its result
	for range replaceAttempts {
		pipe := s.rdb.Pipeline()
		lb, lx := s.listBuckets(ctx, pipe, list)
		fb, fx := s.listBuckets(ctx, pipe, from)
		_, _ = pipe.Exec(ctx) // every command's error is checked below
		var sets [4][]string
		for i, r := range []func() ([]string, error){lb, lx, fb, fx} {
			v, err := r()
			if err != nil {
				return filter.ListInfo{}, fail(ctx, op, err)
			}
			sets[i] = v
		}
		ks := []string{
			s.k.listMeta(list), s.k.listBuckets(list), s.k.listFeed(list), s.k.listExpiryBuckets(list),
			s.k.listMeta(from), s.k.listBuckets(from), s.k.listFeed(from), s.k.listExpiryBuckets(from),
			opKey,
		}
		now := ms(time.Now())
		args := []any{strconv.FormatInt(now, 10), newEpoch(), strconv.FormatInt(s.feedMaxLen, 10),
			strconv.FormatInt(listOpTTL.Milliseconds(), 10), len(sets[0]), len(sets[1]), len(sets[2]), len(sets[3])}
		for i, nums := range sets {
			for _, n := range nums {
				args = append(args, n)
			}
			own, err := s.bucketKeys(list, nums, i%2 == 1)
			if err != nil {
				return filter.ListInfo{}, err
			}
			if i < 2 {
				ks = append(ks, own...)
				continue
			}
			theirs, err := s.bucketKeys(from, nums, i%2 == 1)
			if err != nil {
				return filter.ListInfo{}, err
			}
			for j := range theirs {
				ks = append(ks, theirs[j], own[j])
			}
		}
		res, err := replaceScript.Run(ctx, s.rdb, ks, args...).Text()
		if err != nil {
			return filter.ListInfo{}, fail(ctx, op, err)
		}
		switch res {
		case "-1":
			return filter.ListInfo{}, filter.Errorf(filter.ENotFound, "", "list %q does not exist", from)
		case "-2":
			continue
		}
		countStr, sourceStr, _ := strings.Cut(res, " ")
		count, err := strconv.ParseInt(countStr, 10, 64)
		if err != nil {
			return filter.ListInfo{}, errCorrupt("list meta")
		}
		info := filter.ListInfo{Name: list, Count: count, UpdatedAt: fromMS(now)}
		if sourceStr != "" {
			src, err := strconv.ParseInt(sourceStr, 10, 64)
			if err != nil {
				return filter.ListInfo{}, errCorrupt("list meta")
			}
			info.SourceDate = fromMS(src)
		}
		// The variant's name stays registered in P:lists (another slot):
		// Lists ignores a name without meta, and the next import uses it.
		return info, s.replicated(ctx, op)
	}
	return filter.ListInfo{}, filter.Errorf(filter.EConflict, "", "lists %q and %q kept changing during the replace: try again", list, from)
}

// DeleteList deletes the named list in one script (deleteScript), then its
// name from P:lists. EInvalid and ENotFound as filter.ListStore says.
func (s *Store) DeleteList(ctx context.Context, list string) error {
	const op = "delete list"
	if err := checkList(list); err != nil {
		return err
	}
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	opKey := s.k.listOp(list, newEpoch())
	for range replaceAttempts {
		pipe := s.rdb.Pipeline()
		lb, lx := s.listBuckets(ctx, pipe, list)
		_, _ = pipe.Exec(ctx) // every command's error is checked below
		buckets, err := lb()
		if err != nil {
			return fail(ctx, op, err)
		}
		xbuckets, err := lx()
		if err != nil {
			return fail(ctx, op, err)
		}
		ks := []string{s.k.listMeta(list), s.k.listBuckets(list), s.k.listFeed(list), s.k.listExpiryBuckets(list), opKey}
		args := []any{strconv.FormatInt(ms(time.Now()), 10), newEpoch(), strconv.FormatInt(s.feedMaxLen, 10),
			strconv.FormatInt(listOpTTL.Milliseconds(), 10), len(buckets), len(xbuckets)}
		for i, nums := range [][]string{buckets, xbuckets} {
			for _, n := range nums {
				args = append(args, n)
			}
			own, err := s.bucketKeys(list, nums, i == 1)
			if err != nil {
				return err
			}
			ks = append(ks, own...)
		}
		res, err := deleteScript.Run(ctx, s.rdb, ks, args...).Text()
		if err != nil {
			return fail(ctx, op, err)
		}
		switch res {
		case "-1":
			return filter.Errorf(filter.ENotFound, "", "list %q does not exist", list)
		case "-2":
			continue
		}
		// The name last (another slot). The list is deleted whatever
		// happens here: a name left registered is ignored by Lists (no
		// meta), so errors are not reported. A list created again
		// meanwhile (its meta exists) is registered again.
		if s.rdb.SRem(ctx, s.k.lists(), list).Err() == nil {
			if n, err := s.rdb.Exists(ctx, s.k.listMeta(list)).Result(); err == nil && n > 0 {
				_ = s.rdb.SAdd(ctx, s.k.lists(), list).Err()
			}
		}
		return s.replicated(ctx, op)
	}
	return filter.Errorf(filter.EConflict, "", "list %q kept changing during the delete: try again", list)
}
