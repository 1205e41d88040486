package graph

// descent's executor. gorgonia's tape machine costs far more than the
// arithmetic of a small network: Reset drops every register so each run
// re-allocates every intermediate and gradient, RunAll starts a goroutine
// and locks an OS thread, each instruction allocates its argument list,
// Grad also differentiates with respect to the inputs, and BroadcastAdd
// materialises the repeated bias. Program therefore compiles the graph's
// own record of its operations (record.go) into two flat lists of kernels,
// forward and backward, over buffers allocated once: reverse-mode
// differentiation of exactly the nodes between the loss and the parameters
// being trained, so no input gradient is computed; x·W + b as one kernel
// (the bias copied into the product's rows, then a GEMM accumulating onto
// it); the bias gradient as column sums; and the identity gradient of the
// bias addition passed on without a copy. A run allocates nothing.
//
// gorgonia still builds and checks every expression (shapes, dtypes), and
// its tape machine remains the fallback for a graph with a node this
// executor does not know; graph_test.go runs both on every operation and
// compares them.

import (
	"errors"
	"fmt"
	"unsafe"

	"gorgonia.org/tensor"
)

// errUnsupported makes Compile fall back to gorgonia's tape machine.
var errUnsupported = errors.New("graph: not supported by descent's executor")

// useTapeMachine forces gorgonia's tape machine (tests compare the two).
var useTapeMachine = false

// engine is a program compiled for descent's executor.
type engine interface {
	run()
	loss() float64
	valid() bool
	output(name string) (t *tensor.Dense, scalar float64, isScalar, ok bool)
	outputNames() []string
}

// execOut is one named output: a tensor over the node's buffer (or over a
// copy, for an input or parameter).
type execOut[T Float] struct {
	t      *tensor.Dense
	buf    []T
	scalar bool // shape () rather than a tensor
}

// bound is an input or parameter buffer captured at compile time; the
// program is rebuilt if its tensor's backing array changes.
type bound[T Float] struct {
	t   *tensor.Dense
	ptr uintptr
	n   int
}

type execProgram[T Float] struct {
	fwd, bwd []func()
	lossBuf  []T
	outs     map[string]*execOut[T]
	bounds   []bound[T]
}

func (e *execProgram[T]) run() {
	for _, f := range e.fwd {
		f()
	}
	for _, f := range e.bwd {
		f()
	}
}

func (e *execProgram[T]) loss() float64 {
	if e.lossBuf == nil {
		return 0
	}
	return float64(e.lossBuf[0])
}

func (e *execProgram[T]) valid() bool {
	for _, b := range e.bounds {
		// Uintptr and DataSize, unlike Data, do not allocate.
		if b.t.DataSize() != b.n || b.t.Uintptr() != b.ptr {
			return false
		}
	}
	return true
}

func (e *execProgram[T]) output(name string) (*tensor.Dense, float64, bool, bool) {
	o, ok := e.outs[name]
	if !ok {
		return nil, 0, false, false
	}
	var v float64
	if len(o.buf) == 1 {
		v = float64(o.buf[0])
	}
	return o.t, v, o.scalar, true
}

func (e *execProgram[T]) outputNames() []string {
	names := make([]string, 0, len(e.outs))
	for n := range e.outs {
		names = append(names, n)
	}
	return names
}

// compileExec compiles s for descent's executor, or returns an error
// wrapping errUnsupported.
func (g *Graph) compileExec(s Spec, wrt []*Param) (engine, error) {
	if g.unrecorded {
		return nil, errUnsupported
	}
	if g.dtype == tensor.Float32 {
		return compileExec[float32](g, s, wrt)
	}
	return compileExec[float64](g, s, wrt)
}

func shapeOf(r *opRec) []int { return []int(r.n.Shape()) }

func sizeOf(r *opRec) int { return max(1, r.n.Shape().TotalSize()) }

func compileExec[T Float](g *Graph, s Spec, wrt []*Param) (*execProgram[T], error) {
	rec := func(n *Node) (*opRec, error) {
		r, ok := g.recs[n.n]
		if !ok {
			return nil, errUnsupported
		}
		return r, nil
	}
	// Live nodes: those the loss and the outputs depend on.
	var roots []*opRec
	var lossRec *opRec
	if s.Loss != nil {
		r, err := rec(s.Loss)
		if err != nil {
			return nil, err
		}
		switch r.kind {
		case opInput, opParam, opConst:
			return nil, errUnsupported
		}
		lossRec = r
		roots = append(roots, r)
	}
	outRecs := map[string]*opRec{}
	isOut := map[*opRec]bool{}
	for name, n := range s.Outputs {
		r, err := rec(n)
		if err != nil {
			return nil, err
		}
		outRecs[name] = r
		isOut[r] = true
		roots = append(roots, r)
	}
	live := map[*opRec]bool{}
	for stack := roots; len(stack) > 0; {
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if live[r] {
			continue
		}
		live[r] = true
		stack = append(stack, r.args...)
	}
	var order []*opRec // creation order is topological
	uses := map[*opRec]int{}
	for _, r := range g.order {
		if live[r] {
			order = append(order, r)
			for _, a := range r.args {
				uses[a]++
			}
		}
	}

	e := &execProgram[T]{outs: map[string]*execOut[T]{}}
	ops := blasFor[T]()
	vals := map[*opRec][]T{}
	bind := func(t *tensor.Dense) ([]T, error) {
		sl, ok := Slice[T](t)
		if !ok || len(sl) == 0 {
			return nil, fmt.Errorf("graph: buffer is %v: %w", t.Dtype(), ErrDType)
		}
		e.bounds = append(e.bounds, bound[T]{t: t, ptr: uintptr(unsafe.Pointer(unsafe.SliceData(sl))), n: len(sl)})
		return sl, nil
	}
	// fused[m] is the bias addition a matrix product m feeds alone.
	fused := map[*opRec]bool{}
	for _, r := range order {
		if r.kind == opAddBias && r.args[0].kind == opMatMul && uses[r.args[0]] == 1 && !isOut[r.args[0]] {
			fused[r.args[0]] = true
		}
	}
	for _, r := range order {
		var err error
		switch r.kind {
		case opInput:
			vals[r], err = bind(g.inputs[r.index].value)
		case opParam:
			vals[r], err = bind(g.params[r.index].value)
		case opConst:
			vals[r] = []T{T(r.a)}
		default:
			if !fused[r] {
				vals[r] = make([]T, sizeOf(r))
			}
		}
		if err != nil {
			return nil, err
		}
	}

	// Forward.
	for _, r := range order {
		f, err := forwardKernel(ops, r, vals)
		if err != nil {
			return nil, err
		}
		if f != nil {
			e.fwd = append(e.fwd, f)
		}
	}

	// Backward: reverse mode over the nodes that lie between the loss and a
	// parameter in wrt.
	if lossRec != nil {
		e.lossBuf = vals[lossRec]
		if err := compileBackward(e, ops, g, order, lossRec, wrt, vals); err != nil {
			return nil, err
		}
	}

	// Outputs.
	for name, r := range outRecs {
		o := &execOut[T]{buf: vals[r], scalar: r.n.IsScalar()}
		switch r.kind {
		case opInput, opParam, opConst:
			src := vals[r]
			dst := make([]T, len(src))
			o.buf = dst
			e.bwd = append(e.bwd, func() { copy(dst, src) })
		}
		if !o.scalar {
			err := Guard("graph: output "+name, func() error {
				o.t = tensor.New(tensor.WithBacking(o.buf), tensor.WithShape(shapeOf(r)...))
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		e.outs[name] = o
	}
	return e, nil
}

// forwardKernel returns the kernel computing r, or nil for a leaf or a
// product fused into the bias addition that follows it.
func forwardKernel[T Float](ops blasOps[T], r *opRec, vals map[*opRec][]T) (func(), error) {
	out := vals[r]
	arg := func(i int) []T { return vals[r.args[i]] }
	switch r.kind {
	case opInput, opParam, opConst:
		return nil, nil
	case opMatMul:
		if out == nil {
			return nil, nil // fused
		}
		a, b := arg(0), arg(1)
		sa, sb := shapeOf(r.args[0]), shapeOf(r.args[1])
		n, k, m := sa[0], sa[1], sb[1]
		return func() { ops.matMul(out, a, b, n, k, m, false) }, nil
	case opAddBias:
		b := arg(1)
		if mm := r.args[0]; vals[mm] == nil {
			a, w := vals[mm.args[0]], vals[mm.args[1]]
			sa, sw := shapeOf(mm.args[0]), shapeOf(mm.args[1])
			n, k, m := sa[0], sa[1], sw[1]
			return func() {
				fillRows(out, b)
				ops.matMul(out, a, w, n, k, m, true)
			}, nil
		}
		x := arg(0)
		return func() { addRows(out, x, b) }, nil
	case opAdd, opSub, opMul, opDiv:
		a, b, kind := arg(0), arg(1), r.kind
		return func() { binaryFwd(kind, out, a, b) }, nil
	case opNeg, opExp, opLog, opSquare, opSqrt, opTanh, opSigmoid, opSoftplus, opReLU, opLeakyReLU, opELU, opStep:
		x, kind, alpha := arg(0), r.kind, r.a
		return func() { unaryFwd(kind, alpha, out, x) }, nil
	case opSoftmax, opLogSoftmax:
		x, log := arg(0), r.kind == opLogSoftmax
		cols := shapeOf(r)[len(shapeOf(r))-1]
		return func() { softmaxRows(out, x, cols, log) }, nil
	case opClip:
		x, lo, hi := arg(0), r.a, r.b
		return func() { clipTo(out, x, lo, hi) }, nil
	case opSum:
		x := arg(0)
		return func() { out[0] = sumAll(x) }, nil
	}
	return nil, errUnsupported
}

func compileBackward[T Float](e *execProgram[T], ops blasOps[T], g *Graph, order []*opRec, loss *opRec, wrt []*Param, vals map[*opRec][]T) error {
	trained := map[*opRec]*Param{}
	for _, p := range wrt {
		for i, q := range g.params {
			if q == p {
				trained[g.recs[g.pnodes[i]]] = p
			}
		}
	}
	// need: on a path from a trained parameter to the loss.
	dep := map[*opRec]bool{}
	for _, r := range order {
		if trained[r] != nil {
			dep[r] = true
			continue
		}
		for _, a := range r.args {
			dep[r] = dep[r] || dep[a]
		}
	}
	need := map[*opRec]bool{}
	for stack := []*opRec{loss}; len(stack) > 0; {
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if need[r] || !dep[r] {
			continue
		}
		need[r] = true
		stack = append(stack, r.args...)
	}

	grads := map[*opRec][]T{loss: {1}}
	wrote := map[*opRec]bool{loss: true}
	// target returns where a contribution to r's gradient goes: its buffer
	// when it is the first, else a scratch buffer to add afterwards.
	target := func(r *opRec) (dst []T, acc bool) {
		if grads[r] == nil {
			if p := trained[r]; p != nil {
				grads[r], _ = Slice[T](p.grad)
			} else {
				grads[r] = make([]T, sizeOf(r))
			}
		}
		acc = wrote[r]
		wrote[r] = true
		if acc {
			return make([]T, len(grads[r])), true
		}
		return grads[r], false
	}
	emit := func(f func()) { e.bwd = append(e.bwd, f) }
	// finish adds a scratch contribution into the gradient.
	finish := func(r *opRec, dst []T, acc bool) {
		if acc {
			sum := grads[r]
			emit(func() { addTo(sum, dst) })
		}
	}

	for i := len(order) - 1; i >= 0; i-- {
		r := order[i]
		if !need[r] {
			continue
		}
		switch r.kind {
		case opInput, opParam, opConst:
			continue
		case opStep:
			return fmt.Errorf("graph: the loss depends on a step (Heaviside) node: %w", ErrNoGradient)
		}
		gr := grads[r]
		if gr == nil {
			return fmt.Errorf("graph: internal error: no gradient reached node %s", r.n.Name())
		}
		y := vals[r]
		// The bias's gradient first: it reads gr, which the product's
		// gradient may then take over.
		js := []int{0, 1}
		if r.kind == opAddBias {
			js = []int{1, 0}
		}
		for _, j := range js[:len(r.args)] {
			a := r.args[j]
			if !need[a] {
				continue
			}
			switch r.kind {
			case opMatMul:
				sa, sb := shapeOf(r.args[0]), shapeOf(r.args[1])
				n, k, m := sa[0], sa[1], sb[1]
				dst, acc := target(a)
				if acc { // GEMM accumulates itself
					dst = grads[a]
				}
				if j == 0 {
					b := vals[r.args[1]]
					emit(func() { ops.matMulBT(dst, gr, b, n, k, m, acc) })
				} else {
					x := vals[r.args[0]]
					emit(func() { ops.matMulAT(dst, x, gr, n, k, m, acc) })
				}
			case opAddBias:
				if j == 1 {
					dst, acc := target(a)
					emit(func() { colSums(dst, gr) })
					finish(a, dst, acc)
					continue
				}
				if grads[a] == nil && trained[a] == nil {
					grads[a], wrote[a] = gr, true // identity: share the buffer
					continue
				}
				dst, acc := target(a)
				emit(func() { copy(dst, gr) })
				finish(a, dst, acc)
			case opAdd, opSub, opMul, opDiv:
				va, vb, kind, j := vals[r.args[0]], vals[r.args[1]], r.kind, j
				dst, acc := target(a)
				emit(func() { binaryGrad(kind, j, dst, gr, va, vb) })
				finish(a, dst, acc)
			case opNeg, opExp, opLog, opSquare, opSqrt, opTanh, opSigmoid, opSoftplus, opReLU, opLeakyReLU, opELU:
				x, kind, alpha := vals[a], r.kind, r.a
				dst, acc := target(a)
				emit(func() { unaryGrad(kind, alpha, dst, gr, x, y) })
				finish(a, dst, acc)
			case opSoftmax, opLogSoftmax:
				log := r.kind == opLogSoftmax
				cols := shapeOf(r)[len(shapeOf(r))-1]
				dst, acc := target(a)
				emit(func() { softmaxGradRows(dst, y, gr, cols, log) })
				finish(a, dst, acc)
			case opClip:
				x, lo, hi := vals[a], r.a, r.b
				dst, acc := target(a)
				emit(func() { clipGrad(dst, x, gr, lo, hi) })
				finish(a, dst, acc)
			case opSum:
				dst, acc := target(a)
				emit(func() {
					v := gr[0]
					for i := range dst {
						dst[i] = v
					}
				})
				finish(a, dst, acc)
			default:
				return errUnsupported
			}
		}
	}
	// As gorgonia's Grad, refuse a parameter the loss does not depend on.
	for _, p := range wrt {
		for r, q := range trained {
			if q == p && !wrote[r] {
				return fmt.Errorf("graph: differentiating the loss: it does not depend on parameter %s", p.name)
			}
		}
	}
	return nil
}
