package nn

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// regularized returns a 3-5-2 network with the given penalties on its
// kernels and biases, and the same network without them.
func regularized(t testing.TB, opt func() optim.Optimizer, kernel, bias Regularizer) (with, without *Sequential) {
	t.Helper()
	mk := func(k, b Regularizer) *Sequential {
		m := NewSequential(
			&Dense{Units: 5, InputDim: 3, Activation: "tanh", KernelRegularizer: k, BiasRegularizer: b, BiasInitializer: graph.RandomUniform{Min: -0.5, Max: 0.5}},
			&Dense{Units: 2, KernelRegularizer: k, BiasRegularizer: b},
		)
		if err := m.Compile(CompileConfig{Loss: "mse", Optimizer: opt(), Seed: 5}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	return mk(kernel, bias), mk(nil, nil)
}

func regressionData(t testing.TB) *data.Dataset {
	t.Helper()
	d, _, err := data.LinearRegression(20, 3, 0.1, tensor.Float64, rand.New(rand.NewPCG(7, 7)))
	if err != nil {
		t.Fatal(err)
	}
	y := graph.ReadFloat64s(d.Y, nil)
	two := make([]float64, 0, 2*len(y))
	for _, v := range y {
		two = append(two, v, -v)
	}
	d.Y = must(data.FromFloat64s(two, tensor.Float64, len(y), 2))
	return d
}

// TestRegularizedLoss checks that Evaluate and Fit report the loss Keras 2
// reports, the mean data loss plus every penalty (computed here by hand
// from the weights), and that training minimises it.
func TestRegularizedLoss(t *testing.T) {
	d := regressionData(t)
	sgd := func() optim.Optimizer { return optim.NewSGD(0.05) }
	kernel, bias := L1L2{L1: 0.01, L2: 0.02}, L1(0.03)
	with, without := regularized(t, sgd, kernel, bias)
	penalty := func(m *Sequential) float64 {
		var p float64
		for i, prm := range m.Params() {
			reg := kernel
			if i%2 == 1 {
				reg = bias
			}
			for _, w := range prm.Float64s() {
				p += reg.L1*math.Abs(w) + reg.L2*w*w
			}
		}
		return p
	}
	// 1e-12: the two sums differ only in rounding over 37 terms.
	const tol = 1e-12
	ew, err := with.Evaluate(d)
	if err != nil {
		t.Fatal(err)
	}
	eo, err := without.Evaluate(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := eo["loss"] + penalty(with); math.Abs(ew["loss"]-want) > tol {
		t.Errorf("Evaluate loss %.15g, want data loss %.15g + penalty %.15g = %.15g", ew["loss"], eo["loss"], penalty(with), want)
	}
	h, err := with.Fit(context.Background(), d, FitConfig{Epochs: 30})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(h.Steps[0].Loss-ew["loss"]) > tol {
		t.Errorf("first step's loss %.15g, want Evaluate's %.15g", h.Steps[0].Loss, ew["loss"])
	}
	if first, last := h.Epochs[0].Loss, h.Last().Loss; !(last < first) {
		t.Errorf("regularized loss went from %v to %v", first, last)
	}
	// Training with the penalty ends with smaller weights than without.
	if _, err := without.Fit(context.Background(), d, FitConfig{Epochs: 30}); err != nil {
		t.Fatal(err)
	}
	if a, b := norm(with.Params()[0].Float64s()), norm(without.Params()[0].Float64s()); !(a < b) {
		t.Errorf("kernel norm %v with the penalty, %v without", a, b)
	}
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// TestWeightDecayVersusPenalty documents the difference between an L2
// penalty and an optimizer's weight decay: Keras's L2(c) has gradient 2c·w,
// so under Adam it equals torch's coupled weight_decay 2c (the same
// updates, to rounding), while AdamW's decoupled decay 2c is another
// algorithm.
func TestWeightDecayVersusPenalty(t *testing.T) {
	const c = 0.05
	d := regressionData(t)
	run := func(opt func() optim.Optimizer, reg Regularizer) []float64 {
		m, _ := regularized(t, opt, reg, reg)
		if _, err := m.Fit(context.Background(), d, FitConfig{Epochs: 20, Batching: data.Minibatch(5)}); err != nil {
			t.Fatal(err)
		}
		return paramValues(m)
	}
	penalty := run(func() optim.Optimizer { return optim.NewAdam(0.01) }, L2(c))
	coupled := run(func() optim.Optimizer { o := optim.NewAdam(0.01); o.WeightDecay = 2 * c; return o }, nil)
	decoupled := run(func() optim.Optimizer { o := optim.NewAdamW(0.01); o.WeightDecay = 2 * c; return o }, nil)
	worstCoupled, worstDecoupled := 0.0, 0.0
	for i := range penalty {
		worstCoupled = math.Max(worstCoupled, math.Abs(penalty[i]-coupled[i]))
		worstDecoupled = math.Max(worstDecoupled, math.Abs(penalty[i]-decoupled[i]))
	}
	// 1e-10: 80 Adam steps of the same update computed in two orders.
	if worstCoupled > 1e-10 {
		t.Errorf("L2(%v) and Adam weight_decay %v differ by %g, want the same updates", c, 2*c, worstCoupled)
	}
	if worstDecoupled < 1e-4 {
		t.Errorf("L2(%v) and AdamW weight_decay %v differ by only %g", c, 2*c, worstDecoupled)
	}
	t.Logf("largest difference from the L2 penalty: Adam weight_decay %.3g, AdamW %.3g", worstCoupled, worstDecoupled)
}
