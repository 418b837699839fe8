package main

import (
	"context"
	"crypto/tls"
	"strings"

	"callfilter/feed"
	"callfilter/filter"
	"callfilter/service"
	cfredis "callfilter/store/redis"
)

// openRedis opens the Redis store the config describes.
func openRedis(ctx context.Context, sc StoreConfig) (filter.Store, error) {
	return cfredis.Open(ctx, redisOptions(sc))
}

// redisOptions are the Redis store's options the config describes.
func redisOptions(sc StoreConfig) cfredis.Options {
	opts := cfredis.Options{
		MasterName:   sc.MasterName,
		Username:     sc.Username,
		Password:     sc.Password,
		DB:           sc.DB,
		KeyPrefix:    sc.KeyPrefix,
		ClusterMode:  sc.Cluster,
		WaitReplicas: sc.WaitReplicas,
		WaitTimeout:  sc.WaitTimeout,
	}
	for _, a := range sc.Addrs {
		opts.Addrs = append(opts.Addrs, strings.TrimSpace(a))
	}
	if sc.TLS {
		opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if sc.Timeout > 0 {
		opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = sc.Timeout, sc.Timeout, sc.Timeout
	}
	return opts
}

// newFeed starts the change feed of a Redis store and makes the service trust
// the bloom filters only while it is in step (and be ready only while Redis
// answers); for the embedded store it returns nil and leaves opts alone. st
// may be wrapped (metrics): wrappers with Unwrap are looked through. A Redis
// store that cannot be found confirms every list exactly rather than trust
// filters nothing keeps in step.
func (m *Main) newFeed(st filter.Store, opts *service.Options) *feed.Feed {
	if m.cfg.Store.Kind != "redis" {
		return nil
	}
	for {
		if rs, ok := st.(*cfredis.Store); ok {
			f := feed.New(rs, m.lists, feed.Options{Logger: m.log})
			opts.Synced, opts.Health = f.Synced, f.Health
			return f
		}
		w, ok := st.(interface{ Unwrap() filter.Store })
		if !ok {
			m.log.Error("no change feed: the Redis store is wrapped in a way callfilter cannot see through; every check confirms every list in Redis")
			opts.ExactLists = true
			return nil
		}
		st = w.Unwrap()
	}
}

// loadLists loads the lists names (and every list of the store) into the
// filters, through the change feed when there is one.
func (m *Main) loadLists(ctx context.Context, names []string) error {
	if m.feed != nil {
		return m.feed.Load(ctx, names)
	}
	return m.lists.Load(ctx, names)
}
