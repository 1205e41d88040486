package bench

import (
	"fmt"

	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// Hyperparameters of the standard workloads.
const (
	MNISTLR = 0.05 // W2: plain SGD
	XORLR   = 0.1  // W1: the seed's examples/xor default
	Seed    = 1    // every model is built from this seed
)

// NewMNISTModel returns the W2/W3 network, compiled: Dense 784-128 relu,
// Dense 128-10 softmax, sparse categorical cross-entropy (class-index
// targets), SGD at MNISTLR, seed Seed.
func NewMNISTModel(dt tensor.Dtype) (*nn.Sequential, error) {
	m := nn.NewSequential(
		&nn.Dense{Units: Hidden, InputDim: Pixels, Activation: "relu"},
		&nn.Dense{Units: Classes, Activation: "softmax"},
	)
	err := m.Compile(nn.CompileConfig{
		Loss:      "sparse_categorical_crossentropy",
		Optimizer: optim.NewSGD(MNISTLR),
		Seed:      Seed,
		DType:     dt,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: MNIST model: %w", err)
	}
	return m, nil
}

// NewXORModel returns the W1 network of the seed's examples/xor: Dense 2-10
// tanh, Dense 10-1 sigmoid, binary cross-entropy, SGD at XORLR, seed Seed.
func NewXORModel(dt tensor.Dtype) (*nn.Sequential, error) {
	m := nn.NewSequential(
		&nn.Dense{Units: 10, InputDim: 2, Activation: "tanh"},
		&nn.Dense{Units: 1, Activation: "sigmoid"},
	)
	err := m.Compile(nn.CompileConfig{
		Loss:      "binary_crossentropy",
		Optimizer: optim.NewSGD(XORLR),
		Seed:      Seed,
		DType:     dt,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: XOR model: %w", err)
	}
	return m, nil
}

// Weights returns a model's parameters as float64 (kernel, bias, kernel,
// bias for the two-layer networks here).
func Weights(m *nn.Sequential) [][]float64 {
	var w [][]float64
	for _, p := range m.Params() {
		w = append(w, p.Float64s())
	}
	return w
}

// floorFor returns a floor with the model's current weights.
func floorFor[T interface{ ~float32 | ~float64 }](m *nn.Sequential, s FloorSpec) (*Floor[T], error) {
	f, err := NewFloor[T](s)
	if err != nil {
		return nil, err
	}
	w := Weights(m)
	if len(w) != 4 {
		return nil, fmt.Errorf("bench: model has %d parameters, want 4", len(w))
	}
	return f, f.SetWeights(w[0], w[1], w[2], w[3])
}
