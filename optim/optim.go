package optim

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/descentlab/descent/graph"
)

// ErrConfig reports an invalid optimizer, schedule or clipping setting.
var ErrConfig = errors.New("invalid configuration")

// Optimizer updates parameters in place from their gradients.
type Optimizer interface {
	// Name returns the optimizer's name as New accepts it ("sgd").
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

// Convention selects whose update rule an optimizer follows where PyTorch
// and Keras differ. The zero value is Torch.
type Convention int

const (
	// Torch follows torch.optim 1.13 (the default).
	Torch Convention = iota
	// Keras follows Keras 3 (keras.optimizers, also tf.keras >= 2.11), which
	// agrees with Keras 2.2.4 for SGD and Adam. Each optimizer's doc comment
	// spells out its Keras rule; Adagrad and Adadelta have none, because
	// Keras's rules are torch's. Keras's default hyperparameters (epsilon
	// 1e-7, rho 0.9, ...) are not implied: set them explicitly.
	Keras
)

// String returns "torch" or "keras".
func (c Convention) String() string {
	switch c {
	case Torch:
		return "torch"
	case Keras:
		return "keras"
	}
	return fmt.Sprintf("Convention(%d)", int(c))
}

// ParseConvention parses "torch" or "keras" (case-insensitive; "pytorch"
// and "tf.keras" are accepted too).
func ParseConvention(s string) (Convention, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "torch", "pytorch":
		return Torch, nil
	case "keras", "tf.keras":
		return Keras, nil
	}
	return 0, fmt.Errorf("optim: unknown convention %q (want torch or keras): %w", s, ErrConfig)
}

func (c Convention) check(opt string) error {
	if c != Torch && c != Keras {
		return fmt.Errorf("optim: %s: convention %d is neither Torch nor Keras: %w", opt, int(c), ErrConfig)
	}
	return nil
}

// checkLR reports a base learning rate that is not positive and finite.
func checkLR(opt string, lr float64) error {
	if !(lr > 0) || math.IsInf(lr, 1) {
		return fmt.Errorf("optim: %s: lr %v must be positive and finite: %w", opt, lr, ErrConfig)
	}
	return nil
}

// checkRate reports a step learning rate (the scheduled one, which may be 0)
// that is negative or not finite.
func checkRate(opt string, lr float64) error {
	if !(lr >= 0) || math.IsInf(lr, 1) {
		return fmt.Errorf("optim: %s: step learning rate %v must be >= 0 and finite: %w", opt, lr, ErrConfig)
	}
	return nil
}

func checkNonNeg(opt, field string, x float64) error {
	if !(x >= 0) || math.IsInf(x, 1) {
		return fmt.Errorf("optim: %s: %s %v must be >= 0 and finite: %w", opt, field, x, ErrConfig)
	}
	return nil
}

func checkPositive(opt, field string, x float64) error {
	if !(x > 0) || math.IsInf(x, 1) {
		return fmt.Errorf("optim: %s: %s %v must be positive and finite: %w", opt, field, x, ErrConfig)
	}
	return nil
}

// checkUnit reports x outside [0, 1), or outside [0, 1] when closed.
func checkUnit(opt, field string, x float64, closed bool) error {
	if closed && !(x >= 0 && x <= 1) {
		return fmt.Errorf("optim: %s: %s %v must be in [0, 1]: %w", opt, field, x, ErrConfig)
	}
	if !closed && !(x >= 0 && x < 1) {
		return fmt.Errorf("optim: %s: %s %v must be in [0, 1): %w", opt, field, x, ErrConfig)
	}
	return nil
}
