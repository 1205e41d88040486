// Package graph is descent's only contact with gorgonia: it owns learnable
// parameters, dtypes, seeded initialisers, expression building, compiled
// programs on gorgonia's tape machine, the panic boundary that turns gorgonia
// and tensor panics into errors, and a public gradient checker.
//
// Everything above this package (nn, optim, examples) builds graphs through
// the functions here and never imports gorgonia itself. graph imports neither
// nn, optim nor data.
//
// # Building and running
//
// A Graph is an expression under construction for one fixed batch shape
// (gorgonia fixes the batch size per graph). Parameters are created once with
// NewParam and bound into any number of graphs with Graph.Param; every graph
// sees the same tensor, so an in-place update made by an optimizer is seen by
// all of them. Operations such as MatMul, AddBias and Tanh record the first
// error in the graph (like bufio.Scanner) so that an expression can be written
// in one line and checked once, at Compile.
//
//	g := graph.New(tensor.Float64)
//	x := g.Input("x", 4, 2)
//	y := g.Input("y", 4, 1)
//	pred := graph.Sigmoid(graph.AddBias(graph.MatMul(x, g.Param(w)), g.Param(b)))
//	loss := graph.Mean(graph.Square(graph.Sub(pred, y)))
//	prog, err := g.Compile(graph.Spec{Loss: loss, Outputs: map[string]*graph.Node{"pred": pred}})
//
// Dense(x, W, b) is the same x·W + b as one operation, with the gradient
// with respect to x built only when x is not data (see dense.go). Its
// products, forward and backward, run on the subpackage gemm (descent's own
// blocked GEMM, or OpenBLAS with the openblas tag), which BLAS names; so do
// gorgonia's own MatMul and gonum's blas32/blas64, through the BLAS this
// package installs with gorgonia.Use (blas_default.go, blas_openblas.go).
//
// Program.Run checks its inputs, runs the tape machine (always Reset before
// RunAll, since gorgonia otherwise returns the previous run's values) and
// copies each parameter's gradient into Param.Grad.
//
// # Errors
//
// gorgonia panics with strings, errors and runtime errors. Every exported
// function here that calls into gorgonia recovers such panics with Guard and
// returns a *PanicError naming the operation. The one place a panic cannot be
// recovered is inside gorgonia's own VM goroutine, so Program.Run validates
// the shape and dtype of every input before it starts the machine.
package graph
