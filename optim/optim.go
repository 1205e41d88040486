package optim

import (
	"errors"
	"fmt"

	"github.com/descentlab/descent/graph"
)

// ErrConfig reports an invalid optimizer, schedule or clipping setting.
var ErrConfig = errors.New("invalid configuration")

// Optimizer updates parameters in place from their gradients.
type Optimizer interface {
	// Name returns the optimizer's name as NewByName accepts it ("sgd").
	Name() string
	// LearningRate returns the base learning rate, the one schedules scale.
	LearningRate() float64
	// Step applies one update to every parameter at learning rate lr, reading
	// p.Grad() and writing p.Value(). Parameters are identified by name:
	// state kept between steps is keyed by p.Name().
	Step(lr float64, params []*graph.Param) error
}

// Schedule gives the learning rate as a pure function of the number of
// schedule steps taken so far (t = 0 before the first update). What a step
// is, an optimizer step or an epoch, is the trainer's Interval.
type Schedule interface {
	Rate(base float64, t int) float64
}

// Interval says when a schedule advances.
type Interval int

const (
	// PerEpoch advances the schedule after the last step of each epoch.
	PerEpoch Interval = iota
	// PerStep advances the schedule after every optimizer step.
	PerStep
)

// String returns "epoch" or "step".
func (i Interval) String() string {
	if i == PerStep {
		return "step"
	}
	return "epoch"
}

// Clipper clips gradients in place before the optimizer step.
type Clipper interface {
	// Clip modifies the gradients of params and returns the total L2 norm of
	// the gradients before clipping.
	Clip(params []*graph.Param) (norm float64, err error)
}

// each calls f64 or f32 with the value and gradient slices of p.
func each(p *graph.Param, f64 func(v, g []float64), f32 func(v, g []float32)) error {
	if v, ok := graph.Slice[float64](p.Value()); ok {
		g, _ := graph.Slice[float64](p.Grad())
		f64(v, g)
		return nil
	}
	if v, ok := graph.Slice[float32](p.Value()); ok {
		g, _ := graph.Slice[float32](p.Grad())
		f32(v, g)
		return nil
	}
	return fmt.Errorf("optim: parameter %s has dtype %v: %w", p.Name(), p.DType(), graph.ErrDType)
}
