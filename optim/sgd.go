package optim

import (
	"fmt"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/graph/gemm"
)

// SGD is stochastic gradient descent with optional momentum, dampening,
// Nesterov momentum and weight decay.
//
// With Convention Torch (the default) it is torch.optim.SGD. For each
// parameter θ with gradient g, at learning rate lr:
//
//	g ← g + λ·θ                     (if WeightDecay λ ≠ 0)
//	if Momentum μ ≠ 0:
//	    buf ← g                     (first step; no dampening)
//	    buf ← μ·buf + (1−τ)·g       (later steps; Dampening τ)
//	    g ← g + μ·buf  if Nesterov, else g ← buf
//	θ ← θ − lr·g
//
// With Convention Keras it is keras.optimizers.SGD (Keras 3; Keras 2.2.4
// has the same rule and no weight decay). The velocity v has lr inside it,
// so the two conventions differ only when lr changes between steps:
//
//	θ ← θ − θ·λ·lr                  (if WeightDecay λ ≠ 0: decoupled, as Keras 3)
//	if μ ≠ 0:
//	    v ← μ·v − lr·g              (v starts at 0)
//	    θ ← θ + μ·v − lr·g  if Nesterov, else θ ← θ + v
//	else θ ← θ − lr·g
//
// Keras has no dampening: Validate rejects Dampening ≠ 0 under Keras.
// The state buffer is "momentum_buffer" under Torch and "velocity" under
// Keras. The zero value with LR set is plain gradient descent.
type SGD struct {
	LR          float64    // learning rate; must be positive (torch: required)
	Momentum    float64    // μ >= 0; zero means no momentum
	Dampening   float64    // τ in [0, 1]; torch default 0
	WeightDecay float64    // λ >= 0; torch default 0
	Nesterov    bool       // requires Momentum > 0 and Dampening = 0
	Convention  Convention // Torch (default) or Keras

	st store
}

// NewSGD returns plain SGD with learning rate lr and torch's defaults.
func NewSGD(lr float64) *SGD { return &SGD{LR: lr} }

// Name implements Optimizer.
func (o *SGD) Name() string { return "sgd" }

// LearningRate implements Optimizer.
func (o *SGD) LearningRate() float64 { return o.LR }

// Validate reports the first invalid field.
func (o *SGD) Validate() error {
	const n = "sgd"
	if err := checkLR(n, o.LR); err != nil {
		return err
	}
	if err := checkNonNeg(n, "momentum", o.Momentum); err != nil {
		return err
	}
	if err := checkUnit(n, "dampening", o.Dampening, true); err != nil {
		return err
	}
	if err := checkNonNeg(n, "weight_decay", o.WeightDecay); err != nil {
		return err
	}
	if o.Nesterov && (o.Momentum <= 0 || o.Dampening != 0) {
		return fmt.Errorf("optim: sgd: nesterov needs momentum > 0 and dampening 0 (got momentum %v, dampening %v): %w", o.Momentum, o.Dampening, ErrConfig)
	}
	if err := o.Convention.check(n); err != nil {
		return err
	}
	if o.Convention == Keras && o.Dampening != 0 {
		return fmt.Errorf("optim: sgd: dampening %v is not supported under the Keras convention: %w", o.Dampening, ErrConfig)
	}
	return nil
}

func (o *SGD) layout() layout {
	l := layout{opt: "sgd"}
	if o.Momentum != 0 {
		l.names[0] = "momentum_buffer"
		if o.Convention == Keras {
			l.names[0] = "velocity"
		}
	}
	return l
}

// State implements Stateful.
func (o *SGD) State() State { l := o.layout(); return o.st.state(&l) }

// SetState implements Stateful.
func (o *SGD) SetState(s State) error { l := o.layout(); return o.st.setState(&l, s) }

// Step implements Optimizer.
func (o *SGD) Step(lr float64, params []*graph.Param) error {
	if err := o.st.begin("sgd", o.Validate(), lr, o.layout(), params); err != nil {
		return err
	}
	c := sgdConst{lr: lr, wd: o.WeightDecay, mu: o.Momentum, damp1: 1 - o.Dampening, nesterov: o.Nesterov}
	for i, p := range params {
		sl := o.st.work[i]
		c.first = sl.fresh[0]
		if o.WeightDecay == 0 && o.Momentum == 0 {
			// Plain descent, θ ← θ − lr·g, is BLAS's axpy: the same
			// arithmetic (no fused multiply-add), vectorised, and through
			// OpenBLAS in an openblas build.
			var err error
			if sl.bits == 32 {
				err = gemm.Saxpy(p.Size(), float32(-lr), p.Grad().Float32s(), 1, p.Value().Float32s(), 1)
			} else {
				err = gemm.Daxpy(p.Size(), -lr, p.Grad().Float64s(), 1, p.Value().Float64s(), 1)
			}
			if err != nil {
				return fmt.Errorf("optim: sgd: parameter %d (%s): %w", i, p.Name(), err)
			}
			continue
		}
		switch {
		case sl.bits == 32 && o.Convention == Keras:
			sgdKeras(c, p.Value().Float32s(), p.Grad().Float32s(), sl.b32[0])
		case sl.bits == 32:
			sgdTorch(c, p.Value().Float32s(), p.Grad().Float32s(), sl.b32[0])
		case o.Convention == Keras:
			sgdKeras(c, p.Value().Float64s(), p.Grad().Float64s(), sl.b64[0])
		default:
			sgdTorch(c, p.Value().Float64s(), p.Grad().Float64s(), sl.b64[0])
		}
	}
	return nil
}

type sgdConst struct {
	lr, wd, mu, damp1 float64
	nesterov, first   bool
}

// sgdTorch applies torch's rule; buf is nil without momentum.
func sgdTorch[T graph.Float](c sgdConst, v, g, buf []T) {
	lr, wd, mu, damp1 := T(c.lr), T(c.wd), T(c.mu), T(c.damp1)
	g = g[:len(v)] // bounds-check hints; prepare checked the lengths
	if buf != nil {
		buf = buf[:len(v)]
	}
	for i := range v {
		d := g[i]
		if wd != 0 {
			d += wd * v[i]
		}
		if buf != nil {
			if c.first {
				buf[i] = d
			} else {
				buf[i] = mu*buf[i] + damp1*d
			}
			if c.nesterov {
				d += mu * buf[i]
			} else {
				d = buf[i]
			}
		}
		v[i] -= lr * d
	}
}

// sgdKeras applies Keras's rule; buf (the velocity) is nil without momentum.
func sgdKeras[T graph.Float](c sgdConst, v, g, buf []T) {
	lr, wd, mu := T(c.lr), T(c.wd), T(c.mu)
	g = g[:len(v)]
	if buf != nil {
		buf = buf[:len(v)]
	}
	for i := range v {
		if wd != 0 {
			v[i] -= v[i] * wd * lr
		}
		d := g[i]
		switch {
		case buf == nil:
			v[i] -= d * lr
		case c.nesterov:
			buf[i] = buf[i]*mu - d*lr
			v[i] += buf[i]*mu - d*lr
		default:
			buf[i] = buf[i]*mu - d*lr
			v[i] += buf[i]
		}
	}
}
