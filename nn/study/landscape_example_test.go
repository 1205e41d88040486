package study_test

import (
	"context"
	"fmt"
	"log"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn/study"
	"gorgonia.org/tensor"
)

// The landscape of the XOR network for full-batch and stochastic SGD:
// both runs start from the seed's initial weights; the plane is that of
// the two principal directions of their paths, centred on the best final
// weights.
func ExampleStudy_Landscapes() {
	xor := data.XOR(tensor.Float64)
	s := &study.Study{
		Name:  "xor",
		Model: study.XORModel,
		Loss:  "binary_crossentropy",
		Train: xor,
		Grid: study.Grid{
			Variants:   []data.Batching{data.FullBatch(), data.Stochastic()},
			Optimizers: []study.OptimizerChoice{{Name: "sgd"}},
			LRs:        []float64{0.2},
			Seeds:      []uint64{1},
		},
		Budget:    study.Budget{Epochs: 300},
		Landscape: &study.LandscapeConfig{Points: 21},
	}
	ctx := context.Background()
	res, err := s.Run(ctx, study.Options{Workers: 2})
	if err != nil {
		log.Fatal(err)
	}
	ls, err := s.Landscapes(ctx, res, study.Options{Workers: 2})
	if err != nil {
		log.Fatal(err)
	}
	l := ls[0]
	fmt.Printf("plane: %s, %.2f + %.2f of the variance\n", l.Plane.Method, l.Plane.Explained[0], l.Plane.Explained[1])
	fmt.Printf("grid: %d x %d\n", len(l.Surface.A), len(l.Surface.B))
	for _, p := range l.Paths {
		first, last := p.Points[0], p.Points[len(p.Points)-1]
		fmt.Printf("%s: %d snapshots from (%.1f, %.1f), loss %.2f to %.2f\n",
			p.Run.Config, len(p.Points), first.A, first.B, first.Loss, last.Loss)
	}
	fmt.Println("centre: the final weights of", l.Paths[l.CentreRun].Run.Config)
	// Output:
	// plane: pca, 0.96 + 0.03 of the variance
	// grid: 21 x 21
	// full sgd lr=0.2: 39 snapshots from (-8.9, -0.9), loss 0.75 to 0.15
	// stochastic sgd lr=0.2: 39 snapshots from (-8.9, -0.9), loss 0.75 to 0.01
	// centre: the final weights of stochastic sgd lr=0.2
}

// The plane of a path's two principal directions about its end, and a
// snapshot's coordinates in it.
func ExamplePCAPlane() {
	path := [][]float64{{0, 0, 0}, {2, 1, 0}, {4, 1, 0}, {6, 0, 0}}
	end := path[len(path)-1]
	pl, err := study.PCAPlane(end, path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("shares %.3f %.3f\n", pl.Explained[0], pl.Explained[1])
	for _, w := range path {
		a, b := pl.Project(w)
		fmt.Printf("(%.2f, %.2f)\n", a, b)
	}
	// Output:
	// shares 0.977 0.023
	// (-5.96, -0.65)
	// (-4.09, 0.56)
	// (-2.10, 0.78)
	// (0.00, 0.00)
}
