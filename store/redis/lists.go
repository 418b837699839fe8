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
	added, err := s.runListScript(ctx, op, addScript, list, keys)
	if err != nil {
		return added, err
	}
	// A permanent add makes an expiring entry permanent.
	return added, s.clearExpiries(ctx, op, list, keys)
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
	return s.runListScript(ctx, op, addScript, list, keys)
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
	return removed, s.clearExpiries(ctx, op, list, keys)
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
		cmds[i] = pipe.HMGet(ctx, s.k.listMeta(name), "count", "updated")
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
		infos = append(infos, filter.ListInfo{Name: name, Count: count, UpdatedAt: fromMS(updated)})
	}
	return infos, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
