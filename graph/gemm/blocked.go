package gemm

// The blocked, packed GEMM of Goto and van de Geijn ("Anatomy of
// high-performance matrix multiplication", 2008), with the loop order of
// BLIS: for each nc-wide panel of B and each kc-deep slice of k, B's panel
// is packed into nr-wide slivers; for each mc-tall block of A, the block is
// packed into mr-tall slivers; then a micro-kernel multiplies each pair of
// slivers into an mr×nr tile of C held in registers. Packing makes the
// micro-kernel's reads contiguous whatever the transposes and leading
// dimensions, pads edges with zeros so the micro-kernel always computes a
// full tile, and keeps a kc×nr sliver of B in L1 and an mc×kc block of A in
// L2 while they are reused.

import "unsafe"

// Block sizes, in elements. blockK·nr values (a B sliver, 32 KiB for the
// AVX-512 kernels) fit L1 beside an A sliver; blockM·blockK (96 KiB for
// float32) fits L2. blockM is a multiple of every kernel's mr, blockN of
// every nr.
const (
	blockK = 256
	blockM = 96
	blockN = 1024
)

// A large transposed A (at least tallMin elements) is packed in blocks of
// tallBytes (1 MiB, in L2) rather than blockM rows: its rows are read
// across, and longer runs of each row are what the hardware prefetchers
// follow when A comes from memory. Measured for xᵀ·g (784×128×k, float32,
// interleaved, CPU time): k = 60,000 (A 188 MB) 138 ms against 159 ms in
// blocks of 96 rows, k = 8,192 19 against 23 ms, but k = 1,024 (A 3 MB)
// 2.1 against 1.8 ms, hence the threshold.
const (
	tallMin   = 1 << 22
	tallBytes = 1 << 20
)

// blockRows returns the height of the blocks A is packed in: a multiple of
// 12 (so of every mr).
func blockRows[T float](tA bool, m, k int) int {
	if !tA || m*k < tallMin {
		return blockM
	}
	return tallRows[T]()
}

// tallRows is the height of a tallBytes block of blockK columns of T:
// 1020 rows of float32, 504 of float64.
func tallRows[T float]() int {
	return tallBytes / (blockK * int(unsafe.Sizeof(T(0)))) / 12 * 12
}

// smallM is the number of rows below which a product with B not transposed
// skips packing: each row of C is a sum of k scaled rows of B (axpy), since
// packing B would read and write it once for at most smallM-1 uses.
const smallM = 4

// smallK is the depth up to which a product with few rows and B
// transposed is computed as plain dot products: packing would cost more
// than the arithmetic (g·Wᵀ at batch 1, k = 10: 8-11 µs packed).
const smallK = 32

// microKernel sets the mr×nr tile at c (row stride ldc) to
// α·Σ_p a[p·mr+i]·b[p·nr+j] + β·c, reading c only when accumulate is
// non-zero; a and b point to kc·mr and kc·nr packed values.
type microKernel[T float] func(kc int, a, b, c *T, ldc, accumulate int, alpha, beta T)

// rowsKernel adds to the rowsWidth values at c the sum over p < k of
// (α·a[p·inca])·b[p·ldb+j], skipping zero elements of a.
type rowsKernel[T float] func(k int, alpha T, a *T, inca int, b *T, ldb int, c *T)

// kernel is a micro-kernel with its tile shape, the unit-stride axpy used
// beside it and, if not nil, a kernel for products with few rows.
type kernel[T float] struct {
	name      string
	mr, nr    int
	micro     microKernel[T]
	axpy      func(alpha T, x, y []T) // y[i] += alpha·x[i] for i < len(x)
	rows      rowsKernel[T]
	rowsWidth int
}

// workspace holds the packing buffers of one call; workspaces keeps them.
type workspace[T float] struct {
	a    []T    // a packed mc×kc block of A
	b    []T    // a packed kc×nc panel of B
	tile []T    // an edge tile of C, mr×nr at most
	job  job[T] // the caller's job when a product is shared
}

func newWorkspace[T float]() *workspace[T] {
	return &workspace[T]{
		a:    make([]T, max(blockM, tallRows[T]())*blockK),
		b:    make([]T, blockK*blockN),
		tile: make([]T, 16*32),
		job:  job[T]{done: make(chan struct{}, 1)},
	}
}

// workspaces keeps idle workspaces for reuse. Unlike a sync.Pool, which the
// garbage collector empties, it keeps them across collections, so calls
// made during a long training run do not re-allocate their buffers (about
// 1.1 MiB for float32, 2.2 MiB for float64). It keeps at most
// cap(free) of them; a caller that finds none allocates one, and one
// returned to a full list is left to the collector.
type workspaces[T float] struct{ free chan *workspace[T] }

func newWorkspaces[T float](n int) *workspaces[T] {
	return &workspaces[T]{free: make(chan *workspace[T], n)}
}

func (p *workspaces[T]) get() *workspace[T] {
	select {
	case ws := <-p.free:
		return ws
	default:
		return newWorkspace[T]()
	}
}

func (p *workspaces[T]) put(ws *workspace[T]) {
	select {
	case p.free <- ws:
	default:
	}
}

// Idle workspaces per dtype: one per goroutine that calls at the same time
// as another (the helper keeps its own).
var (
	pool32 = newWorkspaces[float32](4)
	pool64 = newWorkspaces[float64](4)
)

// gemmSerial computes C ← α·op(A)·op(B) + β·C on the calling goroutine.
// Arguments have been checked.
func gemmSerial[T float](kern *kernel[T], ws *workspace[T], tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	if m < smallM && !tB {
		gemmRows(kern, tA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if m < smallM && k <= smallK {
		gemmDots(tA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	for jc := 0; jc < n; jc += blockN {
		nc := min(blockN, n-jc)
		for pc := 0; pc < k; pc += blockK {
			kc := min(blockK, k-pc)
			packB(ws.b, tB, b, ldb, pc, jc, kc, nc, kern.nr)
			acc, bt := 1, T(1)
			if pc == 0 {
				bt = beta
				if beta == 0 {
					acc = 0
				}
			}
			bm := blockRows[T](tA, m, k)
			for ic := 0; ic < m; ic += bm {
				mc := min(bm, m-ic)
				packA(ws.a, tA, a, lda, ic, pc, mc, kc, kern.mr)
				macro(kern, ws, 0, mc, nc, kc, alpha, bt, acc, c[ic*ldc+jc:], ldc)
			}
		}
	}
}

// macro multiplies the packed block of A (its rows from ir0 to mc) by the
// packed panel of B into C, one micro-kernel call per mr×nr tile.
func macro[T float](kern *kernel[T], ws *workspace[T], ir0, mc, nc, kc int, alpha, beta T, acc int, c []T, ldc int) {
	mr, nr := kern.mr, kern.nr
	for jr := 0; jr < nc; jr += nr {
		nw := min(nr, nc-jr)
		pb := &ws.b[jr*kc]
		for ir := ir0; ir < mc; ir += mr {
			mh := min(mr, mc-ir)
			pa := &ws.a[ir*kc]
			if mh == mr && nw == nr {
				kern.micro(kc, pa, pb, &c[ir*ldc+jr], ldc, acc, alpha, beta)
				continue
			}
			kern.micro(kc, pa, pb, &ws.tile[0], nr, 0, 1, 0)
			for i := range mh {
				row := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+nw]
				t := ws.tile[i*nr : i*nr+nw]
				if acc == 0 {
					for j := range row {
						row[j] = alpha * t[j]
					}
				} else {
					for j := range row {
						row[j] = alpha*t[j] + beta*row[j]
					}
				}
			}
		}
	}
}

// packA packs rows i0 to i0+mc and columns p0 to p0+kc of op(A) into
// mr-tall slivers: sliver s holds op(A)[i0+s·mr+i][p0+p] at
// dst[s·mr·kc+p·mr+i], zero past the last row.
func packA[T float](dst []T, trans bool, a []T, lda, i0, p0, mc, kc, mr int) {
	if trans && mr == 12 {
		packColumns12(dst, a, lda, i0, p0, mc, kc)
		return
	}
	for is := 0; is < mc; is += mr {
		mh := min(mr, mc-is)
		d := dst[is*kc : is*kc+mr*kc]
		if trans && mh == mr && mr == 6 { // op(A)[i][p] = a[p·lda+i]: array moves, not memmove calls
			// (through a local: no aliasing, so no memmove call)
			for p := range kc {
				off := (p0+p)*lda + i0 + is
				v := *(*[6]T)(a[off:])
				*(*[6]T)(d[p*6:]) = v
			}
		} else if trans {
			for p := range kc {
				off := (p0+p)*lda + i0 + is
				copy(d[p*mr:p*mr+mh], a[off:off+mh])
			}
		} else if mh == mr && mr == 12 { // op(A)[i][p] = a[i·lda+p]: a full AVX-512 sliver
			packRows12(d, a[(i0+is)*lda+p0:], lda, kc)
		} else { // four rows at a time
			i := 0
			for ; i+4 <= mh; i += 4 {
				off := (i0+is+i)*lda + p0
				r0, r1, r2, r3 := a[off:off+kc], a[off+lda:off+lda+kc], a[off+2*lda:off+2*lda+kc], a[off+3*lda:off+3*lda+kc]
				for p := range r0 {
					q := d[p*mr+i : p*mr+i+4 : p*mr+i+4]
					q[0], q[1], q[2], q[3] = r0[p], r1[p], r2[p], r3[p]
				}
			}
			for ; i < mh; i++ {
				off := (i0+is+i)*lda + p0
				for p, v := range a[off : off+kc] {
					d[p*mr+i] = v
				}
			}
		}
		if mh < mr {
			for p := range kc {
				clear(d[p*mr+mh : (p+1)*mr])
			}
		}
	}
}

// packColumns12 is packA for a transposed A and mr = 12. It walks a row
// by row (each row of the block read once, front to back, which the
// hardware prefetchers follow) rather than sliver by sliver (which reads a
// few bytes of every row per sliver: one cache miss per row at full batch,
// where a is 188 MB).
func packColumns12[T float](dst, a []T, lda, i0, p0, mc, kc int) {
	full := mc / 12 * 12
	for p := range kc {
		off := (p0+p)*lda + i0
		row := a[off : off+mc]
		for is := 0; is < full; is += 12 {
			v := *(*[12]T)(row[is:]) // through a local: no aliasing, so no memmove call
			*(*[12]T)(dst[is*kc+p*12:]) = v
		}
		if full < mc {
			d := dst[full*kc+p*12 : full*kc+p*12+12]
			n := copy(d, row[full:])
			clear(d[n:])
		}
	}
}

// packRows12 packs the first kc columns of 12 rows of a (row stride lda)
// into dst, column after column: dst[p·12+i] = a[i·lda+p].
func packRows12[T float](dst, a []T, lda, kc int) {
	r0, r1, r2, r3 := a[:kc], a[lda:lda+kc], a[2*lda:2*lda+kc], a[3*lda:3*lda+kc]
	r4, r5, r6, r7 := a[4*lda:4*lda+kc], a[5*lda:5*lda+kc], a[6*lda:6*lda+kc], a[7*lda:7*lda+kc]
	r8, r9, r10, r11 := a[8*lda:8*lda+kc], a[9*lda:9*lda+kc], a[10*lda:10*lda+kc], a[11*lda:11*lda+kc]
	// Equal lengths let the compiler drop the bounds checks in the loop.
	r1, r2, r3, r4, r5 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)], r4[:len(r0)], r5[:len(r0)]
	r6, r7, r8, r9, r10, r11 = r6[:len(r0)], r7[:len(r0)], r8[:len(r0)], r9[:len(r0)], r10[:len(r0)], r11[:len(r0)]
	dst = dst[:12*kc]
	for p := range r0 {
		q := dst[p*12 : p*12+12 : p*12+12]
		q[0], q[1], q[2], q[3] = r0[p], r1[p], r2[p], r3[p]
		q[4], q[5], q[6], q[7] = r4[p], r5[p], r6[p], r7[p]
		q[8], q[9], q[10], q[11] = r8[p], r9[p], r10[p], r11[p]
	}
}

// packB packs rows p0 to p0+kc and columns j0 to j0+nc of op(B) into
// nr-wide slivers: sliver s holds op(B)[p0+p][j0+s·nr+j] at
// dst[s·nr·kc+p·nr+j], zero past the last column.
func packB[T float](dst []T, trans bool, b []T, ldb, p0, j0, kc, nc, nr int) {
	for js := 0; js < nc; js += nr {
		nw := min(nr, nc-js)
		d := dst[js*kc : js*kc+nr*kc]
		if trans { // op(B)[p][j] = b[j·ldb+p]
			for j := range nw {
				off := (j0+js+j)*ldb + p0
				for p, v := range b[off : off+kc] {
					d[p*nr+j] = v
				}
			}
		} else if nw == nr && nr == 32 { // op(B)[p][j] = b[p·ldb+j]: array moves, not memmove calls
			for p := range kc {
				off := (p0+p)*ldb + j0 + js
				v := *(*[32]T)(b[off:])
				*(*[32]T)(d[p*32:]) = v
			}
		} else if nw == nr && nr == 16 {
			for p := range kc {
				off := (p0+p)*ldb + j0 + js
				v := *(*[16]T)(b[off:])
				*(*[16]T)(d[p*16:]) = v
			}
		} else {
			for p := range kc {
				off := (p0+p)*ldb + j0 + js
				copy(d[p*nr:p*nr+nw], b[off:off+nw])
			}
		}
		if nw < nr {
			for p := range kc {
				clear(d[p*nr+nw : (p+1)*nr])
			}
		}
	}
}

// gemmRows computes a product with few rows and B not transposed without
// packing: row i of C is β·C[i] plus α·op(A)[i][p] times row p of B, for
// each p. Like the reference BLAS, it skips zero elements of A (inputs
// after a ReLU, or image pixels, are often zero), so an Inf or NaN in a row
// of B met by a zero of A does not reach C.
func gemmRows[T float](kern *kernel[T], tA bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	scale(m, n, beta, c, ldc)
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		var ai *T
		var inca int
		if tA {
			ai, inca = &a[i], lda // op(A)[i][p] is a[p·lda+i]
		} else {
			ai, inca = &a[i*lda], 1 // op(A)[i][p] is a[i·lda+p]
		}
		j := 0
		if w := kern.rowsWidth; kern.rows != nil {
			for ; j+w <= n; j += w {
				kern.rows(k, alpha, ai, inca, &b[j], ldb, &row[j])
			}
		}
		if j == n {
			continue
		}
		for p := range k {
			var v T
			if tA {
				v = a[p*lda+i]
			} else {
				v = a[i*lda+p]
			}
			if v == 0 {
				continue
			}
			if n-j < 16 { // too short for a call to pay: h·W2 at batch 1 has n = 10
				rest, brow := row[j:], b[p*ldb+j:p*ldb+n]
				brow = brow[:len(rest)]
				for q := range rest {
					rest[q] += T(alpha*v) * brow[q]
				}
				continue
			}
			kern.axpy(alpha*v, b[p*ldb+j:p*ldb+n], row[j:])
		}
	}
}

// gemmDots computes a product with few rows, B transposed and a small k
// as dot products: C[i][j] = α·Σ_p op(A)[i][p]·b[j·ldb+p] + β·C[i][j], the
// rows of b read front to back. C is not read when β = 0.
func gemmDots[T float](tA bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	var buf [smallK]T
	for i := range m {
		ai := buf[:k] // row i of op(A)
		for p := range ai {
			if tA {
				ai[p] = a[p*lda+i]
			} else {
				ai[p] = a[i*lda+p]
			}
		}
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			brow := b[j*ldb : j*ldb+k]
			brow = brow[:len(ai)]
			var sum T
			for p, av := range ai {
				sum += av * brow[p]
			}
			if beta == 0 {
				row[j] = alpha * sum
			} else {
				row[j] = alpha*sum + beta*row[j]
			}
		}
	}
}

// scale sets C ← β·C, writing zeros without reading C when β = 0.
func scale[T float](m, n int, beta T, c []T, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}
