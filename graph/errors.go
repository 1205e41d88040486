package graph

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these where it
// applies, so callers can test with errors.Is.
var (
	// ErrShape reports a tensor or node whose shape is not the one required.
	ErrShape = errors.New("shape mismatch")
	// ErrDType reports an unsupported dtype or two dtypes that should agree.
	ErrDType = errors.New("dtype mismatch")
	// ErrNotFinite reports a NaN or an infinity where finite numbers are required.
	ErrNotFinite = errors.New("value is not finite")
	// ErrUnknown reports an unknown name (input, output, initialiser).
	ErrUnknown = errors.New("unknown name")
	// ErrNoGradient reports an operation that has no gradient in a graph
	// compiled for training.
	ErrNoGradient = errors.New("operation has no gradient")
)

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
