package redis_test

import goredis "github.com/redis/go-redis/v9"

// redisDo is a plain client, standalone or Cluster.
type redisDo = goredis.UniversalClient

func newClient(addrs []string) redisDo {
	return goredis.NewUniversalClient(&goredis.UniversalOptions{Addrs: addrs, DisableIdentity: true, IsClusterMode: len(addrs) > 1})
}
