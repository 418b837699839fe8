package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"callfilter/filter"
)

// Facts reads every fact q asks for in one read transaction: a consistent
// snapshot. A list that does not exist is ListAbsent (it has no keys). The
// records come in key order: consents by purpose and channel, revocations in
// the order recorded, relationships by kind, attempts by time. Attempts are
// those at or after q.AttemptsSince that Reserve has not pruned (see Reserve).
// Times are in UTC. EInvalid for a list name or field longer than allowed.
func (s *Store) Facts(ctx context.Context, q filter.FactsQuery) (filter.Facts, error) {
	var f filter.Facts
	if err := q.Validate(checkList); err != nil {
		return f, err
	}
	if len(q.Lists) == 0 && !s.subjects.mayHave(q.Subject) {
		// No list to confirm and no record of this number: nothing to read.
		if err := ctx.Err(); err != nil {
			return f, ctxErr("read facts", err)
		}
		if s.closed.Load() {
			return f, filter.Errorf(filter.EUnavailable, "", "store: read facts: the store is closed")
		}
		return f, nil
	}
	err := s.view(ctx, "read facts", func(tx *bolt.Tx) error { return s.factsIn(tx, &q, &f) })
	if err != nil {
		return filter.Facts{}, err
	}
	return f, nil
}

// FactsMany reads the facts of every query in one read transaction (each as
// Facts would; together a consistent snapshot). EInvalid, before anything
// is read, for the first invalid query.
func (s *Store) FactsMany(ctx context.Context, qs []filter.FactsQuery) ([]filter.Facts, error) {
	for i := range qs {
		if err := qs[i].Validate(checkList); err != nil {
			return nil, err
		}
	}
	out := make([]filter.Facts, len(qs))
	err := s.view(ctx, "read facts", func(tx *bolt.Tx) error {
		for i := range qs {
			if len(qs[i].Lists) == 0 && !s.subjects.mayHave(qs[i].Subject) {
				continue // as in Facts: nothing to read
			}
			if err := s.factsIn(tx, &qs[i], &out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// factsIn reads the facts of q in tx into f.
func (s *Store) factsIn(tx *bolt.Tx, q *filter.FactsQuery, f *filter.Facts) error {
	var kbuf [keyBufSize]byte
	if len(q.Lists) > 0 {
		f.Lists = make([]filter.ListFact, len(q.Lists))
		var bk, lk [8]byte
		blk, off := blockOf(q.Key)
		key := blockKey(&bk, blk)
		for i, name := range q.Lists {
			f.Lists[i] = filter.ListFact{List: name, State: filter.ListAbsent}
			b := listBucket(tx, name)
			if b == nil {
				continue
			}
			v := b.Get(key)
			if v == nil {
				continue
			}
			if !validBlock(v) {
				return errCorrupt("list block")
			}
			if !blockHas(v, off) {
				continue
			}
			f.Lists[i].State = filter.ListPresent
			if !blockExpires(v) {
				continue // every key of the block is permanent
			}
			if xb := b.Bucket(expiryBucket); xb != nil {
				if e := xb.Get(listKey(&lk, q.Key)); e != nil {
					if len(e) != 8 {
						return errCorrupt("list expiry")
					}
					f.Lists[i].ExpiresAt = time.UnixMilli(int64(binary.BigEndian.Uint64(e))).UTC()
				}
			}
		}
	}

	if v := tx.Bucket(bucketDisconnects).Get(q.Subject[:]); v != nil {
		if len(v) != 8 {
			return errCorrupt("disconnect")
		}
		f.DisconnectedAt = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
	}

	prefix := sellerPrefix(kbuf[:0], q.Subject, q.Seller)
	c := tx.Bucket(bucketConsents).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		cs, ok := decodeConsent(k, v)
		if !ok {
			return errCorrupt("consent")
		}
		f.Consents = append(f.Consents, cs)
	}

	c = tx.Bucket(bucketRelationships).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		rel, ok := decodeRelationship(k, v)
		if !ok {
			return errCorrupt("relationship")
		}
		f.Relationships = append(f.Relationships, rel)
	}

	prefix = subjectPrefix(kbuf[:0], q.Subject)
	c = tx.Bucket(bucketRevocations).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		rv, ok := decodeRevocation(k, v)
		if !ok {
			return errCorrupt("revocation")
		}
		f.Revocations = append(f.Revocations, rv)
	}

	if !q.OutcomesSince.IsZero() && !q.OutcomesSince.After(maxTS) {
		since := q.OutcomesSince
		if since.Before(minTS) {
			since = minTS
		}
		prefix = sellerPrefix(kbuf[:0], q.Subject, q.Seller)
		n := len(prefix)
		c = tx.Bucket(bucketOutcomes).Cursor()
		for k, v := c.Seek(appendTS(prefix, since)); k != nil && bytes.HasPrefix(k, prefix[:n]); k, v = c.Next() {
			o, ok := decodeOutcome(q.Subject, q.Seller, k, n, v)
			if !ok {
				return errCorrupt("outcome")
			}
			f.Outcomes = append(f.Outcomes, o)
		}
	}

	if q.AttemptsSince.IsZero() || q.AttemptsSince.After(maxTS) {
		return nil
	}
	since := q.AttemptsSince
	if since.Before(minTS) {
		since = minTS
	}
	prefix = attemptPrefix(kbuf[:0], q.Subject, q.Seller, q.Purpose, q.Channel)
	n := len(prefix)
	c = tx.Bucket(bucketAttempts).Cursor()
	for k, _ := c.Seek(appendTS(prefix, since)); k != nil && bytes.HasPrefix(k, prefix[:n]); k, _ = c.Next() {
		at, ok := attemptTime(k, n)
		if !ok {
			return errCorrupt("attempt")
		}
		f.Attempts = append(f.Attempts, at)
	}
	return nil
}

// Reserve records an attempt at q.At for (Subject, Seller, Purpose, Channel)
// if, counting it, no cap is exceeded, and reports whether it did; check and
// record are one write transaction (bbolt has a single writer), so concurrent
// reservations never together exceed a cap.
//
// A cap {Max, Window} counts the recorded attempts after q.At-Window: one
// exactly Window before q.At is outside it. Attempts recorded after q.At
// (another instance's clock running ahead) count too, erring towards denial.
// Max 0 never grants; no caps always grants. Each call prunes the attempts of
// its key at or before q.At minus the longest window of q.Caps, which no cap
// of this call can count; Facts no longer returns them.
//
// EInvalid for a zero Subject or At, empty Seller, Purpose or Channel, a
// negative Max or a Window that is not positive.
func (s *Store) Reserve(ctx context.Context, q filter.ReserveQuery) (bool, error) {
	if err := checkReserve(&q); err != nil {
		return false, err
	}
	var longest time.Duration
	for _, c := range q.Caps {
		longest = max(longest, c.Window)
	}
	prefix := attemptPrefix(make([]byte, 0, keyBufSize), q.Subject, q.Seller, q.Purpose, q.Channel)
	n := len(prefix)
	counts := make([]int, len(q.Caps))
	var granted bool
	// Before the write commits: the index must never miss a recorded subject.
	s.subjects.add(q.Subject)
	err := s.batch(ctx, "reserve attempt", func(tx *bolt.Tx) error {
		// May run more than once (see batch): reset every result.
		granted = false
		clear(counts)
		var stale [][]byte
		b := tx.Bucket(bucketAttempts)
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			at, ok := attemptTime(k, n)
			if !ok {
				return errCorrupt("attempt")
			}
			if longest > 0 && !at.After(q.At.Add(-longest)) {
				stale = append(stale, bytes.Clone(k))
				continue
			}
			for i, cp := range q.Caps {
				if at.After(q.At.Add(-cp.Window)) {
					counts[i]++
				}
			}
		}
		// Deleting while a cursor walks the bucket can skip keys: delete after.
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		for i, cp := range q.Caps {
			if counts[i]+1 > cp.Max {
				return nil
			}
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(attemptKey(prefix[:n:n], q.At, seq), []byte{}); err != nil {
			return err
		}
		granted = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return granted, nil
}

// PruneAttempts deletes the attempts recorded at or before before. Reserve
// prunes only the key it reserves, so a number reserved once would keep its
// attempts for ever. It reads Options.ScanPage keys per read transaction and
// deletes what it found in a write transaction of its own, so reservations
// wait for no long transaction; the next read resumes where the last ended.
func (s *Store) PruneAttempts(ctx context.Context, before time.Time) (int, error) {
	if err := filter.ValidatePruneBefore(before); err != nil {
		return 0, err
	}
	var from, next []byte // the first key of this page and of the next (nil: the end)
	var stale [][]byte
	pruned := 0
	for first := true; first || next != nil; first = false {
		from = next
		err := s.view(ctx, "prune attempts", func(tx *bolt.Tx) error {
			stale, next = stale[:0], nil
			c := tx.Bucket(bucketAttempts).Cursor()
			k, _ := c.First()
			if from != nil {
				k, _ = c.Seek(from)
			}
			for read := 0; k != nil; k, _ = c.Next() {
				if read == s.opts.ScanPage {
					next = bytes.Clone(k)
					break
				}
				read++
				if len(k) < len(filter.Subject{})+16 {
					return errCorrupt("attempt")
				}
				at, _ := attemptTime(k, len(k)-16)
				if !at.After(before) {
					stale = append(stale, bytes.Clone(k))
				}
			}
			return nil
		})
		if err != nil || len(stale) == 0 {
			if err != nil {
				return pruned, err
			}
			continue
		}
		n := 0
		err = s.update(ctx, "prune attempts", func(tx *bolt.Tx) error {
			n = 0
			b := tx.Bucket(bucketAttempts)
			c := b.Cursor() // Get cannot tell an empty value from no key
			for _, k := range stale {
				if got, _ := c.Seek(k); !bytes.Equal(got, k) {
					continue // a Reserve pruned it meanwhile
				}
				if err := b.Delete(k); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return pruned, err
		}
		pruned += n
	}
	return pruned, nil
}

// PutConsent records a grant, replacing an earlier grant for the same
// (Subject, Seller, Purpose, Channel). EInvalid for a zero Subject or
// GrantedAt, an empty Seller, Purpose or Channel, a Last4 longer than four, or
// an ExpiresAt before GrantedAt.
func (s *Store) PutConsent(ctx context.Context, c filter.Consent) error {
	if err := c.Validate(); err != nil {
		return err
	}
	key := consentKey(nil, c.Subject, c.Seller, c.Purpose, c.Channel)
	val := encodeConsent(nil, &c)
	// Before the write commits: the index must never miss a recorded subject.
	s.subjects.add(c.Subject)
	return s.batch(ctx, "record consent", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConsents).Put(key, val)
	})
}

// Revoke records a revocation and returns how many recorded consents it
// revokes: those it matches (Revocation.Matches) that were granted at or
// before r.At. A consent granted after r.At is not revoked by it and not
// counted. The revocation is kept even when it matches none. EInvalid for a
// zero Subject or At, or a Last4 longer than four.
func (s *Store) Revoke(ctx context.Context, r filter.Revocation) (int, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	prefix := subjectPrefix(nil, r.Subject)
	val := encodeRevocation(nil, &r)
	var matched int
	// Before the write commits: the index must never miss a recorded subject.
	s.subjects.add(r.Subject)
	err := s.batch(ctx, "record revocation", func(tx *bolt.Tx) error {
		// May run more than once (see batch): reset every result.
		matched = 0
		c := tx.Bucket(bucketConsents).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			cs, ok := decodeConsent(k, v)
			if !ok {
				return errCorrupt("consent")
			}
			if r.Matches(cs) && !cs.GrantedAt.After(r.At) {
				matched++
			}
		}
		b := tx.Bucket(bucketRevocations)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(revocationKey(nil, r.Subject, seq), val)
	})
	if err != nil {
		return 0, err
	}
	return matched, nil
}

// PutRelationship records a relationship event; for one (Subject, Seller,
// Kind) the record with the latest At is kept: an event earlier than the
// recorded one changes nothing, an equal or later one replaces it (Last4
// included). EInvalid for a zero
// Subject or At, an empty Seller or Kind, or a Last4 longer than four.
func (s *Store) PutRelationship(ctx context.Context, r filter.Relationship) error {
	if err := r.Validate(); err != nil {
		return err
	}
	key := relationshipKey(nil, r.Subject, r.Seller, r.Kind)
	val := encodeRelationship(nil, &r)
	// Before the write commits: the index must never miss a recorded subject.
	s.subjects.add(r.Subject)
	return s.batch(ctx, "record relationship", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRelationships)
		if old := b.Get(key); old != nil {
			at, ok := relationshipAt(old)
			if !ok {
				return errCorrupt("relationship")
			}
			if at.After(r.At) {
				return nil
			}
		}
		return b.Put(key, val)
	})
}

// PutDisconnects records the rows of a reassigned-numbers feed in one
// transaction; for one Subject the latest At is kept. EInvalid (nothing is
// written) for a zero Subject or At, or an At outside the years 1678–2262.
func (s *Store) PutDisconnects(ctx context.Context, ds []filter.Disconnect) error {
	if err := filter.ValidateDisconnects(ds); err != nil {
		return err
	}
	for i, d := range ds {
		if !inTSRange(d.At) {
			return filter.Errorf(filter.EInvalid, "", "disconnect #%d: %v is out of range", i, d.At)
		}
	}
	if len(ds) == 0 {
		return s.view(ctx, "record disconnects", func(*bolt.Tx) error { return nil })
	}
	// Before the write commits: the index must never miss a recorded subject.
	for _, d := range ds {
		s.subjects.add(d.Subject)
	}
	return s.update(ctx, "record disconnects", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDisconnects)
		for _, d := range ds {
			if old := b.Get(d.Subject[:]); old != nil {
				if len(old) != 8 {
					return errCorrupt("disconnect")
				}
				if int64(binary.BigEndian.Uint64(old)) >= d.At.UnixNano() {
					continue
				}
			}
			if err := b.Put(bytes.Clone(d.Subject[:]), binary.BigEndian.AppendUint64(nil, uint64(d.At.UnixNano()))); err != nil {
				return err
			}
		}
		return nil
	})
}

// RecordOutcome records how a contact attempt ended, and prunes the
// outcomes of the same Subject and Seller older than filter.MaxOutcomeAge
// before it, in one transaction. EInvalid as filter.CallOutcome.Validate
// says, and for an At outside the years 1678–2262.
func (s *Store) RecordOutcome(ctx context.Context, o filter.CallOutcome) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if !inTSRange(o.At) {
		return filter.Errorf(filter.EInvalid, "", "outcome time %v is out of range", o.At)
	}
	prefix := sellerPrefix(nil, o.Subject, o.Seller)
	val := encodeOutcome(&o)
	// Before the write commits: the index must never miss a recorded subject.
	s.subjects.add(o.Subject)
	return s.batch(ctx, "record outcome", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutcomes)
		if old := o.At.Add(-filter.MaxOutcomeAge); inTSRange(old) {
			limit := appendTS(bytes.Clone(prefix), old)
			c := b.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, limit) < 0; k, _ = c.Seek(prefix) {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(appendTS(bytes.Clone(prefix), o.At), seq), val)
	})
}
