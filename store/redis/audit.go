package redis

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/filter"
)

var (
	_ filter.AuditStore = (*Store)(nil)
	_ filter.RulesStore = (*Store)(nil)
)

// The audit trail's keys (the rest of the layout is in keys.go). Every key
// has the hash tag {a}: the chain is one sequence, kept on one Cluster node,
// and appendAuditScript updates it atomically whichever instance appends.
//
//	P:audit:{a}:head        hash: seq, hash (hex) of the last entry; cseq, chash of the checkpoint (last expired entry)
//	P:audit:{a}:log         hash: seq → entry JSON (filter.AuditEntry's stored form)
//	P:audit:{a}:time        sorted set, all scores 0: member "<ms, 20 digits>:<seq, 20 digits>" (by time, then seq)
//	P:audit:{a}:subj:<S>    sorted set: score and member = seq of each entry about subject S (hex)
func (k keys) auditHead() string { return k.prefix + ":audit:{a}:head" }
func (k keys) auditLog() string  { return k.prefix + ":audit:{a}:log" }
func (k keys) auditTime() string { return k.prefix + ":audit:{a}:time" }
func (k keys) auditSubj(s filter.Subject) string {
	return k.prefix + ":audit:{a}:subj:" + hex.EncodeToString(s[:])
}

func timeMember(t time.Time, seq uint64) string {
	return fmt.Sprintf("%020d:%020d", max(t.UnixMilli(), 0), seq)
}

// appendAuditScript appends entries if the chain's head is still the one
// they were chained on: the read of the last hash and the append are one
// atomic step, so instances sharing the store keep a single chain.
//
//	KEYS[1]   head hash
//	KEYS[2]   log hash
//	KEYS[3]   time index
//	KEYS[4..] subject indexes, each once
//	ARGV[1]   the expected head seq ("0" for an empty chain)
//	ARGV[2]   the expected head hash (hex; "" for an empty chain)
//	ARGV[3]   the new head seq, ARGV[4] its hash (hex)
//	ARGV[5..] per entry, 4 values: seq, time member, subject index key
//	          number (0: none), entry JSON
//
// Returns 1 when appended, 0 when the head moved (nothing is written).
var appendAuditScript = goredis.NewScript(`
local seq = redis.call('HGET', KEYS[1], 'seq') or '0'
local hash = redis.call('HGET', KEYS[1], 'hash') or ''
if seq ~= ARGV[1] or hash ~= ARGV[2] then
  return 0
end
for i = 5, #ARGV, 4 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 3])
  redis.call('ZADD', KEYS[3], 0, ARGV[i + 1])
  local ki = tonumber(ARGV[i + 2])
  if ki > 0 then
    redis.call('ZADD', KEYS[ki], ARGV[i], ARGV[i])
  end
end
redis.call('HSET', KEYS[1], 'seq', ARGV[3], 'hash', ARGV[4])
return 1
`)

func parseHead(seq, hash string) (filter.AuditHead, error) {
	var h filter.AuditHead
	if seq == "" {
		return h, nil
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	b, err2 := hex.DecodeString(hash)
	if err != nil || err2 != nil || len(b) != 32 {
		return h, errCorrupt("audit head")
	}
	h.Seq = n
	copy(h.Hash[:], b)
	return h, nil
}

func (s *Store) auditMeta(ctx context.Context, op, seqField, hashField string) (filter.AuditHead, error) {
	if err := s.begin(ctx, op); err != nil {
		return filter.AuditHead{}, err
	}
	v, err := s.rdb.HMGet(ctx, s.k.auditHead(), seqField, hashField).Result()
	if err != nil {
		return filter.AuditHead{}, fail(ctx, op, err)
	}
	seq, _ := v[0].(string)
	hash, _ := v[1].(string)
	return parseHead(seq, hash)
}

// AuditHead returns the chain's head.
func (s *Store) AuditHead(ctx context.Context) (filter.AuditHead, error) {
	return s.auditMeta(ctx, "read audit head", "seq", "hash")
}

// AuditCheckpoint returns the last expired entry's position.
func (s *Store) AuditCheckpoint(ctx context.Context) (filter.AuditHead, error) {
	return s.auditMeta(ctx, "read audit checkpoint", "cseq", "chash")
}

// AppendAudit appends entries after head, atomically (appendAuditScript).
func (s *Store) AppendAudit(ctx context.Context, head filter.AuditHead, entries []filter.AuditEntry) error {
	const op = "append audit"
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	ks := []string{s.k.auditHead(), s.k.auditLog(), s.k.auditTime()}
	subjIdx := map[filter.Subject]int{}
	expHash := ""
	if head.Seq > 0 {
		expHash = hex.EncodeToString(head.Hash[:])
	}
	last := entries[len(entries)-1]
	args := make([]any, 0, 4+4*len(entries))
	args = append(args, strconv.FormatUint(head.Seq, 10), expHash, strconv.FormatUint(last.Seq, 10), hex.EncodeToString(last.Hash[:]))
	want := head
	for i := range entries {
		e := &entries[i]
		if e.Seq != want.Seq+1 || e.Prev != want.Hash {
			return filter.Errorf(filter.EInvalid, "", "audit entry %d does not continue the chain at %d", e.Seq, want.Seq)
		}
		want = filter.AuditHead{Seq: e.Seq, Hash: e.Hash}
		v, err := e.MarshalJSON() // directly: json.Marshal would re-scan and compact the output
		if err != nil {
			return filter.Wrap(filter.EInvalid, err, "audit entry %d", e.Seq)
		}
		ki := 0
		if e.Subject != (filter.Subject{}) {
			var ok bool
			if ki, ok = subjIdx[e.Subject]; !ok {
				ks = append(ks, s.k.auditSubj(e.Subject))
				ki = len(ks) // Lua's KEYS are 1-based
				subjIdx[e.Subject] = ki
			}
		}
		args = append(args, strconv.FormatUint(e.Seq, 10), timeMember(e.Time, e.Seq), ki, v)
	}
	n, err := appendAuditScript.Run(ctx, s.rdb, ks, args...).Int()
	if err != nil {
		return fail(ctx, op, err)
	}
	if n == 0 {
		return filter.Errorf(filter.EConflict, "", "the audit chain's head moved")
	}
	return nil
}

func decodeAuditEntry(v any) (filter.AuditEntry, bool, error) {
	str, ok := v.(string)
	if !ok {
		return filter.AuditEntry{}, false, nil
	}
	var e filter.AuditEntry
	if err := json.Unmarshal([]byte(str), &e); err != nil {
		return e, false, errCorrupt("audit")
	}
	return e, true, nil
}

// maxAuditScan bounds the index entries one QueryAudit page examines.
const maxAuditScan = 100_000

func badCursor() error {
	return filter.Errorf(filter.EInvalid, "invalid_cursor", "the cursor is not one this store returned")
}

// QueryAudit returns a page of matching entries: by number through the
// subject index (chain order), otherwise through the time index (time order).
// Cursors are "s<seq>" and "t<time member>".
func (s *Store) QueryAudit(ctx context.Context, q filter.AuditQuery) ([]filter.AuditEntry, string, error) {
	const op = "query audit"
	if err := s.begin(ctx, op); err != nil {
		return nil, "", err
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	bySubj := q.Subject != (filter.Subject{})
	var after string // exclusive lower bound in the index
	switch {
	case q.After == "":
	case bySubj && strings.HasPrefix(q.After, "s"):
		if _, err := strconv.ParseUint(q.After[1:], 10, 64); err != nil {
			return nil, "", badCursor()
		}
		after = q.After[1:]
	case !bySubj && strings.HasPrefix(q.After, "t") && len(q.After) == 42:
		after = q.After[1:]
	default:
		return nil, "", badCursor()
	}
	var out []filter.AuditEntry
	examined := 0
	page := int64(max(q.Limit, 100))
	for {
		var members []string
		var err error
		if bySubj {
			min := "-inf"
			if after != "" {
				min = "(" + after
			}
			members, err = s.rdb.ZRangeByScore(ctx, s.k.auditSubj(q.Subject), &goredis.ZRangeBy{Min: min, Max: "+inf", Count: page}).Result()
		} else {
			min := "-"
			if after != "" {
				min = "(" + after
			} else if !q.From.IsZero() {
				min = "[" + timeMember(q.From, 0)
			}
			maxb := "+"
			if !q.To.IsZero() {
				maxb = "(" + timeMember(q.To, 0)
			}
			members, err = s.rdb.ZRangeByLex(ctx, s.k.auditTime(), &goredis.ZRangeBy{Min: min, Max: maxb, Count: page}).Result()
		}
		if err != nil {
			return nil, "", fail(ctx, op, err)
		}
		if len(members) == 0 {
			return out, "", nil
		}
		seqs := make([]string, len(members))
		for i, m := range members {
			seqs[i] = m
			if !bySubj {
				_, seq, _ := strings.Cut(m, ":")
				seqs[i] = strings.TrimLeft(seq, "0")
			}
		}
		vals, err := s.rdb.HMGet(ctx, s.k.auditLog(), seqs...).Result()
		if err != nil {
			return nil, "", fail(ctx, op, err)
		}
		for i, v := range vals {
			after = members[i]
			cursor := "s" + after
			if !bySubj {
				cursor = "t" + after
			}
			if examined++; examined > maxAuditScan {
				return out, cursor, nil
			}
			e, ok, err := decodeAuditEntry(v)
			if err != nil {
				return nil, "", err
			}
			if !ok || !q.Matches(&e) {
				continue
			}
			out = append(out, e)
			if len(out) == q.Limit {
				return out, cursor, nil
			}
		}
		if int64(len(members)) < page {
			return out, "", nil
		}
	}
}

// ScanAudit calls fn with the entries from Seq from to the head, reading
// pages of 1000.
func (s *Store) ScanAudit(ctx context.Context, from uint64, fn func(filter.AuditEntry) error) error {
	const op = "scan audit"
	head, err := s.AuditHead(ctx)
	if err != nil {
		return err
	}
	from = max(from, 1)
	for lo := from; lo <= head.Seq; lo += 1000 {
		hi := min(lo+999, head.Seq)
		fields := make([]string, 0, hi-lo+1)
		for n := lo; n <= hi; n++ {
			fields = append(fields, strconv.FormatUint(n, 10))
		}
		vals, err := s.rdb.HMGet(ctx, s.k.auditLog(), fields...).Result()
		if err != nil {
			return fail(ctx, op, err)
		}
		for _, v := range vals {
			e, ok, err := decodeAuditEntry(v)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// ExpireAudit deletes up to limit entries from the start of the chain whose
// Time is before before, and moves the checkpoint past them, in one MULTI.
func (s *Store) ExpireAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	const op = "expire audit"
	cp, err := s.AuditCheckpoint(ctx)
	if err != nil {
		return 0, err
	}
	head, err := s.AuditHead(ctx)
	if err != nil {
		return 0, err
	}
	var old []filter.AuditEntry
	err = s.ScanAudit(ctx, cp.Seq+1, func(e filter.AuditEntry) error {
		if len(old) >= limit || !e.Time.Before(before) || e.Seq != cp.Seq+1+uint64(len(old)) || e.Seq > head.Seq {
			return errStopScan
		}
		old = append(old, e)
		return nil
	})
	if err != nil && err != errStopScan {
		return 0, err
	}
	if len(old) == 0 {
		return 0, nil
	}
	last := old[len(old)-1]
	_, err = s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for _, e := range old {
			seq := strconv.FormatUint(e.Seq, 10)
			p.HDel(ctx, s.k.auditLog(), seq)
			p.ZRem(ctx, s.k.auditTime(), timeMember(e.Time, e.Seq))
			if e.Subject != (filter.Subject{}) {
				p.ZRem(ctx, s.k.auditSubj(e.Subject), seq)
			}
		}
		p.HSet(ctx, s.k.auditHead(), "cseq", strconv.FormatUint(last.Seq, 10), "chash", hex.EncodeToString(last.Hash[:]))
		return nil
	})
	if err != nil {
		return 0, fail(ctx, op, err)
	}
	return len(old), nil
}

var errStopScan = fmt.Errorf("stop scan")
