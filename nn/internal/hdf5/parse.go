package hdf5

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// undef is HDF5's undefined address.
const undef = ^uint64(0)

// cursor decodes little-endian fields from a byte slice read at file
// offset base. Reading past the end sets a sticky error and returns zeros,
// so a parser checks err once after a run of fields instead of bounds
// before each.
type cursor struct {
	b    []byte
	off  int
	base int64
	what string // the structure being decoded, for the error
	err  string // first problem, "" if none
}

func newCursor(b []byte, base int64, what string) *cursor {
	return &cursor{b: b, base: base, what: what}
}

func (c *cursor) fail(format string, args ...any) {
	if c.err == "" {
		c.err = fmt.Sprintf(format, args...)
	}
}

// take returns the next n bytes, or nil past the end.
func (c *cursor) take(n int) []byte {
	if c.err != "" {
		return nil
	}
	if n < 0 || n > len(c.b)-c.off {
		c.fail("%s is truncated: %d bytes wanted at byte %d of %d", c.what, n, c.off, len(c.b))
		return nil
	}
	p := c.b[c.off : c.off+n]
	c.off += n
	return p
}

func (c *cursor) skip(n int) { c.take(n) }

func (c *cursor) u8() uint8 {
	if p := c.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (c *cursor) u16() uint16 {
	if p := c.take(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (c *cursor) u32() uint32 {
	if p := c.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (c *cursor) u64() uint64 {
	if p := c.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// uvar reads an n-byte little-endian unsigned integer, 0 < n <= 8.
func (c *cursor) uvar(n int) uint64 {
	if n < 0 || n > 8 {
		c.fail("%s: a %d-byte integer field", c.what, n)
		return 0
	}
	p := c.take(n)
	var v uint64
	for i := len(p) - 1; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	return v
}

// pos returns the file offset of the next byte.
func (c *cursor) pos() int64 { return c.base + int64(c.off) }

func (c *cursor) rest() int { return len(c.b) - c.off }

// encSize is the number of bytes libhdf5 uses to encode values up to n
// (H5VM_limit_enc_size).
func encSize(n uint64) int { return (bits.Len64(n)-1)/8 + 1 }

// lookup3 is Bob Jenkins's hashlittle (lookup3.c) with initval 0, HDF5's
// metadata checksum (H5_checksum_lookup3).
func lookup3(k []byte) uint32 {
	a := 0xdeadbeef + uint32(len(k))
	b, c := a, a
	rot := bits.RotateLeft32
	for len(k) > 12 {
		a += binary.LittleEndian.Uint32(k[0:])
		b += binary.LittleEndian.Uint32(k[4:])
		c += binary.LittleEndian.Uint32(k[8:])
		a -= c
		a ^= rot(c, 4)
		c += b
		b -= a
		b ^= rot(a, 6)
		a += c
		c -= b
		c ^= rot(b, 8)
		b += a
		a -= c
		a ^= rot(c, 16)
		c += b
		b -= a
		b ^= rot(a, 19)
		a += c
		c -= b
		c ^= rot(b, 4)
		b += a
		k = k[12:]
	}
	if len(k) == 0 {
		return c
	}
	var tail [12]byte
	copy(tail[:], k)
	a += binary.LittleEndian.Uint32(tail[0:])
	b += binary.LittleEndian.Uint32(tail[4:])
	c += binary.LittleEndian.Uint32(tail[8:])
	c ^= b
	c -= rot(b, 14)
	a ^= c
	a -= rot(c, 11)
	b ^= a
	b -= rot(a, 25)
	c ^= b
	c -= rot(b, 16)
	a ^= c
	a -= rot(c, 4)
	b ^= a
	b -= rot(a, 14)
	c ^= b
	c -= rot(b, 24)
	return c
}
