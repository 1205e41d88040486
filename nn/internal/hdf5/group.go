package hdf5

import (
	"bytes"
	"slices"
	"strings"
)

// Object is a group or a dataset.
type Object interface {
	// Path returns the object's path from the root.
	Path() string
	// Attrs returns the object's attributes in the order they are stored.
	Attrs() ([]*Attribute, error)
	// Attr returns the attribute called name, or an error wrapping
	// ErrNotFound.
	Attr(name string) (*Attribute, error)
	base() *object
}

// Group is an HDF5 group: named links to other objects.
type Group struct {
	object
	links []link // sorted by name, read on first use
}

// Link kinds.
const (
	linkHard     = 0
	linkSoft     = 1
	linkExternal = 64
)

// link is one named entry of a group.
type link struct {
	name string
	kind int
	addr uint64 // hard links
}

// Root returns the root group.
func (f *File) Root() (*Group, error) {
	h, err := f.readHeader(f.rootAddr, "group /")
	if err != nil {
		return nil, err
	}
	if k := kindOf(h); k != "group" {
		return nil, f.errf(ErrFormat, "group /", int64(f.rootAddr), "the root object is a %s, not a group", k)
	}
	return &Group{object: object{f: f, path: "/", kind: "group", hdr: h}}, nil
}

func (g *Group) base() *object { return &g.object }

// Names returns the names of the group's links, sorted.
func (g *Group) Names() ([]string, error) {
	links, err := g.readLinks()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(links))
	for i, l := range links {
		names[i] = l.name
	}
	return names, nil
}

// Open returns the object at path, relative to g (or to the root if it
// starts with "/"). Components are separated by "/".
func (g *Group) Open(path string) (Object, error) {
	cur := g
	if strings.HasPrefix(path, "/") && g.path != "/" {
		root, err := g.f.Root()
		if err != nil {
			return nil, err
		}
		cur = root
	}
	var parts []string
	for p := range strings.SplitSeq(path, "/") {
		if p != "" && p != "." {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return cur, nil
	}
	if len(parts) > g.f.opt.MaxDepth {
		return nil, g.f.errf(ErrLimit, g.desc(), -1, "path %q has %d components (Options.MaxDepth is %d)", path, len(parts), g.f.opt.MaxDepth)
	}
	for i, p := range parts[:len(parts)-1] {
		obj, err := cur.child(p)
		if err != nil {
			return nil, err
		}
		next, ok := obj.(*Group)
		if !ok {
			return nil, g.f.errf(ErrNotFound, obj.base().desc(), -1, "not a group, so it has no member %q", strings.Join(parts[i+1:], "/"))
		}
		cur = next
	}
	return cur.child(parts[len(parts)-1])
}

// Group returns the group at path (see Open).
func (g *Group) Group(path string) (*Group, error) {
	obj, err := g.Open(path)
	if err != nil {
		return nil, err
	}
	sub, ok := obj.(*Group)
	if !ok {
		return nil, g.f.errf(ErrFormat, obj.base().desc(), -1, "is a %s, want a group", obj.base().kind)
	}
	return sub, nil
}

// Dataset returns the dataset at path (see Open).
func (g *Group) Dataset(path string) (*Dataset, error) {
	obj, err := g.Open(path)
	if err != nil {
		return nil, err
	}
	d, ok := obj.(*Dataset)
	if !ok {
		return nil, g.f.errf(ErrFormat, obj.base().desc(), -1, "is a %s, want a dataset", obj.base().kind)
	}
	return d, nil
}

// childPath joins the group's path and a link name.
func (g *Group) childPath(name string) string {
	if g.path == "/" {
		return "/" + name
	}
	return g.path + "/" + name
}

// child opens the object a link of g points to.
func (g *Group) child(name string) (Object, error) {
	links, err := g.readLinks()
	if err != nil {
		return nil, err
	}
	i, ok := slices.BinarySearchFunc(links, name, func(l link, n string) int { return strings.Compare(l.name, n) })
	if !ok {
		return nil, g.f.errf(ErrNotFound, g.desc(), -1, "no member %q", name)
	}
	return g.f.openLink(links[i], g.childPath(name))
}

// openLink opens the object a link points to.
func (f *File) openLink(l link, path string) (Object, error) {
	switch l.kind {
	case linkHard:
	case linkSoft:
		return nil, f.errf(ErrUnsupported, "link "+path, -1, "soft links are not supported")
	case linkExternal:
		return nil, f.errf(ErrUnsupported, "link "+path, -1, "external links (to other files) are not supported")
	default:
		return nil, f.errf(ErrUnsupported, "link "+path, -1, "link type %d is not supported", l.kind)
	}
	h, err := f.readHeader(l.addr, "object "+path)
	if err != nil {
		return nil, err
	}
	o := object{f: f, path: path, hdr: h, kind: kindOf(h)}
	switch o.kind {
	case "group":
		return &Group{object: o}, nil
	case "dataset":
		return newDataset(o)
	}
	return nil, f.errf(ErrUnsupported, o.desc(), int64(l.addr), "objects of this kind are not supported (only groups and datasets)")
}

// readLinks returns the group's links sorted by name, reading them once.
func (g *Group) readLinks() ([]link, error) {
	if g.links != nil {
		return g.links, nil
	}
	f := g.f
	st, err := g.hdr.one(f, msgSymbolTable, g.desc(), "symbol table")
	if err != nil {
		return nil, err
	}
	var links []link
	if st != nil {
		c := newCursor(st.data, st.off, "symbol table message")
		bt, heap := c.u64(), c.u64()
		if c.err != "" {
			return nil, f.cursorErr(c, g.desc())
		}
		links, err = f.symbolTableLinks(bt, heap, g.desc())
		if err != nil {
			return nil, err
		}
	} else {
		li, err := g.hdr.one(f, msgLinkInfo, g.desc(), "link info")
		if err != nil {
			return nil, err
		}
		if li != nil {
			dense, err := f.parseLinkInfo(li, g.desc())
			if err != nil {
				return nil, err
			}
			if dense.heap != undef {
				links, err = f.denseLinks(dense, g.desc())
				if err != nil {
					return nil, err
				}
			}
		}
		for _, m := range g.hdr.find(msgLink) {
			l, err := f.parseLink(m, g.desc())
			if err != nil {
				return nil, err
			}
			links = append(links, l)
		}
	}
	if len(links) > f.opt.MaxObjects {
		return nil, f.errf(ErrLimit, g.desc(), -1, "%d links (Options.MaxObjects is %d)", len(links), f.opt.MaxObjects)
	}
	slices.SortFunc(links, func(a, b link) int { return strings.Compare(a.name, b.name) })
	for i := 1; i < len(links); i++ {
		if links[i].name == links[i-1].name {
			return nil, f.errf(ErrFormat, g.desc(), -1, "two links named %q", links[i].name)
		}
	}
	if links == nil {
		links = []link{}
	}
	g.links = links
	return links, nil
}

// checkName checks a link or attribute name.
func (f *File) checkName(name []byte, object string, at int64) error {
	if len(name) == 0 {
		return f.errf(ErrFormat, object, at, "empty link name")
	}
	if bytes.IndexByte(name, 0) >= 0 || bytes.IndexByte(name, '/') >= 0 {
		return f.errf(ErrFormat, object, at, "link name %q holds a NUL or a slash", name)
	}
	return nil
}

// parseLink decodes a link message.
func (f *File) parseLink(m message, object string) (link, error) {
	c := newCursor(m.data, m.off, "link message")
	var l link
	if v := c.u8(); v != 1 && c.err == "" {
		return l, f.errf(ErrUnsupported, object, m.off, "link message version %d is not supported", v)
	}
	flags := c.u8()
	if flags&0x08 != 0 {
		l.kind = int(c.u8())
	}
	if flags&0x04 != 0 {
		c.skip(8) // creation order
	}
	if flags&0x10 != 0 {
		c.skip(1) // character set
	}
	n := c.uvar(1 << (flags & 3))
	if c.err == "" && n > uint64(c.rest()) {
		return l, f.errf(ErrFormat, object, m.off, "link name of %d bytes in a %d-byte message", n, len(m.data))
	}
	name := c.take(int(n))
	if c.err != "" {
		return l, f.cursorErr(c, object)
	}
	if err := f.checkName(name, object, m.off); err != nil {
		return l, err
	}
	if err := f.charge(costItem+int64(len(name)), object, m.off); err != nil {
		return l, err
	}
	l.name = string(name)
	if l.kind == linkHard {
		l.addr = c.u64()
	}
	if c.err != "" {
		return l, f.cursorErr(c, object)
	}
	return l, nil
}

// localHeap is a local heap's data segment.
type localHeap struct {
	data []byte
	base int64
}

// readLocalHeap reads the local heap at addr.
func (f *File) readLocalHeap(addr uint64, object string) (*localHeap, error) {
	c, err := f.cursorAt(addr, 32, object, "local heap")
	if err != nil {
		return nil, err
	}
	if err := f.checkSig(c, "HEAP", object); err != nil {
		return nil, err
	}
	if v := c.u8(); v != 0 {
		return nil, f.errf(ErrUnsupported, object, int64(addr), "local heap version %d is not supported", v)
	}
	c.skip(3)
	size := c.u64()
	c.skip(8) // free list
	data := c.u64()
	if c.err != "" {
		return nil, f.cursorErr(c, object)
	}
	b, err := f.read(data, size, object, "local heap data segment")
	if err != nil {
		return nil, err
	}
	return &localHeap{b, int64(data)}, nil
}

// name returns the NUL-terminated string at off.
func (h *localHeap) name(f *File, off uint64, object string) ([]byte, error) {
	if off >= uint64(len(h.data)) {
		return nil, f.errf(ErrFormat, object, h.base, "link name offset %d is outside the %d-byte local heap", off, len(h.data))
	}
	s := h.data[off:]
	end := bytes.IndexByte(s, 0)
	if end < 0 {
		return nil, f.errf(ErrFormat, object, h.base+int64(off), "link name at heap offset %d is not NUL-terminated", off)
	}
	return s[:end], nil
}

// symbolTableLinks lists a symbol-table group's links: a version 1 B-tree
// whose leaves point to symbol table nodes, names in a local heap.
func (f *File) symbolTableLinks(bt, heapAddr uint64, object string) ([]link, error) {
	heap, err := f.readLocalHeap(heapAddr, object)
	if err != nil {
		return nil, err
	}
	var links []link
	seen := map[uint64]bool{}
	err = f.walkBTreeV1(bt, 0, 8, object, map[uint64]bool{}, func(_ []byte, snod uint64) error {
		if seen[snod] {
			return f.errf(ErrFormat, object, int64(snod), "symbol table node at offset %d is listed twice", snod)
		}
		seen[snod] = true
		c, err := f.cursorAt(snod, 8, object, "symbol table node")
		if err != nil {
			return err
		}
		if err := f.checkSig(c, "SNOD", object); err != nil {
			return err
		}
		if v := c.u8(); v != 1 {
			return f.errf(ErrUnsupported, object, int64(snod), "symbol table node version %d is not supported", v)
		}
		c.skip(1)
		n := uint64(c.u16())
		if len(links)+int(n) > f.opt.MaxObjects {
			return f.errf(ErrLimit, object, int64(snod), "more than %d links (Options.MaxObjects)", f.opt.MaxObjects)
		}
		c, err = f.cursorAt(snod+8, n*40, object, "symbol table node")
		if err != nil {
			return err
		}
		for range n {
			at := c.pos()
			nameOff, addr := c.u64(), c.u64()
			c.skip(24) // cache type, reserved, scratch pad
			name, err := heap.name(f, nameOff, object)
			if err != nil {
				return err
			}
			if err := f.checkName(name, object, at); err != nil {
				return err
			}
			if err := f.charge(costItem+int64(len(name)), object, at); err != nil {
				return err
			}
			links = append(links, link{name: string(name), kind: linkHard, addr: addr})
		}
		return f.cursorErr(c, object)
	})
	return links, err
}

// walkBTreeV1 visits the children of the level-0 nodes of the version 1
// B-tree of node type typ rooted at addr, with the key before each. seen
// collects node addresses: a node reached twice is an error.
func (f *File) walkBTreeV1(addr uint64, typ int, keySize uint64, object string, seen map[uint64]bool, visit func(key []byte, child uint64) error) error {
	return f.walkBTreeV1Node(addr, typ, keySize, -1, object, seen, visit)
}

func (f *File) walkBTreeV1Node(addr uint64, typ int, keySize uint64, wantLevel int, object string, seen map[uint64]bool, visit func(key []byte, child uint64) error) error {
	if seen[addr] {
		return f.errf(ErrFormat, object, int64(min(addr, 1<<62)), "B-tree node at offset %d is reached twice (a cycle?)", addr)
	}
	seen[addr] = true
	if err := f.charge(costItem, object, int64(min(addr, 1<<62))); err != nil {
		return err
	}
	c, err := f.cursorAt(addr, 24, object, "B-tree node")
	if err != nil {
		return err
	}
	if err := f.checkSig(c, "TREE", object); err != nil {
		return err
	}
	t, level, n := int(c.u8()), int(c.u8()), uint64(c.u16())
	if t != typ {
		return f.errf(ErrFormat, object, int64(addr), "B-tree node of type %d, want %d", t, typ)
	}
	if wantLevel >= 0 && level != wantLevel {
		return f.errf(ErrFormat, object, int64(addr), "B-tree node of level %d under a node of level %d", level, wantLevel+1)
	}
	if level > f.opt.MaxDepth {
		return f.errf(ErrLimit, object, int64(addr), "B-tree of depth %d (Options.MaxDepth is %d)", level, f.opt.MaxDepth)
	}
	body, err := f.read(addr+24, n*(keySize+8)+keySize, object, "B-tree node")
	if err != nil {
		return err
	}
	for i := range n {
		p := i * (keySize + 8)
		key := body[p : p+keySize]
		child := leUint64(body[p+keySize:])
		if level == 0 {
			err = visit(key, child)
		} else {
			err = f.walkBTreeV1Node(child, typ, keySize, level-1, object, seen, visit)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func leUint64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// denseInfo is a link info or attribute info message.
type denseInfo struct {
	heap, nameIndex uint64
	off             int64
}

// parseLinkInfo decodes a link info message.
func (f *File) parseLinkInfo(m *message, object string) (denseInfo, error) {
	c := newCursor(m.data, m.off, "link info message")
	if v := c.u8(); v != 0 && c.err == "" {
		return denseInfo{}, f.errf(ErrUnsupported, object, m.off, "link info message version %d is not supported", v)
	}
	flags := c.u8()
	if flags&1 != 0 {
		c.skip(8) // maximum creation index
	}
	d := denseInfo{heap: c.u64(), nameIndex: c.u64(), off: m.off}
	return d, f.cursorErr(c, object)
}

// Walk calls fn for g and every object below it, depth first in name
// order, each object once even when several hard links lead to it; soft
// and external links are not followed. A link back
// to an ancestor (a cycle) is an error, as are more than Options.MaxObjects
// objects or nesting deeper than Options.MaxDepth. If fn returns an error,
// Walk stops and returns it.
func (g *Group) Walk(fn func(Object) error) error {
	w := &walker{fn: fn, seen: map[uint64]bool{g.hdr.addr: true}, onPath: map[uint64]bool{}}
	return w.walk(g, 0)
}

type walker struct {
	fn     func(Object) error
	seen   map[uint64]bool
	onPath map[uint64]bool
	count  int
}

func (w *walker) walk(g *Group, depth int) error {
	f := g.f
	if depth > f.opt.MaxDepth {
		return f.errf(ErrLimit, g.desc(), -1, "groups nested more than %d deep (Options.MaxDepth)", f.opt.MaxDepth)
	}
	if err := w.fn(g); err != nil {
		return err
	}
	w.onPath[g.hdr.addr] = true
	defer delete(w.onPath, g.hdr.addr)
	links, err := g.readLinks()
	if err != nil {
		return err
	}
	for _, l := range links {
		if l.kind != linkHard {
			continue // soft and external links name no object of this file
		}
		if w.onPath[l.addr] {
			return f.errf(ErrFormat, "link "+g.childPath(l.name), int64(min(l.addr, 1<<62)), "links back to its ancestor at offset %d (a cycle)", l.addr)
		}
		if w.seen[l.addr] {
			continue
		}
		w.count++
		if w.count > f.opt.MaxObjects {
			return f.errf(ErrLimit, g.desc(), -1, "more than %d objects (Options.MaxObjects)", f.opt.MaxObjects)
		}
		w.seen[l.addr] = true
		obj, err := f.openLink(l, g.childPath(l.name))
		if err != nil {
			return err
		}
		if sub, ok := obj.(*Group); ok {
			err = w.walk(sub, depth+1)
		} else {
			err = w.fn(obj)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
