package gemm

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/blas"
)

// ErrArgument reports an argument that breaks a BLAS routine's contract: a
// negative size, a leading dimension smaller than a row, a slice too short,
// an unknown transpose flag or a zero increment.
var ErrArgument = errors.New("invalid argument")

// float is the set of element types the kernels compute in.
type float interface{ ~float32 | ~float64 }

// Sgemm computes C ← α·op(A)·op(B) + β·C for float32, where op(A) is m×k,
// op(B) is k×n and C is m×n, all row-major with leading dimensions lda, ldb
// and ldc. With β = 0, C is written without being read. A and B are not
// modified. It returns an error wrapping ErrArgument, and changes nothing,
// when the arguments do not describe valid matrices.
func Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) error {
	if err := checkGemm("sgemm", tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc); err != nil {
		return err
	}
	sgemm(tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	return nil
}

// Dgemm is Sgemm for float64.
func Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) error {
	if err := checkGemm("dgemm", tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc); err != nil {
		return err
	}
	dgemm(tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	return nil
}

// Saxpy computes y[i·incY] ← α·x[i·incX] + y[i·incY] for i < n, in float32,
// as a rounded product then a rounded sum on every platform (no fused
// multiply-add, as the reference BLAS; on amd64 results equal gonum's bit
// for bit). Negative increments walk the vector from its end, as in BLAS. It returns an error wrapping
// ErrArgument, and changes nothing, for n < 0, a zero increment or a slice
// too short.
func Saxpy(n int, alpha float32, x []float32, incX int, y []float32, incY int) error {
	if err := checkAxpy("saxpy", n, len(x), incX, len(y), incY); err != nil {
		return err
	}
	saxpy(n, alpha, x, incX, y, incY)
	return nil
}

// Daxpy is Saxpy for float64.
func Daxpy(n int, alpha float64, x []float64, incX int, y []float64, incY int) error {
	if err := checkAxpy("daxpy", n, len(x), incX, len(y), incY); err != nil {
		return err
	}
	daxpy(n, alpha, x, incX, y, incY)
	return nil
}

func checkTrans(name, arg string, t blas.Transpose) error {
	switch t {
	case blas.NoTrans, blas.Trans, blas.ConjTrans:
		return nil
	}
	return fmt.Errorf("gemm: %s: %s is %d, want NoTrans, Trans or ConjTrans: %w", name, arg, t, ErrArgument)
}

// checkMatrix checks a rows×cols row-major matrix with leading dimension ld
// stored in a slice of length size.
func checkMatrix(name, arg string, rows, cols, size, ld int) error {
	if ld < max(1, cols) {
		return fmt.Errorf("gemm: %s: ld%s is %d, want at least %d: %w", name, arg, ld, max(1, cols), ErrArgument)
	}
	if rows == 0 || cols == 0 {
		return nil
	}
	if need := (rows-1)*ld + cols; size < need {
		return fmt.Errorf("gemm: %s: len(%s) is %d, want at least %d for %d×%d with ld%s %d: %w",
			name, arg, size, need, rows, cols, arg, ld, ErrArgument)
	}
	return nil
}

func checkGemm(name string, tA, tB blas.Transpose, m, n, k, la, lda, lb, ldb, lc, ldc int) error {
	if err := checkTrans(name, "tA", tA); err != nil {
		return err
	}
	if err := checkTrans(name, "tB", tB); err != nil {
		return err
	}
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("gemm: %s: m, n, k are %d, %d, %d, want non-negative: %w", name, m, n, k, ErrArgument)
	}
	ar, ac := m, k
	if tA != blas.NoTrans {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB != blas.NoTrans {
		br, bc = n, k
	}
	if err := checkMatrix(name, "a", ar, ac, la, lda); err != nil {
		return err
	}
	if err := checkMatrix(name, "b", br, bc, lb, ldb); err != nil {
		return err
	}
	return checkMatrix(name, "c", m, n, lc, ldc)
}

func checkAxpy(name string, n, lx, incX, ly, incY int) error {
	if n < 0 {
		return fmt.Errorf("gemm: %s: n is %d, want non-negative: %w", name, n, ErrArgument)
	}
	if incX == 0 || incY == 0 {
		return fmt.Errorf("gemm: %s: increments are %d and %d, want non-zero: %w", name, incX, incY, ErrArgument)
	}
	if n == 0 {
		return nil
	}
	if need := (n-1)*abs(incX) + 1; lx < need {
		return fmt.Errorf("gemm: %s: len(x) is %d, want at least %d for n %d, incX %d: %w", name, lx, need, n, incX, ErrArgument)
	}
	if need := (n-1)*abs(incY) + 1; ly < need {
		return fmt.Errorf("gemm: %s: len(y) is %d, want at least %d for n %d, incY %d: %w", name, ly, need, n, incY, ErrArgument)
	}
	return nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
