package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// mlpShape is one product of a training step of descent's MNIST MLP
// (784-128-10) at batch size b.
type mlpShape struct {
	name    string
	tA, tB  bool
	m, n, k int
}

func mlpShapes(b int) []mlpShape {
	return []mlpShape{
		{"xW1", false, false, b, 128, 784}, // forward, layer 1: x[b,784]·W1[784,128]
		{"hW2", false, false, b, 10, 128},  // forward, layer 2: h[b,128]·W2[128,10]
		{"g2W2T", false, true, b, 128, 10}, // backward: g2[b,10]·W2ᵀ
		{"hTg2", true, false, 128, 10, b},  // backward: hᵀ·g2, [128,b]·[b,10]
		{"xTg1", true, false, 784, 128, b}, // backward: xᵀ·g1, [784,b]·[b,128]
	}
}

// BenchmarkMLP times each product of an MNIST MLP step at batch 1, 32 and
// 128 (add 60000 with -mlpfull... see BenchmarkMLPFull) on one goroutine and
// shared with the helper, in float32 and float64. Compare the kernels'
// GFLOP/s with the gflop/s metric.
func BenchmarkMLP(b *testing.B) {
	for _, batch := range []int{1, 32, 128} {
		benchMLP(b, batch)
	}
}

// BenchmarkMLPFull is BenchmarkMLP at batch 60,000 (full-batch MNIST): a
// few hundred milliseconds per product, so it only runs when asked for by
// name (-bench MLPFull).
func BenchmarkMLPFull(b *testing.B) { benchMLP(b, 60000) }

func benchMLP(b *testing.B, batch int) {
	for _, s := range mlpShapes(batch) {
		for _, helpers := range []bool{false, true} {
			g := 1
			if helpers {
				g = 2
			}
			name := fmt.Sprintf("b=%d/%s/g=%d", batch, s.name, g)
			b.Run(name+"/float32", func(b *testing.B) { benchShape[float32](b, s, helpers) })
			b.Run(name+"/float64", func(b *testing.B) { benchShape[float64](b, s, helpers) })
		}
	}
}

func benchShape[T float](b *testing.B, s mlpShape, helpers bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, bb, c := randSlice[T](rng, s.m*s.k), randSlice[T](rng, s.k*s.n), make([]T, s.m*s.n)
	lda, ldb := s.k, s.n
	if s.tA {
		lda = s.m
	}
	if s.tB {
		ldb = s.k
	}
	kern := kernelsFor[T]()[0]
	pool := poolFor[T]()
	// One call first, so that the workspace it allocates is not counted.
	gemm(&kern, pool, helpers, s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
	b.ReportAllocs()
	for b.Loop() {
		gemm(&kern, pool, helpers, s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
	}
	b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "gflop/s")
}

// BenchmarkMicroKernel times the micro-kernel alone on packed slivers that
// stay in L1: the ceiling of the blocked GEMM on this machine.
func BenchmarkMicroKernel(b *testing.B) {
	k32, k64 := supportedKernels()
	for _, k := range k32 {
		b.Run(fmt.Sprintf("%dx%d/float32", k.mr, k.nr), func(b *testing.B) { benchMicro(b, k) })
	}
	for _, k := range k64 {
		b.Run(fmt.Sprintf("%dx%d/float64", k.mr, k.nr), func(b *testing.B) { benchMicro(b, k) })
	}
}

func benchMicro[T float](b *testing.B, kern kernel[T]) {
	const kc = blockK
	rng := rand.New(rand.NewPCG(1, 2))
	pa, pb, c := randSlice[T](rng, kc*kern.mr), randSlice[T](rng, kc*kern.nr), make([]T, kern.mr*kern.nr)
	for b.Loop() {
		kern.micro(kc, &pa[0], &pb[0], &c[0], kern.nr, 1, 1, 1)
	}
	b.ReportMetric(2*float64(kc*kern.mr*kern.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "gflop/s")
}
