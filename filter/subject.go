package filter

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// Hasher turns numbers into Subjects with a deployment secret. Safe for
// concurrent use.
type Hasher struct {
	pool sync.Pool
}

// hmacState is one pooled HMAC with a scratch buffer: the number and the sum
// pass through it so that hashing allocates nothing on the check path.
type hmacState struct {
	mac hash.Hash
	buf []byte
}

// NewHasher returns a Hasher keyed with secret, which must not be empty.
func NewHasher(secret []byte) *Hasher {
	key := append([]byte(nil), secret...)
	return &Hasher{pool: sync.Pool{New: func() any {
		return &hmacState{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 64)}
	}}}
}

// Subject returns HMAC-SHA256(secret, e164).
func (h *Hasher) Subject(e164 string) Subject {
	st := h.pool.Get().(*hmacState)
	st.mac.Reset()
	st.buf = append(st.buf[:0], e164...)
	st.mac.Write(st.buf)
	st.buf = st.mac.Sum(st.buf[:0])
	var s Subject
	copy(s[:], st.buf)
	h.pool.Put(st)
	return s
}
