package graph

// Kernels of descent's executor (exec.go): plain loops over the backing
// slices of float32 or float64 tensors, and the BLAS calls of the matrix
// products. They never allocate.

import (
	"math"
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// blasOps are the BLAS routines for one element type, looked up once per
// program so that the kernels need no interface conversion per call.
type blasOps[T Float] struct {
	gemm func(tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)
	ger  func(m, n int, alpha T, x []T, incX int, y []T, incY int, a []T, lda int)
}

func blasFor[T Float]() blasOps[T] {
	var o blasOps[T]
	switch p := any(&o).(type) {
	case *blasOps[float64]:
		impl := blas64.Implementation()
		p.gemm, p.ger = impl.Dgemm, impl.Dger
	case *blasOps[float32]:
		impl := blas32.Implementation()
		p.gemm, p.ger = impl.Sgemm, impl.Sger
	}
	return o
}

// matMul sets c [n, m] to a [n, k] · b [k, m] (plus c when acc).
func (o blasOps[T]) matMul(c, a, b []T, n, k, m int, acc bool) {
	beta := T(0)
	if acc {
		beta = 1
	}
	o.gemm(blas.NoTrans, blas.NoTrans, n, m, k, 1, a, k, b, m, beta, c, m)
}

// matMulBT sets c [n, k] to g [n, m] · bᵀ with b [k, m] (plus c when acc).
func (o blasOps[T]) matMulBT(c, g, b []T, n, k, m int, acc bool) {
	beta := T(0)
	if acc {
		beta = 1
	}
	o.gemm(blas.NoTrans, blas.Trans, n, k, m, 1, g, m, b, m, beta, c, k)
}

// matMulAT sets c [k, m] to aᵀ · g with a [n, k] and g [n, m] (plus c when
// acc). A single row is a rank-one update, which gonum would otherwise
// split across goroutines.
func (o blasOps[T]) matMulAT(c, a, g []T, n, k, m int, acc bool) {
	if n == 1 {
		if !acc {
			clear(c)
		}
		o.ger(k, m, 1, a, 1, g, 1, c, m)
		return
	}
	beta := T(0)
	if acc {
		beta = 1
	}
	o.gemm(blas.Trans, blas.NoTrans, k, m, n, 1, a, k, g, m, beta, c, m)
}

// fillRows sets every row of c [n, k] to b [k].
func fillRows[T Float](c, b []T) {
	k := len(b)
	for r := 0; r+k <= len(c); r += k {
		copy(c[r:r+k], b)
	}
}

// addRows adds b [k] to every row of c [n, k] into out.
func addRows[T Float](out, c, b []T) {
	k := len(b)
	for r := 0; r+k <= len(c); r += k {
		o, x := out[r:r+k], c[r:r+k]
		for j, v := range b {
			o[j] = x[j] + v
		}
	}
}

// colSums sets out [k] to the column sums of g [n, k].
func colSums[T Float](out, g []T) {
	k := len(out)
	clear(out)
	for r := 0; r+k <= len(g); r += k {
		row := g[r : r+k]
		for j, v := range row {
			out[j] += v
		}
	}
}

// addTo adds src to dst element-wise.
func addTo[T Float](dst, src []T) {
	for i, v := range src {
		dst[i] += v
	}
}

// binaryFwd computes out = a ∘ b element-wise, one of a and b possibly a
// single value broadcast over the other.
func binaryFwd[T Float](kind opKind, out, a, b []T) {
	switch {
	case len(a) == len(out) && len(b) == len(out):
		switch kind {
		case opAdd:
			for i := range out {
				out[i] = a[i] + b[i]
			}
		case opSub:
			for i := range out {
				out[i] = a[i] - b[i]
			}
		case opMul:
			for i := range out {
				out[i] = a[i] * b[i]
			}
		case opDiv:
			for i := range out {
				out[i] = a[i] / b[i]
			}
		}
	case len(b) == 1:
		s := b[0]
		switch kind {
		case opAdd:
			for i := range out {
				out[i] = a[i] + s
			}
		case opSub:
			for i := range out {
				out[i] = a[i] - s
			}
		case opMul:
			for i := range out {
				out[i] = a[i] * s
			}
		case opDiv:
			for i := range out {
				out[i] = a[i] / s
			}
		}
	default: // len(a) == 1
		s := a[0]
		switch kind {
		case opAdd:
			for i := range out {
				out[i] = s + b[i]
			}
		case opSub:
			for i := range out {
				out[i] = s - b[i]
			}
		case opMul:
			for i := range out {
				out[i] = s * b[i]
			}
		case opDiv:
			for i := range out {
				out[i] = s / b[i]
			}
		}
	}
}

// at returns s[i], or s[0] for a broadcast single value.
func at[T Float](s []T, i int) T {
	if len(s) == 1 {
		return s[0]
	}
	return s[i]
}

// binaryGrad sets dst to the gradient of a ∘ b with respect to operand j
// (0 for a, 1 for b) given the output's gradient g. When the operand is a
// broadcast single value, its gradient is the sum over the output.
func binaryGrad[T Float](kind opKind, j int, dst, g, a, b []T) {
	// Per-element contribution c_i; reduce when dst is a single value
	// broadcast over a larger output.
	reduce := len(dst) == 1 && len(g) > 1
	var sum float64
	put := func(i int, c T) {
		if reduce {
			sum += float64(c)
		} else {
			dst[i] = c
		}
	}
	switch {
	case kind == opAdd || (kind == opSub && j == 0):
		if !reduce {
			copy(dst, g)
			return
		}
		for _, v := range g {
			sum += float64(v)
		}
	case kind == opSub:
		for i, v := range g {
			put(i, -v)
		}
	case kind == opMul && j == 0:
		if len(b) == 1 && !reduce {
			s := b[0]
			for i, v := range g {
				dst[i] = v * s
			}
			return
		}
		for i, v := range g {
			put(i, v*at(b, i))
		}
	case kind == opMul:
		if len(a) == 1 && !reduce {
			s := a[0]
			for i, v := range g {
				dst[i] = v * s
			}
			return
		}
		for i, v := range g {
			put(i, v*at(a, i))
		}
	case kind == opDiv && j == 0:
		for i, v := range g {
			put(i, v/at(b, i))
		}
	default: // d(a/b)/db = -a/b²
		for i, v := range g {
			bi := at(b, i)
			put(i, -v*at(a, i)/(bi*bi))
		}
	}
	if reduce {
		dst[0] = T(sum)
	}
}

// sigmoid and softplus follow gorgonia's kernels, cut-offs included, so
// that both executors agree to the last bit.
func sigmoid64(x float64) float64 {
	if x < -709 {
		return 0
	}
	if x > 19 {
		return 1
	}
	return 1 / (1 + math.Exp(-x))
}

func sigmoid32(x float32) float32 {
	if x < -88 {
		return 0
	}
	if x > 15 {
		return 1
	}
	return float32(1 / (1 + math.Exp(float64(-x))))
}

func sigmoidT[T Float](x T) T {
	if unsafe.Sizeof(x) == 4 {
		return T(sigmoid32(float32(x)))
	}
	return T(sigmoid64(float64(x)))
}

func softplusT[T Float](x T) T {
	if unsafe.Sizeof(x) == 4 {
		v := float32(x)
		if v < -103 {
			return 0
		}
		if v > 14 {
			return x
		}
		return T(math.Log1p(math.Exp(float64(v))))
	}
	v := float64(x)
	if v < -708 {
		return 0
	}
	if v > 16 {
		return x
	}
	return T(math.Log1p(math.Exp(v)))
}

// unaryFwd computes out = f(x) element-wise.
func unaryFwd[T Float](kind opKind, alpha float64, out, x []T) {
	switch kind {
	case opNeg:
		for i, v := range x {
			out[i] = -v
		}
	case opExp:
		for i, v := range x {
			out[i] = T(math.Exp(float64(v)))
		}
	case opLog:
		for i, v := range x {
			out[i] = T(math.Log(float64(v)))
		}
	case opSquare:
		for i, v := range x {
			out[i] = v * v
		}
	case opSqrt:
		for i, v := range x {
			out[i] = T(math.Sqrt(float64(v)))
		}
	case opTanh:
		for i, v := range x {
			out[i] = T(math.Tanh(float64(v)))
		}
	case opSigmoid:
		for i, v := range x {
			out[i] = sigmoidT(v)
		}
	case opSoftplus:
		for i, v := range x {
			out[i] = softplusT(v)
		}
	case opReLU:
		for i, v := range x {
			if v >= 0 {
				out[i] = v
			} else {
				out[i] = 0
			}
		}
	case opLeakyReLU:
		a := T(alpha)
		for i, v := range x {
			if v >= 0 {
				out[i] = v
			} else {
				out[i] = v * a
			}
		}
	case opELU:
		elu(out, x, alpha)
	case opStep:
		step(out, x)
	}
}

// unaryGrad sets dst to g ⊙ f'(x), using the output y where it is cheaper.
func unaryGrad[T Float](kind opKind, alpha float64, dst, g, x, y []T) {
	switch kind {
	case opNeg:
		for i, v := range g {
			dst[i] = -v
		}
	case opExp:
		for i, v := range g {
			dst[i] = v * y[i]
		}
	case opLog:
		for i, v := range g {
			dst[i] = v / x[i]
		}
	case opSquare:
		for i, v := range g {
			dst[i] = 2 * x[i] * v
		}
	case opSqrt:
		for i, v := range g {
			dst[i] = v / (2 * y[i])
		}
	case opTanh:
		for i, v := range g {
			dst[i] = (1 - y[i]*y[i]) * v
		}
	case opSigmoid:
		for i, v := range g {
			dst[i] = y[i] * (1 - y[i]) * v
		}
	case opSoftplus:
		for i, v := range g {
			dst[i] = sigmoidT(x[i]) * v
		}
	case opReLU:
		// The derivative at 0 is 1, as gorgonia's x ⊙ (x >= 0).
		for i, v := range g {
			if x[i] >= 0 {
				dst[i] = v
			} else {
				dst[i] = 0
			}
		}
	case opLeakyReLU:
		a := T(alpha)
		for i, v := range g {
			if x[i] >= 0 {
				dst[i] = v
			} else {
				dst[i] = v * a
			}
		}
	case opELU:
		eluGrad(dst, x, g, alpha)
	}
}

// sumAll returns the sum of s, accumulated in float64.
func sumAll[T Float](s []T) T {
	var sum float64
	for _, v := range s {
		sum += float64(v)
	}
	return T(sum)
}
