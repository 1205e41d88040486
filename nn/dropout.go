package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/descentlab/descent/graph"
)

// Dropout is Keras's Dropout layer: during training each input value is
// zeroed with probability Rate and the others are scaled by 1/(1-Rate)
// (inverted dropout), so that the expected value is unchanged and
// evaluation and prediction use the input as it is.
//
// It is active in the graphs of training steps only (Fit and TrainStep),
// never in Evaluate, Predict or Fit's validation. Its mask is a per-step
// input of the graph (see ForwardContext.Noise) that the trainer fills
// before each step from the seed's dropout stream, and the layer multiplies
// its input by it: gradients stay symbolic (∂(x⊙m)/∂x = m), runs with the
// same seed are bit-identical, and a resumed run draws the masks the
// uninterrupted one would (the stream's position is part of TrainState and
// of checkpoints).
//
// The mask follows TensorFlow's: u ~ U[0, 1) per value, kept where
// u >= Rate, each kept value 1/(1-Rate) in the model's dtype.
type Dropout struct {
	LayerBase
	// Rate is the fraction of values dropped, in [0, 1). Zero makes the
	// layer the identity.
	Rate float64
	// NoiseShape, if set, is the shape [rows, columns] of the mask drawn,
	// broadcast over the input [batch, width] (Keras's noise_shape): each
	// entry is 0 (Keras's None: the input's size), 1 (one draw shared along
	// that axis) or the input's size; the rows entry cannot be a fixed batch
	// size. [0, 1] drops whole examples, [1, 0] the same features for every
	// example of the batch.
	NoiseShape []int
}

// ClassName implements Layer.
func (d *Dropout) ClassName() string { return "Dropout" }

// OutputWidth implements Layer.
func (d *Dropout) OutputWidth(in int) (int, error) {
	if !(d.Rate >= 0 && d.Rate < 1) {
		return 0, fmt.Errorf("dropout rate %v must be in [0, 1): %w", d.Rate, ErrConfig)
	}
	if d.NoiseShape != nil {
		ns := d.NoiseShape
		if len(ns) != 2 || (ns[0] != 0 && ns[0] != 1) || (ns[1] != 0 && ns[1] != 1 && ns[1] != in) {
			return 0, fmt.Errorf("noise shape %v for inputs [batch, %d]: want [r, c] with r 0 (the batch) or 1 and c 0, 1 or %d: %w", ns, in, in, ErrConfig)
		}
	}
	return in, nil
}

// ParamCount implements Layer.
func (d *Dropout) ParamCount(int) int { return 0 }

// Build implements Layer.
func (d *Dropout) Build(in int, _ BuildContext) error {
	_, err := d.OutputWidth(in)
	return err
}

// Forward implements Layer: x ⊙ mask in a training step, x otherwise.
func (d *Dropout) Forward(x *graph.Node, ctx *ForwardContext) *graph.Node {
	if !ctx.Training || d.Rate == 0 {
		return x
	}
	shape := x.Shape()
	if len(shape) != 2 {
		return x.Graph().Fail(fmt.Errorf("layer %s: input shape %v, want [batch, width]: %w", d.name, shape, ErrShape))
	}
	mask := ctx.Noise(x.Graph(), d.name, shape, d.mask(shape[0], shape[1]))
	return graph.Mul(x, mask)
}

// mask returns the NoiseFunc that draws a mask for inputs [rows, cols]:
// one uniform per element of the noise shape, row-major, broadcast.
func (d *Dropout) mask(rows, cols int) NoiseFunc {
	nr, nc := rows, cols
	if len(d.NoiseShape) == 2 {
		if d.NoiseShape[0] == 1 {
			nr = 1
		}
		if d.NoiseShape[1] == 1 {
			nc = 1
		}
	}
	rate, scale := d.Rate, 1/(1-d.Rate)
	draws := make([]float64, nr*nc)
	return func(dst []float64, rng *rand.Rand) {
		for i := range draws {
			draws[i] = 0
			if rng.Float64() >= rate {
				draws[i] = scale
			}
		}
		for r := range rows {
			dr := min(r, nr-1)
			for c := range cols {
				dst[r*cols+c] = draws[dr*nc+min(c, nc-1)]
			}
		}
	}
}

// Config implements Layer: Keras's {"rate", "noise_shape", "seed"}, the
// noise shape's zeros written as null and the seed always null (descent
// draws masks from the model's seed).
func (d *Dropout) Config() (string, Config, error) {
	var ns any
	if d.NoiseShape != nil {
		s := make([]any, len(d.NoiseShape))
		for i, v := range d.NoiseShape {
			if v != 0 {
				s[i] = v
			}
		}
		ns = s
	}
	return "Dropout", Config{{"rate", d.Rate}, {"noise_shape", ns}, {"seed", nil}}, nil
}
