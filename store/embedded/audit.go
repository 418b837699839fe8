package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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
//	audit        seq (uint64) → entry JSON (filter.AuditEntry's stored form)
//	auditmeta    "head" → seq | hash (40 bytes); "checkpoint" → seq | hash of the last expired entry
//	audittime    ts (8 bytes, sign bit flipped) | seq → empty: entries by time
//	auditsubj    subject (32 bytes) | seq → empty: entries by number
var (
	bucketAudit     = []byte("audit")
	bucketAuditMeta = []byte("auditmeta")
	bucketAuditTime = []byte("audittime")
	bucketAuditSubj = []byte("auditsubj")

	auditHeadKey       = []byte("head")
	auditCheckpointKey = []byte("checkpoint")
)

// maxAuditScan bounds the index entries one QueryAudit page examines; a page
// that stops there returns a cursor to go on from.
const maxAuditScan = 100_000

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func timeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())^(1<<63))
}

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

// AppendAudit appends entries after head in one transaction.
func (s *Store) AppendAudit(ctx context.Context, head filter.AuditHead, entries []filter.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	vals := make([][]byte, len(entries))
	want := head
	for i := range entries {
		e := &entries[i]
		if e.Seq != want.Seq+1 || e.Prev != want.Hash {
			return filter.Errorf(filter.EInvalid, "", "audit entry %d does not continue the chain at %d", e.Seq, want.Seq)
		}
		v, err := e.MarshalJSON() // directly: json.Marshal would re-scan and compact the output
		if err != nil {
			return filter.Wrap(filter.EInvalid, err, "audit entry %d", e.Seq)
		}
		vals[i] = v
		want = filter.AuditHead{Seq: e.Seq, Hash: e.Hash}
	}
	return s.update(ctx, "append audit", func(tx *bolt.Tx) error {
		var bs [4]*bolt.Bucket
		for i, name := range [][]byte{bucketAudit, bucketAuditMeta, bucketAuditTime, bucketAuditSubj} {
			b, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			bs[i] = b
		}
		log, meta, byTime, bySubj := bs[0], bs[1], bs[2], bs[3]
		cur, ok := decodeHead(meta.Get(auditHeadKey))
		if !ok {
			return errCorrupt("audit head")
		}
		if cur != head {
			return filter.Errorf(filter.EConflict, "", "the audit chain's head moved (now %d)", cur.Seq)
		}
		for i := range entries {
			e := &entries[i]
			k := seqKey(e.Seq)
			if err := log.Put(k, vals[i]); err != nil {
				return err
			}
			if err := byTime.Put(append(timeKey(e.Time), k...), nil); err != nil {
				return err
			}
			if e.Subject != (filter.Subject{}) {
				if err := bySubj.Put(append(e.Subject[:len(e.Subject):len(e.Subject)], k...), nil); err != nil {
					return err
				}
			}
		}
		return meta.Put(auditHeadKey, encodeHead(want))
	})
}

func decodeEntry(v []byte) (filter.AuditEntry, error) {
	var e filter.AuditEntry
	if err := json.Unmarshal(v, &e); err != nil {
		return e, errCorrupt("audit")
	}
	return e, nil
}

// QueryAudit returns a page of matching entries: by number through the
// subject index (in chain order), otherwise through the time index (in time
// order). Cursors are "s<seq>" and "t<ts>.<seq>".
func (s *Store) QueryAudit(ctx context.Context, q filter.AuditQuery) ([]filter.AuditEntry, string, error) {
	if q.Limit <= 0 {
		q.Limit = 100
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
		var (
			c      *bolt.Cursor
			prefix []byte
			start  []byte
			end    []byte
			kind   byte
		)
		if q.Subject != (filter.Subject{}) {
			kind = 's'
			c = tx.Bucket(bucketAuditSubj).Cursor()
			prefix = q.Subject[:]
			start = append(bytes.Clone(prefix), seqKey(0)...)
			if q.After != "" {
				seq, err := strconv.ParseUint(strings.TrimPrefix(q.After, "s"), 10, 64)
				if err != nil || !strings.HasPrefix(q.After, "s") {
					return badCursor()
				}
				start = append(bytes.Clone(prefix), seqKey(seq+1)...)
			}
		} else {
			kind = 't'
			c = tx.Bucket(bucketAuditTime).Cursor()
			start = timeKey(q.From)
			if q.From.IsZero() {
				start = nil
			}
			if !q.To.IsZero() {
				end = timeKey(q.To)
			}
			if q.After != "" {
				ts, seq, ok := strings.Cut(strings.TrimPrefix(q.After, "t"), ".")
				t, err1 := strconv.ParseUint(ts, 10, 64)
				n, err2 := strconv.ParseUint(seq, 10, 64)
				if !ok || err1 != nil || err2 != nil || !strings.HasPrefix(q.After, "t") {
					return badCursor()
				}
				start = append(binary.BigEndian.AppendUint64(nil, t), seqKey(n+1)...)
			}
		}
		var k []byte
		if start == nil {
			k, _ = c.First()
		} else {
			k, _ = c.Seek(start)
		}
		examined := 0
		for ; k != nil; k, _ = c.Next() {
			if prefix != nil && !bytes.HasPrefix(k, prefix) {
				break
			}
			if end != nil && bytes.Compare(k[:8], end) >= 0 {
				break
			}
			seqb := k[len(k)-8:]
			cursor := func() string {
				if kind == 's' {
					return "s" + strconv.FormatUint(binary.BigEndian.Uint64(seqb), 10)
				}
				return fmt.Sprintf("t%d.%d", binary.BigEndian.Uint64(k[:8]), binary.BigEndian.Uint64(seqb))
			}
			if examined++; examined > maxAuditScan {
				next = cursor()
				return nil
			}
			v := log.Get(seqb)
			if v == nil {
				continue // expired, or deleted: Verify reports it
			}
			e, err := decodeEntry(v)
			if err != nil {
				return err
			}
			if !q.Matches(&e) {
				continue
			}
			out = append(out, e)
			if len(out) == q.Limit {
				next = cursor()
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

func badCursor() error {
	return filter.Errorf(filter.EInvalid, "invalid_cursor", "the cursor is not one this store returned")
}

// ScanAudit calls fn with the entries from Seq from on, reading pages of
// ScanPage entries per read transaction.
func (s *Store) ScanAudit(ctx context.Context, from uint64, fn func(filter.AuditEntry) error) error {
	next := from
	for {
		var page []filter.AuditEntry
		err := s.view(ctx, "scan audit", func(tx *bolt.Tx) error {
			log := tx.Bucket(bucketAudit)
			if log == nil {
				return nil
			}
			c := log.Cursor()
			for k, v := c.Seek(seqKey(next)); k != nil && len(page) < s.opts.ScanPage; k, v = c.Next() {
				e, err := decodeEntry(v)
				if err != nil {
					return err
				}
				page = append(page, e)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < s.opts.ScanPage {
			return nil
		}
		next = page[len(page)-1].Seq + 1
	}
}

// ExpireAudit deletes up to limit entries from the start of the chain whose
// Time is before before.
func (s *Store) ExpireAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	n := 0
	err := s.update(ctx, "expire audit", func(tx *bolt.Tx) error {
		n = 0
		log := tx.Bucket(bucketAudit)
		if log == nil {
			return nil
		}
		meta, byTime, bySubj := tx.Bucket(bucketAuditMeta), tx.Bucket(bucketAuditTime), tx.Bucket(bucketAuditSubj)
		var last filter.AuditHead
		c := log.Cursor()
		for k, v := c.First(); k != nil && n < limit; k, v = c.First() {
			e, err := decodeEntry(v)
			if err != nil {
				return err
			}
			if !e.Time.Before(before) {
				break
			}
			if err := byTime.Delete(append(timeKey(e.Time), k...)); err != nil {
				return err
			}
			if e.Subject != (filter.Subject{}) {
				if err := bySubj.Delete(append(e.Subject[:len(e.Subject):len(e.Subject)], k...)); err != nil {
					return err
				}
			}
			if err := c.Delete(); err != nil {
				return err
			}
			last = filter.AuditHead{Seq: e.Seq, Hash: e.Hash}
			n++
		}
		if n == 0 {
			return nil
		}
		return meta.Put(auditCheckpointKey, encodeHead(last))
	})
	return n, err
}
