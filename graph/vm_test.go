package graph

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// A differential case builds one expression from inputs x [n, in] and y
// [n, out] and parameters w1 [in, hid], b1 [hid], w2 [hid, out], b2 [out].
type diffCase struct {
	name  string
	build func(g *Graph, x, y *Node, p diffParams) (loss *Node, outs map[string]*Node)
}

// caseWRT names the parameters a case's loss depends on (all four if not
// listed).
var caseWRT = map[string][]string{
	"dense_no_bias":       {"w1", "w2"},
	"loss_of_a_parameter": {"w1", "b1", "b2"},
}

type diffParams struct{ w1, b1, w2, b2 *Node }

const (
	dN, dIn, dHid, dOut = 5, 3, 4, 2
)

// bce is nn's binary cross-entropy, written with graph's operations.
func bce(p, y *Node) *Node {
	g := p.Graph()
	pc := Clip(p, 1e-7, 1-1e-7)
	one := g.Scalar(1)
	return Neg(Mean(Add(Mul(y, Log(pc)), Mul(Sub(one, y), Log(Sub(one, pc))))))
}

func legacy(act func(*Node) *Node) func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
	return func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
		h := act(AddBias(MatMul(x, p.w1), p.b1))
		z := AddBias(MatMul(h, p.w2), p.b2)
		return Mean(Square(Sub(z, y))), map[string]*Node{"pred": z, "h": h}
	}
}

func dense(act func(*Node) *Node) func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
	return func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
		h := act(Dense(x, p.w1, p.b1))
		z := Dense(h, p.w2, p.b2)
		return Mean(Square(Sub(z, y))), map[string]*Node{"pred": z, "h": h}
	}
}

// diffCases covers every operation graph builds, their gradients, scalar
// and tensor paths, broadcasting constants on either side, and fan-out.
func diffCases() []diffCase {
	acts := []struct {
		name string
		f    func(*Node) *Node
	}{
		{"tanh", Tanh}, {"sigmoid", Sigmoid}, {"relu", ReLU},
		{"leaky_relu", func(x *Node) *Node { return LeakyReLU(x, 0.2) }},
		{"elu", func(x *Node) *Node { return ELU(x, 1) }},
		{"softplus", Softplus}, {"exp", Exp}, {"neg", Neg}, {"square", Square},
		{"sqrt", func(x *Node) *Node { return Sqrt(Shift(Square(x), 1)) }},
		{"log", func(x *Node) *Node { return Log(Shift(Square(x), 0.5)) }},
		{"div", func(x *Node) *Node { return Div(x, Shift(Square(x), 1)) }},
		{"clip", func(x *Node) *Node { return Clip(x, -0.5, 0.5) }},
		{"softmax", Softmax}, {"log_softmax", LogSoftmax},
	}
	var cases []diffCase
	for _, a := range acts {
		cases = append(cases,
			diffCase{"dense/" + a.name, dense(a.f)},
			diffCase{"matmul+addbias/" + a.name, legacy(a.f)})
	}
	cases = append(cases,
		diffCase{"xor_bce", func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
			pred := Sigmoid(Dense(Tanh(Dense(x, p.w1, p.b1)), p.w2, p.b2))
			return bce(pred, y), map[string]*Node{"pred": pred}
		}},
		diffCase{"relu_softmax_cce", func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
			z := Dense(ReLU(Dense(x, p.w1, p.b1)), p.w2, p.b2)
			loss := Scale(Sum(Mul(y, LogSoftmax(z))), -1/float64(dN))
			return loss, map[string]*Node{"pred": Softmax(z)}
		}},
		diffCase{"softmax_clip_cce", func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
			pred := Softmax(Dense(Tanh(Dense(x, p.w1, p.b1)), p.w2, p.b2))
			loss := Scale(Sum(Mul(y, Log(Clip(pred, 1e-7, 1)))), -1/float64(dN))
			return loss, map[string]*Node{"pred": pred}
		}},
		diffCase{"dense_no_bias", func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
			z := Dense(Tanh(Dense(x, p.w1, nil)), p.w2, nil)
			return Mean(Square(Sub(z, y))), map[string]*Node{"pred": z}
		}},
		diffCase{"scalar_paths", func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
			s := Mean(Square(Dense(Tanh(Dense(x, p.w1, p.b1)), p.w2, p.b2)))
			one := Shift(s, 1)
			loss := Add(Tanh(s), Add(Sigmoid(s), Add(Softplus(s), Add(Sqrt(one), Add(Log(one), Add(Exp(Neg(s)), Square(s)))))))
			return loss, map[string]*Node{"s": s}
		}},
		diffCase{"scalar_left_operands", func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
			z := Dense(x, p.w1, p.b1)
			a := Sub(g.Scalar(1), z)
			b := Div(g.Scalar(2), Shift(Square(z), 1))
			c := Mul(g.Scalar(0.5), Add(g.Scalar(3), z))
			h := Add(a, Add(b, c))
			out := Dense(h, p.w2, p.b2)
			return Mean(Square(Sub(out, y))), map[string]*Node{"pred": out}
		}},
		diffCase{"fan_out", func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
			h := Tanh(Dense(x, p.w1, p.b1))
			z := Dense(Add(h, Mul(h, h)), p.w2, p.b2)
			z2 := Dense(h, p.w2, p.b2)
			return Add(Mean(Square(Sub(z, y))), Mean(Mul(z2, z))), map[string]*Node{"pred": z}
		}},
		diffCase{"loss_of_a_parameter", func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
			z := Dense(x, p.w1, p.b1)
			loss := Add(Sum(Mul(p.b2, g.Scalar(3))), Mean(Square(z)))
			return loss, map[string]*Node{"z": z}
		}},
		diffCase{"outputs_of_every_kind", func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
			z := Dense(Tanh(Dense(x, p.w1, p.b1)), p.w2, p.b2)
			loss := Mean(Square(Sub(z, y)))
			return loss, map[string]*Node{"x": x, "w2": p.w2, "loss": loss, "sum": Sum(z), "step": Heaviside(z), "z": z}
		}},
		diffCase{"forward_only", func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
			z := Dense(ReLU(Dense(x, p.w1, p.b1)), p.w2, p.b2)
			return nil, map[string]*Node{"pred": Softmax(z), "loss": Mean(Square(Sub(z, y)))}
		}},
	)
	return cases
}

// diffRun is everything one program computed.
type diffRun struct {
	loss    float64
	grads   map[string][]float64
	outputs map[string][]float64
	stats   VMStats
}

// runDiff builds c on machine m (fallback: descent's VM with every node
// run through the fallback) over fresh parameters drawn from seed, runs it
// twice with different inputs and returns the second run.
func runDiff(t *testing.T, c diffCase, dt tensor.Dtype, m Machine, fallback bool, seed uint64) diffRun {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	shapes := map[string][]int{"w1": {dIn, dHid}, "b1": {dHid}, "w2": {dHid, dOut}, "b2": {dOut}}
	var params []*Param
	for _, name := range []string{"w1", "b1", "w2", "b2"} {
		p, err := NewParam(name, dt, shapes[name]...)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Init(RandomUniform{Min: -1, Max: 1}, rng); err != nil {
			t.Fatal(err)
		}
		params = append(params, p)
	}
	g := New(dt)
	x := g.Input("x", dN, dIn)
	y := g.Input("y", dN, dOut)
	pn := diffParams{g.Param(params[0]), g.Param(params[1]), g.Param(params[2]), g.Param(params[3])}
	loss, outs := c.build(g, x, y, pn)
	spec := Spec{Loss: loss, Outputs: outs, Machine: m, forceFallback: fallback}
	if loss != nil {
		for _, p := range params {
			if w := caseWRT[c.name]; w == nil || slices.Contains(w, p.Name()) {
				spec.WRT = append(spec.WRT, p)
			}
		}
	}
	prog, err := g.Compile(spec)
	if err != nil {
		t.Fatalf("%v: %v", m, err)
	}
	defer prog.Close()
	var run diffRun
	for r := 0; r < 2; r++ {
		xv := make([]float64, dN*dIn)
		for i := range xv {
			xv[i] = math.Round((rng.Float64()*4-2)*8) / 8 // exact zeros occur
		}
		yv := make([]float64, dN*dOut)
		for i := range yv {
			yv[i] = rng.Float64()
		}
		xs, _ := prog.Input("x")
		ys, _ := prog.Input("y")
		if err := WriteFloat64s(xs, xv); err != nil {
			t.Fatal(err)
		}
		if err := WriteFloat64s(ys, yv); err != nil {
			t.Fatal(err)
		}
		if err := prog.Run(); err != nil {
			t.Fatalf("%v: run %d: %v", m, r, err)
		}
	}
	run.loss = prog.Loss()
	run.grads = map[string][]float64{}
	for _, p := range spec.WRT {
		run.grads[p.Name()] = ReadFloat64s(p.Grad(), nil)
	}
	run.outputs = map[string][]float64{}
	for name, n := range outs {
		if n.n.IsScalar() {
			v, err := prog.Scalar(name)
			if err != nil {
				t.Fatal(err)
			}
			run.outputs[name] = []float64{v}
			continue
		}
		o, err := prog.Output(name)
		if err != nil {
			t.Fatal(err)
		}
		run.outputs[name] = ReadFloat64s(o, nil)
	}
	run.stats, _ = prog.VMStats()
	return run
}

// sameBits reports whether two values are the same floating-point number
// (NaNs of any payload are the same).
func sameBits(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
}

func compareRuns(want, got diffRun) error {
	if !sameBits(want.loss, got.loss) {
		return fmt.Errorf("loss: tape %v, vm %v", want.loss, got.loss)
	}
	for _, kind := range []struct {
		what      string
		want, got map[string][]float64
	}{{"gradient", want.grads, got.grads}, {"output", want.outputs, got.outputs}} {
		for name, w := range kind.want {
			g := kind.got[name]
			if len(g) != len(w) {
				return fmt.Errorf("%s %s: %d values, want %d", kind.what, name, len(g), len(w))
			}
			for i := range w {
				if !sameBits(w[i], g[i]) {
					return fmt.Errorf("%s %s[%d]: tape %v, vm %v (diff %.3g)", kind.what, name, i, w[i], g[i], g[i]-w[i])
				}
			}
		}
	}
	return nil
}

// TestVMMatchesTapeMachine runs every case on gorgonia's tape machine and on
// descent's VM, with its kernels and with every node through the fallback,
// and requires bit-identical losses, gradients and outputs in both dtypes.
func TestVMMatchesTapeMachine(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, c := range diffCases() {
			t.Run(dt.String()+"/"+c.name, func(t *testing.T) {
				tape := runDiff(t, c, dt, TapeMachine, false, 1)
				vm := runDiff(t, c, dt, DescentVM, false, 1)
				if err := compareRuns(tape, vm); err != nil {
					t.Errorf("kernels: %v", err)
				}
				if vm.stats.Fallback != 0 {
					t.Errorf("%d of %d nodes ran through the fallback, want 0", vm.stats.Fallback, vm.stats.Kernels)
				}
				fb := runDiff(t, c, dt, DescentVM, true, 1)
				if err := compareRuns(tape, fb); err != nil {
					t.Errorf("fallback: %v", err)
				}
			})
		}
	}
}

func TestVMPlansFewerBuffersThanValues(t *testing.T) {
	c := diffCase{"deep", func(g *Graph, x, y *Node, p diffParams) (*Node, map[string]*Node) {
		h := x
		h = Tanh(Dense(h, p.w1, p.b1))
		for range 6 {
			h = Sigmoid(Add(h, Scale(h, 0.5)))
		}
		z := Dense(h, p.w2, p.b2)
		return Mean(Square(Sub(z, y))), nil
	}}
	s := runDiff(t, c, tensor.Float64, DescentVM, false, 1).stats
	if s.Reused == 0 || s.Buffers >= s.Kernels {
		t.Fatalf("stats %+v: want buffers reused across dead values", s)
	}
	if s.Live >= s.Nodes {
		t.Fatalf("stats %+v: want dead gradient nodes pruned", s)
	}
}

func TestVMRunDoesNotAllocate(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		prog, _ := mlpDense(t, dt, 8, 6, 5, 3)
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(20, func() {
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: Run allocates %v times, want 0", dt, allocs)
		}
	}
}

// mlpDense is mlp with graph.Dense layers and a softmax cross-entropy head.
func mlpDense(t *testing.T, dt tensor.Dtype, n, in, hidden, out int) (*Program, []*Param) {
	t.Helper()
	rng, w1, b1, w2, b2 := mlpParams(t, dt, in, hidden, out, 3, 4)
	g := New(dt)
	x := g.Input("x", n, in)
	y := g.Input("y", n, out)
	z := Dense(ReLU(Dense(x, g.Param(w1), g.Param(b1))), g.Param(w2), g.Param(b2))
	loss := Scale(Sum(Mul(y, LogSoftmax(z))), -1/float64(n))
	prog, err := g.Compile(Spec{Loss: loss, Outputs: map[string]*Node{"pred": Softmax(z)}})
	if err != nil {
		t.Fatal(err)
	}
	xs, _ := prog.Input("x")
	xv := make([]float64, n*in)
	for i := range xv {
		xv[i] = rng.Float64()
	}
	if err := WriteFloat64s(xs, xv); err != nil {
		t.Fatal(err)
	}
	return prog, []*Param{w1, b1, w2, b2}
}

func TestBindReadsTheCallersTensor(t *testing.T) {
	for _, m := range []Machine{DescentVM, TapeMachine} {
		prog, _ := mlpDense(t, tensor.Float64, 4, 3, 5, 2)
		own, _ := prog.Input("x")
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		before := ReadFloat64s(mustOutput(t, prog, "pred"), nil)
		ext, _ := ZeroTensor(tensor.Float64, 4, 3)
		vals := make([]float64, 12)
		for i := range vals {
			vals[i] = float64(i) / 7
		}
		_ = WriteFloat64s(ext, vals)
		if err := prog.Bind("x", ext); err != nil {
			t.Fatal(err)
		}
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		bound := ReadFloat64s(mustOutput(t, prog, "pred"), nil)
		// The same values written into the program's own buffer give the
		// same output: Bind read ext, not a stale buffer.
		own2, _ := prog.Input("x")
		if own2 != own {
			t.Fatalf("%v: Input after Bind returned another buffer", m)
		}
		_ = WriteFloat64s(own2, vals)
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		copied := ReadFloat64s(mustOutput(t, prog, "pred"), nil)
		if !slices.Equal(bound, copied) || slices.Equal(bound, before) {
			t.Fatalf("%v: bound %v, copied %v, before %v", m, bound, copied, before)
		}
		if got := ReadFloat64s(ext, nil); !slices.Equal(got, vals) {
			t.Fatalf("%v: the program wrote into the bound tensor", m)
		}
		wrong, _ := ZeroTensor(tensor.Float64, 3, 3)
		if err := prog.Bind("x", wrong); !errors.Is(err, ErrShape) {
			t.Fatalf("%v: binding a wrong shape: %v, want ErrShape", m, err)
		}
		f32, _ := ZeroTensor(tensor.Float32, 4, 3)
		if err := prog.Bind("x", f32); !errors.Is(err, ErrDType) {
			t.Fatalf("%v: binding a wrong dtype: %v, want ErrDType", m, err)
		}
	}
}

func mustOutput(t *testing.T, p *Program, name string) *tensor.Dense {
	t.Helper()
	o, err := p.Output(name)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestVMDetectsAStaleParameter(t *testing.T) {
	prog, params := mlpDense(t, tensor.Float64, 4, 3, 5, 2)
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	// Reshaping a parameter's tensor behind the program's back is caught.
	if err := params[0].value.Reshape(5, 3); err != nil {
		t.Fatal(err)
	}
	if err := prog.Run(); !errors.Is(err, ErrShape) {
		t.Fatalf("run after reshaping a parameter: %v, want ErrShape", err)
	}
}

func TestMachineNames(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Machine
	}{{"vm", DescentVM}, {"", DescentVM}, {"Tape", TapeMachine}} {
		got, err := ParseMachine(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseMachine(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if back, _ := ParseMachine(got.String()); back != got {
			t.Errorf("%v does not round-trip through its name", got)
		}
	}
	if _, err := ParseMachine("gpu"); !errors.Is(err, ErrUnknown) {
		t.Errorf("ParseMachine(gpu): %v, want ErrUnknown", err)
	}
	g := New(tensor.Float64)
	x := g.Input("x", 1, 1)
	if _, err := g.Compile(Spec{Outputs: map[string]*Node{"x": x}, Machine: 9}); !errors.Is(err, ErrUnknown) {
		t.Errorf("compiling for machine 9: %v, want ErrUnknown", err)
	}
}
