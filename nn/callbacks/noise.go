package callbacks

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"gorgonia.org/tensor"
)

var (
	_ nn.TrainBeginCallback = (*GradientNoiseScale)(nil)
	_ nn.StepCallback       = (*GradientNoiseScale)(nil)
	_ nn.Callback           = (*GradientNoiseScale)(nil)
)

// GradientNoiseScale estimates the gradient noise scale B_simple =
// tr(Σ)/|G|² during training with McCandlish et al.'s unbiased two-batch
// estimator (see nn.GradientNoise) and records it in each epoch's
// EpochRecord.Noise.
//
// A probe draws Big rows of Data uniformly with replacement from the
// callback's own random stream, computes the gradient over all of them
// (|G_big|²) and over the first Small of them (|G_small|²) at the current
// weights with nn.Sequential.Gradient, and turns the two squared norms into
// estimates of |G|² and tr(Σ) with NoiseEstimates. Drawing with
// replacement makes both unbiased for the training set's empirical
// distribution, whatever the descent variant being trained. Probes are
// spread evenly over each epoch's steps (after the step's update, so the
// training gradient is never disturbed), Probes per epoch; the record
// holds the mean of each estimate and their ratio.
//
// Probing changes nothing in training: the weights, the optimizer, the
// shuffling and dropout streams are untouched, so a run gives the same
// History with or without it (but for Noise and the time it takes: each
// probe costs a forward and backward pass over Small+Big rows).
type GradientNoiseScale struct {
	// Data is the training set the probes draw from. Required.
	Data *data.Dataset
	// Small and Big are the two batch sizes; Small must be below Big. If
	// zero, 32 and 512.
	Small, Big int
	// Probes is the number of probes per epoch. If zero, 4. An epoch of
	// fewer steps than Probes makes them all after its last step.
	Probes int
	// Seed seeds the probes' random stream (rows and dropout masks).
	Seed uint64

	rng        *rand.Rand
	stepsPer   int // steps per epoch, 0 if unknown
	gradSq, tr float64
	n          int           // probes summed in gradSq and tr
	probesDone int           // probes made in the epoch in progress
	xs, ys     *tensor.Dense // small batch
	xb, yb     *tensor.Dense // big batch
	idx        []int
	model      *nn.Sequential
}

func (g *GradientNoiseScale) sizes() (small, big, probes int) {
	small, big, probes = g.Small, g.Big, g.Probes
	if small == 0 {
		small = 32
	}
	if big == 0 {
		big = 512
	}
	if probes == 0 {
		probes = 4
	}
	return small, big, probes
}

// OnTrainBegin implements nn.TrainBeginCallback: it checks the settings
// and restarts the random stream.
func (g *GradientNoiseScale) OnTrainBegin(t *nn.Training) error {
	small, big, probes := g.sizes()
	switch {
	case g.Data == nil:
		return fmt.Errorf("callbacks: gradient noise scale: no Data: %w", nn.ErrConfig)
	case small < 1 || big <= small:
		return fmt.Errorf("callbacks: gradient noise scale: batch sizes Small %d and Big %d, want 1 <= Small < Big: %w", small, big, nn.ErrConfig)
	case probes < 0:
		return fmt.Errorf("callbacks: gradient noise scale: Probes %d must not be negative: %w", g.Probes, nn.ErrConfig)
	}
	if err := g.Data.Validate(); err != nil {
		return fmt.Errorf("callbacks: gradient noise scale: %w", err)
	}
	n := g.Data.Len()
	g.rng = rand.New(rand.NewPCG(g.Seed, 0x6e6f697365)) // "noise"
	g.stepsPer = 0
	if b := t.Config.Batching; b != nil {
		if mb := b.MaxBatch(n); mb > 0 {
			g.stepsPer = (n + mb - 1) / mb
		}
	} else {
		g.stepsPer = 1
	}
	dt, in, out := g.Data.DType(), g.Data.Features(), g.Data.Targets()
	g.xs, g.ys = tensor.New(tensor.Of(dt), tensor.WithShape(small, in)), tensor.New(tensor.Of(dt), tensor.WithShape(small, out))
	g.xb, g.yb = tensor.New(tensor.Of(dt), tensor.WithShape(big, in)), tensor.New(tensor.Of(dt), tensor.WithShape(big, out))
	g.idx = make([]int, big)
	g.model = t.Model
	g.reset()
	return nil
}

func (g *GradientNoiseScale) reset() { g.gradSq, g.tr, g.n, g.probesDone = 0, 0, 0, 0 }

// OnStepEnd implements nn.StepCallback: it probes at the steps that spread
// the epoch's probes evenly.
func (g *GradientNoiseScale) OnStepEnd(t *nn.Training, _ nn.StepRecord) error {
	_, _, probes := g.sizes()
	if g.stepsPer == 0 || probes == 0 {
		return nil
	}
	k := t.StepInEpoch()
	due := min(probes, k*probes/g.stepsPer)
	for g.probesDone < due {
		if err := g.probe(); err != nil {
			return err
		}
		g.probesDone++
	}
	return nil
}

// OnEpochEnd implements nn.Callback: it makes the probes still due (all of
// them when the epoch's steps are not known) and records the epoch's mean
// estimates in rec.Noise.
func (g *GradientNoiseScale) OnEpochEnd(_ *nn.Training, rec *nn.EpochRecord) error {
	small, big, probes := g.sizes()
	for g.probesDone < probes {
		if err := g.probe(); err != nil {
			return err
		}
		g.probesDone++
	}
	if g.n > 0 {
		gs, tr := g.gradSq/float64(g.n), g.tr/float64(g.n)
		rec.Noise = nn.GradientNoise{Small: small, Big: big, Probes: g.n, GradSq: gs, TraceCov: tr, Simple: tr / gs}
	}
	g.reset()
	return nil
}

// probe adds one pair of estimates.
func (g *GradientNoiseScale) probe() error {
	small, _, _ := g.sizes()
	n := g.Data.Len()
	for i := range g.idx {
		g.idx[i] = g.rng.IntN(n)
	}
	if err := gatherRows(g.xb, g.yb, g.Data, g.idx); err != nil {
		return err
	}
	if err := gatherRows(g.xs, g.ys, g.Data, g.idx[:small]); err != nil {
		return err
	}
	if _, err := g.model.Gradient(g.xb, g.yb, g.rng); err != nil {
		return fmt.Errorf("callbacks: gradient noise scale: %w", err)
	}
	sqBig := sqNorm(g.model)
	if _, err := g.model.Gradient(g.xs, g.ys, g.rng); err != nil {
		return fmt.Errorf("callbacks: gradient noise scale: %w", err)
	}
	sqSmall := sqNorm(g.model)
	gs, tr := NoiseEstimates(small, len(g.idx), sqSmall, sqBig)
	g.gradSq += gs
	g.tr += tr
	g.n++
	return nil
}

func gatherRows(x, y *tensor.Dense, d *data.Dataset, idx []int) error {
	if err := data.Gather(x, d.X, idx); err != nil {
		return fmt.Errorf("callbacks: gradient noise scale: %w", err)
	}
	if err := data.Gather(y, d.Y, idx); err != nil {
		return fmt.Errorf("callbacks: gradient noise scale: %w", err)
	}
	return nil
}

// sqNorm returns the squared global norm of the model's gradients.
// Float64s and Float32s view the gradients without allocating.
func sqNorm(m *nn.Sequential) float64 {
	var s float64
	for _, p := range m.Params() {
		g := p.Grad()
		switch g.Dtype() {
		case tensor.Float64:
			for _, v := range g.Float64s() {
				s += v * v
			}
		case tensor.Float32:
			for _, v := range g.Float32s() {
				s += float64(v) * float64(v)
			}
		}
	}
	return s
}

// NoiseEstimates returns the unbiased estimates of |G|² and tr(Σ) from the
// squared gradient norms sqSmall, of a batch of small rows, and sqBig, of
// big rows, both at the same weights (see nn.GradientNoise). small must be
// below big; otherwise both results are NaN.
func NoiseEstimates(small, big int, sqSmall, sqBig float64) (gradSq, traceCov float64) {
	if small <= 0 || big <= small {
		return math.NaN(), math.NaN()
	}
	bs, bb := float64(small), float64(big)
	gradSq = (bb*sqBig - bs*sqSmall) / (bb - bs)
	traceCov = (sqSmall - sqBig) / (1/bs - 1/bb)
	return gradSq, traceCov
}
