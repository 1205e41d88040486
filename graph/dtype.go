package graph

import (
	"fmt"
	"math"
	"strings"
	"unsafe"

	"gorgonia.org/tensor"
)

// Float is the set of element types descent computes in.
type Float interface {
	~float32 | ~float64
}

// CheckDType returns nil for tensor.Float32 and tensor.Float64, the two
// dtypes descent supports, and an error wrapping ErrDType otherwise.
func CheckDType(dt tensor.Dtype) error {
	if dt == tensor.Float32 || dt == tensor.Float64 {
		return nil
	}
	if dt.Type == nil {
		return fmt.Errorf("graph: dtype is not set: %w", ErrDType)
	}
	return fmt.Errorf("graph: dtype %v is not supported (want float32 or float64): %w", dt, ErrDType)
}

// DefaultDType returns dt, or tensor.Float64 when dt is the zero Dtype.
func DefaultDType(dt tensor.Dtype) tensor.Dtype {
	if dt.Type == nil {
		return tensor.Float64
	}
	return dt
}

// ParseDType parses "float32" or "float64" (also "f32", "f64").
func ParseDType(s string) (tensor.Dtype, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "float64", "f64", "double":
		return tensor.Float64, nil
	case "float32", "f32", "float":
		return tensor.Float32, nil
	}
	return tensor.Dtype{}, fmt.Errorf("graph: unknown dtype %q (want float32 or float64): %w", s, ErrUnknown)
}

// ZeroTensor returns a new zero tensor of the given dtype and shape.
func ZeroTensor(dt tensor.Dtype, shape ...int) (*tensor.Dense, error) {
	if err := CheckDType(dt); err != nil {
		return nil, err
	}
	for _, d := range shape {
		if d <= 0 {
			return nil, fmt.Errorf("graph: shape %v has a non-positive dimension: %w", shape, ErrShape)
		}
	}
	var t *tensor.Dense
	err := Guard("graph: new tensor", func() error {
		t = tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
		return nil
	})
	return t, err
}

// Float64s returns the backing slice of a float64 tensor, or nil.
func Float64s(t *tensor.Dense) []float64 {
	if t == nil || t.Dtype() != tensor.Float64 {
		return nil
	}
	return t.Float64s()
}

// Float32s returns the backing slice of a float32 tensor, or nil.
func Float32s(t *tensor.Dense) []float32 {
	if t == nil || t.Dtype() != tensor.Float32 {
		return nil
	}
	return t.Float32s()
}

// Slice returns the backing slice of t when its element type is T. It does
// not allocate (tensor's Data method does, through reflection).
func Slice[T Float](t *tensor.Dense) ([]T, bool) {
	if t == nil {
		return nil, false
	}
	if is32[T]() {
		if t.Dtype() != tensor.Float32 {
			return nil, false
		}
		s := t.Float32s()
		return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s))), len(s)), true
	}
	if t.Dtype() != tensor.Float64 {
		return nil, false
	}
	s := t.Float64s()
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s))), len(s)), true
}

// ReadFloat64s copies the elements of a float32 or float64 tensor into dst
// (grown as needed) as float64 and returns it. It does not allocate when
// dst is large enough.
func ReadFloat64s(t *tensor.Dense, dst []float64) []float64 {
	switch t.Dtype() {
	case tensor.Float64:
		dst = append(dst[:0], t.Float64s()...)
	case tensor.Float32:
		s := t.Float32s()
		dst = dst[:0]
		for _, v := range s {
			dst = append(dst, float64(v))
		}
	}
	return dst
}

// WriteFloat64s copies src into a float32 or float64 tensor, converting as
// needed. It fails when the lengths differ.
func WriteFloat64s(t *tensor.Dense, src []float64) error {
	switch t.Dtype() {
	case tensor.Float64:
		s := t.Float64s()
		if len(s) != len(src) {
			return fmt.Errorf("graph: %d values for a tensor of shape %v: %w", len(src), t.Shape(), ErrShape)
		}
		copy(s, src)
	case tensor.Float32:
		s := t.Float32s()
		if len(s) != len(src) {
			return fmt.Errorf("graph: %d values for a tensor of shape %v: %w", len(src), t.Shape(), ErrShape)
		}
		for i, v := range src {
			s[i] = float32(v)
		}
	default:
		return fmt.Errorf("graph: tensor of dtype %v: %w", t.Dtype(), ErrDType)
	}
	return nil
}

// CopyRows copies the rows of the matrix src into the matrix dst from row
// lo on (dst's rows [lo, lo+rows of src)). Both must be float32 or float64
// matrices of the same dtype and width. It does not allocate.
func CopyRows(dst, src *tensor.Dense, lo int) error {
	if dst == nil || src == nil || dst.Dims() != 2 || src.Dims() != 2 {
		return fmt.Errorf("graph: copy rows: both tensors must be matrices: %w", ErrShape)
	}
	ds, ss := dst.Shape(), src.Shape()
	if ss[1] != ds[1] || lo < 0 || lo+ss[0] > ds[0] {
		return fmt.Errorf("graph: copy rows: %d rows of width %d from row %d into a matrix of shape %v: %w", ss[0], ss[1], lo, ds, ErrShape)
	}
	if dst.Dtype() != src.Dtype() {
		return fmt.Errorf("graph: copy rows: %v rows into a %v matrix: %w", src.Dtype(), dst.Dtype(), ErrDType)
	}
	off := lo * ds[1]
	switch dst.Dtype() {
	case tensor.Float64:
		copy(dst.Float64s()[off:], src.Float64s())
	case tensor.Float32:
		copy(dst.Float32s()[off:], src.Float32s())
	default:
		return fmt.Errorf("graph: copy rows: tensors of dtype %v: %w", dst.Dtype(), ErrDType)
	}
	return nil
}

// AllFinite reports whether every element of a float tensor is finite, and
// the flat index of the first one that is not (-1 when all are).
func AllFinite(t *tensor.Dense) (bool, int) {
	i := FirstNonFinite(t, 0, t.Shape().TotalSize())
	return i < 0, i
}

// FirstNonFinite returns the flat index of the first NaN or infinity among
// elements [lo, hi) of a float tensor, or -1 when they are all finite (or
// the tensor is not float32 or float64). It reads exponent bits, a block at
// a time, without a branch per element.
func FirstNonFinite(t *tensor.Dense, lo, hi int) int {
	switch t.Dtype() {
	case tensor.Float64:
		return firstNonFinite64(t.Float64s(), lo, hi)
	case tensor.Float32:
		return firstNonFinite32(t.Float32s(), lo, hi)
	}
	return -1
}

// nonFiniteBlock is the number of elements checked at once before looking
// for the culprit.
const nonFiniteBlock = 1024

// An element is an infinity or a NaN when its exponent bits are all ones:
// adding one to the exponent field then carries into the sign bit, which
// an OR over the block keeps.
func firstNonFinite64(s []float64, lo, hi int) int {
	lo, hi = max(lo, 0), min(hi, len(s))
	for b := lo; b < hi; b += nonFiniteBlock {
		blk := s[b:min(b+nonFiniteBlock, hi)]
		u := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(blk))), len(blk))
		var b0, b1 uint64
		i := 0
		for ; i+2 <= len(u); i += 2 {
			b0 |= (u[i] & 0x7ff0000000000000) + 0x0010000000000000
			b1 |= (u[i+1] & 0x7ff0000000000000) + 0x0010000000000000
		}
		for ; i < len(u); i++ {
			b0 |= (u[i] & 0x7ff0000000000000) + 0x0010000000000000
		}
		if (b0|b1)>>63 != 0 {
			for j, v := range blk {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return b + j
				}
			}
		}
	}
	return -1
}

// firstNonFinite32 checks two float32 per 64-bit word.
func firstNonFinite32(s []float32, lo, hi int) int {
	lo, hi = max(lo, 0), min(hi, len(s))
	const mask, one, signs = 0x7f8000007f800000, 0x0080000000800000, 0x8000000080000000
	for b := lo; b < hi; b += nonFiniteBlock {
		blk := s[b:min(b+nonFiniteBlock, hi)]
		var bad uint64
		if len(blk) >= 2 && uintptr(unsafe.Pointer(unsafe.SliceData(blk)))%8 == 0 {
			u := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(blk))), len(blk)/2)
			var b0, b1 uint64
			i := 0
			for ; i+2 <= len(u); i += 2 {
				b0 |= (u[i] & mask) + one
				b1 |= (u[i+1] & mask) + one
			}
			for ; i < len(u); i++ {
				b0 |= (u[i] & mask) + one
			}
			bad = (b0 | b1) & signs
			if len(blk)%2 == 1 {
				bad |= uint64((math.Float32bits(blk[len(blk)-1])&0x7f800000)+0x00800000) & 0x80000000
			}
		} else {
			for _, v := range blk {
				bad |= uint64((math.Float32bits(v)&0x7f800000)+0x00800000) & 0x80000000
			}
		}
		if bad != 0 {
			for j, v := range blk {
				if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
					return b + j
				}
			}
		}
	}
	return -1
}

const maxFloat = 1.7976931348623157e308
