package optim

import (
	"math"

	"github.com/descentlab/descent/graph"
)

// Adam is torch.optim.Adam: adaptive moment estimation with L2 weight
// decay added to the gradient, and optional AMSGrad. For each parameter θ
// with gradient g, at step t (from 1) and learning rate lr, with all state
// starting at 0:
//
//	g ← g + λ·θ                              (if WeightDecay λ ≠ 0)
//	m ← β1·m + (1−β1)·g                      (buffer exp_avg)
//	v ← β2·v + (1−β2)·g²                     (buffer exp_avg_sq)
//	v̂ ← max(v̂, v); use v̂ for v below         (AMSGrad; buffer max_exp_avg_sq)
//	θ ← θ − (lr/(1−β1^t)) · m / (sqrt(v)/sqrt(1−β2^t) + ε)
//
// ε is added after sqrt(v) is bias-corrected.
//
// With Convention Keras it is keras.optimizers.Adam (Keras 3; Keras 2.2.4
// has the same rule without weight decay), whose ε is Kingma and Ba's
// "epsilon hat", added to the uncorrected sqrt(v), and whose weight decay
// is decoupled:
//
//	θ ← θ − θ·λ·lr                           (if λ ≠ 0)
//	m, v, v̂ as above, from the undecayed g
//	lr_t = lr · sqrt(1−β2^t)/(1−β1^t)
//	θ ← θ − lr_t · m / (sqrt(v) + ε)
//
// Keras's defaults differ from torch's (Keras: lr 0.001, ε 1e-7).
type Adam struct {
	LR          float64    // learning rate; torch default 0.001
	Beta1       float64    // β1 in [0, 1); torch default 0.9
	Beta2       float64    // β2 in [0, 1); torch default 0.999
	Eps         float64    // ε > 0; torch default 1e-8
	WeightDecay float64    // λ >= 0; torch default 0
	AMSGrad     bool       // use the running maximum of v
	Convention  Convention // Torch (default) or Keras

	st store
}

// NewAdam returns Adam with learning rate lr and torch's defaults.
func NewAdam(lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

// Name implements Optimizer.
func (o *Adam) Name() string { return "adam" }

// LearningRate implements Optimizer.
func (o *Adam) LearningRate() float64 { return o.LR }

// Validate reports the first invalid field.
func (o *Adam) Validate() error {
	return validateAdam("adam", o.LR, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, o.Convention)
}

// State implements Stateful.
func (o *Adam) State() State { l := adamLayout("adam", o.AMSGrad); return o.st.state(&l) }

// SetState implements Stateful.
func (o *Adam) SetState(s State) error {
	l := adamLayout("adam", o.AMSGrad)
	return o.st.setState(&l, s)
}

// Step implements Optimizer.
func (o *Adam) Step(lr float64, params []*graph.Param) error {
	if err := o.Validate(); err != nil {
		return err
	}
	return adamStep(&o.st, "adam", false, lr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, o.AMSGrad, o.Convention, params)
}

// AdamW is torch.optim.AdamW: Adam with decoupled weight decay. Each step
// first shrinks the parameter with the current learning rate, then applies
// Adam's rule without the L2 term:
//
//	θ ← θ·(1 − lr·λ)                         (WeightDecay λ; torch default 0.01)
//	m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  v̂ ← max(v̂, v) with AMSGrad
//	θ ← θ − (lr/(1−β1^t)) · m / (sqrt(v)/sqrt(1−β2^t) + ε)
//
// With Convention Keras it is keras.optimizers.AdamW (Keras 3), which is
// Adam's Keras rule with θ ← θ − θ·λ·lr first; Keras's default λ is 0.004.
// The buffers are Adam's.
type AdamW struct {
	LR          float64    // learning rate; torch default 0.001
	Beta1       float64    // β1 in [0, 1); torch default 0.9
	Beta2       float64    // β2 in [0, 1); torch default 0.999
	Eps         float64    // ε > 0; torch default 1e-8
	WeightDecay float64    // λ >= 0; torch default 0.01
	AMSGrad     bool       // use the running maximum of v
	Convention  Convention // Torch (default) or Keras

	st store
}

// NewAdamW returns AdamW with learning rate lr and torch's defaults.
func NewAdamW(lr float64) *AdamW {
	return &AdamW{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
}

// Name implements Optimizer.
func (o *AdamW) Name() string { return "adamw" }

// LearningRate implements Optimizer.
func (o *AdamW) LearningRate() float64 { return o.LR }

// Validate reports the first invalid field.
func (o *AdamW) Validate() error {
	return validateAdam("adamw", o.LR, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, o.Convention)
}

// State implements Stateful.
func (o *AdamW) State() State { l := adamLayout("adamw", o.AMSGrad); return o.st.state(&l) }

// SetState implements Stateful.
func (o *AdamW) SetState(s State) error {
	l := adamLayout("adamw", o.AMSGrad)
	return o.st.setState(&l, s)
}

// Step implements Optimizer.
func (o *AdamW) Step(lr float64, params []*graph.Param) error {
	if err := o.Validate(); err != nil {
		return err
	}
	return adamStep(&o.st, "adamw", true, lr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, o.AMSGrad, o.Convention, params)
}

func validateAdam(n string, lr, b1, b2, eps, wd float64, c Convention) error {
	if err := checkLR(n, lr); err != nil {
		return err
	}
	if err := checkUnit(n, "betas[0]", b1, false); err != nil {
		return err
	}
	if err := checkUnit(n, "betas[1]", b2, false); err != nil {
		return err
	}
	if err := checkPositive(n, "eps", eps); err != nil {
		return err
	}
	if err := checkNonNeg(n, "weight_decay", wd); err != nil {
		return err
	}
	return c.check(n)
}

func adamLayout(n string, ams bool) layout {
	l := layout{opt: n, names: [maxBuffers]string{"exp_avg", "exp_avg_sq"}}
	if ams {
		l.names[2] = "max_exp_avg_sq"
	}
	return l
}

type adamConst struct {
	lr, wd, decay    float64 // decay: torch AdamW's 1 − lr·λ
	b1, b1c, b2, b2c float64 // β and 1 − β
	step, bc2sqrt    float64 // torch: lr/(1−β1^t) and sqrt(1−β2^t); keras: lr_t
	eps              float64
	decoupled        bool
}

func adamStep(st *store, n string, decoupled bool, lr, b1, b2, eps, wd float64, ams bool, conv Convention, params []*graph.Param) error {
	if err := checkRate(n, lr); err != nil {
		return err
	}
	l := adamLayout(n, ams)
	if err := st.prepare(&l, params); err != nil {
		return err
	}
	st.t++
	t := float64(st.t)
	c := adamConst{lr: lr, wd: wd, b1: b1, b1c: 1 - b1, b2: b2, b2c: 1 - b2, eps: eps, decoupled: decoupled}
	if conv == Keras {
		c.step = lr * (math.Sqrt(1-math.Pow(b2, t)) / (1 - math.Pow(b1, t)))
	} else {
		c.step = lr / (1 - math.Pow(b1, t))
		c.bc2sqrt = math.Sqrt(1 - math.Pow(b2, t))
		c.decay = 1 - lr*wd
	}
	for i, p := range params {
		sl := st.work[i]
		switch {
		case sl.bits == 32 && conv == Keras:
			adamKeras(c, p.Value().Float32s(), p.Grad().Float32s(), sl.b32[0], sl.b32[1], bufIf(ams, sl.b32[2]))
		case sl.bits == 32:
			adamTorch(c, p.Value().Float32s(), p.Grad().Float32s(), sl.b32[0], sl.b32[1], bufIf(ams, sl.b32[2]))
		case conv == Keras:
			adamKeras(c, p.Value().Float64s(), p.Grad().Float64s(), sl.b64[0], sl.b64[1], bufIf(ams, sl.b64[2]))
		default:
			adamTorch(c, p.Value().Float64s(), p.Grad().Float64s(), sl.b64[0], sl.b64[1], bufIf(ams, sl.b64[2]))
		}
	}
	return nil
}

// bufIf returns b when on, else nil (a buffer kept from earlier settings).
func bufIf[T graph.Float](on bool, b []T) []T {
	if on {
		return b
	}
	return nil
}

// adamTorch applies torch's Adam (decoupled: AdamW) rule; vmax is nil
// without AMSGrad.
func adamTorch[T graph.Float](c adamConst, v, g, m, s, vmax []T) {
	wd, decay := T(c.wd), T(c.decay)
	b1, b1c, b2, b2c := T(c.b1), T(c.b1c), T(c.b2), T(c.b2c)
	step, bc2, eps := T(c.step), T(c.bc2sqrt), T(c.eps)
	g, m, s = g[:len(v)], m[:len(v)], s[:len(v)] // bounds-check hints
	if vmax != nil {
		vmax = vmax[:len(v)]
	}
	for i := range v {
		d := g[i]
		if c.decoupled {
			if wd != 0 {
				v[i] *= decay
			}
		} else if wd != 0 {
			d += wd * v[i]
		}
		m[i] = m[i]*b1 + b1c*d
		s[i] = s[i]*b2 + b2c*d*d
		x := s[i]
		if vmax != nil {
			if x > vmax[i] || x != x {
				vmax[i] = x
			}
			x = vmax[i]
		}
		denom := T(math.Sqrt(float64(x)))/bc2 + eps
		v[i] -= step * m[i] / denom
	}
}

// adamKeras applies Keras's Adam rule; vmax is nil without AMSGrad.
func adamKeras[T graph.Float](c adamConst, v, g, m, s, vmax []T) {
	lr, wd := T(c.lr), T(c.wd)
	b1, b1c, b2, b2c := T(c.b1), T(c.b1c), T(c.b2), T(c.b2c)
	step, eps := T(c.step), T(c.eps)
	g, m, s = g[:len(v)], m[:len(v)], s[:len(v)]
	if vmax != nil {
		vmax = vmax[:len(v)]
	}
	for i := range v {
		if wd != 0 {
			v[i] -= v[i] * wd * lr
		}
		d := g[i]
		m[i] = b1*m[i] + b1c*d
		s[i] = b2*s[i] + b2c*(d*d)
		x := s[i]
		if vmax != nil {
			if x > vmax[i] || x != x {
				vmax[i] = x
			}
			x = vmax[i]
		}
		v[i] -= step * m[i] / (T(math.Sqrt(float64(x))) + eps)
	}
}
