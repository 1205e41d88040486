package hdf5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Dataset is an HDF5 dataset: a multidimensional array of one datatype.
type Dataset struct {
	object
	space   dataspace
	dtype   Datatype
	layout  layout
	filters []filter
	fill    []byte // one element of fill value, nil for zeros
}

// Storage layouts.
const (
	layoutCompact    = 0
	layoutContiguous = 1
	layoutChunked    = 2
)

// Chunk indexes of version 4 layouts (version 3 layouts use a version 1
// B-tree, indexBTreeV1).
const (
	indexBTreeV1    = 0
	indexSingle     = 1
	indexImplicit   = 2
	indexFixedArray = 3
	indexExtensible = 4
	indexBTreeV2    = 5
)

var indexNames = map[int]string{
	indexBTreeV1: "version 1 B-tree", indexSingle: "single chunk", indexImplicit: "implicit",
	indexFixedArray: "fixed array", indexExtensible: "extensible array", indexBTreeV2: "version 2 B-tree",
}

// layout is a decoded data layout message.
type layout struct {
	class      int
	compact    []byte   // compact data
	addr       uint64   // contiguous data, or the chunk index
	size       uint64   // contiguous data size
	chunk      []uint64 // chunk dimensions, in elements
	index      int
	noEdgeFilt bool   // partial edge chunks are stored unfiltered
	filtSize   uint64 // single chunk: its filtered size
	filtMask   uint32 // single chunk: its filter mask
	off        int64
}

// filter is one filter of a pipeline.
type filter struct {
	id     uint16
	name   string
	flags  uint16
	params []uint32
}

// Filters this package applies.
const (
	filterDeflate    = 1
	filterShuffle    = 2
	filterFletcher32 = 3
)

var filterNames = map[uint16]string{
	1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset",
	32000: "lzf", 32001: "blosc", 32004: "lz4", 32008: "bitshuffle", 32015: "zstd",
}

// maxChunkBytes is libhdf5's limit on one chunk (4 GiB - 1).
const maxChunkBytes = 1<<32 - 1

func newDataset(o object) (*Dataset, error) {
	f := o.f
	d := &Dataset{object: o}
	desc := o.desc()
	m, err := o.hdr.one(f, msgDataspace, desc, "dataspace")
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, f.errf(ErrFormat, desc, int64(o.hdr.addr), "no dataspace message")
	}
	if d.space, err = f.parseDataspace(newCursor(m.data, m.off, "dataspace message"), desc); err != nil {
		return nil, err
	}
	if m, err = o.hdr.one(f, msgDatatype, desc, "datatype"); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, f.errf(ErrFormat, desc, int64(o.hdr.addr), "no datatype message")
	}
	if d.dtype, err = f.parseDatatype(newCursor(m.data, m.off, "datatype message"), desc, 0); err != nil {
		return nil, err
	}
	if m, err = o.hdr.one(f, msgLayout, desc, "data layout"); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, f.errf(ErrFormat, desc, int64(o.hdr.addr), "no data layout message")
	}
	if d.layout, err = f.parseLayout(m, d, desc); err != nil {
		return nil, err
	}
	if m, err = o.hdr.one(f, msgFilters, desc, "filter pipeline"); err != nil {
		return nil, err
	}
	if m != nil {
		if d.filters, err = f.parseFilters(m, desc); err != nil {
			return nil, err
		}
	}
	if m, err = o.hdr.one(f, msgFill, desc, "fill value"); err != nil {
		return nil, err
	}
	if m != nil {
		if d.fill, err = f.parseFill(m, d.dtype.Size, desc); err != nil {
			return nil, err
		}
	}
	if len(o.hdr.find(msgExternal)) > 0 {
		return nil, f.errf(ErrUnsupported, desc, int64(o.hdr.addr), "data stored in external files is not supported")
	}
	return d, nil
}

func (d *Dataset) base() *object { return &d.object }

// Shape returns the dataset's dimensions, empty for a scalar.
func (d *Dataset) Shape() []int {
	s := d.space.shape()
	if s == nil {
		s = []int{}
	}
	return s
}

// Len returns the number of elements.
func (d *Dataset) Len() int { return int(d.space.count) }

// Type returns the dataset's datatype.
func (d *Dataset) Type() Datatype { return d.dtype }

// Layout returns "compact", "contiguous" or "chunked" (with the chunk
// index and filters: "chunked (single chunk; deflate)").
func (d *Dataset) Layout() string {
	switch d.layout.class {
	case layoutCompact:
		return "compact"
	case layoutContiguous:
		return "contiguous"
	}
	s := "chunked (" + indexNames[d.layout.index]
	for i, fl := range d.filters {
		if i == 0 {
			s += "; "
		} else {
			s += ", "
		}
		s += filterName(fl)
	}
	return s + ")"
}

func filterName(fl filter) string {
	if n, ok := filterNames[fl.id]; ok {
		return n
	}
	if fl.name != "" {
		return fmt.Sprintf("%q (%d)", fl.name, fl.id)
	}
	return fmt.Sprintf("filter %d", fl.id)
}

// parseLayout decodes a data layout message.
func (f *File) parseLayout(m *message, d *Dataset, object string) (layout, error) {
	c := newCursor(m.data, m.off, "data layout message")
	l := layout{off: m.off}
	version := c.u8()
	l.class = int(c.u8())
	if c.err != "" {
		return l, f.cursorErr(c, object)
	}
	if version < 3 || version > 4 {
		return l, f.errf(ErrUnsupported, object, m.off, "data layout message version %d is not supported (3 and 4 are)", version)
	}
	switch l.class {
	case layoutCompact:
		n := int(c.u16())
		l.compact = c.take(n)
	case layoutContiguous:
		l.addr, l.size = c.u64(), c.u64()
	case layoutChunked:
		if version == 3 {
			rank := int(c.u8())
			l.addr = c.u64()
			dims := make([]uint64, 0, min(rank, maxRank+1))
			for i := 0; i < rank && c.err == ""; i++ {
				dims = append(dims, uint64(c.u32()))
			}
			if err := f.setChunkDims(&l, dims, d, object); err != nil {
				return l, err
			}
			l.index = indexBTreeV1
			break
		}
		flags := c.u8()
		rank := int(c.u8())
		enc := int(c.u8())
		if c.err == "" && (enc < 1 || enc > 8) {
			return l, f.errf(ErrFormat, object, m.off, "chunk dimensions encoded in %d bytes", enc)
		}
		l.noEdgeFilt = flags&1 != 0
		dims := make([]uint64, 0, min(rank, maxRank+1))
		for i := 0; i < rank && c.err == ""; i++ {
			dims = append(dims, c.uvar(enc))
		}
		l.index = int(c.u8())
		switch l.index {
		case indexSingle:
			if flags&2 != 0 {
				l.filtSize, l.filtMask = c.u64(), c.u32()
			}
		case indexImplicit:
		case indexFixedArray:
			c.skip(1)
		case indexExtensible:
			c.skip(5)
		case indexBTreeV2:
			c.skip(6)
		default:
			if c.err == "" {
				return l, f.errf(ErrFormat, object, m.off, "chunk index type %d", l.index)
			}
		}
		l.addr = c.u64()
		if err := f.setChunkDims(&l, dims, d, object); err != nil {
			return l, err
		}
	case 3:
		return l, f.errf(ErrUnsupported, object, m.off, "virtual datasets are not supported")
	default:
		return l, f.errf(ErrFormat, object, m.off, "data layout class %d", l.class)
	}
	return l, f.cursorErr(c, object)
}

// setChunkDims checks chunk dimensions (the last one is the element size)
// against the dataset's.
func (f *File) setChunkDims(l *layout, dims []uint64, d *Dataset, object string) error {
	if len(dims) == 0 {
		return f.errf(ErrFormat, object, l.off, "chunked layout without dimensions")
	}
	rank := len(d.space.dims)
	if d.space.kind != spaceSimple || len(dims) != rank+1 {
		return f.errf(ErrFormat, object, l.off, "chunks of rank %d for a dataspace of rank %d", len(dims)-1, rank)
	}
	if dims[rank] != uint64(d.dtype.Size) {
		return f.errf(ErrFormat, object, l.off, "chunk element size %d, the datatype has %d bytes", dims[rank], d.dtype.Size)
	}
	n := uint64(d.dtype.Size)
	for i, v := range dims[:rank] {
		if v == 0 || v > math.MaxUint32 {
			return f.errf(ErrFormat, object, l.off, "chunk dimension %d is %d", i, v)
		}
		if n > maxChunkBytes/v {
			return f.errf(ErrFormat, object, l.off, "chunks of shape %v exceed 4 GiB", dims[:rank])
		}
		n *= v
	}
	l.chunk = dims[:rank]
	return nil
}

// parseFilters decodes a filter pipeline message.
func (f *File) parseFilters(m *message, object string) ([]filter, error) {
	c := newCursor(m.data, m.off, "filter pipeline message")
	version, n := c.u8(), int(c.u8())
	if version == 1 {
		c.skip(6)
	} else if version != 2 && c.err == "" {
		return nil, f.errf(ErrUnsupported, object, m.off, "filter pipeline message version %d is not supported", version)
	}
	if n > 32 {
		return nil, f.errf(ErrFormat, object, m.off, "%d filters (HDF5 allows 32)", n)
	}
	var out []filter
	for i := 0; i < n && c.err == ""; i++ {
		var fl filter
		fl.id = c.u16()
		nameLen := 0
		if version == 1 || fl.id >= 256 {
			nameLen = int(c.u16())
		}
		fl.flags = c.u16()
		nparams := int(c.u16())
		if nameLen > 0 {
			name := c.take(nameLen)
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			fl.name = string(name)
			if version == 1 && nameLen%8 != 0 {
				c.skip(8 - nameLen%8)
			}
		}
		if nparams > c.rest()/4 {
			return nil, f.errf(ErrFormat, object, m.off, "filter %d claims %d parameters in a %d-byte message", fl.id, nparams, len(m.data))
		}
		for range nparams {
			fl.params = append(fl.params, c.u32())
		}
		if version == 1 && nparams%2 == 1 {
			c.skip(4)
		}
		out = append(out, fl)
	}
	return out, f.cursorErr(c, object)
}

// parseFill decodes a fill value message: nil for the default (zeros).
func (f *File) parseFill(m *message, size int, object string) ([]byte, error) {
	c := newCursor(m.data, m.off, "fill value message")
	version := c.u8()
	var defined bool
	switch version {
	case 1:
		c.skip(3)
		defined = true
	case 2:
		c.skip(2)
		defined = c.u8() != 0
	case 3:
		defined = c.u8()&0x20 != 0
	default:
		if c.err == "" {
			return nil, f.errf(ErrUnsupported, object, m.off, "fill value message version %d is not supported", version)
		}
	}
	if !defined || c.err != "" {
		return nil, f.cursorErr(c, object)
	}
	n := int(c.u32())
	if c.err != "" {
		return nil, f.cursorErr(c, object)
	}
	if n == 0 {
		return nil, nil
	}
	if n != size {
		return nil, f.errf(ErrFormat, object, m.off, "fill value of %d bytes for %d-byte elements", n, size)
	}
	v := c.take(n)
	if c.err != "" {
		return nil, f.cursorErr(c, object)
	}
	if bytes.Count(v, []byte{0}) == len(v) {
		return nil, nil
	}
	return bytes.Clone(v), nil
}

// ReadRaw returns the dataset's elements as stored: little-endian, row
// major, Type().Size bytes each. The type must be a float or a fixed-length
// string.
func (d *Dataset) ReadRaw() ([]byte, error) {
	f := d.f
	desc := d.desc()
	if d.dtype.Unsupported != "" {
		return nil, f.errf(ErrUnsupported, desc, -1, "%s is not supported", d.dtype.Unsupported)
	}
	if d.dtype.VarString {
		return nil, f.errf(ErrUnsupported, desc, -1, "datasets of variable-length strings are not supported")
	}
	total, err := f.byteCount(d.space.count, d.dtype.Size, desc, -1)
	if err != nil {
		return nil, err
	}
	switch d.layout.class {
	case layoutCompact:
		if uint64(len(d.layout.compact)) != total {
			return nil, f.errf(ErrFormat, desc, d.layout.off, "compact data of %d bytes for %d elements of %d bytes", len(d.layout.compact), d.space.count, d.dtype.Size)
		}
		if err := f.spend(int64(total), desc, d.layout.off, "compact data"); err != nil {
			return nil, err
		}
		return bytes.Clone(d.layout.compact), nil
	case layoutContiguous:
		if d.layout.addr == undef {
			return d.filled(total)
		}
		if d.layout.size < total {
			return nil, f.errf(ErrFormat, desc, d.layout.off, "contiguous storage of %d bytes for %d elements of %d bytes", d.layout.size, d.space.count, d.dtype.Size)
		}
		return f.read(d.layout.addr, total, desc, "dataset data")
	}
	return d.readChunked(total)
}

// filled returns total bytes of fill value, for storage never written.
func (d *Dataset) filled(total uint64) ([]byte, error) {
	if err := d.f.spend(int64(min(total, math.MaxInt64)), d.desc(), -1, "dataset data"); err != nil {
		return nil, err
	}
	out := make([]byte, total)
	if d.fill != nil {
		for i := 0; i < len(out); i += len(d.fill) {
			copy(out[i:], d.fill)
		}
	}
	return out, nil
}

// Float64s returns the elements of a float32 or float64 dataset as float64,
// row major.
func (d *Dataset) Float64s() ([]float64, error) {
	if d.dtype.Unsupported == "" && !d.dtype.IsFloat() {
		return nil, d.f.errf(ErrUnsupported, d.desc(), -1, "datatype %v is not a float", d.dtype)
	}
	raw, err := d.ReadRaw()
	if err != nil {
		return nil, err
	}
	if err := d.f.charge(8*int64(d.space.count), d.desc(), -1); err != nil {
		return nil, err
	}
	return decodeFloats(raw, d.dtype.Size), nil
}

// decodeFloats decodes little-endian float32 or float64 values.
func decodeFloats(raw []byte, size int) []float64 {
	out := make([]float64, len(raw)/size)
	for i := range out {
		if size == 4 {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		} else {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	}
	return out
}

// chunkRef is one stored chunk.
type chunkRef struct {
	offset []uint64 // in elements
	addr   uint64
	size   uint64 // stored bytes
	mask   uint32 // filters skipped
}

// readChunked assembles a chunked dataset.
func (d *Dataset) readChunked(total uint64) ([]byte, error) {
	f, desc, l := d.f, d.desc(), &d.layout
	for _, fl := range d.filters {
		switch fl.id {
		case filterDeflate, filterShuffle, filterFletcher32:
		default:
			return nil, f.errf(ErrUnsupported, desc, l.off, "filter %s is not supported (deflate, shuffle and fletcher32 are)", filterName(fl))
		}
	}
	switch l.index {
	case indexBTreeV1, indexSingle, indexImplicit, indexFixedArray:
	default:
		return nil, f.errf(ErrUnsupported, desc, l.off, "chunk index %q is not supported (datasets with unlimited dimensions); version 1 B-tree, single chunk, implicit and fixed array are", indexNames[l.index])
	}
	out, err := d.filled(total)
	if err != nil {
		return nil, err
	}
	if total == 0 || l.addr == undef {
		return out, nil
	}
	chunkBytes := uint64(d.dtype.Size)
	grid := make([]uint64, len(l.chunk))
	nchunks := uint64(1)
	for i, c := range l.chunk {
		chunkBytes *= c
		grid[i] = (d.space.dims[i] + c - 1) / c
		nchunks *= grid[i]
	}
	cr := &chunkReader{d: d, out: out, chunkBytes: chunkBytes, grid: grid, seen: map[uint64]bool{}}
	switch l.index {
	case indexBTreeV1:
		rank := uint64(len(l.chunk))
		err = f.walkBTreeV1(l.addr, 1, 8+8*(rank+1), desc, map[uint64]bool{}, func(key []byte, child uint64) error {
			c := newCursor(key, -1, "chunk B-tree key")
			ref := chunkRef{addr: child, size: uint64(c.u32()), mask: c.u32()}
			for range rank {
				ref.offset = append(ref.offset, c.u64())
			}
			return cr.add(ref)
		})
	case indexSingle:
		ref := chunkRef{offset: make([]uint64, len(l.chunk)), addr: l.addr, size: chunkBytes}
		if len(d.filters) > 0 {
			ref.size, ref.mask = l.filtSize, l.filtMask
		}
		if nchunks != 1 {
			return nil, f.errf(ErrFormat, desc, l.off, "single-chunk index for %d chunks", nchunks)
		}
		err = cr.add(ref)
	case indexImplicit:
		if len(d.filters) > 0 {
			return nil, f.errf(ErrFormat, desc, l.off, "implicit chunk index with filters")
		}
		for i := range nchunks {
			if err = cr.add(chunkRef{offset: cr.offsetOf(i), addr: l.addr + i*chunkBytes, size: chunkBytes}); err != nil {
				break
			}
		}
	case indexFixedArray:
		err = d.fixedArrayChunks(nchunks, cr)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// chunkReader decodes chunks into a dataset's buffer.
type chunkReader struct {
	d          *Dataset
	out        []byte
	chunkBytes uint64
	grid       []uint64 // chunks per dimension
	seen       map[uint64]bool
	buf        []byte
}

// offsetOf returns the element offset of the i-th chunk in row-major order.
func (cr *chunkReader) offsetOf(i uint64) []uint64 {
	off := make([]uint64, len(cr.grid))
	for k := len(cr.grid) - 1; k >= 0; k-- {
		off[k] = (i % cr.grid[k]) * cr.d.layout.chunk[k]
		i /= cr.grid[k]
	}
	return off
}

// add reads, decodes and places one chunk.
func (cr *chunkReader) add(ref chunkRef) error {
	d, f := cr.d, cr.d.f
	desc := d.desc()
	if ref.addr == undef {
		return f.charge(costChunk, desc, -1) // never written: fill value
	}
	// Its position in the chunk grid; each chunk may be stored once.
	var linear uint64
	edge := false
	for k, o := range ref.offset {
		c := d.layout.chunk[k]
		if o%c != 0 || o >= d.space.dims[k] {
			return f.errf(ErrFormat, desc, int64(min(ref.addr, 1<<62)), "chunk at element offset %v does not fit chunks of shape %v in shape %v", ref.offset, d.layout.chunk, d.space.dims)
		}
		linear = linear*cr.grid[k] + o/c
		if o+c > d.space.dims[k] {
			edge = true
		}
	}
	if cr.seen[linear] {
		return f.errf(ErrFormat, desc, int64(min(ref.addr, 1<<62)), "chunk at element offset %v is stored twice", ref.offset)
	}
	cr.seen[linear] = true
	if err := f.charge(costChunk, desc, int64(min(ref.addr, 1<<62))); err != nil {
		return err
	}
	if ref.size > maxChunkBytes {
		return f.errf(ErrFormat, desc, int64(min(ref.addr, 1<<62)), "chunk of %d stored bytes", ref.size)
	}
	raw, err := f.read(ref.addr, ref.size, desc, "chunk")
	if err != nil {
		return err
	}
	data := raw
	if len(d.filters) > 0 && !(edge && d.layout.noEdgeFilt) {
		data, err = cr.unfilter(raw, ref)
		if err != nil {
			return err
		}
	}
	if uint64(len(data)) != cr.chunkBytes {
		return f.errf(ErrFormat, desc, int64(ref.addr), "chunk at element offset %v holds %d bytes, want %d", ref.offset, len(data), cr.chunkBytes)
	}
	cr.place(data, ref.offset)
	return nil
}

// unfilter undoes a chunk's filters, last first.
func (cr *chunkReader) unfilter(data []byte, ref chunkRef) ([]byte, error) {
	d, f := cr.d, cr.d.f
	desc := d.desc()
	for i := len(d.filters) - 1; i >= 0; i-- {
		if ref.mask&(1<<i) != 0 {
			continue
		}
		fl := d.filters[i]
		switch fl.id {
		case filterDeflate:
			if err := f.spend(int64(cr.chunkBytes)+1024, desc, int64(ref.addr), "decompressed chunk"); err != nil {
				return nil, err
			}
			out, err := cr.inflate(data)
			if err != nil {
				return nil, f.errf(ErrFormat, desc, int64(ref.addr), "chunk at element offset %v: deflate: %v", ref.offset, err)
			}
			data = out
		case filterShuffle:
			size := d.dtype.Size
			if len(fl.params) > 0 {
				size = int(fl.params[0])
			}
			if size < 1 || size > maxElementSize {
				return nil, f.errf(ErrFormat, desc, int64(ref.addr), "shuffle filter with element size %d", size)
			}
			if err := f.spend(int64(len(data)), desc, int64(ref.addr), "unshuffled chunk"); err != nil {
				return nil, err
			}
			data = unshuffle(data, size)
		case filterFletcher32:
			if len(data) < 4 {
				return nil, f.errf(ErrFormat, desc, int64(ref.addr), "chunk of %d bytes is too short for its fletcher32 checksum", len(data))
			}
			n := len(data) - 4
			if got, want := fletcher32(data[:n]), binary.LittleEndian.Uint32(data[n:]); got != want {
				return nil, f.errf(ErrFormat, desc, int64(ref.addr), "chunk at element offset %v: fletcher32 checksum %#08x does not match the stored %#08x (corrupt file)", ref.offset, got, want)
			}
			data = data[:n]
		}
	}
	return data, nil
}

var errTooLong = errors.New("decompresses to more bytes than the chunk holds")

// inflate decompresses a zlib stream of at most chunkBytes bytes.
func (cr *chunkReader) inflate(in []byte) ([]byte, error) {
	f := cr.d.f
	var err error
	if f.zr == nil {
		f.zr, err = zlib.NewReader(bytes.NewReader(in))
	} else {
		err = f.zr.(zlib.Resetter).Reset(bytes.NewReader(in), nil)
	}
	if err != nil {
		return nil, err
	}
	if cr.buf == nil {
		cr.buf = make([]byte, cr.chunkBytes+1)
	}
	n, err := io.ReadFull(f.zr, cr.buf)
	switch {
	case err == nil:
		return nil, errTooLong
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
	default:
		return nil, err
	}
	return cr.buf[:n], nil
}

// unshuffle undoes the shuffle filter: byte j of every element was stored
// in the j-th plane.
func unshuffle(in []byte, size int) []byte {
	out := make([]byte, len(in))
	n := len(in) / size
	for j := range size {
		plane := in[j*n : (j+1)*n]
		for i, b := range plane {
			out[i*size+j] = b
		}
	}
	copy(out[n*size:], in[n*size:])
	return out
}

// fletcher32 is HDF5's Fletcher checksum (H5_checksum_fletcher32) over
// big-endian 16-bit words.
func fletcher32(b []byte) uint32 {
	var s1, s2 uint32
	words := len(b) / 2
	p := 0
	for words > 0 {
		t := min(words, 360)
		words -= t
		for range t {
			s1 += uint32(b[p])<<8 | uint32(b[p+1])
			p += 2
			s2 += s1
		}
		s1 = (s1 & 0xffff) + (s1 >> 16)
		s2 = (s2 & 0xffff) + (s2 >> 16)
	}
	if len(b)%2 == 1 {
		s1 += uint32(b[p]) << 8
		s2 += s1
		s1 = (s1 & 0xffff) + (s1 >> 16)
		s2 = (s2 & 0xffff) + (s2 >> 16)
	}
	s1 = (s1 & 0xffff) + (s1 >> 16)
	s2 = (s2 & 0xffff) + (s2 >> 16)
	return s2<<16 | s1
}

// place copies a decoded chunk at element offset off into the output,
// clipping at the dataset's edges.
func (cr *chunkReader) place(chunk []byte, off []uint64) {
	d := cr.d
	dims, cd, es := d.space.dims, d.layout.chunk, uint64(d.dtype.Size)
	rank := len(dims)
	// Extent of the chunk inside the dataset.
	ext := make([]uint64, rank)
	for k := range rank {
		ext[k] = min(cd[k], dims[k]-off[k])
	}
	run := ext[rank-1] * es
	idx := make([]uint64, rank) // position inside the chunk, last index fixed at 0
	for {
		var src, dst uint64
		for k := range rank {
			src = src*cd[k] + idx[k]
			dst = dst*dims[k] + off[k] + idx[k]
		}
		copy(cr.out[dst*es:dst*es+run], chunk[src*es:src*es+run])
		k := rank - 2
		for ; k >= 0; k-- {
			idx[k]++
			if idx[k] < ext[k] {
				break
			}
			idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

// fixedArrayChunks reads a fixed array chunk index.
func (d *Dataset) fixedArrayChunks(nchunks uint64, cr *chunkReader) error {
	f, desc, l := d.f, d.desc(), &d.layout
	hb, err := f.read(l.addr, 28, desc, "fixed array header")
	if err != nil {
		return err
	}
	c := newCursor(hb, int64(l.addr), "fixed array header")
	if err := f.checkSig(c, "FAHD", desc); err != nil {
		return err
	}
	version, client, entry, pageBits := c.u8(), c.u8(), uint64(c.u8()), c.u8()
	n, dblk := c.u64(), c.u64()
	if err := f.checkSum(hb, 24, int64(l.addr), desc, "fixed array header"); err != nil {
		return err
	}
	filtered := len(d.filters) > 0
	switch {
	case version != 0:
		return f.errf(ErrUnsupported, desc, int64(l.addr), "fixed array version %d is not supported", version)
	case n != nchunks:
		return f.errf(ErrFormat, desc, int64(l.addr), "fixed array of %d entries for %d chunks", n, nchunks)
	case pageBits < 64 && n > 1<<pageBits:
		return f.errf(ErrUnsupported, desc, int64(l.addr), "paged fixed array index (%d chunks, more than %d) is not supported", n, uint64(1)<<pageBits)
	case client != 0 && client != 1, filtered != (client == 1):
		return f.errf(ErrFormat, desc, int64(l.addr), "fixed array client %d for a dataset with %d filters", client, len(d.filters))
	case !filtered && entry != 8, filtered && (entry < 8+4+1 || entry > 8+4+8):
		return f.errf(ErrFormat, desc, int64(l.addr), "fixed array entries of %d bytes", entry)
	}
	prefix := uint64(4 + 1 + 1 + 8)
	b, err := f.read(dblk, prefix+n*entry+4, desc, "fixed array data block")
	if err != nil {
		return err
	}
	c = newCursor(b, int64(dblk), "fixed array data block")
	if err := f.checkSig(c, "FADB", desc); err != nil {
		return err
	}
	if err := f.checkSum(b, len(b)-4, int64(dblk), desc, "fixed array data block"); err != nil {
		return err
	}
	c.skip(2)
	if hdr := c.u64(); hdr != l.addr {
		return f.errf(ErrFormat, desc, int64(dblk), "fixed array data block points to header %d, not %d", hdr, l.addr)
	}
	for i := range n {
		ref := chunkRef{offset: cr.offsetOf(i), addr: c.u64(), size: cr.chunkBytes}
		if filtered {
			ref.size = c.uvar(int(entry - 12))
			ref.mask = c.u32()
		}
		if c.err != "" {
			return f.cursorErr(c, desc)
		}
		if err := cr.add(ref); err != nil {
			return err
		}
	}
	return nil
}
