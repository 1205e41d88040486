package hdf5

import "fmt"

// Object header message types this package reads or knowingly skips.
const (
	msgNil          = 0x00
	msgDataspace    = 0x01
	msgLinkInfo     = 0x02
	msgDatatype     = 0x03
	msgFillOld      = 0x04
	msgFill         = 0x05
	msgLink         = 0x06
	msgExternal     = 0x07
	msgLayout       = 0x08
	msgGroupInfo    = 0x0a
	msgFilters      = 0x0b
	msgAttribute    = 0x0c
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
	msgAttrInfo     = 0x15
)

// Message flags.
const (
	flagShared         = 0x02
	flagFailIfUnknown  = 0x80
	maxHeaderMessages  = 1 << 16 // messages in one object header
	maxHeaderChunks    = 1 << 10 // continuation blocks of one object header
	maxV1ContinuedSize = 1 << 24 // one continuation block
)

// message is one object header message.
type message struct {
	typ   uint16
	flags uint8
	data  []byte
	off   int64 // file offset of data
}

// header is a parsed object header.
type header struct {
	addr    uint64
	version int
	msgs    []message
}

// find returns the messages of type t.
func (h *header) find(t uint16) []message {
	var out []message
	for _, m := range h.msgs {
		if m.typ == t {
			out = append(out, m)
		}
	}
	return out
}

// one returns the single message of type t, if any; a second one is an
// error.
func (h *header) one(f *File, t uint16, object, what string) (*message, error) {
	var found *message
	for i := range h.msgs {
		if h.msgs[i].typ == t {
			if found != nil {
				return nil, f.errf(ErrFormat, object, h.msgs[i].off, "two %s messages in one object header", what)
			}
			found = &h.msgs[i]
		}
	}
	if found != nil && found.flags&flagShared != 0 {
		return nil, f.errf(ErrUnsupported, object, found.off, "shared %s message (committed or shared object header messages) is not supported", what)
	}
	return found, nil
}

// readHeader reads the object header at addr with its continuation blocks.
func (f *File) readHeader(addr uint64, object string) (*header, error) {
	f.objectsHit++
	if err := f.charge(costHeader, object, int64(min(addr, 1<<62))); err != nil {
		return nil, err
	}
	if f.objectsHit > 16*f.opt.MaxObjects {
		return nil, f.errf(ErrLimit, object, int64(min(addr, 1<<62)), "more than %d object headers read (Options.MaxObjects)", 16*f.opt.MaxObjects)
	}
	if err := f.checkRange(addr, 16, object, "object header"); err != nil {
		return nil, err
	}
	first, err := f.read(addr, 4, object, "object header")
	if err != nil {
		return nil, err
	}
	if string(first) == "OHDR" {
		return f.readHeaderV2(addr, object)
	}
	if first[0] == 1 {
		return f.readHeaderV1(addr, object)
	}
	return nil, f.errf(ErrFormat, object, int64(addr), "no object header at offset %d (version byte %d, want 1, or the signature OHDR)", addr, first[0])
}

// chunk is a block of object header messages still to parse.
type chunk struct{ addr, size uint64 }

func (f *File) readHeaderV1(addr uint64, object string) (*header, error) {
	c, err := f.cursorAt(addr, 16, object, "object header")
	if err != nil {
		return nil, err
	}
	c.skip(2)
	nmsgs := int(c.u16())
	c.skip(4) // reference count
	size := uint64(c.u32())
	h := &header{addr: addr, version: 1}
	queue := []chunk{{addr + 16, size}}
	seen := map[uint64]bool{}
	for len(queue) > 0 {
		ch := queue[0]
		queue = queue[1:]
		if seen[ch.addr] {
			return nil, f.errf(ErrFormat, object, int64(ch.addr), "object header continuation loops back to offset %d", ch.addr)
		}
		seen[ch.addr] = true
		if len(seen) > maxHeaderChunks {
			return nil, f.errf(ErrLimit, object, int64(ch.addr), "object header has more than %d continuation blocks", maxHeaderChunks)
		}
		c, err := f.cursorAt(ch.addr, ch.size, object, "object header messages")
		if err != nil {
			return nil, err
		}
		for c.rest() >= 8 {
			typ, msize, flags := c.u16(), int(c.u16()), c.u8()
			c.skip(3)
			off := c.pos()
			data := c.take(msize)
			if c.err != "" {
				return nil, f.errf(ErrFormat, object, off, "object header message of type %#x claims %d bytes, %d remain in its block", typ, msize, c.rest())
			}
			if err := f.addMessage(h, message{typ, flags, data, off}, &queue, object); err != nil {
				return nil, err
			}
		}
	}
	if len(h.msgs) != nmsgs {
		return nil, f.errf(ErrFormat, object, int64(addr), "object header announces %d messages, holds %d", nmsgs, len(h.msgs))
	}
	return h, nil
}

// addMessage appends a message, queueing continuation blocks.
func (f *File) addMessage(h *header, m message, queue *[]chunk, object string) error {
	if len(h.msgs) >= maxHeaderMessages {
		return f.errf(ErrLimit, object, m.off, "object header has more than %d messages", maxHeaderMessages)
	}
	if err := f.charge(costMessage, object, m.off); err != nil {
		return err
	}
	h.msgs = append(h.msgs, m)
	if m.typ == msgContinuation {
		c := newCursor(m.data, m.off, "continuation message")
		a, n := c.u64(), c.u64()
		if c.err != "" {
			return f.cursorErr(c, object)
		}
		if n > maxV1ContinuedSize {
			return f.errf(ErrLimit, object, m.off, "object header continuation block of %d bytes (limit %d)", n, maxV1ContinuedSize)
		}
		if err := f.checkRange(a, n, object, "object header continuation block"); err != nil {
			return err
		}
		*queue = append(*queue, chunk{a, n})
		return nil
	}
	if m.flags&flagFailIfUnknown != 0 && !knownMessage(m.typ) {
		return f.errf(ErrUnsupported, object, m.off, "object header message type %#x, which readers must understand, is not supported", m.typ)
	}
	return nil
}

func knownMessage(t uint16) bool {
	switch t {
	case msgNil, msgDataspace, msgLinkInfo, msgDatatype, msgFillOld, msgFill, msgLink, msgExternal,
		msgLayout, msgGroupInfo, msgFilters, msgAttribute, msgContinuation, msgSymbolTable, msgAttrInfo,
		0x0d, 0x0e, 0x12, 0x16: // comment, old and new modification times, reference count
		return true
	}
	return false
}

func (f *File) readHeaderV2(addr uint64, object string) (*header, error) {
	pre, err := f.readUpTo(addr, 34, object, "object header")
	if err != nil {
		return nil, err
	}
	c := newCursor(pre, int64(addr), "object header")
	c.skip(4)
	if v := c.u8(); v != 2 {
		return nil, f.errf(ErrUnsupported, object, int64(addr), "object header version %d is not supported (1 and 2 are)", v)
	}
	flags := c.u8()
	if flags&0x20 != 0 {
		c.skip(16) // access, modification, change and birth times
	}
	if flags&0x10 != 0 {
		c.skip(4) // attribute phase change values
	}
	size := c.uvar(1 << (flags & 3))
	if c.err != "" {
		return nil, f.cursorErr(c, object)
	}
	prefix := uint64(c.off)
	if size > maxV1ContinuedSize {
		return nil, f.errf(ErrLimit, object, int64(addr), "object header chunk of %d bytes (limit %d)", size, maxV1ContinuedSize)
	}
	block, err := f.read(addr, prefix+size+4, object, "object header")
	if err != nil {
		return nil, err
	}
	if err := f.checkSum(block, len(block)-4, int64(addr), object, "object header"); err != nil {
		return nil, err
	}
	h := &header{addr: addr, version: 2}
	var queue []chunk
	if err := f.parseV2Messages(h, block[prefix:len(block)-4], int64(addr+prefix), flags, &queue, object); err != nil {
		return nil, err
	}
	seen := map[uint64]bool{}
	for len(queue) > 0 {
		ch := queue[0]
		queue = queue[1:]
		if seen[ch.addr] || ch.addr == addr {
			return nil, f.errf(ErrFormat, object, int64(ch.addr), "object header continuation loops back to offset %d", ch.addr)
		}
		seen[ch.addr] = true
		if len(seen) > maxHeaderChunks {
			return nil, f.errf(ErrLimit, object, int64(ch.addr), "object header has more than %d continuation blocks", maxHeaderChunks)
		}
		if ch.size < 8 {
			return nil, f.errf(ErrFormat, object, int64(ch.addr), "object header continuation block of %d bytes is too short", ch.size)
		}
		b, err := f.read(ch.addr, ch.size, object, "object header continuation block")
		if err != nil {
			return nil, err
		}
		if string(b[:4]) != "OCHK" {
			return nil, f.errf(ErrFormat, object, int64(ch.addr), "object header continuation block: signature %q, want \"OCHK\"", b[:4])
		}
		if err := f.checkSum(b, len(b)-4, int64(ch.addr), object, "object header continuation block"); err != nil {
			return nil, err
		}
		if err := f.parseV2Messages(h, b[4:len(b)-4], int64(ch.addr+4), flags, &queue, object); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func (f *File) parseV2Messages(h *header, b []byte, base int64, hflags uint8, queue *[]chunk, object string) error {
	c := newCursor(b, base, "object header messages")
	hdr := 4
	if hflags&0x04 != 0 {
		hdr = 6 // creation order tracked
	}
	for c.rest() >= hdr {
		typ, msize, flags := uint16(c.u8()), int(c.u16()), c.u8()
		if hdr == 6 {
			c.skip(2)
		}
		off := c.pos()
		data := c.take(msize)
		if c.err != "" {
			return f.errf(ErrFormat, object, off, "object header message of type %#x claims %d bytes, %d remain in its block", typ, msize, c.rest())
		}
		if err := f.addMessage(h, message{typ, flags, data, off}, queue, object); err != nil {
			return err
		}
	}
	return nil
}

// object is what groups and datasets share: where they are and their
// header.
type object struct {
	f    *File
	path string
	kind string // "group" or "dataset"
	hdr  *header
}

// Path returns the object's path from the root, "/" for the root group.
func (o *object) Path() string { return o.path }

// desc names the object in errors: "dataset /a/b".
func (o *object) desc() string { return fmt.Sprintf("%s %s", o.kind, o.path) }

// kindOf classifies an object header.
func kindOf(h *header) string {
	has := map[uint16]bool{}
	for _, m := range h.msgs {
		has[m.typ] = true
	}
	switch {
	case has[msgLayout] || (has[msgDataspace] && has[msgDatatype]):
		return "dataset"
	case has[msgSymbolTable] || has[msgLinkInfo] || has[msgLink] || has[msgGroupInfo]:
		return "group"
	case has[msgDatatype]:
		return "committed datatype"
	}
	return "object"
}
