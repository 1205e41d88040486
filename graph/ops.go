package graph

import (
	"errors"
	"fmt"

	"gorgonia.org/gorgonia"
)

// apply runs one gorgonia construction under Guard and wraps its node.
func apply(name string, inputs []*Node, f func(ns ...*gorgonia.Node) (*gorgonia.Node, error)) *Node {
	if len(inputs) == 0 || inputs[0] == nil {
		return nil
	}
	g := inputs[0].g
	ns := make([]*gorgonia.Node, len(inputs))
	for i, in := range inputs {
		if in == nil || in.g != g {
			return g.fail(fmt.Errorf("graph: %s: operand %d is nil or from another graph", name, i))
		}
		if in.n == nil {
			return &Node{g: g} // an earlier failure is already recorded
		}
		ns[i] = in.n
	}
	if g.err != nil {
		return &Node{g: g}
	}
	var out *gorgonia.Node
	err := Guard("graph: "+name, func() error {
		var err error
		out, err = f(ns...)
		return err
	})
	if err != nil {
		shapes := make([]any, len(inputs))
		for i, in := range inputs {
			shapes[i] = in.Shape()
		}
		return g.fail(fmt.Errorf("graph: %s of shapes %v: %w", name, shapes, err))
	}
	return &Node{g: g, n: out, label: name}
}

func unary(name string, x *Node, f func(*gorgonia.Node) (*gorgonia.Node, error)) *Node {
	return apply(name, []*Node{x}, func(ns ...*gorgonia.Node) (*gorgonia.Node, error) { return f(ns[0]) })
}

func binary(name string, a, b *Node, f func(a, b *gorgonia.Node) (*gorgonia.Node, error)) *Node {
	return apply(name, []*Node{a, b}, func(ns ...*gorgonia.Node) (*gorgonia.Node, error) { return f(ns[0], ns[1]) })
}

// MatMul returns the matrix product a·b of a [n, k] and b [k, m].
func MatMul(a, b *Node) *Node {
	return binary("matmul", a, b, func(a, b *gorgonia.Node) (*gorgonia.Node, error) {
		if a.Dims() != 2 || b.Dims() != 2 || a.Shape()[1] != b.Shape()[0] {
			return nil, fmt.Errorf("want [n, k]·[k, m]: %w", ErrShape)
		}
		return gorgonia.Mul(a, b)
	})
}

// AddBias returns x + b with x [n, k] and b [k], b added to every row.
func AddBias(x, b *Node) *Node {
	return binary("add bias", x, b, func(x, b *gorgonia.Node) (*gorgonia.Node, error) {
		if x.Dims() != 2 || b.Dims() != 1 || x.Shape()[1] != b.Shape()[0] {
			return nil, fmt.Errorf("want [n, k] + [k]: %w", ErrShape)
		}
		return gorgonia.BroadcastAdd(x, b, nil, []byte{0})
	})
}

func sameShape(a, b *gorgonia.Node) error {
	if !a.Shape().Eq(b.Shape()) && !a.IsScalar() && !b.IsScalar() {
		return fmt.Errorf("operands differ: %w", ErrShape)
	}
	return nil
}

// Add returns a + b, element-wise (same shapes, or one scalar).
func Add(a, b *Node) *Node {
	return binary("add", a, b, func(a, b *gorgonia.Node) (*gorgonia.Node, error) {
		if err := sameShape(a, b); err != nil {
			return nil, err
		}
		return gorgonia.Add(a, b)
	})
}

// Sub returns a - b, element-wise (same shapes, or one scalar).
func Sub(a, b *Node) *Node {
	return binary("sub", a, b, func(a, b *gorgonia.Node) (*gorgonia.Node, error) {
		if err := sameShape(a, b); err != nil {
			return nil, err
		}
		return gorgonia.Sub(a, b)
	})
}

// Mul returns the element-wise product a ⊙ b (same shapes, or one scalar).
func Mul(a, b *Node) *Node {
	return binary("mul", a, b, func(a, b *gorgonia.Node) (*gorgonia.Node, error) {
		if err := sameShape(a, b); err != nil {
			return nil, err
		}
		return gorgonia.HadamardProd(a, b)
	})
}

// Div returns a / b, element-wise (same shapes, or one scalar).
func Div(a, b *Node) *Node {
	return binary("div", a, b, func(a, b *gorgonia.Node) (*gorgonia.Node, error) {
		if err := sameShape(a, b); err != nil {
			return nil, err
		}
		return gorgonia.HadamardDiv(a, b)
	})
}

// Scale returns c·x.
func Scale(x *Node, c float64) *Node {
	if x == nil {
		return nil
	}
	return Mul(x, x.g.Scalar(c))
}

// Shift returns x + c.
func Shift(x *Node, c float64) *Node {
	if x == nil {
		return nil
	}
	return Add(x, x.g.Scalar(c))
}

// Neg returns -x.
func Neg(x *Node) *Node { return unary("neg", x, gorgonia.Neg) }

// Exp returns e^x element-wise.
func Exp(x *Node) *Node { return unary("exp", x, gorgonia.Exp) }

// Log returns the natural logarithm element-wise.
func Log(x *Node) *Node { return unary("log", x, gorgonia.Log) }

// Abs returns |x| element-wise. Its derivative is sign(x), 0 at 0 (as in
// TensorFlow and PyTorch).
func Abs(x *Node) *Node { return unary("abs", x, gorgonia.Abs) }

// Square returns x² element-wise.
func Square(x *Node) *Node { return unary("square", x, gorgonia.Square) }

// Sqrt returns √x element-wise.
func Sqrt(x *Node) *Node { return unary("sqrt", x, gorgonia.Sqrt) }

// Tanh returns tanh(x) element-wise.
func Tanh(x *Node) *Node { return unary("tanh", x, gorgonia.Tanh) }

// Sigmoid returns 1/(1+e^-x) element-wise.
func Sigmoid(x *Node) *Node { return unary("sigmoid", x, gorgonia.Sigmoid) }

// Softplus returns log(1+e^x) element-wise.
func Softplus(x *Node) *Node { return unary("softplus", x, gorgonia.Softplus) }

// ReLU returns max(x, 0) element-wise. Its derivative at 0 is taken as 1.
func ReLU(x *Node) *Node { return unary("relu", x, gorgonia.Rectify) }

// LeakyReLU returns x for x >= 0 and alpha·x otherwise.
func LeakyReLU(x *Node, alpha float64) *Node {
	return unary("leaky_relu", x, func(n *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.LeakyRelu(n, alpha) })
}

// ELU returns x for x > 0 and alpha·(e^x - 1) otherwise.
func ELU(x *Node, alpha float64) *Node {
	return unary("elu", x, func(n *gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.ApplyOp(&eluOp{alpha: alpha}, n)
	})
}

// Heaviside returns the Heaviside step: 1 where x > 0, else 0. It has no
// gradient: compiling a graph whose loss depends on it fails with
// ErrNoGradient.
func Heaviside(x *Node) *Node {
	out := unary("step", x, func(n *gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.ApplyOp(stepOp{}, n)
	})
	if out != nil && out.n != nil {
		out.g.nondiff = append(out.g.nondiff, out)
	}
	return out
}

// Softmax returns the softmax of each row of x [n, k], computed stably
// (each row's maximum is subtracted first). gorgonia's own SoftMax is not
// used: it subtracts one element of the whole tensor, which overflows for
// rows such as [1000, 0], and it collides with LogSoftMax in one graph.
func Softmax(x *Node) *Node {
	return unary("softmax", x, func(n *gorgonia.Node) (*gorgonia.Node, error) {
		if n.Dims() != 2 {
			return nil, fmt.Errorf("want [n, k]: %w", ErrShape)
		}
		return gorgonia.ApplyOp(&softmaxOp{}, n)
	})
}

// LogSoftmax returns log(softmax(x)) of each row of x [n, k], computed
// stably as x - max - log(sum(exp(x - max))).
func LogSoftmax(x *Node) *Node {
	return unary("log_softmax", x, func(n *gorgonia.Node) (*gorgonia.Node, error) {
		if n.Dims() != 2 {
			return nil, fmt.Errorf("want [n, k]: %w", ErrShape)
		}
		return gorgonia.ApplyOp(&softmaxOp{log: true}, n)
	})
}

// Clip returns x clamped to [lo, hi] element-wise. Its gradient is 1 inside
// [lo, hi] and 0 outside, as TensorFlow's clip_by_value.
func Clip(x *Node, lo, hi float64) *Node {
	return unary("clip", x, func(n *gorgonia.Node) (*gorgonia.Node, error) {
		if !(lo <= hi) {
			return nil, errors.New("clip bounds are reversed")
		}
		return gorgonia.ApplyOp(&clipOp{lo: lo, hi: hi}, n)
	})
}

// Sum returns the sum of all elements of x, a scalar.
func Sum(x *Node) *Node {
	return unary("sum", x, func(n *gorgonia.Node) (*gorgonia.Node, error) {
		if n.IsScalar() {
			return n, nil
		}
		axes := make([]int, n.Dims())
		for i := range axes {
			axes[i] = i
		}
		return gorgonia.Sum(n, axes...)
	})
}

// Mean returns the mean of all elements of x, a scalar.
func Mean(x *Node) *Node {
	if x == nil || x.n == nil {
		return x
	}
	size := x.n.Shape().TotalSize()
	return Scale(Sum(x), 1/float64(size))
}
