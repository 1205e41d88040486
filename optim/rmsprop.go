package optim

import (
	"math"

	"github.com/descentlab/descent/graph"
)

// RMSprop is torch.optim.RMSprop. For each parameter θ with gradient g, at
// learning rate lr, with all state starting at 0:
//
//	g ← g + λ·θ                          (if WeightDecay λ ≠ 0)
//	s ← α·s + (1−α)·g²                   (buffer square_avg)
//	if Centered:
//	    ḡ ← α·ḡ + (1−α)·g                (buffer grad_avg)
//	    d ← sqrt(s − ḡ²) + ε
//	else d ← sqrt(s) + ε                 (ε outside the sqrt)
//	if Momentum μ > 0:
//	    buf ← μ·buf + g/d                (buffer momentum_buffer)
//	    θ ← θ − lr·buf
//	else θ ← θ − lr·g/d
//
// torch's Alpha is Keras's rho.
//
// With Convention Keras it is keras.optimizers.RMSprop of Keras 3 (also
// tf.keras >= 2.11), which puts ε inside the sqrt, keeps lr inside the
// momentum and decouples weight decay:
//
//	θ ← θ − θ·λ·lr                       (if λ ≠ 0)
//	s ← α·s + (1−α)·g²
//	D ← s − ḡ² + ε with ḡ as above if Centered, else D ← s + ε
//	if μ > 0: v ← μ·v + lr·g/sqrt(D); θ ← θ − v   (buffer velocity)
//	else θ ← θ − lr·g/sqrt(D)
//
// Keras 2.2.4's RMSprop (no momentum, not centered) computed
// θ − lr·g/(sqrt(s) + ε), which is the Torch convention: use that for
// Keras 2.2.4. Keras's defaults differ from torch's (rho 0.9, ε 1e-7,
// lr 0.001).
type RMSprop struct {
	LR          float64    // learning rate; torch default 0.01
	Alpha       float64    // α in [0, 1]; torch default 0.99
	Eps         float64    // ε > 0; torch default 1e-8
	WeightDecay float64    // λ >= 0; torch default 0
	Momentum    float64    // μ >= 0; torch default 0
	Centered    bool       // normalise by the variance estimate s − ḡ²
	Convention  Convention // Torch (default) or Keras

	st store
}

// NewRMSprop returns RMSprop with learning rate lr and torch's defaults.
func NewRMSprop(lr float64) *RMSprop { return &RMSprop{LR: lr, Alpha: 0.99, Eps: 1e-8} }

// Name implements Optimizer.
func (o *RMSprop) Name() string { return "rmsprop" }

// LearningRate implements Optimizer.
func (o *RMSprop) LearningRate() float64 { return o.LR }

// Validate reports the first invalid field.
func (o *RMSprop) Validate() error {
	const n = "rmsprop"
	if err := checkLR(n, o.LR); err != nil {
		return err
	}
	if err := checkUnit(n, "alpha", o.Alpha, true); err != nil {
		return err
	}
	if err := checkPositive(n, "eps", o.Eps); err != nil {
		return err
	}
	if err := checkNonNeg(n, "weight_decay", o.WeightDecay); err != nil {
		return err
	}
	if err := checkNonNeg(n, "momentum", o.Momentum); err != nil {
		return err
	}
	return o.Convention.check(n)
}

func (o *RMSprop) layout() layout {
	l := layout{opt: "rmsprop", names: [maxBuffers]string{"square_avg"}}
	if o.Centered {
		l.names[1] = "grad_avg"
	}
	if o.Momentum > 0 {
		l.names[2] = "momentum_buffer"
		if o.Convention == Keras {
			l.names[2] = "velocity"
		}
	}
	return l
}

// State implements Stateful.
func (o *RMSprop) State() State { l := o.layout(); return o.st.state(&l) }

// SetState implements Stateful.
func (o *RMSprop) SetState(s State) error { l := o.layout(); return o.st.setState(&l, s) }

// Step implements Optimizer.
func (o *RMSprop) Step(lr float64, params []*graph.Param) error {
	if err := o.st.begin("rmsprop", o.Validate(), lr, o.layout(), params); err != nil {
		return err
	}
	c := rmsConst{lr: lr, wd: o.WeightDecay, a: o.Alpha, a1: 1 - o.Alpha, eps: o.Eps, mu: o.Momentum}
	for i, p := range params {
		sl := o.st.work[i]
		switch {
		case sl.bits == 32 && o.Convention == Keras:
			rmsKeras(c, p.Value().Float32s(), p.Grad().Float32s(), sl.b32[0], bufIf(o.Centered, sl.b32[1]), bufIf(o.Momentum > 0, sl.b32[2]))
		case sl.bits == 32:
			rmsTorch(c, p.Value().Float32s(), p.Grad().Float32s(), sl.b32[0], bufIf(o.Centered, sl.b32[1]), bufIf(o.Momentum > 0, sl.b32[2]))
		case o.Convention == Keras:
			rmsKeras(c, p.Value().Float64s(), p.Grad().Float64s(), sl.b64[0], bufIf(o.Centered, sl.b64[1]), bufIf(o.Momentum > 0, sl.b64[2]))
		default:
			rmsTorch(c, p.Value().Float64s(), p.Grad().Float64s(), sl.b64[0], bufIf(o.Centered, sl.b64[1]), bufIf(o.Momentum > 0, sl.b64[2]))
		}
	}
	return nil
}

type rmsConst struct {
	lr, wd, a, a1, eps, mu float64 // a1 = 1 − α
}

// rmsTorch applies torch's rule; gavg is nil unless centered, buf nil
// without momentum.
func rmsTorch[T graph.Float](c rmsConst, v, g, s, gavg, buf []T) {
	lr, wd, a, a1, eps, mu := T(c.lr), T(c.wd), T(c.a), T(c.a1), T(c.eps), T(c.mu)
	g, s = g[:len(v)], s[:len(v)] // bounds-check hints
	if gavg != nil {
		gavg = gavg[:len(v)]
	}
	if buf != nil {
		buf = buf[:len(v)]
	}
	for i := range v {
		d := g[i]
		if wd != 0 {
			d += wd * v[i]
		}
		s[i] = s[i]*a + a1*d*d
		var den T
		if gavg != nil {
			gavg[i] = gavg[i]*a + a1*d
			den = T(math.Sqrt(float64(s[i] - gavg[i]*gavg[i])))
		} else {
			den = T(math.Sqrt(float64(s[i])))
		}
		den += eps
		if buf != nil {
			buf[i] = buf[i]*mu + d/den
			v[i] -= lr * buf[i]
		} else {
			v[i] -= lr * d / den
		}
	}
}

// rmsKeras applies Keras 3's rule; gavg is nil unless centered, buf (the
// velocity) nil without momentum.
func rmsKeras[T graph.Float](c rmsConst, v, g, s, gavg, buf []T) {
	lr, wd, a, a1, eps, mu := T(c.lr), T(c.wd), T(c.a), T(c.a1), T(c.eps), T(c.mu)
	g, s = g[:len(v)], s[:len(v)] // bounds-check hints
	if gavg != nil {
		gavg = gavg[:len(v)]
	}
	if buf != nil {
		buf = buf[:len(v)]
	}
	for i := range v {
		if wd != 0 {
			v[i] -= v[i] * wd * lr
		}
		d := g[i]
		s[i] = a*s[i] + a1*(d*d)
		den := s[i]
		if gavg != nil {
			gavg[i] = a*gavg[i] + a1*d
			den -= gavg[i] * gavg[i]
		}
		inc := lr * d / T(math.Sqrt(float64(den+eps)))
		if buf != nil {
			buf[i] = mu*buf[i] + inc
			v[i] -= buf[i]
		} else {
			v[i] -= inc
		}
	}
}
