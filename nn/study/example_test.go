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
// data by a tuning stage (one seed), then every seed trains with it and the
// test set is evaluated once; the paired comparison says whether minibatch
// descent beats full-batch descent on the test loss. The problem is least
// squares on a line, y = 2x + 0.5 + noise.
func ExampleStudy_tuned() {
	rng := rand.New(rand.NewPCG(1, 2))
	x, y := make([][]float64, 400), make([][]float64, 400)
	for i := range x {
		v := 2*rng.Float64() - 1
		x[i], y[i] = []float64{v}, []float64{2*v + 0.5 + 0.1*rng.NormFloat64()}
	}
	all, err := data.FromRows(x, y, tensor.Float64)
	if err != nil {
		log.Fatal(err)
	}
	rest, test, _ := all.Split(0.2, rng.Uint64())
	train, val, _ := rest.Split(0.25, rng.Uint64())
	s := &study.Study{
		Name:  "line",
		Model: func() (*nn.Sequential, error) { return nn.NewSequential(&nn.Dense{Units: 1, InputDim: 1}), nil },
		Loss:  "mean_squared_error",
		Train: train, Validation: val, Test: test,
		Grid: study.Grid{
			Variants:   []data.Batching{data.FullBatch(), data.Minibatch(16)},
			Optimizers: []study.OptimizerChoice{{Name: "sgd"}},
			LRs:        study.LogRange(0.01, 1, 5),
			Seeds:      []uint64{1, 2, 3},
		},
		Budget: study.Budget{Epochs: 10},
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
		fmt.Printf("%s: test loss %.4f ± %.4f\n", row.Config.Name(), row.TestLoss.Mean, row.TestLoss.CI)
	}
	for _, c := range sum.Comparisons {
		fmt.Printf("%s against %s on %s: %+.4f, p = %.2g\n", c.Config.Name(), sum.Baseline, sum.Metric, c.MeanDiff, c.PT)
	}
	// Output:
	// full sgd: rates [0.01 0.0316 0.1 0.316 1], chose 0.316
	// minibatch(16) sgd: rates [0.01 0.0316 0.1 0.316 1], chose 0.316
	// full sgd: test loss 0.0218 ± 0.0173
	// minibatch(16) sgd: test loss 0.0102 ± 0.0008
	// minibatch(16) sgd against full sgd lr=0.316 on test_loss: -0.0116, p = 0.097
}
