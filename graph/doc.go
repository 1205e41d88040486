// Package graph is descent's only contact with gorgonia: it owns learnable
// parameters, dtypes, seeded initialisers, expression building, compiled
// programs and the machines that run them (descent's own VM, and gorgonia's
// tape machine as the reference), the panic boundary that turns gorgonia
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
// Compile differentiates the loss with gorgonia.Grad, which adds the
// gradient nodes to the same gorgonia graph, and hands the graph to a
// machine (Spec.Machine):
//
//   - DescentVM, the default, is descent's implementation of gorgonia's VM
//     interface (vm.go). It executes the graph as gorgonia built it, forward
//     and gradient nodes alike, in topological order, pruned to what the
//     loss, the gradients and the outputs need, over buffers planned once:
//     constants and sizes are folded, reshapes are aliases, a gradient is
//     computed straight into Param.Grad, and a buffer whose value is dead
//     carries a later one. Each operation type in descent's graphs has a
//     kernel that computes exactly what the operation's Do computes on the
//     tape machine (vm_kernels.go); any other operation runs through its own
//     Do. A Run allocates nothing and starts no goroutine.
//   - TapeMachine is gorgonia's tape machine: every Run resets it and
//     re-allocates every value. It is the reference: vm_test.go runs every
//     operation, activation and loss on both and requires bit-identical
//     results, in float32 and float64.
//
// Program.Run checks its inputs, runs the machine and leaves each
// parameter's gradient in Param.Grad. Program.Bind lets an input read a
// caller's tensor without a copy (a full batch reads the dataset itself),
// and Program.BindRows a range of its rows (a batch of a prediction).
//
// # Errors
//
// gorgonia panics with strings, errors and runtime errors. Every exported
// function here that calls into gorgonia recovers such panics with Guard and
// returns a *PanicError naming the operation. A panic inside the tape
// machine's own goroutine cannot be recovered, so Program.Run validates the
// shape and dtype of every input, and that bound tensors still hold the
// buffers the program was compiled against, before it starts a machine.
//
// May import: graph/gemm.
package graph
