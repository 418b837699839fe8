package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The change feed. Every change to a list is appended to the list's stream
// (P:list:{N}:feed) by the same Lua script that changes the list (addScript,
// removeScript), so a change is in the feed if and only if it is in the list,
// and in the order Redis applied them. Each entry carries the list's change
// sequence number (1, 2, 3… without gaps) and an epoch (random, set when the
// list's meta is created): a reader that sees a sequence number other than
// the one after its last, or another epoch, missed changes (the feed was
// trimmed past it, or Redis lost data and the list was created again) and
// must rebuild from the list itself.

// FeedPos is a position in a list's change feed: the id of the last entry
// read and its sequence number and epoch. The zero value (with ID "") is not
// a position; a list with no feed entries yet has ID "0-0", Seq 0, and the
// epoch its meta has ("" for a new list).
type FeedPos struct {
	ID    string
	Seq   uint64
	Epoch string
}

// Change is one entry of a list's change feed.
type Change struct {
	Pos FeedPos
	// Removed is true for a removal, whose Keys are not recorded (Count is
	// how many keys were removed); false for an addition of Keys (every key
	// the add was given, whether or not it was new).
	Removed bool
	Count   int
	Keys    []uint64
}

// FeedHead returns the position of the last change in the list's feed,
// atomically with the list's state: every change after it is in the feed
// after it, and every change up to it is in the list (scan the list after
// calling FeedHead, then read the feed from the position, and nothing is
// missed). EInvalid for a bad list name; EUnavailable when Redis cannot be
// read.
func (s *Store) FeedHead(ctx context.Context, list string) (FeedPos, error) {
	const op = "read feed head"
	if err := checkList(list); err != nil {
		return FeedPos{}, err
	}
	if err := s.begin(ctx, op); err != nil {
		return FeedPos{}, err
	}
	vals, err := feedHeadScript.Run(ctx, s.rdb, []string{s.k.listMeta(list), s.k.listFeed(list)}).StringSlice()
	if err != nil {
		return FeedPos{}, fail(ctx, op, err)
	}
	if len(vals) != 3 {
		return FeedPos{}, errCorrupt("list feed head")
	}
	seq, err := strconv.ParseUint(vals[1], 10, 64)
	if err != nil {
		return FeedPos{}, errCorrupt("list meta seq")
	}
	return FeedPos{ID: vals[0], Seq: seq, Epoch: vals[2]}, nil
}

// ReadFeed returns up to count changes of the list after the entry id after,
// waiting up to block for the first when there is none yet (no changes and no
// error when block passes). ctx bounds the whole call, block included: give
// it a deadline a little longer than block, or a connection that hangs is
// noticed only after block plus go-redis's 10 s allowance. EUnavailable when
// Redis cannot be read, or an entry is damaged.
func (s *Store) ReadFeed(ctx context.Context, list, after string, block time.Duration, count int64) ([]Change, error) {
	const op = "read feed"
	if err := checkList(list); err != nil {
		return nil, err
	}
	if err := s.begin(ctx, op); err != nil {
		return nil, err
	}
	res, err := s.rdb.XRead(ctx, &goredis.XReadArgs{
		Streams: []string{s.k.listFeed(list), after},
		Count:   count,
		Block:   max(block, time.Millisecond),
	}).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	var out []Change
	for _, st := range res {
		for _, m := range st.Messages {
			c, err := parseChange(m)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// parseChange reads one feed entry (see addScript and removeScript).
func parseChange(m goredis.XMessage) (Change, error) {
	field := func(name string) string {
		v, _ := m.Values[name].(string)
		return v
	}
	seq, err := strconv.ParseUint(field("s"), 10, 64)
	if err != nil || seq == 0 {
		return Change{}, errCorrupt("list feed entry")
	}
	c := Change{Pos: FeedPos{ID: m.ID, Seq: seq, Epoch: field("e")}}
	switch field("op") {
	case "a":
		keys, err := parseBuckets(field("k"))
		if err != nil {
			return Change{}, err
		}
		c.Keys, c.Count = keys, len(keys)
	case "r":
		n, err := strconv.Atoi(field("n"))
		if err != nil {
			return Change{}, errCorrupt("list feed entry")
		}
		c.Removed, c.Count = true, n
	default:
		return Change{}, errCorrupt("list feed entry")
	}
	return c, nil
}

// parseBuckets reads "bucket m m…;bucket m…" back into keys.
func parseBuckets(k string) ([]uint64, error) {
	var keys []uint64
	for group := range strings.SplitSeq(k, ";") {
		if group == "" {
			continue
		}
		var bucket uint64
		first := true
		for tok := range strings.FieldsSeq(group) {
			v, err := strconv.ParseUint(tok, 10, 64)
			if err != nil || (!first && v >= bucketSize) {
				return nil, errCorrupt("list feed entry")
			}
			if first {
				bucket, first = v, false
				continue
			}
			keys = append(keys, bucket*bucketSize+v)
		}
	}
	return keys, nil
}

// newEpoch is a random epoch for a list meta created by this call.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Healthy pings Redis (every primary in Cluster). EUnavailable when it does
// not answer within ctx and the read timeout.
func (s *Store) Healthy(ctx context.Context) error {
	const op = "ping"
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.readTO+s.readTO/2)
	defer cancel()
	if c, ok := s.rdb.(*goredis.ClusterClient); ok {
		return fail(ctx, op, c.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
			return n.Ping(ctx).Err()
		}))
	}
	return fail(ctx, op, s.rdb.Ping(ctx).Err())
}

// Persistence reports how Redis keeps what it acknowledged: the values of
// appendonly ("yes" or "no") and appendfsync ("always", "everysec", "no") and
// whether RDB snapshots are configured (save). In Cluster it asks one
// primary. EUnavailable when Redis cannot be read or refuses CONFIG (renamed
// or forbidden by ACL): then nothing is known.
func (s *Store) Persistence(ctx context.Context) (appendonly, appendfsync string, rdb bool, err error) {
	const op = "read persistence config"
	if err := s.begin(ctx, op); err != nil {
		return "", "", false, err
	}
	vals, err := s.rdb.ConfigGet(ctx, "append*").Result()
	if err != nil {
		return "", "", false, fail(ctx, op, err)
	}
	save, err := s.rdb.ConfigGet(ctx, "save").Result()
	if err != nil {
		return "", "", false, fail(ctx, op, err)
	}
	return vals["appendonly"], vals["appendfsync"], strings.TrimSpace(save["save"]) != "", nil
}
