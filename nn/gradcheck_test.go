package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// TestGradientChecks checks the symbolic gradient of every layer, activation
// and loss against central finite differences, in float64 (tight: graph's
// default 1e-7 absolute + 1e-5 relative) and float32 (loose: 1e-3 + 2e-2
// relative, with a 1e-2 step, since float32 keeps about 7 digits and the
// difference quotient loses about 1e-7/h of them).
func TestGradientChecks(t *testing.T) {
	type tc struct {
		name   string
		hidden string // hidden activation
		out    string // output activation
		loss   string
		noBias bool
	}
	var cases []tc
	for _, a := range ActivationNames() {
		if a == "step" {
			continue // no gradient, tested in TestStepCannotBeTrained
		}
		cases = append(cases, tc{name: "hidden=" + a, hidden: a, out: "linear", loss: "mean_squared_error"})
	}
	cases = append(cases,
		tc{name: "mse", hidden: "tanh", out: "linear", loss: "mean_squared_error"},
		tc{name: "bce", hidden: "tanh", out: "sigmoid", loss: "binary_crossentropy"},
		tc{name: "cce_softmax", hidden: "relu", out: "softmax", loss: "categorical_crossentropy"},
		tc{name: "cce_sigmoid_probs", hidden: "relu", out: "sigmoid", loss: "categorical_crossentropy"},
		tc{name: "sparse_cce", hidden: "elu", out: "softmax", loss: "sparse_categorical_crossentropy"},
		tc{name: "dense_no_bias", hidden: "tanh", out: "linear", loss: "mean_squared_error", noBias: true},
	)
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, c := range cases {
			t.Run(dt.String()+"/"+c.name, func(t *testing.T) {
				const n, in, hid, k = 5, 3, 4, 3
				m := NewSequential(
					&Dense{Units: hid, InputDim: in, NoBias: c.noBias},
					&Activation{Fn: c.hidden},
					&Dense{Units: k, Activation: c.out},
				)
				if err := m.Compile(CompileConfig{Loss: c.loss, Optimizer: optim.NewSGD(0.1), Seed: 4, DType: dt}); err != nil {
					t.Fatal(err)
				}
				p, err := m.program(progTrain, n)
				if err != nil {
					t.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(9, 9))
				xs := make([]float64, n*in)
				for i := range xs {
					xs[i] = 2*rng.Float64() - 1
				}
				ys := make([]float64, n*k)
				for r := range n {
					switch c.loss {
					case "mean_squared_error":
						for j := range k {
							ys[r*k+j] = rng.Float64()
						}
					default: // one-hot rows; the sparse loss gets them expanded by the trainer
						ys[r*k+rng.IntN(k)] = 1
					}
				}
				xb, _ := p.Input("x")
				yb, _ := p.Input("y")
				if err := graph.WriteFloat64s(xb, xs); err != nil {
					t.Fatal(err)
				}
				if err := graph.WriteFloat64s(yb, ys); err != nil {
					t.Fatal(err)
				}
				report, err := p.CheckGradients(graph.GradCheck{})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range report {
					if r.Index < 0 {
						t.Fatalf("parameter %s was not checked", r.Param)
					}
				}
			})
		}
	}
}

// TestGradientChecksDropoutAndPenalties checks the gradient through Dropout
// with a fixed mask (the trainer fills it once; the checker's runs reuse
// it) and of L1, L2 and L1L2 penalties on kernels and biases, in both
// dtypes, with the tolerances of TestGradientChecks. The mask is checked to
// drop some values and keep others, so the check covers both.
func TestGradientChecksDropoutAndPenalties(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, noise := range [][]int{nil, {0, 1}, {1, 0}} {
			t.Run(fmt.Sprintf("%v/noise=%v", dt, noise), func(t *testing.T) {
				const n, in, hid, k = 6, 3, 5, 3
				m := NewSequential(
					&Dense{Units: hid, InputDim: in, Activation: "tanh", KernelRegularizer: L1L2{L1: 0.01, L2: 0.02}, BiasRegularizer: L1(0.03),
						BiasInitializer: graph.RandomUniform{Min: -0.5, Max: 0.5}},
					&Dropout{Rate: 0.4, NoiseShape: noise},
					&Dense{Units: k, Activation: "softmax", KernelRegularizer: L2(0.05), BiasRegularizer: L2(0.01)},
				)
				if err := m.Compile(CompileConfig{Loss: "categorical_crossentropy", Optimizer: optim.NewSGD(0.1), Seed: 8, DType: dt}); err != nil {
					t.Fatal(err)
				}
				p, err := m.program(progTrain, n)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.noise) != 1 {
					t.Fatalf("%d noise inputs, want 1 (the Dropout mask)", len(p.noise))
				}
				rng := rand.New(rand.NewPCG(2, 3))
				xs, ys := make([]float64, n*in), make([]float64, n*k)
				for i := range xs {
					xs[i] = 2*rng.Float64() - 1
				}
				for r := range n {
					ys[r*k+rng.IntN(k)] = 1
				}
				xb, _ := p.Input("x")
				yb, _ := p.Input("y")
				if err := graph.WriteFloat64s(xb, xs); err != nil {
					t.Fatal(err)
				}
				if err := graph.WriteFloat64s(yb, ys); err != nil {
					t.Fatal(err)
				}
				if err := p.fillNoise(rng); err != nil {
					t.Fatal(err)
				}
				mask := graph.ReadFloat64s(p.noise[0].buf, nil)
				zeros := 0
				for _, v := range mask {
					if v == 0 {
						zeros++
					}
				}
				if zeros == 0 || zeros == len(mask) {
					t.Fatalf("mask %v drops %d of %d values: draw another", mask, zeros, len(mask))
				}
				if _, err := p.CheckGradients(graph.GradCheck{}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
