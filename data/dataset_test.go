package data

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

func TestFromFloat64s(t *testing.T) {
	vals := []float64{1, 2, 3, 4, 5, 6}
	for _, tc := range []struct {
		name       string
		vals       []float64
		dt         tensor.Dtype
		rows, cols int
		is         error // nil: success
	}{
		{"float64", vals, tensor.Float64, 2, 3, nil},
		{"zero dtype is float64", vals, tensor.Dtype{}, 3, 2, nil},
		{"float32", vals, tensor.Float32, 6, 1, nil},
		{"too few values", vals, tensor.Float64, 3, 3, ErrShape},
		{"too many values", vals, tensor.Float64, 1, 5, ErrShape},
		{"zero rows", nil, tensor.Float64, 0, 3, ErrShape},
		{"negative", vals, tensor.Float64, -2, -3, ErrShape},
		{"product overflows", vals, tensor.Float64, 1 << 62, 1 << 62, ErrShape},
		{"int dtype", vals, tensor.Int, 2, 3, ErrDType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := FromFloat64s(tc.vals, tc.dt, tc.rows, tc.cols)
			if tc.is != nil {
				if !errors.Is(err, tc.is) || m != nil {
					t.Fatalf("got %v, %v; want an error wrapping %v", m, err, tc.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !m.Shape().Eq(tensor.Shape{tc.rows, tc.cols}) {
				t.Errorf("shape %v, want [%d %d]", m.Shape(), tc.rows, tc.cols)
			}
			if got := float64s(m); !slices.Equal(got, vals) {
				t.Errorf("values %v, want %v", got, vals)
			}
			tc.vals[0] = 99 // FromFloat64s copies
			if float64s(m)[0] != 1 {
				t.Errorf("the tensor shares vals")
			}
			tc.vals[0] = 1
		})
	}
}

// badDatasets are datasets that no method may panic on: each must give an
// error. Those whose X is itself a bad matrix are listed in badX.
func badDatasets(t *testing.T) (all map[string]*Dataset, badX map[string]bool) {
	x := matrixOf(t, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, tensor.Float64, 4, 3)
	y := matrixOf(t, []float64{0, 1, 0, 1}, tensor.Float64, 4, 1)
	cols, err := x.Slice(nil, tensor.S(1, 3)) // a [4, 2] view, not contiguous
	if err != nil {
		t.Fatal(err)
	}
	tr := x.Clone().(*tensor.Dense)
	if err := tr.T(); err != nil { // [3, 4], transposed lazily
		t.Fatal(err)
	}
	ints := tensor.New(tensor.WithShape(4, 1), tensor.WithBacking([]int{1, 2, 3, 4}))
	empty := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(0, 3))
	cube := tensor.New(tensor.WithShape(4, 1, 1), tensor.WithBacking([]float64{1, 2, 3, 4}))
	badX = map[string]bool{"column view": true, "transposed": true, "no rows": true}
	return map[string]*Dataset{
		"nil":              nil,
		"zero":             {},
		"no Y":             {X: x},
		"column view":      {X: cols.(*tensor.Dense), Y: y},
		"transposed":       {X: tr, Y: matrixOf(t, []float64{0, 1, 0}, tensor.Float64, 3, 1)},
		"int Y":            {X: x, Y: ints},
		"no rows":          {X: empty, Y: y},
		"3-D Y":            {X: x, Y: cube},
		"rows differ":      {X: x, Y: matrixOf(t, []float64{0, 1}, tensor.Float64, 2, 1)},
		"dtypes differ":    {X: x, Y: matrixOf(t, []float64{0, 1, 0, 1}, tensor.Float32, 4, 1)},
		"NaN (valid view)": {X: matrixOf(t, []float64{math.NaN(), 1, 2, 3}, tensor.Float64, 4, 1), Y: y},
	}, badX
}

// TestBadDatasetsGiveErrors checks that every method taking a dataset or a
// matrix returns an error, not a tensor panic, for datasets that are nil,
// empty, of the wrong dtype or shape, or views whose values are not
// contiguous (a column slice or a transpose: their Data is the whole
// backing array, longer than the view, which used to make Transform index
// out of range).
func TestBadDatasetsGiveErrors(t *testing.T) {
	all, badX := badDatasets(t)
	for name, d := range all {
		t.Run(name, func(t *testing.T) {
			var s Scaler
			calls := map[string]func() error{
				"Validate":        d.Validate,
				"Slice":           func() error { _, err := d.Slice(0, 1); return err },
				"Subset":          func() error { _, err := d.Subset([]int{0}); return err },
				"Split":           func() error { _, _, err := d.Split(0.5, 1); return err },
				"ValidationSplit": func() error { _, _, err := d.ValidationSplit(0.5); return err },
				"Shuffle":         func() error { _, err := d.Shuffle(1); return err },
				"To":              func() error { _, err := d.To(tensor.Float32); return err },
				"Labels":          func() error { _, err := d.Labels(); return err },
				"OneHot":          func() error { _, err := d.OneHot(2); return err },
				"FitTransform":    func() error { _, err := s.FitTransformDataset(d); return err },
			}
			if badX[name] {
				calls["Scaler.Fit"] = func() error { return s.Fit(d.X) }
				calls["ArgMax"] = func() error { _, err := ArgMax(d.X); return err }
				calls["Gather"] = func() error { return Gather(d.X, d.X, []int{0}) }
			}
			for call, f := range calls {
				if name == "NaN (valid view)" && call != "Validate" && call != "FitTransform" {
					continue // a NaN is only the values' problem
				}
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%s panicked: %v", call, r)
						}
					}()
					if err := f(); err == nil {
						t.Errorf("%s: no error", call)
					}
				}()
			}
			_, _, _, _ = d.Len(), d.Features(), d.Targets(), d.DType() // no panic
		})
	}
	for _, x := range []*tensor.Dense{nil, all["column view"].X, all["transposed"].X} {
		if err := WriteIDX(&bytes.Buffer{}, x); err == nil {
			t.Errorf("WriteIDX(%v): no error", x)
		}
	}
}

func TestXORUnsupportedDType(t *testing.T) {
	if d := XOR(tensor.Int); d != nil {
		t.Errorf("XOR(int) = %v, want nil", d)
	}
}

func TestScalerDatasets(t *testing.T) {
	train, err := FromRows([][]float64{{1, 10}, {2, 10}, {3, 10}}, [][]float64{{0}, {0}, {1}}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	test, err := FromRows([][]float64{{4, 11}, {0, 9}}, [][]float64{{1}, {0}}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	s := Scaler{Method: MinMax}
	st, err := s.FitTransformDataset(train)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := s.TransformDataset(test)
	if err != nil {
		t.Fatal(err)
	}
	// Exact: small integers and halves in float32.
	if got, want := st.X.Float32s(), []float32{0, 0, 0.5, 0, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("train X = %v, want %v", got, want)
	}
	if got, want := sv.X.Float32s(), []float32{1.5, 1, -0.5, -1}; !slices.Equal(got, want) {
		t.Errorf("test X = %v, want %v (the training set's statistics)", got, want)
	}
	if st.Y != train.Y || sv.Y != test.Y {
		t.Errorf("Y is not shared with the input")
	}
	if train.X.Float32s()[0] != 1 || test.X.Float32s()[0] != 4 {
		t.Errorf("the input datasets were modified")
	}
	if err := sv.Validate(); err != nil {
		t.Error(err)
	}
	wide, _ := FromRows([][]float64{{1, 2, 3}}, [][]float64{{0}}, tensor.Float32)
	if _, err := s.TransformDataset(wide); !errors.Is(err, ErrShape) {
		t.Errorf("3 features into a 2-column scaler: error %v, want ErrShape", err)
	}
}
