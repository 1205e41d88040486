package hdf5

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors wrapped by every *Error; test with errors.Is.
var (
	// ErrFormat reports a file that is not valid HDF5: a bad signature, an
	// offset or size outside the file, a checksum that does not match, a
	// structure that contradicts itself.
	ErrFormat = errors.New("invalid HDF5 file")
	// ErrUnsupported reports valid HDF5 that this package does not read
	// (a datatype class, a filter, a storage layout, a link type, ...).
	ErrUnsupported = errors.New("not supported")
	// ErrLimit reports a file that exceeds one of the reader's limits
	// (Options): bytes read, nesting depth, object count, sizes.
	ErrLimit = errors.New("limit exceeded")
	// ErrNotFound reports a missing link or attribute.
	ErrNotFound = errors.New("not found")
)

// Error describes why a file, or an object in it, cannot be read: the
// file, the object's path, the byte offset of the structure at fault and
// what was wrong. It unwraps to one of the sentinels above, or to an I/O
// error.
type Error struct {
	File   string // the file's name, "<reader>" when it has none
	Object string // the object's path and kind ("dataset /a/b"), "" for file-level structures
	Offset int64  // byte offset of the structure at fault, -1 if none
	Msg    string // what was wrong
	Err    error  // the sentinel or underlying error
}

// Error implements error, as "hdf5: FILE: OBJECT: MSG (at offset N)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("hdf5: ")
	b.WriteString(e.File)
	if e.Object != "" {
		b.WriteString(": ")
		b.WriteString(e.Object)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (at offset %d)", e.Offset)
	}
	return b.String()
}

// Unwrap returns the sentinel or underlying error.
func (e *Error) Unwrap() error { return e.Err }
