package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// An Initializer fills a new weight tensor. It must draw only from rng, so
// that the same seed always gives the same weights. Names follow Keras.
type Initializer interface {
	// Fill writes initial values into dst for a weight with the given fans.
	Fill(dst []float64, fanIn, fanOut int, rng *rand.Rand) error
	// Name returns the Keras name of the initialiser ("glorot_uniform").
	Name() string
}

// The compiler checks that every initialiser implements Initializer.
var (
	_ Initializer = GlorotUniform{}
	_ Initializer = GlorotNormal{}
	_ Initializer = HeUniform{}
	_ Initializer = HeNormal{}
	_ Initializer = LecunUniform{}
	_ Initializer = LecunNormal{}
	_ Initializer = RandomUniform{}
	_ Initializer = RandomNormal{}
	_ Initializer = Zeros{}
	_ Initializer = Ones{}
	_ Initializer = Constant{}
)

// GlorotUniform draws from U(-l, l) with l = sqrt(6 / (fanIn + fanOut)).
// It is the default kernel initialiser of Dense, as in Keras.
type GlorotUniform struct{}

// GlorotNormal draws from a normal truncated at two standard deviations,
// with standard deviation sqrt(2 / (fanIn + fanOut)) / 0.87962566103423978
// (the correction for the truncation, as in Keras 2.3 and later).
type GlorotNormal struct{}

// HeUniform draws from U(-l, l) with l = sqrt(6 / fanIn).
type HeUniform struct{}

// HeNormal draws from a truncated normal with standard deviation
// sqrt(2 / fanIn) / 0.87962566103423978.
type HeNormal struct{}

// LecunUniform draws from U(-l, l) with l = sqrt(3 / fanIn).
type LecunUniform struct{}

// LecunNormal draws from a truncated normal with standard deviation
// sqrt(1 / fanIn) / 0.87962566103423978.
type LecunNormal struct{}

// RandomUniform draws from U(Min, Max). If both are zero, they default to
// Keras's -0.05 and 0.05.
type RandomUniform struct{ Min, Max float64 }

// RandomNormal draws from N(Mean, Stddev²). If Stddev is zero it defaults to
// Keras's 0.05.
type RandomNormal struct{ Mean, Stddev float64 }

// Zeros sets every element to 0. It is the default bias initialiser.
type Zeros struct{}

// Ones sets every element to 1.
type Ones struct{}

// Constant sets every element to Value.
type Constant struct{ Value float64 }

// truncation is the standard deviation of a unit normal truncated to [-2, 2].
const truncation = 0.87962566103423978

func uniform(dst []float64, limit float64, rng *rand.Rand) {
	for i := range dst {
		dst[i] = (2*rng.Float64() - 1) * limit
	}
}

func truncatedNormal(dst []float64, stddev float64, rng *rand.Rand) {
	for i := range dst {
		for {
			z := rng.NormFloat64()
			if z >= -2 && z <= 2 {
				dst[i] = z * stddev
				break
			}
		}
	}
}

func positiveFans(name string, fanIn, fanOut int) error {
	if fanIn <= 0 || fanOut <= 0 {
		return fmt.Errorf("graph: %s needs positive fans, got fan-in %d and fan-out %d", name, fanIn, fanOut)
	}
	return nil
}

// Fill implements Initializer.
func (GlorotUniform) Fill(dst []float64, fanIn, fanOut int, rng *rand.Rand) error {
	if err := positiveFans("glorot_uniform", fanIn, fanOut); err != nil {
		return err
	}
	uniform(dst, math.Sqrt(6/float64(fanIn+fanOut)), rng)
	return nil
}

// Fill implements Initializer.
func (GlorotNormal) Fill(dst []float64, fanIn, fanOut int, rng *rand.Rand) error {
	if err := positiveFans("glorot_normal", fanIn, fanOut); err != nil {
		return err
	}
	truncatedNormal(dst, math.Sqrt(2/float64(fanIn+fanOut))/truncation, rng)
	return nil
}

// Fill implements Initializer.
func (HeUniform) Fill(dst []float64, fanIn, fanOut int, rng *rand.Rand) error {
	if err := positiveFans("he_uniform", fanIn, fanOut); err != nil {
		return err
	}
	uniform(dst, math.Sqrt(6/float64(fanIn)), rng)
	return nil
}

// Fill implements Initializer.
func (HeNormal) Fill(dst []float64, fanIn, fanOut int, rng *rand.Rand) error {
	if err := positiveFans("he_normal", fanIn, fanOut); err != nil {
		return err
	}
	truncatedNormal(dst, math.Sqrt(2/float64(fanIn))/truncation, rng)
	return nil
}

// Fill implements Initializer.
func (LecunUniform) Fill(dst []float64, fanIn, fanOut int, rng *rand.Rand) error {
	if err := positiveFans("lecun_uniform", fanIn, fanOut); err != nil {
		return err
	}
	uniform(dst, math.Sqrt(3/float64(fanIn)), rng)
	return nil
}

// Fill implements Initializer.
func (LecunNormal) Fill(dst []float64, fanIn, fanOut int, rng *rand.Rand) error {
	if err := positiveFans("lecun_normal", fanIn, fanOut); err != nil {
		return err
	}
	truncatedNormal(dst, math.Sqrt(1/float64(fanIn))/truncation, rng)
	return nil
}

// Fill implements Initializer.
func (r RandomUniform) Fill(dst []float64, _, _ int, rng *rand.Rand) error {
	lo, hi := r.Min, r.Max
	if lo == 0 && hi == 0 {
		lo, hi = -0.05, 0.05
	}
	if !(lo <= hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return fmt.Errorf("graph: random_uniform needs finite Min <= Max, got [%v, %v]", lo, hi)
	}
	for i := range dst {
		dst[i] = lo + (hi-lo)*rng.Float64()
	}
	return nil
}

// Fill implements Initializer.
func (r RandomNormal) Fill(dst []float64, _, _ int, rng *rand.Rand) error {
	sd := r.Stddev
	if sd == 0 {
		sd = 0.05
	}
	if !(sd > 0) || math.IsInf(sd, 0) || math.IsNaN(r.Mean) || math.IsInf(r.Mean, 0) {
		return fmt.Errorf("graph: random_normal needs a finite mean and a positive stddev, got mean %v stddev %v", r.Mean, sd)
	}
	for i := range dst {
		dst[i] = r.Mean + sd*rng.NormFloat64()
	}
	return nil
}

// Fill implements Initializer.
func (Zeros) Fill(dst []float64, _, _ int, _ *rand.Rand) error {
	clear(dst)
	return nil
}

// Fill implements Initializer.
func (Ones) Fill(dst []float64, _, _ int, _ *rand.Rand) error {
	for i := range dst {
		dst[i] = 1
	}
	return nil
}

// Fill implements Initializer.
func (c Constant) Fill(dst []float64, _, _ int, _ *rand.Rand) error {
	if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
		return fmt.Errorf("graph: constant initialiser value %v is not finite", c.Value)
	}
	for i := range dst {
		dst[i] = c.Value
	}
	return nil
}

// Name implements Initializer.
func (GlorotUniform) Name() string { return "glorot_uniform" }

// Name implements Initializer.
func (GlorotNormal) Name() string { return "glorot_normal" }

// Name implements Initializer.
func (HeUniform) Name() string { return "he_uniform" }

// Name implements Initializer.
func (HeNormal) Name() string { return "he_normal" }

// Name implements Initializer.
func (LecunUniform) Name() string { return "lecun_uniform" }

// Name implements Initializer.
func (LecunNormal) Name() string { return "lecun_normal" }

// Name implements Initializer.
func (RandomUniform) Name() string { return "random_uniform" }

// Name implements Initializer.
func (RandomNormal) Name() string { return "random_normal" }

// Name implements Initializer.
func (Zeros) Name() string { return "zeros" }

// Name implements Initializer.
func (Ones) Name() string { return "ones" }

// Name implements Initializer.
func (Constant) Name() string { return "constant" }

var initializers = map[string]Initializer{
	"glorot_uniform": GlorotUniform{},
	"glorot_normal":  GlorotNormal{},
	"he_uniform":     HeUniform{},
	"he_normal":      HeNormal{},
	"lecun_uniform":  LecunUniform{},
	"lecun_normal":   LecunNormal{},
	"random_uniform": RandomUniform{},
	"random_normal":  RandomNormal{},
	"zeros":          Zeros{},
	"ones":           Ones{},
	"constant":       Constant{},
}

// InitializerNames returns the names InitializerByName accepts, sorted.
func InitializerNames() []string {
	names := make([]string, 0, len(initializers))
	for n := range initializers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// InitializerByName returns the initialiser with the given Keras name, with
// its default settings. Unknown names are an error listing the valid ones.
func InitializerByName(name string) (Initializer, error) {
	if in, ok := initializers[strings.ToLower(name)]; ok {
		return in, nil
	}
	return nil, fmt.Errorf("graph: unknown initialiser %q (valid: %s): %w", name, strings.Join(InitializerNames(), ", "), ErrUnknown)
}
