package gemm

import (
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// TestNoAllocations checks that no call allocates once warmed up
// (testing.AllocsPerRun makes one call before it counts), on shapes that
// take each path: few rows, the blocked path with edge tiles, and a product
// large enough to be split between goroutines.
func TestNoAllocations(t *testing.T) {
	for _, s := range [][3]int{{1, 128, 784}, {32, 128, 784}, {128, 10, 32}, {784, 128, 128}, {1200, 128, 128}} {
		m, n, k := s[0], s[1], s[2]
		a32, b32, c32 := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		a64, b64, c64 := make([]float64, m*k), make([]float64, k*n), make([]float64, m*n)
		for _, tc := range []struct {
			name string
			f    func()
		}{
			{"Sgemm NN", func() { _ = Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a32, k, b32, n, 0, c32, n) }},
			{"Sgemm TN", func() { _ = Sgemm(blas.Trans, blas.NoTrans, m, n, k, 1, a32, m, b32, n, 1, c32, n) }},
			{"Dgemm NT", func() { _ = Dgemm(blas.NoTrans, blas.Trans, m, n, k, 1, a64, k, b64, k, 0, c64, n) }},
			{"Daxpy", func() { _ = Daxpy(len(c64), 0.5, c64, 1, c64, 1) }},
			{"Saxpy", func() { _ = Saxpy(len(c32), 0.5, c32, 1, c32, 1) }},
		} {
			if got := testing.AllocsPerRun(20, tc.f); got != 0 {
				t.Errorf("%s m,n,k=%v: %v allocations per call, want 0", tc.name, s, got)
			}
		}
	}
}

// TestWorkspacesSurviveGC checks that an idle workspace is still there
// after garbage collections (a sync.Pool would have dropped it, and the
// next call would re-allocate about a megabyte).
func TestWorkspacesSurviveGC(t *testing.T) {
	p := newWorkspaces[float32](2)
	ws := p.get()
	p.put(ws)
	runtime.GC()
	runtime.GC()
	if got := p.get(); got != ws {
		t.Errorf("after two collections get returned a new workspace, want the one put back")
	}
}
