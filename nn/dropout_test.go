package nn

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// moons returns 64 rows of the two-moons problem.
func moons(t testing.TB, dt tensor.Dtype) *data.Dataset {
	t.Helper()
	d, err := data.TwoMoons(64, 0.1, dt, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// withDropout returns a 2-16-16-1 network with Dropout(rate) after each
// hidden layer, or none when rate is 0 (the same initial weights either
// way: Dropout draws nothing at build).
func withDropout(t testing.TB, rate float64, dt tensor.Dtype, reg Regularizer) *Sequential {
	t.Helper()
	layers := []Layer{&Dense{Units: 16, InputDim: 2, Activation: "tanh", KernelRegularizer: reg}}
	if rate > 0 {
		layers = append(layers, &Dropout{Rate: rate})
	}
	layers = append(layers, &Dense{Units: 16, Activation: "relu"})
	if rate > 0 {
		layers = append(layers, &Dropout{Rate: rate, NoiseShape: []int{0, 1}})
	}
	layers = append(layers, &Dense{Units: 1, Activation: "sigmoid"})
	m := NewSequential(layers...)
	if err := m.Compile(CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewAdam(0.01), Metrics: []string{"accuracy"}, Seed: 9, DType: dt}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDropoutInactiveOutsideTraining checks that Predict, Evaluate and
// Fit's validation see no dropout: they equal, bit for bit, those of the
// same network without the Dropout layers.
func TestDropoutInactiveOutsideTraining(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		d := moons(t, dt)
		with, without := withDropout(t, 0.5, dt, nil), withDropout(t, 0, dt, nil)
		sameBitsT(t, "initial weights", paramValues(with), paramValues(without))
		a, err := with.Predict(d.X)
		if err != nil {
			t.Fatal(err)
		}
		b, err := without.Predict(d.X)
		if err != nil {
			t.Fatal(err)
		}
		sameBitsT(t, "predictions", graph.ReadFloat64s(a, nil), graph.ReadFloat64s(b, nil))
		ea, err := with.Evaluate(d)
		if err != nil {
			t.Fatal(err)
		}
		eb, err := without.Evaluate(d)
		if err != nil {
			t.Fatal(err)
		}
		if ea["loss"] != eb["loss"] || ea["accuracy"] != eb["accuracy"] {
			t.Errorf("%v: Evaluate with Dropout %v, without %v", dt, ea, eb)
		}
	}
}

// TestDropoutTrains checks that Dropout changes training (a step's loss
// differs from the same network's without it), that runs are bit-identical
// by seed, and that a run interrupted mid-epoch resumes with the masks the
// uninterrupted run drew.
func TestDropoutTrains(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		d := moons(t, dt)
		cfg := FitConfig{Epochs: 4, Batching: data.Minibatch(16)}
		fit := func(m *Sequential, cfg FitConfig) *History {
			h, err := m.Fit(context.Background(), d, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		plain := fit(withDropout(t, 0, dt, nil), cfg)
		a := withDropout(t, 0.3, dt, nil)
		ha := fit(a, cfg)
		if ha.Steps[0].Loss == plain.Steps[0].Loss {
			t.Errorf("%v: the first step's loss is %v with and without Dropout", dt, ha.Steps[0].Loss)
		}
		b := withDropout(t, 0.3, dt, nil)
		hb := fit(b, cfg)
		sameHistory(t, ha, hb)
		sameBitsT(t, "weights of two runs", paramValues(a), paramValues(b))

		// Interrupted at step 6 (mid-epoch 2), resumed.
		c := withDropout(t, 0.3, dt, nil)
		ctx, cancel := context.WithCancel(context.Background())
		stopped := cfg
		stopped.Callbacks = []Callback{StepFunc(func(_ *Training, rec StepRecord) error {
			if rec.Step == 6 {
				cancel()
			}
			return nil
		})}
		if _, err := c.Fit(ctx, d, stopped); !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted fit: %v", err)
		}
		resumed := cfg
		resumed.Resume = true
		hc := fit(c, resumed)
		sameHistory(t, hc, ha)
		sameBitsT(t, "weights after resuming", paramValues(c), paramValues(a))
	}
}

// TestDropoutMask checks the masks: the fraction dropped, the scale of the
// kept values, and the noise shapes' broadcasting.
func TestDropoutMask(t *testing.T) {
	const rows, cols, rate = 200, 50, 0.3
	rng := rand.New(rand.NewPCG(1, 1))
	dst := make([]float64, rows*cols)
	for _, tc := range []struct {
		name  string
		shape []int
	}{{"full", nil}, {"per example", []int{0, 1}}, {"per feature", []int{1, 0}}, {"per feature, explicit width", []int{1, cols}}} {
		d := &Dropout{Rate: rate, NoiseShape: tc.shape}
		if _, err := d.OutputWidth(cols); err != nil {
			t.Fatal(err)
		}
		d.mask(rows, cols)(dst, rng)
		zeros := 0
		for i, v := range dst {
			switch v {
			case 0:
				zeros++
			case 1 / (1 - rate):
			default:
				t.Fatalf("%s: mask value %v, want 0 or 1/(1-rate)", tc.name, v)
			}
			r, c := i/cols, i%cols
			if len(tc.shape) == 2 && tc.shape[0] == 1 && v != dst[c] {
				t.Fatalf("%s: row %d differs from row 0 at column %d", tc.name, r, c)
			}
			if len(tc.shape) == 2 && tc.shape[1] == 1 && v != dst[r*cols] {
				t.Fatalf("%s: row %d is not constant", tc.name, r)
			}
		}
		// The fraction dropped is binomial over the independent draws:
		// within 5 standard deviations of the rate.
		draws := rows * cols
		if len(tc.shape) == 2 && tc.shape[0] == 1 {
			draws = cols
		} else if len(tc.shape) == 2 && tc.shape[1] == 1 {
			draws = rows
		}
		frac := float64(zeros) / float64(rows*cols)
		if sd := math.Sqrt(rate * (1 - rate) / float64(draws)); math.Abs(frac-rate) > 5*sd {
			t.Errorf("%s: dropped %.3f, want %.1f within %.3f", tc.name, frac, rate, 5*sd)
		}
	}
	for _, bad := range []*Dropout{{Rate: 1}, {Rate: -0.1}, {Rate: math.NaN()}, {Rate: 0.5, NoiseShape: []int{32, 0}}, {Rate: 0.5, NoiseShape: []int{0, 7}}, {Rate: 0.5, NoiseShape: []int{0}}} {
		if _, err := bad.OutputWidth(cols); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: err = %v, want ErrConfig", bad, err)
		}
	}
}

// TestTrainStepDropout checks that TrainStep draws the masks Fit draws.
func TestTrainStepDropout(t *testing.T) {
	d := moons(t, tensor.Float64)
	a, b := withDropout(t, 0.4, tensor.Float64, L2(0.001)), withDropout(t, 0.4, tensor.Float64, L2(0.001))
	h, err := a.Fit(context.Background(), d, FitConfig{Epochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		loss, err := b.TrainStep(d.X, d.Y)
		if err != nil {
			t.Fatal(err)
		}
		if loss != h.Steps[i].Loss {
			t.Fatalf("step %d: TrainStep loss %v, Fit loss %v", i+1, loss, h.Steps[i].Loss)
		}
	}
	sameBitsT(t, "weights", paramValues(b), paramValues(a))
}

// TestCompileSettingsThatCannotApply checks the errors for settings that
// would otherwise be ignored.
func TestCompileSettingsThatCannotApply(t *testing.T) {
	m := xorModel()
	if err := m.Build(BuildConfig{Seed: 3, DType: tensor.Float32}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  CompileConfig
		want string
	}{
		{CompileConfig{Loss: "mse", Optimizer: "sgd", Seed: 4}, "Seed 4 cannot apply"},
		{CompileConfig{Loss: "mse", Optimizer: "sgd", DType: tensor.Float64}, "DType float64 cannot apply"},
	} {
		if err := m.Compile(tc.cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	// The same seed and dtype, or none, are fine.
	if err := m.Compile(CompileConfig{Loss: "mse", Optimizer: "sgd", Seed: 3, DType: tensor.Float32}); err != nil {
		t.Error(err)
	}
	if err := m.Compile(CompileConfig{Loss: "mse", Optimizer: "sgd"}); err != nil {
		t.Error(err)
	}
	xor := data.XOR(tensor.Float32)
	for _, tc := range []struct {
		cfg  FitConfig
		want string
	}{
		{FitConfig{Epochs: 1, ScheduleInterval: optim.PerStep}, "without a Schedule"},
		{FitConfig{Epochs: 1, Verbose: 3}, "verbose 3"},
	} {
		if _, err := m.Fit(context.Background(), xor, tc.cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func paramValues(m *Sequential) []float64 {
	var w []float64
	for _, p := range m.Params() {
		w = append(w, p.Float64s()...)
	}
	return w
}

func sameBitsT(t *testing.T, what string, a, b []float64) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d values, want %d", what, len(a), len(b))
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("%s[%d] = %v, want %v (bit for bit)", what, i, a[i], b[i])
		}
	}
}

// sameHistory checks two histories step by step and epoch by epoch, bit for
// bit (elapsed times aside).
func sameHistory(t *testing.T, got, want *History) {
	t.Helper()
	if len(got.Steps) != len(want.Steps) || len(got.Epochs) != len(want.Epochs) {
		t.Fatalf("%d steps and %d epochs, want %d and %d", len(got.Steps), len(got.Epochs), len(want.Steps), len(want.Epochs))
	}
	for i := range want.Steps {
		a, b := got.Steps[i], want.Steps[i]
		a.Elapsed, b.Elapsed = 0, 0
		if a != b {
			t.Fatalf("step %d: got %+v, want %+v", i+1, a, b)
		}
	}
	for i := range want.Epochs {
		if math.Float64bits(got.Epochs[i].Loss) != math.Float64bits(want.Epochs[i].Loss) {
			t.Fatalf("epoch %d: loss %v, want %v", i+1, got.Epochs[i].Loss, want.Epochs[i].Loss)
		}
	}
}
