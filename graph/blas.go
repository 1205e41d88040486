package graph

import "github.com/descentlab/descent/graph/gemm"

// BLAS names the matrix product that descent's own operations (Dense and
// its gradients, optim's SGD step) use: gemm.Kernel(), which is descent's
// blocked GEMM ("descent blocked GEMM, AVX-512 assembly" on this amd64, a
// portable Go kernel elsewhere) by default, or OpenBLAS in a build with the
// openblas tag. That tag also switches gorgonia, tensor and gonum's
// blas32/blas64 packages (used by gorgonia's own MatMul) to OpenBLAS
// through gonum.org/v1/netlib; it needs Debian's libopenblas-dev and
// CGO_LDFLAGS=-lopenblas. Without it, gorgonia's own MatMul uses gonum.
func BLAS() string { return gemm.Kernel() }
