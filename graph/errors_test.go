package graph

import (
	"errors"
	"fmt"
	"testing"
)

// foreign is a sentinel of another package (data, which graph cannot
// import) that speaks the ErrorKind protocol.
type foreign struct{ kind string }

func (f *foreign) Error() string     { return "foreign " + f.kind }
func (f *foreign) ErrorKind() string { return f.kind }
func (f *foreign) Is(target error) bool {
	t, ok := target.(interface{ ErrorKind() string })
	return ok && t.ErrorKind() == f.kind
}

func TestSentinelKinds(t *testing.T) {
	ours := map[string]error{
		"descent: shape":        ErrShape,
		"descent: dtype":        ErrDType,
		"descent: not finite":   ErrNotFinite,
		"descent: unknown name": ErrUnknown,
	}
	for ka, a := range ours {
		for kb, b := range ours {
			if got := errors.Is(fmt.Errorf("graph: op: %w", a), b); got != (ka == kb) {
				t.Errorf("errors.Is(%q, %q) = %v, want %v", a, b, got, ka == kb)
			}
		}
		theirs := &foreign{ka}
		if !errors.Is(fmt.Errorf("graph: op: %w", a), theirs) || !errors.Is(fmt.Errorf("data: op: %w", theirs), a) {
			t.Errorf("%q and a foreign sentinel of kind %q do not match both ways", a, ka)
		}
		if errors.Is(a, &foreign{"descent: other"}) || errors.Is(&foreign{"descent: other"}, a) {
			t.Errorf("%q matches a foreign sentinel of another kind", a)
		}
	}
	if errors.Is(fmt.Errorf("x: %w", ErrNoGradient), ErrShape) || errors.Is(errors.New("shape mismatch"), ErrShape) {
		t.Errorf("ErrShape matches an error of the same text but no kind")
	}
}
