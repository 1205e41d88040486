package graph

import (
	"errors"
	"fmt"
	"slices"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Graph is an expression graph under construction, for one fixed set of
// input shapes. It is not safe for concurrent use; build one per goroutine.
//
// Operations on a Graph's nodes record the first error they meet in the
// Graph and return a failed node, so an expression can be written in one
// line; Err and Compile report that error.
type Graph struct {
	g        *gorgonia.ExprGraph
	dtype    tensor.Dtype
	err      error
	inputs   []*inputSlot
	params   []*Param
	pnodes   []*gorgonia.Node
	nondiff  []*Node // nodes built by operations without a gradient
	compiled bool
}

// inputSlot is a graph input. Its own buffer is allocated on first use, so
// a program whose input is bound to the caller's tensor (Program.Bind)
// never holds a copy of it.
type inputSlot struct {
	name  string
	node  *gorgonia.Node
	shape []int
	own   *tensor.Dense // the program's buffer, nil until needed
	bound *tensor.Dense // what runs read: own, or the tensor given to Bind
}

// buffer returns the input's own buffer, allocating it on first use.
func (in *inputSlot) buffer(dt tensor.Dtype) (*tensor.Dense, error) {
	if in.own == nil {
		t, err := ZeroTensor(dt, in.shape...)
		if err != nil {
			return nil, fmt.Errorf("graph: input %q: %w", in.name, err)
		}
		in.own = t
	}
	return in.own, nil
}

// Node is a value in a Graph: an input, a bound parameter, or the result of
// an operation. A Node whose construction failed carries no value; using it
// in further operations is harmless and the Graph reports the first error.
type Node struct {
	g     *Graph
	n     *gorgonia.Node
	label string // what built it, for error messages
}

// New returns an empty graph computing in dt (float32 or float64; the zero
// Dtype means float64).
func New(dt tensor.Dtype) *Graph {
	dt = DefaultDType(dt)
	g := &Graph{g: gorgonia.NewGraph(), dtype: dt}
	if err := CheckDType(dt); err != nil {
		g.err = err
	}
	return g
}

// DType returns the graph's dtype.
func (g *Graph) DType() tensor.Dtype { return g.dtype }

// Err returns the first error recorded while building the graph, or nil.
func (g *Graph) Err() error { return g.err }

func (g *Graph) fail(err error) *Node {
	if g.err == nil {
		g.err = err
	}
	return &Node{g: g}
}

// Fail records err as the graph's error if it has none yet and returns a
// failed node. Layers built on top of this package use it to report their
// own validation errors through the same channel.
func (g *Graph) Fail(err error) *Node { return g.fail(err) }

// Input adds a named input of the given shape. Its values are set before each
// run through Program.Input or Program.Feed.
func (g *Graph) Input(name string, shape ...int) *Node {
	if g.err != nil {
		return &Node{g: g}
	}
	for _, in := range g.inputs {
		if in.name == name {
			return g.fail(fmt.Errorf("graph: input %q declared twice: %w", name, ErrUnknown))
		}
	}
	if len(shape) == 0 {
		return g.fail(fmt.Errorf("graph: input %q has no shape: %w", name, ErrShape))
	}
	for _, d := range shape {
		if d <= 0 {
			return g.fail(fmt.Errorf("graph: input %q: shape %v has a non-positive dimension: %w", name, shape, ErrShape))
		}
	}
	var n *gorgonia.Node
	err := Guard("graph: input "+name, func() error {
		n = gorgonia.NewTensor(g.g, g.dtype, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name))
		return nil
	})
	if err != nil {
		return g.fail(err)
	}
	g.inputs = append(g.inputs, &inputSlot{name: name, node: n, shape: slices.Clone(shape)})
	return &Node{g: g, n: n, label: name}
}

// Param binds p into the graph. The node reads p's tensor directly, so it
// sees every in-place update. Binding the same parameter twice returns the
// same node. p's dtype must be the graph's.
func (g *Graph) Param(p *Param) *Node {
	if g.err != nil {
		return &Node{g: g}
	}
	if p == nil {
		return g.fail(errors.New("graph: nil parameter"))
	}
	if i := slices.Index(g.params, p); i >= 0 {
		return &Node{g: g, n: g.pnodes[i], label: p.name}
	}
	if p.DType() != g.dtype {
		return g.fail(fmt.Errorf("graph: parameter %s is %v, graph is %v: %w", p.name, p.DType(), g.dtype, ErrDType))
	}
	var n *gorgonia.Node
	err := Guard("graph: parameter "+p.name, func() error {
		n = gorgonia.NewTensor(g.g, g.dtype, len(p.value.Shape()), gorgonia.WithShape(p.value.Shape()...), gorgonia.WithName(p.name), gorgonia.WithValue(p.value))
		return nil
	})
	if err != nil {
		return g.fail(err)
	}
	g.params = append(g.params, p)
	g.pnodes = append(g.pnodes, n)
	return &Node{g: g, n: n, label: p.name}
}

// Params returns the parameters bound into the graph, in binding order.
func (g *Graph) Params() []*Param { return slices.Clone(g.params) }

// Scalar returns a constant scalar node in the graph's dtype.
func (g *Graph) Scalar(v float64) *Node {
	if g.err != nil {
		return &Node{g: g}
	}
	var n *gorgonia.Node
	err := Guard("graph: constant", func() error {
		if g.dtype == tensor.Float32 {
			n = gorgonia.NewConstant(float32(v))
		} else {
			n = gorgonia.NewConstant(v)
		}
		return nil
	})
	if err != nil {
		return g.fail(err)
	}
	return &Node{g: g, n: n, label: fmt.Sprint(v)}
}

// Graph returns the graph the node belongs to.
func (n *Node) Graph() *Graph { return n.g }

// Shape returns a copy of the node's shape; nil for a failed node. A scalar
// has an empty shape.
func (n *Node) Shape() []int {
	if n == nil || n.n == nil {
		return nil
	}
	return slices.Clone([]int(n.n.Shape()))
}

// Failed reports whether the node could not be built.
func (n *Node) Failed() bool { return n == nil || n.n == nil }
