package bench

// Speed grids. They run only with -bench, e.g.
//
//	go test ./bench/ -run '^$' -bench . -benchtime 2s -count 6 > new.txt
//	benchstat old.txt new.txt
//
// Every grid uses synthetic MNIST-shaped data (seeded), so no files are
// needed. "full" is the full batch of 60,000 rows.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

var (
	benchBatches = []int{1, 32, 128, TrainRows}
	benchDTypes  = []tensor.Dtype{tensor.Float32, tensor.Float64}
	benchData    = map[tensor.Dtype]*data.Dataset{}
)

func batchName(b int) string {
	if b == TrainRows {
		return "full"
	}
	return fmt.Sprint(b)
}

// trainSet returns the synthetic training set of 60,000 rows, built once
// per dtype.
func trainSet(b *testing.B, dt tensor.Dtype) *data.Dataset {
	if d, ok := benchData[dt]; ok {
		return d
	}
	d, err := Synthetic(TrainRows, false, 1, dt)
	if err != nil {
		b.Fatal(err)
	}
	benchData[dt] = d
	return d
}

// mlp is the MNIST network written with the graph package, as nn builds
// it: relu(x·W1 + b1)·W2 + b2, log-softmax, mean cross-entropy against
// one-hot targets.
type mlp struct {
	params []*graph.Param
	prog   *graph.Program
	x, y   *tensor.Dense
}

func newMLP(b *testing.B, dt tensor.Dtype, batch int, train bool) *mlp {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := [][]int{{Pixels, Hidden}, {Hidden}, {Hidden, Classes}, {Classes}}
	var ps []*graph.Param
	for i, s := range shapes {
		p, err := graph.NewParam(fmt.Sprintf("p%d", i), dt, s...)
		if err != nil {
			b.Fatal(err)
		}
		if len(s) == 2 {
			if err := p.Init(graph.GlorotUniform{}, rng); err != nil {
				b.Fatal(err)
			}
		}
		ps = append(ps, p)
	}
	g := graph.New(dt)
	x := g.Input("x", batch, Pixels)
	h := graph.ReLU(graph.AddBias(graph.MatMul(x, g.Param(ps[0])), g.Param(ps[1])))
	z := graph.AddBias(graph.MatMul(h, g.Param(ps[2])), g.Param(ps[3]))
	spec := graph.Spec{Outputs: map[string]*graph.Node{"pred": graph.Softmax(z)}}
	if train {
		y := g.Input("y", batch, Classes)
		spec.Loss = graph.Scale(graph.Sum(graph.Mul(y, graph.LogSoftmax(z))), -1/float64(batch))
		spec.Outputs = nil
	}
	prog, err := g.Compile(spec)
	if err != nil {
		b.Fatal(err)
	}
	m := &mlp{params: ps, prog: prog}
	m.x, _ = prog.Input("x")
	if train {
		m.y, _ = prog.Input("y")
		ys := graph.ReadFloat64s(m.y, nil)
		for r := range batch {
			ys[r*Classes+r%Classes] = 1
		}
		if err := graph.WriteFloat64s(m.y, ys); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

func perm(n int) []int {
	p := rand.New(rand.NewPCG(3, 4)).Perm(n)
	return p
}

// BenchmarkTrainStep is one training step on the graph package directly:
// gather the batch into the program's input, Run (forward and backward),
// then an SGD step: what nn's trainer does per step, without its
// bookkeeping.
func BenchmarkTrainStep(b *testing.B) {
	for _, dt := range benchDTypes {
		for _, batch := range benchBatches {
			b.Run(fmt.Sprintf("mlp=784-128-10/batch=%s/%v", batchName(batch), dt), func(b *testing.B) {
				d := trainSet(b, dt)
				m := newMLP(b, dt, batch, true)
				defer m.prog.Close()
				opt := optim.NewSGD(MNISTLR)
				order := perm(d.Len())
				b.ReportAllocs()
				pos := 0
				for b.Loop() {
					if pos+batch > len(order) {
						pos = 0
					}
					if err := data.Gather(m.x, d.X, order[pos:pos+batch]); err != nil {
						b.Fatal(err)
					}
					pos += batch
					if err := m.prog.Run(); err != nil {
						b.Fatal(err)
					}
					if err := opt.Step(MNISTLR, m.params); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
			})
		}
	}
}

// BenchmarkFloorStep is the same step on the hand-written floor.
func BenchmarkFloorStep(b *testing.B) {
	for _, dt := range benchDTypes {
		for _, batch := range benchBatches {
			b.Run(fmt.Sprintf("mlp=784-128-10/batch=%s/%v", batchName(batch), dt), func(b *testing.B) {
				d := trainSet(b, dt)
				s := FloorSpec{In: Pixels, Hidden: Hidden, Out: Classes, Act: "relu", OutAct: "softmax", Batch: batch}
				order := perm(d.Len())
				run := func(gather func([]int) error, step func()) {
					b.ReportAllocs()
					pos := 0
					for b.Loop() {
						if pos+batch > len(order) {
							pos = 0
						}
						if err := gather(order[pos : pos+batch]); err != nil {
							b.Fatal(err)
						}
						pos += batch
						step()
					}
				}
				if dt == tensor.Float32 {
					f, err := NewFloor[float32](s)
					if err != nil {
						b.Fatal(err)
					}
					run(func(idx []int) error { return f.Gather(d.X, d.Y, idx) }, func() { f.Step(MNISTLR) })
				} else {
					f, err := NewFloor[float64](s)
					if err != nil {
						b.Fatal(err)
					}
					run(func(idx []int) error { return f.Gather(d.X, d.Y, idx) }, func() { f.Step(MNISTLR) })
				}
				b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
			})
		}
	}
}

// BenchmarkFit is nn's trainer end to end: one Fit call of one epoch over
// 8 batches of synthetic rows per iteration (the full batch: one step over
// 60,000 rows), including Fit's own validation of the data.
func BenchmarkFit(b *testing.B) {
	for _, dt := range benchDTypes {
		for _, batch := range benchBatches {
			b.Run(fmt.Sprintf("mlp=784-128-10/batch=%s/%v", batchName(batch), dt), func(b *testing.B) {
				rows := min(8*batch, TrainRows)
				d, err := trainSet(b, dt).Slice(0, rows)
				if err != nil {
					b.Fatal(err)
				}
				m, err := NewMNISTModel(dt)
				if err != nil {
					b.Fatal(err)
				}
				cfg := nn.FitConfig{Epochs: 1, Batching: data.Minibatch(batch)}
				if _, err := m.Fit(context.Background(), d, cfg); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := m.Fit(context.Background(), d, cfg); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
			})
		}
	}
}

// BenchmarkForward runs a forward-only program (softmax output) on a batch.
func BenchmarkForward(b *testing.B) {
	for _, dt := range benchDTypes {
		for _, batch := range benchBatches {
			b.Run(fmt.Sprintf("mlp=784-128-10/batch=%s/%v", batchName(batch), dt), func(b *testing.B) {
				d := trainSet(b, dt)
				m := newMLP(b, dt, batch, false)
				defer m.prog.Close()
				idx := perm(d.Len())[:batch]
				if err := data.Gather(m.x, d.X, idx); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := m.prog.Run(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
			})
		}
	}
}

// BenchmarkPredict is nn's Predict on batch rows, in one batch.
func BenchmarkPredict(b *testing.B) {
	for _, dt := range benchDTypes {
		for _, batch := range []int{1, 32, 128, 1000} {
			b.Run(fmt.Sprintf("mlp=784-128-10/batch=%d/%v", batch, dt), func(b *testing.B) {
				d, err := trainSet(b, dt).Slice(0, batch)
				if err != nil {
					b.Fatal(err)
				}
				m, err := NewMNISTModel(dt)
				if err != nil {
					b.Fatal(err)
				}
				m.PredictBatchSize = batch
				if _, err := m.Predict(d.X); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := m.Predict(d.X); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
			})
		}
	}
}

// BenchmarkOptimizer is one optimizer step over the MNIST network's
// 101,770 parameters.
func BenchmarkOptimizer(b *testing.B) {
	opts := []struct {
		name string
		mk   func() optim.Optimizer
	}{
		{"sgd", func() optim.Optimizer { return optim.NewSGD(0.05) }},
		{"sgd-momentum", func() optim.Optimizer { return &optim.SGD{LR: 0.05, Momentum: 0.9} }},
		{"adam", func() optim.Optimizer { return optim.NewAdam(1e-3) }},
		{"rmsprop", func() optim.Optimizer { return optim.NewRMSprop(1e-3) }},
		{"adagrad", func() optim.Optimizer { return optim.NewAdagrad(1e-2) }},
		{"adadelta", func() optim.Optimizer { return optim.NewAdadelta(1) }},
	}
	for _, dt := range benchDTypes {
		for _, o := range opts {
			b.Run(fmt.Sprintf("opt=%s/params=101770/%v", o.name, dt), func(b *testing.B) {
				m := newMLP(b, dt, 1, true)
				defer m.prog.Close()
				if err := m.prog.Run(); err != nil {
					b.Fatal(err)
				}
				opt := o.mk()
				lr := opt.LearningRate()
				if err := opt.Step(lr, m.params); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := opt.Step(lr, m.params); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkGather is data.Gather of a shuffled batch of 784-wide rows.
func BenchmarkGather(b *testing.B) {
	for _, dt := range benchDTypes {
		for _, batch := range benchBatches {
			b.Run(fmt.Sprintf("width=784/batch=%s/%v", batchName(batch), dt), func(b *testing.B) {
				d := trainSet(b, dt)
				dst, err := graph.ZeroTensor(dt, batch, Pixels)
				if err != nil {
					b.Fatal(err)
				}
				idx := perm(d.Len())[:batch]
				b.ReportAllocs()
				for b.Loop() {
					if err := data.Gather(dst, d.X, idx); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
			})
		}
	}
}
