package graph

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// doubler compiles y = 2x for x of shape [rows, cols].
func doubler(t *testing.T, dt tensor.Dtype, rows, cols int) *Program {
	t.Helper()
	g := New(dt)
	x := g.Input("x", rows, cols)
	p, err := g.Compile(Spec{Outputs: map[string]*Node{"y": Scale(x, 2)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// counting returns a [rows, cols] matrix holding 1, 2, 3, ... row by row.
func counting(t *testing.T, dt tensor.Dtype, rows, cols int) *tensor.Dense {
	t.Helper()
	m, err := ZeroTensor(dt, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float64, rows*cols)
	for i := range v {
		v[i] = float64(i + 1)
	}
	if err := WriteFloat64s(m, v); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBindRows(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		x := counting(t, dt, 5, 3)
		p := doubler(t, dt, 2, 3)
		for _, lo := range []int{0, 1, 3} {
			if err := p.BindRows("x", x, lo, lo+2); err != nil {
				t.Fatalf("%v: rows %d to %d: %v", dt, lo, lo+2, err)
			}
			// In place: the input reads x's own storage.
			in, _ := p.Reads("x")
			if !sameStart(in, x, lo*3) {
				t.Errorf("%v: rows %d to %d are not read in place", dt, lo, lo+2)
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			y, _ := p.Output("y")
			want := make([]float64, 6)
			for i := range want {
				want[i] = 2 * float64(lo*3+i+1)
			}
			if got := ReadFloat64s(y, nil); !slices.Equal(got, want) {
				t.Errorf("%v: rows %d to %d: y = %v, want %v", dt, lo, lo+2, got, want)
			}
		}
		// All the rows: x itself is bound.
		whole := doubler(t, dt, 5, 3)
		if err := whole.BindRows("x", x, 0, 5); err != nil {
			t.Fatal(err)
		}
		if in, _ := whole.Reads("x"); in != x {
			t.Errorf("%v: all the rows: the input reads a copy or a view, not x", dt)
		}
		// Rebinding the same whole matrix allocates nothing.
		if a := testing.AllocsPerRun(10, func() { whole.BindRows("x", x, 0, 5) }); a != 0 {
			t.Errorf("%v: rebinding all the rows: %v allocations, want 0", dt, a)
		}
	}
}

// sameStart reports whether view's storage starts at element off of x's.
func sameStart(view, x *tensor.Dense, off int) bool {
	switch x.Dtype() {
	case tensor.Float64:
		return &view.Float64s()[0] == &x.Float64s()[off]
	case tensor.Float32:
		return &view.Float32s()[0] == &x.Float32s()[off]
	}
	return false
}

// TestBindRowsView binds rows of a view of a matrix's rows (in place, as
// a slice of rows is contiguous), all of them or some, and refuses a
// slice of columns, which is not.
func TestBindRowsView(t *testing.T) {
	x := counting(t, tensor.Float64, 5, 3)
	sl, err := x.Slice(tensor.S(1, 4))
	if err != nil {
		t.Fatal(err)
	}
	v := sl.(*tensor.Dense) // rows 1 to 3: 4, 5, ..., 12
	for _, r := range [][2]int{{0, 3}, {1, 3}} {
		p := doubler(t, tensor.Float64, r[1]-r[0], 3)
		if err := p.BindRows("x", v, r[0], r[1]); err != nil {
			t.Fatalf("rows %v of a view: %v", r, err)
		}
		if in, _ := p.Reads("x"); !sameStart(in, x, (1+r[0])*3) {
			t.Errorf("rows %v of a view are not read in place", r)
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		y, _ := p.Output("y")
		want := make([]float64, 3*(r[1]-r[0]))
		for i := range want {
			want[i] = 2 * float64((1+r[0])*3+i+1)
		}
		if got := ReadFloat64s(y, nil); !slices.Equal(got, want) {
			t.Errorf("rows %v of a view: y = %v, want %v", r, got, want)
		}
	}
	cols, err := x.Slice(nil, tensor.S(0, 2))
	if err != nil {
		t.Fatal(err)
	}
	p := doubler(t, tensor.Float64, 2, 2)
	if err := p.BindRows("x", cols.(*tensor.Dense), 0, 2); !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), "not contiguous") {
		t.Errorf("rows of a column slice: error %v, want ErrShape", err)
	}
}

func TestBindRowsErrors(t *testing.T) {
	p := doubler(t, tensor.Float64, 2, 3)
	x := counting(t, tensor.Float64, 5, 3)
	wide := counting(t, tensor.Float64, 5, 4)
	x32 := counting(t, tensor.Float32, 5, 3)
	vec := tensor.New(tensor.WithBacking([]float64{1, 2, 3}), tensor.WithShape(3))
	tests := []struct {
		name   string
		x      *tensor.Dense
		lo, hi int
		want   error
	}{
		{"nil", nil, 0, 2, ErrShape},
		{"vector", vec, 0, 2, ErrShape},
		{"negative lo", x, -1, 1, ErrShape},
		{"hi past the end", x, 4, 6, ErrShape},
		{"no rows", x, 2, 2, ErrShape},
		{"wrong count", x, 0, 3, ErrShape},
		{"wrong width", wide, 1, 3, ErrShape},
		{"wrong dtype", x32, 1, 3, ErrDType},
	}
	for _, tc := range tests {
		if err := p.BindRows("x", tc.x, tc.lo, tc.hi); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := p.BindRows("z", x, 0, 2); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown input: error %v, want ErrUnknown", err)
	}
}

func TestCopyRows(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		dst, err := ZeroTensor(dt, 4, 2)
		if err != nil {
			t.Fatal(err)
		}
		src := counting(t, dt, 2, 2)
		if err := CopyRows(dst, src, 1); err != nil {
			t.Fatal(err)
		}
		if got, want := ReadFloat64s(dst, nil), []float64{0, 0, 1, 2, 3, 4, 0, 0}; !slices.Equal(got, want) {
			t.Errorf("%v: %v, want %v", dt, got, want)
		}
		if a := testing.AllocsPerRun(10, func() { CopyRows(dst, src, 2) }); a != 0 {
			t.Errorf("%v: %v allocations, want 0", dt, a)
		}
	}
	dst := counting(t, tensor.Float64, 4, 2)
	before := ReadFloat64s(dst, nil)
	tests := []struct {
		name string
		src  *tensor.Dense
		lo   int
		want error
	}{
		{"nil", nil, 0, ErrShape},
		{"vector", tensor.New(tensor.WithBacking([]float64{1, 2}), tensor.WithShape(2)), 0, ErrShape},
		{"wrong width", counting(t, tensor.Float64, 1, 3), 0, ErrShape},
		{"past the end", counting(t, tensor.Float64, 2, 2), 3, ErrShape},
		{"negative row", counting(t, tensor.Float64, 1, 2), -1, ErrShape},
		{"wrong dtype", counting(t, tensor.Float32, 1, 2), 0, ErrDType},
	}
	for _, tc := range tests {
		if err := CopyRows(dst, tc.src, tc.lo); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := ReadFloat64s(dst, nil); !slices.Equal(got, before) {
		t.Errorf("failed copies changed dst: %v, want %v", got, before)
	}
}
