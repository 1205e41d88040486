//go:build !openblas

package graph

// Without the openblas tag gorgonia's own matrix products (MatMul and its
// gradients) and gonum's blas32/blas64 run on package gemm too, so that
// every product in a graph, and the tape machine and descent's VM, use the
// same kernel.

import (
	"fmt"

	"github.com/descentlab/descent/graph/gemm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
	"gorgonia.org/gorgonia"
)

// gemmBLAS is gonum's pure-Go BLAS with the matrix product and axpy taken
// from package gemm. As every gonum BLAS it panics on invalid arguments
// (gemm's error, wrapped): it is called only by gorgonia and tensor, inside
// graph's panic boundary.
type gemmBLAS struct{ gonum.Implementation }

func (gemmBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if err := gemm.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); err != nil {
		panic(fmt.Errorf("graph: blas: %w", err))
	}
}

func (gemmBLAS) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if err := gemm.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); err != nil {
		panic(fmt.Errorf("graph: blas: %w", err))
	}
}

func (gemmBLAS) Saxpy(n int, alpha float32, x []float32, incX int, y []float32, incY int) {
	if err := gemm.Saxpy(n, alpha, x, incX, y, incY); err != nil {
		panic(fmt.Errorf("graph: blas: %w", err))
	}
}

func (gemmBLAS) Daxpy(n int, alpha float64, x []float64, incX int, y []float64, incY int) {
	if err := gemm.Daxpy(n, alpha, x, incX, y, incY); err != nil {
		panic(fmt.Errorf("graph: blas: %w", err))
	}
}

func init() {
	impl := gemmBLAS{}
	gorgonia.Use(impl)
	blas32.Use(impl)
	blas64.Use(impl)
}
