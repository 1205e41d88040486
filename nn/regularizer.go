package nn

import (
	"fmt"
	"math"

	"github.com/descentlab/descent/graph"
)

// Regularizer adds a penalty on a weight to the loss that training
// minimises, as Keras's kernel_regularizer and bias_regularizer do. The
// penalty is part of the graph that gorgonia differentiates, and part of
// the loss Fit, Evaluate and History report (Keras 2 reports its
// total_loss, penalties included, for loss and val_loss alike).
type Regularizer interface {
	// Penalty returns the scalar penalty of w.
	Penalty(w *graph.Node) *graph.Node
	// Config returns the regularizer's Keras serialisation,
	// {"class_name", "config"}.
	Config() (Config, error)
}

var _ Regularizer = L1L2{}

// L1L2 is Keras's L1L2 regularizer: the penalty L1·Σ|w| + L2·Σw², summed
// over every element of the weight (not averaged, and not divided by the
// batch size), each term computed as Keras computes it, Σ(c·|w|) and
// Σ(c·w²). Its gradient, L1·sign(w) + 2·L2·w, comes from gorgonia's
// symbolic differentiation.
//
// Keras's L2(c) penalty is not optim's weight decay λ: the gradient of
// c·Σw² is 2c·w, which equals the coupled weight decay of SGD and Adam
// (g + λθ, torch's weight_decay) when λ = 2c, apart from the reported loss,
// which includes the penalty and not the decay. AdamW's decoupled decay
// (θ ← θ·(1 − lr·λ), applied outside the adaptive scaling) has no penalty
// equivalent: under Adam, a penalty's gradient is divided by √v like the
// loss's, a decoupled decay is not.
type L1L2 struct {
	L1 float64 `json:"l1"`
	L2 float64 `json:"l2"`
}

// L1 returns the L1 regularizer c·Σ|w| (Keras 2.2.4's regularizers.l1).
func L1(c float64) L1L2 { return L1L2{L1: c} }

// L2 returns the L2 regularizer c·Σw² (Keras 2.2.4's regularizers.l2).
func L2(c float64) L1L2 { return L1L2{L2: c} }

// Validate checks that both coefficients are finite and not negative.
func (r L1L2) Validate() error {
	for _, c := range []float64{r.L1, r.L2} {
		if !(c >= 0) || math.IsInf(c, 0) {
			return fmt.Errorf("regularizer L1L2{l1: %v, l2: %v}: coefficients must be finite and not negative: %w", r.L1, r.L2, ErrConfig)
		}
	}
	return nil
}

// Penalty implements Regularizer. A zero coefficient adds no term, as in
// Keras; with both zero the penalty is the constant 0.
func (r L1L2) Penalty(w *graph.Node) *graph.Node {
	if err := r.Validate(); err != nil {
		return w.Graph().Fail(err)
	}
	var p *graph.Node
	add := func(t *graph.Node) {
		if p == nil {
			p = t
		} else {
			p = graph.Add(p, t)
		}
	}
	if r.L1 != 0 {
		add(graph.Sum(graph.Scale(graph.Abs(w), r.L1)))
	}
	if r.L2 != 0 {
		add(graph.Sum(graph.Scale(graph.Square(w), r.L2)))
	}
	if p == nil {
		return w.Graph().Scalar(0)
	}
	return p
}

// Config implements Regularizer: Keras 2.2.4's form, {"class_name":
// "L1L2", "config": {"l1": ..., "l2": ...}}, whichever of L1, L2 and L1L2
// made it. (Keras 2.2.4 rounds the coefficients to float32 before writing
// them, 0.01 becoming 0.009999999776482582; descent writes them as given.
// Either loads in both.)
func (r L1L2) Config() (Config, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return Config{{"class_name", "L1L2"}, {"config", Config{{"l1", r.L1}, {"l2", r.L2}}}}, nil
}
