package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/descentlab/descent/data"
	"gorgonia.org/tensor"
)

// Gradient computes the training loss of the batch x [rows, in], y [rows,
// out] (class indices [rows, 1] for a sparse loss) and its gradient with
// respect to every parameter, leaving the gradient in each parameter's Grad
// (see Params), and returns the loss (penalties included, mean over the
// rows as Fit's). It updates nothing: not the weights, not the optimizer's
// state, not the training state or its random streams. Dropout masks are
// drawn from rng, which may be nil only for a model without random layers.
//
// It overwrites the Grad tensors: from a callback, call it from OnStepEnd or
// OnEpochEnd, not from OnGradients, whose gradients the update has not used
// yet. Measurements such as the gradient noise scale
// (callbacks.GradientNoiseScale) are built on it.
func (m *Sequential) Gradient(x, y *tensor.Dense, rng *rand.Rand) (float64, error) {
	return m.gradient("gradient", x, y, rng)
}

// gradient is Gradient, its errors prefixed with what ("train step").
func (m *Sequential) gradient(what string, x, y *tensor.Dense, rng *rand.Rand) (float64, error) {
	if !m.compiled {
		return 0, fmt.Errorf("nn: %s: %w (call Compile first)", what, ErrNotCompiled)
	}
	if y == nil {
		return 0, fmt.Errorf("nn: %s: no targets: %w", what, ErrShape)
	}
	f, err := m.feeder(what, &data.Dataset{X: x, Y: y})
	if err != nil {
		return 0, err
	}
	rows := f.Len()
	p, err := m.program(progTrain, rows)
	if err != nil {
		return 0, err
	}
	if len(p.noise) > 0 && rng == nil {
		return 0, fmt.Errorf("nn: %s: the model has random layers (Dropout): rng must not be nil: %w", what, ErrConfig)
	}
	xb, _ := p.Input("x")
	yb, _ := p.Input("y")
	if err := f.Rows(xb, yb, 0, rows); err != nil {
		return 0, fmt.Errorf("nn: %s: %w", what, err)
	}
	if err := p.fillNoise(rng); err != nil {
		return 0, fmt.Errorf("nn: %s: %w", what, err)
	}
	if err := p.Run(); err != nil {
		return 0, fmt.Errorf("nn: %s: %w", what, err)
	}
	loss := p.Loss()
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, fmt.Errorf("nn: %s: loss is %v: %w", what, loss, ErrNotFinite)
	}
	return loss, nil
}
