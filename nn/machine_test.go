package nn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// machineCase is one model and loss trained on both machines.
type machineCase struct {
	name   string
	layers func() []Layer
	loss   string
	out    int // target columns (1 for a sparse loss's class index)
	kind   string
}

func machineCases() []machineCase {
	var cases []machineCase
	for _, act := range []string{"relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "linear"} {
		cases = append(cases, machineCase{
			name:   "mse/" + act,
			layers: func() []Layer { return []Layer{&Dense{Units: 5, InputDim: 3, Activation: act}, &Dense{Units: 2}} },
			loss:   "mse", out: 2, kind: "regression",
		})
	}
	cases = append(cases,
		machineCase{name: "bce/tanh-sigmoid", loss: "binary_crossentropy", out: 1, kind: "binary",
			layers: func() []Layer {
				return []Layer{&Dense{Units: 6, InputDim: 3}, &Activation{Fn: "tanh"}, &Dense{Units: 1}, &Activation{Fn: "sigmoid"}}
			}},
		machineCase{name: "cce/relu-softmax", loss: "categorical_crossentropy", out: 3, kind: "onehot",
			layers: func() []Layer {
				return []Layer{&Dense{Units: 6, InputDim: 3, Activation: "relu"}, &Dense{Units: 3, Activation: "softmax"}}
			}},
		machineCase{name: "cce/sigmoid-not-softmax", loss: "categorical_crossentropy", out: 3, kind: "onehot",
			layers: func() []Layer {
				return []Layer{&Dense{Units: 6, InputDim: 3, Activation: "tanh"}, &Dense{Units: 3, Activation: "sigmoid"}}
			}},
		machineCase{name: "bce/dropout-l1l2", loss: "binary_crossentropy", out: 1, kind: "binary",
			layers: func() []Layer {
				return []Layer{
					&Dense{Units: 6, InputDim: 3, Activation: "relu", KernelRegularizer: L1L2{L1: 0.01, L2: 0.02}, BiasRegularizer: L1(0.03)},
					&Dropout{Rate: 0.3},
					&Dense{Units: 1, Activation: "sigmoid", KernelRegularizer: L2(0.05)},
				}
			}},
		machineCase{name: "cce/dropout-noise-shape", loss: "categorical_crossentropy", out: 3, kind: "onehot",
			layers: func() []Layer {
				return []Layer{&Dense{Units: 6, InputDim: 3, Activation: "tanh"}, &Dropout{Rate: 0.5, NoiseShape: []int{1, 0}}, &Dense{Units: 3, Activation: "softmax"}}
			}},
		machineCase{name: "sparse_cce/elu-softmax", loss: "sparse_categorical_crossentropy", out: 1, kind: "sparse",
			layers: func() []Layer {
				return []Layer{&Dense{Units: 6, InputDim: 3, Activation: "elu"}, &Dense{Units: 3}, &Activation{Fn: "softmax"}}
			}},
	)
	return cases
}

// machineData returns 13 rows (a ragged last minibatch of 3 at batch 5).
func machineData(t *testing.T, c machineCase, dt tensor.Dtype) *data.Dataset {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	const n = 13
	x := make([][]float64, n)
	y := make([][]float64, n)
	for i := range x {
		x[i] = []float64{rng.Float64()*2 - 1, rng.Float64()*2 - 1, rng.Float64()*2 - 1}
		switch c.kind {
		case "regression":
			y[i] = []float64{rng.Float64(), rng.Float64()*2 - 1}
		case "binary":
			y[i] = []float64{float64(rng.IntN(2))}
		case "onehot":
			y[i] = make([]float64, 3)
			y[i][rng.IntN(3)] = 1
		case "sparse":
			y[i] = []float64{float64(rng.IntN(3))}
		}
	}
	d, err := data.FromRows(x, y, dt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func machineOptimizer(t *testing.T, name string) optim.Optimizer {
	t.Helper()
	hyper := map[string]any{
		"sgd":      map[string]any{"lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 0.01},
		"adam":     map[string]any{"lr": 0.01, "amsgrad": true},
		"adamw":    map[string]any{"lr": 0.01},
		"rmsprop":  map[string]any{"lr": 0.01, "momentum": 0.5, "centered": true},
		"adagrad":  map[string]any{"lr": 0.1},
		"adadelta": map[string]any{"lr": 1.0},
	}[name].(map[string]any)
	o, err := optim.New(name, hyper)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// trainOn trains a fresh model of c on machine m and returns its weights
// and the loss of every step.
func trainOn(t *testing.T, c machineCase, dt tensor.Dtype, opt string, batching data.Batcher, m graph.Machine) (weights [][]float64, losses []float64) {
	t.Helper()
	model := NewSequential(c.layers()...)
	model.Machine = m
	if err := model.Compile(CompileConfig{Loss: c.loss, Optimizer: machineOptimizer(t, opt), Metrics: []string{"accuracy"}, Seed: 5, DType: dt}); err != nil {
		t.Fatal(err)
	}
	train := machineData(t, c, dt)
	hist, err := model.Fit(context.Background(), train, FitConfig{Epochs: 3, Batching: batching, Validation: train, RecordGradNorm: true})
	if err != nil {
		t.Fatalf("%v: %v", m, err)
	}
	for _, s := range hist.Steps {
		losses = append(losses, s.Loss, s.GradNorm)
	}
	for _, e := range hist.Epochs {
		losses = append(losses, e.Loss, e.Metrics["val_loss"], e.Metrics["accuracy"], e.Metrics["val_accuracy"])
	}
	for k, p := range model.progs {
		if s, ok := p.VMStats(); ok && s.Fallback > 0 {
			t.Errorf("%v program for batch %d: %d nodes through the fallback, want 0", m, k.batch, s.Fallback)
		}
	}
	for _, p := range model.Params() {
		weights = append(weights, p.Float64s())
	}
	pred, err := model.Predict(train.X)
	if err != nil {
		t.Fatal(err)
	}
	weights = append(weights, graph.ReadFloat64s(pred, nil))
	return weights, losses
}

// TestMachinesTrainIdentically trains every activation and loss with every
// optimizer, full batch and a ragged minibatch, in both dtypes, on
// gorgonia's tape machine and on descent's VM, and requires bit-identical
// step losses, gradient norms, epoch metrics, weights and predictions.
func TestMachinesTrainIdentically(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, c := range machineCases() {
			for _, opt := range optim.Names() {
				for _, b := range []struct {
					name string
					b    data.Batcher
				}{{"full", data.FullBatch()}, {"minibatch5", data.Minibatch(5)}} {
					t.Run(fmt.Sprintf("%v/%s/%s/%s", dt, c.name, opt, b.name), func(t *testing.T) {
						tw, tl := trainOn(t, c, dt, opt, b.b, graph.TapeMachine)
						vw, vl := trainOn(t, c, dt, opt, b.b, graph.DescentVM)
						if err := sameFloats("losses", tl, vl); err != nil {
							t.Fatal(err)
						}
						for i := range tw {
							if err := sameFloats(fmt.Sprintf("weights %d", i), tw[i], vw[i]); err != nil {
								t.Fatal(err)
							}
						}
					})
				}
			}
		}
	}
}

func sameFloats(what string, want, got []float64) error {
	if len(want) != len(got) {
		return fmt.Errorf("%s: %d values on the VM, %d on the tape machine", what, len(got), len(want))
	}
	for i := range want {
		if math.Float64bits(want[i]) != math.Float64bits(got[i]) && !(math.IsNaN(want[i]) && math.IsNaN(got[i])) {
			return fmt.Errorf("%s[%d]: tape machine %v, VM %v", what, i, want[i], got[i])
		}
	}
	return nil
}

// TestFullBatchReadsTheDataset checks that a full-batch step reads the
// training set's own X (and Y, for dense targets) instead of a copy, and
// that a minibatch step reads the program's buffers.
func TestFullBatchReadsTheDataset(t *testing.T) {
	for _, c := range []machineCase{machineCases()[0], machineCases()[len(machineCases())-1]} {
		model := NewSequential(c.layers()...)
		if err := model.Compile(CompileConfig{Loss: c.loss, Optimizer: "sgd", Seed: 1}); err != nil {
			t.Fatal(err)
		}
		train := machineData(t, c, tensor.Float64)
		if _, err := model.Fit(context.Background(), train, FitConfig{Epochs: 1}); err != nil {
			t.Fatal(err)
		}
		p, err := model.program(progTrain, train.Len())
		if err != nil {
			t.Fatal(err)
		}
		x, _ := p.Reads("x")
		y, _ := p.Reads("y")
		if x != train.X {
			t.Errorf("%s: the full-batch step read a copy of X", c.name)
		}
		if sparse := c.kind == "sparse"; (y == train.Y) == sparse {
			t.Errorf("%s: full-batch targets read Y itself: %v, want %v", c.name, y == train.Y, !sparse)
		}
		if _, err := model.Fit(context.Background(), train, FitConfig{Epochs: 1, Batching: data.Minibatch(5)}); err != nil {
			t.Fatal(err)
		}
		p5, _ := model.program(progTrain, 5)
		if x5, _ := p5.Reads("x"); x5 == train.X || x5 == nil {
			t.Errorf("%s: a minibatch step read X itself", c.name)
		}
	}
}

// TestPredictChecksEveryBatch checks that Predict, which checks its input
// batch by batch, still reports a non-finite value in a later batch with
// its row and column, and predicts nothing.
func TestPredictChecksEveryBatch(t *testing.T) {
	m := NewSequential(&Dense{Units: 3, InputDim: 2, Activation: "relu"}, &Dense{Units: 1, Activation: "step"})
	if err := m.Build(BuildConfig{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	m.PredictBatchSize = 4
	rows := make([][]float64, 10)
	for i := range rows {
		rows[i] = []float64{float64(i), 1}
	}
	rows[6][1] = math.Inf(-1)
	flat := make([]float64, 0, 20)
	for _, r := range rows {
		flat = append(flat, r...)
	}
	x, err := data.FromFloat64s(flat, tensor.Float64, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Predict(x)
	if !errors.Is(err, ErrNotFinite) || !strings.Contains(err.Error(), "row 6 column 1") || out != nil {
		t.Fatalf("Predict with -Inf at row 6: %v, %v; want ErrNotFinite naming row 6 column 1", out, err)
	}
}
