package bench

import (
	"unsafe"

	"fmt"
	"github.com/chewxy/math32"
	"math"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/graph/gemm"
	"gonum.org/v1/gonum/blas"
	"gorgonia.org/tensor"
)

// FloorSpec describes the two-layer network the floor computes:
// in -> hidden (Act) -> out, then softmax with categorical cross-entropy on
// class indices (Out "softmax"), or sigmoid with Keras's clipped binary
// cross-entropy (Out "sigmoid", one target column). Both losses are means
// over the rows, as descent's.
type FloorSpec struct {
	In, Hidden, Out int
	Act             string // "relu" or "tanh"
	OutAct          string // "softmax" or "sigmoid"
	Batch           int
}

// Floor is the same network written by hand: explicit GEMMs into
// preallocated buffers, no graph, no input gradient, plain SGD. It is what
// a training step costs without a framework, and the benchmark divides
// descent's time by it. Its GEMMs and axpys are descent's own (package
// graph/gemm: descent's blocked GEMM by default, OpenBLAS with the openblas
// tag), so that ratio measures the framework, not the kernel. It allocates
// nothing per step.
type Floor[T graph.Float] struct {
	spec               FloorSpec
	W1, B1, W2, B2     []T
	dW1, dB1, dW2, dB2 []T
	x, y               *tensor.Dense // batch buffers filled by data.Gather
	h, z, dz, dh       []T
	gemm               func(tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) error
	axpy               func(n int, alpha T, x []T, incX int, y []T, incY int) error
	err                error // the first error of a kernel (see Err)
	lossVal            float64
	bceLo, bceHi       float64
	hidPre             []T // pre-activation kept for tanh's derivative (unused for relu)
	xs, ys             []T
	_                  struct{}
}

// NewFloor returns a floor network with zero weights; set them with
// SetWeights.
func NewFloor[T graph.Float](s FloorSpec) (*Floor[T], error) {
	if s.In <= 0 || s.Hidden <= 0 || s.Out <= 0 || s.Batch <= 0 {
		return nil, fmt.Errorf("bench: floor spec %+v has a non-positive size", s)
	}
	if s.Act != "relu" && s.Act != "tanh" {
		return nil, fmt.Errorf("bench: floor activation %q, want relu or tanh", s.Act)
	}
	if s.OutAct != "softmax" && s.OutAct != "sigmoid" {
		return nil, fmt.Errorf("bench: floor output %q, want softmax or sigmoid", s.OutAct)
	}
	if s.OutAct == "sigmoid" && s.Out != 1 {
		return nil, fmt.Errorf("bench: floor sigmoid output has %d units, want 1", s.Out)
	}
	f := &Floor[T]{spec: s, bceLo: 1e-7, bceHi: 1 - 1e-7}
	var dt tensor.Dtype
	switch p := any(f).(type) {
	case *Floor[float64]:
		p.gemm, p.axpy, dt = gemm.Dgemm, gemm.Daxpy, tensor.Float64
	case *Floor[float32]:
		p.gemm, p.axpy, dt = gemm.Sgemm, gemm.Saxpy, tensor.Float32
	}
	mk := func(n int) []T { return make([]T, n) }
	f.W1, f.dW1 = mk(s.In*s.Hidden), mk(s.In*s.Hidden)
	f.B1, f.dB1 = mk(s.Hidden), mk(s.Hidden)
	f.W2, f.dW2 = mk(s.Hidden*s.Out), mk(s.Hidden*s.Out)
	f.B2, f.dB2 = mk(s.Out), mk(s.Out)
	f.h, f.dh, f.hidPre = mk(s.Batch*s.Hidden), mk(s.Batch*s.Hidden), mk(s.Batch*s.Hidden)
	f.z, f.dz = mk(s.Batch*s.Out), mk(s.Batch*s.Out)
	var err error
	if f.x, err = graph.ZeroTensor(dt, s.Batch, s.In); err != nil {
		return nil, err
	}
	ycols := 1
	if f.y, err = graph.ZeroTensor(dt, s.Batch, ycols); err != nil {
		return nil, err
	}
	f.xs, _ = graph.Slice[T](f.x)
	f.ys, _ = graph.Slice[T](f.y)
	return f, nil
}

// SetWeights copies W1 [in, hidden], b1, W2 [hidden, out], b2 (Keras's
// layout, as descent's Dense) from float64 values.
func (f *Floor[T]) SetWeights(w1, b1, w2, b2 []float64) error {
	for _, p := range []struct {
		dst []T
		src []float64
	}{{f.W1, w1}, {f.B1, b1}, {f.W2, w2}, {f.B2, b2}} {
		if len(p.dst) != len(p.src) {
			return fmt.Errorf("bench: floor weight has %d values, want %d", len(p.src), len(p.dst))
		}
		for i, v := range p.src {
			p.dst[i] = T(v)
		}
	}
	return nil
}

// Gather copies rows idx of x and y into the batch buffers; len(idx) must
// be the floor's batch size.
func (f *Floor[T]) Gather(x, y *tensor.Dense, idx []int) error {
	if err := data.Gather(f.x, x, idx); err != nil {
		return err
	}
	return data.Gather(f.y, y, idx)
}

// Bind makes the floor read x and y [batch, ...] in place instead of its
// batch buffers (a full batch reads the dataset itself, as descent's does).
// A later Gather copies into the batch buffers again.
func (f *Floor[T]) Bind(x, y *tensor.Dense) error {
	xs, okx := graph.Slice[T](x)
	ys, oky := graph.Slice[T](y)
	if !okx || !oky || len(xs) != f.spec.Batch*f.spec.In || len(ys) != f.spec.Batch {
		return fmt.Errorf("bench: floor bind: x %v %v and y %v %v for a batch of %d", x.Dtype(), x.Shape(), y.Dtype(), y.Shape(), f.spec.Batch)
	}
	f.xs, f.ys = xs, ys
	return nil
}

// Forward computes the output of the network for the batch buffer into
// f.z (probabilities after softmax or sigmoid) and returns nothing else.
func (f *Floor[T]) Forward() { f.forward(f.xs) }

// forward is Forward on the batch rows xs. The biases are written into the
// GEMMs' outputs (beta 1) rather than added in a pass of their own.
func (f *Floor[T]) forward(xs []T) {
	s := f.spec
	n := s.Batch
	fillBias(f.hidPre, f.B1)
	f.check(f.gemm(blas.NoTrans, blas.NoTrans, n, s.Hidden, s.In, 1, xs, s.In, f.W1, s.Hidden, 1, f.hidPre, s.Hidden))
	if s.Act == "relu" {
		for i, v := range f.hidPre {
			f.h[i] = max(v, 0)
		}
	} else {
		for i, v := range f.hidPre {
			f.h[i] = T(math.Tanh(float64(v)))
		}
	}
	fillBias(f.z, f.B2)
	f.check(f.gemm(blas.NoTrans, blas.NoTrans, n, s.Out, s.Hidden, 1, f.h, s.Hidden, f.W2, s.Out, 1, f.z, s.Out))
	if s.OutAct == "sigmoid" {
		for j, v := range f.z {
			f.z[j] = T(1 / (1 + math.Exp(-float64(v))))
		}
		return
	}
	for r := 0; r < n; r++ {
		softmaxRow(f.z[r*s.Out : (r+1)*s.Out])
	}
}

// fillBias sets every row of dst to b.
func fillBias[T graph.Float](dst, b []T) {
	for r := 0; r+len(b) <= len(dst); r += len(b) {
		copy(dst[r:r+len(b)], b)
	}
}

// softmaxRow replaces a row of logits by its softmax, one exponential per
// element, in the row's own precision (float32 through math32).
func softmaxRow[T graph.Float](z []T) {
	m := z[0]
	for _, v := range z[1:] {
		m = max(m, v)
	}
	var sum T
	for j, v := range z {
		e := expT(v - m)
		z[j] = e
		sum += e
	}
	inv := 1 / sum
	for j := range z {
		z[j] *= inv
	}
}

func expT[T graph.Float](v T) T {
	if unsafe.Sizeof(v) == 4 {
		return T(math32.Exp(float32(v)))
	}
	return T(math.Exp(float64(v)))
}

// check keeps the first error a kernel returns.
func (f *Floor[T]) check(err error) {
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("bench: floor: %w", err)
	}
}

// Err returns the first error a GEMM or axpy returned, or nil. The
// kernels fail only on invalid arguments, which NewFloor's checks rule out;
// Err is there so that such a failure could not pass unseen.
func (f *Floor[T]) Err() error { return f.err }

// Loss returns the loss of the last Step or ComputeLoss.
func (f *Floor[T]) Loss() float64 { return f.lossVal }

// ComputeLoss runs the forward pass and returns the loss without updating.
func (f *Floor[T]) ComputeLoss() float64 {
	f.Forward()
	f.lossVal = f.loss()
	return f.lossVal
}

func (f *Floor[T]) loss() float64 {
	s := f.spec
	var l float64
	for r := 0; r < s.Batch; r++ {
		if s.OutAct == "sigmoid" {
			p := min(max(float64(f.z[r]), f.bceLo), f.bceHi)
			y := float64(f.ys[r])
			l -= y*math.Log(p) + (1-y)*math.Log(1-p)
			continue
		}
		l -= math.Log(float64(f.z[r*s.Out+int(f.ys[r])]))
	}
	return l / float64(s.Batch)
}

// Step runs forward and backward on the batch buffers and applies plain SGD
// at rate lr: θ ← θ − lr·∇θ. It does not compute the input's gradient.
func (f *Floor[T]) Step(lr float64) {
	s := f.spec
	n := s.Batch
	f.Forward()
	f.lossVal = f.loss()
	inv := 1 / float64(n)
	// dz: gradient of the mean loss with respect to the output logits.
	for r := 0; r < n; r++ {
		if s.OutAct == "sigmoid" {
			p := float64(f.z[r])
			y := float64(f.ys[r])
			if p < f.bceLo || p > f.bceHi {
				f.dz[r] = 0
				continue
			}
			dp := -(y/p - (1-y)/(1-p)) * inv
			f.dz[r] = T(dp * p * (1 - p))
			continue
		}
		z, dz := f.z[r*s.Out:(r+1)*s.Out], f.dz[r*s.Out:(r+1)*s.Out]
		for j := range z {
			dz[j] = T(float64(z[j]) * inv)
		}
		dz[int(f.ys[r])] -= T(inv)
	}
	f.check(f.gemm(blas.Trans, blas.NoTrans, s.Hidden, s.Out, n, 1, f.h, s.Hidden, f.dz, s.Out, 0, f.dW2, s.Out))
	colSum(f.dB2, f.dz, n, s.Out)
	f.check(f.gemm(blas.NoTrans, blas.Trans, n, s.Hidden, s.Out, 1, f.dz, s.Out, f.W2, s.Out, 0, f.dh, s.Hidden))
	if s.Act == "relu" {
		// Branchless: the mask is 0 or 1, multiplied in.
		for i, v := range f.hidPre {
			var keep T
			if v > 0 {
				keep = 1
			}
			f.dh[i] *= keep
		}
	} else {
		for i, h := range f.h {
			f.dh[i] *= 1 - h*h
		}
	}
	f.check(f.gemm(blas.Trans, blas.NoTrans, s.In, s.Hidden, n, 1, f.xs, s.In, f.dh, s.Hidden, 0, f.dW1, s.Hidden))
	colSum(f.dB1, f.dh, n, s.Hidden)
	a := T(-lr)
	f.check(f.axpy(len(f.W1), a, f.dW1, 1, f.W1, 1))
	f.check(f.axpy(len(f.B1), a, f.dB1, 1, f.B1, 1))
	f.check(f.axpy(len(f.W2), a, f.dW2, 1, f.W2, 1))
	f.check(f.axpy(len(f.B2), a, f.dB2, 1, f.B2, 1))
}

// colSum sets dst[j] to the sum over rows of m [rows, cols].
func colSum[T graph.Float](dst, m []T, rows, cols int) {
	clear(dst)
	for r := 0; r < rows; r++ {
		row := m[r*cols : (r+1)*cols]
		for j, v := range row {
			dst[j] += v
		}
	}
}

// Predict writes the network's output for x [rows, in] into out [rows,
// out], in batches of the floor's batch size (rows must be a multiple).
func (f *Floor[T]) Predict(x *tensor.Dense, out []T) error {
	xs, ok := graph.Slice[T](x)
	if !ok {
		return fmt.Errorf("bench: floor predict: input is %v", x.Dtype())
	}
	s := f.spec
	rows := x.Shape()[0]
	if rows%s.Batch != 0 || len(out) != rows*s.Out {
		return fmt.Errorf("bench: floor predict: %d rows in batches of %d into %d values", rows, s.Batch, len(out))
	}
	for lo := 0; lo < rows; lo += s.Batch {
		f.forward(xs[lo*s.In : (lo+s.Batch)*s.In]) // read in place, no copy
		copy(out[lo*s.Out:], f.z)
	}
	return f.err
}
