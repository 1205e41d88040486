package nn

import (
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// TestBuildParamLimit checks that a model larger than the parameter limit
// is refused before anything is allocated, with an error naming the layer,
// its units and the bytes, and that the limit can be raised.
func TestBuildParamLimit(t *testing.T) {
	for _, c := range []struct {
		name   string
		layers func() []Layer
		limit  int64
		want   []string // in the error; nil for no error
	}{
		{"1e9 units", func() []Layer { return []Layer{&Dense{Units: 1e9, InputDim: 2}} }, 0,
			[]string{"layer 1 (dense_1)", "1000000000 units on an input of width 2", "3000000000 parameters", "24 GB in float64", "limit of 100000000"}},
		{"5e7 units", func() []Layer {
			return []Layer{&Dense{Units: 10, InputDim: 2}, &Activation{Fn: "tanh"}, &Dense{Units: 5e7}}
		}, 0, []string{"layer 3 (dense_2)", "50000000 units on an input of width 10", "550000000 parameters (4.4 GB in float64", "550000030 with the layers before it"}},
		{"overflow", func() []Layer { return []Layer{&Dense{Units: 1 << 62, InputDim: 3}} }, 0,
			[]string{"layer 1 (dense_1)", "more than 9.2e18 parameters"}},
		{"over a small limit", func() []Layer { return xorModel().Layers() }, 40, []string{"layer 3 (dense_2)", "11 parameters", "41 with the layers before it"}},
		{"at the limit", func() []Layer { return xorModel().Layers() }, 41, nil},
		{"raised", func() []Layer { return []Layer{&Dense{Units: 1000, InputDim: 200000}} }, 300_000_000, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := NewSequential(c.layers()...)
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			start := time.Now()
			err := m.CheckParams(c.limit)
			took := time.Since(start)
			runtime.ReadMemStats(&ms1)
			if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > 1<<20 || took > time.Second {
				t.Errorf("CheckParams took %v and allocated %d bytes", took, alloc)
			}
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("err = %v, want ErrLimit", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			err = m.Build(BuildConfig{MaxParams: c.limit})
			if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "BuildConfig.MaxParams") || m.Built() {
				t.Errorf("Build: err = %v, built %v", err, m.Built())
			}
		})
	}
	m := xorModel()
	if err := m.Build(BuildConfig{MaxParams: 41, DType: tensor.Float32}); err != nil {
		t.Fatal(err)
	}
	if err := NewSequential(&Dense{Units: math.MaxInt, InputDim: 2}).CheckParams(-1); err != nil {
		t.Errorf("no limit: %v", err)
	}
}

func TestPredictRows(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		m := compiledXOR(t, 1, dt)
		x := tensor.New(tensor.WithShape(3, 2), tensor.WithBacking(tensor.Range(dt, 0, 6)))
		rows, err := m.PredictRows(x)
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 {
			t.Fatalf("%v: %d rows, want 3", dt, len(rows))
		}
		for r, row := range rows {
			want, err := p.At(r, 0)
			if err != nil {
				t.Fatal(err)
			}
			var w float64
			switch v := want.(type) {
			case float32:
				w = float64(v)
			case float64:
				w = v
			}
			if len(row) != 1 || row[0] != w {
				t.Errorf("%v: row %d = %v, want [%v]", dt, r, row, w)
			}
		}
		if _, err := m.PredictRows(nil); !errors.Is(err, ErrShape) {
			t.Errorf("nil input: err = %v", err)
		}
	}
}

// TestPredictView predicts a slice of a matrix's rows, in one batch and in
// several: the same values as its copy in batches of the same size. A slice of columns is refused.
func TestPredictView(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		m := compiledXOR(t, 1, dt)
		big := tensor.New(tensor.WithShape(6, 2), tensor.WithBacking(tensor.Range(dt, 0, 12)))
		sl, err := big.Slice(tensor.S(1, 5))
		if err != nil {
			t.Fatal(err)
		}
		view := sl.(*tensor.Dense)
		for _, batch := range []int{0, 3} {
			m.PredictBatchSize = batch
			got, err := m.PredictRows(view)
			if err != nil {
				t.Fatalf("%v batch %d: %v", dt, batch, err)
			}
			want, err := m.PredictRows(view.Materialize().(*tensor.Dense))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("%v batch %d: %v, want %v", dt, batch, got, want)
			}
		}
		wide := tensor.New(tensor.WithShape(4, 3), tensor.WithBacking(tensor.Range(dt, 0, 12)))
		cols, err := wide.Slice(nil, tensor.S(0, 2))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Predict(cols.(*tensor.Dense)); !errors.Is(err, ErrShape) {
			t.Errorf("%v: a slice of columns: err = %v, want ErrShape", dt, err)
		}
	}
}
