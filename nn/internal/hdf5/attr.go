package hdf5

import (
	"bytes"
	"encoding/binary"
)

// Attribute is a small named value attached to a group or dataset.
type Attribute struct {
	Name string
	Type Datatype

	f     *File
	owner string // the owning object's description
	space dataspace
	data  []byte
	off   int64
}

// Shape returns the attribute's dimensions: empty for a scalar, [0] for an
// empty array.
func (a *Attribute) Shape() []int {
	s := a.space.shape()
	if s == nil {
		s = []int{}
	}
	return s
}

// Len returns the number of elements (1 for a scalar).
func (a *Attribute) Len() int { return int(a.space.count) }

func (a *Attribute) desc() string { return a.owner + " attribute " + a.Name }

// Strings returns the elements of a string attribute, fixed- or
// variable-length, a scalar as one element. Fixed-length strings lose their
// padding: everything from the first NUL (null-terminated or null-padded)
// or trailing spaces (space-padded).
func (a *Attribute) Strings() ([]string, error) {
	f := a.f
	if !a.Type.IsString() {
		return nil, f.errf(ErrUnsupported, a.desc(), a.off, "holds %v, not strings", a.Type)
	}
	n := int(a.space.count)
	if n > f.opt.MaxObjects {
		return nil, f.errf(ErrLimit, a.desc(), a.off, "%d strings (Options.MaxObjects is %d)", n, f.opt.MaxObjects)
	}
	if err := f.charge(int64(n)*16, a.desc(), a.off); err != nil {
		return nil, err
	}
	out := make([]string, 0, n)
	size := a.Type.Size
	for i := range n {
		el := a.data[i*size : (i+1)*size]
		if !a.Type.VarString {
			out = append(out, trimPad(el, a.Type.Pad))
			continue
		}
		s, err := f.vlenString(el, a.desc(), a.off)
		if err != nil {
			return nil, err
		}
		if err := f.charge(int64(len(s)), a.desc(), a.off); err != nil {
			return nil, err
		}
		out = append(out, trimPad(s, a.Type.Pad))
	}
	return out, nil
}

// trimPad removes a string's padding.
func trimPad(b []byte, pad int) string {
	if pad == padSpace {
		return string(bytes.TrimRight(b, " "))
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Float64s returns the elements of a float32 or float64 attribute, row
// major; an empty array gives an empty slice.
func (a *Attribute) Float64s() ([]float64, error) {
	if !a.Type.IsFloat() {
		return nil, a.f.errf(ErrUnsupported, a.desc(), a.off, "holds %v, not floats", a.Type)
	}
	if err := a.f.charge(8*int64(a.space.count), a.desc(), a.off); err != nil {
		return nil, err
	}
	return decodeFloats(a.data, a.Type.Size), nil
}

// attrs returns an object's attributes in stored order.
func (o *object) attrs() ([]*Attribute, error) {
	f := o.f
	desc := o.desc()
	ai, err := o.hdr.one(f, msgAttrInfo, desc, "attribute info")
	if err != nil {
		return nil, err
	}
	var out []*Attribute
	if ai != nil {
		info, err := f.parseAttrInfo(ai, desc)
		if err != nil {
			return nil, err
		}
		if info.heap != undef {
			out, err = f.denseAttrs(info, desc)
			if err != nil {
				return nil, err
			}
		}
	}
	for _, m := range o.hdr.find(msgAttribute) {
		if len(out) >= f.opt.MaxObjects {
			return nil, f.errf(ErrLimit, desc, m.off, "more than %d attributes (Options.MaxObjects)", f.opt.MaxObjects)
		}
		if m.flags&flagShared != 0 {
			return nil, f.errf(ErrUnsupported, desc, m.off, "shared attribute messages are not supported")
		}
		a, err := f.parseAttr(m.data, m.off, desc)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Attrs returns the object's attributes in stored order.
func (o *object) Attrs() ([]*Attribute, error) { return o.attrs() }

// Attr returns the attribute called name, or an error wrapping ErrNotFound.
func (o *object) Attr(name string) (*Attribute, error) {
	all, err := o.attrs()
	if err != nil {
		return nil, err
	}
	for _, a := range all {
		if a.Name == name {
			return a, nil
		}
	}
	return nil, o.f.errf(ErrNotFound, o.desc(), -1, "no attribute %q", name)
}

// parseAttrInfo decodes an attribute info message.
func (f *File) parseAttrInfo(m *message, object string) (denseInfo, error) {
	c := newCursor(m.data, m.off, "attribute info message")
	if v := c.u8(); v != 0 && c.err == "" {
		return denseInfo{}, f.errf(ErrUnsupported, object, m.off, "attribute info message version %d is not supported", v)
	}
	flags := c.u8()
	if flags&1 != 0 {
		c.skip(2) // maximum creation index
	}
	d := denseInfo{heap: c.u64(), nameIndex: c.u64(), off: m.off}
	return d, f.cursorErr(c, object)
}

// parseAttr decodes an attribute message.
func (f *File) parseAttr(b []byte, off int64, owner string) (*Attribute, error) {
	c := newCursor(b, off, "attribute message")
	version, flags := c.u8(), c.u8()
	nameLen, typeLen, spaceLen := int(c.u16()), int(c.u16()), int(c.u16())
	if version == 3 {
		c.skip(1) // name character set
	}
	if c.err != "" {
		return nil, f.cursorErr(c, owner)
	}
	if version < 1 || version > 3 {
		return nil, f.errf(ErrUnsupported, owner, off, "attribute message version %d is not supported", version)
	}
	if flags&3 != 0 {
		return nil, f.errf(ErrUnsupported, owner, off, "attribute with a shared datatype or dataspace is not supported")
	}
	pad := func(n int) int {
		if version == 1 {
			return (n + 7) &^ 7
		}
		return n
	}
	name := c.take(pad(nameLen))
	if c.err != "" {
		return nil, f.cursorErr(c, owner)
	}
	name = name[:nameLen]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if err := f.charge(costItem+int64(len(name)), owner, off); err != nil {
		return nil, err
	}
	a := &Attribute{Name: string(name), f: f, owner: owner, off: off}
	if len(name) == 0 {
		return nil, f.errf(ErrFormat, owner, off, "attribute without a name")
	}
	tb := c.take(pad(typeLen))
	sb := c.take(pad(spaceLen))
	if c.err != "" {
		return nil, f.errf(ErrFormat, a.desc(), off, "%s", c.err)
	}
	var err error
	if a.Type, err = f.parseDatatype(newCursor(tb[:typeLen], off, "attribute datatype"), a.desc(), 0); err != nil {
		return nil, err
	}
	if a.space, err = f.parseDataspace(newCursor(sb[:spaceLen], off, "attribute dataspace"), a.desc()); err != nil {
		return nil, err
	}
	n, err := f.byteCount(a.space.count, a.Type.Size, a.desc(), off)
	if err != nil {
		return nil, err
	}
	if n > uint64(c.rest()) {
		return nil, f.errf(ErrFormat, a.desc(), off, "%d elements of %d bytes do not fit the %d bytes left in the message", a.space.count, a.Type.Size, c.rest())
	}
	a.data = c.take(int(n))
	return a, nil
}

// maxGlobalHeap bounds one global heap collection.
const maxGlobalHeap = 1 << 26

// vlenString resolves a variable-length string reference: its length, the
// global heap collection and the object's index there.
func (f *File) vlenString(ref []byte, object string, at int64) ([]byte, error) {
	length := uint64(binary.LittleEndian.Uint32(ref))
	addr := binary.LittleEndian.Uint64(ref[4:])
	index := binary.LittleEndian.Uint32(ref[12:])
	if length == 0 {
		return nil, nil
	}
	heap, err := f.globalHeap(addr, object)
	if err != nil {
		return nil, err
	}
	c := newCursor(heap, int64(addr), "global heap collection")
	c.skip(16)
	for c.rest() >= 16 && c.err == "" {
		idx := c.u16()
		c.skip(6)
		size := c.u64()
		if idx == 0 {
			break // free space
		}
		if size > uint64(c.rest()) {
			return nil, f.errf(ErrFormat, object, c.pos(), "global heap object %d of %d bytes overruns its collection", idx, size)
		}
		data := c.take(int(size))
		c.skip(min(int((size+7)&^7-size), c.rest()))
		if uint32(idx) == index {
			if length > size {
				return nil, f.errf(ErrFormat, object, at, "variable-length string of %d bytes in a global heap object of %d", length, size)
			}
			return data[:length], nil
		}
	}
	return nil, f.errf(ErrFormat, object, at, "global heap collection at offset %d has no object %d", addr, index)
}

// globalHeap returns the global heap collection at addr, read once.
func (f *File) globalHeap(addr uint64, object string) ([]byte, error) {
	if b, ok := f.gheaps[addr]; ok {
		return b, nil
	}
	c, err := f.cursorAt(addr, 16, object, "global heap collection")
	if err != nil {
		return nil, err
	}
	if err := f.checkSig(c, "GCOL", object); err != nil {
		return nil, err
	}
	if v := c.u8(); v != 1 {
		return nil, f.errf(ErrUnsupported, object, int64(addr), "global heap version %d is not supported", v)
	}
	c.skip(3)
	size := c.u64()
	if size < 16 || size > maxGlobalHeap {
		return nil, f.errf(ErrFormat, object, int64(addr), "global heap collection of %d bytes (want 16 to %d)", size, maxGlobalHeap)
	}
	b, err := f.read(addr, size, object, "global heap collection")
	if err != nil {
		return nil, err
	}
	f.gheaps[addr] = b
	return b, nil
}
