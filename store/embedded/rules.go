package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"callfilter/filter"
)

// The rule set's revisions, created by the first PutRules:
//
//	rules      revision (uint64) → revision JSON (rulesJSON)
//	rulesver   version → revision (uint64) of the latest revision with that version
var (
	bucketRules    = []byte("rules")
	bucketRulesVer = []byte("rulesver")
)

type rulesJSON struct {
	Revision int64     `json:"revision"`
	Version  string    `json:"version"`
	Author   string    `json:"author"`
	At       time.Time `json:"at"`
	Summary  string    `json:"summary"`
	Diff     string    `json:"diff"`
	Source   []byte    `json:"source"`
}

func decodeRules(v []byte) (filter.RulesRevision, error) {
	var j rulesJSON
	if err := json.Unmarshal(v, &j); err != nil {
		return filter.RulesRevision{}, errCorrupt("rules")
	}
	return filter.RulesRevision(j), nil
}

// CurrentRules returns the latest revision; ENotFound when none.
func (s *Store) CurrentRules(ctx context.Context) (filter.RulesRevision, error) {
	var r filter.RulesRevision
	err := s.view(ctx, "read rules", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRules)
		if b == nil {
			return filter.Errorf(filter.ENotFound, "", "no rule set is stored")
		}
		_, v := b.Cursor().Last()
		if v == nil {
			return filter.Errorf(filter.ENotFound, "", "no rule set is stored")
		}
		var err error
		r, err = decodeRules(v)
		return err
	})
	return r, err
}

// PutRules stores r as revision expect+1 if expect is the latest.
func (s *Store) PutRules(ctx context.Context, r filter.RulesRevision, expect int64) (filter.RulesRevision, error) {
	if r.Version == "" || len(r.Version) > maxField {
		return r, filter.Errorf(filter.EInvalid, "", "a rules revision needs a version of 1 to %d bytes", maxField)
	}
	r.Revision = expect + 1
	if r.At.IsZero() {
		r.At = s.opts.Now()
	}
	r.At = r.At.UTC()
	v, err := json.Marshal(rulesJSON(r))
	if err != nil {
		return r, filter.Wrap(filter.EInvalid, err, "encode rules")
	}
	err = s.update(ctx, "store rules", func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketRules)
		if err != nil {
			return err
		}
		vb, err := tx.CreateBucketIfNotExists(bucketRulesVer)
		if err != nil {
			return err
		}
		var cur int64
		if k, _ := b.Cursor().Last(); k != nil {
			cur = int64(binary.BigEndian.Uint64(k))
		}
		if cur != expect {
			return filter.Errorf(filter.EConflict, filter.CodeStaleVersion, "the rule set was changed by another edit (revision %d, not %d)", cur, expect)
		}
		k := seqKey(uint64(r.Revision))
		if err := b.Put(k, v); err != nil {
			return err
		}
		return vb.Put([]byte(r.Version), k)
	})
	return r, err
}

// RulesHistory returns up to limit revisions, newest first, without Source.
func (s *Store) RulesHistory(ctx context.Context, limit int) ([]filter.RulesRevision, error) {
	var out []filter.RulesRevision
	err := s.view(ctx, "read rules history", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRules)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			r, err := decodeRules(v)
			if err != nil {
				return err
			}
			r.Source = nil
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// RulesByVersion returns the latest revision with version v.
func (s *Store) RulesByVersion(ctx context.Context, v string) (filter.RulesRevision, error) {
	var r filter.RulesRevision
	err := s.view(ctx, "read rules version", func(tx *bolt.Tx) error {
		vb := tx.Bucket(bucketRulesVer)
		var k []byte
		if vb != nil {
			k = vb.Get([]byte(v))
		}
		if k == nil {
			return filter.Errorf(filter.ENotFound, "", "no rule set has version %q", v)
		}
		val := tx.Bucket(bucketRules).Get(k)
		if val == nil {
			return errCorrupt("rules")
		}
		var err error
		r, err = decodeRules(val)
		return err
	})
	return r, err
}
