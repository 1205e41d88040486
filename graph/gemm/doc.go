// Package gemm owns descent's dense linear algebra kernels: the matrix
// product C ← α·op(A)·op(B) + β·C (Sgemm, Dgemm) and y ← α·x + y (Saxpy,
// Daxpy), with BLAS semantics, for float32 and float64.
//
// It sits under graph (graph, optim and bench call it) and imports nothing
// of descent's.
//
// # Kernels
//
// Which kernel runs is chosen when the program is built and, on amd64, when
// it starts (Kernel names it):
//
//   - default build, amd64 with AVX2 and FMA: a blocked, packed GEMM in Go
//     (the loops and packing of Goto and van de Geijn's algorithm, as in
//     BLIS) over micro-kernels written in Go assembly (6×16 float32 and 6×8
//     float64 register tiles, fused multiply-add);
//   - default build elsewhere (arm64, or amd64 without AVX2/FMA): the same
//     blocked algorithm over a portable micro-kernel in plain Go;
//   - build tag openblas: gonum's netlib binding to OpenBLAS (cgo,
//     CGO_LDFLAGS=-lopenblas), so an OpenBLAS build keeps OpenBLAS.
//
// A product of at least 2²⁰ multiply-adds is cut into chunks that the
// calling goroutine shares with one persistent helper goroutine when
// GOMAXPROCS is 2 or more (parallel.go). No call allocates once the package
// has warmed up: packing buffers are reused through a sync.Pool, and the
// helper is started once, on first use.
//
// Products with fewer than four rows and B not transposed (a batch of one)
// skip packing: each row of C is a sum of scaled rows of B, and zero
// elements of A are skipped, as the reference BLAS does.
//
// # Semantics
//
// Matrices are row-major, as in gonum's blas packages: element (i, j) of A
// is a[i*lda+j]. op(X) is X or Xᵀ as chosen by blas.NoTrans or blas.Trans
// (blas.ConjTrans is Trans for real numbers). As in the reference BLAS, β = 0
// means C is overwritten without being read (NaN in C does not propagate),
// and α = 0 or k = 0 leaves β·C.
//
// Unlike gonum's, these functions do not panic on bad arguments: they return
// an error wrapping ErrArgument that names the argument, and leave C or y
// untouched.
package gemm
