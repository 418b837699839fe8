package main

import (
	"context"
	"crypto/tls"
	"strings"

	"callfilter/filter"
	cfredis "callfilter/store/redis"
)

// openRedis opens the Redis store the config describes.
func openRedis(ctx context.Context, sc StoreConfig) (filter.Store, error) {
	opts := cfredis.Options{
		MasterName:  sc.MasterName,
		Username:    sc.Username,
		Password:    sc.Password,
		DB:          sc.DB,
		KeyPrefix:   sc.KeyPrefix,
		ClusterMode: sc.Cluster,
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
	return cfredis.Open(ctx, opts)
}
