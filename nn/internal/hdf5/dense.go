package hdf5

import (
	"math/bits"
	"slices"
	"strings"
)

// Dense storage: groups of more than 8 links and objects of more than 8
// attributes written with libver="latest" (or new-style groups, as libhdf5
// makes for external links) keep their link or attribute messages as
// objects of a fractal heap, indexed by name hash in a version 2 B-tree.

// Version 2 B-tree record types read here.
const (
	bt2LinkName = 5 // link name hash, heap ID
	bt2AttrName = 8 // attribute heap ID, flags, creation order, name hash
)

// denseLinks lists the links of a group stored densely.
func (f *File) denseLinks(info denseInfo, object string) ([]link, error) {
	heap, err := f.readFractalHeap(info.heap, object)
	if err != nil {
		return nil, err
	}
	var links []link
	err = f.walkBTreeV2(info.nameIndex, bt2LinkName, object, func(rec []byte, at int64) error {
		if len(rec) < 5 {
			return f.errf(ErrFormat, object, at, "link name record of %d bytes", len(rec))
		}
		if len(links) >= f.opt.MaxObjects {
			return f.errf(ErrLimit, object, at, "more than %d links (Options.MaxObjects)", f.opt.MaxObjects)
		}
		data, off, err := heap.get(rec[4:], at)
		if err != nil {
			return err
		}
		l, err := f.parseLink(message{typ: msgLink, data: data, off: off}, object)
		if err != nil {
			return err
		}
		links = append(links, l)
		return nil
	})
	return links, err
}

// denseAttrs lists the attributes of an object stored densely, by name.
func (f *File) denseAttrs(info denseInfo, object string) ([]*Attribute, error) {
	heap, err := f.readFractalHeap(info.heap, object)
	if err != nil {
		return nil, err
	}
	var attrs []*Attribute
	err = f.walkBTreeV2(info.nameIndex, bt2AttrName, object, func(rec []byte, at int64) error {
		if len(rec) < 9 {
			return f.errf(ErrFormat, object, at, "attribute name record of %d bytes", len(rec))
		}
		if rec[8]&1 != 0 {
			return f.errf(ErrUnsupported, object, at, "shared attribute messages are not supported")
		}
		if len(attrs) >= f.opt.MaxObjects {
			return f.errf(ErrLimit, object, at, "more than %d attributes (Options.MaxObjects)", f.opt.MaxObjects)
		}
		data, off, err := heap.get(rec[:8], at)
		if err != nil {
			return err
		}
		a, err := f.parseAttr(data, off, object)
		if err != nil {
			return err
		}
		attrs = append(attrs, a)
		return nil
	})
	slices.SortFunc(attrs, func(a, b *Attribute) int { return strings.Compare(a.Name, b.Name) })
	return attrs, err
}

// fractalHeap is a fractal heap whose direct blocks have been read.
type fractalHeap struct {
	f         *File
	object    string
	addr      uint64
	idLen     int
	width     uint64
	start     uint64 // starting block size
	maxDirect uint64 // maximum direct block size
	maxIndex  int    // bits of heap offsets
	offBytes  int    // bytes of a managed object's offset in its heap ID
	lenBytes  int    // bytes of its length
	checksum  bool   // direct blocks are checksummed
	blocks    []directBlock
	seen      map[uint64]bool
}

type directBlock struct {
	off  uint64 // heap offset
	addr uint64 // file offset
	data []byte
}

// readFractalHeap reads a fractal heap's header and all its direct blocks.
func (f *File) readFractalHeap(addr uint64, object string) (*fractalHeap, error) {
	const size = 4 + 1 + 2 + 2 + 1 + 4 + 4*8 + 8*8 + 2 + 8 + 8 + 2 + 2 + 8 + 2 + 4
	b, err := f.read(addr, size, object, "fractal heap header")
	if err != nil {
		return nil, err
	}
	c := newCursor(b, int64(addr), "fractal heap header")
	if err := f.checkSig(c, "FRHP", object); err != nil {
		return nil, err
	}
	h := &fractalHeap{f: f, object: object, addr: addr, seen: map[uint64]bool{}}
	version := c.u8()
	h.idLen = int(c.u16())
	filterLen := c.u16()
	flags := c.u8()
	maxMan := uint64(c.u32())
	c.skip(8)         // next huge object ID
	hugeBT := c.u64() // huge objects' B-tree
	c.skip(8 + 8)     // free space, its manager
	c.skip(8 * 8)     // statistics
	h.width = uint64(c.u16())
	h.start, h.maxDirect = c.u64(), c.u64()
	h.maxIndex = int(c.u16())
	c.skip(2) // starting rows of the root indirect block
	root := c.u64()
	rootRows := int(c.u16())
	if c.err != "" {
		return nil, f.cursorErr(c, object)
	}
	switch {
	case version != 0:
		return nil, f.errf(ErrUnsupported, object, int64(addr), "fractal heap version %d is not supported", version)
	case filterLen != 0:
		return nil, f.errf(ErrUnsupported, object, int64(addr), "fractal heaps with I/O filters are not supported")
	}
	if err := f.checkSum(b, size-4, int64(addr), object, "fractal heap header"); err != nil {
		return nil, err
	}
	pow2 := func(v uint64) bool { return v != 0 && v&(v-1) == 0 }
	switch {
	case h.idLen < 2 || h.idLen > 64:
		return nil, f.errf(ErrFormat, object, int64(addr), "fractal heap IDs of %d bytes", h.idLen)
	case !pow2(h.width) || h.width > 1<<16, !pow2(h.start), !pow2(h.maxDirect), h.maxDirect < h.start:
		return nil, f.errf(ErrFormat, object, int64(addr), "fractal heap doubling table of width %d, block sizes %d to %d", h.width, h.start, h.maxDirect)
	case h.maxIndex < 1 || h.maxIndex > 64 || h.maxDirect > 1<<min(h.maxIndex, 63):
		return nil, f.errf(ErrFormat, object, int64(addr), "fractal heap of %d offset bits with direct blocks of %d bytes", h.maxIndex, h.maxDirect)
	case rootRows > h.maxIndex:
		return nil, f.errf(ErrFormat, object, int64(addr), "fractal heap root of %d rows", rootRows)
	}
	h.checksum = flags&2 != 0
	h.offBytes = (h.maxIndex + 7) / 8
	h.lenBytes = min((bits.Len64(h.maxDirect)-1+7)/8, encSize(maxMan))
	_ = hugeBT
	switch {
	case root == undef:
	case rootRows == 0:
		err = h.readDirect(root, 0, h.start)
	default:
		err = h.readIndirect(root, 0, rootRows, 0)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(h.blocks, func(a, b directBlock) int { return cmpU64(a.off, b.off) })
	return h, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// rowSize is the size of the blocks of row r of a doubling table.
func (h *fractalHeap) rowSize(r int) uint64 {
	if r == 0 {
		return h.start
	}
	return h.start << (r - 1)
}

// blockPrefix is the size of a direct or indirect block's header.
func (h *fractalHeap) blockPrefix() uint64 { return 4 + 1 + 8 + uint64(h.offBytes) }

func (h *fractalHeap) visit(addr uint64, what string) error {
	if h.seen[addr] {
		return h.f.errf(ErrFormat, h.object, int64(min(addr, 1<<62)), "fractal heap %s at offset %d is reached twice", what, addr)
	}
	h.seen[addr] = true
	return h.f.charge(costItem, h.object, int64(min(addr, 1<<62)))
}

// checkBlockHeader checks a block's signature, version, heap address and
// heap offset.
func (h *fractalHeap) checkBlockHeader(c *cursor, sig string, off uint64) error {
	f := h.f
	if err := f.checkSig(c, sig, h.object); err != nil {
		return err
	}
	version, heap, got := c.u8(), c.u64(), c.uvar(h.offBytes)
	switch {
	case c.err != "":
		return f.cursorErr(c, h.object)
	case version != 0:
		return f.errf(ErrUnsupported, h.object, c.base, "%s: version %d is not supported", c.what, version)
	case heap != h.addr:
		return f.errf(ErrFormat, h.object, c.base, "%s belongs to the heap at %d, not %d", c.what, heap, h.addr)
	case got != off:
		return f.errf(ErrFormat, h.object, c.base, "%s at heap offset %d, want %d", c.what, got, off)
	}
	return nil
}

func (h *fractalHeap) readDirect(addr, off, size uint64) error {
	f := h.f
	if err := h.visit(addr, "direct block"); err != nil {
		return err
	}
	if len(h.seen) > f.opt.MaxObjects {
		return f.errf(ErrLimit, h.object, int64(addr), "fractal heap of more than %d blocks", f.opt.MaxObjects)
	}
	prefix := h.blockPrefix()
	if h.checksum {
		prefix += 4
	}
	if size < prefix {
		return f.errf(ErrFormat, h.object, int64(addr), "fractal heap direct block of %d bytes", size)
	}
	b, err := f.read(addr, size, h.object, "fractal heap direct block")
	if err != nil {
		return err
	}
	if err := h.checkBlockHeader(newCursor(b, int64(addr), "fractal heap direct block"), "FHDB", off); err != nil {
		return err
	}
	if h.checksum {
		p := prefix - 4
		stored := b[p : p+4 : p+4]
		want := uint32(stored[0]) | uint32(stored[1])<<8 | uint32(stored[2])<<16 | uint32(stored[3])<<24
		clear(b[p : p+4])
		if got := lookup3(b); got != want && !f.opt.lenient {
			return f.errf(ErrFormat, h.object, int64(addr), "fractal heap direct block: checksum %#08x does not match the stored %#08x (corrupt file)", got, want)
		}
	}
	h.blocks = append(h.blocks, directBlock{off: off, addr: addr, data: b})
	return nil
}

func (h *fractalHeap) readIndirect(addr, off uint64, nrows, depth int) error {
	f := h.f
	if err := h.visit(addr, "indirect block"); err != nil {
		return err
	}
	if depth > f.opt.MaxDepth || depth > 64 {
		return f.errf(ErrLimit, h.object, int64(addr), "fractal heap indirect blocks nested more than %d deep", min(f.opt.MaxDepth, 64))
	}
	maxDirectRows := bits.Len64(h.maxDirect) - bits.Len64(h.start) + 2
	n := uint64(nrows) * h.width
	b, err := f.read(addr, h.blockPrefix()+n*8+4, h.object, "fractal heap indirect block")
	if err != nil {
		return err
	}
	c := newCursor(b, int64(addr), "fractal heap indirect block")
	if err := h.checkBlockHeader(c, "FHIB", off); err != nil {
		return err
	}
	if err := f.checkSum(b, len(b)-4, int64(addr), h.object, "fractal heap indirect block"); err != nil {
		return err
	}
	firstRowBits := bits.Len64(h.start*h.width) - 1
	for r := range nrows {
		size := h.rowSize(r)
		if r >= 64 || size == 0 || size > 1<<min(h.maxIndex, 63) {
			return f.errf(ErrFormat, h.object, int64(addr), "fractal heap row %d is too large", r)
		}
		for range h.width {
			child := c.u64()
			if c.err != "" {
				return f.cursorErr(c, h.object)
			}
			if child != undef {
				if r < maxDirectRows {
					err = h.readDirect(child, off, size)
				} else {
					err = h.readIndirect(child, off, bits.Len64(size)-1-firstRowBits+1, depth+1)
				}
				if err != nil {
					return err
				}
			}
			off += size
		}
	}
	return nil
}

// object returns the bytes of the heap object with the given ID and their
// file offset.
func (h *fractalHeap) get(id []byte, at int64) ([]byte, int64, error) {
	f := h.f
	if len(id) < h.idLen {
		return nil, at, f.errf(ErrFormat, h.object, at, "heap ID of %d bytes, the heap uses %d", len(id), h.idLen)
	}
	id = id[:h.idLen]
	if id[0]>>6 != 0 {
		return nil, at, f.errf(ErrUnsupported, h.object, at, "fractal heap ID version %d is not supported", id[0]>>6)
	}
	switch (id[0] >> 4) & 3 {
	case 0: // managed
		c := newCursor(id[1:], at, "heap ID")
		off, n := c.uvar(h.offBytes), c.uvar(h.lenBytes)
		if c.err != "" {
			return nil, at, f.cursorErr(c, h.object)
		}
		i, found := slices.BinarySearchFunc(h.blocks, off, func(b directBlock, o uint64) int { return cmpU64(b.off, o) })
		if !found {
			i--
		}
		if i < 0 {
			return nil, at, f.errf(ErrFormat, h.object, at, "heap object at offset %d is in no direct block", off)
		}
		b := h.blocks[i]
		pos := off - b.off
		if pos < h.blockPrefix() || pos > uint64(len(b.data)) || n > uint64(len(b.data))-pos {
			return nil, at, f.errf(ErrFormat, h.object, at, "heap object of %d bytes at offset %d lies outside its direct block", n, off)
		}
		return b.data[pos : pos+n], int64(b.addr + pos), nil
	case 2: // tiny: the object is in the ID
		n, data := int(id[0]&0x0f)+1, id[1:]
		if h.idLen > 18 {
			n, data = int(id[0]&0x0f)<<8|int(id[1])+1, id[2:]
		}
		if n > len(data) {
			return nil, at, f.errf(ErrFormat, h.object, at, "tiny heap object of %d bytes in a %d-byte ID", n, h.idLen)
		}
		return data[:n], at, nil
	case 1:
		return nil, at, f.errf(ErrUnsupported, h.object, at, "huge fractal heap objects are not supported")
	}
	return nil, at, f.errf(ErrFormat, h.object, at, "heap ID of type 3")
}

// walkBTreeV2 calls visit with every record of the version 2 B-tree at
// addr, whose records must be of type typ.
func (f *File) walkBTreeV2(addr uint64, typ int, object string, visit func(rec []byte, at int64) error) error {
	const size = 4 + 1 + 1 + 4 + 2 + 2 + 1 + 1 + 8 + 2 + 8 + 4
	b, err := f.read(addr, size, object, "version 2 B-tree header")
	if err != nil {
		return err
	}
	c := newCursor(b, int64(addr), "version 2 B-tree header")
	if err := f.checkSig(c, "BTHD", object); err != nil {
		return err
	}
	version, t := c.u8(), int(c.u8())
	nodeSize, recSize, depth := uint64(c.u32()), uint64(c.u16()), int(c.u16())
	c.skip(2)
	root, rootN := c.u64(), uint64(c.u16())
	if c.err != "" {
		return f.cursorErr(c, object)
	}
	if err := f.checkSum(b, size-4, int64(addr), object, "version 2 B-tree header"); err != nil {
		return err
	}
	switch {
	case version != 0:
		return f.errf(ErrUnsupported, object, int64(addr), "version 2 B-tree version %d is not supported", version)
	case t != typ:
		return f.errf(ErrFormat, object, int64(addr), "version 2 B-tree of type %d, want %d", t, typ)
	case recSize == 0 || nodeSize < 10+recSize || nodeSize > 1<<20:
		return f.errf(ErrFormat, object, int64(addr), "version 2 B-tree of %d-byte nodes and %d-byte records", nodeSize, recSize)
	case depth > min(f.opt.MaxDepth, 16):
		return f.errf(ErrLimit, object, int64(addr), "version 2 B-tree of depth %d", depth)
	}
	if root == undef || rootN == 0 {
		return nil
	}
	// Sizes of the node pointer fields at each depth (H5B2__hdr_init).
	maxNrec := make([]uint64, depth+1)
	cum := make([]uint64, depth+1)
	cumSize := make([]int, depth+1)
	maxNrec[0] = (nodeSize - 10) / recSize
	cum[0] = maxNrec[0]
	nrecSize := encSize(maxNrec[0])
	cumSize[0] = nrecSize
	ptrSize := func(d int) uint64 {
		p := uint64(8 + nrecSize)
		if d > 1 {
			p += uint64(cumSize[d-1])
		}
		return p
	}
	for d := 1; d <= depth; d++ {
		maxNrec[d] = (nodeSize - 10) / (recSize + ptrSize(d))
		hi, lo := bits.Mul64(maxNrec[d]+1, cum[d-1])
		cum[d] = lo + maxNrec[d]
		if hi != 0 || cum[d] < lo {
			cum[d] = ^uint64(0)
		}
		cumSize[d] = encSize(cum[d])
	}
	seen := map[uint64]bool{}
	var node func(addr, n uint64, d int) error
	node = func(addr, n uint64, d int) error {
		if seen[addr] {
			return f.errf(ErrFormat, object, int64(min(addr, 1<<62)), "version 2 B-tree node at offset %d is reached twice", addr)
		}
		seen[addr] = true
		if err := f.charge(costItem, object, int64(min(addr, 1<<62))); err != nil {
			return err
		}
		if n > maxNrec[d] {
			return f.errf(ErrFormat, object, int64(min(addr, 1<<62)), "version 2 B-tree node of %d records, at most %d fit", n, maxNrec[d])
		}
		sig, body := "BTLF", n*recSize
		if d > 0 {
			sig, body = "BTIN", n*recSize+(n+1)*ptrSize(d)
		}
		b, err := f.read(addr, 6+body+4, object, "version 2 B-tree node")
		if err != nil {
			return err
		}
		c := newCursor(b, int64(addr), "version 2 B-tree node")
		if err := f.checkSig(c, sig, object); err != nil {
			return err
		}
		if v, nt := c.u8(), int(c.u8()); v != 0 || nt != typ {
			return f.errf(ErrFormat, object, int64(addr), "version 2 B-tree node of version %d and type %d, want 0 and %d", v, nt, typ)
		}
		if err := f.checkSum(b, len(b)-4, int64(addr), object, "version 2 B-tree node"); err != nil {
			return err
		}
		for range n {
			at := c.pos()
			if err := visit(c.take(int(recSize)), at); err != nil {
				return err
			}
		}
		if d == 0 {
			return nil
		}
		for range n + 1 {
			child, cn := c.u64(), c.uvar(nrecSize)
			if d > 1 {
				c.uvar(cumSize[d-1])
			}
			if c.err != "" {
				return f.cursorErr(c, object)
			}
			if err := node(child, cn, d-1); err != nil {
				return err
			}
		}
		return nil
	}
	return node(root, rootN, depth)
}
