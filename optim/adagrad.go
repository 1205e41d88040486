package optim

import (
	"math"

	"github.com/descentlab/descent/graph"
)

// Adagrad is torch.optim.Adagrad. For each parameter θ with gradient g, at
// step t (from 1) and learning rate lr:
//
//	g ← g + λ·θ                      (if WeightDecay λ ≠ 0)
//	clr = lr / (1 + (t−1)·LRDecay)
//	S ← S + g²                       (buffer sum; starts at InitialAccumulatorValue)
//	θ ← θ − clr · g / (sqrt(S) + ε)
//
// Keras's Adagrad (2.2.4 and 3) has the same rule, so Adagrad has no
// Convention; Keras's defaults differ (ε 1e-7, and 0.1 for the initial
// accumulator in Keras 3).
type Adagrad struct {
	LR                      float64 // learning rate; torch default 0.01
	LRDecay                 float64 // >= 0; torch default 0
	WeightDecay             float64 // λ >= 0; torch default 0
	InitialAccumulatorValue float64 // >= 0; torch default 0
	Eps                     float64 // ε > 0; torch default 1e-10

	st store
}

// NewAdagrad returns Adagrad with learning rate lr and torch's defaults.
func NewAdagrad(lr float64) *Adagrad { return &Adagrad{LR: lr, Eps: 1e-10} }

// Name implements Optimizer.
func (o *Adagrad) Name() string { return "adagrad" }

// LearningRate implements Optimizer.
func (o *Adagrad) LearningRate() float64 { return o.LR }

// Validate reports the first invalid field.
func (o *Adagrad) Validate() error {
	const n = "adagrad"
	if err := checkLR(n, o.LR); err != nil {
		return err
	}
	if err := checkNonNeg(n, "lr_decay", o.LRDecay); err != nil {
		return err
	}
	if err := checkNonNeg(n, "weight_decay", o.WeightDecay); err != nil {
		return err
	}
	if err := checkNonNeg(n, "initial_accumulator_value", o.InitialAccumulatorValue); err != nil {
		return err
	}
	return checkPositive(n, "eps", o.Eps)
}

func (o *Adagrad) layout() layout {
	return layout{opt: "adagrad", names: [maxBuffers]string{"sum"}, init: [maxBuffers]float64{o.InitialAccumulatorValue}}
}

// State implements Stateful.
func (o *Adagrad) State() State { l := o.layout(); return o.st.state(&l) }

// SetState implements Stateful.
func (o *Adagrad) SetState(s State) error { l := o.layout(); return o.st.setState(&l, s) }

// Step implements Optimizer.
func (o *Adagrad) Step(lr float64, params []*graph.Param) error {
	if err := o.st.begin("adagrad", o.Validate(), lr, o.layout(), params); err != nil {
		return err
	}
	clr := lr / (1 + float64(o.st.t-1)*o.LRDecay)
	for i, p := range params {
		sl := o.st.work[i]
		if sl.bits == 32 {
			adagradKernel(clr, o.WeightDecay, o.Eps, p.Value().Float32s(), p.Grad().Float32s(), sl.b32[0])
		} else {
			adagradKernel(clr, o.WeightDecay, o.Eps, p.Value().Float64s(), p.Grad().Float64s(), sl.b64[0])
		}
	}
	return nil
}

func adagradKernel[T graph.Float](clr, wd, eps float64, v, g, sum []T) {
	lr, l2, e := T(clr), T(wd), T(eps)
	g, sum = g[:len(v)], sum[:len(v)] // bounds-check hints
	for i := range v {
		d := g[i]
		if l2 != 0 {
			d += l2 * v[i]
		}
		sum[i] += d * d
		v[i] -= lr * d / (T(math.Sqrt(float64(sum[i]))) + e)
	}
}
