package graph

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these where it
// applies, so callers can test with errors.Is.
//
// The kinds of problem that package data detects too (shape, dtype, not
// finite) have a sentinel in each package, since neither imports the other,
// and the two match each other: errors.Is(err, graph.ErrShape) holds for an
// error wrapping data.ErrShape and the other way round. Packages above (nn,
// optim) re-export these values rather than declaring their own, so
// nn.ErrShape is graph.ErrShape.
var (
	// ErrShape reports a tensor or node whose shape is not the one required.
	// It matches data.ErrShape.
	ErrShape = kind("descent: shape", "shape mismatch")
	// ErrDType reports an unsupported dtype or two dtypes that should agree.
	// It matches data.ErrDType.
	ErrDType = kind("descent: dtype", "dtype mismatch")
	// ErrNotFinite reports a NaN or an infinity where finite numbers are
	// required. It matches data.ErrNotFinite.
	ErrNotFinite = kind("descent: not finite", "value is not finite")
	// ErrUnknown reports an unknown name (input, output, initialiser); nn
	// re-exports it as nn.ErrUnknownName.
	ErrUnknown = kind("descent: unknown name", "unknown name")
	// ErrNoGradient reports an operation that has no gradient in a graph
	// compiled for training.
	ErrNoGradient = errors.New("operation has no gradient")
)

// kindError is a sentinel that matches, under errors.Is, any sentinel of the
// same kind: package data declares the same small type, so that the
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

// PanicError is a panic raised inside gorgonia or tensor, recovered by Guard.
type PanicError struct {
	Op    string // the operation that was running, e.g. "graph: compile"
	Value any    // the recovered panic value
}

// Error implements error.
func (e *PanicError) Error() string {
	return fmt.Sprintf("%s: gorgonia panicked: %v", e.Op, e.Value)
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// Guard runs f and turns any panic raised while it runs into a *PanicError
// naming op. It is the one panic boundary between descent and gorgonia: every
// exported path that calls into gorgonia or tensor goes through it.
func Guard(op string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Op: op, Value: r}
		}
	}()
	return f()
}
