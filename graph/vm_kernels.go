package graph

// Kernels of descent's VM, one per operation type found in descent's graphs.
// Each reproduces, element for element, what the operation's own Do method
// computes on the tape machine: float32 through math32 where tensor's
// engine uses it and through float64 where gorgonia's scalar functions do,
// sums in the order tensor sums, matrix products through the same BLAS.
// Operations without a kernel here run through fallbackKernel.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/chewxy/math32"
	"github.com/descentlab/descent/graph/gemm"
	"gonum.org/v1/gonum/blas"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func uintptrOf[T Float](s []T) uintptr {
	if cap(s) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(s)))
}

// is32 reports whether T is float32.
func is32[T Float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// matmul sets c = alpha·op(a)·op(b) + beta·c, row-major, through package
// gemm, the kernel descent's operations and (through gorgonia.Use) the tape
// machine use.
func matmul[T Float](ta, tb bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) error {
	tA, tB := blas.NoTrans, blas.NoTrans
	if ta {
		tA = blas.Trans
	}
	if tb {
		tB = blas.Trans
	}
	if is32[T]() {
		return gemm.Sgemm(tA, tB, m, n, k, float32(alpha), f32s(a), lda, f32s(b), ldb, float32(beta), f32s(c), ldc)
	}
	return gemm.Dgemm(tA, tB, m, n, k, float64(alpha), f64s(a), lda, f64s(b), ldb, float64(beta), f64s(c), ldc)
}

// f32s and f64s reinterpret a []T whose element type is known.
func f32s[T Float](s []T) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}
func f64s[T Float](s []T) []float64 {
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// kernelFor returns n's kernel, or nil when there is none (the caller then
// uses the fallback). An error means the node cannot run at all.
func kernelFor[T Float](n *gorgonia.Node, out *vmStore[T], in []*vmStore[T], shapes []tensor.Shape) (func() error, error) {
	shape := n.Shape()
	switch op := n.Op().(type) {
	case *denseOp:
		return denseKernel(op, out, in, shapes)
	case gemmOp:
		a, b := in[0], in[1]
		m, nn, k, ok := op.dims(shapes[0], shapes[1])
		if !ok {
			return nil, fmt.Errorf("shapes %v, %v: %w", shapes[0], shapes[1], ErrShape)
		}
		lda, ldb := shapes[0][1], shapes[1][1]
		ta, tb := op.transA, op.transB
		return func() error { return matmul(ta, tb, m, nn, k, 1, a.buf, lda, b.buf, ldb, 0, out.buf, nn) }, nil
	case colSumOp:
		a, rows := in[0], shapes[0][0]
		return func() error { clear(out.buf); colSum(out.buf, a.buf, rows); return nil }, nil
	case *softmaxOp:
		x, cols, log := in[0], shape[len(shape)-1], op.log
		return func() error { softmaxRows(out.buf, x.buf, cols, log); return nil }, nil
	case *softmaxGradOp:
		y, g, cols, log := in[0], in[1], shape[len(shape)-1], op.log
		return func() error { softmaxGradRows(out.buf, y.buf, g.buf, cols, log); return nil }, nil
	case *clipOp:
		x, lo, hi := in[0], op.lo, op.hi
		return func() error { clipTo(out.buf, x.buf, lo, hi); return nil }, nil
	case *clipGradOp:
		x, g, lo, hi := in[0], in[1], op.lo, op.hi
		return func() error { clipGrad(out.buf, x.buf, g.buf, lo, hi); return nil }, nil
	case *eluOp:
		x, alpha := in[0], op.alpha
		return func() error { elu(out.buf, x.buf, alpha); return nil }, nil
	case *eluGradOp:
		x, g, alpha := in[0], in[1], op.alpha
		return func() error { eluGrad(out.buf, x.buf, g.buf, alpha); return nil }, nil
	case stepOp:
		x := in[0]
		return func() error { step(out.buf, x.buf); return nil }, nil
	}
	switch opKind(n.Op()) {
	case "gorgonia.elemBinOp":
		return binaryKernel(n.Op().String(), out, in, shapes)
	case "gorgonia.elemUnaryOp":
		return unaryKernel(n.Op().String(), len(shapes[0]) == 0, out, in)
	case "gorgonia.linAlgBinOp":
		return matMulKernel(n.Op().String(), out, in, shapes)
	case "gorgonia.sumOp":
		return sumKernel(n.Op().String(), out, in, shapes)
	case "*gorgonia.repeatOp", "gorgonia.repeatOp":
		return repeatKernel(n.Op().String(), shape, out, in, shapes)
	}
	return nil, nil
}

func denseKernel[T Float](op *denseOp, out *vmStore[T], in []*vmStore[T], shapes []tensor.Shape) (func() error, error) {
	xs, ws := shapes[0], shapes[1]
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[0] {
		return nil, fmt.Errorf("shapes %v, %v: %w", xs, ws, ErrShape)
	}
	x, w := in[0], in[1]
	r, k, c := xs[0], xs[1], ws[1]
	if !op.bias {
		return func() error { return matmul(false, false, r, c, k, 1, x.buf, k, w.buf, c, 0, out.buf, c) }, nil
	}
	b := in[2]
	return func() error {
		fillRows(out.buf, b.buf, r)
		return matmul(false, false, r, c, k, 1, x.buf, k, w.buf, c, 1, out.buf, c)
	}, nil
}

// ---- element-wise binary operations ----

// binaryKernel handles gorgonia's elemBinOp ("+ false", ">= true"): two
// operands of the output's size, or one of them a scalar.
func binaryKernel[T Float](name string, out *vmStore[T], in []*vmStore[T], shapes []tensor.Shape) (func() error, error) {
	fields := strings.Fields(name)
	if len(fields) != 2 || len(in) != 2 {
		return nil, nil
	}
	if fields[1] != "true" && isComparison(fields[0]) {
		return nil, fmt.Errorf("comparison %q returns booleans: %w", name, ErrDType)
	}
	a, b := in[0], in[1]
	size := out.size
	aScalar, bScalar := len(shapes[0]) == 0, len(shapes[1]) == 0
	switch {
	case aScalar && bScalar && size == 1:
	case aScalar && vmSize(shapes[1]) == size:
	case bScalar && vmSize(shapes[0]) == size:
	case vmSize(shapes[0]) == size && vmSize(shapes[1]) == size:
	default:
		return nil, nil // some other broadcast: the fallback decides
	}
	switch fields[0] {
	case "+":
		return func() error { addKernel(out.buf, a.buf, b.buf); return nil }, nil
	case "-":
		return func() error { subKernel(out.buf, a.buf, b.buf); return nil }, nil
	case "⊙":
		return func() error { mulKernel(out.buf, a.buf, b.buf); return nil }, nil
	case "÷":
		return func() error { divKernel(out.buf, a.buf, b.buf); return nil }, nil
	}
	if fields[0] == "^" {
		return func() error { applyBinary(out.buf, a.buf, b.buf, powT[T]); return nil }, nil
	}
	if !isComparison(fields[0]) {
		return nil, nil
	}
	op := fields[0]
	return func() error { compareKernel(op, out.buf, a.buf, b.buf); return nil }, nil
}

func isComparison(s string) bool {
	switch s {
	case "<", ">", "<=", ">=", "==", "!=":
		return true
	}
	return false
}

// b2f is 1 for true and 0 for false, without a branch: a comparison
// compiles to a SETcc, and its byte converts to a float. A branch on the
// sign of an activation is mispredicted half the time (~6 ns an element
// against ~1 ns here, ReLU's mask over a batch of activations).
func b2f[T Float](v bool) T { return T(*(*uint8)(unsafe.Pointer(&v))) }

// compareKernel sets out to a op b (1 or 0), one of a and b possibly a
// scalar, the operation chosen once, outside the loop.
func compareKernel[T Float](op string, out, a, b []T) {
	switch {
	case len(a) == len(out) && len(b) == len(out):
		a, b = a[:len(out)], b[:len(out)]
		switch op {
		case "<":
			for i := range out {
				out[i] = b2f[T](a[i] < b[i])
			}
		case ">":
			for i := range out {
				out[i] = b2f[T](a[i] > b[i])
			}
		case "<=":
			for i := range out {
				out[i] = b2f[T](a[i] <= b[i])
			}
		case ">=":
			for i := range out {
				out[i] = b2f[T](a[i] >= b[i])
			}
		case "==":
			for i := range out {
				out[i] = b2f[T](a[i] == b[i])
			}
		case "!=":
			for i := range out {
				out[i] = b2f[T](a[i] != b[i])
			}
		}
	case len(a) == 1:
		s, b := a[0], b[:len(out)]
		switch op {
		case "<":
			for i := range out {
				out[i] = b2f[T](s < b[i])
			}
		case ">":
			for i := range out {
				out[i] = b2f[T](s > b[i])
			}
		case "<=":
			for i := range out {
				out[i] = b2f[T](s <= b[i])
			}
		case ">=":
			for i := range out {
				out[i] = b2f[T](s >= b[i])
			}
		case "==":
			for i := range out {
				out[i] = b2f[T](s == b[i])
			}
		case "!=":
			for i := range out {
				out[i] = b2f[T](s != b[i])
			}
		}
	default:
		s, a := b[0], a[:len(out)]
		switch op {
		case "<":
			for i := range out {
				out[i] = b2f[T](a[i] < s)
			}
		case ">":
			for i := range out {
				out[i] = b2f[T](a[i] > s)
			}
		case "<=":
			for i := range out {
				out[i] = b2f[T](a[i] <= s)
			}
		case ">=":
			for i := range out {
				out[i] = b2f[T](a[i] >= s)
			}
		case "==":
			for i := range out {
				out[i] = b2f[T](a[i] == s)
			}
		case "!=":
			for i := range out {
				out[i] = b2f[T](a[i] != s)
			}
		}
	}
}

func powT[T Float](x, y T) T {
	if is32[T]() {
		return T(math32.Pow(float32(x), float32(y)))
	}
	return T(math.Pow(float64(x), float64(y)))
}

func applyBinary[T Float](out, a, b []T, f func(x, y T) T) {
	switch {
	case len(a) == len(out) && len(b) == len(out):
		for i := range out {
			out[i] = f(a[i], b[i])
		}
	case len(a) == 1:
		s := a[0]
		for i := range out {
			out[i] = f(s, b[i])
		}
	default:
		s := b[0]
		for i := range out {
			out[i] = f(a[i], s)
		}
	}
}

func addKernel[T Float](out, a, b []T) {
	switch {
	case len(a) == len(out) && len(b) == len(out):
		b = b[:len(out)]
		a = a[:len(out)]
		for i := range out {
			out[i] = a[i] + b[i]
		}
	case len(a) == 1:
		s := a[0]
		b = b[:len(out)]
		for i := range out {
			out[i] = s + b[i]
		}
	default:
		s := b[0]
		a = a[:len(out)]
		for i := range out {
			out[i] = a[i] + s
		}
	}
}

func subKernel[T Float](out, a, b []T) {
	switch {
	case len(a) == len(out) && len(b) == len(out):
		b = b[:len(out)]
		a = a[:len(out)]
		for i := range out {
			out[i] = a[i] - b[i]
		}
	case len(a) == 1:
		s := a[0]
		b = b[:len(out)]
		for i := range out {
			out[i] = s - b[i]
		}
	default:
		s := b[0]
		a = a[:len(out)]
		for i := range out {
			out[i] = a[i] - s
		}
	}
}

func mulKernel[T Float](out, a, b []T) {
	switch {
	case len(a) == len(out) && len(b) == len(out):
		b = b[:len(out)]
		a = a[:len(out)]
		for i := range out {
			out[i] = a[i] * b[i]
		}
	case len(a) == 1:
		s := a[0]
		b = b[:len(out)]
		for i := range out {
			out[i] = s * b[i]
		}
	default:
		s := b[0]
		a = a[:len(out)]
		for i := range out {
			out[i] = a[i] * s
		}
	}
}

func divKernel[T Float](out, a, b []T) {
	switch {
	case len(a) == len(out) && len(b) == len(out):
		b = b[:len(out)]
		a = a[:len(out)]
		for i := range out {
			out[i] = a[i] / b[i]
		}
	case len(a) == 1:
		s := a[0]
		b = b[:len(out)]
		for i := range out {
			out[i] = s / b[i]
		}
	default:
		s := b[0]
		a = a[:len(out)]
		for i := range out {
			out[i] = a[i] / s
		}
	}
}

// ---- element-wise unary operations ----

// unaryKernel handles gorgonia's elemUnaryOp. gorgonia computes a tensor
// through tensor's engine where it has the function (math32 in float32)
// and through its own scalar functions otherwise, and a scalar always
// through its scalar functions; the two differ for tanh in float32 and for
// sign at zero. scalar says which path the tape machine takes.
func unaryKernel[T Float](name string, scalar bool, out *vmStore[T], in []*vmStore[T]) (func() error, error) {
	f := unaryFunc[T](name, scalar)
	if f == nil {
		return nil, nil
	}
	x := in[0]
	switch name {
	case "neg":
		return func() error {
			xs := x.buf[:len(out.buf)]
			for i, v := range xs {
				out.buf[i] = -v
			}
			return nil
		}, nil
	case "square":
		return func() error {
			xs := x.buf[:len(out.buf)]
			for i, v := range xs {
				out.buf[i] = v * v
			}
			return nil
		}, nil
	}
	return func() error {
		xs := x.buf[:len(out.buf)]
		for i, v := range xs {
			out.buf[i] = f(v)
		}
		return nil
	}, nil
}

// unaryFunc returns gorgonia's function for a unary operation, on the
// tensor path or the scalar path.
func unaryFunc[T Float](name string, scalar bool) func(T) T {
	if is32[T]() {
		f := unary32(name, scalar)
		if f == nil {
			return nil
		}
		return func(v T) T { return T(f(float32(v))) }
	}
	f := unary64(name, scalar)
	if f == nil {
		return nil
	}
	return func(v T) T { return T(f(float64(v))) }
}

func unary32(name string, scalar bool) func(float32) float32 {
	switch name {
	case "abs":
		return math32.Abs
	case "sign":
		if scalar {
			return func(x float32) float32 {
				if math32.Signbit(x) {
					return -1
				}
				return 1
			}
		}
		return func(x float32) float32 {
			switch {
			case x < 0:
				return -1
			case x > 0:
				return 1
			}
			return x
		}
	case "ceil":
		return math32.Ceil
	case "floor":
		return math32.Floor
	case "sin":
		return math32.Sin
	case "cos":
		return math32.Cos
	case "exp":
		return math32.Exp
	case "ln":
		return math32.Log
	case "log2":
		return math32.Log2
	case "neg":
		return func(x float32) float32 { return -x }
	case "square":
		return func(x float32) float32 { return x * x }
	case "sqrt":
		return math32.Sqrt
	case "inv":
		return func(x float32) float32 { return 1 / x }
	case "invSqrt":
		return func(x float32) float32 { return 1 / math32.Sqrt(x) }
	case "cube":
		return func(x float32) float32 { return x * x * x }
	case "tanh":
		if scalar {
			return func(x float32) float32 { return float32(math.Tanh(float64(x))) }
		}
		return math32.Tanh
	case "sigmoid":
		return func(x float32) float32 {
			if x < -88 {
				return 0
			}
			if x > 15 {
				return 1
			}
			return float32(1.0 / (1.0 + math.Exp(float64(-x))))
		}
	case "log1p":
		return math32.Log1p
	case "expm1":
		return math32.Expm1
	case "softplus":
		return func(x float32) float32 {
			if x < -103 {
				return 0
			}
			if x > 14 {
				return x
			}
			return float32(math.Log1p(math.Exp(float64(x))))
		}
	}
	return nil
}

func unary64(name string, scalar bool) func(float64) float64 {
	switch name {
	case "abs":
		return math.Abs
	case "sign":
		if scalar {
			return func(x float64) float64 {
				if math.Signbit(x) {
					return -1
				}
				return 1
			}
		}
		return func(x float64) float64 {
			switch {
			case x < 0:
				return -1
			case x > 0:
				return 1
			}
			return x
		}
	case "ceil":
		return math.Ceil
	case "floor":
		return math.Floor
	case "sin":
		return math.Sin
	case "cos":
		return math.Cos
	case "exp":
		return math.Exp
	case "ln":
		return math.Log
	case "log2":
		return math.Log2
	case "neg":
		return func(x float64) float64 { return -x }
	case "square":
		return func(x float64) float64 { return x * x }
	case "sqrt":
		return math.Sqrt
	case "inv":
		return func(x float64) float64 { return 1 / x }
	case "invSqrt":
		return func(x float64) float64 { return 1 / math.Sqrt(x) }
	case "cube":
		return func(x float64) float64 { return x * x * x }
	case "tanh":
		return math.Tanh
	case "sigmoid":
		return func(x float64) float64 {
			if x < -709 {
				return 0
			}
			if x > 19 {
				return 1
			}
			return 1.0 / (1.0 + math.Exp(-x))
		}
	case "log1p":
		return math.Log1p
	case "expm1":
		return math.Expm1
	case "softplus":
		return func(x float64) float64 {
			if x < -708 {
				return 0
			}
			if x > 16 {
				return x
			}
			return math.Log1p(math.Exp(x))
		}
	}
	return nil
}

// ---- matrix products, sums, repeats ----

// matMulKernel handles gorgonia's linAlgBinOp for matrix × matrix in its
// transposed forms ("A × B", "Aᵀ × B", "A × Bᵀ", "Aᵀ × Bᵀ") as one GEMM.
func matMulKernel[T Float](name string, out *vmStore[T], in []*vmStore[T], shapes []tensor.Shape) (func() error, error) {
	i := strings.Index(name, "×")
	if i < 0 || !strings.HasPrefix(name, "A") || !strings.Contains(name[i:], "B") {
		return nil, nil
	}
	as, bs := shapes[0], shapes[1]
	if len(as) != 2 || len(bs) != 2 {
		return nil, nil
	}
	ta, tb := strings.Contains(name[:i], "ᵀ"), strings.Contains(name[i:], "ᵀ")
	m, k := as[0], as[1]
	if ta {
		m, k = k, m
	}
	kb, n := bs[0], bs[1]
	if tb {
		kb, n = n, kb
	}
	if k != kb || m*n != out.size {
		return nil, fmt.Errorf("%s of %v and %v: %w", name, as, bs, ErrShape)
	}
	a, b := in[0], in[1]
	lda, ldb := as[1], bs[1]
	return func() error { return matmul(ta, tb, m, n, k, 1, a.buf, lda, b.buf, ldb, 0, out.buf, n) }, nil
}

// sumKernel handles gorgonia's sumOp ("Σ[0 1]"). tensor sums all axes as
// one flat loop from zero, the first axis of a matrix by adding each row to
// a copy of the first, and the last axis row by row from zero.
func sumKernel[T Float](name string, out *vmStore[T], in []*vmStore[T], shapes []tensor.Shape) (func() error, error) {
	axes, ok := parseAxes(strings.TrimPrefix(name, "Σ"))
	if !ok {
		return nil, nil
	}
	x, xs := in[0], shapes[0]
	all := len(axes) == len(xs)
	for i, a := range axes {
		all = all && a == i
	}
	switch {
	case all || len(xs) == 0:
		return func() error {
			var s T
			for _, v := range x.buf {
				s += v
			}
			out.buf[0] = s
			return nil
		}, nil
	case len(xs) == 2 && len(axes) == 1 && axes[0] == 0:
		rows, cols := xs[0], xs[1]
		return func() error {
			o := out.buf[:cols]
			copy(o, x.buf[:cols])
			for r := 1; r < rows; r++ {
				row := x.buf[r*cols : (r+1)*cols]
				for j, v := range row {
					o[j] += v
				}
			}
			return nil
		}, nil
	case len(xs) == 2 && len(axes) == 1 && axes[0] == 1:
		rows, cols := xs[0], xs[1]
		return func() error {
			for r := 0; r < rows; r++ {
				var s T
				for _, v := range x.buf[r*cols : (r+1)*cols] {
					s += v
				}
				out.buf[r] = s
			}
			return nil
		}, nil
	}
	return nil, nil
}

// parseAxes parses "[0 1]".
func parseAxes(s string) ([]int, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, false
	}
	var axes []int
	for _, f := range strings.Fields(s[1 : len(s)-1]) {
		a, err := strconv.Atoi(f)
		if err != nil {
			return nil, false
		}
		axes = append(axes, a)
	}
	return axes, true
}

// repeatKernel handles gorgonia's repeatOp ("Repeat0"), numpy's repeat of a
// scalar, a vector or a matrix along one axis.
func repeatKernel[T Float](name string, shape tensor.Shape, out *vmStore[T], in []*vmStore[T], shapes []tensor.Shape) (func() error, error) {
	axis, err := strconv.Atoi(strings.TrimPrefix(name, "Repeat"))
	if err != nil {
		return nil, nil
	}
	x, xs := in[0], shapes[0]
	switch {
	case vmSize(xs) == 1:
		return func() error {
			v := x.buf[0]
			for i := range out.buf {
				out.buf[i] = v
			}
			return nil
		}, nil
	case len(xs) == 2 && len(shape) == 2 && axis == 0 && xs[1] == shape[1] && shape[0]%xs[0] == 0:
		rep, cols := shape[0]/xs[0], shape[1]
		return func() error {
			for r := 0; r < shape[0]; r++ {
				src := (r / rep) * cols
				copy(out.buf[r*cols:(r+1)*cols], x.buf[src:src+cols])
			}
			return nil
		}, nil
	case len(xs) == 2 && len(shape) == 2 && axis == 1 && xs[0] == shape[0] && shape[1]%xs[1] == 0:
		rep, cols, xc := shape[1]/xs[1], shape[1], xs[1]
		return func() error {
			for r := 0; r < shape[0]; r++ {
				o, src := out.buf[r*cols:(r+1)*cols], x.buf[r*xc:(r+1)*xc]
				for j := range o {
					o[j] = src[j/rep]
				}
			}
			return nil
		}, nil
	case len(xs) == 1 && len(shape) == 1 && axis == 0 && shape[0]%xs[0] == 0:
		rep := shape[0] / xs[0]
		return func() error {
			for i := range out.buf {
				out.buf[i] = x.buf[i/rep]
			}
			return nil
		}, nil
	}
	return nil, nil
}

// ---- the fallback ----

// fallbackKernel runs n's operation through its own Do method on values
// wrapping the VM's buffers, and copies the result into n's buffer. It
// allocates what Do allocates; every operation gorgonia can build runs.
func fallbackKernel[T Float](n *gorgonia.Node, out *vmStore[T], in []*vmStore[T], shapes []tensor.Shape) (func() error, error) {
	op := n.Op()
	dt := n.Dtype()
	args := make([]gorgonia.Value, len(in))
	views := make([]uintptr, len(in))
	makeArg := func(j int) {
		if len(shapes[j]) == 0 {
			if args[j] == nil {
				args[j] = zeroScalar[T]()
			}
			switch v := args[j].(type) {
			case *gorgonia.F32:
				*v = gorgonia.F32(in[j].buf[0])
			case *gorgonia.F64:
				*v = gorgonia.F64(in[j].buf[0])
			}
			return
		}
		if p := uintptrOf(in[j].buf); args[j] == nil || views[j] != p {
			args[j] = tensor.New(tensor.Of(dt), tensor.WithBacking(in[j].buf[:len(in[j].buf):len(in[j].buf)]), tensor.WithShape(shapes[j].Clone()...))
			views[j] = p
		} else {
			// Do may have transposed or reshaped the view: restore it.
			d := args[j].(*tensor.Dense)
			if !d.Shape().Eq(shapes[j]) || !d.IsNativelyAccessible() || d.IsView() {
				args[j] = tensor.New(tensor.Of(dt), tensor.WithBacking(in[j].buf[:len(in[j].buf):len(in[j].buf)]), tensor.WithShape(shapes[j].Clone()...))
			}
		}
	}
	return func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = &PanicError{Op: "graph: " + op.String(), Value: r}
			}
		}()
		for j := range in {
			makeArg(j)
		}
		v, err := op.Do(args...)
		if err != nil {
			return err
		}
		vals, err := valueInto(out.buf, v)
		if err != nil {
			return err
		}
		if vals != len(out.buf) {
			return fmt.Errorf("%v returned %d elements, want %d: %w", op, vals, len(out.buf), ErrShape)
		}
		return nil
	}, nil
}

// valueInto copies a float value into dst and returns how many elements it
// had.
func valueInto[T Float](dst []T, v gorgonia.Value) (int, error) {
	switch v := v.(type) {
	case *gorgonia.F32:
		dst[0] = T(*v)
		return 1, nil
	case *gorgonia.F64:
		dst[0] = T(*v)
		return 1, nil
	case *tensor.Dense:
		if !v.IsNativelyAccessible() {
			return 0, fmt.Errorf("result is not natively accessible")
		}
		if v.IsView() && !v.IsMaterializable() {
			return 0, fmt.Errorf("result is an unmaterialisable view")
		}
		if v.IsView() {
			v = v.Materialize().(*tensor.Dense)
		}
		switch d := v.Data().(type) {
		case []float32:
			if len(d) != len(dst) {
				return len(d), nil
			}
			for i, x := range d {
				dst[i] = T(x)
			}
			return len(d), nil
		case []float64:
			if len(d) != len(dst) {
				return len(d), nil
			}
			for i, x := range d {
				dst[i] = T(x)
			}
			return len(d), nil
		case float32:
			dst[0] = T(d)
			return 1, nil
		case float64:
			dst[0] = T(d)
			return 1, nil
		}
		return 0, fmt.Errorf("result of dtype %v: %w", v.Dtype(), ErrDType)
	}
	return 0, fmt.Errorf("result %T: %w", v, ErrDType)
}
