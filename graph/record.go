package graph

import "gorgonia.org/gorgonia"

// opKind names what a node computes, as descent's own executor (exec.go)
// sees it. Every operation in this package records one, next to the
// gorgonia node it builds.
type opKind uint8

const (
	opInput opKind = iota + 1
	opParam
	opConst
	opMatMul
	opAddBias
	opAdd
	opSub
	opMul
	opDiv
	opNeg
	opExp
	opLog
	opSquare
	opSqrt
	opTanh
	opSigmoid
	opSoftplus
	opReLU
	opLeakyReLU
	opELU
	opStep
	opSoftmax
	opLogSoftmax
	opClip
	opSum
)

// opRec is the record of one gorgonia node: its operation, operands and
// parameters (alpha, clip bounds or a constant's value in a and b).
type opRec struct {
	n     *gorgonia.Node
	kind  opKind
	args  []*opRec
	a, b  float64
	index int // input or parameter index
}

// record notes that n computes kind of args. gorgonia returns an existing
// node for an expression built twice; its record is kept.
func (g *Graph) record(n *gorgonia.Node, kind opKind, a, b float64, index int, args ...*gorgonia.Node) {
	if g.recs == nil {
		g.recs = map[*gorgonia.Node]*opRec{}
	}
	if _, ok := g.recs[n]; ok {
		return
	}
	r := &opRec{n: n, kind: kind, a: a, b: b, index: index}
	for _, x := range args {
		ar, ok := g.recs[x]
		if !ok {
			g.unrecorded = true
			return
		}
		r.args = append(r.args, ar)
	}
	g.recs[n] = r
	g.order = append(g.order, r)
}
