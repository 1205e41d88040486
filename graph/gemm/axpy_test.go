package gemm

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// TestAxpyMatchesGonum checks Saxpy and Daxpy, and each kernel's axpy,
// bit for bit against the reference BLAS's arithmetic: the product α·x[i]
// rounded, then the sum rounded (no fused multiply-add), so no tolerance is
// needed. On amd64 that is also what gonum computes; gonum's pure Go on
// other platforms lets the compiler fuse (Go fuses x*y+z on arm64), so it
// is compared there only on amd64.
func TestAxpyMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ n, incX, incY int }{
		{0, 1, 1}, {1, 1, 1}, {7, 1, 1}, {8, 1, 1}, {33, 1, 1}, {100, 1, 1}, {1000, 1, 1},
		{9, 2, 1}, {9, 1, 3}, {9, -1, 1}, {9, 2, -3}, {9, -2, -1},
	} {
		lx, ly := max(1, 1+(tc.n-1)*abs(tc.incX)), max(1, 1+(tc.n-1)*abs(tc.incY))
		x32, y32 := randSlice[float32](rng, lx), randSlice[float32](rng, ly)
		x64, y64 := randSlice[float64](rng, lx), randSlice[float64](rng, ly)
		const a32, a64 = float32(-0.37), -0.37

		want32, want64 := unfusedAxpy(tc.n, a32, x32, tc.incX, y32, tc.incY), unfusedAxpy(tc.n, a64, x64, tc.incX, y64, tc.incY)
		if runtime.GOARCH == "amd64" {
			g32, g64 := slices.Clone(y32), slices.Clone(y64)
			ref.Saxpy(tc.n, a32, x32, tc.incX, g32, tc.incY)
			ref.Daxpy(tc.n, a64, x64, tc.incX, g64, tc.incY)
			if !slices.Equal(g32, want32) || !slices.Equal(g64, want64) {
				t.Errorf("n=%d incX=%d incY=%d: gonum's axpy differs from the unfused reference", tc.n, tc.incX, tc.incY)
			}
		}

		got32, got64 := slices.Clone(y32), slices.Clone(y64)
		if err := Saxpy(tc.n, a32, x32, tc.incX, got32, tc.incY); err != nil {
			t.Fatal(err)
		}
		if err := Daxpy(tc.n, a64, x64, tc.incX, got64, tc.incY); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got32, want32) || !slices.Equal(got64, want64) {
			t.Errorf("n=%d incX=%d incY=%d: Saxpy or Daxpy differs from the reference", tc.n, tc.incX, tc.incY)
		}
		if tc.incX != 1 || tc.incY != 1 {
			continue
		}
		k32, k64 := supportedKernels()
		for _, kern := range k32 {
			got := slices.Clone(y32)
			axpy(&kern, tc.n, a32, x32, 1, got, 1)
			if !slices.Equal(got, want32) {
				t.Errorf("n=%d: %q axpy float32 differs from the reference", tc.n, kern.name)
			}
		}
		for _, kern := range k64 {
			got := slices.Clone(y64)
			axpy(&kern, tc.n, a64, x64, 1, got, 1)
			if !slices.Equal(got, want64) {
				t.Errorf("n=%d: %q axpy float64 differs from the reference", tc.n, kern.name)
			}
		}
	}
}

// unfusedAxpy returns a copy of y with y[i·incY] += α·x[i·incX], walking
// negative increments from the far end, with the product rounded to T
// before the sum (the conversion forbids fusing).
func unfusedAxpy[T float](n int, alpha T, x []T, incX int, y []T, incY int) []T {
	y = slices.Clone(y)
	for i := range n {
		ix, iy := i*incX, i*incY
		if incX < 0 {
			ix = (i - n + 1) * incX
		}
		if incY < 0 {
			iy = (i - n + 1) * incY
		}
		y[iy] = y[iy] + T(alpha*x[ix])
	}
	return y
}
