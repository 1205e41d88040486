package data

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// Standard problems. Each returns a new dataset in dtype dt (the zero Dtype
// means float64), drawn from rng where it is random, so that the same seed
// gives the same dataset. Classification problems have two classes, Y being
// [n, 1] with 0 or 1, and interleave them (row i is of class i%2) so that an
// unshuffled split keeps both classes; use Dataset.OneHot(2) for [n, 2]
// targets. Noise is the standard deviation of Gaussian noise added to each
// coordinate.

// maxParityBits bounds Parity's table (2^20 rows).
const maxParityBits = 20

// Parity returns the n-bit parity problem: X is [2^bits, bits], every
// vector of bits in {0, 1} in counting order (row i is i in binary, most
// significant bit first), and Y is [2^bits, 1], 1 when the row has an odd
// number of ones. XOR is Parity(2). bits must be in [1, 20].
func Parity(bits int, dt tensor.Dtype) (*Dataset, error) {
	if bits < 1 || bits > maxParityBits {
		return nil, fmt.Errorf("data: parity of %d bits, want 1 to %d", bits, maxParityBits)
	}
	n := 1 << bits
	x := make([]float64, 0, n*bits)
	y := make([]float64, n)
	for i := range n {
		for b := bits - 1; b >= 0; b-- {
			bit := (i >> b) & 1
			x = append(x, float64(bit))
			y[i] += float64(bit)
		}
		y[i] = math.Mod(y[i], 2)
	}
	return build(x, y, n, bits, 1, dt)
}

// The two clusters of Blobs and OverlappingBlobs follow the linear
// classifier of Chollet's "Deep Learning with Python" (2nd ed., 3.5.4):
// Gaussians with covariance [[1, 0.5], [0.5, 1]].
var blobCov = [2][2]float64{{1, 0.5}, {0.5, 1}}

// Blobs returns n points of two linearly separable Gaussian clusters in the
// plane: X is [n, 2], class 0 centred at (0, 3) and class 1 at (3, 0), both
// with covariance [[1, 0.5], [0.5, 1]]. A point that would fall within 0.5
// of the separating line y = x (or beyond it) is redrawn, so the classes are
// linearly separable with a margin of at least 0.5: a linear model can reach
// 100% accuracy. About 1% of draws are redrawn. n must be at least 2.
func Blobs(n int, dt tensor.Dtype, rng *rand.Rand) (*Dataset, error) {
	return blobs("blobs", n, [2][2]float64{{0, 3}, {3, 0}}, 0.5, dt, rng)
}

// OverlappingBlobs returns n points of two overlapping Gaussian clusters,
// which no line separates: as Blobs, but centred at (0, 1) and (1, 0), with
// no point redrawn. The best linear classifier, y = x, misclassifies about
// 16% of the points (the Bayes error). n must be at least 2.
func OverlappingBlobs(n int, dt tensor.Dtype, rng *rand.Rand) (*Dataset, error) {
	return blobs("overlapping blobs", n, [2][2]float64{{0, 1}, {1, 0}}, math.Inf(-1), dt, rng)
}

// blobs draws class c around mean[c]; a point whose signed distance to the
// line y = x, on its class's side, is below margin is redrawn.
func blobs(name string, n int, mean [2][2]float64, margin float64, dt tensor.Dtype, rng *rand.Rand) (*Dataset, error) {
	if err := checkProblem(name, n, 2, 0, rng); err != nil {
		return nil, err
	}
	// Cholesky factor of blobCov: L = [[1, 0], [0.5, sqrt(0.75)]].
	l10, l11 := blobCov[1][0], math.Sqrt(blobCov[1][1]-blobCov[1][0]*blobCov[1][0])
	x := make([]float64, 0, 2*n)
	y := make([]float64, n)
	for i := range n {
		c := i % 2
		for {
			z0, z1 := rng.NormFloat64(), rng.NormFloat64()
			p0 := mean[c][0] + z0
			p1 := mean[c][1] + l10*z0 + l11*z1
			// Class 0 lies above y = x (p1 > p0), class 1 below.
			side := (p1 - p0) / math.Sqrt2
			if c == 1 {
				side = -side
			}
			if side >= margin {
				x = append(x, p0, p1)
				break
			}
		}
		y[i] = float64(c)
	}
	return build(x, y, n, 2, 1, dt)
}

// TwoMoons returns n points of two interleaving half circles, as
// scikit-learn's make_moons: class 0 on the upper half of the unit circle,
// (cos t, sin t), and class 1 on (1 - cos t, 0.5 - sin t), t evenly spaced
// over [0, π], plus noise. X is [n, 2]. n must be at least 2 and noise >= 0.
func TwoMoons(n int, noise float64, dt tensor.Dtype, rng *rand.Rand) (*Dataset, error) {
	if err := checkProblem("two moons", n, 2, noise, rng); err != nil {
		return nil, err
	}
	return curves(n, noise, false, dt, rng, func(c int, t float64) (float64, float64) {
		a := math.Pi * t
		if c == 0 {
			return math.Cos(a), math.Sin(a)
		}
		return 1 - math.Cos(a), 0.5 - math.Sin(a)
	})
}

// Circles returns n points on two concentric circles, as scikit-learn's
// make_circles: class 0 on the unit circle and class 1 on the circle of
// radius factor (in (0, 1); if zero, 0.5), angles evenly spaced over
// [0, 2π), plus noise.
// X is [n, 2]. n must be at least 2 and noise >= 0.
func Circles(n int, noise, factor float64, dt tensor.Dtype, rng *rand.Rand) (*Dataset, error) {
	if err := checkProblem("circles", n, 2, noise, rng); err != nil {
		return nil, err
	}
	if factor == 0 {
		factor = 0.5
	}
	if !(factor > 0 && factor < 1) {
		return nil, fmt.Errorf("data: circles: factor %v, want 0 < factor < 1", factor)
	}
	return curves(n, noise, true, dt, rng, func(c int, t float64) (float64, float64) {
		r := 1.0
		if c == 1 {
			r = factor
		}
		a := 2 * math.Pi * t
		return r * math.Cos(a), r * math.Sin(a)
	})
}

// spiralTurns is how many times each spiral winds around the origin.
const spiralTurns = 1.75

// Spirals returns n points of two interleaved spirals: the points of class
// c lie at radii r evenly spaced over [0.1, 1], at angle 2π·1.75·r + cπ
// (1.75 turns, the second spiral being the first turned by half a turn),
// plus noise. X is [n, 2], within about [-1, 1]². n must be
// at least 2 and noise >= 0.
func Spirals(n int, noise float64, dt tensor.Dtype, rng *rand.Rand) (*Dataset, error) {
	if err := checkProblem("spirals", n, 2, noise, rng); err != nil {
		return nil, err
	}
	return curves(n, noise, false, dt, rng, func(c int, t float64) (float64, float64) {
		r := 0.1 + 0.9*t
		a := 2*math.Pi*spiralTurns*r + float64(c)*math.Pi
		return r * math.Cos(a), r * math.Sin(a)
	})
}

// curves places the k-th of the m points of class c at at(c, k/(m-1)), or
// at(c, k/m) for a closed curve, plus noise, row i being of class i%2.
func curves(n int, noise float64, closed bool, dt tensor.Dtype, rng *rand.Rand, at func(c int, t float64) (float64, float64)) (*Dataset, error) {
	x := make([]float64, 0, 2*n)
	y := make([]float64, n)
	count := [2]int{(n + 1) / 2, n / 2}
	for i := range n {
		c := i % 2
		t := 0.0
		if closed {
			t = float64(i/2) / float64(count[c])
		} else if count[c] > 1 {
			t = float64(i/2) / float64(count[c]-1)
		}
		p0, p1 := at(c, t)
		x = append(x, p0+noise*rng.NormFloat64(), p1+noise*rng.NormFloat64())
		y[i] = float64(c)
	}
	return build(x, y, n, 2, 1, dt)
}

// Linear is the true model behind LinearRegression: y = X·W + B + noise.
type Linear struct {
	// W holds one weight per feature.
	W []float64
	// B is the bias.
	B float64
}

// LinearRegression returns a noisy linear regression problem with a known
// solution: X is [n, features] with entries drawn from N(0, 1), the true
// weights W and bias B from N(0, 1) too, and Y = X·W + B plus noise, [n, 1].
// With noise 0 the least-squares fit recovers W and B exactly; otherwise
// its error shrinks like noise/sqrt(n). n and features must be at least 1
// and noise >= 0.
func LinearRegression(n, features int, noise float64, dt tensor.Dtype, rng *rand.Rand) (*Dataset, Linear, error) {
	if err := checkProblem("linear regression", n, 1, noise, rng); err != nil {
		return nil, Linear{}, err
	}
	if features < 1 {
		return nil, Linear{}, fmt.Errorf("data: linear regression of %d features, want at least 1", features)
	}
	truth := Linear{W: make([]float64, features), B: rng.NormFloat64()}
	for j := range truth.W {
		truth.W[j] = rng.NormFloat64()
	}
	x := make([]float64, n*features)
	y := make([]float64, n)
	for i := range n {
		row := x[i*features : (i+1)*features]
		s := truth.B
		for j := range row {
			row[j] = rng.NormFloat64()
			s += row[j] * truth.W[j]
		}
		y[i] = s + noise*rng.NormFloat64()
	}
	d, err := build(x, y, n, features, 1, dt)
	if err != nil {
		return nil, Linear{}, err
	}
	return d, truth, nil
}

func checkProblem(name string, n, least int, noise float64, rng *rand.Rand) error {
	if n < least {
		return fmt.Errorf("data: %s of %d points, want at least %d: %w", name, n, least, ErrEmpty)
	}
	if !(noise >= 0) || math.IsInf(noise, 0) {
		return fmt.Errorf("data: %s: noise %v, want a finite value >= 0", name, noise)
	}
	if rng == nil {
		return fmt.Errorf("data: %s: %w", name, errNilRand)
	}
	return nil
}

// build makes a dataset of dtype dt from row-major x ([n, fx]) and y
// ([n, fy]).
func build(x, y []float64, n, fx, fy int, dt tensor.Dtype) (*Dataset, error) {
	if dt.Type == nil {
		dt = tensor.Float64
	}
	if err := checkFloat(dt); err != nil {
		return nil, err
	}
	xt, err := FromFloat64s(x, dt, n, fx)
	if err != nil {
		return nil, err
	}
	yt, err := FromFloat64s(y, dt, n, fy)
	if err != nil {
		return nil, err
	}
	return &Dataset{X: xt, Y: yt}, nil
}
