package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/descentlab/descent/graph"
	"gorgonia.org/tensor"
)

// Layer is one stage of a Sequential model. Dense and Activation are the
// built-in layers; a type that implements Layer can be added to a model too.
type Layer interface {
	// Name returns the layer's name, unique in its model ("dense_1"). It is
	// empty until the model assigns one or SetName is called.
	Name() string
	// SetName sets the layer's name.
	SetName(name string)
	// ClassName returns the Keras class name ("Dense").
	ClassName() string
	// OutputWidth validates the layer's configuration for an input of width
	// in and returns the width of its output.
	OutputWidth(in int) (int, error)
	// ParamCount returns the number of learnable values for an input of
	// width in, without building anything.
	ParamCount(in int) int
	// Build creates the layer's parameters for an input of width in.
	Build(in int, ctx BuildContext) error
	// Params returns the layer's parameters (nil before Build).
	Params() []*graph.Param
	// Forward adds the layer's computation on x [batch, in] to x's graph.
	// training is true in the graphs used by Fit.
	Forward(x *graph.Node, training bool) *graph.Node
}

// BuildContext is what a layer needs to create its parameters.
type BuildContext struct {
	DType tensor.Dtype
	// RNG is the model's initialisation stream; layers draw from it in
	// order, so the same seed always gives the same weights.
	RNG *rand.Rand
}

// logitLayer is implemented by layers ending in an activation, so that a
// loss can use the values before it (softmax + cross-entropy through a
// stable log-softmax).
type logitLayer interface {
	forwardLogits(x *graph.Node, training bool) (logits *graph.Node, act string, alpha float64)
}

// inputWidther is implemented by layers that can declare the model's input
// width (Dense.InputDim).
type inputWidther interface {
	InputWidth() int
}

// layerBase holds the name and parameters every layer has.
type layerBase struct {
	name   string
	params []*graph.Param
}

// Name implements Layer.
func (b *layerBase) Name() string { return b.name }

// SetName implements Layer.
func (b *layerBase) SetName(name string) { b.name = name }

// Params implements Layer.
func (b *layerBase) Params() []*graph.Param { return b.params }

// Dense is a fully connected layer: y = activation(x·W + b), with W of shape
// [in, Units] (Keras's layout) and b of shape [Units].
type Dense struct {
	layerBase
	// Units is the output width; it must be positive.
	Units int
	// InputDim is the input width. Required on a model's first layer,
	// optional (but checked) elsewhere.
	InputDim int
	// Activation names the activation applied to the output (see
	// ActivationNames). If empty, the layer is linear.
	Activation string
	// Alpha is the activation's parameter: leaky_relu's negative slope
	// (default 0.2, as tf.keras's "leaky_relu") or elu's alpha (default 1).
	// Zero means the default.
	Alpha float64
	// NoBias drops the bias vector b (Keras's use_bias=False).
	NoBias bool
	// KernelInitializer initialises W. If nil, graph.GlorotUniform.
	KernelInitializer graph.Initializer
	// BiasInitializer initialises b. If nil, zeros.
	BiasInitializer graph.Initializer
}

// ClassName implements Layer.
func (d *Dense) ClassName() string { return "Dense" }

// InputWidth returns InputDim.
func (d *Dense) InputWidth() int { return d.InputDim }

// OutputWidth implements Layer.
func (d *Dense) OutputWidth(in int) (int, error) {
	if d.Units <= 0 {
		return 0, fmt.Errorf("units %d must be positive: %w", d.Units, ErrConfig)
	}
	if d.InputDim < 0 {
		return 0, fmt.Errorf("input dimension %d must be positive: %w", d.InputDim, ErrConfig)
	}
	if d.InputDim != 0 && in != d.InputDim {
		return 0, fmt.Errorf("input width %d, but InputDim is %d: %w", in, d.InputDim, ErrShape)
	}
	if _, _, err := lookupActivation(d.Activation); err != nil {
		return 0, err
	}
	return d.Units, nil
}

// ParamCount implements Layer.
func (d *Dense) ParamCount(in int) int {
	if d.NoBias {
		return in * d.Units
	}
	return in*d.Units + d.Units
}

// Build implements Layer. The kernel is drawn first, then the bias.
func (d *Dense) Build(in int, ctx BuildContext) error {
	if _, err := d.OutputWidth(in); err != nil {
		return err
	}
	kinit, binit := d.KernelInitializer, d.BiasInitializer
	if kinit == nil {
		kinit = graph.GlorotUniform{}
	}
	if binit == nil {
		binit = graph.Zeros{}
	}
	w, err := graph.NewParam(d.name+"/kernel", ctx.DType, in, d.Units)
	if err != nil {
		return err
	}
	if err := w.Init(kinit, ctx.RNG); err != nil {
		return err
	}
	d.params = []*graph.Param{w}
	if !d.NoBias {
		b, err := graph.NewParam(d.name+"/bias", ctx.DType, d.Units)
		if err != nil {
			return err
		}
		if err := b.Init(binit, ctx.RNG); err != nil {
			return err
		}
		d.params = append(d.params, b)
	}
	return nil
}

// Kernel returns W, or nil before Build.
func (d *Dense) Kernel() *graph.Param {
	if len(d.params) == 0 {
		return nil
	}
	return d.params[0]
}

// Bias returns b, or nil before Build or with NoBias.
func (d *Dense) Bias() *graph.Param {
	if len(d.params) < 2 {
		return nil
	}
	return d.params[1]
}

func (d *Dense) forwardLogits(x *graph.Node, _ bool) (*graph.Node, string, float64) {
	if len(d.params) == 0 {
		return x.Graph().Fail(fmt.Errorf("layer %s: %w", d.name, ErrNotBuilt)), "linear", 0
	}
	g := x.Graph()
	var b *graph.Node
	if len(d.params) > 1 {
		b = g.Param(d.params[1])
	}
	return graph.Dense(x, g.Param(d.params[0]), b), d.Activation, d.Alpha
}

// Forward implements Layer.
func (d *Dense) Forward(x *graph.Node, training bool) *graph.Node {
	z, act, alpha := d.forwardLogits(x, training)
	return applyActivation(z, act, alpha)
}

// Activation applies an activation function to its input; it has no
// parameters.
type Activation struct {
	layerBase
	// Fn names the function (see ActivationNames): linear, sigmoid, tanh,
	// relu, leaky_relu, elu, softplus, softmax or step.
	Fn string
	// Alpha is leaky_relu's negative slope (default 0.2) or elu's alpha
	// (default 1). Zero means the default.
	Alpha float64
}

// ClassName implements Layer.
func (a *Activation) ClassName() string { return "Activation" }

// OutputWidth implements Layer.
func (a *Activation) OutputWidth(in int) (int, error) {
	if a.Fn == "" {
		return 0, fmt.Errorf("activation function is not set: %w", ErrConfig)
	}
	if _, _, err := lookupActivation(a.Fn); err != nil {
		return 0, err
	}
	return in, nil
}

// ParamCount implements Layer.
func (a *Activation) ParamCount(int) int { return 0 }

// Build implements Layer.
func (a *Activation) Build(in int, _ BuildContext) error {
	_, err := a.OutputWidth(in)
	return err
}

func (a *Activation) forwardLogits(x *graph.Node, _ bool) (*graph.Node, string, float64) {
	return x, a.Fn, a.Alpha
}

// Forward implements Layer.
func (a *Activation) Forward(x *graph.Node, _ bool) *graph.Node {
	return applyActivation(x, a.Fn, a.Alpha)
}

func applyActivation(x *graph.Node, name string, alpha float64) *graph.Node {
	act, _, err := lookupActivation(name)
	if err != nil {
		return x.Graph().Fail(err)
	}
	if alpha == 0 {
		alpha = act.alpha
	}
	return act.apply(x, alpha)
}

// nonDifferentiable reports whether l uses an activation without a gradient.
func nonDifferentiable(l Layer) (activation, bool) {
	var name string
	switch v := l.(type) {
	case *Dense:
		name = v.Activation
	case *Activation:
		name = v.Fn
	default:
		return activation{}, false
	}
	act, _, err := lookupActivation(name)
	return act, err == nil && act.nonDiff
}
