package graph

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// mlpParams returns the weights of a 2-layer network, w1 [in,hidden], b1,
// w2 [hidden,out] and b2, drawn from U[-1, 1] by PCG(seed1, seed2), and
// the generator, for the data.
func mlpParams(t *testing.T, dt tensor.Dtype, in, hidden, out int, seed1, seed2 uint64) (rng *rand.Rand, w1, b1, w2, b2 *Param) {
	t.Helper()
	rng = rand.New(rand.NewPCG(seed1, seed2))
	w1, _ = NewParam("w1", dt, in, hidden)
	b1, _ = NewParam("b1", dt, hidden)
	w2, _ = NewParam("w2", dt, hidden, out)
	b2, _ = NewParam("b2", dt, out)
	for _, p := range []*Param{w1, b1, w2, b2} {
		if err := p.Init(RandomUniform{Min: -1, Max: 1}, rng); err != nil {
			t.Fatal(err)
		}
	}
	return rng, w1, b1, w2, b2
}

// mlp builds a 2-layer network on a batch of n rows and returns the program
// with inputs "x" [n,in] and "y" [n,out] and output "pred".
func mlp(t *testing.T, dt tensor.Dtype, n, in, hidden, out int, act func(*Node) *Node, head func(z, y *Node) (*Node, *Node)) (*Program, []*Param) {
	t.Helper()
	rng, w1, b1, w2, b2 := mlpParams(t, dt, in, hidden, out, 1, 2)
	g := New(dt)
	x := g.Input("x", n, in)
	y := g.Input("y", n, out)
	h := act(AddBias(MatMul(x, g.Param(w1)), g.Param(b1)))
	z := AddBias(MatMul(h, g.Param(w2)), g.Param(b2))
	pred, loss := head(z, y)
	prog, err := g.Compile(Spec{Loss: loss, Outputs: map[string]*Node{"pred": pred}})
	if err != nil {
		t.Fatal(err)
	}
	xs, _ := prog.Input("x")
	ys, _ := prog.Input("y")
	xv := make([]float64, n*in)
	yv := make([]float64, n*out)
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
	return prog, []*Param{w1, b1, w2, b2}
}

func mseHead(z, y *Node) (*Node, *Node) { return z, Mean(Square(Sub(z, y))) }

func TestGradientsOfOps(t *testing.T) {
	acts := map[string]func(*Node) *Node{
		"tanh":       Tanh,
		"sigmoid":    Sigmoid,
		"relu":       ReLU,
		"leaky_relu": func(x *Node) *Node { return LeakyReLU(x, 0.1) },
		"elu":        func(x *Node) *Node { return ELU(x, 1.0) },
		"softplus":   Softplus,
		"softmax":    Softmax,
		"logsoftmax": LogSoftmax,
		"exp":        Exp,
		"abs":        Abs,
		"clip":       func(x *Node) *Node { return Clip(x, -0.5, 0.5) },
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for name, act := range acts {
			t.Run(dt.String()+"/"+name, func(t *testing.T) {
				prog, _ := mlp(t, dt, 5, 3, 4, 2, act, mseHead)
				if _, err := prog.CheckGradients(GradCheck{}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestRunNeedsReset(t *testing.T) {
	prog, params := mlp(t, tensor.Float64, 4, 2, 3, 1, Tanh, mseHead)
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	first := prog.Loss()
	// Change a weight in place: the next run must see it.
	w := Float64s(params[2].Value())
	w[0] += 0.5
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	if prog.Loss() == first {
		t.Fatalf("loss unchanged (%v) after an in-place weight update: the machine was not reset", first)
	}
}

func TestSharedParamsAcrossGraphs(t *testing.T) {
	w, _ := NewParam("w", tensor.Float64, 2, 1)
	if err := w.SetFloat64s([]float64{1, 2}); err != nil {
		t.Fatal(err)
	}
	build := func(n int) *Program {
		g := New(tensor.Float64)
		x := g.Input("x", n, 2)
		p, err := g.Compile(Spec{Outputs: map[string]*Node{"y": MatMul(x, g.Param(w))}})
		if err != nil {
			t.Fatal(err)
		}
		in, _ := p.Input("x")
		Float64s(in)[0] = 1
		return p
	}
	a, b := build(1), build(3)
	Float64s(w.Value())[0] = 7
	for _, p := range []*Program{a, b} {
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		out, _ := p.Output("y")
		if got := Float64s(out)[0]; got != 7 {
			t.Errorf("graph of batch %d sees w[0] = %v, want 7", p.InputShape("x")[0], got)
		}
	}
}

func TestSoftmaxIsRowStable(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		g := New(dt)
		x := g.Input("x", 2, 2)
		p, err := g.Compile(Spec{Outputs: map[string]*Node{"s": Softmax(x), "l": LogSoftmax(x)}})
		if err != nil {
			t.Fatal(err)
		}
		in, _ := p.Input("x")
		if err := WriteFloat64s(in, []float64{0, 0, 1000, 0}); err != nil {
			t.Fatal(err)
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		s, _ := p.Output("s")
		l, _ := p.Output("l")
		want := []float64{0.5, 0.5, 1, 0}
		wantLog := []float64{-math.Ln2, -math.Ln2, 0, -1000}
		got, gotLog := ReadFloat64s(s, nil), ReadFloat64s(l, nil)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-6 || math.Abs(gotLog[i]-wantLog[i]) > 1e-3 {
				t.Errorf("%v: softmax %v log %v, want %v and %v", dt, got, gotLog, want, wantLog)
				break
			}
		}
	}
}

func TestStepHasNoGradient(t *testing.T) {
	w, _ := NewParam("w", tensor.Float64, 2, 1)
	g := New(tensor.Float64)
	x := g.Input("x", 4, 2)
	loss := Mean(Heaviside(MatMul(x, g.Param(w))))
	if _, err := g.Compile(Spec{Loss: loss}); !errors.Is(err, ErrNoGradient) {
		t.Fatalf("compile with a step: err = %v, want ErrNoGradient", err)
	}
}

func TestErrorsNotPanics(t *testing.T) {
	g := New(tensor.Float64)
	a := g.Input("a", 2, 3)
	b := g.Input("b", 2, 3)
	out := MatMul(a, b) // [2,3]·[2,3] is invalid
	_ = Tanh(out)       // using a failed node is harmless
	if _, err := g.Compile(Spec{Outputs: map[string]*Node{"o": out}}); !errors.Is(err, ErrShape) {
		t.Fatalf("err = %v, want ErrShape", err)
	}
	if err := CheckDType(tensor.Int); !errors.Is(err, ErrDType) {
		t.Fatalf("CheckDType(int) = %v", err)
	}
	if err := Guard("probe", func() error { panic("boom") }); err == nil {
		t.Fatal("Guard swallowed a panic without an error")
	}
}
