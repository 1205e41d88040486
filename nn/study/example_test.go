package study_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/study"
	"gorgonia.org/tensor"
)

// A study in Go: the XOR network trained by full-batch and stochastic SGD,
// two seeds each, on a pool of workers.
func ExampleStudy_Run() {
	xor := data.XOR(tensor.Float64)
	s := &study.Study{
		Name:       "xor",
		Model:      study.XORModel,
		Loss:       "binary_crossentropy",
		Metrics:    []string{"accuracy"},
		Train:      xor,
		Validation: xor,
		Grid: study.Grid{
			Variants:   []data.Batching{data.FullBatch(), data.Stochastic()},
			Optimizers: []study.OptimizerChoice{{Name: "sgd"}},
			LRs:        []float64{0.2},
			Seeds:      []uint64{1, 2},
		},
		Budget: study.Budget{Epochs: 200},
	}
	res, err := s.Run(context.Background(), study.Options{Workers: 2})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res.Runs {
		last := r.History.Last()
		fmt.Printf("%s seed %d: %d gradient evaluations, loss %.2f\n", r.Config, r.Seed, last.GradEvals, last.Loss)
	}
	for _, row := range res.Summary().Rows {
		fmt.Printf("%s: final loss %.2f ± %.2f\n", row.Config, row.FinalLoss.Mean, row.FinalLoss.Std)
	}
	// Output:
	// full sgd lr=0.2 seed 1: 200 gradient evaluations, loss 0.42
	// full sgd lr=0.2 seed 2: 200 gradient evaluations, loss 0.33
	// stochastic sgd lr=0.2 seed 1: 800 gradient evaluations, loss 0.04
	// stochastic sgd lr=0.2 seed 2: 800 gradient evaluations, loss 0.02
	// full sgd lr=0.2: final loss 0.38 ± 0.07
	// stochastic sgd lr=0.2: final loss 0.03 ± 0.01
}

// Variants are written as on the command line.
func ExampleParseVariant() {
	for _, s := range []string{"full", "stochastic", "mb32", "minibatch(64),droplast"} {
		b, err := study.ParseVariant(s)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: batch size %d of 100 rows, %d steps per epoch\n", study.VariantName(b), b.BatchSize(100), b.Steps(100))
	}
	// Output:
	// full: batch size 100 of 100 rows, 1 steps per epoch
	// stochastic: batch size 1 of 100 rows, 100 steps per epoch
	// minibatch(32): batch size 32 of 100 rows, 4 steps per epoch
	// minibatch(64),droplast: batch size 64 of 100 rows, 1 steps per epoch
}

// Runs are dealt to shards in turn, the same way on every machine.
func ExampleShard() {
	sh, err := study.ParseShard("1/3")
	if err != nil {
		log.Fatal(err)
	}
	for i := range 7 {
		if sh.Has(study.Run{Index: i}) {
			fmt.Print(i, " ")
		}
	}
	fmt.Println()
	// Output: 1 4
}

// A tuned study: each variant's learning rate is chosen on the validation
// data by a tuning stage (one seed), then every seed trains with it; the
// paired comparison says whether stochastic beats full-batch descent.
func ExampleStudy_tuned() {
	rng := rand.New(rand.NewPCG(1, 2))
	all, err := data.TwoMoons(300, 0.2, tensor.Float64, rng)
	if err != nil {
		log.Fatal(err)
	}
	rest, test, _ := all.Split(0.2, rng)
	train, val, _ := rest.Split(0.25, rng)
	s := &study.Study{
		Name:    "moons",
		Model:   func() (*nn.Sequential, error) { return study.MLP(2, []int{8}, "tanh", 1, "sigmoid"), nil },
		Loss:    "binary_crossentropy",
		Metrics: []string{"accuracy"},
		Train:   train, Validation: val, Test: test,
		Grid: study.Grid{
			Variants:   []data.Batching{data.FullBatch(), data.Stochastic()},
			Optimizers: []study.OptimizerChoice{{Name: "sgd"}},
			LRs:        study.LogRange(0.01, 10, 7),
			Seeds:      []uint64{1, 2, 3},
		},
		Budget: study.Budget{Epochs: 40},
		Tune:   &study.Tuning{Metric: "val_loss"},
	}
	res, err := s.Run(context.Background(), study.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range res.Meta.Tuning.Choices {
		fmt.Printf("%s: rates %v, chose %v\n", c.Config.Name(), c.LRs, c.Config.LR)
	}
	sum := res.Summary()
	for _, row := range sum.Rows {
		fmt.Printf("%s: test accuracy %.3f ± %.3f\n", row.Config.Name(), row.TestAccuracy.Mean, row.TestAccuracy.CI)
	}
	for _, c := range sum.Comparisons {
		fmt.Printf("%s against %s on %s: %+.3f, p = %.2g\n", c.Config.Name(), sum.Baseline, sum.Metric, c.MeanDiff, c.PT)
	}
	// Output:
	// full sgd: rates [0.01 0.0316 0.1 0.316 1 3.16 10], chose 3.16
	// stochastic sgd: rates [0.01 0.0316 0.1 0.316 1 3.16 10], chose 0.1
	// full sgd: test accuracy 0.878 ± 0.024
	// stochastic sgd: test accuracy 0.922 ± 0.063
	// stochastic sgd against full sgd lr=3.16 on test_accuracy: +0.044, p = 0.057
}
