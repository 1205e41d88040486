package optim

import (
	"math"

	"github.com/descentlab/descent/graph"
)

// Adadelta is torch.optim.Adadelta. For each parameter θ with gradient g,
// at learning rate lr, with all state starting at 0:
//
//	g ← g + λ·θ                          (if WeightDecay λ ≠ 0)
//	s ← ρ·s + (1−ρ)·g²                   (buffer square_avg)
//	Δ ← sqrt(u + ε) / sqrt(s + ε) · g
//	u ← ρ·u + (1−ρ)·Δ²                   (buffer acc_delta)
//	θ ← θ − lr·Δ
//
// Keras's Adadelta (2.2.4 and 3) has the same rule, so Adadelta has no
// Convention; Keras's defaults differ (ρ 0.95, ε 1e-7; Keras 3 lr 0.001).
type Adadelta struct {
	LR          float64 // learning rate; torch default 1.0
	Rho         float64 // ρ in [0, 1]; torch default 0.9
	Eps         float64 // ε > 0; torch default 1e-6
	WeightDecay float64 // λ >= 0; torch default 0

	st store
}

// NewAdadelta returns Adadelta with learning rate lr (torch's default is
// 1.0) and torch's other defaults.
func NewAdadelta(lr float64) *Adadelta { return &Adadelta{LR: lr, Rho: 0.9, Eps: 1e-6} }

// Name implements Optimizer.
func (o *Adadelta) Name() string { return "adadelta" }

// LearningRate implements Optimizer.
func (o *Adadelta) LearningRate() float64 { return o.LR }

// Validate reports the first invalid field.
func (o *Adadelta) Validate() error {
	const n = "adadelta"
	if err := checkLR(n, o.LR); err != nil {
		return err
	}
	if err := checkUnit(n, "rho", o.Rho, true); err != nil {
		return err
	}
	if err := checkPositive(n, "eps", o.Eps); err != nil {
		return err
	}
	return checkNonNeg(n, "weight_decay", o.WeightDecay)
}

func (o *Adadelta) layout() layout {
	return layout{opt: "adadelta", names: [maxBuffers]string{"square_avg", "acc_delta"}}
}

// State implements Stateful.
func (o *Adadelta) State() State { l := o.layout(); return o.st.state(&l) }

// SetState implements Stateful.
func (o *Adadelta) SetState(s State) error { l := o.layout(); return o.st.setState(&l, s) }

// Step implements Optimizer.
func (o *Adadelta) Step(lr float64, params []*graph.Param) error {
	if err := o.st.begin("adadelta", o.Validate(), lr, o.layout(), params); err != nil {
		return err
	}
	for i, p := range params {
		sl := o.st.work[i]
		if sl.bits == 32 {
			adadeltaKernel(lr, o.Rho, o.Eps, o.WeightDecay, p.Value().Float32s(), p.Grad().Float32s(), sl.b32[0], sl.b32[1])
		} else {
			adadeltaKernel(lr, o.Rho, o.Eps, o.WeightDecay, p.Value().Float64s(), p.Grad().Float64s(), sl.b64[0], sl.b64[1])
		}
	}
	return nil
}

func adadeltaKernel[T graph.Float](lr, rho, eps, wd float64, v, g, s, u []T) {
	r, r1, e, l2, rate := T(rho), T(1-rho), T(eps), T(wd), T(lr)
	g, s, u = g[:len(v)], s[:len(v)], u[:len(v)] // bounds-check hints
	for i := range v {
		d := g[i]
		if l2 != 0 {
			d += l2 * v[i]
		}
		s[i] = s[i]*r + r1*d*d
		std := T(math.Sqrt(float64(s[i] + e)))
		delta := T(math.Sqrt(float64(u[i]+e))) / std * d
		u[i] = u[i]*r + r1*delta*delta
		v[i] -= rate * delta
	}
}
