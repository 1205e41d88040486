package nn_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// The seed's model: the Keras XOR tutorial.
func ExampleSequential() {
	xor := data.XOR(tensor.Float64)
	model := nn.NewSequential(
		&nn.Dense{Units: 10, InputDim: 2},
		&nn.Activation{Fn: "tanh"},
		&nn.Dense{Units: 1},
		&nn.Activation{Fn: "sigmoid"},
	)
	if err := model.Summary(os.Stdout); err != nil {
		fmt.Println(err)
		return
	}
	err := model.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewSGD(0.1), Metrics: []string{"accuracy"}, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	hist, err := model.Fit(context.Background(), xor, nn.FitConfig{Epochs: 1000})
	if err != nil {
		fmt.Println(err)
		return
	}
	classes, err := model.PredictClasses(xor.X)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("accuracy %.2f, classes %v\n", hist.Last().Metrics["accuracy"], classes)
	// Output:
	// _________________________________________________________________
	// Layer (type)                 Output Shape              Param #
	// =================================================================
	// dense_1 (Dense)              (None, 10)                30
	// _________________________________________________________________
	// activation_1 (Activation)    (None, 10)                0
	// _________________________________________________________________
	// dense_2 (Dense)              (None, 1)                 11
	// _________________________________________________________________
	// activation_2 (Activation)    (None, 1)                 0
	// =================================================================
	// Total params: 41
	// Trainable params: 41
	// Non-trainable params: 0
	// _________________________________________________________________
	// accuracy 1.00, classes [0 1 1 0]
}

// Switching optimizers, schedules and descent variants is a change of
// values: the model, its initial weights (same seed) and the data stay the
// same, so the comparison is fair.
func ExampleSequential_Fit_optimizers() {
	moons, err := data.TwoMoons(200, 0.1, tensor.Float64, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		fmt.Println(err)
		return
	}
	runs := []struct {
		name     string
		opt      optim.Optimizer
		schedule optim.Schedule
		batching data.Batching
	}{
		{"full-batch SGD", optim.NewSGD(0.5), nil, data.FullBatch()},
		{"minibatch SGD, step decay", optim.NewSGD(0.5), optim.StepLR{StepSize: 10, Gamma: 0.5}, data.Minibatch(16)},
		{"minibatch Adam", optim.NewAdam(0.01), nil, data.Minibatch(16)},
		{"stochastic RMSprop, cosine", optim.NewRMSprop(0.005), optim.CosineAnnealingLR{TMax: 30}, data.Stochastic()},
	}
	for _, r := range runs {
		model := nn.NewSequential(
			&nn.Dense{Units: 16, InputDim: 2, Activation: "tanh"},
			&nn.Dense{Units: 1, Activation: "sigmoid"},
		)
		err := model.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: r.opt, Metrics: []string{"accuracy"}, Seed: 7})
		if err != nil {
			fmt.Println(err)
			return
		}
		hist, err := model.Fit(context.Background(), moons, nn.FitConfig{
			Epochs: 30, Batching: r.batching, Schedule: r.schedule, ScheduleInterval: optim.PerEpoch,
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		last := hist.Last()
		fmt.Printf("%-27s %4d steps, final lr %.3g, accuracy %.2f\n", r.name, last.GradEvals, last.LR, last.Metrics["accuracy"])
	}
	// Output:
	// full-batch SGD                30 steps, final lr 0.5, accuracy 0.88
	// minibatch SGD, step decay    390 steps, final lr 0.125, accuracy 0.88
	// minibatch Adam               390 steps, final lr 0.01, accuracy 0.88
	// stochastic RMSprop, cosine  6000 steps, final lr 1.37e-05, accuracy 0.90
}
