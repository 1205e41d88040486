package nn_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// sentinels lists every package's sentinel of each kind shared across
// packages: errors.Is must match any two of the same kind, and no two of
// different kinds.
var sentinels = map[string][]error{
	"shape":      {graph.ErrShape, data.ErrShape, nn.ErrShape},
	"dtype":      {graph.ErrDType, data.ErrDType, nn.ErrDType},
	"not finite": {graph.ErrNotFinite, data.ErrNotFinite, nn.ErrNotFinite},
	"unknown":    {graph.ErrUnknown, nn.ErrUnknownName},
	"empty":      {data.ErrEmpty, nn.ErrEmpty},
	"config":     {optim.ErrConfig, nn.ErrConfig},
}

func TestSentinelsMatchByKind(t *testing.T) {
	for ka, as := range sentinels {
		for kb, bs := range sentinels {
			for _, a := range as {
				for _, b := range bs {
					// Wrapped, as callers meet them.
					err := &wrapped{"op", a}
					if got, want := errors.Is(err, b), ka == kb; got != want {
						t.Errorf("errors.Is(error wrapping %q (%s), %q (%s)) = %v, want %v", a, ka, b, kb, got, want)
					}
				}
			}
		}
	}
}

type wrapped struct {
	op  string
	err error
}

func (w *wrapped) Error() string { return w.op + ": " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func matrix(t *testing.T, vals []float64, dt tensor.Dtype, rows, cols int) *tensor.Dense {
	t.Helper()
	m, err := data.FromFloat64s(vals, dt, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBadInputErrorIdentity checks that each bad input, wherever it is
// detected, matches the sentinel of its kind in every package that declares
// one, and that the message says the kind once.
func TestBadInputErrorIdentity(t *testing.T) {
	ctx := context.Background()
	m := nn.NewSequential(&nn.Dense{Units: 3, InputDim: 2}, &nn.Activation{Fn: "tanh"}, &nn.Dense{Units: 1}, &nn.Activation{Fn: "sigmoid"})
	if err := m.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewSGD(0.1), Seed: 1}); err != nil {
		t.Fatal(err)
	}
	f64 := tensor.Float64
	ds := func(x, y *tensor.Dense) *data.Dataset { return &data.Dataset{X: x, Y: y} }
	compile := func(cfg nn.CompileConfig) error {
		return nn.NewSequential(&nn.Dense{Units: 1, InputDim: 2}).Compile(cfg)
	}
	for _, tc := range []struct {
		name string
		run  func() error
		kind string
		also string // another kind the error has, or ""
	}{
		{"fit: X and Y rows differ (data)", func() error {
			_, err := m.Fit(ctx, ds(matrix(t, []float64{0, 0, 1, 1}, f64, 2, 2), matrix(t, []float64{0}, f64, 1, 1)), nn.FitConfig{Epochs: 1})
			return err
		}, "shape", ""},
		{"fit: targets wider than the output (nn)", func() error {
			_, err := m.Fit(ctx, ds(matrix(t, []float64{0, 0}, f64, 1, 2), matrix(t, []float64{0, 1}, f64, 1, 2)), nn.FitConfig{Epochs: 1})
			return err
		}, "shape", ""},
		{"predict: wrong width (nn)", func() error {
			_, err := m.Predict(matrix(t, []float64{1, 2, 3}, f64, 1, 3))
			return err
		}, "shape", ""},
		{"gather: wrong columns (data)", func() error {
			return data.Gather(matrix(t, []float64{0, 0, 0}, f64, 1, 3), matrix(t, []float64{0, 0}, f64, 1, 2), []int{0})
		}, "shape", ""},
		{"program input: wrong shape (graph)", func() error {
			g := graph.New(f64)
			x := g.Input("x", 2, 2)
			p, err := g.Compile(graph.Spec{Outputs: map[string]*graph.Node{"y": graph.Tanh(x)}})
			if err != nil {
				return err
			}
			defer p.Close()
			return p.Feed("x", matrix(t, []float64{1, 2, 3}, f64, 1, 3))
		}, "shape", ""},
		{"fit: NaN in X (data)", func() error {
			_, err := m.Fit(ctx, ds(matrix(t, []float64{0, math.NaN()}, f64, 1, 2), matrix(t, []float64{0}, f64, 1, 1)), nn.FitConfig{Epochs: 1})
			return err
		}, "not finite", ""},
		{"predict: Inf (nn)", func() error {
			_, err := m.Predict(matrix(t, []float64{1, math.Inf(1)}, f64, 1, 2))
			return err
		}, "not finite", ""},
		{"csv: NaN (data)", func() error {
			_, err := data.ReadCSV(strings.NewReader("1,NaN\n"), data.CSVOptions{})
			return err
		}, "not finite", ""},
		{"parameter: NaN (graph)", func() error {
			p, err := graph.NewParam("w", f64, 2)
			if err != nil {
				return err
			}
			return p.SetFloat64s([]float64{1, math.NaN()})
		}, "not finite", ""},
		{"predict: float32 input to a float64 model (nn)", func() error {
			_, err := m.Predict(matrix(t, []float64{1, 2}, tensor.Float32, 1, 2))
			return err
		}, "dtype", ""},
		{"fit: float32 data on a float64 model (nn)", func() error {
			_, err := m.Fit(ctx, data.XOR(tensor.Float32), nn.FitConfig{Epochs: 1})
			return err
		}, "dtype", ""},
		{"dataset: X float32, Y float64 (data)", func() error {
			_, err := data.New(matrix(t, []float64{1}, tensor.Float32, 1, 1), matrix(t, []float64{1}, f64, 1, 1))
			return err
		}, "dtype", ""},
		{"graph: int dtype (graph)", func() error { return graph.CheckDType(tensor.Int) }, "dtype", ""},
		{"fit: no data (nn)", func() error {
			_, err := m.Fit(ctx, nil, nn.FitConfig{Epochs: 1})
			return err
		}, "empty", ""},
		{"fit: empty dataset (data)", func() error {
			_, err := m.Fit(ctx, &data.Dataset{}, nn.FitConfig{Epochs: 1})
			return err
		}, "empty", ""},
		{"csv: no rows (data)", func() error {
			_, err := data.ReadCSV(strings.NewReader("a,b\n"), data.CSVOptions{Header: true})
			return err
		}, "empty", ""},
		{"compile: unknown optimizer (optim)", func() error {
			return compile(nn.CompileConfig{Loss: "mse", Optimizer: "adamm"})
		}, "unknown", "config"},
		{"compile: unknown loss (nn)", func() error {
			return compile(nn.CompileConfig{Loss: "hinge", Optimizer: "sgd"})
		}, "unknown", ""},
		{"layer: unknown activation (nn)", func() error {
			return nn.NewSequential(&nn.Dense{Units: 1, InputDim: 2, Activation: "wobble"}).Compile(nn.CompileConfig{Loss: "mse", Optimizer: "sgd"})
		}, "unknown", ""},
		{"graph: unknown dtype name (graph)", func() error {
			_, err := graph.ParseDType("float16")
			return err
		}, "unknown", ""},
		{"fit: epochs 0 (nn)", func() error {
			_, err := m.Fit(ctx, data.XOR(f64), nn.FitConfig{Epochs: 0})
			return err
		}, "config", ""},
		{"fit: negative learning rate (optim)", func() error {
			m := nn.NewSequential(&nn.Dense{Units: 1, InputDim: 2})
			if err := m.Compile(nn.CompileConfig{Loss: "mse", Optimizer: optim.NewSGD(-1)}); err != nil {
				return err
			}
			_, err := m.Fit(ctx, data.XOR(f64), nn.FitConfig{Epochs: 1})
			return err
		}, "config", ""},
		{"optim: unknown hyperparameter (optim)", func() error {
			_, err := optim.New("adam", map[string]any{"momentum": 0.9})
			return err
		}, "config", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatalf("no error, want one of kind %s", tc.kind)
			}
			for _, kind := range []string{tc.kind, tc.also} {
				for _, s := range sentinels[kind] {
					if !errors.Is(err, s) {
						t.Errorf("error %q does not match %q (%s)", err, s, kind)
					}
				}
			}
			for kind, ss := range sentinels {
				if kind == tc.kind || kind == tc.also {
					continue
				}
				for _, s := range ss {
					if errors.Is(err, s) {
						t.Errorf("error %q matches %q (%s), want only %s", err, s, kind, tc.kind)
					}
				}
			}
			msg := err.Error()
			for _, ss := range sentinels {
				if twice := ss[0].Error() + ": " + ss[0].Error(); strings.Contains(msg, twice) {
					t.Errorf("error %q says %q twice", msg, ss[0])
				}
			}
		})
	}
}

// TestDTypeMismatchSaysHowToFix checks that feeding float64 data to a
// float32 model names the way out: the loaders' DType option, or
// Dataset.To, after which the same data fits.
func TestDTypeMismatchSaysHowToFix(t *testing.T) {
	m := nn.NewSequential(&nn.Dense{Units: 1, InputDim: 2})
	if err := m.Compile(nn.CompileConfig{Loss: "mse", Optimizer: "sgd", DType: tensor.Float32}); err != nil {
		t.Fatal(err)
	}
	tab, err := data.ReadCSV(strings.NewReader("1,2,3\n4,5,6\n"), data.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Fit(context.Background(), tab.Data, nn.FitConfig{Epochs: 1})
	if !errors.Is(err, nn.ErrDType) || !strings.Contains(err.Error(), "DType option") || !strings.Contains(err.Error(), "Dataset.To") {
		t.Errorf("float64 data on a float32 model: error %v, want ErrDType naming the DType option and Dataset.To", err)
	}
	tab, err = data.ReadCSV(strings.NewReader("1,2,3\n4,5,6\n"), data.CSVOptions{DType: tensor.Float32})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(context.Background(), tab.Data, nn.FitConfig{Epochs: 1}); err != nil {
		t.Errorf("float32 data read with DType float32: %v", err)
	}
}
