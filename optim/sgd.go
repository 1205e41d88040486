package optim

import (
	"fmt"

	"github.com/descentlab/descent/graph"
)

// SGD is stochastic gradient descent with optional momentum, dampening,
// Nesterov momentum and L2 weight decay, with torch.optim.SGD's rule. For
// each parameter θ with gradient g, at learning rate lr:
//
//	g ← g + λθ                      (if WeightDecay λ ≠ 0)
//	if Momentum μ ≠ 0:
//	    buf ← g                     (first step; no dampening)
//	    buf ← μ·buf + (1−τ)·g       (later steps; Dampening τ)
//	    g ← g + μ·buf  if Nesterov, else g ← buf
//	θ ← θ − lr·g
//
// The zero value with LR set is plain gradient descent.
type SGD struct {
	LR          float64 // learning rate; must be positive
	Momentum    float64 // μ >= 0; zero means no momentum
	Dampening   float64 // τ in [0, 1]
	WeightDecay float64 // λ >= 0, L2 penalty added to the gradient
	Nesterov    bool    // requires Momentum > 0 and Dampening = 0

	buf   map[string][]float64
	buf32 map[string][]float32
}

// NewSGD returns plain SGD with learning rate lr.
func NewSGD(lr float64) *SGD { return &SGD{LR: lr} }

// Name implements Optimizer.
func (o *SGD) Name() string { return "sgd" }

// LearningRate implements Optimizer.
func (o *SGD) LearningRate() float64 { return o.LR }

// Validate reports the first invalid field.
func (o *SGD) Validate() error {
	switch {
	case !(o.LR > 0):
		return fmt.Errorf("optim: sgd: lr %v must be positive: %w", o.LR, ErrConfig)
	case !(o.Momentum >= 0):
		return fmt.Errorf("optim: sgd: momentum %v must be >= 0: %w", o.Momentum, ErrConfig)
	case !(o.Dampening >= 0 && o.Dampening <= 1):
		return fmt.Errorf("optim: sgd: dampening %v must be in [0, 1]: %w", o.Dampening, ErrConfig)
	case !(o.WeightDecay >= 0):
		return fmt.Errorf("optim: sgd: weight_decay %v must be >= 0: %w", o.WeightDecay, ErrConfig)
	case o.Nesterov && (o.Momentum <= 0 || o.Dampening != 0):
		return fmt.Errorf("optim: sgd: nesterov needs momentum > 0 and dampening 0 (got momentum %v, dampening %v): %w", o.Momentum, o.Dampening, ErrConfig)
	}
	return nil
}

// Step implements Optimizer.
func (o *SGD) Step(lr float64, params []*graph.Param) error {
	if err := o.Validate(); err != nil {
		return err
	}
	for _, p := range params {
		err := each(p,
			func(v, g []float64) { sgdStep(o, &o.buf, p.Name(), lr, v, g) },
			func(v, g []float32) { sgdStep(o, &o.buf32, p.Name(), lr, v, g) })
		if err != nil {
			return err
		}
	}
	return nil
}

func sgdStep[T graph.Float](o *SGD, bufs *map[string][]T, name string, lr float64, v, g []T) {
	wd, mu, damp := T(o.WeightDecay), T(o.Momentum), T(o.Dampening)
	var buf []T
	first := false
	if o.Momentum != 0 {
		if *bufs == nil {
			*bufs = map[string][]T{}
		}
		buf = (*bufs)[name]
		if buf == nil {
			buf = make([]T, len(v))
			(*bufs)[name] = buf
			first = true
		}
	}
	rate := T(lr)
	for i := range v {
		d := g[i]
		if wd != 0 {
			d += wd * v[i]
		}
		if buf != nil {
			if first {
				buf[i] = d
			} else {
				buf[i] = mu*buf[i] + (1-damp)*d
			}
			if o.Nesterov {
				d += mu * buf[i]
			} else {
				d = buf[i]
			}
		}
		v[i] -= rate * d
	}
}
