package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/filter"
)

// Replication is asynchronous: Redis acknowledges a write once its primary
// has it, so a failover to a replica that had not received it loses an
// acknowledged opt-out, consent revocation or attempt (DESIGN: nothing
// acknowledged is lost). With Options.WaitReplicas, each write operation
// ends with replicated, and succeeds only once that many replicas hold it;
// fewer within WaitTimeout is EUnavailable (the API answers 503; the write
// may be applied on the primary already, and every write here is safe to
// retry).
//
// WAIT waits for the replicas to acknowledge the replication offset of its
// connection's last write, and the primary replicates writes in the order
// it executes them. So replicated makes a write of its own (INCR of one
// key) after the operation's writes have returned, on a connection of its
// own, and WAITs on that connection: a replica that has the mark has every
// earlier write, from any connection. Two extra round trips per operation,
// and the operations' own code is unchanged. Cluster mode is not supported
// (the writes of one operation may live on different primaries; Validate
// says so).

// replicated waits until WaitReplicas replicas hold every write made before
// it was called; nil at once without WaitReplicas. op names the operation in
// the error.
func (s *Store) replicated(ctx context.Context, op string) error {
	if s.waitReplicas == 0 {
		return nil
	}
	client, ok := s.rdb.(*goredis.Client)
	if !ok { // Validate refuses WaitReplicas in Cluster mode
		return filter.Errorf(filter.EInternal, "", "redis: %s: wait_replicas needs a standalone or Sentinel client", op)
	}
	conn := client.Conn()
	defer conn.Close()
	if err := conn.Incr(ctx, s.k.replicationMark()).Err(); err != nil {
		return fail(ctx, op+": mark for replicas", err)
	}
	// Wait, not a pipelined WAIT: it gives the socket read WaitTimeout.
	n, err := conn.Wait(ctx, s.waitReplicas, s.waitTimeout).Result()
	if err != nil {
		return fail(ctx, op+": wait for replicas", err)
	}
	if n < int64(s.waitReplicas) {
		return filter.Errorf(filter.EUnavailable, "", "redis: %s: %d of the %d replicas wait_replicas asks for acknowledged the write within %v (it may be applied on the primary: retry)", op, n, s.waitReplicas, s.waitTimeout)
	}
	return nil
}

// DefaultWaitTimeout bounds the wait for replicas.
const DefaultWaitTimeout = 100 * time.Millisecond
