package graph

import "github.com/descentlab/descent/graph/gemm"

// BLAS names the matrix product that every product in descent's graphs
// uses: gemm.Kernel(). By default that is descent's blocked GEMM
// ("descent blocked GEMM, AVX-512 assembly" on an amd64 with AVX-512, AVX2
// on older ones, a portable Go kernel on other platforms), which Dense and
// its gradients and optim's SGD call directly and gorgonia's own MatMul,
// tensor and gonum's blas32/blas64 reach through gemmBLAS
// (blas_default.go). In a build with the openblas tag it is OpenBLAS, for
// package gemm and, through gonum.org/v1/netlib, for gorgonia, tensor and
// gonum (blas_openblas.go; it needs Debian's libopenblas-dev and
// CGO_LDFLAGS=-lopenblas).
func BLAS() string { return gemm.Kernel() }
