package hdf5

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Writer builds an HDF5 file in memory and writes it out with WriteTo, in
// the layout libhdf5 uses for h5py's default (libver "earliest") files:
// superblock version 0, version 1 object headers, groups as symbol tables
// (version 1 B-tree, symbol table nodes, local heap), contiguous datasets
// of float32 or float64, and attributes of fixed-length strings or
// float64s. Files written so open in h5py and Keras 2.
//
// Names are taken as given: a name may not be empty or hold "/" or a NUL
// (paths given to CreateGroup and CreateDataset are split at "/").
type Writer struct {
	root *GroupWriter
}

// NewWriter returns a Writer holding an empty root group.
func NewWriter() *Writer { return &Writer{root: &GroupWriter{path: "/"}} }

// Root returns the root group.
func (w *Writer) Root() *GroupWriter { return w.root }

// GroupWriter is a group being built.
type GroupWriter struct {
	path     string
	attrs    []wAttr
	children []wChild // in creation order; written sorted by name
}

type wChild struct {
	name  string
	group *GroupWriter
	ds    *wDataset
}

type wDataset struct {
	dtype Datatype
	shape []int
	data  []byte
}

type wAttr struct {
	name  string
	dtype Datatype
	shape []int // nil: scalar
	data  []byte
}

// maxMessage is the largest message a version 1 object header holds (its
// size field has 16 bits), padding included.
const maxMessage = 65528

// errWrite prefixes writer errors.
func errWrite(format string, args ...any) error {
	return fmt.Errorf("hdf5: write: "+format, args...)
}

func checkWriteName(name string) error {
	if name == "" || name == "." || strings.ContainsAny(name, "/\x00") {
		return errWrite("invalid name %q (empty, \".\", or holding \"/\" or NUL)", name)
	}
	return nil
}

// splitPath splits a relative path into its components.
func splitPath(path string) ([]string, error) {
	parts := strings.Split(path, "/")
	for _, p := range parts {
		if err := checkWriteName(p); err != nil {
			return nil, fmt.Errorf("path %q: %w", path, err)
		}
	}
	return parts, nil
}

func (g *GroupWriter) find(name string) *wChild {
	for i := range g.children {
		if g.children[i].name == name {
			return &g.children[i]
		}
	}
	return nil
}

func (g *GroupWriter) childPath(name string) string {
	if g.path == "/" {
		return "/" + name
	}
	return g.path + "/" + name
}

// parentOf walks (creating groups as needed) to the group that will hold
// the last component of parts.
func (g *GroupWriter) parentOf(parts []string) (*GroupWriter, error) {
	cur := g
	for _, p := range parts[:len(parts)-1] {
		c := cur.find(p)
		switch {
		case c == nil:
			sub := &GroupWriter{path: cur.childPath(p)}
			cur.children = append(cur.children, wChild{name: p, group: sub})
			cur = sub
		case c.group != nil:
			cur = c.group
		default:
			return nil, errWrite("%s is a dataset, not a group", cur.childPath(p))
		}
	}
	return cur, nil
}

// CreateGroup creates the group at path, relative to g, and the groups
// leading to it, as h5py's create_group does. The group must not exist.
func (g *GroupWriter) CreateGroup(path string) (*GroupWriter, error) {
	parts, err := splitPath(path)
	if err != nil {
		return nil, errWrite("create group: %w", err)
	}
	parent, err := g.parentOf(parts)
	if err != nil {
		return nil, err
	}
	name := parts[len(parts)-1]
	if parent.find(name) != nil {
		return nil, errWrite("%s already exists", parent.childPath(name))
	}
	sub := &GroupWriter{path: parent.childPath(name)}
	parent.children = append(parent.children, wChild{name: name, group: sub})
	return sub, nil
}

// CreateDataset creates a contiguous dataset at path, relative to g (the
// groups leading to it are created), of type t (Float32 or Float64) and
// the given shape (empty for a scalar), holding data: the elements'
// little-endian bytes, row major. data is not copied: it must not change
// until WriteTo returns.
func (g *GroupWriter) CreateDataset(path string, t Datatype, shape []int, data []byte) error {
	parts, err := splitPath(path)
	if err != nil {
		return errWrite("create dataset: %w", err)
	}
	if t != Float32 && t != Float64 {
		return errWrite("dataset %s: type %v, want float32 or float64", path, t)
	}
	n := 1
	for _, d := range shape {
		if d < 0 || d > math.MaxInt32 || (d > 0 && n > math.MaxInt/d/t.Size) {
			return errWrite("dataset %s: invalid shape %v", path, shape)
		}
		n *= d
	}
	if len(shape) > maxRank {
		return errWrite("dataset %s: rank %d exceeds %d", path, len(shape), maxRank)
	}
	if len(data) != n*t.Size {
		return errWrite("dataset %s: %d bytes of data for shape %v of %v (want %d)", path, len(data), shape, t, n*t.Size)
	}
	parent, err := g.parentOf(parts)
	if err != nil {
		return err
	}
	name := parts[len(parts)-1]
	if parent.find(name) != nil {
		return errWrite("%s already exists", parent.childPath(name))
	}
	parent.children = append(parent.children, wChild{name: name, ds: &wDataset{dtype: t, shape: slices.Clone(shape), data: data}})
	return nil
}

func (g *GroupWriter) setAttr(a wAttr) error {
	if err := checkWriteName(a.name); err != nil {
		return errWrite("attribute of %s: %w", g.path, err)
	}
	if n := attrMessageSize(a); n > maxMessage {
		return errWrite("attribute %s of %s needs %d bytes, more than the %d an object header message holds", a.name, g.path, n, maxMessage)
	}
	for i := range g.attrs {
		if g.attrs[i].name == a.name {
			g.attrs[i] = a
			return nil
		}
	}
	g.attrs = append(g.attrs, a)
	return nil
}

// SetStringAttr sets a scalar fixed-length string attribute, null-padded
// ASCII as numpy's bytes_ (dtype S<n>) gives it; an empty string is one
// NUL byte long, as numpy makes it.
func (g *GroupWriter) SetStringAttr(name, value string) error {
	t, data := fixedStrings([]string{value})
	return g.setAttr(wAttr{name: name, dtype: t, data: data})
}

// SetStringsAttr sets a one-dimensional fixed-length string attribute,
// each element null-padded to size bytes, as numpy's array of bytes
// (dtype S<size>) gives it. If size is zero, it is the longest value's
// length (at least 1), as numpy chooses it.
func (g *GroupWriter) SetStringsAttr(name string, values []string, size int) error {
	t, data := fixedStrings(values)
	if size != 0 {
		longest := 0
		for _, v := range values {
			longest = max(longest, len(v))
		}
		if size < 1 || size < longest {
			return errWrite("attribute %s of %s: strings of up to %d bytes do not fit %d", name, g.path, longest, size)
		}
		t.Size = size
		data = make([]byte, size*len(values))
		for i, v := range values {
			copy(data[i*size:], v)
		}
	}
	return g.setAttr(wAttr{name: name, dtype: t, shape: []int{len(values)}, data: data})
}

// SetFloat64sAttr sets a one-dimensional float64 attribute; an empty
// slice gives the empty array Keras writes for layers without weights.
func (g *GroupWriter) SetFloat64sAttr(name string, values []float64) error {
	data := make([]byte, 0, 8*len(values))
	for _, v := range values {
		data = binary.LittleEndian.AppendUint64(data, math.Float64bits(v))
	}
	return g.setAttr(wAttr{name: name, dtype: Float64, shape: []int{len(values)}, data: data})
}

// fixedStrings encodes strings as numpy does: null-padded to the longest
// (at least 1 byte).
func fixedStrings(values []string) (Datatype, []byte) {
	size := 1
	for _, v := range values {
		size = max(size, len(v))
	}
	data := make([]byte, size*len(values))
	for i, v := range values {
		copy(data[i*size:], v)
	}
	return Datatype{Class: ClassString, Size: size, Pad: padNull}, data
}

// Sizes of the structures written (8-byte offsets and lengths).
const (
	superblockSize = 96
	groupLeafK     = 4  // symbol table node capacity 2K = 8
	groupInternalK = 16 // B-tree node capacity 2K = 32
	snodEntries    = 2 * groupLeafK
	snodSize       = 8 + snodEntries*40
	btreeChildren  = 2 * groupInternalK
	btreeSize      = 24 + btreeChildren*8 + (btreeChildren+1)*8
	heapHeaderSize = 32
)

func pad8(n int) int { return (n + 7) &^ 7 }

func dataspaceSize(shape []int) int { return 8 + 16*len(shape) }

func datatypeSize(t Datatype) int {
	if t.Class == ClassFloat {
		return 20
	}
	return 8
}

// attrMessageSize is the size of an attribute message's body.
func attrMessageSize(a wAttr) int {
	return 8 + pad8(len(a.name)+1) + pad8(datatypeSize(a.dtype)) + pad8(dataspaceSize(a.shape)) + pad8(len(a.data))
}

// plan holds the addresses of everything written, computed before writing.
type plan struct {
	next    uint64
	groups  map[*GroupWriter]*groupPlan
	dsets   map[*wDataset]*dsetPlan
	ordered []any // groups and datasets in file order
}

type groupPlan struct {
	header, heap, heapData uint64
	heapSize               int
	nameOff                map[string]uint64
	sorted                 []wChild
	snods                  []uint64
	btree                  [][]uint64 // node addresses per level, level 0 first
}

type dsetPlan struct {
	header, data uint64
}

func (p *plan) alloc(n int) uint64 {
	a := p.next
	p.next += uint64(pad8(n))
	return a
}

func groupHeaderSize(g *GroupWriter) int {
	n := 16 + 8 + 16
	for _, a := range g.attrs {
		n += 8 + attrMessageSize(a)
	}
	return n
}

func datasetHeaderSize(d *wDataset) int {
	return 16 + 8 + pad8(dataspaceSize(d.shape)) + 8 + pad8(datatypeSize(d.dtype)) + 8 + 8 + 8 + 24
}

func (p *plan) group(g *GroupWriter) {
	gp := &groupPlan{nameOff: map[string]uint64{}}
	p.groups[g] = gp
	p.ordered = append(p.ordered, g)
	gp.header = p.alloc(groupHeaderSize(g))
	gp.sorted = slices.Clone(g.children)
	slices.SortFunc(gp.sorted, func(a, b wChild) int { return strings.Compare(a.name, b.name) })
	gp.heapSize = 8 // "" at offset 0
	for _, c := range gp.sorted {
		gp.nameOff[c.name] = uint64(gp.heapSize)
		gp.heapSize += pad8(len(c.name) + 1)
	}
	gp.heap = p.alloc(heapHeaderSize)
	gp.heapData = p.alloc(gp.heapSize)
	// B-tree levels: level 0 points to symbol table nodes, each level
	// above to the nodes below, until one root.
	nsnod := (len(gp.sorted) + snodEntries - 1) / snodEntries
	for n := nsnod; ; {
		nodes := max(1, (n+btreeChildren-1)/btreeChildren)
		level := make([]uint64, nodes)
		for i := range level {
			level[i] = p.alloc(btreeSize)
		}
		gp.btree = append(gp.btree, level)
		if nodes == 1 {
			break
		}
		n = nodes
	}
	for range nsnod {
		gp.snods = append(gp.snods, p.alloc(snodSize))
	}
	for _, c := range gp.sorted {
		if c.group != nil {
			p.group(c.group)
		} else {
			dp := &dsetPlan{header: p.alloc(datasetHeaderSize(c.ds)), data: undef}
			if len(c.ds.data) > 0 {
				dp.data = p.alloc(len(c.ds.data))
			}
			p.dsets[c.ds] = dp
			p.ordered = append(p.ordered, c.ds)
		}
	}
}

// WriteTo writes the file to out and returns the number of bytes written.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	p := &plan{next: superblockSize, groups: map[*GroupWriter]*groupPlan{}, dsets: map[*wDataset]*dsetPlan{}}
	p.group(w.root)
	size := p.next
	if size > 1<<40 {
		return 0, errWrite("file of %d bytes is too large", size)
	}
	b := make([]byte, size)
	e := &enc{b: b}
	rp := p.groups[w.root]
	// Superblock version 0.
	e.at(0)
	e.put([]byte("\x89HDF\r\n\x1a\n"))
	e.put([]byte{0, 0, 0, 0, 0, 8, 8, 0})
	e.u16(groupLeafK)
	e.u16(groupInternalK)
	e.u32(0)         // file consistency flags
	e.u64(0)         // base address
	e.u64(undef)     // free-space info
	e.u64(size)      // end of file
	e.u64(undef)     // driver information block
	e.u64(0)         // root entry: link name offset
	e.u64(rp.header) // object header
	e.u32(1)         // cache type 1: symbol table B-tree and heap cached
	e.u32(0)
	e.u64(rp.btree[len(rp.btree)-1][0])
	e.u64(rp.heap)
	for _, o := range p.ordered {
		switch o := o.(type) {
		case *GroupWriter:
			p.writeGroup(e, o)
		case *wDataset:
			p.writeDataset(e, o)
		}
	}
	if e.err != nil {
		return 0, e.err
	}
	n, err := out.Write(b)
	if err != nil {
		return int64(n), fmt.Errorf("hdf5: write: %w", err)
	}
	return int64(n), nil
}

// enc writes little-endian fields into a preallocated file image.
type enc struct {
	b   []byte
	pos int
	err error
}

var errOverflow = errors.New("hdf5: write: internal layout error (a structure overflowed its space)")

func (e *enc) at(addr uint64) { e.pos = int(addr) }

func (e *enc) put(p []byte) {
	if e.pos+len(p) > len(e.b) {
		e.err = errOverflow
		return
	}
	copy(e.b[e.pos:], p)
	e.pos += len(p)
}

func (e *enc) u8(v uint8)   { e.put([]byte{v}) }
func (e *enc) u16(v uint16) { e.put(binary.LittleEndian.AppendUint16(nil, v)) }
func (e *enc) u32(v uint32) { e.put(binary.LittleEndian.AppendUint32(nil, v)) }
func (e *enc) u64(v uint64) { e.put(binary.LittleEndian.AppendUint64(nil, v)) }
func (e *enc) align()       { e.pos = pad8(e.pos) }

// msg writes a version 1 message header; the body follows and is padded.
func (e *enc) msg(typ uint16, size int, flags uint8) {
	e.u16(typ)
	e.u16(uint16(pad8(size)))
	e.u8(flags)
	e.put([]byte{0, 0, 0})
}

// v1Header writes a version 1 object header prefix.
func (e *enc) v1Header(nmsgs, size int) {
	e.u8(1)
	e.u8(0)
	e.u16(uint16(nmsgs))
	e.u32(1) // reference count
	e.u32(uint32(size - 16))
	e.u32(0) // alignment
}

func (e *enc) dataspace(shape []int) {
	e.u8(1) // version
	e.u8(uint8(len(shape)))
	flags := uint8(0)
	if len(shape) > 0 {
		flags = 1 // maximum dimensions present
	}
	e.u8(flags)
	e.put(make([]byte, 5))
	for _, d := range shape {
		e.u64(uint64(d))
	}
	for _, d := range shape {
		e.u64(uint64(d))
	}
}

func (e *enc) datatype(t Datatype) {
	if t.Class == ClassString {
		e.put([]byte{0x13, byte(t.Pad), 0, 0})
		e.u32(uint32(t.Size))
		return
	}
	// IEEE float, little-endian, implied mantissa normalisation.
	e.put([]byte{0x11, 0x20, byte(8*t.Size - 1), 0})
	e.u32(uint32(t.Size))
	e.u16(0)                  // bit offset
	e.u16(uint16(8 * t.Size)) // precision
	if t.Size == 4 {
		e.put([]byte{23, 8, 0, 23})
		e.u32(127)
	} else {
		e.put([]byte{52, 11, 0, 52})
		e.u32(1023)
	}
}

func (p *plan) writeGroup(e *enc, g *GroupWriter) {
	gp := p.groups[g]
	// Object header: symbol table message, then attributes.
	e.at(gp.header)
	e.v1Header(1+len(g.attrs), groupHeaderSize(g))
	e.msg(msgSymbolTable, 16, 0)
	e.u64(gp.btree[len(gp.btree)-1][0])
	e.u64(gp.heap)
	for _, a := range g.attrs {
		e.msg(msgAttribute, attrMessageSize(a), 0)
		e.u8(1)
		e.u8(0)
		e.u16(uint16(len(a.name) + 1))
		e.u16(uint16(datatypeSize(a.dtype)))
		e.u16(uint16(dataspaceSize(a.shape)))
		e.put([]byte(a.name))
		e.u8(0)
		e.align()
		e.datatype(a.dtype)
		e.align()
		e.dataspace(a.shape)
		e.align()
		e.put(a.data)
		e.align()
	}
	// Local heap: the names, NUL-terminated, each padded to 8 bytes.
	e.at(gp.heap)
	e.put([]byte("HEAP"))
	e.put([]byte{0, 0, 0, 0})
	e.u64(uint64(gp.heapSize))
	e.u64(1) // free list: none (H5HL_FREE_NULL)
	e.u64(gp.heapData)
	for _, c := range gp.sorted {
		e.at(gp.heapData + gp.nameOff[c.name])
		e.put([]byte(c.name))
	}
	// Symbol table nodes, full but for the last.
	for i, addr := range gp.snods {
		e.at(addr)
		entries := gp.sorted[i*snodEntries : min((i+1)*snodEntries, len(gp.sorted))]
		e.put([]byte("SNOD"))
		e.u8(1)
		e.u8(0)
		e.u16(uint16(len(entries)))
		for _, c := range entries {
			e.u64(gp.nameOff[c.name])
			if c.group != nil {
				cp := p.groups[c.group]
				e.u64(cp.header)
				e.u32(1)
				e.u32(0)
				e.u64(cp.btree[len(cp.btree)-1][0])
				e.u64(cp.heap)
			} else {
				e.u64(p.dsets[c.ds].header)
				e.u32(0)
				e.u32(0)
				e.u64(0)
				e.u64(0)
			}
		}
	}
	// B-tree nodes. Key i is the heap offset of the last name under child
	// i-1; the first key is the empty name, at offset 0. last holds the
	// last name's offset of each child of the level being written.
	children := gp.snods
	last := make([]uint64, len(gp.snods))
	for k := range last {
		last[k] = gp.nameOff[gp.sorted[min((k+1)*snodEntries, len(gp.sorted))-1].name]
	}
	for level, nodes := range gp.btree {
		next := make([]uint64, len(nodes))
		for i, addr := range nodes {
			lo, hi := min(i*btreeChildren, len(children)), min((i+1)*btreeChildren, len(children))
			e.at(addr)
			e.put([]byte("TREE"))
			e.u8(0)
			e.u8(uint8(level))
			e.u16(uint16(hi - lo))
			left, right := undef, undef
			if i > 0 {
				left = nodes[i-1]
			}
			if i+1 < len(nodes) {
				right = nodes[i+1]
			}
			e.u64(left)
			e.u64(right)
			if lo > 0 {
				e.u64(last[lo-1])
			} else {
				e.u64(0)
			}
			for k := lo; k < hi; k++ {
				e.u64(children[k])
				e.u64(last[k])
			}
			if hi > lo {
				next[i] = last[hi-1]
			}
		}
		children, last = nodes, next
	}
}

func (p *plan) writeDataset(e *enc, d *wDataset) {
	dp := p.dsets[d]
	e.at(dp.header)
	e.v1Header(4, datasetHeaderSize(d))
	e.msg(msgDataspace, dataspaceSize(d.shape), 0)
	e.dataspace(d.shape)
	e.align()
	e.msg(msgDatatype, datatypeSize(d.dtype), 1)
	e.datatype(d.dtype)
	e.align()
	// Fill value version 2: allocation late, fill if set, default value.
	e.msg(msgFill, 8, 1)
	e.put([]byte{2, 2, 2, 1, 0, 0, 0, 0})
	e.msg(msgLayout, 18, 0)
	e.u8(3)
	e.u8(layoutContiguous)
	e.u64(dp.data)
	e.u64(uint64(len(d.data)))
	e.align()
	if dp.data != undef {
		e.at(dp.data)
		e.put(d.data)
	}
}
