package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn/study"
	"gorgonia.org/tensor"
)

// The tutorial's picture (see README.md): -landscape trains the network
// from the seed's initial weights by full-batch, stochastic and
// minibatch(2) SGD and draws the loss surface around their three paths.
var (
	landscape    = flag.Bool("landscape", false, "draw the loss landscape of full-batch, stochastic and minibatch(2) SGD from the seed's initial weights, instead of training once")
	landscapeOut = flag.String("landscape-out", filepath.Join("out", "xor-landscape"), "-landscape: directory of the pictures (created)")
	landscapeN   = flag.Int("landscape-points", study.DefaultLandscapePoints, "-landscape: grid points along each axis")
)

// drawLandscape runs the three variants as a study with landscapes on.
func drawLandscape(seed uint64, epochs int, lr float64) error {
	xor := data.XOR(tensor.Float64)
	s := &study.Study{
		Name:    "xor",
		Data:    "xor",
		Model:   study.XORModel,
		Loss:    "binary_crossentropy",
		Metrics: []string{"accuracy"},
		Train:   xor,
		Grid: study.Grid{
			Variants:   []data.Batching{data.FullBatch(), data.Stochastic(), data.Minibatch(2)},
			Optimizers: []study.OptimizerChoice{{Name: "sgd"}},
			LRs:        []float64{lr},
			Seeds:      []uint64{seed},
		},
		Budget: study.Budget{Epochs: epochs},
		// 41 parameters: 400 snapshots a run cost 130 KB.
		Landscape: &study.LandscapeConfig{Snapshots: 400, Points: *landscapeN},
	}
	ctx := context.Background()
	start := time.Now()
	res, err := s.Run(ctx, study.Options{})
	if err != nil {
		return err
	}
	trained := time.Since(start)
	for _, r := range res.Runs {
		last := r.History.Last()
		fmt.Printf("%-26s %5d steps, loss %.4f, accuracy %.2f\n", r.Config.String()+":", last.GradEvals, last.Loss, last.Metrics["accuracy"])
	}
	start = time.Now()
	ls, err := s.Landscapes(ctx, res, study.Options{Progress: os.Stdout})
	if err != nil {
		return err
	}
	paths, err := ls[0].Report(*landscapeOut, study.PlotOptions{})
	if err != nil {
		return err
	}
	fmt.Printf("trained in %s, drew the landscape in %s; wrote", trained.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	for _, p := range paths {
		fmt.Print(" ", p)
	}
	fmt.Println()
	return nil
}
