package main

import (
	"callfilter/store/redis/redistest"
	"context"
	"io"
	"testing"
	"time"
)

// TestRedisMainHasFeed: a service configured for Redis runs the change feed
// (through any store wrapper) and trusts its filters only through it, so that
// another instance's list additions are never missed here. It uses the
// redis-server on 127.0.0.1:6379, or one started for it (redistest).
func TestRedisMainHasFeed(t *testing.T) {
	addr := redistest.Standalone(t)
	prefix := redistest.RandomPrefix()
	redistest.CleanupPrefix(t, addr, prefix)
	cfg := defaultConfig()
	cfg.dir = "../.."
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = StoreConfig{Kind: "redis", Addrs: []string{addr}, KeyPrefix: prefix, Timeout: time.Second}
	cfg.HMACSecret = "main-test-secret-0123456789"
	cfg.AdminKey = "cf_main-test-admin-key-0123456789"
	m := NewMain(cfg, io.Discard)
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer m.ln.Close()
	if m.feed == nil {
		t.Fatal("no change feed on a Redis store: other instances' adds would be missed")
	}
	if err := m.loadLists(context.Background(), m.svc.Rules().ListNames()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !m.svc.Ready(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not ready within 5s with Redis up")
		}
	}
}
