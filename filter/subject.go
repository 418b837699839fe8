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

// NewHasher returns a Hasher keyed with secret, which must not be empty.
func NewHasher(secret []byte) *Hasher {
	key := append([]byte(nil), secret...)
	return &Hasher{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// Subject returns HMAC-SHA256(secret, e164).
func (h *Hasher) Subject(e164 string) Subject {
	m := h.pool.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(e164))
	var s Subject
	m.Sum(s[:0])
	h.pool.Put(m)
	return s
}
