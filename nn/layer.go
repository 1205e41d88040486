package nn

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/descentlab/descent/graph"
	"gorgonia.org/tensor"
)

// Layer is one stage of a Sequential model, and the whole contract a layer
// fulfils: a type that implements it is built, trained, summarised and
// saved (Keras JSON, safetensors weights, checkpoints) like the built-in
// Dense, Activation and Dropout, which use nothing else. To be loaded by
// its Keras class name it also needs a keras.LayerDecoder in the
// keras.LayerRegistry given to the loader (package nn/keras); to be a model's first layer it implements
// InputWidther. Embed LayerBase for the name and parameters.
type Layer interface {
	// Name returns the layer's name, unique in its model ("dense_1"). It is
	// empty until the model assigns one or SetName is called. Weight names
	// begin with it ("dense_1/kernel").
	Name() string
	// SetName sets the layer's name.
	SetName(name string)
	// ClassName returns the layer's class name, as the summary shows it and
	// the model names the layer ("Dense" gives "dense_1").
	ClassName() string
	// OutputWidth validates the layer's configuration for an input of width
	// in and returns the width of its output.
	OutputWidth(in int) (int, error)
	// ParamCount returns the number of learnable values for an input of
	// width in, without building anything.
	ParamCount(in int) int
	// Build creates the layer's parameters for an input of width in,
	// drawing any random initial values from ctx.RNG (see
	// BuildContext.Weight).
	Build(in int, ctx BuildContext) error
	// Params returns the layer's parameters in a fixed order (nil before
	// Build). They are the model's weights: saved under their names with
	// ":0" appended, as Keras names weights.
	Params() []*graph.Param
	// Forward adds the layer's computation on x [batch, in] to x's graph and
	// returns its output [batch, out]. ctx says which graph it builds (a
	// training step, an evaluation, a prediction) and takes the layer's
	// penalties and per-step random inputs.
	Forward(x *graph.Node, ctx *ForwardContext) *graph.Node
	// Config returns the Keras class name written in the layer's
	// "class_name" (usually ClassName) and its configuration: the keys of
	// Keras's get_config() other than name, trainable, batch_input_shape
	// and dtype, which the writer adds.
	Config() (class string, cfg Config, err error)
}

// InputWidther is implemented by layers that can be a model's first layer:
// they carry the model's input width, Keras's input_dim (written as
// batch_input_shape [null, width]).
type InputWidther interface {
	// InputWidth returns the declared input width, or 0.
	InputWidth() int
	// SetInputWidth declares the input width.
	SetInputWidth(in int)
}

// BuildContext is what a layer needs to create its parameters.
type BuildContext struct {
	DType tensor.Dtype
	// RNG is the model's initialisation stream; layers draw from it in
	// order, so the same seed always gives the same weights.
	RNG *rand.Rand
}

// Weight creates the parameter "<layer>/<name>" of the context's dtype and
// the given shape, and fills it with init drawing from RNG.
func (c BuildContext) Weight(layer, name string, init graph.Initializer, shape ...int) (*graph.Param, error) {
	p, err := graph.NewParam(layer+"/"+name, c.DType, shape...)
	if err != nil {
		return nil, err
	}
	if err := p.Init(init, c.RNG); err != nil {
		return nil, err
	}
	return p, nil
}

// ForwardContext is what a layer's Forward knows of the graph it builds,
// and how it adds to the graph more than its output.
type ForwardContext struct {
	// Training is true in the graphs of training steps (Fit, TrainStep):
	// Dropout is active there only.
	Training bool
	// Loss is true in graphs that compute the loss (training steps and
	// Evaluate), false in Predict's: penalties are needed only there.
	Loss bool

	losses []*graph.Node
	noise  []noiseInput
}

// NoiseFunc fills a per-step random input: dst is its values, row-major,
// and rng the model's dropout stream.
type NoiseFunc func(dst []float64, rng *rand.Rand)

type noiseInput struct {
	name string
	fill NoiseFunc
}

// AddLoss adds the scalar l to the loss the model minimises and reports, as
// Keras's Layer.add_loss: regularization penalties. It is used only when
// Loss is true; check Loss before building l, so that Predict's graph does
// not compute it.
func (c *ForwardContext) AddLoss(l *graph.Node) {
	if c.Loss {
		c.losses = append(c.losses, l)
	}
}

// Noise adds to g a random input of the given shape, named
// "noise/<name>", which the trainer fills with fill before every training
// step, drawing from the model's dropout stream; it is how Dropout draws
// its mask while gradients stay symbolic (the mask is data, like x). It is
// valid only when Training is true.
func (c *ForwardContext) Noise(g *graph.Graph, name string, shape []int, fill NoiseFunc) *graph.Node {
	if !c.Training {
		return g.Fail(fmt.Errorf("nn: noise input %q in a graph that does not train: %w", name, ErrConfig))
	}
	n := g.Input("noise/"+name, shape...)
	c.noise = append(c.noise, noiseInput{name: "noise/" + name, fill: fill})
	return n
}

// LayerBase holds the name and parameters every layer has; embed it to
// implement Name, SetName and Params.
type LayerBase struct {
	name   string
	params []*graph.Param
}

// Name implements Layer.
func (b *LayerBase) Name() string { return b.name }

// SetName implements Layer.
func (b *LayerBase) SetName(name string) { b.name = name }

// Params implements Layer.
func (b *LayerBase) Params() []*graph.Param { return b.params }

// SetParams sets what Params returns; Build calls it.
func (b *LayerBase) SetParams(ps ...*graph.Param) { b.params = ps }

// The compiler checks the built-in layers against the contract.
var (
	_ Layer        = (*Dense)(nil)
	_ InputWidther = (*Dense)(nil)
	_ Layer        = (*Activation)(nil)
	_ Layer        = (*Dropout)(nil)
)

// logitLayer is implemented by layers ending in an activation, so that a
// loss can use the values before it (softmax + cross-entropy through a
// stable log-softmax).
type logitLayer interface {
	forwardLogits(x *graph.Node, ctx *ForwardContext) (logits *graph.Node, act string, alpha float64)
}

// Dense is a fully connected layer: y = activation(x·W + b), with W of shape
// [in, Units] (Keras's layout) and b of shape [Units].
type Dense struct {
	LayerBase
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
	// KernelRegularizer and BiasRegularizer, if set, add their penalties on
	// W and b to the loss (Keras's kernel_regularizer and
	// bias_regularizer), for example nn.L2(0.01).
	KernelRegularizer Regularizer
	BiasRegularizer   Regularizer
}

// ClassName implements Layer.
func (d *Dense) ClassName() string { return "Dense" }

// InputWidth implements InputWidther.
func (d *Dense) InputWidth() int { return d.InputDim }

// SetInputWidth implements InputWidther.
func (d *Dense) SetInputWidth(in int) { d.InputDim = in }

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
	for _, r := range []Regularizer{d.KernelRegularizer, d.BiasRegularizer} {
		if v, ok := r.(interface{ Validate() error }); ok {
			if err := v.Validate(); err != nil {
				return 0, err
			}
		}
	}
	return d.Units, nil
}

// ParamCount implements Layer. It saturates at math.MaxInt instead of
// overflowing, so that absurd sizes from a file are caught by the limit
// of BuildConfig.MaxParams.
func (d *Dense) ParamCount(in int) int {
	if in < 0 || d.Units < 0 {
		return 0
	}
	hi, n := bits.Mul64(uint64(in), uint64(d.Units))
	if !d.NoBias {
		var c uint64
		n, c = bits.Add64(n, uint64(d.Units), 0)
		hi += c
	}
	if hi != 0 || n > math.MaxInt {
		return math.MaxInt
	}
	return int(n)
}

// Build implements Layer. The kernel is drawn first, then the bias.
func (d *Dense) Build(in int, ctx BuildContext) error {
	if _, err := d.OutputWidth(in); err != nil {
		return err
	}
	kinit, binit := d.initializers()
	w, err := ctx.Weight(d.name, "kernel", kinit, in, d.Units)
	if err != nil {
		return err
	}
	d.SetParams(w)
	if !d.NoBias {
		b, err := ctx.Weight(d.name, "bias", binit, d.Units)
		if err != nil {
			return err
		}
		d.SetParams(w, b)
	}
	return nil
}

func (d *Dense) initializers() (kernel, bias graph.Initializer) {
	kernel, bias = d.KernelInitializer, d.BiasInitializer
	if kernel == nil {
		kernel = graph.GlorotUniform{}
	}
	if bias == nil {
		bias = graph.Zeros{}
	}
	return kernel, bias
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

func (d *Dense) forwardLogits(x *graph.Node, ctx *ForwardContext) (*graph.Node, string, float64) {
	if len(d.params) == 0 {
		return x.Graph().Fail(fmt.Errorf("layer %s: %w", d.name, ErrNotBuilt)), "linear", 0
	}
	g := x.Graph()
	w := g.Param(d.params[0])
	var b *graph.Node
	if len(d.params) > 1 {
		b = g.Param(d.params[1])
	}
	if ctx.Loss && d.KernelRegularizer != nil {
		ctx.AddLoss(d.KernelRegularizer.Penalty(w))
	}
	if ctx.Loss && d.BiasRegularizer != nil && b != nil {
		ctx.AddLoss(d.BiasRegularizer.Penalty(b))
	}
	return graph.Dense(x, w, b), d.Activation, d.Alpha
}

// Forward implements Layer.
func (d *Dense) Forward(x *graph.Node, ctx *ForwardContext) *graph.Node {
	z, act, alpha := d.forwardLogits(x, ctx)
	return applyActivation(z, act, alpha)
}

// Config implements Layer: Keras 2.2.4's Dense config, the activation
// inside, the initialisers and regularizers as values (nn/keras writes
// them in Keras's form). An activation alpha Keras's name does not imply (leaky_relu's,
// or elu's other than 1) is written under the descent-specific key
// "descent_alpha", which Keras does not read.
func (d *Dense) Config() (string, Config, error) {
	_, act, err := lookupActivation(d.Activation)
	if err != nil {
		return "", nil, err
	}
	kinit, binit := d.initializers()
	cfg := Config{
		{"units", d.Units},
		{"activation", act},
		{"use_bias", !d.NoBias},
		{"kernel_initializer", kinit},
		{"bias_initializer", binit},
		{"kernel_regularizer", d.KernelRegularizer},
		{"bias_regularizer", d.BiasRegularizer},
		{"activity_regularizer", nil},
		{"kernel_constraint", nil},
		{"bias_constraint", nil},
	}
	if alpha, ok := extraAlpha(act, d.Alpha); ok {
		cfg = append(cfg, Field{DescentAlphaKey, alpha})
	}
	return "Dense", cfg, nil
}

// DescentAlphaKey is the descent-specific key of Dense's config that holds
// its activation's alpha where Keras has no place for it (leaky_relu's,
// and elu's other than 1). Keras does not read it; nn/keras does.
const DescentAlphaKey = "descent_alpha"

// extraAlpha returns the alpha to write under descent_alpha for an
// activation name, if Keras's name alone does not imply it.
func extraAlpha(act string, alpha float64) (float64, bool) {
	if alpha == 0 {
		alpha = activations[act].alpha
	}
	switch act {
	case "leaky_relu":
		return alpha, true
	case "elu":
		return alpha, alpha != 1
	}
	return 0, false
}

// Activation applies an activation function to its input; it has no
// parameters.
type Activation struct {
	LayerBase
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

func (a *Activation) forwardLogits(x *graph.Node, _ *ForwardContext) (*graph.Node, string, float64) {
	return x, a.Fn, a.Alpha
}

// Forward implements Layer.
func (a *Activation) Forward(x *graph.Node, _ *ForwardContext) *graph.Node {
	return applyActivation(x, a.Fn, a.Alpha)
}

// Config implements Layer. Keras 2.2.4 has no leaky_relu activation and no
// alpha on an activation name, so leaky_relu is written as Keras's
// LeakyReLU layer and elu with an alpha other than 1 as its ELU layer.
func (a *Activation) Config() (string, Config, error) {
	_, act, err := lookupActivation(a.Fn)
	if err != nil {
		return "", nil, err
	}
	alpha, extra := extraAlpha(act, a.Alpha)
	switch {
	case act == "leaky_relu":
		return "LeakyReLU", Config{{"alpha", alpha}}, nil
	case act == "elu" && extra:
		return "ELU", Config{{"alpha", alpha}}, nil
	}
	return "Activation", Config{{"activation", act}}, nil
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
