package embedded

import (
	"context"
	"encoding/binary"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"callfilter/filter"
)

var (
	_ filter.AuditStore = (*Store)(nil)
	_ filter.RulesStore = (*Store)(nil)
)

// The audit trail's buckets, created by the first append (keys.go describes
// the rest of the file):
//
//	audit        seq (uint64) of a chunk's first entry → a chunk: consecutive records of a
//	             batch (filter.AuditRecord, as the writer sealed them), about a page of them
//	auditmeta    "head" → seq | hash (40 bytes); "checkpoint" → seq | hash of the last expired entry;
//	             "indexed" → the number of segments the subject index covers (uint64)
//	auditblock   block (uint64) → least | greatest Time (Unix ns, int64 each) of its entries
//	auditsubj    segment (uint64) → the segment's subject index: sorted uint64s, each
//	             subject[:6] | the entry's offset in the segment (16 bits)
//
// The format changed with filter.AuditRecord (it was JSON with a time index
// and a subject index written per entry); there was no deployed data to
// migrate, and an old record is reported damaged, never skipped.
//
// Every write is an append at the end of a bucket, so that a batch dirties a
// few pages however large the trail grows, and a batch is a few values of a
// page each rather than a B-tree insertion per entry, which cost a third of
// the writer's time. A per-entry index keyed by
// subject (an HMAC, uniformly spread) made each batch rewrite one page per
// entry and cost more than everything else together. Instead:
//
//   - the subject index is written once a segment (1<<auditSegmentShift
//     entries) is complete, as one sorted value, by the append that completes
//     it; a search binary-searches it per segment and scans the records of
//     the segment not yet indexed (a comparison at a fixed offset of each
//     record, no decoding);
//   - time queries read the summary of each block (1<<auditBlockShift
//     entries: its least and greatest Time) and scan only the blocks that
//     can hold a match, in chain order.
var (
	bucketAudit      = []byte("audit")
	bucketAuditMeta  = []byte("auditmeta")
	bucketAuditBlock = []byte("auditblock")
	bucketAuditSubj  = []byte("auditsubj")

	auditHeadKey       = []byte("head")
	auditCheckpointKey = []byte("checkpoint")
	auditIndexedKey    = []byte("indexed")
)

// Sizes of the index units, as shifts of Seq. Variables so that the tests
// can make them small enough to cross.
var (
	auditSegmentShift uint = 16
	auditBlockShift   uint = 10
)

// maxAuditScan bounds the index keys and records one QueryAudit page
// examines; a page that stops there returns a cursor to go on from.
const maxAuditScan = 100_000

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func decodeHead(v []byte) (filter.AuditHead, bool) {
	var h filter.AuditHead
	if v == nil {
		return h, true
	}
	if len(v) != 40 {
		return h, false
	}
	h.Seq = binary.BigEndian.Uint64(v)
	copy(h.Hash[:], v[8:])
	return h, true
}

func encodeHead(h filter.AuditHead) []byte {
	return append(binary.BigEndian.AppendUint64(nil, h.Seq), h.Hash[:]...)
}

func getUint(b *bolt.Bucket, key []byte) uint64 {
	if v := b.Get(key); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (s *Store) auditMeta(ctx context.Context, op string, key []byte) (filter.AuditHead, error) {
	var h filter.AuditHead
	err := s.view(ctx, op, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAuditMeta)
		if b == nil {
			return nil
		}
		var ok bool
		if h, ok = decodeHead(b.Get(key)); !ok {
			return errCorrupt("audit head")
		}
		return nil
	})
	return h, err
}

// AuditHead returns the chain's head.
func (s *Store) AuditHead(ctx context.Context) (filter.AuditHead, error) {
	return s.auditMeta(ctx, "read audit head", auditHeadKey)
}

// AuditCheckpoint returns the last expired entry's position.
func (s *Store) AuditCheckpoint(ctx context.Context) (filter.AuditHead, error) {
	return s.auditMeta(ctx, "read audit checkpoint", auditCheckpointKey)
}

// auditBuckets returns the audit buckets of a write transaction, creating
// them on first use.
func auditBuckets(tx *bolt.Tx) (log, meta, blocks, subj *bolt.Bucket, err error) {
	var bs [4]*bolt.Bucket
	for i, name := range [][]byte{bucketAudit, bucketAuditMeta, bucketAuditBlock, bucketAuditSubj} {
		if bs[i], err = tx.CreateBucketIfNotExists(name); err != nil {
			return nil, nil, nil, nil, err
		}
		// Keys only ever grow (new ones go at the end): full pages waste
		// nothing, and a split leaves no half-empty page behind.
		bs[i].FillPercent = 1.0
	}
	return bs[0], bs[1], bs[2], bs[3], nil
}

// A chunk is the value of one batch: a count n (uint32), the n records' end
// offsets in the data (uint32 each), then the records back to back. Each
// record carries its own Seq; readers go by it (and by position only for a
// record too damaged to say), so an edited or shuffled chunk is reported by
// Verify, never misread.
func encodeChunk(recs []filter.AuditRecord) []byte { return appendChunk(nil, recs) }

func appendChunk(b []byte, recs []filter.AuditRecord) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(recs)))
	end := 0
	for _, r := range recs {
		end += len(r)
		b = binary.BigEndian.AppendUint32(b, uint32(end))
	}
	for _, r := range recs {
		b = append(b, r...)
	}
	return b
}

// chunkTarget bounds a chunk's size so that it fits one page with its key:
// bbolt writes a small value into a pooled page, a larger one into a fresh
// zeroed run of pages (which cost more than the rest of the commit).
const chunkTarget = 3800

// chunkBufs recycles the buffer of a batch's chunks: bbolt reads them until
// the commit, nothing after.
var chunkBufs = sync.Pool{New: func() any { return new([]byte) }}

// chunk is a parsed chunk value.
type chunk struct {
	first uint64 // its key
	ends  []byte
	data  []byte
	n     int
}

// parseChunk parses the value v of key k. A value whose framing is damaged
// reads as one record (not Valid) holding all of it.
func parseChunk(k, v []byte) chunk {
	c := chunk{first: binary.BigEndian.Uint64(k)}
	if len(v) >= 4 {
		n := int(binary.BigEndian.Uint32(v))
		if n > 0 && 4+4*n <= len(v) {
			ends, data := v[4:4+4*n], v[4+4*n:]
			ok, prev := true, uint32(0)
			for i := range n {
				e := binary.BigEndian.Uint32(ends[4*i:])
				if e < prev || int(e) > len(data) {
					ok = false
					break
				}
				prev = e
			}
			if ok && int(prev) == len(data) {
				return chunk{first: c.first, ends: ends, data: data, n: n}
			}
		}
	}
	return chunk{first: c.first, data: v, n: 1}
}

// rec returns record i.
func (c *chunk) rec(i int) filter.AuditRecord {
	if c.ends == nil {
		return c.data
	}
	start := uint32(0)
	if i > 0 {
		start = binary.BigEndian.Uint32(c.ends[4*(i-1):])
	}
	end := binary.BigEndian.Uint32(c.ends[4*i:])
	return filter.AuditRecord(c.data[start:end:end])
}

// seqOf is the Seq of record i: the one it carries, or for a damaged record
// the one after its predecessor's (prev).
func seqOf(r filter.AuditRecord, prev uint64) uint64 {
	if r.Valid() {
		return r.Seq()
	}
	return prev + 1
}

// eachRecord calls fn with the records of the log with Seq in [from, to), in
// stored order, until fn returns true or an error.
func eachRecord(log *bolt.Bucket, from, to uint64, fn func(seq uint64, r filter.AuditRecord) (bool, error)) (bool, error) {
	c := log.Cursor()
	k, v := c.Seek(seqKey(from))
	if k == nil || binary.BigEndian.Uint64(k) > from {
		// The chunk that holds from starts before it.
		if pk, pv := c.Prev(); pk != nil {
			k, v = pk, pv
		} else if k == nil {
			return false, nil
		} else {
			k, v = c.Seek(seqKey(from))
		}
	}
	for ; k != nil; k, v = c.Next() {
		ch := parseChunk(k, v)
		if ch.first >= to {
			return false, nil
		}
		seq := ch.first - 1
		for i := range ch.n {
			r := ch.rec(i)
			seq = seqOf(r, seq)
			if seq < from {
				continue
			}
			if seq >= to {
				return false, nil
			}
			if done, err := fn(seq, r); done || err != nil {
				return done, err
			}
		}
	}
	return false, nil
}

// getRecord returns the record of seq (nil when there is none).
func getRecord(log *bolt.Bucket, seq uint64) filter.AuditRecord {
	var out filter.AuditRecord
	_, _ = eachRecord(log, seq, seq+1, func(_ uint64, r filter.AuditRecord) (bool, error) {
		out = r
		return true, nil
	})
	return out
}

// AppendAudit appends recs after head in one transaction, in chunks of a
// page each.
func (s *Store) AppendAudit(ctx context.Context, head filter.AuditHead, recs []filter.AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	want, err := filter.ValidateAuditAppend(head, recs)
	if err != nil {
		return err
	}
	buf := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(buf)
	size := 0
	for _, r := range recs {
		size += 8 + len(r) // a chunk's count is smaller than a record's end offset
	}
	if cap(*buf) < size {
		*buf = make([]byte, 0, size)
	}
	return s.update(ctx, "append audit", func(tx *bolt.Tx) error {
		*buf = (*buf)[:0] // Update may run fn again
		log, meta, blocks, subj, err := auditBuckets(tx)
		if err != nil {
			return err
		}
		cur, ok := decodeHead(meta.Get(auditHeadKey))
		if !ok {
			return errCorrupt("audit head")
		}
		if cur != head {
			return filter.Errorf(filter.EConflict, "", "the audit chain's head moved (now %d)", cur.Seq)
		}
		for i := 0; i < len(recs); {
			j, size := i+1, 4+4+len(recs[i])
			for ; j < len(recs) && size+4+len(recs[j]) <= chunkTarget; j++ {
				size += 4 + len(recs[j])
			}
			start := len(*buf)
			*buf = appendChunk(*buf, recs[i:j])
			if err := log.Put(seqKey(recs[i].Seq()), (*buf)[start:]); err != nil {
				return err
			}
			i = j
		}
		if err := summarize(blocks, recs); err != nil {
			return err
		}
		if err := indexSegments(log, meta, subj, want.Seq); err != nil {
			return err
		}
		return meta.Put(auditHeadKey, encodeHead(want))
	})
}

// summarize widens the time summaries of the blocks recs fall in.
func summarize(blocks *bolt.Bucket, recs []filter.AuditRecord) error {
	for i := 0; i < len(recs); {
		blk := recs[i].Seq() >> auditBlockShift
		k := seqKey(blk)
		lo, hi := int64(1<<63-1), int64(-1<<63)
		if v := blocks.Get(k); len(v) == 16 {
			lo, hi = int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))
		}
		for ; i < len(recs) && recs[i].Seq()>>auditBlockShift == blk; i++ {
			t := recs[i].UnixNano()
			lo, hi = min(lo, t), max(hi, t)
		}
		v := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(lo)), uint64(hi))
		if err := blocks.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

// indexSegments writes the subject index of every segment the chain now
// fills up to head: one value per segment, written once.
func indexSegments(log, meta, subj *bolt.Bucket, head uint64) error {
	indexed := getUint(meta, auditIndexedKey)
	if (indexed+1)<<auditSegmentShift > head+1 {
		return nil
	}
	var ids []uint64
	for ; (indexed+1)<<auditSegmentShift <= head+1; indexed++ {
		lo, hi := indexed<<auditSegmentShift, (indexed+1)<<auditSegmentShift
		ids = ids[:0]
		_, err := eachRecord(log, lo, hi, func(seq uint64, r filter.AuditRecord) (bool, error) {
			if !r.Valid() {
				return false, errCorrupt("audit")
			}
			if sub, ok := r.Subject(); ok {
				ids = append(ids, segmentID(&sub, seq-lo))
			}
			return false, nil
		})
		if err != nil {
			return err
		}
		slices.Sort(ids)
		v := make([]byte, 0, 8*len(ids))
		for _, id := range ids {
			v = binary.BigEndian.AppendUint64(v, id)
		}
		if err := subj.Put(seqKey(indexed), v); err != nil {
			return err
		}
	}
	return meta.Put(auditIndexedKey, seqKey(indexed))
}

// segmentID is an index element: the subject's first 6 bytes, then the
// entry's offset in its segment (16 bits: auditSegmentShift is at most 16).
// Sorted, a subject's entries are one run in chain order.
func segmentID(sub *filter.Subject, off uint64) uint64 {
	return uint64(sub[0])<<56 | uint64(sub[1])<<48 | uint64(sub[2])<<40 | uint64(sub[3])<<32 |
		uint64(sub[4])<<24 | uint64(sub[5])<<16 | off
}

func decodeEntry(v []byte) (filter.AuditEntry, error) {
	e, err := filter.AuditRecord(v).Decode()
	if err != nil {
		return e, errCorrupt("audit")
	}
	return e, nil
}

// QueryAudit returns a page of matching entries in chain order: by number
// through the subject index and the records not indexed yet, by time through
// the block summaries, otherwise by reading the chain. Cursors are "s<seq>"
// (by number) and "c<seq>": the last Seq examined.
func (s *Store) QueryAudit(ctx context.Context, q filter.AuditQuery) ([]filter.AuditEntry, string, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	bySubj := q.Subject != (filter.Subject{})
	start := uint64(1)
	if q.After != "" {
		tag := "c"
		if bySubj {
			tag = "s"
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(q.After, tag), 10, 64)
		if err != nil || !strings.HasPrefix(q.After, tag) || n == 1<<64-1 {
			return nil, "", badCursor()
		}
		start = n + 1
	}
	var (
		out  []filter.AuditEntry
		next string
	)
	err := s.view(ctx, "query audit", func(tx *bolt.Tx) error {
		log := tx.Bucket(bucketAudit)
		if log == nil {
			return nil
		}
		p := auditPage{q: &q, log: log, pos: start - 1}
		var done bool
		var err error
		if bySubj {
			indexed := getUint(tx.Bucket(bucketAuditMeta), auditIndexedKey)
			done, err = p.bySubject(tx.Bucket(bucketAuditSubj), indexed, start)
			if err == nil && !done {
				done, err = p.scan(max(start, indexed<<auditSegmentShift), 1<<64-1)
			}
		} else if !q.From.IsZero() || !q.To.IsZero() {
			done, err = p.byTime(tx.Bucket(bucketAuditBlock), start)
		} else {
			done, err = p.scan(start, 1<<64-1)
		}
		if err != nil {
			return err
		}
		out = p.out
		if done {
			tag := "c"
			if bySubj {
				tag = "s"
			}
			next = tag + strconv.FormatUint(p.pos, 10)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// auditPage gathers one QueryAudit page inside its read transaction.
type auditPage struct {
	q        *filter.AuditQuery
	log      *bolt.Bucket
	out      []filter.AuditEntry
	examined int
	pos      uint64 // every Seq up to pos is examined
}

// take examines the record of seq (v nil: missing). It reports true when the
// page is complete: full, or at its bound of work (pos says where to go on).
func (p *auditPage) take(seq uint64, v []byte) (bool, error) {
	if p.examined++; p.examined > maxAuditScan {
		return true, nil
	}
	p.pos = seq
	if v == nil {
		return false, nil // expired, or deleted: Verify reports it
	}
	r := filter.AuditRecord(v)
	if !r.Valid() {
		return false, errCorrupt("audit")
	}
	if !p.q.MayMatch(r) {
		return false, nil
	}
	e, err := decodeEntry(v)
	if err != nil {
		return false, err
	}
	if !p.q.Matches(&e) {
		return false, nil
	}
	p.out = append(p.out, e)
	return len(p.out) == p.q.Limit, nil
}

// scan examines the chain's records with Seq in [from, to).
func (p *auditPage) scan(from, to uint64) (bool, error) {
	return eachRecord(p.log, from, to, func(seq uint64, r filter.AuditRecord) (bool, error) { return p.take(seq, r) })
}

// bySubject examines the entries the subject index lists for the indexed
// segments, from Seq start on.
func (p *auditPage) bySubject(subj *bolt.Bucket, indexed, start uint64) (bool, error) {
	if subj == nil {
		return false, nil
	}
	for seg := start >> auditSegmentShift; seg < indexed; seg++ {
		if p.examined++; p.examined > maxAuditScan {
			return true, nil
		}
		v := subj.Get(seqKey(seg))
		if len(v)%8 != 0 {
			return false, errCorrupt("audit index")
		}
		base := seg << auditSegmentShift
		from := segmentID(&p.q.Subject, max(start, base)-base)
		n := len(v) / 8
		at := func(i int) uint64 { return binary.BigEndian.Uint64(v[8*i:]) }
		i := sort.Search(n, func(i int) bool { return at(i) >= from })
		for ; i < n && at(i)>>16 == from>>16; i++ {
			seq := base + at(i)&0xffff
			if done, err := p.take(seq, getRecord(p.log, seq)); done || err != nil {
				return done, err
			}
		}
		p.pos = base + 1<<auditSegmentShift - 1
	}
	return false, nil
}

// byTime examines the blocks whose Time summary overlaps [q.From, q.To), from
// Seq start on.
func (p *auditPage) byTime(blocks *bolt.Bucket, start uint64) (bool, error) {
	if blocks == nil {
		return false, nil
	}
	lo, hi := int64(-1<<63), int64(1<<63-1)
	if !p.q.From.IsZero() {
		lo = p.q.From.UnixNano()
	}
	if !p.q.To.IsZero() {
		hi = p.q.To.UnixNano()
	}
	c := blocks.Cursor()
	for k, v := c.Seek(seqKey(start >> auditBlockShift)); k != nil; k, v = c.Next() {
		if len(v) != 16 {
			return false, errCorrupt("audit block")
		}
		if p.examined++; p.examined > maxAuditScan {
			return true, nil
		}
		blk := binary.BigEndian.Uint64(k)
		first, end := max(start, blk<<auditBlockShift), (blk+1)<<auditBlockShift
		least, greatest := int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))
		if greatest >= lo && least < hi {
			if done, err := p.scan(first, end); done || err != nil {
				return done, err
			}
		}
		p.pos = end - 1
	}
	return false, nil
}

func badCursor() error {
	return filter.Errorf(filter.EInvalid, "invalid_cursor", "the cursor is not one this store returned")
}

// ScanAudit calls fn with the records from Seq from on, reading pages of
// ScanPage records per read transaction (copied into one reused buffer: a
// scan never holds a transaction open while fn runs).
func (s *Store) ScanAudit(ctx context.Context, from uint64, fn func(uint64, filter.AuditRecord) error) error {
	next := from
	var (
		buf  []byte
		ends []int
		seqs []uint64
	)
	for {
		buf, ends, seqs = buf[:0], ends[:0], seqs[:0]
		err := s.view(ctx, "scan audit", func(tx *bolt.Tx) error {
			log := tx.Bucket(bucketAudit)
			if log == nil {
				return nil
			}
			_, err := eachRecord(log, next, 1<<64-1, func(seq uint64, r filter.AuditRecord) (bool, error) {
				if len(seqs) == s.opts.ScanPage {
					return true, nil
				}
				buf = append(buf, r...)
				ends = append(ends, len(buf))
				seqs = append(seqs, seq)
				return false, nil
			})
			return err
		})
		if err != nil {
			return err
		}
		startAt := 0
		for i, seq := range seqs {
			if err := fn(seq, filter.AuditRecord(buf[startAt:ends[i]:ends[i]])); err != nil {
				return err
			}
			startAt = ends[i]
		}
		if len(seqs) < s.opts.ScanPage {
			return nil
		}
		next = seqs[len(seqs)-1] + 1
	}
}

// ExpireAudit deletes up to limit entries from the start of the chain whose
// Time is before before, with the index keys and block summaries that cover
// only deleted entries.
func (s *Store) ExpireAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	n := 0
	err := s.update(ctx, "expire audit", func(tx *bolt.Tx) error {
		n = 0
		if tx.Bucket(bucketAudit) == nil {
			return nil
		}
		log, meta, blocks, subj, err := auditBuckets(tx)
		if err != nil {
			return err
		}
		var last filter.AuditHead
		c := log.Cursor()
		for k, v := c.First(); k != nil && n < limit; k, v = c.First() {
			ch := parseChunk(k, v)
			i, seq := 0, ch.first-1
			for ; i < ch.n && n < limit; i++ {
				r := ch.rec(i)
				if !r.Valid() {
					return errCorrupt("audit")
				}
				if !r.Time().Before(before) {
					break
				}
				seq = seqOf(r, seq)
				last = filter.AuditHead{Seq: seq, Hash: r.Hash()}
				n++
			}
			if i == 0 {
				break
			}
			var restKey, rest []byte
			if i < ch.n {
				// Keep the rest of the chunk, under its new first Seq (copied
				// before the delete: v is the deleted value's memory).
				recs := make([]filter.AuditRecord, 0, ch.n-i)
				for j := i; j < ch.n; j++ {
					recs = append(recs, ch.rec(j))
				}
				restKey, rest = seqKey(seqOf(recs[0], seq)), encodeChunk(recs)
			}
			if err := c.Delete(); err != nil {
				return err
			}
			if rest != nil {
				if err := log.Put(restKey, rest); err != nil {
					return err
				}
				break
			}
		}
		if n == 0 {
			return nil
		}
		// Units that end at or before the new checkpoint hold nothing any more.
		if err := deleteBelow(blocks, 0, (last.Seq+1)>>auditBlockShift); err != nil {
			return err
		}
		if err := deleteBelow(subj, 0, (last.Seq+1)>>auditSegmentShift); err != nil {
			return err
		}
		return meta.Put(auditCheckpointKey, encodeHead(last))
	})
	return n, err
}

// deleteBelow deletes the keys of b whose leading uint64 is in [lo, hi).
func deleteBelow(b *bolt.Bucket, lo, hi uint64) error {
	c := b.Cursor()
	for k, _ := c.Seek(seqKey(lo)); k != nil && binary.BigEndian.Uint64(k) < hi; k, _ = c.Seek(seqKey(lo)) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}
