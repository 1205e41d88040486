package data

// Sentinel errors wrapped by this package's errors; test with errors.Is.
//
// Package graph detects the same kinds of problem (shape, dtype, not
// finite) and, since neither package imports the other, declares its own
// sentinels: the two match each other, so errors.Is(err, data.ErrShape)
// holds for an error wrapping graph.ErrShape and the other way round, and
// package nn re-exports them (nn.ErrShape is graph.ErrShape, nn.ErrEmpty is
// data.ErrEmpty).
var (
	// ErrEmpty reports a dataset with no rows or no columns, or an input
	// with no data. nn re-exports it as nn.ErrEmpty.
	ErrEmpty = kind("descent: empty", "empty data")
	// ErrShape reports tensors whose shapes do not fit together, or a
	// record with the wrong number of fields. It matches graph.ErrShape.
	ErrShape = kind("descent: shape", "shape mismatch")
	// ErrDType reports an unsupported or mismatched dtype. It matches
	// graph.ErrDType.
	ErrDType = kind("descent: dtype", "dtype mismatch")
	// ErrNotFinite reports a NaN or infinite value. It matches
	// graph.ErrNotFinite.
	ErrNotFinite = kind("descent: not finite", "value is not finite")
	// ErrLimit reports an input larger than a reader's limit: a field, a
	// record, a class count or an announced size (see CSVOptions and
	// IDXOptions). The error names the limit and how to raise it. Its kind
	// is "descent: limit", for a sentinel of another package to match.
	ErrLimit = kind("descent: limit", "input exceeds a limit")
)

// kindError is a sentinel that matches, under errors.Is, any sentinel of the
// same kind: package graph declares the same small type, so that the
// sentinels of the two bottom packages match without either importing the
// other. Its ErrorKind method is the protocol.
type kindError struct{ kind, msg string }

// kind returns a sentinel of the given kind and message. It returns an
// error, so that the sentinels are declared as errors.New's are.
func kind(kind, msg string) error { return &kindError{kind, msg} }

// Error returns the sentinel's message.
func (e *kindError) Error() string { return e.msg }

// ErrorKind names the kind of problem, such as "descent: shape".
func (e *kindError) ErrorKind() string { return e.kind }

// Is reports whether target is a sentinel of the same kind, from this
// package or another.
func (e *kindError) Is(target error) bool {
	t, ok := target.(interface{ ErrorKind() string })
	return ok && t.ErrorKind() == e.kind
}
