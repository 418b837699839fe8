package filter

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

func TestHasherSubject(t *testing.T) {
	h := NewHasher([]byte("secret-of-the-deployment"))
	for _, e164 := range []string{"+12125550134", "+8613800138000", ""} {
		m := hmac.New(sha256.New, []byte("secret-of-the-deployment"))
		m.Write([]byte(e164))
		var want Subject
		copy(want[:], m.Sum(nil))
		if got := h.Subject(e164); got != want {
			t.Errorf("Subject(%q) = %x, want %x", e164, got, want)
		}
	}
	if NewHasher([]byte("other-secret-1234")).Subject("+12125550134") == h.Subject("+12125550134") {
		t.Error("two secrets gave the same subject")
	}
	// The race detector makes sync.Pool drop items at random.
	if n := testing.AllocsPerRun(100, func() { h.Subject("+12125550134") }); n != 0 && !raceEnabled {
		t.Errorf("Subject allocates %v times, want 0", n)
	}
}
