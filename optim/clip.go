package optim

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/descentlab/descent/graph"
)

// GlobalNorm returns the L2 norm of all the gradients of params taken
// together, as torch 1.13's clip_grad_norm_ computes it: the norm of the
// per-parameter norms, accumulated in float64 for float32 gradients too.
func GlobalNorm(params []*graph.Param) (float64, error) {
	total := 0.0
	for _, p := range params {
		n, err := gradNorm(p)
		if err != nil {
			return 0, err
		}
		total += n * n
	}
	return math.Sqrt(total), nil
}

func gradNorm(p *graph.Param) (float64, error) {
	if p == nil {
		return 0, fmt.Errorf("optim: clip: nil parameter: %w", ErrConfig)
	}
	g := p.Grad()
	if g == nil {
		return 0, fmt.Errorf("optim: clip: parameter %s has no gradient tensor: %w", p.Name(), graph.ErrShape)
	}
	s := 0.0
	switch g.Dtype() {
	case tensor.Float64:
		for _, x := range g.Float64s() {
			s += x * x
		}
	case tensor.Float32:
		for _, x := range g.Float32s() {
			s += float64(x) * float64(x)
		}
	default:
		return 0, fmt.Errorf("optim: clip: gradient of %s has dtype %v: %w", p.Name(), g.Dtype(), graph.ErrDType)
	}
	return math.Sqrt(s), nil
}

// ClipNorm is torch.nn.utils.clip_grad_norm_ (torch 1.13, norm_type 2):
// with N the global L2 norm of all gradients (GlobalNorm),
//
//	c = min(1, MaxNorm / (N + 1e-6))
//	g ← c·g   for every gradient
//
// Like torch 1.13, it multiplies by the clamped coefficient on every call;
// a coefficient of exactly 1 leaves the gradients unchanged, so that
// multiplication is skipped, but a NaN norm makes every gradient NaN, as in
// torch. Keras's global_clipnorm omits the 1e-6.
type ClipNorm struct {
	MaxNorm float64 // M > 0
}

// Validate reports a MaxNorm that is not positive and finite.
func (c ClipNorm) Validate() error { return checkPositive("clip norm", "max_norm", c.MaxNorm) }

// Clip implements Clipper: it scales the gradients of params in place and
// returns their global norm before clipping.
func (c ClipNorm) Clip(params []*graph.Param) (float64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	n, err := GlobalNorm(params)
	if err != nil {
		return 0, err
	}
	coef := c.MaxNorm / (n + 1e-6)
	if coef > 1 {
		coef = 1
	}
	if coef == 1 {
		return n, nil
	}
	for _, p := range params {
		if s, ok := grad64(p); ok {
			for i := range s {
				s[i] *= coef
			}
		} else if s, ok := grad32(p); ok {
			c32 := float32(coef)
			for i := range s {
				s[i] *= c32
			}
		}
	}
	return n, nil
}

// ClipValue is torch.nn.utils.clip_grad_value_: every gradient element is
// clamped to [−Value, Value] (NaN stays NaN). Clip returns the global norm
// before clipping, so that records compare with norm clipping.
type ClipValue struct {
	Value float64 // v > 0
}

// Validate reports a Value that is not positive and finite.
func (c ClipValue) Validate() error { return checkPositive("clip value", "clip_value", c.Value) }

// Clip implements Clipper: it clamps the gradients of params in place and
// returns their global norm before clipping.
func (c ClipValue) Clip(params []*graph.Param) (float64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	n, err := GlobalNorm(params)
	if err != nil {
		return 0, err
	}
	for _, p := range params {
		if s, ok := grad64(p); ok {
			clamp(s, c.Value)
		} else if s, ok := grad32(p); ok {
			clamp(s, float32(c.Value))
		}
	}
	return n, nil
}

func clamp[T graph.Float](s []T, v T) {
	for i, x := range s {
		if x > v {
			s[i] = v
		} else if x < -v {
			s[i] = -v
		}
	}
}

func grad64(p *graph.Param) ([]float64, bool) {
	if g := p.Grad(); g != nil && g.Dtype() == tensor.Float64 {
		return g.Float64s(), true
	}
	return nil, false
}

func grad32(p *graph.Param) ([]float32, bool) {
	if g := p.Grad(); g != nil && g.Dtype() == tensor.Float32 {
		return g.Float32s(), true
	}
	return nil, false
}
