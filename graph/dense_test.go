package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// TestDenseMatchesComposedOps checks the fused Dense against gorgonia's own
// MatMul and AddBias (loss and every gradient, 1e-12 in float64: the same
// products summed in the same order, so only rounding can differ), and its
// gradients against finite differences in both dtypes, with the second
// layer's input a hidden activation so that the gradient with respect to x
// is exercised too.
func TestDenseMatchesComposedOps(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, bias := range []bool{true, false} {
			build := func(fused bool) (*Program, []*Param) {
				rng := rand.New(rand.NewPCG(3, 4))
				w1, _ := NewParam("w1", dt, 3, 4)
				b1, _ := NewParam("b1", dt, 4)
				w2, _ := NewParam("w2", dt, 4, 2)
				b2, _ := NewParam("b2", dt, 2)
				for _, p := range []*Param{w1, b1, w2, b2} {
					if err := p.Init(RandomUniform{Min: -1, Max: 1}, rng); err != nil {
						t.Fatal(err)
					}
				}
				g := New(dt)
				x := g.Input("x", 5, 3)
				y := g.Input("y", 5, 2)
				layer := func(in *Node, w, b *Param) *Node {
					var bn *Node
					if bias {
						bn = g.Param(b)
					}
					if fused {
						return Dense(in, g.Param(w), bn)
					}
					z := MatMul(in, g.Param(w))
					if bias {
						z = AddBias(z, bn)
					}
					return z
				}
				out := layer(Tanh(layer(x, w1, b1)), w2, b2)
				prog, err := g.Compile(Spec{Loss: Mean(Square(Sub(out, y))), Outputs: map[string]*Node{"out": out}})
				if err != nil {
					t.Fatal(err)
				}
				xs, _ := prog.Input("x")
				ys, _ := prog.Input("y")
				vals := make([]float64, 15)
				for i := range vals {
					vals[i] = rng.Float64()*2 - 1
				}
				WriteFloat64s(xs, vals)
				WriteFloat64s(ys, vals[:10])
				return prog, prog.Params()
			}
			fused, fp := build(true)
			plain, pp := build(false)
			if err := fused.Run(); err != nil {
				t.Fatal(err)
			}
			if err := plain.Run(); err != nil {
				t.Fatal(err)
			}
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 1e-5
			}
			if d := math.Abs(fused.Loss() - plain.Loss()); d > tol {
				t.Fatalf("%v bias=%v: loss %v vs %v", dt, bias, fused.Loss(), plain.Loss())
			}
			for i := range fp {
				a, b := ReadFloat64s(fp[i].Grad(), nil), ReadFloat64s(pp[i].Grad(), nil)
				for j := range a {
					if math.Abs(a[j]-b[j]) > tol {
						t.Fatalf("%v bias=%v: grad %s[%d] fused %v, composed %v", dt, bias, fp[i].Name(), j, a[j], b[j])
					}
				}
			}
			if _, err := fused.CheckGradients(GradCheck{}); err != nil {
				t.Fatalf("%v bias=%v: %v", dt, bias, err)
			}
		}
	}
}
