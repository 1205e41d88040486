package graph

// blasName names the GEMM library in use; blas_openblas.go replaces it.
var blasName = "gonum (pure Go)"

// BLAS names the BLAS library that descent's matrix products use: "gonum
// (pure Go)" by default, or "OpenBLAS (cgo)" in a build with the openblas
// tag, which switches gorgonia, tensor and gonum's blas32/blas64 packages
// to OpenBLAS through gonum.org/v1/netlib (it needs Debian's
// libopenblas-dev and CGO_LDFLAGS=-lopenblas).
func BLAS() string { return blasName }
