package redis

import (
	"context"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/filter"
)

// Facts reads every fact q asks for in one pipeline: one round trip to a
// standalone server, one per node involved in Cluster (the number's records
// are on one node, each list on its own). It is not a snapshot across lists
// and records. A list that does not exist is ListAbsent. Attempts are those at
// or after q.AttemptsSince (rounded up to the millisecond) that Reserve has
// not pruned. Every command's result is checked: any error is EUnavailable.
func (s *Store) Facts(ctx context.Context, q filter.FactsQuery) (filter.Facts, error) {
	const op = "read facts"
	if err := q.Validate(checkList); err != nil {
		return filter.Facts{}, err
	}
	if err := s.begin(ctx, op); err != nil {
		return filter.Facts{}, err
	}
	f, err := s.facts(ctx, q)
	if err != nil && len(q.Lists) > 0 && isNoScript(err) {
		// A node lost its script cache (restart, failover): load the script
		// on every primary and try once more (EVALSHA in a pipeline does not
		// fall back to EVAL by itself, go-redis #3228).
		if lerr := memberUntilScript.Load(ctx, s.rdb).Err(); lerr != nil {
			return filter.Facts{}, fail(ctx, op, lerr)
		}
		f, err = s.facts(ctx, q)
	}
	return f, err
}

// FactsMany reads the facts of every query in one pipeline (one round trip
// to a standalone server, one per node involved in Cluster), each as Facts
// reads it. EInvalid, before anything is read, for the first invalid query.
func (s *Store) FactsMany(ctx context.Context, qs []filter.FactsQuery) ([]filter.Facts, error) {
	const op = "read facts"
	lists := false
	for i := range qs {
		if err := qs[i].Validate(checkList); err != nil {
			return nil, err
		}
		lists = lists || len(qs[i].Lists) > 0
	}
	if err := s.begin(ctx, op); err != nil {
		return nil, err
	}
	out, err := s.factsMany(ctx, qs)
	if err != nil && lists && isNoScript(err) {
		// As in Facts: load the script on every primary, try once more.
		if lerr := memberUntilScript.Load(ctx, s.rdb).Err(); lerr != nil {
			return nil, fail(ctx, op, lerr)
		}
		out, err = s.factsMany(ctx, qs)
	}
	return out, err
}

func (s *Store) factsMany(ctx context.Context, qs []filter.FactsQuery) ([]filter.Facts, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*factsCmds, len(qs))
	for i := range qs {
		cmds[i] = s.queueFacts(ctx, pipe, &qs[i])
	}
	_, _ = pipe.Exec(ctx) // every command's error is checked by readFacts
	out := make([]filter.Facts, len(qs))
	for i := range qs {
		f, err := readFacts(ctx, cmds[i], &qs[i])
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// isNoScript reports whether err is Redis's NOSCRIPT (the script is not in
// the node's cache).
func isNoScript(err error) bool {
	var rerr goredis.Error
	return errors.As(err, &rerr) && goredis.HasErrorPrefix(rerr, "NOSCRIPT")
}

// factsCmds are the commands of one query's facts, queued in a pipeline.
type factsCmds struct {
	lists         []*goredis.Cmd
	disconnected  *goredis.FloatCmd
	outcomes      *goredis.ZSliceCmd // nil when not asked for
	consents      *goredis.MapStringStringCmd
	revocations   *goredis.StringSliceCmd
	relationships *goredis.MapStringStringCmd
	attempts      *goredis.ZSliceCmd // nil when not asked for
}

func (s *Store) facts(ctx context.Context, q filter.FactsQuery) (filter.Facts, error) {
	pipe := s.rdb.Pipeline()
	c := s.queueFacts(ctx, pipe, &q)
	_, _ = pipe.Exec(ctx) // only the first error: every command's is checked by readFacts
	return readFacts(ctx, c, &q)
}

// queueFacts queues the commands that read q's facts in pipe.
func (s *Store) queueFacts(ctx context.Context, pipe goredis.Pipeliner, q *filter.FactsQuery) *factsCmds {
	lists := make([]*goredis.Cmd, len(q.Lists))
	offset := strconv.FormatUint(q.Key%bucketSize, 10)
	for i, name := range q.Lists {
		bucket := q.Key / bucketSize
		lists[i] = memberUntilScript.EvalSha(ctx, pipe, []string{s.k.listBucket(name, bucket), s.k.listExpiries(name, bucket)}, offset)
	}
	disconnected := pipe.ZScore(ctx, s.k.disconnected(q.Subject), "at")
	var outcomes *goredis.ZSliceCmd
	if !q.OutcomesSince.IsZero() {
		outcomes = pipe.ZRangeByScoreWithScores(ctx, s.k.outcomes(q.Subject, q.Seller),
			&goredis.ZRangeBy{Min: strconv.FormatInt(ceilMS(q.OutcomesSince), 10), Max: "+inf"})
	}
	consents := pipe.HGetAll(ctx, s.k.consents(q.Subject))
	revocations := pipe.LRange(ctx, s.k.revocations(q.Subject), 0, -1)
	relationships := pipe.HGetAll(ctx, s.k.relationships(q.Subject))
	var attempts *goredis.ZSliceCmd
	if !q.AttemptsSince.IsZero() {
		attempts = pipe.ZRangeByScoreWithScores(ctx, s.k.attempts(q.Subject, q.Seller, q.Purpose, q.Channel),
			&goredis.ZRangeBy{Min: strconv.FormatInt(ceilMS(q.AttemptsSince), 10), Max: "+inf"})
	}
	return &factsCmds{lists: lists, disconnected: disconnected, outcomes: outcomes, consents: consents,
		revocations: revocations, relationships: relationships, attempts: attempts}
}

// readFacts reads q's facts from its commands, once the pipeline ran.
func readFacts(ctx context.Context, c *factsCmds, q *filter.FactsQuery) (filter.Facts, error) {
	const op = "read facts"
	lists, disconnected, outcomes, consents := c.lists, c.disconnected, c.outcomes, c.consents
	revocations, relationships, attempts := c.revocations, c.relationships, c.attempts
	var f filter.Facts
	if len(q.Lists) > 0 {
		f.Lists = make([]filter.ListFact, len(q.Lists))
		for i, name := range q.Lists {
			in, err := lists[i].Int()
			if err != nil {
				if isNoScript(err) {
					return filter.Facts{}, err // Facts loads the script and retries
				}
				return filter.Facts{}, fail(ctx, op, err)
			}
			f.Lists[i] = filter.ListFact{List: name, State: filter.ListAbsent}
			switch {
			case in == 1:
				f.Lists[i].State = filter.ListPresent
			case in > 1:
				f.Lists[i].State, f.Lists[i].ExpiresAt = filter.ListPresent, fromMS(int64(in))
			}
		}
	}

	switch v, err := disconnected.Result(); {
	case errors.Is(err, goredis.Nil):
	case err != nil:
		return filter.Facts{}, fail(ctx, op, err)
	default:
		f.DisconnectedAt = fromMS(int64(v))
	}

	if outcomes != nil {
		zs, err := outcomes.Result()
		if err != nil {
			return filter.Facts{}, fail(ctx, op, err)
		}
		for _, z := range zs {
			o, err := decodeOutcome(q.Subject, q.Seller, z)
			if err != nil {
				return filter.Facts{}, err
			}
			f.Outcomes = append(f.Outcomes, o)
		}
	}

	cs, err := consents.Result()
	if err != nil {
		return filter.Facts{}, fail(ctx, op, err)
	}
	for _, v := range cs {
		c, err := decodeConsent(q.Subject, v)
		if err != nil {
			return filter.Facts{}, err
		}
		if c.Seller == q.Seller {
			f.Consents = append(f.Consents, c)
		}
	}

	rs, err := revocations.Result()
	if err != nil {
		return filter.Facts{}, fail(ctx, op, err)
	}
	for _, v := range rs {
		r, err := decodeRevocation(q.Subject, v)
		if err != nil {
			return filter.Facts{}, err
		}
		f.Revocations = append(f.Revocations, r)
	}

	rels, err := relationships.Result()
	if err != nil {
		return filter.Facts{}, fail(ctx, op, err)
	}
	for _, v := range rels {
		r, err := decodeRelationship(q.Subject, v)
		if err != nil {
			return filter.Facts{}, err
		}
		if r.Seller == q.Seller {
			f.Relationships = append(f.Relationships, r)
		}
	}

	if attempts != nil {
		zs, err := attempts.Result()
		if err != nil {
			return filter.Facts{}, fail(ctx, op, err)
		}
		f.Attempts = make([]time.Time, 0, len(zs))
		for _, z := range zs {
			f.Attempts = append(f.Attempts, fromMS(int64(z.Score)))
		}
	}
	return f, nil
}

// Reserve records an attempt at q.At (to the millisecond) if, counting it, no
// cap is exceeded, and reports whether it did: one atomic script
// (reserveScript), so concurrent reservations never together exceed a cap.
// A cap {Max, Window} counts the attempts after q.At-Window, including any
// after q.At. Each call prunes the attempts at or before q.At minus the longest
// window, and keeps the key alive at least that long past q.At. Max 0 never
// grants; no caps always grants. EInvalid as store/embedded's.
func (s *Store) Reserve(ctx context.Context, q filter.ReserveQuery) (bool, error) {
	const op = "reserve attempt"
	if err := q.Validate(); err != nil {
		return false, err
	}
	if err := s.begin(ctx, op); err != nil {
		return false, err
	}
	keys, args := s.reserveCall(q)
	n, err := reserveScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		return false, fail(ctx, op, err)
	}
	if n != 1 {
		return false, nil
	}
	return true, s.replicated(ctx, op)
}

// reserveCall returns the keys and arguments of reserveScript for q, with a
// new random member: go-redis sends the same ones again on a retry, which
// the script recognises.
func (s *Store) reserveCall(q filter.ReserveQuery) ([]string, []any) {
	at := ms(q.At)
	var longest int64
	for _, c := range q.Caps {
		longest = max(longest, c.Window.Milliseconds())
	}
	var rnd [8]byte
	for i := range rnd {
		rnd[i] = byte(rand.Uint32())
	}
	args := make([]any, 4, 4+2*len(q.Caps))
	args[0] = strconv.FormatInt(at, 10)
	args[1] = args[0].(string) + "-" + hex.EncodeToString(rnd[:])
	// Without caps nothing prunes the key: it lives for the longest window
	// any rule may have, so that it does not stay for ever.
	args[2], args[3] = "", strconv.FormatInt(filter.MaxCapWindow.Milliseconds(), 10)
	if len(q.Caps) > 0 {
		args[2] = strconv.FormatInt(at-longest, 10)
		ttl := max(longest, at+longest-ms(time.Now()))
		args[3] = strconv.FormatInt(ttl, 10)
	}
	for _, c := range q.Caps {
		// A window under 1ms counts only attempts at q.At's millisecond or later.
		args = append(args, strconv.Itoa(c.Max), "("+strconv.FormatInt(at-c.Window.Milliseconds(), 10))
	}
	return []string{s.k.attempts(q.Subject, q.Seller, q.Purpose, q.Channel)}, args
}

// PruneAttempts deletes nothing: every attempt key expires by itself, after
// the longest window of its last reservation (filter.MaxCapWindow for one
// without caps; see reserveCall). EInvalid for a zero before.
func (s *Store) PruneAttempts(ctx context.Context, before time.Time) (int, error) {
	if err := filter.ValidatePruneBefore(before); err != nil {
		return 0, err
	}
	return 0, s.begin(ctx, "prune attempts")
}

// PutConsent records a grant, replacing an earlier grant for the same
// (Subject, Seller, Purpose, Channel). EInvalid as store/embedded's.
func (s *Store) PutConsent(ctx context.Context, c filter.Consent) error {
	const op = "record consent"
	if err := c.Validate(); err != nil {
		return err
	}
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	err := s.rdb.HSet(ctx, s.k.consents(c.Subject), consentField(c.Seller, c.Purpose, c.Channel), encodeConsent(&c)).Err()
	if err != nil {
		return fail(ctx, op, err)
	}
	return s.replicated(ctx, op)
}

// Revoke records a revocation and returns how many recorded consents it
// revokes (those it matches that were granted at or before r.At): the read of
// the consents and the append of the revocation are one MULTI transaction.
// The revocation is kept even when it matches none.
func (s *Store) Revoke(ctx context.Context, r filter.Revocation) (int, error) {
	const op = "record revocation"
	if err := r.Validate(); err != nil {
		return 0, err
	}
	if err := s.begin(ctx, op); err != nil {
		return 0, err
	}
	var vals *goredis.StringSliceCmd
	var push *goredis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		vals = p.HVals(ctx, s.k.consents(r.Subject))
		push = p.RPush(ctx, s.k.revocations(r.Subject), encodeRevocation(&r))
		return nil
	})
	if err == nil {
		err = errors.Join(vals.Err(), push.Err())
	}
	if err != nil {
		return 0, fail(ctx, op, err)
	}
	matched := 0
	for _, v := range vals.Val() {
		c, err := decodeConsent(r.Subject, v)
		if err != nil {
			return 0, err
		}
		if r.Matches(c) && !c.GrantedAt.After(r.At) {
			matched++
		}
	}
	return matched, s.replicated(ctx, op)
}

// PutRelationship records a relationship event; for one (Subject, Seller,
// Kind) the latest At is kept (relationshipScript): an earlier event changes
// nothing, an equal or later one replaces it.
func (s *Store) PutRelationship(ctx context.Context, r filter.Relationship) error {
	const op = "record relationship"
	if err := r.Validate(); err != nil {
		return err
	}
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	err := relationshipScript.Run(ctx, s.rdb, []string{s.k.relationships(r.Subject)},
		relField(r.Seller, r.Kind), strconv.FormatInt(ms(r.At), 10), encodeRelationship(&r)).Err()
	if err != nil {
		return fail(ctx, op, err)
	}
	return s.replicated(ctx, op)
}

// disconnectChunk is the most disconnects PutDisconnects sends per pipeline.
const disconnectChunk = 1000

// PutDisconnects records the rows of a reassigned-numbers feed, a pipeline
// of ZADD GT per chunk (no script: GT keeps the latest date atomically), so
// for one Subject the latest At (to the millisecond) is kept. A failure
// leaves the earlier chunks written (writes are idempotent: retry). EInvalid
// (nothing is written) for a zero Subject or At.
func (s *Store) PutDisconnects(ctx context.Context, ds []filter.Disconnect) error {
	const op = "record disconnects"
	if err := filter.ValidateDisconnects(ds); err != nil {
		return err
	}
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	for len(ds) > 0 {
		part := ds[:min(len(ds), disconnectChunk)]
		ds = ds[len(part):]
		pipe := s.rdb.Pipeline()
		cmds := make([]*goredis.IntCmd, len(part))
		for i, d := range part {
			cmds[i] = pipe.ZAddGT(ctx, s.k.disconnected(d.Subject), goredis.Z{Score: float64(ms(d.At)), Member: "at"})
		}
		_, _ = pipe.Exec(ctx) // every command's error is checked below
		for _, c := range cmds {
			if err := c.Err(); err != nil {
				return fail(ctx, op, err)
			}
		}
	}
	return s.replicated(ctx, op)
}

// RecordOutcome records how a contact attempt ended (to the millisecond) in
// one MULTI: the outcome is added to the Subject and Seller's sorted set,
// outcomes older than filter.MaxOutcomeAge before it are pruned, and the key
// lives at least MaxOutcomeAge. EInvalid as filter.CallOutcome.Validate says.
func (s *Store) RecordOutcome(ctx context.Context, o filter.CallOutcome) error {
	const op = "record outcome"
	if err := o.Validate(); err != nil {
		return err
	}
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	var rnd [8]byte
	for i := range rnd {
		rnd[i] = byte(rand.Uint32())
	}
	key := s.k.outcomes(o.Subject, o.Seller)
	at := ms(o.At)
	cmds, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZAdd(ctx, key, goredis.Z{Score: float64(at), Member: encodeOutcome(&o, hex.EncodeToString(rnd[:]))})
		p.ZRemRangeByScore(ctx, key, "-inf", "("+strconv.FormatInt(at-filter.MaxOutcomeAge.Milliseconds(), 10))
		p.PExpire(ctx, key, filter.MaxOutcomeAge)
		return nil
	})
	if err == nil {
		for _, c := range cmds {
			if err = c.Err(); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fail(ctx, op, err)
	}
	return s.replicated(ctx, op)
}
