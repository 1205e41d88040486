package graph_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/descentlab/descent/graph"
	"gorgonia.org/tensor"
)

// A researcher's own graph, its gradient checked against finite differences.
func ExampleProgram_CheckGradients() {
	rng := rand.New(rand.NewPCG(1, 1))
	w, _ := graph.NewParam("w", tensor.Float64, 3, 2)
	b, _ := graph.NewParam("b", tensor.Float64, 2)
	if err := w.Init(graph.GlorotUniform{}, rng); err != nil {
		fmt.Println(err)
		return
	}

	g := graph.New(tensor.Float64)
	x := g.Input("x", 4, 3)
	y := g.Input("y", 4, 2)
	logits := graph.AddBias(graph.MatMul(x, g.Param(w)), g.Param(b))
	// Cross-entropy through a row-stable log-softmax.
	loss := graph.Scale(graph.Sum(graph.Mul(y, graph.LogSoftmax(logits))), -1.0/4)
	prog, err := g.Compile(graph.Spec{Loss: loss})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer prog.Close()

	xs, _ := prog.Input("x")
	ys, _ := prog.Input("y")
	graph.WriteFloat64s(xs, []float64{1, 2, 3, -1, 0, 1, 0.5, 0.5, 0.5, 2, -2, 0})
	graph.WriteFloat64s(ys, []float64{1, 0, 0, 1, 1, 0, 0, 1})

	report, err := prog.CheckGradients(graph.GradCheck{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range report {
		fmt.Printf("%s: worst |symbolic - numeric| below 1e-8: %v\n", r.Param, r.AbsErr < 1e-8)
	}
	// Output:
	// w: worst |symbolic - numeric| below 1e-8: true
	// b: worst |symbolic - numeric| below 1e-8: true
}

// The same graph on gorgonia's tape machine and on descent's VM: the same
// gorgonia nodes, forward and gradient, give the same numbers.
func ExampleSpec_machine() {
	for _, m := range []graph.Machine{graph.TapeMachine, graph.DescentVM} {
		rng := rand.New(rand.NewPCG(1, 1))
		w, _ := graph.NewParam("w", tensor.Float32, 2, 3)
		if err := w.Init(graph.GlorotUniform{}, rng); err != nil {
			fmt.Println(err)
			return
		}
		g := graph.New(tensor.Float32)
		x := g.Input("x", 4, 2)
		loss := graph.Mean(graph.Square(graph.Tanh(graph.Dense(x, g.Param(w), nil))))
		prog, err := g.Compile(graph.Spec{Loss: loss, Machine: m})
		if err != nil {
			fmt.Println(err)
			return
		}
		xs, _ := prog.Input("x")
		graph.WriteFloat64s(xs, []float64{0, 1, 1, 0, 1, 1, -1, 2})
		if err := prog.Run(); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-4v loss %.7f  dloss/dw[0] %.7f\n", m, prog.Loss(), w.Grad().Data().([]float32)[0])
		if s, ok := prog.VMStats(); ok {
			fmt.Printf("vm: %d of %d nodes live, %d kernels, %d buffers\n", s.Live, s.Nodes, s.Kernels, s.Buffers)
		}
		prog.Close()
	}
	// Output:
	// tape loss 0.4683696  dloss/dw[0] -0.0165137
	// vm   loss 0.4683696  dloss/dw[0] -0.0165137
	// vm: 22 of 23 nodes live, 14 kernels, 7 buffers
}
