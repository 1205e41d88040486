package keras

import (
	"slices"

	"github.com/descentlab/descent/nn"
)

// LayerDecoder makes a layer from its Keras config, read through c. It
// reads the keys it knows; the loader reports the keys it left as
// unsupported options.
type LayerDecoder func(c *ConfigReader) (nn.Layer, error)

// LayerRegistry maps Keras class names to layer decoders: it is how a
// loader (Options, persist.Options) turns "class_name" into a layer.
// There is no global registry: a loader uses BuiltinLayers unless given
// another, so a program registers its own layers on a map it owns:
//
//	layers := keras.BuiltinLayers()
//	layers["Residual"] = decodeResidual
//	m, err := persist.Options{Layers: layers}.Load(path)
type LayerRegistry map[string]LayerDecoder

// BuiltinLayers returns a new registry of descent's layers: Dense,
// Activation, Dropout, and Keras's LeakyReLU and ELU layers (read as
// Activation layers).
func BuiltinLayers() LayerRegistry {
	return LayerRegistry{
		"Dense":      decodeDense,
		"Activation": decodeActivation,
		"LeakyReLU":  func(c *ConfigReader) (nn.Layer, error) { return decodeAlphaLayer(c, "leaky_relu", 0.3) },
		"ELU":        func(c *ConfigReader) (nn.Layer, error) { return decodeAlphaLayer(c, "elu", 1) },
		"Dropout":    decodeDropout,
	}
}

// Classes returns the registry's class names, sorted.
func (r LayerRegistry) Classes() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func decodeDense(c *ConfigReader) (nn.Layer, error) {
	d := &nn.Dense{}
	act, useBias := "linear", true
	err := first(
		c.Read("input_dim", &d.InputDim), // Keras 1's spelling of the input width
		c.Require("units", &d.Units),
		c.Read("activation", &act),
		c.Read("use_bias", &useBias),
	)
	if err != nil {
		return nil, err
	}
	if d.Units <= 0 {
		return nil, c.Errorf(nn.ErrFormat, "units %d must be positive", d.Units)
	}
	d.NoBias = !useBias
	if d.Activation, d.Alpha, err = c.activation(act); err != nil {
		return nil, err
	}
	if d.KernelInitializer, err = c.Initializer("kernel_initializer"); err != nil {
		return nil, err
	}
	if d.BiasInitializer, err = c.Initializer("bias_initializer"); err != nil {
		return nil, err
	}
	if d.KernelRegularizer, err = c.Regularizer("kernel_regularizer"); err != nil {
		return nil, err
	}
	if d.BiasRegularizer, err = c.Regularizer("bias_regularizer"); err != nil {
		return nil, err
	}
	return d, first(
		c.Null("activity_regularizer", "activity regularizers"),
		c.Null("kernel_constraint", "weight constraints"),
		c.Null("bias_constraint", "weight constraints"),
	)
}

// activation checks a Keras activation name against descent's and reads
// descent_alpha; leaky_relu or elu with alpha 0 are relu.
func (c *ConfigReader) activation(name string) (string, float64, error) {
	key, err := nn.CanonicalActivation(name)
	if err != nil {
		return "", 0, c.Errorf(nn.ErrUnsupported, "%v", err)
	}
	var alpha *float64
	var a float64
	found, err := c.Get(nn.DescentAlphaKey, &a)
	if err != nil {
		return "", 0, err
	}
	if found {
		alpha = &a
	}
	switch {
	case alpha == nil:
		return key, 0, nil
	case key != "leaky_relu" && key != "elu":
		return "", 0, c.Errorf(nn.ErrFormat, "%s given for activation %q, which has no alpha", nn.DescentAlphaKey, key)
	case *alpha == 0:
		return "relu", 0, nil
	}
	return key, *alpha, nil
}

func decodeActivation(c *ConfigReader) (nn.Layer, error) {
	var name string
	if err := c.Require("activation", &name); err != nil {
		return nil, err
	}
	a := &nn.Activation{}
	var err error
	a.Fn, a.Alpha, err = c.activation(name)
	return a, err
}

// decodeAlphaLayer reads Keras's LeakyReLU (alpha, default 0.3 in Keras 2;
// Keras 3's negative_slope, default 0.2, is accepted too) and ELU (alpha,
// default 1) layers as nn.Activation layers.
func decodeAlphaLayer(c *ConfigReader, fn string, def float64) (nn.Layer, error) {
	alpha := def
	if err := c.Read("alpha", &alpha); err != nil {
		return nil, err
	}
	if fn == "leaky_relu" {
		if err := c.Read("negative_slope", &alpha); err != nil {
			return nil, err
		}
	}
	if alpha != alpha || alpha > 1e308 || alpha < -1e308 {
		return nil, c.Errorf(nn.ErrFormat, "alpha %v is not finite", alpha)
	}
	if alpha == 0 {
		return &nn.Activation{Fn: "relu"}, nil
	}
	return &nn.Activation{Fn: fn, Alpha: alpha}, nil
}

func decodeDropout(c *ConfigReader) (nn.Layer, error) {
	d := &nn.Dropout{}
	var ns []any
	if err := first(c.Require("rate", &d.Rate), c.Read("noise_shape", &ns)); err != nil {
		return nil, err
	}
	if !(d.Rate >= 0 && d.Rate < 1) {
		return nil, c.Errorf(nn.ErrFormat, "rate %v must be in [0, 1)", d.Rate)
	}
	if ns != nil {
		d.NoiseShape = make([]int, len(ns))
		for i, v := range ns {
			switch v := v.(type) {
			case nil:
			case int:
				d.NoiseShape[i] = v
			default:
				return nil, c.Errorf(nn.ErrFormat, "noise_shape %s: want integers or null", FormatValue(ns))
			}
		}
	}
	return d, c.Null("seed", "per-layer seeds (descent draws dropout masks from BuildConfig.Seed's dropout stream)")
}
