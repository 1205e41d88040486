package study_test

import (
	"context"
	"fmt"
	"log"

	"github.com/descentlab/descent/data"
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
