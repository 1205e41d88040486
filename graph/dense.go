package graph

// Dense as one gorgonia operation. Built from gorgonia's own Mul and
// BroadcastAdd, a dense layer costs a materialised copy of the bias per row
// (BroadcastAdd repeats it), the backward pass of that repetition, and the
// gradient with respect to the layer's input even when the input is the
// data, which nothing needs (about a third of the arithmetic of an MNIST
// step). denseOp computes x·W + b in one GEMM and declares, through DiffWRT,
// that it is not differentiable with respect to a data input; its SymDiff
// returns the gradients as three more operations (g·Wᵀ, xᵀ·g and the column
// sums of g), so gradients still come from gorgonia's symbolic
// differentiation and run on its tape machine.

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/descentlab/descent/graph/gemm"
	"gonum.org/v1/gonum/blas"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Dense returns x·W + b for x [n, in], W [in, out] and b [out], or x·W when
// b is nil. Its gradient with respect to x is built only when x is not one
// of the graph's inputs (the data needs none).
func Dense(x, w, b *Node) *Node {
	nodes := []*Node{x, w}
	if b != nil {
		nodes = append(nodes, b)
	}
	return apply("dense", nodes, func(ns ...*gorgonia.Node) (*gorgonia.Node, error) {
		xs, ws := ns[0].Shape(), ns[1].Shape()
		if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[0] {
			return nil, fmt.Errorf("want [n, k]·[k, m]: %w", ErrShape)
		}
		if len(ns) == 3 && (ns[2].Dims() != 1 || ns[2].Shape()[0] != ws[1]) {
			return nil, fmt.Errorf("want a bias of [%d]: %w", ws[1], ErrShape)
		}
		op := &denseOp{bias: len(ns) == 3, gradX: !x.g.isInput(ns[0])}
		return gorgonia.ApplyOp(op, ns...)
	})
}

func (g *Graph) isInput(n *gorgonia.Node) bool {
	for _, in := range g.inputs {
		if in.node == n {
			return true
		}
	}
	return false
}

func matrixType() gorgonia.TensorType {
	return gorgonia.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
}

func vectorType() gorgonia.TensorType {
	return gorgonia.TensorType{Dims: 1, Of: hm.TypeVariable('a')}
}

// denseOp is x·W (+ b).
type denseOp struct {
	baseOp
	bias, gradX bool
}

func (op *denseOp) Arity() int {
	if op.bias {
		return 3
	}
	return 2
}

func (op *denseOp) Type() hm.Type {
	if op.bias {
		return hm.NewFnType(matrixType(), matrixType(), vectorType(), matrixType())
	}
	return hm.NewFnType(matrixType(), matrixType(), matrixType())
}

func (op *denseOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	x, w, err := twoShapes(in)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{x[0], w[1]}, nil
}

func (op *denseOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "descent.dense{bias=%v,gradX=%v}", op.bias, op.gradX)
}
func (op *denseOp) Hashcode() uint32 { return hashOf(op) }
func (op *denseOp) String() string   { return fmt.Sprintf("Dense{bias=%v}", op.bias) }

func (op *denseOp) DiffWRT(inputs int) []bool {
	d := []bool{op.gradX, true, true}
	return d[:inputs]
}

func (op *denseOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	args, err := tensorArgs(op.String(), op.Arity(), vals)
	if err != nil {
		return nil, err
	}
	x, w := args[0], args[1]
	n, k, m := x.Shape()[0], x.Shape()[1], w.Shape()[1]
	if w.Shape()[0] != k || (op.bias && args[2].Shape().TotalSize() != m) {
		return nil, fmt.Errorf("%s: shapes %v, %v: %w", op, x.Shape(), w.Shape(), ErrShape)
	}
	out := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(n, m))
	switch o := out.Data().(type) {
	case []float64:
		beta := 0.0
		if op.bias {
			fillRows(o, args[2].Data().([]float64), n)
			beta = 1
		}
		err = gemm.Dgemm(blas.NoTrans, blas.NoTrans, n, m, k, 1, x.Data().([]float64), k, w.Data().([]float64), m, beta, o, m)
	case []float32:
		var beta float32
		if op.bias {
			fillRows(o, args[2].Data().([]float32), n)
			beta = 1
		}
		err = gemm.Sgemm(blas.NoTrans, blas.NoTrans, n, m, k, 1, x.Data().([]float32), k, w.Data().([]float32), m, beta, o, m)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

func fillRows[T Float](dst, row []T, n int) {
	m := len(row)
	for r := range n {
		copy(dst[r*m:(r+1)*m], row)
	}
}

func (op *denseOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	out := make(gorgonia.Nodes, len(inputs))
	var err error
	if op.gradX {
		if out[0], err = gorgonia.ApplyOp(gemmOp{transA: false, transB: true}, grad, inputs[1]); err != nil {
			return nil, err
		}
	}
	if out[1], err = gorgonia.ApplyOp(gemmOp{transA: true, transB: false}, inputs[0], grad); err != nil {
		return nil, err
	}
	if op.bias {
		if out[2], err = gorgonia.ApplyOp(colSumOp{}, grad); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// gemmOp is op(a)·op(b) where op transposes when asked: the two products of
// a dense layer's backward pass, g·Wᵀ and xᵀ·g.
type gemmOp struct {
	baseOp
	transA, transB bool
}

func (op gemmOp) Arity() int    { return 2 }
func (op gemmOp) Type() hm.Type { return hm.NewFnType(matrixType(), matrixType(), matrixType()) }
func (op gemmOp) dims(a, b tensor.Shape) (m, n, k int, ok bool) {
	m, k = a[0], a[1]
	if op.transA {
		m, k = k, m
	}
	kb, n := b[0], b[1]
	if op.transB {
		kb, n = n, kb
	}
	return m, n, k, k == kb
}
func (op gemmOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	a, b, err := twoShapes(in)
	if err != nil {
		return nil, err
	}
	m, n, _, ok := op.dims(a, b)
	if !ok {
		return nil, fmt.Errorf("%s: shapes %v and %v: %w", op, a, b, ErrShape)
	}
	return tensor.Shape{m, n}, nil
}
func (op gemmOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "descent.gemm{%v,%v}", op.transA, op.transB)
}
func (op gemmOp) Hashcode() uint32 { return hashOf(op) }
func (op gemmOp) String() string {
	return fmt.Sprintf("Gemm{transA=%v,transB=%v}", op.transA, op.transB)
}

func (op gemmOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	args, err := tensorArgs(op.String(), 2, vals)
	if err != nil {
		return nil, err
	}
	a, b := args[0], args[1]
	m, n, k, ok := op.dims(a.Shape(), b.Shape())
	if !ok {
		return nil, fmt.Errorf("%s: shapes %v and %v: %w", op, a.Shape(), b.Shape(), ErrShape)
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if op.transA {
		ta = blas.Trans
	}
	if op.transB {
		tb = blas.Trans
	}
	lda, ldb := a.Shape()[1], b.Shape()[1]
	out := tensor.New(tensor.Of(a.Dtype()), tensor.WithShape(m, n))
	switch o := out.Data().(type) {
	case []float64:
		err = gemm.Dgemm(ta, tb, m, n, k, 1, a.Data().([]float64), lda, b.Data().([]float64), ldb, 0, o, n)
	case []float32:
		err = gemm.Sgemm(ta, tb, m, n, k, 1, a.Data().([]float32), lda, b.Data().([]float32), ldb, 0, o, n)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// colSumOp sums a matrix's rows: the gradient of a bias added to each row.
type colSumOp struct{ baseOp }

func (colSumOp) Arity() int    { return 1 }
func (colSumOp) Type() hm.Type { return hm.NewFnType(matrixType(), vectorType()) }
func (colSumOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("colsum: %d inputs", len(in))
	}
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, fmt.Errorf("colsum: input %v is not a matrix: %w", in[0], ErrShape)
	}
	return tensor.Shape{s[1]}, nil
}
func (colSumOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "descent.colsum") }
func (op colSumOp) Hashcode() uint32   { return hashOf(op) }
func (colSumOp) String() string        { return "ColSum" }

func (op colSumOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	args, err := tensorArgs(op.String(), 1, vals)
	if err != nil {
		return nil, err
	}
	a := args[0]
	if a.Dims() != 2 {
		return nil, fmt.Errorf("%s: input %v is not a matrix: %w", op, a.Shape(), ErrShape)
	}
	n, m := a.Shape()[0], a.Shape()[1]
	out := tensor.New(tensor.Of(a.Dtype()), tensor.WithShape(m))
	switch o := out.Data().(type) {
	case []float64:
		colSum(o, a.Data().([]float64), n)
	case []float32:
		colSum(o, a.Data().([]float32), n)
	}
	return out, nil
}

func colSum[T Float](out, a []T, n int) {
	m := len(out)
	for r := range n {
		for j, v := range a[r*m : (r+1)*m] {
			out[j] += v
		}
	}
}

func twoShapes(in []gorgonia.DimSizer) (a, b tensor.Shape, err error) {
	if len(in) < 2 {
		return nil, nil, fmt.Errorf("%d input shapes, want at least 2", len(in))
	}
	a, ok1 := in[0].(tensor.Shape)
	b, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(a) != 2 || len(b) != 2 {
		return nil, nil, fmt.Errorf("input shapes %v and %v are not matrices: %w", in[0], in[1], ErrShape)
	}
	return a, b, nil
}

// tensorArgs checks that vals are float tensors of one dtype (shapes may
// differ) and returns them.
func tensorArgs(name string, want int, vals []gorgonia.Value) ([]*tensor.Dense, error) {
	if len(vals) != want {
		return nil, fmt.Errorf("%s: %d inputs, want %d", name, len(vals), want)
	}
	out := make([]*tensor.Dense, len(vals))
	for i, v := range vals {
		d, ok := v.(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("%s: input %d is %T, want a tensor", name, i, v)
		}
		if err := CheckDType(d.Dtype()); err != nil || (i > 0 && d.Dtype() != out[0].Dtype()) {
			return nil, fmt.Errorf("%s: input %d is %v: %w", name, i, d.Dtype(), ErrDType)
		}
		out[i] = d
	}
	return out, nil
}
