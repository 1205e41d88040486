package graph

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Spec says what to compile from a Graph.
type Spec struct {
	// Loss is the scalar to differentiate. If nil, the program runs forward
	// only and computes no gradient.
	Loss *Node
	// WRT lists the parameters to differentiate with respect to, in the order
	// their gradients are written. If nil, every parameter bound into the
	// graph is used, in binding order.
	WRT []*Param
	// Outputs names the nodes whose values are read after each run.
	Outputs map[string]*Node
	// Machine is what runs the program: DescentVM (the zero value) or
	// gorgonia's TapeMachine.
	Machine Machine

	// forceFallback runs every node of a DescentVM program through the
	// fallback (tests compare it with the kernels).
	forceFallback bool
}

// Program is a compiled graph with its named inputs and outputs, run by
// descent's VM or by gorgonia's tape machine. It is not safe for concurrent
// use. Close releases it.
type Program struct {
	g       *Graph
	machine Machine
	vm      gorgonia.VM // the machine; nil once closed
	own     vmRunner    // vm as descent's VM, nil for the tape machine
	loss    *gorgonia.Node
	wrt     []*Param
	outputs map[string]*readSlot
	lossOut *readSlot
	grads   []*readSlot
	lossVal float64
	ran     bool
}

// vmRunner is what Program needs of descent's VM beyond gorgonia.VM.
type vmRunner interface {
	gorgonia.VM
	bind(node *gorgonia.Node, t *tensor.Dense) error
	check() error
	scalar(n *gorgonia.Node) (float64, bool)
	vmStats() VMStats
}

func (m *vm[T]) vmStats() VMStats { return m.stats }

// readSlot is where the program leaves a node's value. On the tape machine
// it receives the value through gorgonia.Read, which copies it the moment
// it is computed (the node's own value cannot be read after the run: the
// tape machine reuses registers, so a later instruction may overwrite it in
// place). On descent's VM, a tensor output is computed straight into into
// (or copied there) and a scalar is read from the VM's buffer.
type readSlot struct {
	node *gorgonia.Node
	into gorgonia.Value
}

// newReadSlot preallocates the destination of n's value.
func newReadSlot(n *gorgonia.Node, into gorgonia.Value) (*readSlot, error) {
	s := &readSlot{node: n, into: into}
	if s.into == nil {
		if n.IsScalar() {
			if n.Dtype() == tensor.Float32 {
				s.into = new(gorgonia.F32)
			} else {
				s.into = new(gorgonia.F64)
			}
		} else {
			t, err := ZeroTensor(n.Dtype(), n.Shape()...)
			if err != nil {
				return nil, err
			}
			s.into = t
		}
	}
	return s, nil
}

// read adds gorgonia's read of the slot's node, for the tape machine.
func (s *readSlot) read() error {
	return Guard("graph: read", func() error {
		gorgonia.Read(s.node, &s.into)
		return nil
	})
}

// Compile compiles the graph into a program. With a Loss it also builds the
// gradient of the loss with respect to the parameters by gorgonia's symbolic
// differentiation. It returns the first error recorded while building the
// graph, if any. A graph is compiled once.
func (g *Graph) Compile(s Spec) (*Program, error) {
	if g.err != nil {
		return nil, g.err
	}
	if err := s.Machine.Check(); err != nil {
		return nil, err
	}
	if g.compiled {
		return nil, errors.New("graph: this graph is already compiled (build a new graph for another program)")
	}
	p := &Program{g: g, machine: s.Machine, outputs: make(map[string]*readSlot, len(s.Outputs))}
	for name, n := range s.Outputs {
		if n == nil || n.g != g || n.n == nil {
			return nil, fmt.Errorf("graph: output %q is nil, failed or from another graph", name)
		}
		slot, err := newReadSlot(n.n, nil)
		if err != nil {
			return nil, fmt.Errorf("graph: output %q: %w", name, err)
		}
		p.outputs[name] = slot
	}
	if s.Loss != nil {
		if s.Loss.g != g || s.Loss.n == nil {
			return nil, errors.New("graph: loss node is failed or from another graph")
		}
		if !s.Loss.n.IsScalar() {
			return nil, fmt.Errorf("graph: loss has shape %v, want a scalar: %w", s.Loss.Shape(), ErrShape)
		}
		if err := g.checkDifferentiable(s.Loss); err != nil {
			return nil, err
		}
		p.loss = s.Loss.n
		p.wrt = s.WRT
		if p.wrt == nil {
			p.wrt = slices.Clone(g.params)
		}
		wrt := make([]*gorgonia.Node, len(p.wrt))
		for i, prm := range p.wrt {
			j := slices.Index(g.params, prm)
			if j < 0 {
				return nil, fmt.Errorf("graph: parameter %s is not bound into this graph: %w", prm.Name(), ErrUnknown)
			}
			wrt[i] = g.pnodes[j]
		}
		var grads gorgonia.Nodes
		if len(wrt) > 0 {
			err := Guard("graph: gradient", func() error {
				var err error
				grads, err = gorgonia.Grad(p.loss, wrt...)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("graph: differentiating the loss: %w", err)
			}
		}
		for i, gn := range grads {
			if !gn.Shape().Eq(p.wrt[i].value.Shape()) {
				return nil, fmt.Errorf("graph: gradient of %s has shape %v, want %v: %w", p.wrt[i].name, gn.Shape(), p.wrt[i].value.Shape(), ErrShape)
			}
			slot, err := newReadSlot(gn, p.wrt[i].grad)
			if err != nil {
				return nil, err
			}
			p.grads = append(p.grads, slot)
		}
		slot, err := newReadSlot(p.loss, nil)
		if err != nil {
			return nil, err
		}
		p.lossOut = slot
	}
	g.compiled = true
	var err error
	if s.Machine == TapeMachine {
		err = p.compileTape()
	} else {
		err = p.compileVM(s.forceFallback)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// compileTape adds the reads and builds gorgonia's tape machine. Every
// input gets its buffer: the tape machine reads node values.
func (p *Program) compileTape() error {
	for _, s := range p.slots() {
		if err := s.read(); err != nil {
			return err
		}
	}
	for _, in := range p.g.inputs {
		t, err := in.buffer(p.g.dtype)
		if err != nil {
			return err
		}
		if err := p.bindInput(in, t); err != nil {
			return err
		}
	}
	return Guard("graph: compile", func() error {
		p.vm = gorgonia.NewTapeMachine(p.g.g)
		return nil
	})
}

// compileVM builds descent's VM over the program's nodes.
func (p *Program) compileVM(forceFallback bool) error {
	spec := vmSpec{g: p.g, loss: p.loss, wrt: p.wrt, forceFallback: forceFallback}
	for _, s := range p.grads {
		spec.grads = append(spec.grads, s.node)
	}
	for _, name := range p.OutputNames() {
		s := p.outputs[name]
		d, _ := s.into.(*tensor.Dense)
		spec.outputs = append(spec.outputs, vmOutput{node: s.node, into: d})
	}
	err := Guard("graph: compile", func() error {
		var err error
		if p.g.dtype == tensor.Float32 {
			p.own, err = newVM[float32](spec)
		} else {
			p.own, err = newVM[float64](spec)
		}
		return err
	})
	if err != nil {
		return err
	}
	p.vm = p.own
	for _, in := range p.g.inputs {
		if in.bound != nil {
			if err := p.own.bind(in.node, in.bound); err != nil {
				return err
			}
		}
	}
	return nil
}

// slots returns the program's read slots: gradients, loss, outputs.
func (p *Program) slots() []*readSlot {
	s := slices.Clone(p.grads)
	if p.lossOut != nil {
		s = append(s, p.lossOut)
	}
	for _, name := range p.OutputNames() {
		s = append(s, p.outputs[name])
	}
	return s
}

// Machine returns the machine that runs the program.
func (p *Program) Machine() Machine { return p.machine }

// VMStats describes the program as compiled for descent's VM; ok is false
// for a program on the tape machine.
func (p *Program) VMStats() (s VMStats, ok bool) {
	if p.own == nil {
		return VMStats{}, false
	}
	return p.own.vmStats(), true
}

// checkDifferentiable reports a non-differentiable node (Heaviside) that the
// loss depends on.
func (g *Graph) checkDifferentiable(loss *Node) error {
	if len(g.nondiff) == 0 {
		return nil
	}
	bad := make(map[*gorgonia.Node]bool, len(g.nondiff))
	for _, n := range g.nondiff {
		bad[n.n] = true
	}
	seen := map[*gorgonia.Node]bool{}
	stack := []*gorgonia.Node{loss.n}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		if bad[n] {
			return fmt.Errorf("graph: the loss depends on a step (Heaviside) node: %w", ErrNoGradient)
		}
		for it := g.g.From(n.ID()); it.Next(); {
			if c, ok := it.Node().(*gorgonia.Node); ok {
				stack = append(stack, c)
			}
		}
	}
	return nil
}

func (p *Program) input(name string) (*inputSlot, error) {
	for _, in := range p.g.inputs {
		if in.name == name {
			return in, nil
		}
	}
	return nil, fmt.Errorf("graph: no input %q (inputs: %s): %w", name, strings.Join(p.InputNames(), ", "), ErrUnknown)
}

// Input returns the program's own buffer of the named input. Write the next
// run's values into it in place; its shape and dtype are fixed. If the
// input was bound to another tensor by Bind, Input binds it back to this
// buffer.
func (p *Program) Input(name string) (*tensor.Dense, error) {
	in, err := p.input(name)
	if err != nil {
		return nil, err
	}
	t, err := in.buffer(p.g.dtype)
	if err != nil {
		return nil, err
	}
	if in.bound != t {
		if err := p.bindInput(in, t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Bind makes the named input read t itself, without a copy, until the
// next Bind or Input call for it. t must have the input's dtype and shape;
// the program never writes into it, and t must not change while Run runs.
// A full batch binds the dataset's own tensor this way.
func (p *Program) Bind(name string, t *tensor.Dense) error {
	in, err := p.input(name)
	if err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("graph: bind %q: nil tensor: %w", name, ErrShape)
	}
	if t == in.bound && t != in.own {
		return nil // Run checks the bound tensor's shape and buffer
	}
	if t.Dtype() != p.g.dtype {
		return fmt.Errorf("graph: bind %q: tensor is %v, input is %v: %w", name, t.Dtype(), p.g.dtype, ErrDType)
	}
	if !slices.Equal([]int(t.Shape()), in.shape) {
		return fmt.Errorf("graph: bind %q: tensor has shape %v, input %v: %w", name, t.Shape(), in.shape, ErrShape)
	}
	if !t.IsNativelyAccessible() || t.IsView() || t.DataSize() != vmSize(in.shape) {
		return fmt.Errorf("graph: bind %q: tensor is a view or not in memory; bind a contiguous tensor: %w", name, ErrShape)
	}
	return p.bindInput(in, t)
}

// BindRows makes the named input read rows [lo, hi) of the matrix x in
// place, without a copy, until the next Bind, BindRows or Input call for
// it: x itself when the rows are all of x, else a new tensor header over
// those rows of x's storage. The input must have x's dtype and shape
// [hi-lo, columns of x]. x may be a view if its rows are contiguous (a
// slice of rows is; a slice of columns is an error). As with Bind, the
// program never writes into x, and x must not change while Run runs.
// Prediction in batches binds each batch of the caller's rows this way.
func (p *Program) BindRows(name string, x *tensor.Dense, lo, hi int) error {
	if x == nil || x.Dims() != 2 {
		return fmt.Errorf("graph: bind %q: rows of a tensor that is not a matrix: %w", name, ErrShape)
	}
	rows, cols := x.Shape()[0], x.Shape()[1]
	if lo < 0 || hi > rows || lo >= hi {
		return fmt.Errorf("graph: bind %q: rows [%d, %d) of a matrix of %d rows: %w", name, lo, hi, rows, ErrShape)
	}
	if lo == 0 && hi == rows && !x.IsView() {
		return p.Bind(name, x)
	}
	if st := x.Strides(); !x.IsNativelyAccessible() || x.DataSize() != rows*cols || len(st) != 2 || st[0] != cols || st[1] != 1 {
		return fmt.Errorf("graph: bind %q: rows of a tensor that is not contiguous in memory (a column slice?); bind rows of a contiguous tensor (Materialize it): %w", name, ErrShape)
	}
	var view *tensor.Dense
	err := Guard("graph: bind rows", func() error {
		switch x.Dtype() {
		case tensor.Float64:
			view = tensor.New(tensor.WithBacking(Float64s(x)[lo*cols:hi*cols:hi*cols]), tensor.WithShape(hi-lo, cols))
		case tensor.Float32:
			view = tensor.New(tensor.WithBacking(Float32s(x)[lo*cols:hi*cols:hi*cols]), tensor.WithShape(hi-lo, cols))
		default:
			return fmt.Errorf("graph: bind %q: tensor is %v: %w", name, x.Dtype(), ErrDType)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return p.Bind(name, view)
}

// Reads returns the tensor the named input reads on the next Run: the
// program's own buffer or the tensor given to Bind (nil before either).
func (p *Program) Reads(name string) (*tensor.Dense, error) {
	in, err := p.input(name)
	if err != nil {
		return nil, err
	}
	return in.bound, nil
}

func (p *Program) bindInput(in *inputSlot, t *tensor.Dense) error {
	if p.own != nil {
		if err := p.own.bind(in.node, t); err != nil {
			return err
		}
	} else if p.vm != nil || p.machine == TapeMachine {
		err := Guard("graph: bind "+in.name, func() error { return gorgonia.Let(in.node, t) })
		if err != nil {
			return err
		}
	}
	in.bound = t
	return nil
}

// InputNames returns the names of the program's inputs, in declaration order.
func (p *Program) InputNames() []string {
	names := make([]string, len(p.g.inputs))
	for i, in := range p.g.inputs {
		names[i] = in.name
	}
	return names
}

// InputShape returns the shape of the named input, or nil.
func (p *Program) InputShape(name string) []int {
	in, err := p.input(name)
	if err != nil {
		return nil
	}
	return slices.Clone(in.shape)
}

// Feed copies t into the named input after checking its dtype and shape.
func (p *Program) Feed(name string, t *tensor.Dense) error {
	buf, err := p.Input(name)
	if err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("graph: input %q: nil tensor", name)
	}
	if t.Dtype() != buf.Dtype() {
		return fmt.Errorf("graph: input %q is %v, got %v: %w", name, buf.Dtype(), t.Dtype(), ErrDType)
	}
	if !t.Shape().Eq(buf.Shape()) {
		return fmt.Errorf("graph: input %q has shape %v, got %v: %w", name, buf.Shape(), t.Shape(), ErrShape)
	}
	return Guard("graph: feed "+name, func() error {
		switch d := buf.Data().(type) {
		case []float64:
			copy(d, t.Data().([]float64))
		case []float32:
			copy(d, t.Data().([]float32))
		}
		return nil
	})
}

// Run executes the program once on the current inputs and writes each
// parameter's gradient into Param.Grad. It checks every input's shape and
// dtype first (an input never written is all zeros). On descent's VM it
// allocates nothing; on the tape machine it resets the machine (gorgonia
// returns the previous run's values without it) and runs it.
func (p *Program) Run() error {
	if p.vm == nil {
		return errors.New("graph: program is closed")
	}
	for _, in := range p.g.inputs {
		if in.bound == nil {
			if _, err := p.Input(in.name); err != nil {
				return err
			}
		}
		if in.bound.Dtype() != p.g.dtype || !slices.Equal([]int(in.bound.Shape()), in.shape) {
			return fmt.Errorf("graph: input %q is %v %v, want %v %v: %w", in.name, in.bound.Dtype(), in.bound.Shape(), p.g.dtype, in.shape, ErrShape)
		}
	}
	for _, prm := range p.g.params {
		if prm.value.Dtype() != p.g.dtype {
			return fmt.Errorf("graph: parameter %s changed dtype: %w", prm.name, ErrDType)
		}
	}
	if p.own != nil {
		if err := p.own.check(); err != nil {
			return err
		}
	}
	if err := p.runMachine(); err != nil {
		return fmt.Errorf("graph: run: %w", err)
	}
	if p.lossOut != nil {
		if p.own != nil {
			p.lossVal, _ = p.own.scalar(p.loss)
		} else {
			v, err := scalarValue(p.lossOut.into)
			if err != nil {
				return fmt.Errorf("graph: reading the loss: %w", err)
			}
			p.lossVal = v
		}
	}
	if p.own == nil {
		for i, slot := range p.grads {
			if slot.into != p.wrt[i].grad {
				return fmt.Errorf("graph: gradient of %s was not written in place", p.wrt[i].name)
			}
		}
	}
	p.ran = true
	return nil
}

// runMachine runs the machine once, turning a panic into a *PanicError.
func (p *Program) runMachine() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Op: "graph: run", Value: r}
		}
	}()
	if p.own == nil {
		p.vm.Reset()
	}
	return p.vm.RunAll()
}

// Loss returns the loss computed by the last Run (0 before any run or for a
// forward-only program).
func (p *Program) Loss() float64 { return p.lossVal }

// HasLoss reports whether the program computes a loss and gradients.
func (p *Program) HasLoss() bool { return p.loss != nil }

// Params returns the parameters whose gradients Run writes, in order.
func (p *Program) Params() []*Param { return slices.Clone(p.wrt) }

// OutputNames returns the names of the outputs, sorted.
func (p *Program) OutputNames() []string {
	names := slices.Collect(maps.Keys(p.outputs))
	sort.Strings(names)
	return names
}

// Output returns the value of the named output from the last Run. The
// tensor belongs to the program and is valid until the next Run; copy it to
// keep it.
func (p *Program) Output(name string) (*tensor.Dense, error) {
	s, ok := p.outputs[name]
	if !ok {
		return nil, fmt.Errorf("graph: no output %q (outputs: %s): %w", name, strings.Join(p.OutputNames(), ", "), ErrUnknown)
	}
	if !p.ran {
		return nil, fmt.Errorf("graph: output %q read before the program ran", name)
	}
	d, ok := s.into.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("graph: output %q is a %T, not a tensor", name, s.into)
	}
	return d, nil
}

// Scalar returns the value of a scalar output from the last Run.
func (p *Program) Scalar(name string) (float64, error) {
	s, ok := p.outputs[name]
	if !ok {
		return 0, fmt.Errorf("graph: no output %q: %w", name, ErrUnknown)
	}
	if !p.ran {
		return 0, fmt.Errorf("graph: output %q read before the program ran", name)
	}
	if p.own != nil && s.node.IsScalar() {
		if v, ok := p.own.scalar(s.node); ok {
			return v, nil
		}
	}
	return scalarValue(s.into)
}

// Close releases the machine and its buffers.
func (p *Program) Close() error {
	if p.vm == nil {
		return nil
	}
	err := Guard("graph: close", p.vm.Close)
	p.vm, p.own = nil, nil
	return err
}

func scalarValue(v gorgonia.Value) (float64, error) {
	switch v := v.(type) {
	case *gorgonia.F64:
		return float64(*v), nil
	case *gorgonia.F32:
		return float64(*v), nil
	case *tensor.Dense:
		if v.Shape().TotalSize() == 1 {
			return ReadFloat64s(v, nil)[0], nil
		}
		return 0, fmt.Errorf("value of shape %v is not a scalar: %w", v.Shape(), ErrShape)
	case nil:
		return 0, errors.New("no value")
	default:
		return 0, fmt.Errorf("unexpected value %T", v)
	}
}
