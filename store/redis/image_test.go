package redis_test

import (
	"bytes"
	"testing"
	"time"

	cfredis "callfilter/store/redis"
)

// TestImageStore: an image written in chunks reads back byte for byte, a
// rewrite replaces it, a wrong size is refused, and the lock admits one
// holder at a time; on standalone and Cluster (all keys in the list's slot).
func TestImageStore(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(testing.TB) *cfredis.Store
	}{{"standalone", MustOpenStandalone}, {"cluster", MustOpenCluster}} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.open(t)
			ctx := t.Context()
			if ref, h, err := st.ImageHeader(ctx, "l"); err != nil || h != nil || ref.Chunks != 0 {
				t.Fatalf("no image: %+v %q %v", ref, h, err)
			}
			tok, ok, err := st.LockImage(ctx, "l", time.Minute)
			if err != nil || !ok {
				t.Fatalf("LockImage: %v %v", ok, err)
			}
			if _, ok2, err := st.LockImage(ctx, "l", time.Minute); err != nil || ok2 {
				t.Fatalf("second LockImage: %v %v, want refused", ok2, err)
			}
			data := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16000 bytes
			for round := range 2 {
				data[0] = byte(round)
				if err := st.PutImage(ctx, "l", []byte(`{"h":1}`), data, 4096); err != nil {
					t.Fatal(err)
				}
				ref, h, err := st.ImageHeader(ctx, "l")
				if err != nil || string(h) != `{"h":1}` || ref.Chunks != 4 {
					t.Fatalf("header: %+v %q %v", ref, h, err)
				}
				got, err := st.ImageData(ctx, "l", ref, int64(len(data)))
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("data: %d bytes, %v", len(got), err)
				}
				if _, err := st.ImageData(ctx, "l", ref, int64(len(data))+1); err == nil {
					t.Fatal("a wrong size was accepted")
				}
			}
			if err := st.UnlockImage(ctx, "l", tok); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := st.LockImage(ctx, "l", time.Minute); err != nil || !ok {
				t.Fatalf("LockImage after unlock: %v %v", ok, err)
			}
		})
	}
}
