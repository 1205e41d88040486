//go:build !openblas

package gemm

// The default build: the blocked GEMM over the best micro-kernel this
// machine has, chosen once at start-up (archKernels) and never changed.

var kern32, kern64 = archKernels()

// Kernel names the GEMM in use, e.g. "descent blocked GEMM, AVX-512
// assembly" or "descent blocked GEMM, portable Go".
func Kernel() string { return kern32.name }

func sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(&kern32, pool32, true, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func dgemm(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemm(&kern64, pool64, true, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func saxpy(n int, alpha float32, x []float32, incX int, y []float32, incY int) {
	axpy(&kern32, n, alpha, x, incX, y, incY)
}

func daxpy(n int, alpha float64, x []float64, incX int, y []float64, incY int) {
	axpy(&kern64, n, alpha, x, incX, y, incY)
}
