package nn

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// xorModel is the seed's 2-10-1 tanh/sigmoid network.
func xorModel() *Sequential {
	return NewSequential(
		&Dense{Units: 10, InputDim: 2},
		&Activation{Fn: "tanh"},
		&Dense{Units: 1},
		&Activation{Fn: "sigmoid"},
	)
}

func compiledXOR(t testing.TB, seed uint64, dt tensor.Dtype) *Sequential {
	t.Helper()
	m := xorModel()
	err := m.Compile(CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewSGD(0.1), Metrics: []string{"accuracy"}, Seed: seed, DType: dt})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSummaryGolden(t *testing.T) {
	var b bytes.Buffer
	if err := xorModel().Summary(&b); err != nil {
		t.Fatal(err)
	}
	want := `_________________________________________________________________
Layer (type)                 Output Shape              Param #
=================================================================
dense_1 (Dense)              (None, 10)                30
_________________________________________________________________
activation_1 (Activation)    (None, 10)                0
_________________________________________________________________
dense_2 (Dense)              (None, 1)                 11
_________________________________________________________________
activation_2 (Activation)    (None, 1)                 0
=================================================================
Total params: 41
Trainable params: 41
Non-trainable params: 0
_________________________________________________________________
`
	if b.String() != want {
		t.Errorf("summary:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestXORConvergesOverSeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 20 networks")
	}
	xor := data.XOR(tensor.Float64)
	solved := 0
	for seed := uint64(1); seed <= 20; seed++ {
		m := compiledXOR(t, seed, tensor.Float64)
		if _, err := m.Fit(context.Background(), xor, FitConfig{Epochs: 1000}); err != nil {
			t.Fatal(err)
		}
		classes, err := m.PredictClasses(xor.X)
		if err != nil {
			t.Fatal(err)
		}
		if classes[0] == 0 && classes[1] == 1 && classes[2] == 1 && classes[3] == 0 {
			solved++
		}
	}
	t.Logf("XOR solved for %d of 20 seeds in 1000 epochs", solved)
	if solved < 18 {
		t.Errorf("XOR solved for %d of 20 seeds, want at least 18", solved)
	}
}

func TestRaggedBatches(t *testing.T) {
	rows := make([][]float64, 10)
	ys := make([][]float64, 10)
	for i := range rows {
		rows[i] = []float64{float64(i) / 10, 1 - float64(i)/10}
		ys[i] = []float64{float64(i % 2)}
	}
	ds, err := data.FromRows(rows, ys, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		batching data.Batching
		sizes    []int
	}{
		{data.Minibatch(4), []int{4, 4, 2}},
		{data.Batching{Size: 4, DropLast: true}, []int{4, 4}},
		{data.FullBatch(), []int{10}},
		{data.Stochastic(), []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
	} {
		m := compiledXOR(t, 3, tensor.Float64)
		h, err := m.Fit(context.Background(), ds, FitConfig{Epochs: 2, Batching: tc.batching})
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, s := range h.Steps {
			if s.Epoch == 1 {
				got = append(got, s.Batch)
			}
		}
		if len(got) != len(tc.sizes) || len(h.Steps) != 2*len(tc.sizes) {
			t.Fatalf("%v: epoch 1 batches %v (%d steps in 2 epochs), want %v", tc.batching, got, len(h.Steps), tc.sizes)
		}
		for i := range got {
			if got[i] != tc.sizes[i] {
				t.Fatalf("%v: batches %v, want %v", tc.batching, got, tc.sizes)
			}
		}
		last := h.Steps[len(h.Steps)-1]
		if last.GradEvals != int64(len(h.Steps)) || last.Examples != int64(2*sum(tc.sizes)) {
			t.Errorf("%v: last step counts %d evaluations and %d examples", tc.batching, last.GradEvals, last.Examples)
		}
	}
}

func sum(s []int) int {
	t := 0
	for _, v := range s {
		t += v
	}
	return t
}

func TestBitIdenticalReruns(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		run := func() ([]float64, *History) {
			m := compiledXOR(t, 7, dt)
			h, err := m.Fit(context.Background(), data.XOR(dt), FitConfig{Epochs: 30, Batching: data.Minibatch(3)})
			if err != nil {
				t.Fatal(err)
			}
			var w []float64
			for _, p := range m.Params() {
				w = append(w, p.Float64s()...)
			}
			return w, h
		}
		w1, h1 := run()
		w2, h2 := run()
		for i := range w1 {
			if math.Float64bits(w1[i]) != math.Float64bits(w2[i]) {
				t.Fatalf("%v: weight %d differs between identical runs: %v vs %v", dt, i, w1[i], w2[i])
			}
		}
		for i := range h1.Steps {
			a, b := h1.Steps[i], h2.Steps[i]
			if a.Loss != b.Loss || a.Batch != b.Batch || a.LR != b.LR {
				t.Fatalf("%v: step %d differs: %+v vs %+v", dt, i+1, a, b)
			}
		}
	}
}

func TestInitialWeightsIndependentOfBatching(t *testing.T) {
	a, b := compiledXOR(t, 11, tensor.Float64), compiledXOR(t, 11, tensor.Float64)
	wa := a.Params()[0].Float64s()
	xor := data.XOR(tensor.Float64)
	if _, err := b.Fit(context.Background(), xor, FitConfig{Epochs: 1, Batching: data.Stochastic()}); err != nil {
		t.Fatal(err)
	}
	c := compiledXOR(t, 11, tensor.Float64)
	wc := c.Params()[0].Float64s()
	for i := range wa {
		if wa[i] != wc[i] {
			t.Fatal("the same seed gave different initial weights")
		}
	}
	d := compiledXOR(t, 12, tensor.Float64)
	if d.Params()[0].Float64s()[0] == wa[0] {
		t.Fatal("different seeds gave the same initial weights")
	}
}

func TestCancellationAndResume(t *testing.T) {
	xor := data.XOR(tensor.Float64)
	cfg := FitConfig{Epochs: 6, Batching: data.Stochastic()}
	whole := compiledXOR(t, 5, tensor.Float64)
	hw, err := whole.Fit(context.Background(), xor, cfg)
	if err != nil {
		t.Fatal(err)
	}

	m := compiledXOR(t, 5, tensor.Float64)
	ctx, cancel := context.WithCancel(context.Background())
	cfgStop := cfg
	cfgStop.Callbacks = []Callback{StepFunc(func(tr *Training, rec StepRecord) error {
		if rec.Step == 10 { // mid-epoch 3
			cancel()
		}
		return nil
	})}
	h, err := m.Fit(ctx, xor, cfgStop)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled fit: err = %v, want context.Canceled", err)
	}
	if len(h.Steps) != 10 {
		t.Fatalf("cancelled after %d steps, want 10", len(h.Steps))
	}
	resumed := cfg
	resumed.Resume = true
	h, err = m.Fit(context.Background(), xor, resumed)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Steps) != len(hw.Steps) || len(h.Epochs) != len(hw.Epochs) {
		t.Fatalf("resumed run has %d steps and %d epochs, whole run %d and %d", len(h.Steps), len(h.Epochs), len(hw.Steps), len(hw.Epochs))
	}
	for i := range hw.Steps {
		if h.Steps[i].Loss != hw.Steps[i].Loss {
			t.Fatalf("step %d: resumed loss %v, whole %v", i+1, h.Steps[i].Loss, hw.Steps[i].Loss)
		}
	}
	for i := range hw.Epochs {
		if h.Epochs[i].Loss != hw.Epochs[i].Loss {
			t.Fatalf("epoch %d: resumed loss %v, whole %v", i+1, h.Epochs[i].Loss, hw.Epochs[i].Loss)
		}
	}
	for i, p := range m.Params() {
		a, b := p.Float64s(), whole.Params()[i].Float64s()
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("parameter %s[%d]: resumed %v, whole %v", p.Name(), j, a[j], b[j])
			}
		}
	}
}

func TestBadInputErrors(t *testing.T) {
	ctx := context.Background()
	m := compiledXOR(t, 1, tensor.Float64)
	xor := data.XOR(tensor.Float64)
	mk := func(x, y [][]float64) *data.Dataset {
		return &data.Dataset{X: must(data.FromFloat64s(flat(x), tensor.Float64, len(x), len(x[0]))), Y: must(data.FromFloat64s(flat(y), tensor.Float64, len(y), len(y[0])))}
	}
	cases := []struct {
		name string
		run  func() error
		want []string
	}{
		{"rows differ", func() error {
			_, err := m.Fit(ctx, mk([][]float64{{0, 0}, {1, 1}}, [][]float64{{0}}), FitConfig{Epochs: 1})
			return err
		}, []string{"2 rows", "1"}},
		{"wrong width", func() error {
			_, err := m.Predict(must(data.FromFloat64s([]float64{1, 2, 3}, tensor.Float64, 1, 3)))
			return err
		}, []string{"dense_1", "width 3", "want 2"}},
		{"NaN", func() error {
			_, err := m.Fit(ctx, mk([][]float64{{0, math.NaN()}}, [][]float64{{0}}), FitConfig{Epochs: 1})
			return err
		}, []string{"row 0 column 1", "NaN"}},
		{"Inf in predict", func() error {
			_, err := m.Predict(must(data.FromFloat64s([]float64{1, math.Inf(1)}, tensor.Float64, 1, 2)))
			return err
		}, []string{"not finite"}},
		{"empty", func() error {
			_, err := m.Fit(ctx, &data.Dataset{}, FitConfig{Epochs: 1})
			return err
		}, []string{"no X"}},
		{"unknown activation", func() error {
			return NewSequential(&Dense{Units: 1, InputDim: 2, Activation: "swish"}).Compile(CompileConfig{Loss: "mse", Optimizer: "sgd"})
		}, []string{"swish", "valid:", "sigmoid"}},
		{"unknown loss", func() error {
			return xorModel().Compile(CompileConfig{Loss: "hinge", Optimizer: "sgd"})
		}, []string{"hinge", "valid:", "binary_crossentropy"}},
		{"unknown metric", func() error {
			return xorModel().Compile(CompileConfig{Loss: "mse", Optimizer: "sgd", Metrics: []string{"f1"}})
		}, []string{"f1", "valid:", "accuracy"}},
		{"epochs", func() error {
			_, err := m.Fit(ctx, xor, FitConfig{Epochs: 0})
			return err
		}, []string{"epochs 0"}},
		{"batch size", func() error {
			_, err := m.Fit(ctx, xor, FitConfig{Epochs: 1, Batching: data.Batching{Size: -2}})
			return err
		}, []string{"batch size -2"}},
		{"predict before build", func() error {
			_, err := xorModel().Predict(xor.X)
			return err
		}, []string{"not built"}},
		{"wrong dtype", func() error {
			_, err := m.Predict(data.XOR(tensor.Float32).X)
			return err
		}, []string{"float32", "float64"}},
		{"targets width", func() error {
			_, err := m.Fit(ctx, mk([][]float64{{0, 0}}, [][]float64{{0, 1}}), FitConfig{Epochs: 1})
			return err
		}, []string{"2 columns", "activation_2", "1"}},
		{"missing input dim", func() error {
			return NewSequential(&Dense{Units: 3}).Compile(CompileConfig{Loss: "mse", Optimizer: "sgd"})
		}, []string{"layer 1", "InputDim"}},
		{"fit before compile", func() error {
			_, err := xorModel().Fit(ctx, xor, FitConfig{Epochs: 1})
			return err
		}, []string{"not compiled"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panicked: %v", r)
					}
				}()
				err = c.run()
			}()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func flat(rows [][]float64) []float64 {
	var out []float64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func TestStepCannotBeTrained(t *testing.T) {
	m := NewSequential(&Dense{Units: 1, InputDim: 2}, &Activation{Fn: "step"})
	err := m.Compile(CompileConfig{Loss: "mse", Optimizer: "sgd"})
	if !errors.Is(err, ErrNoGradient) || !strings.Contains(err.Error(), "activation_1") || !strings.Contains(err.Error(), "sigmoid") {
		t.Fatalf("compile with a step layer: %v", err)
	}
	// It still predicts.
	if err := m.Build(BuildConfig{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	out, err := m.Predict(data.XOR(tensor.Float64).X)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range graph.ReadFloat64s(out, nil) {
		if v != 0 && v != 1 {
			t.Fatalf("step output %v is not 0 or 1", v)
		}
	}
}

func TestNaNLossStops(t *testing.T) {
	m := NewSequential(&Dense{Units: 1, InputDim: 2})
	if err := m.Compile(CompileConfig{Loss: "mse", Optimizer: optim.NewSGD(1e6), Seed: 1}); err != nil {
		t.Fatal(err)
	}
	ds, _ := data.FromRows([][]float64{{100, 200}, {300, -400}}, [][]float64{{1}, {2}}, tensor.Float64)
	_, err := m.Fit(context.Background(), ds, FitConfig{Epochs: 200})
	if !errors.Is(err, ErrNotFinite) || !strings.Contains(err.Error(), "epoch") || !strings.Contains(err.Error(), "step") {
		t.Fatalf("diverging fit: err = %v, want a not-finite loss naming epoch and step", err)
	}
}

func TestTrainStepMatchesFit(t *testing.T) {
	xor := data.XOR(tensor.Float64)
	a, b := compiledXOR(t, 2, tensor.Float64), compiledXOR(t, 2, tensor.Float64)
	h, err := a.Fit(context.Background(), xor, FitConfig{Epochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		loss, err := b.TrainStep(xor.X, xor.Y)
		if err != nil {
			t.Fatal(err)
		}
		if loss != h.Steps[i].Loss {
			t.Fatalf("step %d: TrainStep loss %v, Fit loss %v", i+1, loss, h.Steps[i].Loss)
		}
	}
	for i, p := range a.Params() {
		pa, pb := p.Float64s(), b.Params()[i].Float64s()
		for j := range pa {
			if pa[j] != pb[j] {
				t.Fatalf("%s[%d]: Fit %v, TrainStep %v", p.Name(), j, pa[j], pb[j])
			}
		}
	}
	if _, err := b.TrainStep(xor.X, data.XOR(tensor.Float64).X); err == nil {
		t.Fatal("TrainStep with 2-column targets for a 1-unit output: no error")
	}
}

func TestValidationSplit(t *testing.T) {
	rows, ys := make([][]float64, 8), make([][]float64, 8)
	for i := range rows {
		rows[i] = []float64{float64(i%2) * 0.9, float64(i/2%2) * 0.9}
		ys[i] = []float64{float64((i%2 + i/2%2) % 2)}
	}
	ds, err := data.FromRows(rows, ys, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	m := compiledXOR(t, 1, tensor.Float64)
	h, err := m.Fit(context.Background(), ds, FitConfig{Epochs: 2, ValidationSplit: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Last().Examples; got != 2*6 {
		t.Errorf("trained on %d examples in 2 epochs, want 12 (the first 6 rows)", got)
	}
	for _, k := range []string{"val_loss", "val_accuracy"} {
		if len(h.Metric(k)) != 2 {
			t.Errorf("History.Metric(%q) = %v, want 2 values", k, h.Metric(k))
		}
	}
	if _, err := m.Fit(context.Background(), ds, FitConfig{Epochs: 1, ValidationSplit: 1.5}); err == nil {
		t.Error("validation split 1.5: no error")
	}
}
