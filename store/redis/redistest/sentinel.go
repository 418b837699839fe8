package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// SentinelSet is a primary, its replica and one Sentinel watching them,
// all on free loopback ports, started for one test.
type SentinelSet struct {
	// MasterName is the name the Sentinel monitors the primary under.
	MasterName string
	// Sentinel is the Sentinel's address: clients are given it, not the
	// primary's.
	Sentinel string
	// Primary and Replica are the data servers' addresses at the start; after
	// a failover the replica is the primary.
	Primary, Replica string

	primary, replica, sentinel *exec.Cmd
}

// StartSentinel starts a primary, a replica of it and a Sentinel with
// quorum 1 that declares the primary down after 500 ms, and waits until the
// replica is in sync and the Sentinel knows both. Every process is killed
// when Main returns.
func StartSentinel(tb testing.TB) *SentinelSet {
	tb.Helper()
	s := &SentinelSet{MasterName: "cf-" + RandomPrefix()[7:]}
	s.Primary, s.primary = Start(tb)
	replicaPort := FreePort(tb)
	host, port, _ := net.SplitHostPort(s.Primary)
	s.replica = StartAt(tb, replicaPort, Dir(tb, strconv.Itoa(replicaPort)), "--appendonly", "no", "--replicaof", host, port)
	s.Replica = net.JoinHostPort("127.0.0.1", strconv.Itoa(replicaPort))
	waitFor(tb, 10*time.Second, "replica in sync", func() bool {
		info := infoOf(s.Replica, "replication")
		return strings.Contains(info, "master_link_status:up")
	})

	sentinelPort := FreePort(tb)
	dir := Dir(tb, "sentinel-"+strconv.Itoa(sentinelPort))
	conf := filepath.Join(dir, "sentinel.conf") // Sentinel rewrites it: it must be writable
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
		"sentinel monitor %s %s %s 1\n"+
		"sentinel down-after-milliseconds %s 500\n"+
		"sentinel failover-timeout %s 3000\n"+
		"sentinel parallel-syncs %s 1\n",
		sentinelPort, dir, filepath.Join(dir, "log"), s.MasterName, host, port, s.MasterName, s.MasterName, s.MasterName)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		tb.Fatal(err)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatal("redis-server is not installed: install it (apt-get install redis-server) to run these tests")
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis sentinel: %v", err)
	}
	mu.Lock()
	procs = append(procs, cmd)
	mu.Unlock()
	s.sentinel = cmd
	s.Sentinel = net.JoinHostPort("127.0.0.1", strconv.Itoa(sentinelPort))
	waitFor(tb, 10*time.Second, "sentinel sees the replica", func() bool {
		c := goredis.NewSentinelClient(&goredis.Options{Addr: s.Sentinel, DisableIdentity: true})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		reps, err := c.Replicas(ctx, s.MasterName).Result()
		return err == nil && len(reps) == 1
	})
	return s
}

// StopReplica stops the replica with SIGSTOP: it keeps its connection to the
// primary but neither reads nor acknowledges anything until ContinueReplica.
func (s *SentinelSet) StopReplica(tb testing.TB) {
	tb.Helper()
	if err := s.replica.Process.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatal(err)
	}
	// A stopped replica must not outlive the test stopped: Kill alone would
	// leave it.
	tb.Cleanup(func() { _ = s.replica.Process.Signal(syscall.SIGCONT) })
}

// ContinueReplica resumes a replica StopReplica stopped.
func (s *SentinelSet) ContinueReplica(tb testing.TB) {
	tb.Helper()
	if err := s.replica.Process.Signal(syscall.SIGCONT); err != nil {
		tb.Fatal(err)
	}
}

// KillPrimary kills the primary with SIGKILL, as a crash would.
func (s *SentinelSet) KillPrimary() { Kill(s.primary) }

// WaitFailover waits until the Sentinel names the replica as the primary.
func (s *SentinelSet) WaitFailover(tb testing.TB, within time.Duration) {
	tb.Helper()
	waitFor(tb, within, "sentinel failover to the replica", func() bool {
		c := goredis.NewSentinelClient(&goredis.Options{Addr: s.Sentinel, DisableIdentity: true})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		addr, err := c.GetMasterAddrByName(ctx, s.MasterName).Result()
		return err == nil && len(addr) == 2 && net.JoinHostPort(addr[0], addr[1]) == s.Replica &&
			strings.Contains(infoOf(s.Replica, "replication"), "role:master")
	})
}

// WaitReplicated blocks until the replica has every write the primary has
// acknowledged so far (WAIT 1), so a failover afterwards loses none of them.
func (s *SentinelSet) WaitReplicated(tb testing.TB) {
	tb.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: s.Primary, DisableIdentity: true})
	defer c.Close()
	n, err := c.Wait(context.Background(), 1, 5000).Result()
	if err != nil || n < 1 {
		tb.Fatalf("WAIT 1 on the primary: %d replicas, %v", n, err)
	}
}

func infoOf(addr, section string) string {
	c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, _ := c.Info(ctx, section).Result()
	return info
}

func waitFor(tb testing.TB, within time.Duration, what string, ok func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s", what, within)
		}
	}
}
