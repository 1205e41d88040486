package hdf5

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// signature opens every HDF5 file.
var signature = []byte("\x89HDF\r\n\x1a\n")

// IsHDF5 reports whether b starts with the HDF5 signature.
func IsHDF5(b []byte) bool { return bytes.HasPrefix(b, signature) }

// Options are the limits of a reader. The zero value gives the defaults.
type Options struct {
	// Name is the file's name in errors. If empty, "<reader>".
	Name string
	// MaxReadBytes bounds the bytes read from the file and decoded, summed
	// over everything the File does (metadata, attribute values, dataset
	// data, decompressed chunks): what it allocates is proportional to it.
	// If zero, defaults to 16 MiB + 2 × the file's size, room for reading
	// every dataset once with ReadRaw with metadata to spare (Float64s of
	// float32 data also counts the float64 copy: raise the limit to call
	// it on all of a large float32 file).
	MaxReadBytes int64
	// MaxDepth bounds path lengths and the nesting of groups (Walk), B-trees,
	// heaps and datatypes. If zero, defaults to 64.
	MaxDepth int
	// MaxObjects bounds the objects Walk visits and the links or attributes
	// one object may have. If zero, defaults to 100000.
	MaxObjects int

	// lenient skips checksums and the end-of-file check, so that the
	// package's fuzz test reaches the structures behind them with mutated
	// or resized inputs.
	lenient bool
}

const (
	defaultFixedBudget = 16 << 20
	defaultMaxDepth    = 64
	defaultMaxObjects  = 100_000
)

// File is an HDF5 file open for reading. Its methods read lazily from the
// io.ReaderAt it was opened on; it is not safe for concurrent use.
type File struct {
	r      io.ReaderAt
	size   int64
	name   string
	budget int64 // bytes the reader may still read or decode
	opt    Options

	sbVersion  int
	leafK      int // group leaf node K (symbol table node capacity 2K)
	internalK  int // group internal node K
	rootAddr   uint64
	gheaps     map[uint64][]byte // global heap collections read
	zr         io.ReadCloser     // zlib reader, reused across chunks
	objectsHit int
}

// Open reads the superblock of the HDF5 file of size bytes held by r and
// returns the File. Nothing else is read until asked for.
func Open(r io.ReaderAt, size int64, opt Options) (*File, error) {
	if opt.Name == "" {
		opt.Name = "<reader>"
	}
	if opt.MaxDepth <= 0 {
		opt.MaxDepth = defaultMaxDepth
	}
	if opt.MaxObjects <= 0 {
		opt.MaxObjects = defaultMaxObjects
	}
	f := &File{r: r, size: size, name: opt.Name, opt: opt, gheaps: map[uint64][]byte{}}
	if r == nil {
		return nil, f.errf(ErrFormat, "", -1, "nil reader")
	}
	if size < 0 {
		return nil, f.errf(ErrFormat, "", -1, "negative size %d", size)
	}
	f.budget = opt.MaxReadBytes
	if f.budget <= 0 {
		f.budget = defaultFixedBudget + 2*min(size, 1<<60)
	}
	if err := f.readSuperblock(); err != nil {
		return nil, err
	}
	return f, nil
}

// Name returns the file's name as given in Options.
func (f *File) Name() string { return f.name }

// SuperblockVersion returns the version of the file's superblock (0 to 3).
func (f *File) SuperblockVersion() int { return f.sbVersion }

// errf returns an *Error about object (a path and kind, or "") at offset.
func (f *File) errf(kind error, object string, off int64, format string, args ...any) *Error {
	return &Error{File: f.name, Object: object, Offset: off, Msg: fmt.Sprintf(format, args...), Err: kind}
}

// spend takes n bytes from the read budget.
func (f *File) spend(n int64, object string, off int64, what string) error {
	if n < 0 || n > f.budget {
		return f.errf(ErrLimit, object, off, "%s of %d bytes exceeds the reader's remaining budget of %d bytes (Options.MaxReadBytes)", what, n, f.budget)
	}
	f.budget -= n
	return nil
}

// Bookkeeping charges: what parsing allocates per item beyond the bytes
// read (structs, map entries, slices), taken from the read budget so that
// allocations stay proportional to it however small the items are.
const (
	costHeader  = 256
	costMessage = 64
	costItem    = 64 // a link, a B-tree or heap node, an attribute
	costChunk   = 256
)

// charge takes bookkeeping bytes from the budget.
func (f *File) charge(n int64, object string, off int64) error {
	return f.spend(n, object, off, "bookkeeping")
}

// checkRange returns an error unless n bytes at addr lie inside the file.
func (f *File) checkRange(addr, n uint64, object, what string) error {
	if addr == undef {
		return f.errf(ErrFormat, object, -1, "%s has an undefined address", what)
	}
	if addr > uint64(f.size) || n > uint64(f.size)-addr {
		return f.errf(ErrFormat, object, int64(min(addr, 1<<62)), "%s of %d bytes at offset %d runs past the end of the %d-byte file (truncated?)", what, n, addr, f.size)
	}
	return nil
}

// read returns n bytes at addr, after checking them against the file's size
// and the read budget.
func (f *File) read(addr, n uint64, object, what string) ([]byte, error) {
	if err := f.checkRange(addr, n, object, what); err != nil {
		return nil, err
	}
	if err := f.spend(int64(n), object, int64(addr), what); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, int64(addr)); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, f.errf(ErrFormat, object, int64(addr), "%s: file shorter than its stated size (truncated while reading?)", what)
		}
		return nil, &Error{File: f.name, Object: object, Offset: int64(addr), Msg: fmt.Sprintf("reading %s: %v", what, err), Err: err}
	}
	return b, nil
}

// readUpTo reads up to n bytes at addr, fewer if the file ends first.
func (f *File) readUpTo(addr, n uint64, object, what string) ([]byte, error) {
	if addr != undef && addr < uint64(f.size) {
		n = min(n, uint64(f.size)-addr)
	}
	return f.read(addr, n, object, what)
}

// cursorAt reads n bytes at addr and returns a cursor over them.
func (f *File) cursorAt(addr, n uint64, object, what string) (*cursor, error) {
	b, err := f.read(addr, n, object, what)
	if err != nil {
		return nil, err
	}
	return newCursor(b, int64(addr), what), nil
}

// cursorErr converts a cursor's sticky error, if any, to an *Error.
func (f *File) cursorErr(c *cursor, object string) error {
	if c.err == "" {
		return nil
	}
	return f.errf(ErrFormat, object, c.base, "%s", c.err)
}

// checkSig checks a 4-byte structure signature.
func (f *File) checkSig(c *cursor, sig, object string) error {
	got := c.take(4)
	if c.err != "" {
		return f.cursorErr(c, object)
	}
	if string(got) != sig {
		return f.errf(ErrFormat, object, c.base, "%s: signature %q, want %q", c.what, got, sig)
	}
	return nil
}

// checkSum verifies the lookup3 checksum stored in the 4 bytes after
// b[:n].
func (f *File) checkSum(b []byte, n int, base int64, object, what string) error {
	if n < 0 || n+4 > len(b) {
		return f.errf(ErrFormat, object, base, "%s is too short for its checksum", what)
	}
	if f.opt.lenient {
		return nil
	}
	want := uint32(b[n]) | uint32(b[n+1])<<8 | uint32(b[n+2])<<16 | uint32(b[n+3])<<24
	if got := lookup3(b[:n]); got != want {
		return f.errf(ErrFormat, object, base, "%s: checksum %#08x does not match the stored %#08x (corrupt file)", what, got, want)
	}
	return nil
}

// readSuperblock reads and checks the superblock at offset 0.
func (f *File) readSuperblock() error {
	const what = "superblock"
	if f.size < int64(len(signature))+1 {
		return f.errf(ErrFormat, "", 0, "file of %d bytes is too short for an HDF5 superblock", f.size)
	}
	head, err := f.readUpTo(0, 256, "", what)
	if err != nil {
		return err
	}
	if !IsHDF5(head) {
		return f.errf(ErrFormat, "", 0, "no HDF5 signature at offset 0 (not an HDF5 file, or one with a user block, which is not supported)")
	}
	c := newCursor(head, 0, what)
	c.skip(8)
	f.sbVersion = int(c.u8())
	switch f.sbVersion {
	case 0, 1:
		return f.readSuperblock01(c)
	case 2, 3:
		return f.readSuperblock23(c, head)
	}
	return f.errf(ErrUnsupported, "", 8, "superblock version %d is not supported (versions 0 to 3 are)", f.sbVersion)
}

func (f *File) checkSizes(offsets, lengths uint8, at int64) error {
	if offsets != 8 || lengths != 8 {
		return f.errf(ErrUnsupported, "", at, "sizes of offsets %d and lengths %d are not supported (only 8 and 8, what h5py writes)", offsets, lengths)
	}
	return nil
}

func (f *File) readSuperblock01(c *cursor) error {
	c.skip(3) // free-space, root symbol table entry and reserved versions
	if v := c.u8(); v != 0 && c.err == "" {
		return f.errf(ErrUnsupported, "", 12, "shared header message format version %d is not supported", v)
	}
	offsets, lengths := c.u8(), c.u8()
	c.skip(1)
	f.leafK, f.internalK = int(c.u16()), int(c.u16())
	c.skip(4) // file consistency flags
	if f.sbVersion == 1 {
		c.skip(4) // indexed storage K, reserved
	}
	if c.err != "" {
		return f.cursorErr(c, "")
	}
	if err := f.checkSizes(offsets, lengths, 13); err != nil {
		return err
	}
	if f.leafK == 0 || f.internalK == 0 {
		return f.errf(ErrFormat, "", 16, "group B-tree K values %d and %d must be positive", f.leafK, f.internalK)
	}
	base := c.u64()
	c.skip(8) // free-space info address
	eof := c.u64()
	c.skip(8) // driver information block
	// The root group's symbol table entry; its object header has the
	// symbol table message the scratch pad caches.
	c.skip(8) // link name offset
	f.rootAddr = c.u64()
	c.skip(24)
	if c.err != "" {
		return f.cursorErr(c, "")
	}
	if base != 0 {
		return f.errf(ErrUnsupported, "", 24, "base address %d is not supported (files with a user block)", base)
	}
	return f.checkEOF(eof)
}

func (f *File) readSuperblock23(c *cursor, head []byte) error {
	offsets, lengths := c.u8(), c.u8()
	c.skip(1) // file consistency flags
	if c.err != "" {
		return f.cursorErr(c, "")
	}
	if err := f.checkSizes(offsets, lengths, 9); err != nil {
		return err
	}
	base := c.u64()
	c.skip(8) // superblock extension: B-tree K values, shared messages and file space settings, none needed to read
	eof := c.u64()
	f.rootAddr = c.u64()
	n := c.off
	c.skip(4)
	if c.err != "" {
		return f.cursorErr(c, "")
	}
	if err := f.checkSum(head, n, 0, "", "superblock"); err != nil {
		return err
	}
	if base != 0 {
		return f.errf(ErrUnsupported, "", 12, "base address %d is not supported (files with a user block)", base)
	}
	f.leafK, f.internalK = 4, 16
	return f.checkEOF(eof)
}

// checkEOF checks the end-of-file address against the file's size: a file
// shorter than it says is truncated.
func (f *File) checkEOF(eof uint64) error {
	if eof != undef && eof > uint64(f.size) && !f.opt.lenient {
		return f.errf(ErrFormat, "", -1, "the superblock's end of file address is %d, the file has %d bytes (truncated)", eof, f.size)
	}
	return nil
}
