package nn

import (
	"fmt"
	"math"

	"github.com/descentlab/descent/graph"
)

// Initialisers and regularizers in Keras's form, for the configs of layers
// with weights (Dense, and user-defined layers).

// InitializerConfig returns Keras 2.2.4's serialisation of an initialiser,
// {"class_name", "config"}: glorot, he and lecun are VarianceScaling configs
// (scale 1 fan_avg, scale 2 fan_in and scale 1 fan_in, distribution uniform
// or normal), the others keep their class name (Zeros, Ones, Constant,
// RandomUniform, RandomNormal).
func InitializerConfig(in graph.Initializer) (Config, error) {
	vs := func(scale float64, mode, dist string) Config {
		return Config{{"class_name", "VarianceScaling"}, {"config", Config{
			{"scale", scale}, {"mode", mode}, {"distribution", dist}, {"seed", nil}}}}
	}
	plain := func(class string, cfg Config) Config {
		if cfg == nil {
			cfg = Config{}
		}
		return Config{{"class_name", class}, {"config", cfg}}
	}
	switch v := in.(type) {
	case graph.GlorotUniform, *graph.GlorotUniform:
		return vs(1, "fan_avg", "uniform"), nil
	case graph.GlorotNormal, *graph.GlorotNormal:
		return vs(1, "fan_avg", "normal"), nil
	case graph.HeUniform, *graph.HeUniform:
		return vs(2, "fan_in", "uniform"), nil
	case graph.HeNormal, *graph.HeNormal:
		return vs(2, "fan_in", "normal"), nil
	case graph.LecunUniform, *graph.LecunUniform:
		return vs(1, "fan_in", "uniform"), nil
	case graph.LecunNormal, *graph.LecunNormal:
		return vs(1, "fan_in", "normal"), nil
	case graph.Zeros, *graph.Zeros:
		return plain("Zeros", nil), nil
	case graph.Ones, *graph.Ones:
		return plain("Ones", nil), nil
	case graph.Constant:
		return plain("Constant", Config{{"value", v.Value}}), nil
	case *graph.Constant:
		return plain("Constant", Config{{"value", v.Value}}), nil
	case graph.RandomUniform:
		return randomUniformConfig(v), nil
	case *graph.RandomUniform:
		return randomUniformConfig(*v), nil
	case graph.RandomNormal:
		return randomNormalConfig(v), nil
	case *graph.RandomNormal:
		return randomNormalConfig(*v), nil
	}
	return nil, fmt.Errorf("initialiser %T (%s) has no Keras form: %w", in, in.Name(), ErrUnsupported)
}

func randomUniformConfig(r graph.RandomUniform) Config {
	lo, hi := r.Min, r.Max
	if lo == 0 && hi == 0 {
		lo, hi = -0.05, 0.05
	}
	return Config{{"class_name", "RandomUniform"}, {"config", Config{{"minval", lo}, {"maxval", hi}, {"seed", nil}}}}
}

func randomNormalConfig(r graph.RandomNormal) Config {
	sd := r.Stddev
	if sd == 0 {
		sd = 0.05
	}
	return Config{{"class_name", "RandomNormal"}, {"config", Config{{"mean", r.Mean}, {"stddev", sd}, {"seed", nil}}}}
}

// Initializer reads an initialiser written as {"class_name", "config"} or
// as a bare name ("glorot_uniform"); it returns nil if key is absent.
func (r *ConfigReader) Initializer(key string) (graph.Initializer, error) {
	var v any
	if found, err := r.Get(key, &v); err != nil || !found {
		return nil, err
	}
	if name, ok := v.(string); ok {
		in, err := graph.InitializerByName(name)
		if err != nil {
			return nil, r.Errorf(ErrUnsupported, "%s: %v", key, err)
		}
		return in, nil
	}
	class, ic, err := r.object(key, v)
	if err != nil {
		return nil, err
	}
	if err := ic.Null("seed", "per-initialiser seeds (descent seeds every initialiser from BuildConfig.Seed)"); err != nil {
		return nil, err
	}
	var in graph.Initializer
	switch snake(class) {
	case "variance_scaling":
		scale, mode, dist := 1.0, "fan_in", "normal"
		for _, err := range []error{ic.Read("scale", &scale), ic.Read("mode", &mode), ic.Read("distribution", &dist)} {
			if err != nil {
				return nil, err
			}
		}
		if in = varianceScaling(scale, mode, dist); in == nil {
			return nil, r.Errorf(ErrUnsupported, "%s VarianceScaling{scale %v, mode %s, distribution %s} has no descent equivalent (descent has scale 1 fan_avg (glorot), scale 2 fan_in (he) and scale 1 fan_in (lecun), each uniform or normal)", key, scale, mode, dist)
		}
	case "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal", "zeros", "ones":
		in, _ = graph.InitializerByName(snake(class))
	case "constant":
		var c graph.Constant
		if err := ic.Read("value", &c.Value); err != nil {
			return nil, err
		}
		in = c
	case "random_uniform":
		u := graph.RandomUniform{Min: -0.05, Max: 0.05}
		if err := firstErr(ic.Read("minval", &u.Min), ic.Read("maxval", &u.Max)); err != nil {
			return nil, err
		}
		if !(u.Min <= u.Max) || math.IsInf(u.Min, 0) || math.IsInf(u.Max, 0) {
			return nil, r.Errorf(ErrFormat, "%s: random_uniform needs finite minval <= maxval, got [%v, %v]", key, u.Min, u.Max)
		}
		in = u
	case "random_normal":
		n := graph.RandomNormal{Stddev: 0.05}
		if err := firstErr(ic.Read("mean", &n.Mean), ic.Read("stddev", &n.Stddev)); err != nil {
			return nil, err
		}
		if !(n.Stddev > 0) || math.IsInf(n.Stddev, 0) || math.IsNaN(n.Mean) || math.IsInf(n.Mean, 0) {
			return nil, r.Errorf(ErrFormat, "%s: random_normal needs a finite mean and a positive stddev, got mean %v stddev %v", key, n.Mean, n.Stddev)
		}
		in = n
	default:
		return nil, r.Errorf(ErrUnsupported, "%s class %q is not supported (descent has VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Zeros, Ones, Constant, RandomUniform, RandomNormal)", key, class)
	}
	return in, ic.Done()
}

// Read is Get for an optional key: it returns only the error.
func (r *ConfigReader) Read(key string, dst any) error {
	_, err := r.Get(key, dst)
	return err
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// object reads v as Keras's {"class_name": ..., "config": {...}} and
// returns the class and a reader of the inner config.
func (r *ConfigReader) object(key string, v any) (string, *ConfigReader, error) {
	obj, ok := v.(Config)
	if !ok {
		return "", nil, r.Errorf(ErrFormat, "%s is %s, want a name or {\"class_name\", \"config\"}", key, FormatValue(v))
	}
	oc := NewConfigReader(r.where+": "+key, obj)
	var class string
	cfg := Config{}
	if err := firstErr(oc.Require("class_name", &class), oc.Read("config", &cfg), oc.Done()); err != nil {
		return "", nil, err
	}
	return class, NewConfigReader(fmt.Sprintf("%s: %s %s", r.where, key, class), cfg), nil
}

// varianceScaling maps a Keras VarianceScaling config to descent's
// initialiser, or nil. Keras 2.2.4 writes "normal" (a truncated normal);
// tf.keras 2 writes "truncated_normal".
func varianceScaling(scale float64, mode, dist string) graph.Initializer {
	uniform := dist == "uniform"
	if !uniform && dist != "normal" && dist != "truncated_normal" {
		return nil
	}
	pick := func(u, n graph.Initializer) graph.Initializer {
		if uniform {
			return u
		}
		return n
	}
	switch {
	case scale == 1 && mode == "fan_avg":
		return pick(graph.GlorotUniform{}, graph.GlorotNormal{})
	case scale == 2 && mode == "fan_in":
		return pick(graph.HeUniform{}, graph.HeNormal{})
	case scale == 1 && mode == "fan_in":
		return pick(graph.LecunUniform{}, graph.LecunNormal{})
	}
	return nil
}

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

// Regularizer reads a regularizer: Keras 2.2.4's L1L2 object, tf.keras's
// L1 and L2 objects, or the names "l1", "l2" and "l1_l2" (coefficients
// 0.01, as Keras). It returns nil if key is absent or null.
func (r *ConfigReader) Regularizer(key string) (Regularizer, error) {
	var v any
	if found, err := r.Get(key, &v); err != nil || !found {
		return nil, err
	}
	var reg L1L2
	if name, ok := v.(string); ok {
		switch name {
		case "l1":
			reg = L1(0.01)
		case "l2":
			reg = L2(0.01)
		case "l1_l2":
			reg = L1L2{0.01, 0.01}
		default:
			return nil, r.Errorf(ErrUnsupported, "%s %q is not supported (descent has l1, l2 and l1_l2)", key, name)
		}
		return reg, nil
	}
	class, rc, err := r.object(key, v)
	if err != nil {
		return nil, err
	}
	switch class {
	case "L1L2":
		err = firstErr(rc.Read("l1", &reg.L1), rc.Read("l2", &reg.L2))
	case "L1":
		reg.L1 = 0.01
		err = rc.Read("l1", &reg.L1)
	case "L2":
		reg.L2 = 0.01
		err = rc.Read("l2", &reg.L2)
	default:
		return nil, r.Errorf(ErrUnsupported, "%s class %q is not supported (descent has L1L2, L1 and L2)", key, class)
	}
	if err != nil {
		return nil, err
	}
	if err := reg.Validate(); err != nil {
		return nil, r.Errorf(ErrFormat, "%s: %v", key, err)
	}
	return reg, rc.Done()
}
