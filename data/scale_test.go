package data

import (
	"errors"
	"math"
	"testing"

	"gorgonia.org/tensor"
)

func TestScaler(t *testing.T) {
	// Column 0: 1, 2, 3 (mean 2, population std sqrt(2/3), range 1..3);
	// column 1 is constant.
	fit := matrixOf(t, []float64{1, 7, 2, 7, 3, 7}, tensor.Float64, 3, 2)
	other := matrixOf(t, []float64{4, 8}, tensor.Float64, 1, 2)
	sd := math.Sqrt(2.0 / 3)
	for _, tc := range []struct {
		method       Scaling
		dt           tensor.Dtype
		fitted, test []float64
	}{
		{Standardize, tensor.Float64, []float64{-1 / sd, 0, 0, 0, 1 / sd, 0}, []float64{2 / sd, 1}},
		{MinMax, tensor.Float64, []float64{0, 0, 0.5, 0, 1, 0}, []float64{1.5, 1}},
		{Standardize, tensor.Float32, []float64{-1 / sd, 0, 0, 0, 1 / sd, 0}, []float64{2 / sd, 1}},
	} {
		x, y := fit, other
		if tc.dt == tensor.Float32 {
			x, _ = convert(fit, tensor.Float32)
			y, _ = convert(other, tensor.Float32)
		}
		// Float64 results are exact to rounding; float32 ones to float32
		// rounding of values below 3.
		tol := 1e-12
		if tc.dt == tensor.Float32 {
			tol = 1e-6
		}
		s := Scaler{Method: tc.method}
		got, err := s.FitTransform(x)
		if err != nil {
			t.Fatal(err)
		}
		if got.Dtype() != tc.dt {
			t.Errorf("%v: dtype %v, want %v", tc.method, got.Dtype(), tc.dt)
		}
		for i, v := range float64s(got) {
			if math.Abs(v-tc.fitted[i]) > tol {
				t.Errorf("%v %v: fitted[%d] = %v, want %v", tc.method, tc.dt, i, v, tc.fitted[i])
			}
		}
		// Applied to other data with the fitted statistics.
		got, err = s.Transform(y)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range float64s(got) {
			if math.Abs(v-tc.test[i]) > tol {
				t.Errorf("%v %v: transform[%d] = %v, want %v", tc.method, tc.dt, i, v, tc.test[i])
			}
		}
		inv, err := s.Inverse(got)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range float64s(inv) {
			if want := float64s(y)[i]; math.Abs(v-want) > 10*tol {
				t.Errorf("%v %v: inverse[%d] = %v, want %v", tc.method, tc.dt, i, v, want)
			}
		}
		if float64s(x)[0] != 1 {
			t.Errorf("%v: Transform modified its input", tc.method)
		}
	}
}

func TestScalerConstantFloat32(t *testing.T) {
	// 0.1 repeated: a float64 mean of float32(0.1)s can differ from it by
	// rounding, but the column is constant and must map to exact zeros.
	x := matrixOf(t, []float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, tensor.Float32, 7, 1)
	var s Scaler
	got, err := s.FitTransform(x)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got.Float32s() {
		if v != 0 {
			t.Errorf("row %d = %v, want 0", i, v)
		}
	}
}

func TestScalerErrors(t *testing.T) {
	x := matrixOf(t, []float64{1, 2}, tensor.Float64, 1, 2)
	var unfitted Scaler
	if _, err := unfitted.Transform(x); !errors.Is(err, ErrShape) {
		t.Errorf("unfitted: error %v, want ErrShape", err)
	}
	s := Scaler{Shift: []float64{0}, Scale: []float64{1}}
	if _, err := s.Transform(x); !errors.Is(err, ErrShape) {
		t.Errorf("column mismatch: error %v, want ErrShape", err)
	}
	s = Scaler{Shift: []float64{0, 0}, Scale: []float64{1, 0}}
	if _, err := s.Transform(x); err == nil {
		t.Errorf("zero scale: no error")
	}
	if err := (&Scaler{Method: 7}).Fit(x); err == nil {
		t.Errorf("unknown method: no error")
	}
	huge := matrixOf(t, []float64{-1e308, 1e308}, tensor.Float64, 2, 1)
	if err := (&Scaler{Method: MinMax}).Fit(huge); !errors.Is(err, ErrNotFinite) {
		t.Errorf("range overflow: error %v, want ErrNotFinite", err)
	}
}
