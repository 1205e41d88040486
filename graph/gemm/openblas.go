//go:build openblas

package gemm

// The openblas build: every routine goes to OpenBLAS through gonum's
// netlib binding (cgo; CGO_LDFLAGS=-lopenblas), so a build that asked for
// OpenBLAS keeps it. Sizes that need no arithmetic are handled here, since
// netlib checks slice lengths even when a dimension is zero.

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
)

var openblas netlib.Implementation

// Kernel names the GEMM in use: OpenBLAS in this build.
func Kernel() string { return "OpenBLAS (cgo, gonum/netlib)" }

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

func sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	openblas.Sgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func dgemm(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	openblas.Dgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func saxpy(n int, alpha float32, x []float32, incX int, y []float32, incY int) {
	if n == 0 || alpha == 0 {
		return
	}
	openblas.Saxpy(n, alpha, x, incX, y, incY)
}

func daxpy(n int, alpha float64, x []float64, incX int, y []float64, incY int) {
	if n == 0 || alpha == 0 {
		return
	}
	openblas.Daxpy(n, alpha, x, incX, y, incY)
}
