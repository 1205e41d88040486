package optim_test

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
)

// Optimizers and schedules can be built from names and torch-named
// hyperparameters, as experiment files and command-line flags give them.
func Example() {
	for _, name := range optim.Names() {
		o, err := optim.New(name, map[string]any{"lr": 0.01, "weight_decay": 1e-4})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-8s lr %.4g\n", o.Name(), o.LearningRate())
	}
	if _, err := optim.New("adam", map[string]any{"momentum": 0.9}); err != nil {
		fmt.Println(err)
	}

	s, err := optim.ScheduleByName("StepLR", map[string]any{"step_size": 2, "gamma": 0.5})
	if err != nil {
		fmt.Println(err)
		return
	}
	warm := optim.LinearWarmup{Steps: 2, Then: s}
	fmt.Println("t  steplr  warmup+steplr")
	for t := range 6 {
		fmt.Printf("%d  %.4g  %.4g\n", t, s.Rate(0.1, t), warm.Rate(0.1, t))
	}
	// Output:
	// adadelta lr 0.01
	// adagrad  lr 0.01
	// adam     lr 0.01
	// adamw    lr 0.01
	// rmsprop  lr 0.01
	// sgd      lr 0.01
	// optim: adam: unknown hyperparameter "momentum" (valid: amsgrad, betas, convention, eps, lr, maximize, weight_decay): unknown name: invalid configuration
	// t  steplr  warmup+steplr
	// 0  0.1  0
	// 1  0.1  0.05
	// 2  0.05  0.1
	// 3  0.05  0.1
	// 4  0.025  0.05
	// 5  0.025  0.05
}

// One training step as the trainer runs it: clip, schedule, update.
func ExampleAdam() {
	p, _ := graph.NewParam("w", tensor.Float64, 2)
	_ = p.SetFloat64s([]float64{1, -1})
	_ = graph.WriteFloat64s(p.Grad(), []float64{3, -4}) // norm 5
	params := []*graph.Param{p}

	opt := optim.NewAdam(0.1)
	sched := optim.ExponentialLR{Gamma: 0.9}
	norm, _ := optim.ClipNorm{MaxNorm: 1}.Clip(params)
	if err := opt.Step(sched.Rate(opt.LearningRate(), 0), params); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("pre-clip norm %.4g, w = %.4f\n", norm, p.Float64s())
	// Output:
	// pre-clip norm 5, w = [0.9000 -0.9000]
}
