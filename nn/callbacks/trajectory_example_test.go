package callbacks_test

import (
	"context"
	"fmt"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/callbacks"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// A trajectory of 100 full-batch steps kept within a budget of 8
// snapshots: every step is due, and each time the budget is full every
// other snapshot is dropped, so those kept stay evenly spaced.
func ExampleTrajectory() {
	model := nn.NewSequential(
		&nn.Dense{Units: 10, InputDim: 2},
		&nn.Activation{Fn: "tanh"},
		&nn.Dense{Units: 1},
		&nn.Activation{Fn: "sigmoid"},
	)
	err := model.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewSGD(0.1), Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	tr := &callbacks.Trajectory{Every: 1, Max: 8}
	_, err = model.Fit(context.Background(), data.XOR(tensor.Float64), nn.FitConfig{Epochs: 100, Callbacks: []nn.Callback{tr}})
	if err != nil {
		fmt.Println(err)
		return
	}
	var steps []int
	for _, s := range tr.Snapshots {
		steps = append(steps, s.Step)
	}
	fmt.Println("steps:", steps)
	fmt.Printf("%d values a snapshot\n", len(tr.Snapshots[0].Params))
	// Output:
	// steps: [0 16 32 48 64 80 96 100]
	// 41 values a snapshot
}
