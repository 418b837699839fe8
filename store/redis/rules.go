package redis

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/filter"
)

// The rule set's keys (hash tag {r}):
//
//	P:rules:{r}:cur     string: the latest revision number
//	P:rules:{r}:revs    hash: revision → revision JSON
//	P:rules:{r}:ver     hash: version → the latest revision with that version
func (k keys) rulesCur() string  { return k.prefix + ":rules:{r}:cur" }
func (k keys) rulesRevs() string { return k.prefix + ":rules:{r}:revs" }
func (k keys) rulesVer() string  { return k.prefix + ":rules:{r}:ver" }

// putRulesScript stores a revision if the latest is the one expected.
//
//	KEYS[1] cur, KEYS[2] revs, KEYS[3] ver
//	ARGV[1] the expected latest revision ("0": none), ARGV[2] the new
//	revision, ARGV[3] its version, ARGV[4] its JSON
//
// Returns 1 when stored, 0 when another revision came first. The new
// revision already in place with this very JSON is a retry of this call
// (its reply was lost): 1, nothing written again.
var putRulesScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1]) or '0'
if cur == ARGV[2] and redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[4] then
  return 1
end
if cur ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[2])
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

type rulesJSON struct {
	Revision int64     `json:"revision"`
	Version  string    `json:"version"`
	Author   string    `json:"author"`
	At       time.Time `json:"at"`
	Summary  string    `json:"summary"`
	Diff     string    `json:"diff"`
	Source   []byte    `json:"source"`
}

func decodeRules(v string) (filter.RulesRevision, error) {
	var j rulesJSON
	if err := json.Unmarshal([]byte(v), &j); err != nil {
		return filter.RulesRevision{}, errCorrupt("rules")
	}
	return filter.RulesRevision(j), nil
}

func notFoundRules() error { return filter.Errorf(filter.ENotFound, "", "no rule set is stored") }

// CurrentRules returns the latest revision; ENotFound when none.
func (s *Store) CurrentRules(ctx context.Context) (filter.RulesRevision, error) {
	const op = "read rules"
	if err := s.begin(ctx, op); err != nil {
		return filter.RulesRevision{}, err
	}
	cur, err := s.rdb.Get(ctx, s.k.rulesCur()).Result()
	if err == goredis.Nil {
		return filter.RulesRevision{}, notFoundRules()
	}
	if err != nil {
		return filter.RulesRevision{}, fail(ctx, op, err)
	}
	v, err := s.rdb.HGet(ctx, s.k.rulesRevs(), cur).Result()
	if err == goredis.Nil {
		return filter.RulesRevision{}, errCorrupt("rules")
	}
	if err != nil {
		return filter.RulesRevision{}, fail(ctx, op, err)
	}
	return decodeRules(v)
}

// PutRules stores r as revision expect+1 if expect is the latest.
func (s *Store) PutRules(ctx context.Context, r filter.RulesRevision, expect int64) (filter.RulesRevision, error) {
	const op = "store rules"
	if err := s.begin(ctx, op); err != nil {
		return r, err
	}
	if r.Version == "" {
		return r, filter.Errorf(filter.EInvalid, "", "a rules revision needs a version")
	}
	r.Revision = expect + 1
	if r.At.IsZero() {
		r.At = time.Now()
	}
	r.At = r.At.UTC()
	v, err := json.Marshal(rulesJSON(r))
	if err != nil {
		return r, filter.Wrap(filter.EInvalid, err, "encode rules")
	}
	n, err := putRulesScript.Run(ctx, s.rdb, []string{s.k.rulesCur(), s.k.rulesRevs(), s.k.rulesVer()},
		strconv.FormatInt(expect, 10), strconv.FormatInt(r.Revision, 10), r.Version, v).Int()
	if err != nil {
		return r, fail(ctx, op, err)
	}
	if n == 0 {
		return r, filter.Errorf(filter.EConflict, filter.CodeStaleVersion, "the rule set was changed by another edit")
	}
	return r, s.replicated(ctx, op)
}

// RulesHistory returns up to limit revisions, newest first, without Source.
func (s *Store) RulesHistory(ctx context.Context, limit int) ([]filter.RulesRevision, error) {
	const op = "read rules history"
	if err := s.begin(ctx, op); err != nil {
		return nil, err
	}
	cur, err := s.rdb.Get(ctx, s.k.rulesCur()).Int64()
	if err == goredis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	if limit <= 0 || int64(limit) > cur {
		limit = int(cur)
	}
	fields := make([]string, 0, limit)
	for r := cur; r > cur-int64(limit); r-- {
		fields = append(fields, strconv.FormatInt(r, 10))
	}
	if len(fields) == 0 {
		return nil, nil
	}
	vals, err := s.rdb.HMGet(ctx, s.k.rulesRevs(), fields...).Result()
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	out := make([]filter.RulesRevision, 0, len(vals))
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			return nil, errCorrupt("rules")
		}
		r, err := decodeRules(str)
		if err != nil {
			return nil, err
		}
		r.Source = nil
		out = append(out, r)
	}
	return out, nil
}

// RulesByVersion returns the latest revision with version v.
func (s *Store) RulesByVersion(ctx context.Context, v string) (filter.RulesRevision, error) {
	const op = "read rules version"
	if err := s.begin(ctx, op); err != nil {
		return filter.RulesRevision{}, err
	}
	rev, err := s.rdb.HGet(ctx, s.k.rulesVer(), v).Result()
	if err == goredis.Nil {
		return filter.RulesRevision{}, filter.Errorf(filter.ENotFound, "", "no rule set has version %q", v)
	}
	if err != nil {
		return filter.RulesRevision{}, fail(ctx, op, err)
	}
	val, err := s.rdb.HGet(ctx, s.k.rulesRevs(), rev).Result()
	if err != nil {
		return filter.RulesRevision{}, fail(ctx, op, err)
	}
	return decodeRules(val)
}
