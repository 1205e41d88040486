package gemm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// FuzzGemm checks every implementation against the float64 reference
// (refGemm's tolerance) on shapes, transposes, padded leading dimensions
// and α, β drawn from the fuzzer's bytes, in float32 and float64.
func FuzzGemm(f *testing.F) {
	f.Add(uint8(2), uint8(10), uint8(1), uint8(1), uint8(0), uint8(0), uint64(1))
	f.Add(uint8(7), uint8(17), uint8(9), uint8(2), uint8(3), uint8(1), uint64(2))
	f.Add(uint8(97), uint8(33), uint8(200), uint8(3), uint8(9), uint8(2), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, trans, pads, ab uint8, seed uint64) {
		tc := gemmCase{
			tA: blas.NoTrans, tB: blas.NoTrans,
			m: int(m), n: int(n), k: int(k),
			padA: int(pads & 3), padB: int(pads >> 2 & 3), padC: int(pads >> 4 & 3),
			alpha: []float64{1, 0, -0.5, 2}[ab&3], beta: []float64{0, 1, -2, 0.25}[ab>>2&3],
		}
		if trans&1 != 0 {
			tc.tA = blas.Trans
		}
		if trans&2 != 0 {
			tc.tB = blas.Trans
		}
		fuzzGemm[float32](t, tc, seed)
		fuzzGemm[float64](t, tc, seed)
	})
}

func fuzzGemm[T float](t *testing.T, tc gemmCase, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	ar, ac := tc.m, tc.k
	if tc.tA != blas.NoTrans {
		ar, ac = ac, ar
	}
	br, bc := tc.k, tc.n
	if tc.tB != blas.NoTrans {
		br, bc = bc, br
	}
	lda, ldb, ldc := max(1, ac+tc.padA), max(1, bc+tc.padB), max(1, tc.n+tc.padC)
	a := randSlice[T](rng, ar*lda)
	b := randSlice[T](rng, br*ldb)
	c0 := randSlice[T](rng, tc.m*ldc)
	want, tol := refGemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, T(tc.alpha), a, lda, b, ldb, T(tc.beta), c0, ldc)
	for name, f := range implementations[T]() {
		c := slices.Clone(c0)
		if err := f(tc.tA, tc.tB, tc.m, tc.n, tc.k, T(tc.alpha), a, lda, b, ldb, T(tc.beta), c, ldc); err != nil {
			t.Fatalf("%s %v: %v", name, tc, err)
		}
		for i := range c {
			if d := math.Abs(float64(c[i]) - want[i]); !(d <= tol[i]) {
				t.Fatalf("%s %v: c[%d] = %g, want %g ± %g", name, tc, i, c[i], want[i], tol[i])
			}
		}
	}
}
