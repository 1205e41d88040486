package gemm

// Sharing a product with a helper goroutine. A large product is cut into a
// few chunks of rows or columns of C, each an independent product that
// packs its own panels. The caller offers the job to one persistent helper
// goroutine (started on first use) without blocking, then takes chunks from
// a shared atomic counter until none is left, as does the helper if it took
// the job; the caller then waits for the helper to let go. If the helper is
// busy with another caller's product, or the other core is taken by another
// process, the caller simply does more chunks. Nothing here allocates per
// call: the job lives in the caller's pooled workspace, the helper keeps its
// own workspaces, and an unbuffered channel hands over a pointer.

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Sharing thresholds. Each chunk of rows packs all of op(B) again, each
// chunk of columns all of op(A), so chunks must be large beside that
// packing, and the caller must wait for the helper's last chunk, which on a
// machine shared with other processes can be held up by a time slice of
// the OS scheduler. Measured on the MNIST shapes on a loaded 2-core
// machine: shared products of about 13 million multiply-adds (batch 128)
// were slower than alone, those of 77 million and more (full batch) up to
// 1.9 times faster. So a product is shared from parMinWork multiply-adds,
// in chunks of about chunkWork (at most maxChunks of them, at least two).
const (
	parMinWork = 1 << 24
	chunkWork  = 1 << 22
	maxChunks  = 16
)

// parMinDepth is the smallest k, and the smallest other dimension of a
// chunk's product, for which a product is shared: below it the product is
// bound by memory and packing rather than arithmetic, and sharing it was
// measured as often slower as faster (full-batch g·Wᵀ with k = 10 and h·W
// with n = 10: from 1.6 times faster to 3 times slower over three runs on
// the loaded machine), while x·W (k = 784, n = 128) was 1.04-1.3 times
// faster in each of them.
const parMinDepth = 64

// maxRepacked is the largest operand (in elements) that chunks may each
// pack again: 1 MiB of float32, which stays in this machine's 2 MiB L2. A
// larger one would be read from memory once per chunk (xᵀ·g at full batch:
// 30 MB, measured 2.3 times slower shared than alone).
const maxRepacked = 1 << 18

// chunkSize returns the size of the chunks that cut a dimension of size d,
// in a product of work multiply-adds, into pieces of about chunkWork (two
// to maxChunks of them), multiples of unit.
func chunkSize(d, unit, work int) int {
	chunks := min(max(work/chunkWork, 2), maxChunks)
	return roundUp((d+chunks-1)/chunks, unit)
}

// spinWait bounds the yields with which a caller waits for the helper's
// last chunk before it blocks: a few hundred microseconds, about one
// chunk of chunkWork multiply-adds.
const spinWait = 2000

// chunker is a job the helper can work on.
type chunker interface{ help(h *helperState) }

// helperState is the helper goroutine's own workspaces.
type helperState struct {
	ws32 *workspace[float32]
	ws64 *workspace[float64]
}

var helper struct {
	once   sync.Once
	jobs   chan chunker
	served atomic.Int64 // jobs taken, for tests
}

func startHelper() {
	helper.jobs = make(chan chunker)
	go func() {
		h := &helperState{ws32: newWorkspace[float32](), ws64: newWorkspace[float64]()}
		for j := range helper.jobs {
			helper.served.Add(1)
			j.help(h)
		}
	}()
}

// job is one shared product.
type job[T float] struct {
	kern          *kernel[T]
	tA, tB        bool
	m, n, k       int
	alpha, beta   T
	a, b, c       []T
	lda, ldb, ldc int
	byRows        bool // chunks are rows of C (else columns)
	size, chunks  int
	next          atomic.Int64
	finished      atomic.Bool   // the helper has let go of the job
	done          chan struct{} // buffered: the helper's report never waits
}

func (j *job[T]) help(h *helperState) {
	switch j := any(j).(type) {
	case *job[float32]:
		j.run(h.ws32)
	case *job[float64]:
		j.run(h.ws64)
	}
	j.finished.Store(true)
	j.done <- struct{}{}
}

// run computes chunks until none is left.
func (j *job[T]) run(ws *workspace[T]) {
	for {
		i := int(j.next.Add(1)) - 1
		if i >= j.chunks {
			return
		}
		lo := i * j.size
		if j.byRows {
			hi := min(j.m, lo+j.size)
			var a []T
			if j.tA {
				a = j.a[lo:] // op(A)'s rows are a's columns
			} else {
				a = j.a[lo*j.lda:]
			}
			gemmSerial(j.kern, ws, j.tA, j.tB, hi-lo, j.n, j.k, j.alpha, a, j.lda, j.b, j.ldb, j.beta, j.c[lo*j.ldc:], j.ldc)
			continue
		}
		hi := min(j.n, lo+j.size)
		var b []T
		if j.tB {
			b = j.b[lo*j.ldb:] // op(B)'s columns are b's rows
		} else {
			b = j.b[lo:]
		}
		gemmSerial(j.kern, ws, j.tA, j.tB, j.m, hi-lo, j.k, j.alpha, j.a, j.lda, b, j.ldb, j.beta, j.c[lo:], j.ldc)
	}
}

// gemm computes C ← α·op(A)·op(B) + β·C, sharing the work with the helper
// when the product is large and more than one P can run goroutines.
func gemm[T float](kern *kernel[T], pool *workspaces[T], helpers bool, tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	ws := pool.get()
	defer pool.put(ws)
	if !helpers || m*n*k < parMinWork || k == 0 || alpha == 0 || (m < smallM && !tB) || runtime.GOMAXPROCS(0) < 2 {
		gemmSerial(kern, ws, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Chunks of rows each pack all of op(B) (k·n values), chunks of columns
	// all of op(A) (m·k): split the dimension whose chunks re-read an
	// operand that stays in cache, or do not share.
	byRows := k*n <= maxRepacked && (m >= n || m*k > maxRepacked)
	if byRows && min(n, k) < parMinDepth || !byRows && (m*k > maxRepacked || min(m, k) < parMinDepth) {
		gemmSerial(kern, ws, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	j := &ws.job
	*j = job[T]{kern: kern, tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc, byRows: byRows, done: j.done}
	if byRows {
		j.size = chunkSize(m, kern.mr, m*n*k)
		j.chunks = (m + j.size - 1) / j.size
	} else {
		j.size = chunkSize(n, kern.nr, m*n*k)
		j.chunks = (n + j.size - 1) / j.size
	}
	helper.once.Do(startHelper)
	shared := false
	if j.chunks > 1 {
		select {
		case helper.jobs <- j:
			shared = true
		default:
		}
	}
	j.run(ws)
	if shared {
		// The helper is finishing its last chunk: yield until it has, then
		// take its report without blocking. Blocking at once would park the
		// caller, and a parked goroutine needs a wait record that the
		// runtime now and then allocates (measured: about one call in a
		// hundred). After spinWait yields the caller blocks after all.
		for i := 0; i < spinWait && !j.finished.Load(); i++ {
			runtime.Gosched()
		}
		<-j.done
	}
	j.a, j.b, j.c = nil, nil, nil // do not keep the caller's matrices alive
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }
