package gemm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// ref is gonum's pure-Go BLAS, the reference every kernel is compared with.
var ref gonum.Implementation

// gemmFunc is one implementation under test, called as Sgemm/Dgemm are.
type gemmFunc[T float] func(tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) error

// implementations returns the exported entry point and each kernel this
// machine supports called directly through the blocked driver, on one
// goroutine and shared with the helper: on an AVX-512 machine the AVX2 and
// portable kernels are tested too.
func implementations[T float]() map[string]gemmFunc[T] {
	out := map[string]gemmFunc[T]{}
	var k T
	switch any(k).(type) {
	case float32:
		out["Sgemm"] = any(gemmFunc[float32](Sgemm)).(gemmFunc[T])
	case float64:
		out["Dgemm"] = any(gemmFunc[float64](Dgemm)).(gemmFunc[T])
	}
	for _, kern := range kernelsFor[T]() {
		name := kern.name
		out[name] = func(tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) error {
			gemmSerial(&kern, newWorkspace[T](), tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return nil
		}
		out[name+" shared"] = func(tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) error {
			gemm(&kern, poolFor[T](), true, tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return nil
		}
	}
	return out
}

func poolFor[T float]() *workspaces[T] {
	var z T
	if _, ok := any(z).(float32); ok {
		return any(pool32).(*workspaces[T])
	}
	return any(pool64).(*workspaces[T])
}

// kernelsFor returns every kernel this machine can run, fastest first,
// the portable one included.
func kernelsFor[T float]() []kernel[T] {
	k32, k64 := supportedKernels()
	var z T
	if _, ok := any(z).(float32); ok {
		return any(k32).([]kernel[T])
	}
	return any(k64).([]kernel[T])
}

// refGemm computes the reference product in float64 whatever T is, and the
// error bound of each element: with u the unit round-off of T, a sum of k
// products computed in any order is within about (k+2)·u·(|α|·Σ|a||b| +
// |β||c|) of the exact value (Higham, Accuracy and Stability of Numerical
// Algorithms, §3.1, with rounding of the inputs to T excluded because the
// inputs are already in T). Two such results differ by at most twice that.
func refGemm[T float](tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) (want, tol []float64) {
	at := func(i, p int) float64 {
		if tA == blas.NoTrans {
			return float64(a[i*lda+p])
		}
		return float64(a[p*lda+i])
	}
	bt := func(p, j int) float64 {
		if tB == blas.NoTrans {
			return float64(b[p*ldb+j])
		}
		return float64(b[j*ldb+p])
	}
	u := 0x1p-53
	var z T
	if _, ok := any(z).(float32); ok {
		u = 0x1p-24
	}
	want = make([]float64, len(c))
	tol = make([]float64, len(c))
	for i := range c {
		want[i] = float64(c[i]) // elements outside the m×n matrix keep their value
	}
	for i := range m {
		for j := range n {
			var s, sa float64
			for p := range k {
				s += at(i, p) * bt(p, j)
				sa += math.Abs(at(i, p) * bt(p, j))
			}
			cv := float64(c[i*ldc+j])
			w := float64(alpha) * s
			bound := math.Abs(float64(alpha)) * sa
			if beta != 0 {
				w += float64(beta) * cv
				bound += math.Abs(float64(beta) * cv)
			}
			want[i*ldc+j] = w
			tol[i*ldc+j] = 2*float64(k+2)*u*bound + 1e-300
		}
	}
	return want, tol
}

func randSlice[T float](rng *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rng.Float64()*2 - 1)
	}
	return s
}

type gemmCase struct {
	tA, tB           blas.Transpose
	m, n, k          int
	padA, padB, padC int // leading dimension minus the row width
	alpha, beta      float64
}

func (c gemmCase) String() string {
	t := func(x blas.Transpose) string {
		if x == blas.NoTrans {
			return "N"
		}
		return "T"
	}
	return fmt.Sprintf("%s%s/m=%d,n=%d,k=%d/pad=%d,%d,%d/alpha=%g,beta=%g", t(c.tA), t(c.tB), c.m, c.n, c.k, c.padA, c.padB, c.padC, c.alpha, c.beta)
}

// gemmCases are the shapes every implementation must get right: empty and
// one-element sizes, sizes just below and above the tile and block sizes
// (6, 16, 96, 256, 1024), descent's MNIST shapes, padded leading
// dimensions, and every α, β class (0, 1, other).
func gemmCases() []gemmCase {
	var cases []gemmCase
	trans := []blas.Transpose{blas.NoTrans, blas.Trans}
	sizes := [][3]int{
		{0, 0, 0}, {0, 3, 2}, {3, 0, 2}, {3, 2, 0}, {1, 1, 1}, {1, 7, 1}, {7, 1, 1}, {1, 1, 9},
		{2, 3, 4}, {5, 15, 7}, {6, 16, 8}, {7, 17, 9}, {13, 33, 257}, {97, 9, 5}, {3, 1030, 3},
		{2, 10, 1}, {3, 5, 2}, {3, 40, 32}, {3, 40, 33}, {1, 128, 784}, {3, 10, 128}, {32, 128, 10}, {128, 10, 32},
		{40, 128, 300}, {300, 40, 100}, {1200, 9, 100},
	}
	for _, s := range sizes {
		for _, tA := range trans {
			for _, tB := range trans {
				cases = append(cases,
					gemmCase{tA: tA, tB: tB, m: s[0], n: s[1], k: s[2], alpha: 1, beta: 0},
					gemmCase{tA: tA, tB: tB, m: s[0], n: s[1], k: s[2], padA: 3, padB: 1, padC: 2, alpha: -0.5, beta: 1},
					gemmCase{tA: tA, tB: tB, m: s[0], n: s[1], k: s[2], padA: 1, padC: 5, alpha: 0.75, beta: -2})
			}
		}
	}
	// Large enough (m·n·k ≥ parMinWork) to be shared with the helper, by
	// rows of C and by columns.
	cases = append(cases,
		gemmCase{tA: blas.NoTrans, tB: blas.NoTrans, m: 2000, n: 70, k: 121, padA: 1, alpha: 1, beta: 0},
		gemmCase{tA: blas.Trans, tB: blas.Trans, m: 2000, n: 70, k: 121, padC: 3, alpha: -0.5, beta: 1},
		gemmCase{tA: blas.NoTrans, tB: blas.Trans, m: 70, n: 1030, k: 250, alpha: 1, beta: 0},
		gemmCase{tA: blas.Trans, tB: blas.NoTrans, m: 70, n: 1030, k: 250, padB: 2, alpha: 2, beta: -1},
		// A transposed and large (m·k ≥ tallMin): packed in tall blocks.
		gemmCase{tA: blas.Trans, tB: blas.NoTrans, m: 1030, n: 12, k: 4100, padA: 1, alpha: 1, beta: 1})
	cases = append(cases,
		gemmCase{tA: blas.NoTrans, tB: blas.NoTrans, m: 5, n: 6, k: 7, alpha: 0, beta: 0.5},
		gemmCase{tA: blas.Trans, tB: blas.NoTrans, m: 100, n: 20, k: 600, padB: 7, alpha: 2, beta: 1})
	return cases
}

func testGemm[T float](t *testing.T) {
	impls := implementations[T]()
	for ci, tc := range gemmCases() {
		rng := rand.New(rand.NewPCG(uint64(ci), 13))
		ar, ac := tc.m, tc.k
		if tc.tA != blas.NoTrans {
			ar, ac = ac, ar
		}
		br, bc := tc.k, tc.n
		if tc.tB != blas.NoTrans {
			br, bc = bc, br
		}
		lda, ldb, ldc := max(1, ac+tc.padA), max(1, bc+tc.padB), max(1, tc.n+tc.padC)
		a := randSlice[T](rng, max(0, ar*lda))
		b := randSlice[T](rng, max(0, br*ldb))
		c0 := randSlice[T](rng, max(0, tc.m*ldc))
		want, tol := refGemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, T(tc.alpha), a, lda, b, ldb, T(tc.beta), c0, ldc)
		for name, f := range impls {
			c := slices.Clone(c0)
			if err := f(tc.tA, tc.tB, tc.m, tc.n, tc.k, T(tc.alpha), a, lda, b, ldb, T(tc.beta), c, ldc); err != nil {
				t.Fatalf("%s %v: %v", name, tc, err)
			}
			for i := range c {
				if d := math.Abs(float64(c[i]) - want[i]); !(d <= tol[i]) {
					t.Errorf("%s %v: c[%d] = %g, want %g ± %g", name, tc, i, c[i], want[i], tol[i])
					break
				}
			}
		}
	}
}

func TestGemmFloat32(t *testing.T) { testGemm[float32](t) }
func TestGemmFloat64(t *testing.T) { testGemm[float64](t) }

// TestGemmBetaZeroOverwritesNaN checks that β = 0 writes C without reading
// it, as BLAS specifies, in every path (blocked full and edge tiles, few
// rows, k = 0, α = 0).
func TestGemmBetaZeroOverwritesNaN(t *testing.T) {
	for _, s := range [][3]int{{8, 20, 5}, {1, 20, 5}, {8, 20, 0}} {
		for _, alpha := range []float64{1, 0} {
			for name, f := range implementations[float64]() {
				m, n, k := s[0], s[1], s[2]
				a, b := make([]float64, m*k), make([]float64, k*n)
				for i := range a {
					a[i] = 1
				}
				for i := range b {
					b[i] = 2
				}
				c := make([]float64, m*n)
				for i := range c {
					c[i] = math.NaN()
				}
				if err := f(blas.NoTrans, blas.NoTrans, m, n, k, alpha, a, max(1, k), b, n, 0, c, n); err != nil {
					t.Fatal(err)
				}
				want := alpha * 2 * float64(k)
				for i, v := range c {
					if v != want {
						t.Errorf("%s m,n,k=%v alpha=%g: c[%d] = %g, want %g", name, s, alpha, i, v, want)
						break
					}
				}
			}
		}
	}
}

func TestGemmErrors(t *testing.T) {
	a := make([]float32, 12)
	for _, tc := range []struct {
		name                   string
		tA                     blas.Transpose
		m, n, k, lda, ldb, ldc int
		lenA                   int
	}{
		{"negative m", blas.NoTrans, -1, 2, 2, 2, 2, 2, 12},
		{"lda too small", blas.NoTrans, 2, 2, 3, 2, 2, 2, 12},
		{"a too short", blas.NoTrans, 2, 2, 2, 2, 2, 2, 3},
		{"bad transpose", blas.Transpose('x'), 2, 2, 2, 2, 2, 2, 12},
		{"ldc too small", blas.NoTrans, 2, 3, 2, 2, 3, 2, 12},
	} {
		err := Sgemm(tc.tA, blas.NoTrans, tc.m, tc.n, tc.k, 1, a[:tc.lenA], tc.lda, a, tc.ldb, 0, a, tc.ldc)
		if !errors.Is(err, ErrArgument) {
			t.Errorf("%s: err = %v, want ErrArgument", tc.name, err)
		}
	}
	if err := Daxpy(3, 1, make([]float64, 3), 0, make([]float64, 3), 1); !errors.Is(err, ErrArgument) {
		t.Errorf("zero increment: err = %v, want ErrArgument", err)
	}
	if err := Saxpy(3, 1, make([]float32, 3), 2, make([]float32, 3), 1); !errors.Is(err, ErrArgument) {
		t.Errorf("x too short: err = %v, want ErrArgument", err)
	}
}

// TestGemmFewRowsSkipsZerosNotNaN checks the few-rows path's handling of
// special values: a zero of A skips its row of B, so an Inf there does
// not make NaN (as in the reference BLAS; descent's kernels only: OpenBLAS,
// behind Sgemm in an openblas build, does not skip), while a NaN of A
// reaches every element of its row of C.
func TestGemmFewRowsSkipsZerosNotNaN(t *testing.T) {
	const n, k = 130, 4
	b := make([]float32, k*n)
	for i := range b {
		b[i] = 1
	}
	for j := range n {
		b[2*n+j] = float32(math.Inf(1)) // row 2 of B, met by a zero of A
	}
	a := []float32{1, 2, 0, 3}
	for name, f := range implementations[float32]() {
		c := make([]float32, n)
		if err := f(blas.NoTrans, blas.NoTrans, 1, n, k, 1, a, k, b, n, 0, c, n); err != nil {
			t.Fatal(err)
		}
		for j, v := range c {
			if v != 6 && name != "Sgemm" { // 1+2+3
				t.Errorf("%s: c[%d] = %g, want 6 (the Inf row skipped)", name, j, v)
				break
			}
		}
		na := []float32{1, float32(math.NaN()), 1, 1}
		nb := slices.Clone(b)
		for j := range n {
			nb[2*n+j] = 1
		}
		if err := f(blas.NoTrans, blas.NoTrans, 1, n, k, 1, na, k, nb, n, 0, c, n); err != nil {
			t.Fatal(err)
		}
		for j, v := range c {
			if !math.IsNaN(float64(v)) {
				t.Errorf("%s: c[%d] = %g after a NaN in A, want NaN", name, j, v)
				break
			}
		}
	}
}

// TestGemmShares checks that a large product is handed to the helper
// goroutine (the shared implementations above would pass as well if it ran
// alone). The helper takes a job only when it waits for one, so a few
// tries are allowed.
func TestGemmShares(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("GOMAXPROCS is 1: products are never shared")
	}
	for _, s := range [][3]int{{2000, 70, 121}, {70, 1030, 250}} { // by rows, by columns
		m, n, k := s[0], s[1], s[2]
		a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		kern := kernelsFor[float32]()[0]
		before := helper.served.Load()
		for try := 0; try < 100 && helper.served.Load() == before; try++ {
			gemm(&kern, pool32, true, false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		}
		if helper.served.Load() == before {
			t.Errorf("m,n,k = %v: the helper took none of 100 products", s)
		}
	}
}
