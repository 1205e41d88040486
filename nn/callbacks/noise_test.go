package callbacks

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// linearProblem is least squares on a linear model: a quadratic loss whose
// per-example gradients, hence G and Σ, the test computes by hand.
func linearProblem(t *testing.T, n int) (*nn.Sequential, *data.Dataset) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	x, y := make([][]float64, n), make([][]float64, n)
	for i := range x {
		a, b := rng.NormFloat64(), 2*rng.NormFloat64()
		x[i] = []float64{a, b}
		y[i] = []float64{3*a - 2*b + 1 + 0.5*rng.NormFloat64()}
	}
	d, err := data.FromRows(x, y, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	m := nn.NewSequential(&nn.Dense{Units: 1, InputDim: 2})
	if err := m.Compile(nn.CompileConfig{Loss: "mean_squared_error", Optimizer: optim.NewSGD(0.01), Seed: 3}); err != nil {
		t.Fatal(err)
	}
	return m, d
}

// exactNoise returns |G|² and tr(Σ) of the mean squared error at the
// model's weights: per-example gradients g_i = 2 r_i (x_i, 1) with r_i the
// residual, G their mean, tr(Σ) = mean |g_i|² − |G|² (the covariance of
// the empirical distribution, which probes drawn with replacement sample).
func exactNoise(m *nn.Sequential, d *data.Dataset) (gradSq, traceCov float64) {
	ps := m.Params() // kernel [2, 1], bias [1]
	w, b := ps[0].Float64s(), ps[1].Float64s()[0]
	xs, ys := d.X.Float64s(), d.Y.Float64s()
	n := d.Len()
	var g [3]float64
	var meanSq float64
	for i := range n {
		r := w[0]*xs[2*i] + w[1]*xs[2*i+1] + b - ys[i]
		gi := [3]float64{2 * r * xs[2*i], 2 * r * xs[2*i+1], 2 * r}
		for k := range gi {
			g[k] += gi[k] / float64(n)
			meanSq += gi[k] * gi[k] / float64(n)
		}
	}
	gradSq = g[0]*g[0] + g[1]*g[1] + g[2]*g[2]
	return gradSq, meanSq - gradSq
}

func TestGradientMatchesHandGradient(t *testing.T) {
	m, d := linearProblem(t, 200)
	if _, err := m.Gradient(d.X, d.Y, nil); err != nil {
		t.Fatal(err)
	}
	want, _ := exactNoise(m, d)
	got := sqNorm(m)
	// Both sum 200 float64 products; only rounding separates them.
	if math.Abs(got-want) > 1e-12*want {
		t.Fatalf("|G|² from Gradient = %v, by hand %v", got, want)
	}
}

func TestGradientNoiseScaleOnQuadratic(t *testing.T) {
	m, d := linearProblem(t, 1000)
	wantG, wantTr := exactNoise(m, d)
	before := [][]float64{m.Params()[0].Float64s(), m.Params()[1].Float64s()}
	// Replicates with independent seeds: their spread gives the standard
	// error of the mean estimate, so the tolerance follows from the data
	// rather than being tuned to pass.
	const reps, probes = 16, 600
	var gs, trs []float64
	for seed := range uint64(reps) {
		cb := &GradientNoiseScale{Data: d, Small: 8, Big: 64, Probes: probes, Seed: seed}
		if err := cb.OnTrainBegin(&nn.Training{Model: m, Config: nn.FitConfig{Batching: data.FullBatch()}}); err != nil {
			t.Fatal(err)
		}
		var rec nn.EpochRecord
		if err := cb.OnEpochEnd(nil, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Noise.Probes != probes || rec.Noise.Small != 8 || rec.Noise.Big != 64 {
			t.Fatalf("record %+v, want %d probes of 8 and 64", rec.Noise, probes)
		}
		if r := rec.Noise.TraceCov / rec.Noise.GradSq; r != rec.Noise.Simple {
			t.Fatalf("Simple %v, want TraceCov/GradSq %v", rec.Noise.Simple, r)
		}
		gs, trs = append(gs, rec.Noise.GradSq), append(trs, rec.Noise.TraceCov)
	}
	for _, c := range []struct {
		name string
		vals []float64
		want float64
	}{{"|G|²", gs, wantG}, {"tr(Σ)", trs, wantTr}} {
		mean, se := meanSE(c.vals)
		// 4 standard errors: a false alarm about once in 16,000 runs,
		// and the test is deterministic by seed anyway. se must also be
		// small against the value, or the check would prove nothing.
		if math.Abs(mean-c.want) > 4*se {
			t.Errorf("%s: estimate %.5g ± %.2g (standard error), exact %.5g", c.name, mean, se, c.want)
		}
		if se > 0.05*c.want {
			t.Errorf("%s: standard error %.2g is over 5%% of %.5g: the test has no power", c.name, se, c.want)
		}
	}
	// B_simple of the pooled estimates against the exact ratio.
	mg, _ := meanSE(gs)
	mt, _ := meanSE(trs)
	if got, want := mt/mg, wantTr/wantG; math.Abs(got-want) > 0.1*want {
		t.Errorf("B_simple %.4g, exact %.4g (tolerance 10%%)", got, want)
	}
	after := [][]float64{m.Params()[0].Float64s(), m.Params()[1].Float64s()}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("probing changed the weights: %v, then %v", before, after)
	}
}

func meanSE(v []float64) (mean, se float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1) / float64(len(v)))
}

// Without gradient noise (every example has the same gradient) the
// estimate of tr(Σ) is zero up to rounding.
func TestGradientNoiseScaleNoNoise(t *testing.T) {
	x, y := make([][]float64, 50), make([][]float64, 50)
	for i := range x {
		x[i], y[i] = []float64{1, 2}, []float64{3}
	}
	d, _ := data.FromRows(x, y, tensor.Float64)
	m := nn.NewSequential(&nn.Dense{Units: 1, InputDim: 2})
	if err := m.Compile(nn.CompileConfig{Loss: "mean_squared_error", Optimizer: optim.NewSGD(0.01), Seed: 1}); err != nil {
		t.Fatal(err)
	}
	cb := &GradientNoiseScale{Data: d, Small: 2, Big: 10, Probes: 3}
	if err := cb.OnTrainBegin(&nn.Training{Model: m}); err != nil {
		t.Fatal(err)
	}
	var rec nn.EpochRecord
	if err := cb.OnEpochEnd(nil, &rec); err != nil {
		t.Fatal(err)
	}
	// tr(Σ) is a difference of equal squared norms, scaled by 1/(1/2 −
	// 1/10) = 2.5: rounding of float64 sums, relative 1e-12 of |G|².
	if math.Abs(rec.Noise.TraceCov) > 1e-12*rec.Noise.GradSq || rec.Noise.GradSq <= 0 {
		t.Fatalf("noise-free data: %+v, want tr(Σ) = 0 and |G|² > 0", rec.Noise)
	}
}

// Probing leaves training as it was: the same History but for Noise.
func TestGradientNoiseScaleDoesNotChangeTraining(t *testing.T) {
	fit := func(withNoise bool) *nn.History {
		m, d := linearProblem(t, 300)
		var cbs []nn.Callback
		if withNoise {
			cbs = []nn.Callback{&GradientNoiseScale{Data: d, Small: 4, Big: 16, Probes: 3, Seed: 9}}
		}
		h, err := m.Fit(context.Background(), d, nn.FitConfig{Epochs: 3, Batching: data.Minibatch(32), Output: io.Discard, Callbacks: cbs})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	plain, probed := fit(false), fit(true)
	for i := range probed.Epochs {
		if probed.Epochs[i].Noise.Probes != 3 {
			t.Errorf("epoch %d: %d probes, want 3", i+1, probed.Epochs[i].Noise.Probes)
		}
		probed.Epochs[i].Noise = nn.GradientNoise{}
		probed.Epochs[i].Elapsed, plain.Epochs[i].Elapsed = 0, 0
	}
	if !reflect.DeepEqual(plain.Epochs, probed.Epochs) {
		t.Errorf("epochs differ with probing:\n%+v\n%+v", plain.Epochs, probed.Epochs)
	}
	for i := range probed.Steps {
		probed.Steps[i].Elapsed, plain.Steps[i].Elapsed = 0, 0
	}
	if !reflect.DeepEqual(plain.Steps, probed.Steps) {
		t.Errorf("steps differ with probing")
	}
}

func TestGradientNoiseScaleErrors(t *testing.T) {
	m, d := linearProblem(t, 20)
	for _, c := range []struct {
		name string
		cb   GradientNoiseScale
	}{
		{"no data", GradientNoiseScale{}},
		{"small not below big", GradientNoiseScale{Data: d, Small: 8, Big: 8}},
		{"negative probes", GradientNoiseScale{Data: d, Probes: -1}},
	} {
		err := c.cb.OnTrainBegin(&nn.Training{Model: m})
		if !errors.Is(err, nn.ErrConfig) {
			t.Errorf("%s: %v, want nn.ErrConfig", c.name, err)
		}
	}
}

// TestNoiseEstimates checks the two-batch estimator on values worked by
// hand (exact in float64) and its NaNs for sizes out of order.
func TestNoiseEstimates(t *testing.T) {
	// |G_1|² = 3, |G_2|² = 2: |G|² = (2·2 − 1·3)/(2 − 1) = 1 and
	// tr(Σ) = (3 − 2)/(1 − 1/2) = 2.
	if gs, tr := NoiseEstimates(1, 2, 3, 2); gs != 1 || tr != 2 {
		t.Errorf("NoiseEstimates(1, 2, 3, 2) = %v, %v; want 1, 2", gs, tr)
	}
	for _, sz := range [][2]int{{0, 2}, {2, 2}, {3, 2}} {
		if gs, tr := NoiseEstimates(sz[0], sz[1], 3, 2); !math.IsNaN(gs) || !math.IsNaN(tr) {
			t.Errorf("sizes %d, %d: %v, %v; want NaN, NaN", sz[0], sz[1], gs, tr)
		}
	}
}
