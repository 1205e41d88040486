package optim_test

import (
	"testing"

	"gorgonia.org/tensor"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
)

// benchOptimizers are the optimizers benchmarked and checked for
// allocations, each with its buffers all in use.
var benchOptimizers = []struct {
	name string
	make func() optim.Optimizer
}{
	{"sgd", func() optim.Optimizer {
		o := optim.NewSGD(0.01)
		o.Momentum, o.Nesterov, o.WeightDecay = 0.9, true, 1e-4
		return o
	}},
	{"adam", func() optim.Optimizer { o := optim.NewAdam(1e-3); o.AMSGrad, o.WeightDecay = true, 1e-4; return o }},
	{"adamw", func() optim.Optimizer { return optim.NewAdamW(1e-3) }},
	{"rmsprop", func() optim.Optimizer { o := optim.NewRMSprop(1e-3); o.Centered, o.Momentum = true, 0.9; return o }},
	{"adagrad", func() optim.Optimizer { return optim.NewAdagrad(1e-2) }},
	{"adadelta", func() optim.Optimizer { return optim.NewAdadelta(1) }},
}

// benchParams returns 100,000 parameters in two tensors, [316, 316] and
// [144], with gradients set.
func benchParams(tb testing.TB, dt tensor.Dtype) []*graph.Param {
	w, err := graph.NewParam("w", dt, 316, 316)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := graph.NewParam("b", dt, 144)
	if err != nil {
		tb.Fatal(err)
	}
	ps := []*graph.Param{w, b}
	for k, p := range ps {
		setGrads(tb, ps[k:k+1], wave(k, p.Size(), 0))
	}
	return ps
}

func BenchmarkStep(b *testing.B) {
	for _, o := range benchOptimizers {
		for _, dt := range dtypes {
			b.Run(o.name+"/"+dt.String(), func(b *testing.B) {
				opt := o.make()
				ps := benchParams(b, dt)
				if err := opt.Step(1e-3, ps); err != nil { // allocate the state
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := opt.Step(1e-3, ps); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)*100_000/b.Elapsed().Seconds(), "params/s")
			})
		}
	}
}

func BenchmarkClipNorm(b *testing.B) {
	ps := benchParams(b, tensor.Float64)
	c := optim.ClipNorm{MaxNorm: 1e9} // measures the norm, never scales
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Clip(ps); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStepDoesNotAllocate checks that Step allocates only on the first call.
func TestStepDoesNotAllocate(t *testing.T) {
	for _, o := range benchOptimizers {
		for _, dt := range dtypes {
			opt := o.make()
			ps := newParams(t, dt, []float64{1, 2, 3}, []float64{4})
			setGrads(t, ps, []float64{0.1, 0.2, 0.3}, []float64{0.4})
			if err := opt.Step(1e-3, ps); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(20, func() { _ = opt.Step(1e-3, ps) }); n != 0 {
				t.Errorf("%s/%v: %v allocations per steady-state Step, want 0", o.name, dt, n)
			}
		}
	}
	ps := newParams(t, tensor.Float32, []float64{1, 2, 3})
	setGrads(t, ps, []float64{0.1, 0.2, 0.3})
	for _, c := range []optim.Clipper{optim.ClipNorm{MaxNorm: 0.1}, optim.ClipValue{Value: 0.1}} {
		if n := testing.AllocsPerRun(20, func() { _, _ = c.Clip(ps) }); n != 0 {
			t.Errorf("%T: %v allocations per Clip, want 0", c, n)
		}
	}
}
