package redis

import (
	"context"
	"encoding/hex"
	"errors"
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
//	P:audit:{a}:log         hash: seq → the entry's record (filter.AuditRecord, as the writer sealed it)
//	P:audit:{a}:block       hash: block (seq >> auditBlockShift) → "<least>:<greatest>" Time of its entries (Unix ms)
//	P:audit:{a}:subj:<S>    sorted set: score and member = seq of each entry about subject S (hex)
//
// The format changed with filter.AuditRecord (it was JSON, with a sorted set
// of every entry by time); there was no deployed data to migrate, and an old
// record is reported damaged, never skipped. Time queries read the block
// summaries and scan only the blocks that can hold a match, in chain order:
// one small hash field per block instead of a sorted-set member per entry.
func (k keys) auditHead() string  { return k.prefix + ":audit:{a}:head" }
func (k keys) auditLog() string   { return k.prefix + ":audit:{a}:log" }
func (k keys) auditBlock() string { return k.prefix + ":audit:{a}:block" }
func (k keys) auditSubj(s filter.Subject) string {
	return k.prefix + ":audit:{a}:subj:" + hex.EncodeToString(s[:])
}

// auditBlockShift sizes the blocks of the time summary (1024 entries); a
// variable so that the tests can make blocks small enough to cross.
var auditBlockShift uint = 10

// appendAuditScript appends records if the chain's head is still the one
// they were sealed on: the read of the last hash and the append are one
// atomic step, so instances sharing the store keep a single chain.
//
//	KEYS[1]   head hash
//	KEYS[2]   log hash
//	KEYS[3]   block summaries
//	KEYS[4..] subject indexes, each once
//	ARGV[1]   the expected head seq ("0" for an empty chain)
//	ARGV[2]   the expected head hash (hex; "" for an empty chain)
//	ARGV[3]   the new head seq, ARGV[4] its hash (hex)
//	ARGV[5]   n, the number of records; then n pairs: seq, record
//	then      m, the number of blocks; then m triples: block, least, greatest (Unix ms)
//	then      for each subject index KEYS[3+j]: a count c, then c seqs
//
// Returns 1 when appended, 0 when the head moved (nothing is written). A
// head that is already the new one means this very append was done (a retry
// of a call whose reply was lost: the head hash chains every record), so it
// returns 1 and writes nothing again.
// Commands take many arguments at once (unpack, in chunks below Lua's stack
// limit) rather than one call per entry.
var appendAuditScript = goredis.NewScript(`
local seq = redis.call('HGET', KEYS[1], 'seq') or '0'
local hash = redis.call('HGET', KEYS[1], 'hash') or ''
if seq == ARGV[3] and hash == ARGV[4] then
  return 1
end
if seq ~= ARGV[1] or hash ~= ARGV[2] then
  return 0
end
local n = tonumber(ARGV[5])
local p = 6
local last = p + 2 * n - 1
while p <= last do
  local e = math.min(p + 3999, last)
  redis.call('HSET', KEYS[2], unpack(ARGV, p, e))
  p = e + 1
end
local m = tonumber(ARGV[p])
p = p + 1
for i = 1, m do
  local b, lo, hi = ARGV[p], tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
  local old = redis.call('HGET', KEYS[3], b)
  if old then
    local olo, ohi = string.match(old, '^(%-?%d+):(%-?%d+)$')
    lo = math.min(lo, tonumber(olo))
    hi = math.max(hi, tonumber(ohi))
  end
  redis.call('HSET', KEYS[3], b, string.format('%d:%d', lo, hi))
  p = p + 3
end
for k = 4, #KEYS do
  local c = tonumber(ARGV[p])
  for i = 1, c, 1000 do
    local args = {}
    for j = i, math.min(i + 999, c) do
      args[#args + 1] = ARGV[p + j]
      args[#args + 1] = ARGV[p + j]
    end
    redis.call('ZADD', KEYS[k], unpack(args))
  end
  p = p + c + 1
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

// AuditBatchLimit bounds the records of one AppendAudit (the audit writer
// reads it): the script that appends them blocks the server for every other
// client while it runs, ~1 µs a record.
func (s *Store) AuditBatchLimit() int { return 4096 }

// AppendAudit appends recs after head, atomically, in one script call
// (appendAuditScript).
func (s *Store) AppendAudit(ctx context.Context, head filter.AuditHead, recs []filter.AuditRecord) error {
	const op = "append audit"
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	want, err := filter.ValidateAuditAppend(head, recs)
	if err != nil {
		return err
	}
	expHash := ""
	if head.Seq > 0 {
		expHash = hex.EncodeToString(head.Hash[:])
	}
	ks := []string{s.k.auditHead(), s.k.auditLog(), s.k.auditBlock()}
	args := make([]any, 0, 8+2*len(recs)+2*len(recs)/64+len(recs)+8)
	args = append(args, head.Seq, expHash, want.Seq, hex.EncodeToString(want.Hash[:]), len(recs))
	for _, r := range recs {
		args = append(args, r.Seq(), []byte(r))
	}
	// Block summaries: recs are in Seq order, so each block is one run.
	nb := len(args)
	args = append(args, 0)
	for i := 0; i < len(recs); {
		blk := recs[i].Seq() >> auditBlockShift
		lo, hi := recs[i].Time().UnixMilli(), recs[i].Time().UnixMilli()
		for ; i < len(recs) && recs[i].Seq()>>auditBlockShift == blk; i++ {
			t := recs[i].Time().UnixMilli()
			lo, hi = min(lo, t), max(hi, t)
		}
		args = append(args, blk, lo, hi)
		args[nb] = args[nb].(int) + 1
	}
	// Subject indexes: each key once, with its seqs.
	bySubj := map[filter.Subject][]uint64{}
	var order []filter.Subject
	for _, r := range recs {
		if sub, ok := r.Subject(); ok {
			if _, seen := bySubj[sub]; !seen {
				order = append(order, sub)
			}
			bySubj[sub] = append(bySubj[sub], r.Seq())
		}
	}
	for _, sub := range order {
		ks = append(ks, s.k.auditSubj(sub))
		seqs := bySubj[sub]
		args = append(args, len(seqs))
		for _, q := range seqs {
			args = append(args, q)
		}
	}
	n, err := appendAuditScript.Run(ctx, s.rdb, ks, args...).Int()
	if err != nil {
		return fail(ctx, op, err)
	}
	if n == 0 {
		return filter.Errorf(filter.EConflict, "", "the audit chain's head moved")
	}
	return s.replicated(ctx, op)
}

// maxAuditScan bounds the index entries and records one QueryAudit page
// examines.
const maxAuditScan = 100_000

// auditPage is the page size of the reads of the log.
const auditPage = 1000

func badCursor() error {
	return filter.Errorf(filter.EInvalid, "invalid_cursor", "the cursor is not one this store returned")
}

// page gathers one QueryAudit page.
type page struct {
	q        *filter.AuditQuery
	out      []filter.AuditEntry
	examined int
	pos      uint64 // every Seq up to pos is examined
}

// take examines the record of seq (v nil: missing) and reports true when the
// page is complete: full, or at its bound of work.
func (p *page) take(seq uint64, v any) (bool, error) {
	if p.examined++; p.examined > maxAuditScan {
		return true, nil
	}
	p.pos = seq
	str, ok := v.(string)
	if !ok {
		return false, nil // expired, or deleted: Verify reports it
	}
	r := filter.AuditRecord(str)
	if !r.Valid() {
		return false, errCorrupt("audit")
	}
	if !p.q.MayMatch(r) {
		return false, nil
	}
	e, err := r.Decode()
	if err != nil {
		return false, errCorrupt("audit")
	}
	if !p.q.Matches(&e) {
		return false, nil
	}
	p.out = append(p.out, e)
	return len(p.out) == p.q.Limit, nil
}

// fields returns the log's fields for Seq lo..hi.
func fields(lo, hi uint64) []string {
	fs := make([]string, 0, hi-lo+1)
	for n := lo; n <= hi; n++ {
		fs = append(fs, strconv.FormatUint(n, 10))
	}
	return fs
}

// scan examines the records with Seq in [lo, hi].
func (s *Store) scan(ctx context.Context, p *page, lo, hi uint64) (bool, error) {
	for ; lo <= hi; lo += auditPage {
		end := min(lo+auditPage-1, hi)
		vals, err := s.rdb.HMGet(ctx, s.k.auditLog(), fields(lo, end)...).Result()
		if err != nil {
			return false, fail(ctx, "query audit", err)
		}
		for i, v := range vals {
			if done, err := p.take(lo+uint64(i), v); done || err != nil {
				return done, err
			}
		}
	}
	return false, nil
}

// QueryAudit returns a page of matching entries in chain order: by number
// through the subject index, by time through the block summaries, otherwise
// by reading the chain. Cursors are "s<seq>" (by number) and "c<seq>": the
// last Seq examined.
func (s *Store) QueryAudit(ctx context.Context, q filter.AuditQuery) ([]filter.AuditEntry, string, error) {
	const op = "query audit"
	if err := s.begin(ctx, op); err != nil {
		return nil, "", err
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	bySubj := q.Subject != (filter.Subject{})
	tag := "c"
	if bySubj {
		tag = "s"
	}
	start := uint64(1)
	if q.After != "" {
		n, err := strconv.ParseUint(strings.TrimPrefix(q.After, tag), 10, 64)
		if err != nil || !strings.HasPrefix(q.After, tag) || n == 1<<64-1 {
			return nil, "", badCursor()
		}
		start = n + 1
	}
	head, err := s.AuditHead(ctx)
	if err != nil {
		return nil, "", err
	}
	p := &page{q: &q, pos: start - 1}
	var done bool
	switch {
	case bySubj:
		done, err = s.querySubject(ctx, p, start)
	case !q.From.IsZero() || !q.To.IsZero():
		done, err = s.queryTime(ctx, p, start, head.Seq)
	default:
		done, err = s.scan(ctx, p, start, head.Seq)
	}
	if err != nil {
		return nil, "", err
	}
	if done {
		return p.out, tag + strconv.FormatUint(p.pos, 10), nil
	}
	return p.out, "", nil
}

func (s *Store) querySubject(ctx context.Context, p *page, start uint64) (bool, error) {
	const op = "query audit"
	for {
		members, err := s.rdb.ZRangeByScore(ctx, s.k.auditSubj(p.q.Subject), &goredis.ZRangeBy{
			Min: strconv.FormatUint(start, 10), Max: "+inf", Count: auditPage,
		}).Result()
		if err != nil {
			return false, fail(ctx, op, err)
		}
		if len(members) == 0 {
			return false, nil
		}
		seqs := make([]uint64, len(members))
		for i, m := range members {
			if seqs[i], err = strconv.ParseUint(m, 10, 64); err != nil {
				return false, errCorrupt("audit index")
			}
		}
		vals, err := s.rdb.HMGet(ctx, s.k.auditLog(), members...).Result()
		if err != nil {
			return false, fail(ctx, op, err)
		}
		for i, v := range vals {
			if done, err := p.take(seqs[i], v); done || err != nil {
				return done, err
			}
		}
		if len(members) < auditPage {
			return false, nil
		}
		start = seqs[len(seqs)-1] + 1
	}
}

func (s *Store) queryTime(ctx context.Context, p *page, start, head uint64) (bool, error) {
	const op = "query audit"
	lo, hi := int64(-1<<63), int64(1<<63-1)
	if !p.q.From.IsZero() {
		lo = p.q.From.UnixMilli()
	}
	if !p.q.To.IsZero() {
		hi = p.q.To.UnixMilli()
		if p.q.To.Nanosecond()%1e6 != 0 {
			hi++ // To is exclusive: a block reaching into its millisecond may hold a match
		}
	}
	for blk := start >> auditBlockShift; blk <= head>>auditBlockShift; {
		last := min(blk+auditPage-1, head>>auditBlockShift)
		vals, err := s.rdb.HMGet(ctx, s.k.auditBlock(), fields(blk, last)...).Result()
		if err != nil {
			return false, fail(ctx, op, err)
		}
		for i, v := range vals {
			b := blk + uint64(i)
			if p.examined++; p.examined > maxAuditScan {
				return true, nil
			}
			first, end := max(start, b<<auditBlockShift), min((b+1)<<auditBlockShift-1, head)
			if str, ok := v.(string); ok {
				l, g, ok := strings.Cut(str, ":")
				least, err1 := strconv.ParseInt(l, 10, 64)
				greatest, err2 := strconv.ParseInt(g, 10, 64)
				if !ok || err1 != nil || err2 != nil {
					return false, errCorrupt("audit block")
				}
				if greatest >= lo && least < hi {
					if done, err := s.scan(ctx, p, first, end); done || err != nil {
						return done, err
					}
				}
			}
			p.pos = end
		}
		blk = last + 1
	}
	return false, nil
}

// ScanAudit calls fn with the records from Seq from to the head, reading
// pages of 1000.
func (s *Store) ScanAudit(ctx context.Context, from uint64, fn func(uint64, filter.AuditRecord) error) error {
	const op = "scan audit"
	head, err := s.AuditHead(ctx)
	if err != nil {
		return err
	}
	from = max(from, 1)
	for lo := from; lo <= head.Seq; lo += auditPage {
		hi := min(lo+auditPage-1, head.Seq)
		vals, err := s.rdb.HMGet(ctx, s.k.auditLog(), fields(lo, hi)...).Result()
		if err != nil {
			return fail(ctx, op, err)
		}
		for i, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue
			}
			if err := fn(lo+uint64(i), filter.AuditRecord(str)); err != nil {
				return err
			}
		}
	}
	return nil
}

// expireAuditScript deletes expired entries and moves the checkpoint past
// them, unless another instance's expiry moved it further already (the
// checkpoint never goes back).
//
//	KEYS[1]   head hash
//	KEYS[2]   log hash
//	KEYS[3]   block summaries
//	KEYS[4..] subject indexes of the deleted entries, one per entry with a subject
//	ARGV[1]   the new checkpoint seq, ARGV[2] its hash (hex)
//	ARGV[3]   n, then n seqs to delete
//	then      m, then m blocks to delete (emptied)
//	then      one seq per KEYS[4..], to remove from that index
//
// Returns 1 when the checkpoint moved, 0 when it was past ARGV[1] already.
var expireAuditScript = goredis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'cseq') or '0')
if cur >= tonumber(ARGV[1]) then
  return 0
end
local n = tonumber(ARGV[3])
local p = 4
for i = 1, n do
  redis.call('HDEL', KEYS[2], ARGV[p])
  p = p + 1
end
local m = tonumber(ARGV[p])
p = p + 1
for i = 1, m do
  redis.call('HDEL', KEYS[3], ARGV[p])
  p = p + 1
end
for k = 4, #KEYS do
  redis.call('ZREM', KEYS[k], ARGV[p])
  p = p + 1
end
redis.call('HSET', KEYS[1], 'cseq', ARGV[1], 'chash', ARGV[2])
return 1
`)

// ExpireAudit deletes up to limit entries from the start of the chain whose
// Time is before before, and moves the checkpoint past them, in one script
// call (expireAuditScript).
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
	type old struct {
		seq     uint64
		hash    [32]byte
		subject filter.Subject
		has     bool
	}
	var olds []old
	err = s.ScanAudit(ctx, cp.Seq+1, func(seq uint64, r filter.AuditRecord) error {
		if len(olds) >= limit || seq != cp.Seq+1+uint64(len(olds)) || seq > head.Seq || !r.Valid() || !r.Time().Before(before) {
			return errStopScan
		}
		sub, has := r.Subject()
		olds = append(olds, old{seq: seq, hash: r.Hash(), subject: sub, has: has})
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return 0, err
	}
	if len(olds) == 0 {
		return 0, nil
	}
	last := olds[len(olds)-1]
	ks := []string{s.k.auditHead(), s.k.auditLog(), s.k.auditBlock()}
	args := []any{last.seq, hex.EncodeToString(last.hash[:]), len(olds)}
	for _, o := range olds {
		args = append(args, o.seq)
	}
	// Blocks that end at or before the new checkpoint hold nothing any more.
	var blocks []any
	for b := (cp.Seq + 1) >> auditBlockShift; b < (last.seq+1)>>auditBlockShift; b++ {
		blocks = append(blocks, b)
	}
	args = append(append(args, len(blocks)), blocks...)
	for _, o := range olds {
		if o.has {
			ks = append(ks, s.k.auditSubj(o.subject))
			args = append(args, o.seq)
		}
	}
	moved, err := expireAuditScript.Run(ctx, s.rdb, ks, args...).Int()
	if err != nil {
		return 0, fail(ctx, op, err)
	}
	if moved == 0 {
		return 0, nil // another instance expired them first
	}
	return len(olds), nil
}

var errStopScan = errors.New("stop scan")
