package graph

// Custom gorgonia operations for what gorgonia v0.9.18 gets wrong or lacks:
// a row-stable softmax and log-softmax, clipping, ELU and the Heaviside step.
// Each differentiable op defines its local derivative through SymDiff as
// another op in the graph, so gradients still come from gorgonia's symbolic
// differentiation; the kernels validate their inputs and return errors
// rather than panic, since they run inside the tape machine's goroutine.

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func typeUnary() hm.Type  { a := hm.TypeVariable('a'); return hm.NewFnType(a, a) }
func typeBinary() hm.Type { a := hm.TypeVariable('a'); return hm.NewFnType(a, a, a) }

// denseArgs checks that every value is a float tensor of the first one's
// dtype and shape, and returns them.
func denseArgs(name string, want int, vals []gorgonia.Value) ([]*tensor.Dense, error) {
	out, err := tensorArgs(name, want, vals)
	if err != nil {
		return nil, err
	}
	for i, d := range out[1:] {
		if !d.Shape().Eq(out[0].Shape()) {
			return nil, fmt.Errorf("%s: input %d has shape %v, input 0 %v: %w", name, i+1, d.Shape(), out[0].Shape(), ErrShape)
		}
	}
	return out, nil
}

func newLike(t *tensor.Dense) *tensor.Dense {
	return tensor.New(tensor.Of(t.Dtype()), tensor.WithShape(t.Shape().Clone()...))
}

// elementwise applies f64 or f32 over same-shaped tensors into a new tensor.
func elementwise(args []*tensor.Dense, f64 func(out []float64, in ...[]float64), f32 func(out []float32, in ...[]float32)) *tensor.Dense {
	out := newLike(args[0])
	switch o := out.Data().(type) {
	case []float64:
		in := make([][]float64, len(args))
		for i, a := range args {
			in[i] = a.Data().([]float64)
		}
		f64(o, in...)
	case []float32:
		in := make([][]float32, len(args))
		for i, a := range args {
			in[i] = a.Data().([]float32)
		}
		f32(o, in...)
	}
	return out
}

// baseOp holds the methods every custom op shares.
type baseOp struct{}

func (baseOp) ReturnsPtr() bool     { return false }
func (baseOp) CallsExtern() bool    { return false }
func (baseOp) OverwritesInput() int { return -1 }
func (baseOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("no input shape")
	}
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("input shape is %T", in[0])
	}
	return s.Clone(), nil
}

// ---- softmax and log-softmax over the last axis ----

type softmaxOp struct {
	baseOp
	log bool
}

func (op *softmaxOp) Arity() int            { return 1 }
func (op *softmaxOp) Type() hm.Type         { return typeUnary() }
func (op *softmaxOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "descent.softmax{log=%v}", op.log) }
func (op *softmaxOp) Hashcode() uint32      { return hashOf(op) }
func (op *softmaxOp) String() string {
	return map[bool]string{false: "Softmax", true: "LogSoftmax"}[op.log]
}
func (op *softmaxOp) DiffWRT(inputs int) []bool { return []bool{true} }
func (op *softmaxOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	args, err := denseArgs(op.String(), 1, vals)
	if err != nil {
		return nil, err
	}
	cols := lastDim(args[0])
	return elementwise(args,
		func(o []float64, in ...[]float64) { softmaxRows(o, in[0], cols, op.log) },
		func(o []float32, in ...[]float32) { softmaxRows(o, in[0], cols, op.log) }), nil
}

func (op *softmaxOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := gorgonia.ApplyOp(&softmaxGradOp{log: op.log}, output, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx}, nil
}

func lastDim(t *tensor.Dense) int {
	s := t.Shape()
	if len(s) == 0 {
		return 1
	}
	return s[len(s)-1]
}

func softmaxRows[T Float](out, in []T, cols int, log bool) {
	for r := 0; r+cols <= len(in); r += cols {
		x, y := in[r:r+cols], out[r:r+cols]
		m := math.Inf(-1)
		for _, v := range x {
			m = math.Max(m, float64(v))
		}
		if log {
			var sum float64
			for _, v := range x {
				sum += math.Exp(float64(v) - m)
			}
			lse := m + math.Log(sum)
			for i, v := range x {
				y[i] = T(float64(v) - lse)
			}
			continue
		}
		// One exponential per element: the row's exponentials are kept
		// (in float64) until the sum is known.
		var sum float64
		var e [16]float64
		if len(x) <= len(e) {
			for i, v := range x {
				e[i] = math.Exp(float64(v) - m)
				sum += e[i]
			}
			for i := range x {
				y[i] = T(e[i] / sum)
			}
			continue
		}
		for _, v := range x {
			sum += math.Exp(float64(v) - m)
		}
		for i, v := range x {
			y[i] = T(math.Exp(float64(v)-m) / sum)
		}
	}
}

// softmaxGradOp computes the input gradient from the output y and the
// output gradient g, row by row:
//
//	softmax:     dx = y ⊙ (g - Σ_j g_j y_j)
//	log-softmax: dx = g - e^y Σ_j g_j
type softmaxGradOp struct {
	baseOp
	log bool
}

func (op *softmaxGradOp) Arity() int    { return 2 }
func (op *softmaxGradOp) Type() hm.Type { return typeBinary() }
func (op *softmaxGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "descent.softmaxgrad{log=%v}", op.log)
}
func (op *softmaxGradOp) Hashcode() uint32 { return hashOf(op) }
func (op *softmaxGradOp) String() string   { return fmt.Sprintf("SoftmaxGrad{log=%v}", op.log) }
func (op *softmaxGradOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	args, err := denseArgs(op.String(), 2, vals)
	if err != nil {
		return nil, err
	}
	cols := lastDim(args[0])
	return elementwise(args,
		func(o []float64, in ...[]float64) { softmaxGradRows(o, in[0], in[1], cols, op.log) },
		func(o []float32, in ...[]float32) { softmaxGradRows(o, in[0], in[1], cols, op.log) }), nil
}

func softmaxGradRows[T Float](out, y, g []T, cols int, log bool) {
	for r := 0; r+cols <= len(y); r += cols {
		yr, gr, o := y[r:r+cols], g[r:r+cols], out[r:r+cols]
		var s float64
		if log {
			for _, v := range gr {
				s += float64(v)
			}
			for i := range o {
				o[i] = T(float64(gr[i]) - math.Exp(float64(yr[i]))*s)
			}
			continue
		}
		for i := range gr {
			s += float64(gr[i]) * float64(yr[i])
		}
		for i := range o {
			o[i] = T(float64(yr[i]) * (float64(gr[i]) - s))
		}
	}
}

// ---- clip ----

type clipOp struct {
	baseOp
	lo, hi float64
}

func (op *clipOp) Arity() int                { return 1 }
func (op *clipOp) Type() hm.Type             { return typeUnary() }
func (op *clipOp) WriteHash(h hash.Hash)     { fmt.Fprintf(h, "descent.clip{%v,%v}", op.lo, op.hi) }
func (op *clipOp) Hashcode() uint32          { return hashOf(op) }
func (op *clipOp) String() string            { return fmt.Sprintf("Clip{%g, %g}", op.lo, op.hi) }
func (op *clipOp) DiffWRT(inputs int) []bool { return []bool{true} }
func (op *clipOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	args, err := denseArgs(op.String(), 1, vals)
	if err != nil {
		return nil, err
	}
	return elementwise(args,
		func(o []float64, in ...[]float64) { clipTo(o, in[0], op.lo, op.hi) },
		func(o []float32, in ...[]float32) { clipTo(o, in[0], op.lo, op.hi) }), nil
}

func clipTo[T Float](out, in []T, lo, hi float64) {
	l, h := T(lo), T(hi)
	for i, v := range in {
		out[i] = min(max(v, l), h)
	}
}

func (op *clipOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := gorgonia.ApplyOp(&clipGradOp{lo: op.lo, hi: op.hi}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx}, nil
}

// clipGradOp passes g where lo <= x <= hi and 0 elsewhere.
type clipGradOp struct {
	baseOp
	lo, hi float64
}

func (op *clipGradOp) Arity() int            { return 2 }
func (op *clipGradOp) Type() hm.Type         { return typeBinary() }
func (op *clipGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "descent.clipgrad{%v,%v}", op.lo, op.hi) }
func (op *clipGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *clipGradOp) String() string        { return fmt.Sprintf("ClipGrad{%g, %g}", op.lo, op.hi) }
func (op *clipGradOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	args, err := denseArgs(op.String(), 2, vals)
	if err != nil {
		return nil, err
	}
	return elementwise(args,
		func(o []float64, in ...[]float64) { clipGrad(o, in[0], in[1], op.lo, op.hi) },
		func(o []float32, in ...[]float32) { clipGrad(o, in[0], in[1], op.lo, op.hi) }), nil
}

func clipGrad[T Float](out, x, g []T, lo, hi float64) {
	for i, v := range x {
		if float64(v) >= lo && float64(v) <= hi {
			out[i] = g[i]
		} else {
			out[i] = 0
		}
	}
}

// ---- ELU ----

type eluOp struct {
	baseOp
	alpha float64
}

func (op *eluOp) Arity() int                { return 1 }
func (op *eluOp) Type() hm.Type             { return typeUnary() }
func (op *eluOp) WriteHash(h hash.Hash)     { fmt.Fprintf(h, "descent.elu{%v}", op.alpha) }
func (op *eluOp) Hashcode() uint32          { return hashOf(op) }
func (op *eluOp) String() string            { return fmt.Sprintf("ELU{%g}", op.alpha) }
func (op *eluOp) DiffWRT(inputs int) []bool { return []bool{true} }
func (op *eluOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	args, err := denseArgs(op.String(), 1, vals)
	if err != nil {
		return nil, err
	}
	return elementwise(args,
		func(o []float64, in ...[]float64) { elu(o, in[0], op.alpha) },
		func(o []float32, in ...[]float32) { elu(o, in[0], op.alpha) }), nil
}

func elu[T Float](out, in []T, alpha float64) {
	for i, v := range in {
		if v > 0 {
			out[i] = v
		} else {
			out[i] = T(alpha * math.Expm1(float64(v)))
		}
	}
}

func (op *eluOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := gorgonia.ApplyOp(&eluGradOp{alpha: op.alpha}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx}, nil
}

// eluGradOp computes g where x > 0 and g·alpha·e^x elsewhere.
type eluGradOp struct {
	baseOp
	alpha float64
}

func (op *eluGradOp) Arity() int            { return 2 }
func (op *eluGradOp) Type() hm.Type         { return typeBinary() }
func (op *eluGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "descent.elugrad{%v}", op.alpha) }
func (op *eluGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *eluGradOp) String() string        { return fmt.Sprintf("ELUGrad{%g}", op.alpha) }
func (op *eluGradOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	args, err := denseArgs(op.String(), 2, vals)
	if err != nil {
		return nil, err
	}
	return elementwise(args,
		func(o []float64, in ...[]float64) { eluGrad(o, in[0], in[1], op.alpha) },
		func(o []float32, in ...[]float32) { eluGrad(o, in[0], in[1], op.alpha) }), nil
}

func eluGrad[T Float](out, x, g []T, alpha float64) {
	for i, v := range x {
		if v > 0 {
			out[i] = g[i]
		} else {
			out[i] = T(float64(g[i]) * alpha * math.Exp(float64(v)))
		}
	}
}

// ---- Heaviside step (no gradient) ----

type stepOp struct{ baseOp }

func (stepOp) Arity() int            { return 1 }
func (stepOp) Type() hm.Type         { return typeUnary() }
func (stepOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "descent.step") }
func (op stepOp) Hashcode() uint32   { return hashOf(op) }
func (stepOp) String() string        { return "Step" }
func (op stepOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	args, err := denseArgs(op.String(), 1, vals)
	if err != nil {
		return nil, err
	}
	return elementwise(args,
		func(o []float64, in ...[]float64) { step(o, in[0]) },
		func(o []float32, in ...[]float32) { step(o, in[0]) }), nil
}

func step[T Float](out, in []T) {
	for i, v := range in {
		if v > 0 {
			out[i] = 1
		} else {
			out[i] = 0
		}
	}
}
