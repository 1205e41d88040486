package optim_test

import (
	"testing"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
)

// leastSquares is the problem min over (w, c) of ‖A·w + c − y‖²/(2n) with
// y = A·w* + c* for w* = (1, −2, 0.5), c* = 0.3, so the minimum is 0. A is
// mildly ill-conditioned (singular values spread by about 10).
var lsA = [][]float64{
	{1, 0.5, 0.1},
	{0.2, 1, -0.3},
	{-0.5, 0.3, 2},
	{0.7, -0.8, 0.4},
	{1.5, 0.1, -0.2},
}

func lsTarget() []float64 {
	w, c := []float64{1, -2, 0.5}, 0.3
	y := make([]float64, len(lsA))
	for i, row := range lsA {
		y[i] = c
		for j, a := range row {
			y[i] += a * w[j]
		}
	}
	return y
}

// lsLossGrad writes the gradient of the loss into the parameters' Grad and
// returns the loss, in float64 whatever the dtype.
func lsLossGrad(t testing.TB, ps []*graph.Param, y []float64) float64 {
	w, c := ps[0].Float64s(), ps[1].Float64s()[0]
	n := float64(len(lsA))
	gw, gc := make([]float64, len(w)), 0.0
	loss := 0.0
	for i, row := range lsA {
		r := c - y[i]
		for j, a := range row {
			r += a * w[j]
		}
		loss += r * r / (2 * n)
		for j, a := range row {
			gw[j] += a * r / n
		}
		gc += r / n
	}
	setGrads(t, ps, gw, []float64{gc})
	return loss
}

func TestConvergence(t *testing.T) {
	cases := []struct {
		name  string
		opt   func() optim.Optimizer
		steps int
	}{
		{"sgd", func() optim.Optimizer { return optim.NewSGD(0.3) }, 400},
		{"sgd/nesterov", func() optim.Optimizer { o := optim.NewSGD(0.1); o.Momentum, o.Nesterov = 0.9, true; return o }, 300},
		{"sgd/keras_momentum", func() optim.Optimizer {
			o := optim.NewSGD(0.1)
			o.Momentum, o.Convention = 0.9, optim.Keras
			return o
		}, 300},
		{"adam", func() optim.Optimizer { return optim.NewAdam(0.05) }, 600},
		{"adam/amsgrad_keras", func() optim.Optimizer {
			o := optim.NewAdam(0.05)
			o.AMSGrad, o.Convention = true, optim.Keras
			return o
		}, 600},
		{"adamw", func() optim.Optimizer { o := optim.NewAdamW(0.05); o.WeightDecay = 1e-4; return o }, 600},
		{"rmsprop", func() optim.Optimizer { return optim.NewRMSprop(0.003) }, 1500},
		{"rmsprop/centered_momentum", func() optim.Optimizer {
			o := optim.NewRMSprop(0.005)
			o.Centered, o.Momentum = true, 0.5
			return o
		}, 600},
		{"rmsprop/keras", func() optim.Optimizer {
			o := optim.NewRMSprop(0.003)
			o.Eps, o.Convention = 1e-7, optim.Keras
			return o
		}, 1500},
		{"adagrad", func() optim.Optimizer { return optim.NewAdagrad(0.5) }, 600},
		{"adadelta", func() optim.Optimizer { o := optim.NewAdadelta(1); o.Eps = 1e-4; return o }, 2000},
	}
	y := lsTarget()
	for _, c := range cases {
		for _, dt := range dtypes {
			t.Run(c.name+"/"+dt.String(), func(t *testing.T) {
				o := c.opt()
				ps := newParams(t, dt, []float64{0, 0, 0}, []float64{0})
				first := lsLossGrad(t, ps, y)
				loss := first
				for range c.steps {
					if err := o.Step(o.LearningRate(), ps); err != nil {
						t.Fatal(err)
					}
					loss = lsLossGrad(t, ps, y)
				}
				// The minimum is 0; 1e-4 of the initial loss is
				// reached by every optimizer in the given steps, in
				// float32 as well (its floor is about 1e-12 here).
				if loss > 1e-4*first {
					t.Errorf("loss %.3g after %d steps, started at %.3g", loss, c.steps, first)
				}
				t.Logf("loss %.3g -> %.3g", first, loss)
			})
		}
	}
}
