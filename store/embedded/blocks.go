package embedded

import (
	"encoding/binary"
	"math/bits"
)

// A list bucket holds one value per block of blockSize consecutive number
// keys that has any key in the list (keys.go has the layout):
//
//	format byte | packed offsets                   format blockPacked
//	format byte | bitmap of blockBitmapLen bytes   format blockBitmap
//
// An offset is key % blockSize. Packed offsets are 3 bytes each, big-endian,
// strictly ascending, at least one. The bitmap has bit offset%8 (the least
// significant bit first) of byte offset/8 set for each key, so that its
// 8-byte words read little-endian hold offsets 64w…64w+63 in bit order.
//
// The encoding of a set of offsets is canonical: up to maxPacked offsets are
// packed, more make a bitmap (whichever is smaller: 3n+1 against 125,001
// bytes), so removals turn a bitmap back into packed offsets, and an empty
// block has no value at all. The flag blockExpiring in the format byte says
// that some key of the block has an expiry in the list's expiry bucket;
// without it every key of the block is permanent and no lookup reads that
// bucket.
const (
	blockSize      = 1_000_000
	blockBitmapLen = blockSize / 8      // 125,000 bytes
	maxPacked      = blockBitmapLen / 3 // 41,666 offsets: 124,999 bytes with the format byte

	blockPacked   = 1
	blockBitmap   = 2
	blockExpiring = 0x80 // flag: the block has expiring keys
	blockFormat   = 0x7f // the format bits
)

// blockOf splits a number key into its block and offset.
func blockOf(k uint64) (block uint64, off uint32) {
	return k / blockSize, uint32(k % blockSize)
}

// blockKey returns the key of a block in a list bucket.
func blockKey(buf *[8]byte, block uint64) []byte {
	binary.BigEndian.PutUint64(buf[:], block)
	return buf[:]
}

// validBlock reports whether v is a block value of a known format and
// length. It does not read the offsets (that would cost a lookup its speed):
// the functions that walk them check what they read.
func validBlock(v []byte) bool {
	if len(v) < 1 {
		return false
	}
	switch v[0] & blockFormat {
	case blockPacked:
		n := len(v) - 1
		return n > 0 && n%3 == 0 && n/3 <= maxPacked
	case blockBitmap:
		return len(v) == 1+blockBitmapLen
	}
	return false
}

// blockExpires reports whether the block's flag says it has expiring keys.
func blockExpires(v []byte) bool { return v[0]&blockExpiring != 0 }

// packedAt returns the i-th packed offset of p (the bytes after the format byte).
func packedAt(p []byte, i int) uint32 {
	p = p[3*i : 3*i+3]
	return uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
}

// packedSearch returns the index of the first offset of p at or above off.
func packedSearch(p []byte, off uint32) int {
	lo, hi := 0, len(p)/3
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if packedAt(p, mid) < off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// blockHas reports whether the valid block v holds offset off (< blockSize).
// It does not allocate: Facts calls it for every list of every check.
func blockHas(v []byte, off uint32) bool {
	if v[0]&blockFormat == blockBitmap {
		return v[1+off/8]&(1<<(off%8)) != 0
	}
	p := v[1:]
	i := packedSearch(p, off)
	return i < len(p)/3 && packedAt(p, i) == off
}

// blockCount returns how many offsets the valid block v holds.
func blockCount(v []byte) int {
	if v[0]&blockFormat == blockPacked {
		return (len(v) - 1) / 3
	}
	n := 0
	bm := v[1:]
	for i := 0; i < len(bm); i += 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(bm[i:]))
	}
	return n
}

// appendPacked appends off as a packed offset.
func appendPacked(dst []byte, off uint32) []byte {
	return append(dst, byte(off>>16), byte(off>>8), byte(off))
}

// appendBitmapOf appends a bitmap of the packed offsets p and returns it;
// false if p holds an offset out of range.
func appendBitmapOf(dst, p []byte) ([]byte, bool) {
	start := len(dst)
	dst = append(dst, make([]byte, blockBitmapLen)...)
	bm := dst[start:]
	for i := range len(p) / 3 {
		o := packedAt(p, i)
		if o >= blockSize {
			return dst, false
		}
		bm[o/8] |= 1 << (o % 8)
	}
	return dst, true
}

// appendBlockAdd appends to dst the block that holds the offsets of the
// valid block old (nil: none) and offs (ascending, unique, each below
// blockSize), with the format byte's flags set to flags, and returns it and
// how many of offs old lacked. ok is false if old holds an offset out of
// range or out of order.
func appendBlockAdd(dst, old []byte, offs []uint32, flags byte) (out []byte, added int, ok bool) {
	flags &= blockExpiring
	if old != nil && old[0]&blockFormat == blockBitmap {
		dst = append(dst, blockBitmap|flags)
		start := len(dst)
		dst = append(dst, old[1:]...)
		bm := dst[start:]
		for _, o := range offs {
			if bm[o/8]&(1<<(o%8)) == 0 {
				bm[o/8] |= 1 << (o % 8)
				added++
			}
		}
		return dst, added, true
	}
	var p []byte
	if old != nil {
		p = old[1:]
	}
	// Count first, to know the format of the result.
	n := len(p) / 3
	i, j := 0, 0
	var prev uint32
	for i < n && j < len(offs) {
		o := packedAt(p, i)
		if o >= blockSize || (i > 0 && o <= prev) {
			return dst, 0, false
		}
		switch {
		case o < offs[j]:
			prev = o
			i++
		case o > offs[j]:
			added++
			j++
		default:
			prev = o
			i++
			j++
		}
	}
	added += len(offs) - j
	for ; i < n; i++ { // check the rest of old too
		o := packedAt(p, i)
		if o >= blockSize || (i > 0 && o <= prev) {
			return dst, 0, false
		}
		prev = o
	}
	if n+added > maxPacked {
		dst = append(dst, blockBitmap|flags)
		start := len(dst)
		dst, _ = appendBitmapOf(dst, p)
		bm := dst[start:]
		for _, o := range offs {
			bm[o/8] |= 1 << (o % 8)
		}
		return dst, added, true
	}
	dst = append(dst, blockPacked|flags)
	i, j = 0, 0
	for i < n || j < len(offs) {
		switch {
		case j == len(offs) || (i < n && packedAt(p, i) < offs[j]):
			dst = append(dst, p[3*i:3*i+3]...)
			i++
		case i == n || packedAt(p, i) > offs[j]:
			dst = appendPacked(dst, offs[j])
			j++
		default:
			dst = append(dst, p[3*i:3*i+3]...)
			i++
			j++
		}
	}
	return dst, added, true
}

// appendBlockRemove appends to dst the block that holds the offsets of the
// valid block old without offs (ascending, unique), flags as appendBlockAdd,
// and returns it (dst unchanged when no offset is left: the block is to be
// deleted) and how many of offs old held. ok as appendBlockAdd.
func appendBlockRemove(dst, old []byte, offs []uint32, flags byte) (out []byte, removed int, empty, ok bool) {
	flags &= blockExpiring
	if old[0]&blockFormat == blockBitmap {
		bm := old[1:]
		for _, o := range offs {
			if bm[o/8]&(1<<(o%8)) != 0 {
				removed++
			}
		}
		left := blockCount(old) - removed
		switch {
		case left == 0:
			return dst, removed, true, true
		case left > maxPacked:
			dst = append(dst, blockBitmap|flags)
			start := len(dst)
			dst = append(dst, bm...)
			nb := dst[start:]
			for _, o := range offs {
				nb[o/8] &^= 1 << (o % 8)
			}
			return dst, removed, false, true
		}
		// Back to packed offsets: walk the bitmap's words.
		dst = append(dst, blockPacked|flags)
		j := 0
		for w := 0; w < blockBitmapLen; w += 8 {
			word := binary.LittleEndian.Uint64(bm[w:])
			for word != 0 {
				o := uint32(8*w + bits.TrailingZeros64(word))
				word &= word - 1
				for j < len(offs) && offs[j] < o {
					j++
				}
				if j < len(offs) && offs[j] == o {
					continue
				}
				dst = appendPacked(dst, o)
			}
		}
		return dst, removed, false, true
	}
	p := old[1:]
	n := len(p) / 3
	start := len(dst)
	dst = append(dst, blockPacked|flags)
	j := 0
	var prev uint32
	for i := range n {
		o := packedAt(p, i)
		if o >= blockSize || (i > 0 && o <= prev) {
			return dst[:start], 0, false, false
		}
		prev = o
		for j < len(offs) && offs[j] < o {
			j++
		}
		if j < len(offs) && offs[j] == o {
			removed++
			continue
		}
		dst = append(dst, p[3*i:3*i+3]...)
	}
	if removed == n {
		return dst[:start], removed, true, true
	}
	return dst, removed, false, true
}

// appendBlockKeys appends to dst the keys of the valid block v of number
// block (block*blockSize + offset) whose offset is at least from, in
// ascending order, until dst holds limit keys; full reports that it stopped
// there. ok is false if v holds an offset out of range or out of order.
func appendBlockKeys(dst []uint64, block uint64, v []byte, from uint32, limit int) (out []uint64, full, ok bool) {
	base := block * blockSize
	if v[0]&blockFormat == blockBitmap {
		bm := v[1:]
		w := int(from/64) * 8
		if w >= blockBitmapLen {
			return dst, false, true
		}
		word := binary.LittleEndian.Uint64(bm[w:]) &^ (1<<(from%64) - 1)
		for {
			for word != 0 {
				if len(dst) >= limit {
					return dst, true, true
				}
				dst = append(dst, base+uint64(8*w+bits.TrailingZeros64(word)))
				word &= word - 1
			}
			if w += 8; w >= blockBitmapLen {
				return dst, false, true
			}
			word = binary.LittleEndian.Uint64(bm[w:])
		}
	}
	p := v[1:]
	n := len(p) / 3
	start := packedSearch(p, from)
	var prev uint32
	for i := start; i < n; i++ {
		if len(dst) >= limit {
			return dst, true, true
		}
		o := packedAt(p, i)
		if o >= blockSize || (i > start && o <= prev) {
			return dst, false, false
		}
		prev = o
		dst = append(dst, base+uint64(o))
	}
	return dst, false, true
}
