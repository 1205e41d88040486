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
}

// Program is a compiled graph: gorgonia's tape machine with its named inputs
// and outputs. It is not safe for concurrent use. Close releases it.
type Program struct {
	g       *Graph
	vm      gorgonia.VM
	loss    *gorgonia.Node
	wrt     []*Param
	outputs map[string]*readSlot
	lossOut *readSlot
	grads   []*readSlot
	lossVal float64
	ran     bool
}

// readSlot receives a node's value during the run through gorgonia.Read,
// which copies it into a preallocated value the moment it is computed. The
// node's own value cannot be read after the run: the tape machine reuses
// registers, so a later instruction may overwrite it in place.
type readSlot struct {
	node *gorgonia.Node
	into gorgonia.Value
}

// newReadSlot preallocates the destination of n's value and adds the read.
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
	err := Guard("graph: read", func() error {
		gorgonia.Read(n, &s.into)
		return nil
	})
	return s, err
}

// Compile compiles the graph into a program. With a Loss it also builds the
// gradient of the loss with respect to the parameters by gorgonia's symbolic
// differentiation. It returns the first error recorded while building the
// graph, if any.
func (g *Graph) Compile(s Spec) (*Program, error) {
	if g.err != nil {
		return nil, g.err
	}
	p := &Program{g: g, outputs: make(map[string]*readSlot, len(s.Outputs))}
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
	err := Guard("graph: compile", func() error {
		p.vm = gorgonia.NewTapeMachine(g.g)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
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

// Input returns the buffer of the named input. Write the next run's values
// into it in place; its shape and dtype are fixed.
func (p *Program) Input(name string) (*tensor.Dense, error) {
	for _, in := range p.g.inputs {
		if in.name == name {
			return in.value, nil
		}
	}
	return nil, fmt.Errorf("graph: no input %q (inputs: %s): %w", name, strings.Join(p.InputNames(), ", "), ErrUnknown)
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
	buf, err := p.Input(name)
	if err != nil {
		return nil
	}
	return slices.Clone([]int(buf.Shape()))
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

// Run executes the program once on the current inputs: it checks every
// input buffer's shape and dtype, resets the tape machine (gorgonia returns
// the previous run's values without it) and runs it, then copies each
// parameter's gradient into Param.Grad.
func (p *Program) Run() error {
	if p.vm == nil {
		return errors.New("graph: program is closed")
	}
	for _, in := range p.g.inputs {
		want := in.node.Shape()
		if in.value.Dtype() != p.g.dtype || !in.value.Shape().Eq(want) {
			return fmt.Errorf("graph: input %q is %v %v, want %v %v: %w", in.name, in.value.Dtype(), in.value.Shape(), p.g.dtype, want, ErrShape)
		}
	}
	for _, prm := range p.g.params {
		if prm.value.Dtype() != p.g.dtype {
			return fmt.Errorf("graph: parameter %s changed dtype: %w", prm.name, ErrDType)
		}
	}
	err := Guard("graph: run", func() error {
		p.vm.Reset()
		return p.vm.RunAll()
	})
	if err != nil {
		return fmt.Errorf("graph: run: %w", err)
	}
	if p.lossOut != nil {
		v, err := scalarValue(p.lossOut.into)
		if err != nil {
			return fmt.Errorf("graph: reading the loss: %w", err)
		}
		p.lossVal = v
	}
	for i, slot := range p.grads {
		if slot.into != p.wrt[i].grad {
			return fmt.Errorf("graph: gradient of %s was not written in place", p.wrt[i].name)
		}
	}
	p.ran = true
	return nil
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
	return scalarValue(s.into)
}

// Close releases the tape machine.
func (p *Program) Close() error {
	if p.vm == nil {
		return nil
	}
	err := Guard("graph: close", p.vm.Close)
	p.vm = nil
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
