package hdf5

import (
	"fmt"
	"math"
)

// Class is an HDF5 datatype class, numbered as in the format.
type Class int

// Datatype classes.
const (
	ClassInteger   Class = 0
	ClassFloat     Class = 1
	ClassTime      Class = 2
	ClassString    Class = 3
	ClassBitfield  Class = 4
	ClassOpaque    Class = 5
	ClassCompound  Class = 6
	ClassReference Class = 7
	ClassEnum      Class = 8
	ClassVarLen    Class = 9
	ClassArray     Class = 10
)

var classNames = map[Class]string{
	ClassInteger: "integer", ClassFloat: "floating point", ClassTime: "time",
	ClassString: "string", ClassBitfield: "bitfield", ClassOpaque: "opaque",
	ClassCompound: "compound", ClassReference: "reference", ClassEnum: "enumeration",
	ClassVarLen: "variable-length", ClassArray: "array",
}

// String names the class.
func (c Class) String() string {
	if s, ok := classNames[c]; ok {
		return s
	}
	return fmt.Sprintf("class %d", int(c))
}

// String padding of fixed-length strings.
const (
	padNullTerm  = 0
	padNull      = 1
	padSpace     = 2
	charsetASCII = 0
	charsetUTF8  = 1
)

// Datatype is the type of a dataset's or attribute's elements. Only the
// types this package can decode have a zero Unsupported.
type Datatype struct {
	Class Class
	Size  int // bytes per element (16 for a variable-length string reference)
	// VarString is true for a variable-length string (class 9, type 1)
	// whose bytes live in the global heap.
	VarString bool
	// Pad is a fixed-length string's padding: 0 null-terminated, 1
	// null-padded, 2 space-padded.
	Pad int
	// UTF8 is true for strings whose character set is UTF-8, false for
	// ASCII.
	UTF8 bool
	// Unsupported says why values of this type cannot be decoded, "" when
	// they can.
	Unsupported string
}

// Float32 and Float64 are IEEE little-endian floats, HDF5's
// H5T_IEEE_F32LE and H5T_IEEE_F64LE, as numpy's float32 and float64.
var (
	Float32 = Datatype{Class: ClassFloat, Size: 4}
	Float64 = Datatype{Class: ClassFloat, Size: 8}
)

// IsFloat reports whether t is Float32 or Float64.
func (t Datatype) IsFloat() bool { return t.Class == ClassFloat && t.Unsupported == "" }

// IsString reports whether t is a fixed- or variable-length string.
func (t Datatype) IsString() bool {
	return (t.Class == ClassString || t.VarString) && t.Unsupported == ""
}

// String describes the type: "float32", "string(12)", "vlen string", ...
func (t Datatype) String() string {
	switch {
	case t.Unsupported != "":
		return t.Unsupported
	case t.Class == ClassFloat:
		return fmt.Sprintf("float%d", 8*t.Size)
	case t.VarString:
		return "vlen string"
	case t.Class == ClassString:
		return fmt.Sprintf("string(%d)", t.Size)
	}
	return fmt.Sprintf("%v of %d bytes", t.Class, t.Size)
}

// maxElementSize bounds one element: HDF5 allows 2^32-1 bytes, no float
// or string Keras writes comes close.
const maxElementSize = 1 << 20

// parseDatatype decodes a datatype message. depth bounds nested base types.
func (f *File) parseDatatype(c *cursor, object string, depth int) (Datatype, error) {
	at := c.pos()
	cv := c.u8()
	b0, b1, _ := c.u8(), c.u8(), c.u8()
	size := c.u32()
	if c.err != "" {
		return Datatype{}, f.cursorErr(c, object)
	}
	class, version := Class(cv&0x0f), cv>>4
	t := Datatype{Class: class, Size: int(size)}
	if version < 1 || version > 4 {
		return t, f.errf(ErrFormat, object, at, "datatype version %d (want 1 to 4)", version)
	}
	if size == 0 || size > maxElementSize {
		return t, f.errf(ErrFormat, object, at, "datatype of %d bytes per element (limit %d)", size, maxElementSize)
	}
	switch class {
	case ClassFloat:
		off, prec := c.u16(), c.u16()
		eloc, esize, mloc, msize := c.u8(), c.u8(), c.u8(), c.u8()
		bias := c.u32()
		if c.err != "" {
			return t, f.cursorErr(c, object)
		}
		sign := b1
		var want [7]uint32
		switch size {
		case 4:
			want = [7]uint32{0, 32, 23, 8, 0, 23, 127}
		case 8:
			want = [7]uint32{0, 64, 52, 11, 0, 52, 1023}
		}
		got := [7]uint32{uint32(off), uint32(prec), uint32(eloc), uint32(esize), uint32(mloc), uint32(msize), bias}
		switch {
		case b0&0x41 != 0:
			t.Unsupported = fmt.Sprintf("big-endian or VAX-order float%d", 8*size)
		case (size != 4 && size != 8) || got != want || int(sign) != 8*int(size)-1:
			t.Unsupported = fmt.Sprintf("floating point of %d bytes that is not IEEE float32 or float64", size)
		}
	case ClassString:
		t.Pad, t.UTF8 = int(b0&0x0f), b0>>4 == charsetUTF8
		if t.Pad > padSpace || b0>>4 > charsetUTF8 {
			t.Unsupported = fmt.Sprintf("string with padding %d and character set %d", t.Pad, b0>>4)
		}
	case ClassVarLen:
		if depth >= 4 {
			return t, f.errf(ErrLimit, object, at, "datatypes nested more than 4 deep")
		}
		base, err := f.parseDatatype(c, object, depth+1)
		if err != nil {
			return t, err
		}
		if b0&0x0f != 1 {
			t.Unsupported = fmt.Sprintf("datatype class 9 (variable-length sequence of %v)", base)
			break
		}
		t.VarString, t.Pad, t.UTF8 = true, int(b0>>4), b1&0x0f == charsetUTF8
		if int(size) != 16 {
			return t, f.errf(ErrFormat, object, at, "variable-length string of %d bytes per element, want 16", size)
		}
		if base.Size != 1 {
			t.Unsupported = fmt.Sprintf("variable-length string of %d-byte characters", base.Size)
		}
	case ClassInteger:
		order, sign := "little-endian", "unsigned"
		if b0&1 != 0 {
			order = "big-endian"
		}
		if b0&8 != 0 {
			sign = "signed"
		}
		t.Unsupported = fmt.Sprintf("datatype class 0 (%s %s %d-byte integer)", order, sign, size)
	default:
		t.Unsupported = fmt.Sprintf("datatype class %d (%v)", int(class), class)
	}
	return t, nil
}

// Dataspace kinds.
const (
	spaceScalar = 0
	spaceSimple = 1
	spaceNull   = 2
)

// maxRank bounds dataspace ranks, as HDF5 does (H5S_MAX_RANK).
const maxRank = 32

// dataspace is a decoded dataspace message.
type dataspace struct {
	kind  int
	dims  []uint64
	count uint64 // number of elements
}

// shape returns the dimensions as ints (nil for a scalar).
func (s dataspace) shape() []int {
	if s.kind != spaceSimple {
		return nil
	}
	out := make([]int, len(s.dims))
	for i, d := range s.dims {
		out[i] = int(d)
	}
	return out
}

// parseDataspace decodes a dataspace message.
func (f *File) parseDataspace(c *cursor, object string) (dataspace, error) {
	at := c.pos()
	version, rank, flags := c.u8(), int(c.u8()), c.u8()
	var s dataspace
	switch version {
	case 1:
		c.skip(5)
		s.kind = spaceSimple
		if rank == 0 {
			s.kind = spaceScalar
		}
	case 2:
		s.kind = int(c.u8())
		if s.kind > spaceNull {
			return s, f.errf(ErrFormat, object, at, "dataspace type %d (want 0, 1 or 2)", s.kind)
		}
	default:
		if c.err == "" {
			return s, f.errf(ErrUnsupported, object, at, "dataspace message version %d is not supported", version)
		}
	}
	if c.err != "" {
		return s, f.cursorErr(c, object)
	}
	if rank > maxRank {
		return s, f.errf(ErrFormat, object, at, "dataspace of rank %d (limit %d)", rank, maxRank)
	}
	if flags&2 != 0 {
		return s, f.errf(ErrUnsupported, object, at, "dataspace with a permutation index is not supported")
	}
	s.dims = make([]uint64, rank)
	s.count = 1
	for i := range s.dims {
		s.dims[i] = c.u64()
		if s.dims[i] > math.MaxInt32 {
			return s, f.errf(ErrLimit, object, at, "dataspace dimension %d is %d (limit %d)", i, s.dims[i], math.MaxInt32)
		}
		if s.dims[i] != 0 && s.count > math.MaxInt64/s.dims[i] {
			return s, f.errf(ErrLimit, object, at, "dataspace of shape %v holds more than 2^63 elements", s.dims[:i+1])
		}
		s.count *= s.dims[i]
	}
	if flags&1 != 0 {
		for range s.dims {
			c.u64() // maximum dimensions, not needed to read
		}
	}
	switch {
	case s.kind == spaceNull:
		s.count, s.dims = 0, nil
	case s.kind == spaceScalar:
		s.count, s.dims = 1, nil
	}
	if c.err != "" {
		return s, f.cursorErr(c, object)
	}
	return s, nil
}

// byteCount returns count × size, or an error if it overflows the limit.
func (f *File) byteCount(count uint64, size int, object string, at int64) (uint64, error) {
	if size > 0 && count > uint64(math.MaxInt64)/uint64(size) {
		return 0, f.errf(ErrLimit, object, at, "%d elements of %d bytes overflow", count, size)
	}
	return count * uint64(size), nil
}
