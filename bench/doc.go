// Package bench measures descent's speed: testing.B grids (bench_test.go),
// the standard workloads run end to end by the descent-bench command
// (Suite), a hand-written floor on descent's own GEMM (Floor, on package
// graph/gemm like descent) that shows the framework's overhead as a ratio,
// a comparison of GEMM kernels (cmd/gemm-compare), and a PyTorch peer
// (torch_bench.py).
//
// Timing never runs under plain `go test`: the tests here only check that
// the floor and descent compute the same loss and that the command's quick
// mode writes valid JSON. See README.md for how to run each part.
package bench
