package data

import (
	"errors"
	"math"
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// rows10 returns a dataset of 10 rows, X row i = [i, 10i], Y row i = [i].
func rows10(t *testing.T, dt tensor.Dtype) *Dataset {
	t.Helper()
	x, y := make([][]float64, 10), make([][]float64, 10)
	for i := range x {
		x[i], y[i] = []float64{float64(i), 10 * float64(i)}, []float64{float64(i)}
	}
	d, err := FromRows(x, y, dt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSliceSubset(t *testing.T) {
	d := rows10(t, tensor.Float64)
	for _, tc := range []struct {
		name string
		get  func() (*Dataset, error)
		want []float64 // Y
	}{
		{"slice", func() (*Dataset, error) { return d.Slice(2, 5) }, []float64{2, 3, 4}},
		{"slice all", func() (*Dataset, error) { return d.Slice(0, 10) }, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"subset", func() (*Dataset, error) { return d.Subset([]int{9, 0, 9}) }, []float64{9, 0, 9}},
	} {
		got, err := tc.get()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if y := got.Y.Float64s(); !slices.Equal(y, tc.want) {
			t.Errorf("%s: Y = %v, want %v", tc.name, y, tc.want)
		}
		for i, v := range got.Y.Float64s() {
			if x := got.X.Float64s()[2*i : 2*i+2]; x[0] != v || x[1] != 10*v {
				t.Errorf("%s: row %d X = %v, want [%v %v]", tc.name, i, x, v, 10*v)
			}
		}
		// A copy: writing to it leaves d alone.
		got.X.Float64s()[0] = -1
		if d.X.Float64s()[0] == -1 || d.X.Float64s()[18] == -1 {
			t.Errorf("%s: result shares memory with the dataset", tc.name)
		}
	}
	for _, bad := range [][2]int{{-1, 3}, {3, 3}, {5, 2}, {0, 11}} {
		if _, err := d.Slice(bad[0], bad[1]); !errors.Is(err, ErrShape) {
			t.Errorf("Slice(%d, %d) error %v, want ErrShape", bad[0], bad[1], err)
		}
	}
	if _, err := d.Subset([]int{0, 10}); !errors.Is(err, ErrShape) {
		t.Errorf("Subset out of range: error %v, want ErrShape", err)
	}
	if _, err := d.Subset(nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty Subset: error %v, want ErrEmpty", err)
	}
}

func TestValidationSplitKeras(t *testing.T) {
	d := rows10(t, tensor.Float32)
	// Keras: split_at = floor(n * (1 - validation_split)).
	for _, tc := range []struct {
		fraction float64
		train    int
	}{{0.2, 8}, {0.3, 7}, {0.1, 9}, {0.25, 7}, {0.5, 5}, {0.99, -1}, {0.01, 9}, {0, -1}, {1, -1}, {math.NaN(), -1}} {
		train, val, err := d.ValidationSplit(tc.fraction)
		if tc.train < 0 {
			if err == nil {
				t.Errorf("fraction %v: no error", tc.fraction)
			}
			continue
		}
		if err != nil {
			t.Fatalf("fraction %v: %v", tc.fraction, err)
		}
		if train.Len() != tc.train || val.Len() != 10-tc.train {
			t.Errorf("fraction %v: %d + %d rows, want %d + %d", tc.fraction, train.Len(), val.Len(), tc.train, 10-tc.train)
		}
		if train.Y.Float32s()[0] != 0 || val.Y.Float32s()[0] != float32(tc.train) {
			t.Errorf("fraction %v: not the first rows then the last", tc.fraction)
		}
	}
}

func TestSplitShuffle(t *testing.T) {
	d := rows10(t, tensor.Float64)
	train, val, err := d.Split(0.3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 7 || val.Len() != 3 {
		t.Fatalf("got %d + %d rows, want 7 + 3", train.Len(), val.Len())
	}
	all := slices.Concat(train.Y.Float64s(), val.Y.Float64s())
	if slices.Equal(all, d.Y.Float64s()) {
		t.Errorf("Split did not shuffle: %v", all)
	}
	slices.Sort(all)
	if !slices.Equal(all, d.Y.Float64s()) {
		t.Errorf("Split rows %v, want each row once", all)
	}
	train2, _, _ := d.Split(0.3, 1)
	if !slices.Equal(train.Y.Float64s(), train2.Y.Float64s()) {
		t.Errorf("same seed, different split")
	}
	train3, _, _ := d.Split(0.3, 2)
	if slices.Equal(train.Y.Float64s(), train3.Y.Float64s()) {
		t.Errorf("seeds 1 and 2 give the same split %v", train.Y.Float64s())
	}
	s, err := d.Shuffle(1)
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Concat(train.Y.Float64s(), val.Y.Float64s()); !slices.Equal(s.Y.Float64s(), want) {
		t.Errorf("Shuffle order %v, want Split's order %v (the same seed)", s.Y.Float64s(), want)
	}
	if d.Y.Float64s()[1] != 1 {
		t.Errorf("Shuffle modified its receiver")
	}
}

func TestTo(t *testing.T) {
	d := rows10(t, tensor.Float64)
	f32, err := d.To(tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if f32.DType() != tensor.Float32 || f32.X.Float32s()[19] != 90 {
		t.Errorf("got %v with X[9,1] = %v, want float32 and 90", f32.DType(), f32.X.Float32s()[19])
	}
	back, err := f32.To(tensor.Dtype{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.X.Float64s(), d.X.Float64s()) {
		t.Errorf("float64 → float32 → float64 changed small integers")
	}
	big, _ := FromRows([][]float64{{1e300}}, [][]float64{{0}}, tensor.Float64)
	if _, err := big.To(tensor.Float32); !errors.Is(err, ErrNotFinite) {
		t.Errorf("1e300 to float32: error %v, want ErrNotFinite", err)
	}
	if _, err := d.To(tensor.Int); !errors.Is(err, ErrDType) {
		t.Errorf("to int: error %v, want ErrDType", err)
	}
}

func TestOneHotArgMax(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		labels := []int{2, 0, 1, 2}
		oh, err := OneHot(labels, 3, dt)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := float64s(oh), []float64{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1}; !slices.Equal(got, want) {
			t.Errorf("%v: OneHot = %v, want %v", dt, got, want)
		}
		back, err := ArgMax(oh)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(back, labels) {
			t.Errorf("%v: ArgMax(OneHot) = %v, want %v", dt, back, labels)
		}
	}
	ties := matrixOf(t, []float64{0.5, 0.5, -1, 2, 3, 3}, tensor.Float64, 2, 3)
	if got, _ := ArgMax(ties); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("ArgMax with ties = %v, want [0 1] (first maximum)", got)
	}
	for _, bad := range [][]int{{3}, {-1}, {}} {
		if _, err := OneHot(bad, 3, tensor.Float64); err == nil {
			t.Errorf("OneHot(%v, 3): no error", bad)
		}
	}
}

func TestDatasetOneHotLabels(t *testing.T) {
	d, err := FromRows([][]float64{{0}, {1}, {2}}, [][]float64{{1}, {0}, {1}}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	oh, err := d.OneHot(2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := oh.Y.Float32s(), []float32{0, 1, 1, 0, 0, 1}; !slices.Equal(got, want) {
		t.Errorf("Y = %v, want %v", got, want)
	}
	for _, ds := range []*Dataset{d, oh} {
		if labels, err := ds.Labels(); err != nil || !slices.Equal(labels, []int{1, 0, 1}) {
			t.Errorf("Labels() = %v, %v; want [1 0 1]", labels, err)
		}
	}
	if _, err := oh.OneHot(2); !errors.Is(err, ErrShape) {
		t.Errorf("one-hot of one-hot: error %v, want ErrShape", err)
	}
	frac, _ := FromRows([][]float64{{0}}, [][]float64{{0.5}}, tensor.Float64)
	if _, err := frac.Labels(); err == nil {
		t.Errorf("Labels of 0.5: no error")
	}
}

// matrixOf returns the [rows, cols] matrix of vals in dtype dt, failing the test
// if FromFloat64s fails.
func matrixOf(tb testing.TB, vals []float64, dt tensor.Dtype, rows, cols int) *tensor.Dense {
	tb.Helper()
	m, err := FromFloat64s(vals, dt, rows, cols)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
