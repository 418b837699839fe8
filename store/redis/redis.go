// Package redis is a filter.Store kept in Redis (standalone, Sentinel or
// Cluster) through go-redis: lists, consents, revocations, relationships,
// attempts and API keys. It is the only package of callfilter that imports
// go-redis.
//
// Every key is built by a function in keys.go, which documents the layout;
// every Lua script is in scripts.go with its KEYS and ARGV. All the records of
// one number (keyed by its filter.Subject) share a hash tag, so that the
// scripts and transactions that touch several of them run on one Cluster node,
// atomically. The keys of one list share the list's hash tag, so each list
// lives on one node.
//
// Durability is the operator's job: a write is acknowledged once Redis has
// applied it in memory. For "nothing acknowledged is lost" run Redis with AOF
// (appendonly yes) and appendfsync always (no loss on a crash) or everysec (at
// most about a second lost on a power failure); RDB snapshots alone lose
// everything since the last one. Replication is asynchronous, so a failover
// may also lose the last acknowledged writes, unless Options.WaitReplicas
// makes each write wait for the replicas (durable.go).
//
// Every failure to reach or read Redis is EUnavailable, so callers fail closed.
// Timeouts are explicit (Options), and contexts bound every call
// (ContextTimeoutEnabled).
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/filter"
)

var (
	_ filter.Store             = (*Store)(nil)
	_ filter.ExpiringListStore = (*Store)(nil)
	_ filter.ReassignedStore   = (*Store)(nil)
	_ filter.OutcomeStore      = (*Store)(nil)
)

// Options configure a Store. Zero values mean the defaults below.
type Options struct {
	// Addrs are host:port addresses: one for a standalone server, the seeds of
	// a Cluster, or the Sentinels when MasterName is set. Required.
	Addrs []string
	// MasterName is the Sentinel master name; empty for no Sentinel.
	MasterName string
	// Username and Password authenticate (ACL); empty for none.
	Username, Password string
	// DB is the database number of a standalone or Sentinel server; must be 0
	// in Cluster mode.
	DB int
	// TLS, when set, is used for every connection.
	TLS *tls.Config
	// KeyPrefix starts every key. Default "cf". It must not contain '{' or
	// '}' (they would break the hash tags).
	KeyPrefix string
	// DialTimeout bounds a connection attempt. Default 500ms.
	DialTimeout time.Duration
	// ReadTimeout and WriteTimeout bound one socket read or write. Default
	// 250ms each.
	ReadTimeout, WriteTimeout time.Duration
	// PoolTimeout bounds the wait for a pooled connection when all are busy.
	// Default 250ms.
	PoolTimeout time.Duration
	// PoolSize is the number of connections per node. Default 10 per CPU
	// (go-redis's default).
	PoolSize int
	// MaxRetries is how many times a failed command is retried. Default 1;
	// -1 for none. Every write is safe to retry (a retried Reserve finds its
	// own attempt and says granted; list scripts find their result).
	MaxRetries int
	// ClusterMode uses the Cluster protocol even with a single address (a
	// configuration endpoint); with more than one address and no MasterName,
	// Cluster mode is used anyway.
	ClusterMode bool
	// FeedMaxLen is the approximate number of entries each list's change
	// feed keeps (XADD MAXLEN ~); an instance that falls further behind
	// rebuilds its filter from the list. Default 1000 (an entry holds up to
	// 10000 keys).
	FeedMaxLen int64
	// WaitReplicas, when positive, makes every write succeed only once that
	// many replicas hold it (WAIT after the write, on its connection), so a
	// failover cannot lose an acknowledged write: see durable.go. Default 0
	// (a write is acknowledged once the primary has it). Standalone or
	// Sentinel primaries only.
	WaitReplicas int
	// WaitTimeout bounds that wait; past it the write fails EUnavailable.
	// Default 100ms.
	WaitTimeout time.Duration
}

// Defaults.
const (
	DefaultKeyPrefix    = "cf"
	DefaultDialTimeout  = 500 * time.Millisecond
	DefaultReadTimeout  = 250 * time.Millisecond
	DefaultWriteTimeout = 250 * time.Millisecond
	DefaultPoolTimeout  = 250 * time.Millisecond
	DefaultMaxRetries   = 1
	DefaultFeedMaxLen   = 1000
)

// Validate reports the first option that cannot be used, as an EInvalid error
// that says how to fix it.
func (o Options) Validate() error {
	bad := func(format string, args ...any) error {
		return filter.Errorf(filter.EInvalid, "", "redis options: "+format, args...)
	}
	switch {
	case len(o.Addrs) == 0:
		return bad("no address: set at least one host:port")
	case strings.ContainsAny(o.KeyPrefix, "{}"):
		return bad("key prefix %q contains '{' or '}': they would break hash tags, remove them", o.KeyPrefix)
	case o.DB < 0:
		return bad("db (%d) must not be negative", o.DB)
	case o.DB != 0 && o.clusterMode():
		return bad("db (%d) must be 0 in Cluster mode", o.DB)
	case o.DialTimeout < 0, o.ReadTimeout < 0, o.WriteTimeout < 0, o.PoolTimeout < 0:
		return bad("timeouts must not be negative: use 0 for the defaults")
	case o.PoolSize < 0:
		return bad("pool size (%d) must not be negative: use 0 for the default", o.PoolSize)
	case o.FeedMaxLen < 0:
		return bad("feed max len (%d) must not be negative: use 0 for the default (%d)", o.FeedMaxLen, DefaultFeedMaxLen)
	case o.WaitReplicas < 0:
		return bad("wait replicas (%d) must not be negative: use 0 for none", o.WaitReplicas)
	case o.WaitReplicas > 0 && o.clusterMode():
		return bad("wait replicas is for a standalone or Sentinel primary, not Cluster mode: set it to 0 (Cluster replication stays asynchronous)")
	case o.WaitTimeout < 0:
		return bad("wait timeout must not be negative: use 0 for the default (%v)", DefaultWaitTimeout)
	case o.MaxRetries < -1:
		return bad("max retries (%d) must be -1 (none), 0 (default %d) or positive", o.MaxRetries, DefaultMaxRetries)
	}
	for i, a := range o.Addrs {
		if a == "" || !strings.Contains(a, ":") {
			return bad("address #%d (%q) is not host:port", i, a)
		}
	}
	return nil
}

func (o Options) clusterMode() bool {
	return o.ClusterMode || (o.MasterName == "" && len(o.Addrs) > 1)
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	def(&o.DialTimeout, DefaultDialTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.PoolTimeout, DefaultPoolTimeout)
	def(&o.WaitTimeout, DefaultWaitTimeout)
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.FeedMaxLen == 0 {
		o.FeedMaxLen = DefaultFeedMaxLen
	}
	return o
}

// Store is a filter.Store in Redis. Safe for concurrent use.
type Store struct {
	rdb          goredis.UniversalClient
	k            keys
	feedMaxLen   int64
	readTO       time.Duration
	waitReplicas int           // Options.WaitReplicas
	waitTimeout  time.Duration // Options.WaitTimeout
	closed       atomic.Bool
	once         sync.Once
	err          error
}

// Open connects to Redis and pings it. EInvalid for bad options; EUnavailable,
// saying which addresses, when Redis cannot be reached within ctx and the dial
// timeout.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	rdb := goredis.NewUniversalClient(&goredis.UniversalOptions{
		Addrs:                 opts.Addrs,
		MasterName:            opts.MasterName,
		Username:              opts.Username,
		Password:              opts.Password,
		DB:                    opts.DB,
		TLSConfig:             opts.TLS,
		DialTimeout:           opts.DialTimeout,
		ReadTimeout:           opts.ReadTimeout,
		WriteTimeout:          opts.WriteTimeout,
		PoolTimeout:           opts.PoolTimeout,
		PoolSize:              opts.PoolSize,
		MaxRetries:            opts.MaxRetries,
		MinRetryBackoff:       8 * time.Millisecond,
		MaxRetryBackoff:       64 * time.Millisecond,
		DialerRetries:         1,
		DialerRetryTimeout:    50 * time.Millisecond,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true, // CVE-2025-29923
		IsClusterMode:         opts.clusterMode(),
	})
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, filter.Wrap(filter.EUnavailable, err,
			"redis: cannot reach %s (is redis-server running, and are the address and credentials right?)",
			strings.Join(opts.Addrs, ","))
	}
	s := &Store{rdb: rdb, k: keys{prefix: opts.KeyPrefix}, feedMaxLen: opts.FeedMaxLen, readTO: opts.ReadTimeout,
		waitReplicas: opts.WaitReplicas, waitTimeout: opts.WaitTimeout}
	if err := s.checkLayout(ctx); err != nil {
		_ = rdb.Close()
		return nil, err
	}
	return s, nil
}

// layoutVersion is the version of the key layout (keys.go) this package
// writes, kept in P:layout. Version 1 (no P:layout key) kept each list
// bucket of 10000 keys as a Redis set; version 2 keeps buckets of 1000000
// keys as packed strings or bitmaps.
const layoutVersion = "2"

// checkLayout refuses a prefix written by another layout, and marks a new
// prefix with this one. A prefix without P:layout that has lists was written
// by version 1: its lists would read as empty, so it is refused (EInvalid).
func (s *Store) checkLayout(ctx context.Context) error {
	v, err := s.rdb.Get(ctx, s.k.layout()).Result()
	switch {
	case err == nil && v == layoutVersion:
		return nil
	case err == nil:
		return filter.Errorf(filter.EInvalid, "", "redis: key prefix %q holds data in layout version %q, this build reads version %s: use another key_prefix or a build that reads it", s.k.prefix, v, layoutVersion)
	case !errors.Is(err, goredis.Nil):
		return fail(ctx, "read layout version", err)
	}
	n, err := s.rdb.SCard(ctx, s.k.lists()).Result()
	if err != nil {
		return fail(ctx, "read layout version", err)
	}
	if n > 0 {
		return filter.Errorf(filter.EInvalid, "", "redis: key prefix %q holds lists in the old layout (version 1, no %s key), which this build cannot read: reload the lists under a new key_prefix (nothing converts them)", s.k.prefix, s.k.layout())
	}
	if err := s.rdb.SetNX(ctx, s.k.layout(), layoutVersion, 0).Err(); err != nil {
		return fail(ctx, "write layout version", err)
	}
	return s.checkLayoutSet(ctx)
}

// checkLayoutSet re-reads P:layout after SETNX, in case another layout's
// writer marked the prefix first.
func (s *Store) checkLayoutSet(ctx context.Context) error {
	v, err := s.rdb.Get(ctx, s.k.layout()).Result()
	if err != nil {
		return fail(ctx, "read layout version", err)
	}
	if v != layoutVersion {
		return filter.Errorf(filter.EInvalid, "", "redis: key prefix %q holds data in layout version %q, this build reads version %s", s.k.prefix, v, layoutVersion)
	}
	return nil
}

// Close closes the connections. Calls after the first return its result;
// every other method then fails with EUnavailable.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		if err := s.rdb.Close(); err != nil {
			s.err = filter.Wrap(filter.EUnavailable, err, "redis: close")
		}
	})
	return s.err
}

// begin is called first by every method: a closed store or a done context is
// EUnavailable before anything is sent.
func (s *Store) begin(ctx context.Context, op string) error {
	if s.closed.Load() {
		return filter.Wrap(filter.EUnavailable, goredis.ErrClosed, "redis: %s: store is closed", op)
	}
	if err := ctx.Err(); err != nil {
		return filter.Wrap(filter.EUnavailable, err, "redis: %s", op)
	}
	return nil
}

// fail classifies an error from Redis: *filter.Error values pass unchanged;
// anything else is EUnavailable, wrapping the context's error too when the
// context is done (so errors.Is(err, context.Canceled) holds).
func fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*filter.Error](err); ok {
		return err
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%w)", cerr, err)
	}
	return filter.Wrap(filter.EUnavailable, err, "redis: %s", op)
}

func errCorrupt(what string) error {
	return filter.Errorf(filter.EUnavailable, "", "redis: a %s record is damaged", what)
}
