//go:build openblas

package graph

// With the openblas build tag every matrix product goes through OpenBLAS:
// gorgonia.Use switches gorgonia and tensor, blas32.Use and blas64.Use
// switch gonum's packages; descent's own kernels (package gemm) select
// OpenBLAS themselves under the same tag.

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
	"gorgonia.org/gorgonia"
)

func init() {
	impl := netlib.Implementation{}
	gorgonia.Use(impl)
	blas32.Use(impl)
	blas64.Use(impl)
}
