// Command perceptron walks through the opening of the Keras tutorial in
// code: the perceptron, the cost function, and backpropagation.
//
//  1. A single neuron with a step activation and a bias, trained by the
//     classic perceptron rule, reaches zero errors on a linearly separable
//     set and never on XOR.
//  2. A sigmoid neuron, whose cost is differentiable, trained by gradient
//     descent.
//  3. The 2-10-1 tanh/sigmoid network on XOR: the gradients of its first
//     step computed twice, by the hand-derived delta rule written out below
//     and by gorgonia's symbolic differentiation, printed side by side. They
//     agree to 1e-12: descent never needs hand-written backpropagation.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

func main() {
	seed := flag.Uint64("seed", 1, "random seed")
	epochs := flag.Int("epochs", 20, "perceptron epochs")
	xorEpochs := flag.Int("xor-epochs", 1000, "epochs for the 2-10-1 network")
	flag.Parse()
	if err := run(*seed, *epochs, *xorEpochs); err != nil {
		log.Fatal(err)
	}
}

func run(seed uint64, epochs, xorEpochs int) error {
	rng := rand.New(rand.NewPCG(seed, 0))
	blobs, err := data.Blobs(100, tensor.Float64, rng)
	if err != nil {
		return err
	}
	xor := data.XOR(tensor.Float64)

	fmt.Println("1. The perceptron rule (a step neuron; not gradient descent)")
	for _, set := range []struct {
		name string
		ds   *data.Dataset
	}{{"linearly separable blobs", blobs}, {"XOR", xor}} {
		errs, err := perceptron(set.ds, seed, epochs)
		if err != nil {
			return err
		}
		fmt.Printf("   %-25s errors per epoch: %v\n", set.name, errs)
	}

	fmt.Println("\n2. A sigmoid neuron trained by gradient descent on the cross-entropy cost")
	for _, set := range []struct {
		name string
		ds   *data.Dataset
	}{{"linearly separable blobs", blobs}, {"XOR", xor}} {
		neuron := nn.NewSequential(&nn.Dense{Units: 1, InputDim: 2, Activation: "sigmoid"})
		if err := neuron.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewSGD(0.1), Metrics: []string{"accuracy"}, Seed: seed}); err != nil {
			return err
		}
		h, err := neuron.Fit(context.Background(), set.ds, nn.FitConfig{Epochs: 200})
		if err != nil {
			return err
		}
		last := h.Last()
		fmt.Printf("   %-25s after 200 epochs: loss %.4f, accuracy %.2f\n", set.name, last.Loss, last.Metrics["accuracy"])
	}

	fmt.Println("\n3. Backpropagation: the first step of the 2-10-1 network on XOR")
	return backprop(xor, seed, xorEpochs)
}

// perceptron trains a step neuron with the perceptron rule,
// w ← w + (y − ŷ)·x and b ← b + (y − ŷ), and returns the errors counted in
// each epoch (before that epoch's updates take effect on later rows).
func perceptron(ds *data.Dataset, seed uint64, epochs int) ([]int, error) {
	m := nn.NewSequential(&nn.Dense{Units: 1, InputDim: ds.Features(), Activation: "step"})
	if err := m.Build(nn.BuildConfig{Seed: seed}); err != nil {
		return nil, err
	}
	d := m.Layers()[0].(*nn.Dense)
	w, b := graph.Float64s(d.Kernel().Value()), graph.Float64s(d.Bias().Value())
	x, y := graph.Float64s(ds.X), graph.Float64s(ds.Y)
	n, f := ds.Len(), ds.Features()
	row := tensor.New(tensor.WithShape(1, f), tensor.WithBacking(make([]float64, f)))
	var errs []int
	for range epochs {
		wrong := 0
		for i := range n {
			copy(graph.Float64s(row), x[i*f:(i+1)*f])
			out, err := m.Predict(row) // the step neuron's forward pass, on gorgonia
			if err != nil {
				return nil, err
			}
			delta := y[i] - graph.Float64s(out)[0]
			if delta != 0 {
				wrong++
				for j := range f {
					w[j] += delta * x[i*f+j]
				}
				b[0] += delta
			}
		}
		errs = append(errs, wrong)
		if wrong == 0 {
			break
		}
	}
	return errs, nil
}

// backprop compares the hand-derived gradients of the first step with
// gorgonia's, then trains the network.
func backprop(xor *data.Dataset, seed uint64, epochs int) error {
	m := nn.NewSequential(
		&nn.Dense{Units: 10, InputDim: 2},
		&nn.Activation{Fn: "tanh"},
		&nn.Dense{Units: 1},
		&nn.Activation{Fn: "sigmoid"},
	)
	if err := m.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewSGD(0.1), Metrics: []string{"accuracy"}, Seed: seed}); err != nil {
		return err
	}
	params := m.Params() // dense_1/kernel [2,10], dense_1/bias [10], dense_2/kernel [10,1], dense_2/bias [1]
	hand := deltaRule(graph.Float64s(xor.X), graph.Float64s(xor.Y),
		params[0].Float64s(), params[1].Float64s(), params[2].Float64s(), params[3].Float64s())

	// gorgonia's gradients of the same step, read before the update.
	var symbolic [][]float64
	grab := gradientsOf(func(ps []*graph.Param) {
		for _, p := range ps {
			symbolic = append(symbolic, graph.ReadFloat64s(p.Grad(), nil))
		}
	})
	if _, err := m.Fit(context.Background(), xor, nn.FitConfig{Epochs: 1, Callbacks: []nn.Callback{grab}}); err != nil {
		return err
	}
	worst := 0.0
	fmt.Printf("   %-16s %5s %22s %22s\n", "parameter", "index", "delta rule", "gorgonia")
	for i, p := range params {
		for j := range hand[i] {
			worst = math.Max(worst, math.Abs(hand[i][j]-symbolic[i][j]))
			if j < 3 {
				fmt.Printf("   %-16s %5d %22.15f %22.15f\n", p.Name(), j, hand[i][j], symbolic[i][j])
			}
		}
	}
	fmt.Printf("   largest difference over all 41 gradients: %.1e\n", worst)
	if worst > 1e-12 {
		return errors.New("perceptron: hand-derived and symbolic gradients disagree")
	}

	if _, err := m.Fit(context.Background(), xor, nn.FitConfig{Epochs: epochs, Resume: true}); err != nil {
		return err
	}
	classes, err := m.PredictClasses(xor.X)
	if err != nil {
		return err
	}
	fmt.Printf("   after %d epochs of full-batch gradient descent: %v\n", epochs, classes)
	return nil
}

// gradientsOf is a callback that hands the raw gradients of the first step
// to f.
type gradientsOf func(ps []*graph.Param)

func (f gradientsOf) OnGradients(t *nn.Training, rec nn.StepRecord) error {
	if rec.Step == 1 {
		f(t.Params())
	}
	return nil
}

func (f gradientsOf) OnEpochEnd(*nn.Training, *nn.EpochRecord) error { return nil }

// deltaRule returns the gradients of the mean binary cross-entropy of the
// 2-10-1 tanh/sigmoid network over the batch, derived by hand as in the
// tutorial:
//
//	forward:  h = tanh(x·W1 + b1),  p = σ(h·W2 + b2)
//	output:   δ2 = (p − y) / n        (σ's derivative cancels with the cross-entropy's)
//	hidden:   δ1 = (δ2·W2ᵀ) ⊙ (1 − h²)
//	grads:    ∂W2 = hᵀ·δ2, ∂b2 = Σ δ2, ∂W1 = xᵀ·δ1, ∂b1 = Σ δ1
func deltaRule(x, y, w1, b1, w2, b2 []float64) [][]float64 {
	const in, hid = 2, 10
	n := len(y)
	dW1, db1 := make([]float64, in*hid), make([]float64, hid)
	dW2, db2 := make([]float64, hid), make([]float64, 1)
	for r := range n {
		h := make([]float64, hid)
		z2 := b2[0]
		for j := range hid {
			z := b1[j]
			for i := range in {
				z += x[r*in+i] * w1[i*hid+j]
			}
			h[j] = math.Tanh(z)
			z2 += h[j] * w2[j]
		}
		p := 1 / (1 + math.Exp(-z2))
		d2 := (p - y[r]) / float64(n)
		db2[0] += d2
		for j := range hid {
			dW2[j] += h[j] * d2
			d1 := d2 * w2[j] * (1 - h[j]*h[j])
			db1[j] += d1
			for i := range in {
				dW1[i*hid+j] += x[r*in+i] * d1
			}
		}
	}
	return [][]float64{dW1, db1, dW2, db2}
}
