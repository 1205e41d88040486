package gemm

import "unsafe"

// The portable kernels: plain Go, used where no assembly kernel applies
// (arm64 and every other platform, amd64 without AVX2 and FMA) and tested
// on every platform.

func portableKernel[T float](name string) kernel[T] {
	return kernel[T]{name: name, mr: 4, nr: 4, micro: microGo4x4[T], axpy: axpyGo[T]}
}

// microGo4x4 is the micro-kernel for mr = nr = 4: sixteen accumulators in
// registers, four loads and sixteen multiply-adds per step of p.
func microGo4x4[T float](kc int, a, b, c *T, ldc, accumulate int, alpha, beta T) {
	pa := unsafe.Slice(a, 4*kc)
	pb := unsafe.Slice(b, 4*kc)
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 T
	for p := 0; p+4 <= len(pa) && p+4 <= len(pb); p += 4 {
		a0, a1, a2, a3 := pa[p], pa[p+1], pa[p+2], pa[p+3]
		b0, b1, b2, b3 := pb[p], pb[p+1], pb[p+2], pb[p+3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [4][4]T{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	for i := range 4 {
		row := cs[i*ldc : i*ldc+4]
		for j := range row {
			if accumulate != 0 {
				row[j] = alpha*acc[i][j] + beta*row[j]
			} else {
				row[j] = alpha * acc[i][j]
			}
		}
	}
}

// axpyGo sets y[i] += α·x[i] for i < len(x). The conversion T(α·x[i])
// rounds the product, which stops the compiler from fusing it with the sum
// (Go fuses x*y+z on arm64), so every platform rounds as the reference BLAS.
func axpyGo[T float](alpha T, x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += T(alpha * v)
	}
}

// axpyStrided is axpy with any non-zero increments, negative ones starting
// from the far end as in BLAS.
func axpyStrided[T float](n int, alpha T, x []T, incX int, y []T, incY int) {
	ix, iy := 0, 0
	if incX < 0 {
		ix = (1 - n) * incX
	}
	if incY < 0 {
		iy = (1 - n) * incY
	}
	for range n {
		y[iy] += T(alpha * x[ix])
		ix += incX
		iy += incY
	}
}

// axpy dispatches to the kernel's unit-stride axpy or the strided loop.
// Like the reference BLAS it returns at once when α = 0.
func axpy[T float](kern *kernel[T], n int, alpha T, x []T, incX int, y []T, incY int) {
	if n == 0 || alpha == 0 {
		return
	}
	if incX == 1 && incY == 1 {
		kern.axpy(alpha, x[:n], y[:n])
		return
	}
	axpyStrided(n, alpha, x, incX, y, incY)
}
