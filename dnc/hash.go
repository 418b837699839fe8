package dnc

import (
	"math/bits"

	"github.com/bits-and-blooms/bloom/v3"
)

// Why Screen hashes a key here and not through the filter's Test. Test
// hashes the key again for every list, and with the hashing between them the
// CPU cannot start one filter's probe (a cache miss on a large filter) while
// another's is outstanding; hashed once, four lists screen in about half the
// time. bloom's own way to hash once, Locations, allocates its slice on every
// call (v3.7.1 has no form that fills a caller's), which Screen must not do.
//
// So keyHash is bloom's baseHashes specialised to the 8-byte keys Screen
// tests (murmur3 x64 128 of the key and of the key with a 1 byte appended,
// as in bloom's murmur.go, BSD-licensed, derived from Sébastien Paolacci's
// murmur3). A copy could silently drift from the library after an upgrade,
// which would be a false "absent": hashAgrees compares it with
// bloom.Locations on sample keys when the package starts, and Screen uses
// the filter's own Test unless they agree (TestKeyHashMatchesBloom fails the
// build's tests if they do not).

const (
	murmurC1 = 0x87c37b91114253d5
	murmurC2 = 0x4cf5ad432745937f
)

// keyHash returns bloom's four base hashes of keyBytes(key).
func keyHash(key uint64) [4]uint64 {
	// The key is the whole tail of the input (no 16-byte block): it is
	// mixed into h1 only, in both sums.
	k1 := bits.RotateLeft64(key*murmurC1, 31) * murmurC2
	h1, h2 := murmurFinish(k1, 0, 8)
	// The second sum appends a 1 byte, the ninth, which goes into k2.
	k2 := bits.RotateLeft64(1*murmurC2, 33) * murmurC1
	h3, h4 := murmurFinish(k1, k2, 9)
	return [4]uint64{h1, h2, h3, h4}
}

// murmurFinish is murmur3's finalisation of the running hashes h1, h2 of an
// input of length n.
func murmurFinish(h1, h2, n uint64) (uint64, uint64) {
	h1 ^= n
	h2 ^= n
	h1 += h2
	h2 += h1
	h1 = murmurFmix(h1)
	h2 = murmurFmix(h2)
	h1 += h2
	h2 += h1
	return h1, h2
}

func murmurFmix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// keyLocation is bloom's location i of a key with base hashes h, before it
// is reduced modulo a filter's size.
func keyLocation(h *[4]uint64, i uint64) uint64 {
	return h[i%2] + i*h[2+(((i+(i%2))%4)/2)]
}

// testHashed is f.Test(keyBytes(key)) for h = keyHash(key).
func testHashed(f *bloom.BloomFilter, h *[4]uint64) bool {
	m, k, b := uint64(f.Cap()), uint64(f.K()), f.BitSet()
	for i := uint64(0); i < k; i++ {
		if !b.Test(uint(keyLocation(h, i) % m)) {
			return false
		}
	}
	return true
}

// hashAgrees reports whether keyHash gives bloom's locations, checked on
// keys of every byte pattern class and up to 64 locations (more than any
// filter's k).
var hashAgrees = func() bool {
	keys := []uint64{0, 1, 0xff, 1 << 63, ^uint64(0), 12125550134, 447911123456, 8613800138000}
	x := uint64(0x9e3779b97f4a7c15)
	for range 56 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		keys = append(keys, x)
	}
	for _, key := range keys {
		b := keyBytes(key)
		want := bloom.Locations(b[:], 64)
		h := keyHash(key)
		for i, w := range want {
			if keyLocation(&h, uint64(i)) != w {
				return false
			}
		}
	}
	return true
}()
