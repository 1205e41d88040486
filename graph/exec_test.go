package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// sink builds one loss that uses every operation of the package, so that
// descent's executor and gorgonia's tape machine can be compared on all of
// them, their broadcasts (a scalar on either side), a parameter used twice
// (gradient accumulation) and a product feeding a bias addition (fused).
type sink struct {
	name  string
	build func(g *Graph, x, y *Node, w1, b1, w2, b2, s *Node) (loss, pred *Node)
}

func sinks() []sink {
	head := func(act func(*Node) *Node) func(g *Graph, x, y *Node, w1, b1, w2, b2, s *Node) (*Node, *Node) {
		return func(g *Graph, x, y *Node, w1, b1, w2, b2, s *Node) (*Node, *Node) {
			h := act(AddBias(MatMul(x, w1), b1))
			z := AddBias(MatMul(h, w2), b2)
			return Mean(Square(Sub(z, y))), z
		}
	}
	return []sink{
		{"tanh", head(Tanh)},
		{"sigmoid", head(Sigmoid)},
		{"relu", head(ReLU)},
		{"leaky_relu", head(func(x *Node) *Node { return LeakyReLU(x, 0.1) })},
		{"elu", head(func(x *Node) *Node { return ELU(x, 0.7) })},
		{"softplus", head(Softplus)},
		{"softmax", head(Softmax)},
		{"exp", head(Exp)},
		{"clip", head(func(x *Node) *Node { return Clip(x, -0.5, 0.5) })},
		{"neg_sqrt", head(func(x *Node) *Node { return Neg(Sqrt(Shift(Square(x), 0.1))) })},
		{"cce", func(g *Graph, x, y *Node, w1, b1, w2, b2, s *Node) (*Node, *Node) {
			h := Tanh(AddBias(MatMul(x, w1), b1))
			z := AddBias(MatMul(h, w2), b2)
			return Scale(Sum(Mul(y, LogSoftmax(z))), -0.25), Softmax(z)
		}},
		{"bce", func(g *Graph, x, y *Node, w1, b1, w2, b2, s *Node) (*Node, *Node) {
			p := Clip(Sigmoid(AddBias(MatMul(Tanh(AddBias(MatMul(x, w1), b1)), w2), b2)), 1e-7, 1-1e-7)
			one := g.Scalar(1)
			return Neg(Mean(Add(Mul(y, Log(p)), Mul(Sub(one, y), Log(Sub(one, p)))))), p
		}},
		{"scalars_and_reuse", func(g *Graph, x, y *Node, w1, b1, w2, b2, s *Node) (*Node, *Node) {
			a := MatMul(x, w1) // unfused: used twice
			h := Add(Tanh(a), Mul(a, s))
			h = Div(h, Shift(Square(s), 2))
			h = AddBias(h, b1)
			z := AddBias(MatMul(h, w2), b2)
			z = Sub(Mul(s, z), Div(g.Scalar(0.5), Shift(Square(z), 1)))
			z = Add(Sub(g.Scalar(0.25), z), Div(z, s))
			l := Add(Mean(Square(Sub(z, y))), Mul(Sum(b1), Sum(b1)))
			return Add(l, Sum(Mul(w2, w2))), z
		}},
	}
}

// buildSink compiles a sink on fresh parameters and random inputs from seed.
func buildSink(t *testing.T, dt tensor.Dtype, sk sink, tape bool) (*Program, []*Param) {
	t.Helper()
	old := useTapeMachine
	useTapeMachine = tape
	defer func() { useTapeMachine = old }()
	const n, in, hid, out = 4, 3, 5, 3
	rng := rand.New(rand.NewPCG(5, 6))
	shapes := [][]int{{in, hid}, {hid}, {hid, out}, {out}, {}}
	var ps []*Param
	for i, s := range shapes {
		var p *Param
		var err error
		if len(s) == 0 {
			p, err = NewParam("s", dt, 1)
		} else {
			p, err = NewParam(fmt.Sprintf("p%d", i), dt, s...)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Init(RandomUniform{Min: 0.2, Max: 1}, rng); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	g := New(dt)
	x := g.Input("x", n, in)
	y := g.Input("y", n, out)
	s := Sum(g.Param(ps[4])) // a scalar node
	loss, pred := sk.build(g, x, y, g.Param(ps[0]), g.Param(ps[1]), g.Param(ps[2]), g.Param(ps[3]), s)
	loss = Add(loss, Scale(Square(s), 1e-3)) // every parameter reaches the loss
	prog, err := g.Compile(Spec{Loss: loss, Outputs: map[string]*Node{"pred": pred, "loss": loss, "w": g.Param(ps[0])}})
	if err != nil {
		t.Fatal(err)
	}
	if tape != (prog.eng == nil) {
		t.Fatalf("tape machine %v, but the program's engine is %v", tape, prog.eng)
	}
	xs, _ := prog.Input("x")
	ys, _ := prog.Input("y")
	xv, yv := make([]float64, n*in), make([]float64, n*out)
	for i := range xv {
		xv[i] = rng.Float64()*2 - 1
	}
	for i := range yv {
		yv[i] = rng.Float64()
	}
	if err := WriteFloat64s(xs, xv); err != nil {
		t.Fatal(err)
	}
	if err := WriteFloat64s(ys, yv); err != nil {
		t.Fatal(err)
	}
	return prog, ps
}

// TestExecutorMatchesTapeMachine runs every sink on both executors and
// compares the loss, the outputs and every gradient. Tolerances: the two
// sum in different orders (and float32 transcendental functions round
// through float64 here, through math32 in tensor), so float64 agrees to a
// few ulps and float32 to about 1e-6 relative.
func TestExecutorMatchesTapeMachine(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		tol := 1e-12
		if dt == tensor.Float32 {
			tol = 2e-5
		}
		for _, sk := range sinks() {
			t.Run(dt.String()+"/"+sk.name, func(t *testing.T) {
				ours, ps := buildSink(t, dt, sk, false)
				theirs, qs := buildSink(t, dt, sk, true)
				for step := range 2 { // twice: the second run reuses every buffer
					for _, p := range []*Program{ours, theirs} {
						if err := p.Run(); err != nil {
							t.Fatal(err)
						}
					}
					near := func(what string, a, b []float64) {
						t.Helper()
						for i := range a {
							if d := math.Abs(a[i] - b[i]); !(d <= tol*math.Max(1, math.Abs(b[i]))) {
								t.Fatalf("run %d: %s[%d]: descent %.17g, gorgonia %.17g", step+1, what, i, a[i], b[i])
							}
						}
					}
					near("loss", []float64{ours.Loss()}, []float64{theirs.Loss()})
					l1, err1 := ours.Scalar("loss")
					l2, err2 := theirs.Scalar("loss")
					if err1 != nil || err2 != nil {
						t.Fatal(err1, err2)
					}
					near("loss output", []float64{l1}, []float64{l2})
					for _, name := range []string{"pred", "w"} {
						a, err := ours.Output(name)
						if err != nil {
							t.Fatal(err)
						}
						b, err := theirs.Output(name)
						if err != nil {
							t.Fatal(err)
						}
						near(name, ReadFloat64s(a, nil), ReadFloat64s(b, nil))
					}
					for i := range ps {
						near("d/d"+ps[i].Name(), ReadFloat64s(ps[i].Grad(), nil), ReadFloat64s(qs[i].Grad(), nil))
					}
					// Move both to a new point: in-place updates must be seen.
					for i := range ps {
						a, b := ReadFloat64s(ps[i].Value(), nil), ReadFloat64s(qs[i].Value(), nil)
						for j := range a {
							a[j] += 0.01 * float64(j+1)
							b[j] += 0.01 * float64(j+1)
						}
						if err := ps[i].SetFloat64s(a); err != nil {
							t.Fatal(err)
						}
						if err := qs[i].SetFloat64s(b); err != nil {
							t.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// TestExecutorGradients checks every sink's gradient against finite
// differences on descent's executor (GradCheck's default tolerances).
func TestExecutorGradients(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, sk := range sinks() {
			if dt == tensor.Float32 && sk.name == "scalars_and_reuse" {
				continue // too curved for float32's step of 1e-2
			}
			t.Run(dt.String()+"/"+sk.name, func(t *testing.T) {
				prog, _ := buildSink(t, dt, sk, false)
				if _, err := prog.CheckGradients(GradCheck{}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestRunAllocatesNothing: a steady-state training run of descent's
// executor allocates nothing (small matrices, so gonum's GEMM stays on its
// serial path).
func TestRunAllocatesNothing(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		prog, _ := mlp(t, dt, 4, 3, 8, 2, ReLU, mseHead)
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(100, func() {
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%v: %v allocations per run, want 0", dt, a)
		}
	}
}

// TestInputGradientSkipped: the executor differentiates only what the
// parameters need, so a graph with an input feeding the loss has no
// backward kernel for it (the first layer's product has one GEMM for the
// weight's gradient and none for the input's).
func TestInputGradientSkipped(t *testing.T) {
	prog, _ := mlp(t, tensor.Float64, 4, 3, 8, 2, Tanh, mseHead)
	e := prog.eng.(*execProgram[float64])
	// Backward kernels: square, sub, sum, scale (4); second bias (1);
	// second product (2); tanh (1); first bias (1); first product (1).
	if got, want := len(e.bwd), 10; got != want {
		t.Errorf("%d backward kernels, want %d", got, want)
	}
}

// TestUnusedParameter: as with gorgonia's Grad, differentiating with
// respect to a parameter the loss does not depend on is an error.
func TestUnusedParameter(t *testing.T) {
	w, _ := NewParam("w", tensor.Float64, 2, 1)
	v, _ := NewParam("v", tensor.Float64, 1)
	g := New(tensor.Float64)
	x := g.Input("x", 3, 2)
	g.Param(v)
	if _, err := g.Compile(Spec{Loss: Mean(MatMul(x, g.Param(w)))}); err == nil {
		t.Fatal("no error for a parameter the loss does not depend on")
	}
}

// TestExecutorOutputsOfLeaves: outputs that are inputs, parameters or
// constants are copies taken at the end of the run.
func TestExecutorOutputsOfLeaves(t *testing.T) {
	w, _ := NewParam("w", tensor.Float32, 2)
	if err := w.SetFloat64s([]float64{3, 4}); err != nil {
		t.Fatal(err)
	}
	g := New(tensor.Float32)
	x := g.Input("x", 2)
	p, err := g.Compile(Spec{Outputs: map[string]*Node{"x": x, "w": g.Param(w), "c": g.Scalar(2)}})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := p.Input("x")
	Float32s(in)[1] = 5
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	xo, _ := p.Output("x")
	wo, _ := p.Output("w")
	c, err := p.Scalar("c")
	if got := ReadFloat64s(xo, nil); got[1] != 5 {
		t.Errorf("x = %v", got)
	}
	if got := ReadFloat64s(wo, nil); got[0] != 3 || got[1] != 4 {
		t.Errorf("w = %v", got)
	}
	if err != nil || c != 2 {
		t.Errorf("c = %v, %v", c, err)
	}
	Float32s(in)[1] = 6 // the output is a copy, valid until the next run
	if got := ReadFloat64s(xo, nil); got[1] != 5 {
		t.Errorf("x output changed with the input: %v", got)
	}
}
