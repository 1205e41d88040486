package graph

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"gorgonia.org/tensor"
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

func TestFirstNonFinite(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		x, _ := ZeroTensor(dt, 3, 700)
		if i := FirstNonFinite(x, 0, 2100); i != -1 {
			t.Fatalf("%v: all zeros: %d, want -1", dt, i)
		}
		for _, c := range []struct {
			at      int
			v       float64
			lo, hi  int
			want    int
			comment string
		}{
			{1500, math.NaN(), 0, 2100, 1500, "NaN"},
			{3, math.Inf(1), 0, 2100, 3, "+Inf"},
			{2099, math.Inf(-1), 0, 2100, 2099, "-Inf, last"},
			{600, math.NaN(), 700, 1400, -1, "outside the range"},
			{700, math.NaN(), 700, 1400, 700, "first of the range"},
			{5, math.MaxFloat32, 0, 2100, -1, "the largest finite float32"},
			{1399, math.NaN(), 701, 1400, 1399, "an unaligned range, its last element"},
			{1024 + 999, math.Inf(1), 1, 2024, 2023, "an odd block length, its last element"},
			{702, math.NaN(), 701, 703, 702, "a range of two"},
		} {
			vals := make([]float64, 2100)
			vals[c.at] = c.v
			if err := WriteFloat64s(x, vals); err != nil {
				t.Fatal(err)
			}
			if got := FirstNonFinite(x, c.lo, c.hi); got != c.want {
				t.Errorf("%v %s: %d, want %d", dt, c.comment, got, c.want)
			}
		}
	}
}
