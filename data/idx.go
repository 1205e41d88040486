package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"gorgonia.org/tensor"
)

// The IDX format (LeCun's MNIST files) is a big-endian header, two zero
// bytes, a dtype code, the number of dimensions d, d uint32 sizes, then the
// items in row-major order, big-endian.
var idxTypes = map[byte]struct {
	dt   tensor.Dtype
	size int
}{
	0x08: {tensor.Uint8, 1},
	0x09: {tensor.Int8, 1},
	0x0B: {tensor.Int16, 2},
	0x0C: {tensor.Int32, 4},
	0x0D: {tensor.Float32, 4},
	0x0E: {tensor.Float64, 8},
}

// chunk is the size of the buffer data is decoded through, and the first
// capacity of a result whose size is not known in advance.
const chunk = 64 << 10

type idxHeader struct {
	code  byte
	dt    tensor.Dtype
	size  int   // bytes per item
	dims  []int // at least one, each at least 1
	items int   // product of dims
	bytes int   // len of the header
}

// DefaultMaxStreamBytes is the data size an IDX header read from a stream
// of unknown size may announce when IDXOptions.MaxBytes or
// MNISTOptions.MaxBytes is zero: 1 GiB, twenty times MNIST's training
// images and twice EMNIST's largest split.
const DefaultMaxStreamBytes = 1 << 30

// IDXOptions configures ReadIDX. The zero value is ready to use.
type IDXOptions struct {
	// MaxBytes caps the data size (items times item size) that the header
	// of a stream of unknown size, such as a gzip-compressed file or a
	// pipe, may announce; a larger announcement is rejected, wrapping
	// ErrLimit, before any data is read. If zero, it is
	// DefaultMaxStreamBytes. An input of known size (a plain file, a
	// reader with a Len method) is checked against its size instead, which
	// bounds it, and MaxBytes does not apply.
	MaxBytes int64
}

// ReadIDX reads an IDX file, plain or gzip-compressed (detected from its
// first two bytes), into a new tensor of the file's shape and dtype:
// 0x08 → Uint8, 0x09 → Int8, 0x0B → Int16, 0x0C → Int32, 0x0D → Float32,
// 0x0E → Float64. Values are returned as stored (not scaled, NaN kept).
//
// The header is validated (magic, dtype, at least one dimension, no zero
// dimension, a size that fits in memory addressing), and the data must end
// exactly where the header says: a truncated file or trailing bytes are
// errors. Memory is never allocated on the header's word alone. When r is
// uncompressed and its size is known (an *os.File, or a reader with a Len
// method such as *bytes.Reader), a size mismatch is reported before reading
// and the result is allocated once. Otherwise (gzip, pipes) the header may
// announce at most opts.MaxBytes, and the result grows geometrically as
// data actually arrives, from 64 KiB up to the header's size: a stream that
// never ends, or a gzip bomb, costs at most about twice MaxBytes before it
// is rejected, and a truncated one about twice what it held. Peak memory of
// a good stream is up to twice the result and about its size is copied,
// which for MNIST's 47 MB of training images costs a few milliseconds next
// to decompression.
func ReadIDX(r io.Reader, opts IDXOptions) (*tensor.Dense, error) {
	lim, err := newLimit("IDXOptions.MaxBytes", opts.MaxBytes)
	if err != nil {
		return nil, err
	}
	return readIDX(r, "idx", lim)
}

// ReadIDXFile reads the IDX file at path with ReadIDX; errors name the
// file.
func ReadIDXFile(path string, opts IDXOptions) (*tensor.Dense, error) {
	lim, err := newLimit("IDXOptions.MaxBytes", opts.MaxBytes)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return readIDX(f, filepath.Base(path), lim)
}

// streamLimit is the data size a header read from a stream of unknown size
// may announce, and the option that sets it, for errors.
type streamLimit struct {
	max  int64
	name string
}

func newLimit(name string, max int64) (streamLimit, error) {
	if max < 0 {
		return streamLimit{}, fmt.Errorf("data: %s %d is negative, want 0 (the default, %d) or a positive size", name, max, DefaultMaxStreamBytes)
	}
	if max == 0 {
		max = DefaultMaxStreamBytes
	}
	return streamLimit{max, name}, nil
}

// check reports an error if the header h, read from a stream whose size is
// not known (known < 0), announces more data than the limit.
func (l streamLimit) check(src string, h idxHeader, known int64) error {
	if known >= 0 {
		return nil // readItems compares the announcement with the size
	}
	if want := int64(h.items) * int64(h.size); want > l.max {
		return fmt.Errorf("data: %s: header %v announces %d bytes of IDX data, more than the %d that %s allows for a stream of unknown size (gzip, pipe); raise it to read this input: %w",
			src, h.dims, want, l.max, l.name, ErrLimit)
	}
	return nil
}

func readIDX(r io.Reader, src string, lim streamLimit) (*tensor.Dense, error) {
	body, known, err := openIDX(r, src)
	if err != nil {
		return nil, err
	}
	h, err := readIDXHeader(body, src)
	if err != nil {
		return nil, err
	}
	if err := lim.check(src, h, known); err != nil {
		return nil, err
	}
	var t *tensor.Dense
	switch h.code {
	case 0x08:
		t, err = readItems(body, h, known, src, func(dst []uint8, b []byte) { copy(dst, b) })
	case 0x09:
		t, err = readItems(body, h, known, src, func(dst []int8, b []byte) {
			for i := range dst {
				dst[i] = int8(b[i])
			}
		})
	case 0x0B:
		t, err = readItems(body, h, known, src, func(dst []int16, b []byte) {
			for i := range dst {
				dst[i] = int16(binary.BigEndian.Uint16(b[2*i:]))
			}
		})
	case 0x0C:
		t, err = readItems(body, h, known, src, func(dst []int32, b []byte) {
			for i := range dst {
				dst[i] = int32(binary.BigEndian.Uint32(b[4*i:]))
			}
		})
	case 0x0D:
		t, err = readItems(body, h, known, src, func(dst []float32, b []byte) {
			for i := range dst {
				dst[i] = math.Float32frombits(binary.BigEndian.Uint32(b[4*i:]))
			}
		})
	case 0x0E:
		t, err = readItems(body, h, known, src, func(dst []float64, b []byte) {
			for i := range dst {
				dst[i] = math.Float64frombits(binary.BigEndian.Uint64(b[8*i:]))
			}
		})
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// openIDX returns the uncompressed stream of r and, when it is known, the
// number of bytes left in it (-1 otherwise).
func openIDX(r io.Reader, src string) (io.Reader, int64, error) {
	known := int64(-1)
	switch s := r.(type) {
	case interface{ Len() int }:
		known = int64(s.Len())
	case *os.File:
		if fi, err := s.Stat(); err == nil && fi.Mode().IsRegular() {
			if off, err := s.Seek(0, io.SeekCurrent); err == nil {
				known = fi.Size() - off
			}
		}
	}
	br := bufio.NewReaderSize(r, chunk)
	magic, err := br.Peek(2)
	if err != nil && len(magic) < 2 {
		if err == io.EOF {
			return nil, 0, fmt.Errorf("data: %s: %d bytes, too short for an IDX header: %w", src, len(magic), ErrEmpty)
		}
		return nil, 0, fmt.Errorf("data: %s: %w", src, err)
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, 0, fmt.Errorf("data: %s: gzip: %w", src, err)
		}
		return zr, -1, nil
	}
	return br, known, nil
}

func readIDXHeader(r io.Reader, src string) (idxHeader, error) {
	var h idxHeader
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return h, idxReadErr(src, "header", err)
	}
	if head[0] != 0 || head[1] != 0 {
		return h, fmt.Errorf("data: %s: magic % x, want 00 00 then dtype and dimensions: not an IDX file", src, head)
	}
	t, ok := idxTypes[head[2]]
	if !ok {
		return h, fmt.Errorf("data: %s: IDX dtype code 0x%02x, want one of 08 09 0b 0c 0d 0e: %w", src, head[2], ErrDType)
	}
	if head[3] == 0 {
		return h, fmt.Errorf("data: %s: IDX file of 0 dimensions: %w", src, ErrShape)
	}
	h.code, h.dt, h.size = head[2], t.dt, t.size
	dims := make([]byte, 4*int(head[3]))
	if _, err := io.ReadFull(r, dims); err != nil {
		return h, idxReadErr(src, "header", err)
	}
	h.dims = make([]int, head[3])
	h.items = 1
	for i := range h.dims {
		d := binary.BigEndian.Uint32(dims[4*i:])
		if d == 0 {
			return h, fmt.Errorf("data: %s: IDX dimension %d is 0: %w", src, i, ErrEmpty)
		}
		if uint64(d) > uint64(math.MaxInt/h.size/h.items) {
			raw := make([]uint32, len(h.dims))
			for k := range raw {
				raw[k] = binary.BigEndian.Uint32(dims[4*k:])
			}
			return h, fmt.Errorf("data: %s: IDX dimensions %v overflow: %w", src, raw, ErrShape)
		}
		h.dims[i] = int(d)
		h.items *= int(d)
	}
	h.bytes = 4 + len(dims)
	return h, nil
}

func idxReadErr(src, what string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("data: %s: truncated IDX %s: %w", src, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("data: %s: %w", src, err)
}

// readItems reads h.items items of h.size bytes from r, decoding them through
// a fixed buffer, then checks that r ends there, and returns them in a
// tensor of shape h.dims. known is the number of bytes left in r including
// the header, or -1; when it is -1, the result grows as data arrives.
func readItems[T idxItem](r io.Reader, h idxHeader, known int64, src string, decode func(dst []T, b []byte)) (*tensor.Dense, error) {
	out, err := readSlice(r, h, known, max(1, chunk/h.size), src, decode)
	if err != nil {
		return nil, err
	}
	return dense(out, h.dims...)
}

// readSlice is readItems returning the items as a slice; when the size of r
// is not known, the slice starts with room for min(h.items, first) items.
func readSlice[T idxItem](r io.Reader, h idxHeader, known int64, first int, src string, decode func(dst []T, b []byte)) ([]T, error) {
	var out []T
	if known >= 0 {
		if want := int64(h.bytes) + int64(h.items)*int64(h.size); known != want {
			return nil, sizeErr(src, h, known-int64(h.bytes))
		}
		out = make([]T, 0, h.items)
	} else {
		out = make([]T, 0, min(h.items, max(first, 1)))
	}
	per := max(1, chunk/h.size) // items per read
	buf := make([]byte, min(h.items, per)*h.size)
	for len(out) < h.items {
		m := min(h.items-len(out), per)
		k, err := io.ReadFull(r, buf[:m*h.size])
		got := k / h.size
		if cap(out)-len(out) < got {
			grown := make([]T, len(out), min(h.items, max(2*cap(out), len(out)+got)))
			copy(grown, out)
			out = grown
		}
		out = out[:len(out)+got]
		decode(out[len(out)-got:], buf[:got*h.size])
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, sizeErr(src, h, int64(len(out)*h.size+k%h.size))
			}
			return nil, fmt.Errorf("data: %s: %w", src, err)
		}
	}
	if err := checkEnd(r, src, h); err != nil {
		return nil, err
	}
	return out, nil
}

// idxItem lists the Go types of IDX items.
type idxItem interface {
	uint8 | int8 | int16 | int32 | float32 | float64
}

// checkEnd reports an error unless r is at its end.
func checkEnd(r io.Reader, src string, h idxHeader) error {
	var b [1]byte
	k, err := io.ReadFull(r, b[:])
	if k > 0 {
		return fmt.Errorf("data: %s: trailing data after the %d bytes of IDX data the header %v announces: %w", src, h.items*h.size, h.dims, ErrShape)
	}
	if err != io.EOF {
		return fmt.Errorf("data: %s: %w", src, err)
	}
	return nil
}

func sizeErr(src string, h idxHeader, got int64) error {
	want := int64(h.items) * int64(h.size)
	if got < want {
		return fmt.Errorf("data: %s: truncated IDX data: header %v announces %d bytes, input has %d: %w", src, h.dims, want, got, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("data: %s: trailing data: header %v announces %d bytes of IDX data, input has %d: %w", src, h.dims, want, got, ErrShape)
}

// WriteIDX writes t, of dtype Uint8, Int8, Int16, Int32, Float32 or Float64
// and at most 255 dimensions, as an uncompressed IDX file.
func WriteIDX(w io.Writer, t *tensor.Dense) error {
	if t == nil {
		return fmt.Errorf("data: write IDX: no tensor: %w", ErrEmpty)
	}
	if t.RequiresIterator() || (t.Dims() > 0 && t.DataSize() != t.Shape().TotalSize()) {
		return fmt.Errorf("data: write IDX: a transposed, sliced or masked view whose values are not contiguous; copy it with Materialize first: %w", ErrShape)
	}
	var code byte
	for c, it := range idxTypes {
		if it.dt == t.Dtype() {
			code = c
		}
	}
	if code == 0 {
		return fmt.Errorf("data: IDX cannot hold dtype %v: %w", t.Dtype(), ErrDType)
	}
	shape := t.Shape()
	if len(shape) == 0 || len(shape) > 255 {
		return fmt.Errorf("data: IDX cannot hold shape %v: %w", shape, ErrShape)
	}
	bw := bufio.NewWriter(w)
	bw.Write([]byte{0, 0, code, byte(len(shape))})
	for _, d := range shape {
		if d <= 0 || uint64(d) > math.MaxUint32 {
			return fmt.Errorf("data: IDX cannot hold shape %v: %w", shape, ErrShape)
		}
		bw.Write(binary.BigEndian.AppendUint32(nil, uint32(d)))
	}
	var b [8]byte
	switch s := t.Data().(type) {
	case []uint8:
		bw.Write(s)
	case []int8:
		for _, v := range s {
			bw.WriteByte(byte(v))
		}
	case []int16:
		for _, v := range s {
			binary.BigEndian.PutUint16(b[:], uint16(v))
			bw.Write(b[:2])
		}
	case []int32:
		for _, v := range s {
			binary.BigEndian.PutUint32(b[:], uint32(v))
			bw.Write(b[:4])
		}
	case []float32:
		for _, v := range s {
			binary.BigEndian.PutUint32(b[:], math.Float32bits(v))
			bw.Write(b[:4])
		}
	case []float64:
		for _, v := range s {
			binary.BigEndian.PutUint64(b[:], math.Float64bits(v))
			bw.Write(b[:8])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("data: write IDX: %w", err)
	}
	return nil
}
