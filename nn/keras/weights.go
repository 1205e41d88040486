package keras

import (
	"fmt"
	"math"
	"strings"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
)

// InitializerConfig returns Keras 2.2.4's serialisation of an initialiser,
// {"class_name", "config"}: glorot, he and lecun are VarianceScaling configs
// (scale 1 fan_avg, scale 2 fan_in and scale 1 fan_in, distribution uniform
// or normal), the others keep their class name (Zeros, Ones, Constant,
// RandomUniform, RandomNormal).
func InitializerConfig(in graph.Initializer) (nn.Config, error) {
	vs := func(scale float64, mode, dist string) nn.Config {
		return nn.Config{{Key: "class_name", Value: "VarianceScaling"}, {Key: "config", Value: nn.Config{
			{Key: "scale", Value: scale}, {Key: "mode", Value: mode}, {Key: "distribution", Value: dist}, {Key: "seed", Value: nil}}}}
	}
	plain := func(class string, cfg nn.Config) nn.Config {
		if cfg == nil {
			cfg = nn.Config{}
		}
		return nn.Config{{Key: "class_name", Value: class}, {Key: "config", Value: cfg}}
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
		return plain("Constant", nn.Config{{Key: "value", Value: v.Value}}), nil
	case *graph.Constant:
		return plain("Constant", nn.Config{{Key: "value", Value: v.Value}}), nil
	case graph.RandomUniform:
		return randomUniformConfig(v), nil
	case *graph.RandomUniform:
		return randomUniformConfig(*v), nil
	case graph.RandomNormal:
		return randomNormalConfig(v), nil
	case *graph.RandomNormal:
		return randomNormalConfig(*v), nil
	}
	return nil, fmt.Errorf("initialiser %T (%s) has no Keras form: %w", in, in.Name(), nn.ErrUnsupported)
}

func randomUniformConfig(r graph.RandomUniform) nn.Config {
	lo, hi := r.Min, r.Max
	if lo == 0 && hi == 0 {
		lo, hi = -0.05, 0.05
	}
	return nn.Config{{Key: "class_name", Value: "RandomUniform"}, {Key: "config", Value: nn.Config{{Key: "minval", Value: lo}, {Key: "maxval", Value: hi}, {Key: "seed", Value: nil}}}}
}

func randomNormalConfig(r graph.RandomNormal) nn.Config {
	sd := r.Stddev
	if sd == 0 {
		sd = 0.05
	}
	return nn.Config{{Key: "class_name", Value: "RandomNormal"}, {Key: "config", Value: nn.Config{{Key: "mean", Value: r.Mean}, {Key: "stddev", Value: sd}, {Key: "seed", Value: nil}}}}
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
			return nil, r.Errorf(nn.ErrUnsupported, "%s: %v", key, err)
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
	switch name := strings.ToLower(strings.ReplaceAll(class, "_", "")); name {
	case "variancescaling":
		scale, mode, dist := 1.0, "fan_in", "normal"
		for _, err := range []error{ic.Read("scale", &scale), ic.Read("mode", &mode), ic.Read("distribution", &dist)} {
			if err != nil {
				return nil, err
			}
		}
		if in = varianceScaling(scale, mode, dist); in == nil {
			return nil, r.Errorf(nn.ErrUnsupported, "%s VarianceScaling{scale %v, mode %s, distribution %s} has no descent equivalent (descent has scale 1 fan_avg (glorot), scale 2 fan_in (he) and scale 1 fan_in (lecun), each uniform or normal)", key, scale, mode, dist)
		}
	case "glorotuniform", "glorotnormal", "heuniform", "henormal", "lecununiform", "lecunnormal", "zeros", "ones":
		in = plainInitializers[name]
	case "constant":
		var c graph.Constant
		if err := ic.Read("value", &c.Value); err != nil {
			return nil, err
		}
		in = c
	case "randomuniform":
		u := graph.RandomUniform{Min: -0.05, Max: 0.05}
		if err := first(ic.Read("minval", &u.Min), ic.Read("maxval", &u.Max)); err != nil {
			return nil, err
		}
		if !(u.Min <= u.Max) || math.IsInf(u.Min, 0) || math.IsInf(u.Max, 0) {
			return nil, r.Errorf(nn.ErrFormat, "%s: random_uniform needs finite minval <= maxval, got [%v, %v]", key, u.Min, u.Max)
		}
		in = u
	case "randomnormal":
		n := graph.RandomNormal{Stddev: 0.05}
		if err := first(ic.Read("mean", &n.Mean), ic.Read("stddev", &n.Stddev)); err != nil {
			return nil, err
		}
		if !(n.Stddev > 0) || math.IsInf(n.Stddev, 0) || math.IsNaN(n.Mean) || math.IsInf(n.Mean, 0) {
			return nil, r.Errorf(nn.ErrFormat, "%s: random_normal needs a finite mean and a positive stddev, got mean %v stddev %v", key, n.Mean, n.Stddev)
		}
		in = n
	default:
		return nil, r.Errorf(nn.ErrUnsupported, "%s class %q is not supported (descent has VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Zeros, Ones, Constant, RandomUniform, RandomNormal)", key, class)
	}
	return in, ic.Done()
}

// plainInitializers maps the classes of Keras's initialisers that take no
// arguments, lower-cased and without underscores (so that the class name
// "GlorotUniform" and the alias "glorot_uniform" are one), to descent's.
var plainInitializers = map[string]graph.Initializer{
	"glorotuniform": graph.GlorotUniform{}, "glorotnormal": graph.GlorotNormal{},
	"heuniform": graph.HeUniform{}, "henormal": graph.HeNormal{},
	"lecununiform": graph.LecunUniform{}, "lecunnormal": graph.LecunNormal{},
	"zeros": graph.Zeros{}, "ones": graph.Ones{},
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

// Regularizer reads a regularizer: Keras 2.2.4's L1L2 object, tf.keras's
// L1 and L2 objects, or the names "l1", "l2" and "l1_l2" (coefficients
// 0.01, as Keras). It returns nil if key is absent or null.
func (r *ConfigReader) Regularizer(key string) (nn.Regularizer, error) {
	var v any
	if found, err := r.Get(key, &v); err != nil || !found {
		return nil, err
	}
	var reg nn.L1L2
	if name, ok := v.(string); ok {
		switch name {
		case "l1":
			reg = nn.L1(0.01)
		case "l2":
			reg = nn.L2(0.01)
		case "l1_l2":
			reg = nn.L1L2{L1: 0.01, L2: 0.01}
		default:
			return nil, r.Errorf(nn.ErrUnsupported, "%s %q is not supported (descent has l1, l2 and l1_l2)", key, name)
		}
		return reg, nil
	}
	class, rc, err := r.object(key, v)
	if err != nil {
		return nil, err
	}
	switch class {
	case "L1L2":
		err = first(rc.Read("l1", &reg.L1), rc.Read("l2", &reg.L2))
	case "L1":
		reg.L1 = 0.01
		err = rc.Read("l1", &reg.L1)
	case "L2":
		reg.L2 = 0.01
		err = rc.Read("l2", &reg.L2)
	default:
		return nil, r.Errorf(nn.ErrUnsupported, "%s class %q is not supported (descent has L1L2, L1 and L2)", key, class)
	}
	if err != nil {
		return nil, err
	}
	if err := reg.Validate(); err != nil {
		return nil, r.Errorf(nn.ErrFormat, "%s: %v", key, err)
	}
	return reg, rc.Done()
}
