//go:build !openblas

package graph

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/descentlab/descent/graph/gemm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gorgonia.org/gorgonia"
)

// TestGorgoniaUsesGemm checks that the default build routes gorgonia's (and
// so tensor's) and gonum's BLAS to package gemm, so that gorgonia's MatMul
// computes exactly what descent's own kernels compute.
func TestGorgoniaUsesGemm(t *testing.T) {
	if _, ok := gorgonia.WhichBLAS().(gemmBLAS); !ok {
		t.Errorf("gorgonia uses %T, want gemmBLAS", gorgonia.WhichBLAS())
	}
	if _, ok := blas64.Implementation().(gemmBLAS); !ok {
		t.Errorf("blas64 uses %T, want gemmBLAS", blas64.Implementation())
	}
	const m, n, k = 7, 40, 33
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := make([]float64, m*k), make([]float64, k*n)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	want, got := make([]float64, m*n), make([]float64, m*n)
	if err := gemm.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, want, n); err != nil {
		t.Fatal(err)
	}
	blas64.Implementation().Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, got, n)
	if !slices.Equal(got, want) {
		t.Errorf("blas64's Dgemm differs from gemm.Dgemm")
	}
}

// TestGemmBLASPanicsWithTheError checks that invalid arguments panic, as
// gonum's BLAS interface requires, with gemm's error inside.
func TestGemmBLASPanicsWithTheError(t *testing.T) {
	defer func() {
		err, _ := recover().(error)
		if !errors.Is(err, gemm.ErrArgument) {
			t.Errorf("recovered %v, want an error wrapping gemm.ErrArgument", err)
		}
	}()
	gemmBLAS{}.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
}
