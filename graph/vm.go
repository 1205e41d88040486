package graph

// descent's VM: an implementation of gorgonia's VM interface that executes
// the expression graph as gorgonia built it, forward nodes and the gradient
// nodes gorgonia.Grad added, in topological order, over buffers planned once.
//
// Compilation (newVM) has four passes:
//
//  1. Order and prune: gorgonia.Sort's topological order, keeping only the
//     nodes the loss, the gradients and the outputs depend on.
//  2. Classify: inputs and parameters are bound by pointer to their tensors;
//     constants and sizes are folded into values of their own; reshapes
//     become aliases of their operand; every other node gets a kernel.
//  3. Plan buffers: a gradient is computed straight into its Param.Grad and
//     an output into the tensor the program hands out; every other value gets
//     a buffer from a pool, returned to the pool after the last node that
//     reads it, so a dead activation's buffer carries a later gradient.
//  4. Kernels: one closure per node, over the planned buffers.
//
// RunAll then calls the closures in order. A kernel never writes into an
// argument or a constant: gorgonia shares constant nodes between graphs (the
// 1 that Grad seeds the backward pass with is the 1 of the loss), and a
// node's output buffer is never one of its operands' buffers.

import (
	"errors"
	"fmt"
	"slices"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// VMStats describes a program compiled for descent's VM.
type VMStats struct {
	// Nodes is the number of nodes in the graph; Live of them are needed by
	// the program's loss, gradients and outputs.
	Nodes, Live int
	// Kernels is the number of nodes executed per run; Fallback of them run
	// through their gorgonia operation's Do method (and allocate).
	Kernels, Fallback int
	// Aliases counts reshapes executed as views; Folded counts constants and
	// sizes computed once at compile time.
	Aliases, Folded int
	// Buffers is the number of intermediate buffers, BufferBytes their size.
	// Values written into Param.Grad or into output tensors are not counted.
	Buffers, BufferBytes int
	// Reused counts values placed in a buffer freed by an earlier value.
	Reused int
}

// vmStore is the storage of one or more nodes' values (a reshape shares its
// operand's).
type vmStore[T Float] struct {
	buf   []T
	size  int
	fixed bool // bound, folded or a destination: never returned to the pool
	last  int  // index of the last step reading it
	freed bool
}

// vmStep is one node's kernel.
type vmStep struct {
	node *gorgonia.Node
	run  func() error
}

// vmBinding is an input or parameter store and the tensor it reads.
type vmBinding[T Float] struct {
	node  *gorgonia.Node
	store *vmStore[T]
	t     *tensor.Dense // the tensor whose data store.buf is
	shape []int
	name  string
	kind  string // "input" or "parameter"
}

// vm is descent's VM for one element type.
type vm[T Float] struct {
	steps    []vmStep
	inputs   []vmBinding[T] // in the graph's input order; t nil until bound
	params   []vmBinding[T]
	stores   map[*gorgonia.Node]*vmStore[T]
	loss     *vmStore[T]
	stats    VMStats
	forceAll bool // tests: run every kernel through the fallback
}

var (
	_ gorgonia.VM = (*vm[float32])(nil)
	_ gorgonia.VM = (*vm[float64])(nil)
)

// RunAll implements gorgonia.VM: it executes every kernel once. The caller
// (Program.Run) checks the bindings first.
func (m *vm[T]) RunAll() error {
	for i := range m.steps {
		if err := m.steps[i].run(); err != nil {
			return fmt.Errorf("node %v: %w", m.steps[i].node.Op(), err)
		}
	}
	return nil
}

// Reset implements gorgonia.VM. descent's VM keeps no state between runs
// apart from its buffers, which every run overwrites: it does nothing.
func (m *vm[T]) Reset() {}

// Close implements gorgonia.VM.
func (m *vm[T]) Close() error {
	m.steps, m.stores = nil, nil
	return nil
}

// vmSpec is what the program asks the VM to compute.
type vmSpec struct {
	g       *Graph
	loss    *gorgonia.Node
	grads   []*gorgonia.Node // gradient node of wrt[i]
	wrt     []*Param
	outputs []vmOutput
	// forceFallback runs every node with a kernel through the fallback
	// instead, so tests can check the fallback against the kernels.
	forceFallback bool
}

type vmOutput struct {
	node *gorgonia.Node
	into *tensor.Dense // nil for a scalar output
}

// children returns n's operands in order.
func children(g *gorgonia.ExprGraph, n *gorgonia.Node) []*gorgonia.Node {
	var out []*gorgonia.Node
	for it := g.From(n.ID()); it.Next(); {
		out = append(out, it.Node().(*gorgonia.Node))
	}
	return out
}

// newVM compiles s for descent's VM.
func newVM[T Float](s vmSpec) (*vm[T], error) {
	g := s.g.g
	m := &vm[T]{stores: map[*gorgonia.Node]*vmStore[T]{}, forceAll: s.forceFallback}

	// Pass 1: live nodes in topological order, operands first.
	var roots []*gorgonia.Node
	if s.loss != nil {
		roots = append(roots, s.loss)
	}
	roots = append(roots, s.grads...)
	for _, o := range s.outputs {
		roots = append(roots, o.node)
	}
	kids := map[*gorgonia.Node][]*gorgonia.Node{}
	live := map[*gorgonia.Node]bool{}
	for stack := slices.Clone(roots); len(stack) > 0; {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if live[n] {
			continue
		}
		live[n] = true
		kids[n] = children(g, n)
		stack = append(stack, kids[n]...)
	}
	sorted, err := gorgonia.Sort(g)
	if err != nil {
		return nil, fmt.Errorf("graph: ordering the graph: %w", err)
	}
	order := make([]*gorgonia.Node, 0, len(live))
	for i := len(sorted) - 1; i >= 0; i-- {
		if live[sorted[i]] {
			order = append(order, sorted[i])
		}
	}
	m.stats.Nodes, m.stats.Live = len(g.AllNodes()), len(order)

	// Pass 2: classify.
	dt := s.g.dtype
	var computed []*gorgonia.Node // nodes that need a kernel, in order
	var aliases []*gorgonia.Node  // reshapes, in order
	for _, n := range order {
		if !n.Dtype().Eq(dt) {
			return nil, fmt.Errorf("graph: node %v (%v) is %v; descent's VM computes %v only (use graph.TapeMachine): %w", n.Op(), n.Shape(), n.Dtype(), dt, ErrDType)
		}
		op := n.Op()
		switch {
		case op == nil:
			if err := m.bindArg(s, n); err != nil {
				return nil, err
			}
		case isConstant(op):
			st, err := foldConstant[T](n)
			if err != nil {
				return nil, err
			}
			m.stores[n] = st
			m.stats.Folded++
		case opKind(op) == "gorgonia.sizeOp":
			st, err := foldSize[T](n, kids[n])
			if err != nil {
				return nil, err
			}
			m.stores[n] = st
			m.stats.Folded++
		case opKind(op) == "gorgonia.reshapeOp":
			if len(kids[n]) != 1 {
				return nil, fmt.Errorf("graph: %v has %d operands", op, len(kids[n]))
			}
			aliases = append(aliases, n)
			m.stats.Aliases++
		case opKind(op) == "gorgonia.readOp":
			return nil, fmt.Errorf("graph: read node %v is live in a VM program", n)
		default:
			computed = append(computed, n)
		}
	}
	isAlias := make(map[*gorgonia.Node]bool, len(aliases))
	for _, n := range aliases {
		isAlias[n] = true
	}
	// base follows reshapes to the node that owns the value.
	base := func(n *gorgonia.Node) *gorgonia.Node {
		for isAlias[n] {
			n = kids[n][0]
		}
		return n
	}
	isComputed := make(map[*gorgonia.Node]bool, len(computed))
	for _, n := range computed {
		isComputed[n] = true
	}

	// Pass 3: plan buffers. Destinations first: a gradient into Param.Grad,
	// an output into its tensor, when the node is computed by a kernel and
	// has no destination yet; otherwise a copy after the run.
	var copies []func() error
	dest := func(n *gorgonia.Node, into []T) {
		if isComputed[n] && m.stores[n] == nil {
			m.stores[n] = &vmStore[T]{buf: into, size: len(into), fixed: true}
			return
		}
		copies = append(copies, m.copyStep(n, into))
	}
	for i, gn := range s.grads {
		buf, ok := Slice[T](s.wrt[i].grad)
		if !ok {
			return nil, fmt.Errorf("graph: gradient of %s: %w", s.wrt[i].name, ErrDType)
		}
		dest(gn, buf)
	}
	for _, o := range s.outputs {
		if o.into == nil {
			continue
		}
		buf, ok := Slice[T](o.into)
		if !ok {
			return nil, fmt.Errorf("graph: output %v: %w", o.node, ErrDType)
		}
		dest(o.node, buf)
	}
	// Liveness: the last step reading each value; roots live to the end.
	lastRead := make(map[*gorgonia.Node]int, len(computed))
	for i, n := range computed {
		for _, k := range kids[n] {
			b := base(k)
			lastRead[b] = max(lastRead[b], i)
		}
	}
	pinned := map[*gorgonia.Node]bool{}
	for _, r := range roots {
		pinned[base(r)] = true
	}
	var pool [][]T
	for i, n := range computed {
		st := m.stores[n]
		if st == nil {
			size := vmSize(n.Shape())
			st = &vmStore[T]{size: size}
			if j := bestFit(pool, size); j >= 0 {
				st.buf = pool[j][:size]
				pool = slices.Delete(pool, j, j+1)
				m.stats.Reused++
			} else {
				st.buf = make([]T, size)
				m.stats.Buffers++
				m.stats.BufferBytes += size * int(dt.Size())
			}
			m.stores[n] = st
		}
		if pinned[n] {
			st.fixed = true
		}
		// Values whose last reader is this step go back to the pool, after
		// this step's own buffer was taken: an output never shares a
		// buffer with an operand.
		for _, k := range kids[n] {
			b := base(k)
			if !isComputed[b] || lastRead[b] != i {
				continue
			}
			if bs := m.stores[b]; !bs.fixed && !bs.freed {
				bs.freed = true
				pool = append(pool, bs.buf[:cap(bs.buf)])
			}
		}
	}
	for _, n := range aliases {
		src := m.stores[kids[n][0]]
		if src == nil || src.size != vmSize(n.Shape()) {
			return nil, fmt.Errorf("graph: reshape to %v of a value of another size: %w", n.Shape(), ErrShape)
		}
		m.stores[n] = src
	}

	// Pass 4: kernels.
	for _, n := range computed {
		in := make([]*vmStore[T], len(kids[n]))
		shapes := make([]tensor.Shape, len(kids[n]))
		for j, k := range kids[n] {
			in[j], shapes[j] = m.stores[k], k.Shape()
		}
		out := m.stores[n]
		var run func() error
		if !m.forceAll {
			run, err = kernelFor(n, out, in, shapes)
			if err != nil {
				return nil, fmt.Errorf("graph: node %v %v: %w", n.Op(), n.Shape(), err)
			}
		}
		if run == nil {
			run, err = fallbackKernel(n, out, in, shapes)
			if err != nil {
				return nil, fmt.Errorf("graph: node %v %v: %w", n.Op(), n.Shape(), err)
			}
			m.stats.Fallback++
		}
		m.steps = append(m.steps, vmStep{node: n, run: run})
	}
	for _, c := range copies {
		m.steps = append(m.steps, vmStep{node: nil, run: c})
	}
	m.stats.Kernels = len(computed)
	if s.loss != nil {
		m.loss = m.stores[s.loss]
		m.loss.fixed = true
	}
	return m, nil
}

// bestFit returns the index of the smallest pooled buffer holding at least
// size elements, or -1.
func bestFit[T Float](pool [][]T, size int) int {
	best := -1
	for i, b := range pool {
		if cap(b) >= size && (best < 0 || cap(b) < cap(pool[best])) {
			best = i
		}
	}
	return best
}

// vmSize is the number of elements of a value of the given shape (1 for a
// scalar).
func vmSize(s tensor.Shape) int {
	return max(1, s.TotalSize())
}

// bindArg binds an input or parameter node to its tensor.
func (m *vm[T]) bindArg(s vmSpec, n *gorgonia.Node) error {
	for _, in := range s.g.inputs {
		if in.node == n {
			st := &vmStore[T]{size: vmSize(n.Shape()), fixed: true}
			m.stores[n] = st
			m.inputs = append(m.inputs, vmBinding[T]{node: n, store: st, shape: in.shape, name: in.name, kind: "input"})
			return nil
		}
	}
	for i, pn := range s.g.pnodes {
		if pn == n {
			p := s.g.params[i]
			buf, ok := Slice[T](p.value)
			if !ok {
				return fmt.Errorf("graph: parameter %s is %v: %w", p.name, p.value.Dtype(), ErrDType)
			}
			st := &vmStore[T]{buf: buf, size: len(buf), fixed: true}
			m.stores[n] = st
			m.params = append(m.params, vmBinding[T]{node: n, store: st, t: p.value, shape: p.Shape(), name: p.name, kind: "parameter"})
			return nil
		}
	}
	return fmt.Errorf("graph: node %v has no operation and is neither an input nor a parameter", n)
}

// bind points input i's store at t's data. t has been checked.
func (m *vm[T]) bind(node *gorgonia.Node, t *tensor.Dense) error {
	for i := range m.inputs {
		b := &m.inputs[i]
		if b.node != node {
			continue
		}
		if b.t == t {
			return nil
		}
		buf, ok := Slice[T](t)
		if !ok || len(buf) != b.store.size {
			return fmt.Errorf("graph: input %q: cannot bind a %v tensor of %d elements: %w", b.name, t.Dtype(), t.Shape().TotalSize(), ErrShape)
		}
		b.store.buf, b.t = buf, t
		return nil
	}
	return nil // the input is not live in this program
}

// errStale reports a bound tensor whose data moved since it was bound.
var errStale = errors.New("its data is no longer the buffer the program was compiled against")

// check verifies that every bound tensor still holds the buffer the
// kernels read, without allocating.
func (m *vm[T]) check() error {
	for i := range m.params {
		if err := m.params[i].check(); err != nil {
			return err
		}
	}
	for i := range m.inputs {
		if err := m.inputs[i].check(); err != nil {
			return err
		}
	}
	return nil
}

func (b *vmBinding[T]) check() error {
	if b.t == nil {
		return fmt.Errorf("graph: %s %q has no value", b.kind, b.name)
	}
	if b.t.DataSize() != len(b.store.buf) || b.t.Uintptr() != uintptrOf(b.store.buf) {
		return fmt.Errorf("graph: %s %q: %w", b.kind, b.name, errStale)
	}
	if !slices.Equal([]int(b.t.Shape()), b.shape) {
		return fmt.Errorf("graph: %s %q has shape %v, want %v: %w", b.kind, b.name, b.t.Shape(), b.shape, ErrShape)
	}
	return nil
}

// scalar returns the value of a scalar node's store after a run.
func (m *vm[T]) scalar(n *gorgonia.Node) (float64, bool) {
	st := m.stores[n]
	if st == nil || len(st.buf) == 0 {
		return 0, false
	}
	return float64(st.buf[0]), true
}

// copyStep copies n's value into dst after the run.
func (m *vm[T]) copyStep(n *gorgonia.Node, dst []T) func() error {
	return func() error {
		src := m.stores[n].buf
		if len(src) == 1 && len(dst) > 1 {
			return fmt.Errorf("graph: cannot copy a scalar into %d elements", len(dst))
		}
		copy(dst, src)
		return nil
	}
}

// foldConstant copies a constant's value into a store of its own.
func foldConstant[T Float](n *gorgonia.Node) (*vmStore[T], error) {
	v := n.Op().(interface{ Value() gorgonia.Value }).Value()
	vals, err := valueFloats[T](v)
	if err != nil {
		return nil, fmt.Errorf("graph: constant %v: %w", n.Op(), err)
	}
	return &vmStore[T]{buf: vals, size: len(vals), fixed: true}, nil
}

// foldSize computes a sizeOp once: its value depends only on its operand's
// shape.
func foldSize[T Float](n *gorgonia.Node, kids []*gorgonia.Node) (*vmStore[T], error) {
	if len(kids) != 1 {
		return nil, fmt.Errorf("graph: %v has %d operands", n.Op(), len(kids))
	}
	var arg gorgonia.Value
	if s := kids[0].Shape(); len(s) == 0 {
		arg = zeroScalar[T]()
	} else {
		arg = tensor.New(tensor.Of(kids[0].Dtype()), tensor.WithShape(s...))
	}
	var v gorgonia.Value
	err := Guard("graph: size", func() error {
		var err error
		v, err = n.Op().Do(arg)
		return err
	})
	if err != nil {
		return nil, err
	}
	vals, err := valueFloats[T](v)
	if err != nil {
		return nil, fmt.Errorf("graph: %v: %w", n.Op(), err)
	}
	return &vmStore[T]{buf: vals, size: len(vals), fixed: true}, nil
}

func zeroScalar[T Float]() gorgonia.Value {
	var z T
	switch any(z).(type) {
	case float32:
		return new(gorgonia.F32)
	default:
		return new(gorgonia.F64)
	}
}

// valueFloats returns a copy of a float scalar or tensor value as []T.
func valueFloats[T Float](v gorgonia.Value) ([]T, error) {
	switch v := v.(type) {
	case *gorgonia.F32:
		return []T{T(*v)}, nil
	case *gorgonia.F64:
		return []T{T(*v)}, nil
	case *tensor.Dense:
		switch d := v.Data().(type) {
		case []float32:
			out := make([]T, len(d))
			for i, x := range d {
				out[i] = T(x)
			}
			return out, nil
		case []float64:
			out := make([]T, len(d))
			for i, x := range d {
				out[i] = T(x)
			}
			return out, nil
		case float32:
			return []T{T(d)}, nil
		case float64:
			return []T{T(d)}, nil
		}
		return nil, fmt.Errorf("value of dtype %v: %w", v.Dtype(), ErrDType)
	}
	return nil, fmt.Errorf("value %T: %w", v, ErrDType)
}

// opKind names an operation's Go type ("gorgonia.elemBinOp"): gorgonia's
// operation types are unexported, so they are told apart by name.
func opKind(op gorgonia.Op) string { return fmt.Sprintf("%T", op) }

func isConstant(op gorgonia.Op) bool {
	_, ok := op.(interface{ Value() gorgonia.Value })
	return ok && op.Arity() == 0
}
