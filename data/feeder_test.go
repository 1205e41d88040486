package data

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func TestFeeder(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		t.Run(dt.String(), func(t *testing.T) {
			x := [][]float64{{0, 1}, {2, 3}, {4, 5}, {6, 7}}
			labels := [][]float64{{2}, {0}, {1}, {2}}
			d, err := FromRows(x, labels, dt)
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name    string
				classes int
				idx     []int
				wantX   []float64
				wantY   []float64
			}{
				{"dense targets", 0, []int{3, 1}, []float64{6, 7, 2, 3}, []float64{2, 0}},
				{"one-hot targets", 3, []int{3, 1, 2}, []float64{6, 7, 2, 3, 4, 5}, []float64{0, 0, 1, 1, 0, 0, 0, 1, 0}},
			}
			for _, tc := range tests {
				f, err := NewFeeder(d, tc.classes)
				if err != nil {
					t.Fatal(err)
				}
				xb := matrixOf(t, make([]float64, 3*2), dt, 3, 2)
				yb := matrixOf(t, slices.Repeat([]float64{9}, 3*f.TargetWidth()), dt, 3, f.TargetWidth())
				if err := f.Gather(xb, yb, tc.idx); err != nil {
					t.Fatal(err)
				}
				n := len(tc.idx)
				if got := float64s(xb)[:2*n]; !slices.Equal(got, tc.wantX) {
					t.Errorf("%s: x rows %v, want %v", tc.name, got, tc.wantX)
				}
				if got := float64s(yb)[:n*f.TargetWidth()]; !slices.Equal(got, tc.wantY) {
					t.Errorf("%s: y rows %v, want %v", tc.name, got, tc.wantY)
				}
				// Rows of a contiguous range give what Gather gives for it.
				xr := matrixOf(t, make([]float64, 3*2), dt, 3, 2)
				yr := matrixOf(t, make([]float64, 3*f.TargetWidth()), dt, 3, f.TargetWidth())
				if err := f.Rows(xr, yr, 1, 4); err != nil {
					t.Fatal(err)
				}
				if err := f.Gather(xb, yb, []int{1, 2, 3}); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(float64s(xr), float64s(xb)) || !slices.Equal(float64s(yr), float64s(yb)) {
					t.Errorf("%s: Rows(1, 4) = %v %v, Gather(1, 2, 3) = %v %v", tc.name, float64s(xr), float64s(yr), float64s(xb), float64s(yb))
				}
			}
		})
	}
}

func TestFeederErrors(t *testing.T) {
	d, err := FromRows([][]float64{{0}, {1}}, [][]float64{{1}, {2.5}}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	two, err := FromRows([][]float64{{0}, {1}}, [][]float64{{1, 0}, {0, 1}}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		d       *Dataset
		classes int
		want    string
		is      error
	}{
		{"fractional label", d, 3, "Y row 1 is 2.5, want a class index in [0, 3)", ErrShape},
		{"label too large", d, 2, "Y row 1 is 2.5", ErrShape},
		{"two columns", two, 2, "Y has 2 columns", ErrShape},
		{"no data", &Dataset{}, 0, "no X", ErrEmpty},
	} {
		_, err := NewFeeder(tc.d, tc.classes)
		if !errors.Is(err, tc.is) || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q wrapping %v", tc.name, err, tc.want, tc.is)
		}
	}
	f, err := NewFeeder(two, 0)
	if err != nil {
		t.Fatal(err)
	}
	small := matrixOf(t, make([]float64, 1), tensor.Float64, 1, 1)
	if err := f.Gather(small, small, []int{0, 1}); !errors.Is(err, ErrShape) {
		t.Errorf("two rows into a one-row buffer: err = %v", err)
	}
	if err := f.Rows(small, small, 1, 0); !errors.Is(err, ErrShape) {
		t.Errorf("an empty range: err = %v", err)
	}
	f32 := matrixOf(t, make([]float64, 2), tensor.Float32, 1, 2)
	if err := f.Rows(matrixOf(t, make([]float64, 1), tensor.Float64, 1, 1), f32, 0, 1); !errors.Is(err, ErrDType) {
		t.Errorf("float32 targets from float64 data: err = %v", err)
	}
}

// TestFeederAllocations checks that filling a batch allocates nothing.
func TestFeederAllocations(t *testing.T) {
	d, err := FromRows([][]float64{{0, 1}, {2, 3}, {4, 5}}, [][]float64{{1}, {0}, {1}}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFeeder(d, 2)
	if err != nil {
		t.Fatal(err)
	}
	x := matrixOf(t, make([]float64, 4), tensor.Float32, 2, 2)
	y := matrixOf(t, make([]float64, 4), tensor.Float32, 2, 2)
	idx := []int{2, 0}
	if n := testing.AllocsPerRun(100, func() {
		if err := f.Gather(x, y, idx); err != nil {
			t.Fatal(err)
		}
		if err := f.Rows(x, y, 1, 3); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per batch, want 0", n)
	}
}
