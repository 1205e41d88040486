package nn

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"unicode"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// Sequential is a linear stack of layers, Keras's Sequential model. Declare
// it with NewSequential or Add, then Build (weights only) or Compile (weights,
// loss, optimizer, metrics), then Fit, Evaluate and Predict. Package
// nn/persist saves and loads it; nn/keras writes and reads its architecture
// as Keras JSON.
//
// A Sequential owns its parameters and its compiled graphs (one per batch
// shape and purpose, built on first use and cached). It is not safe for
// concurrent use: give each goroutine its own model.
type Sequential struct {
	layers []Layer
	widths []int // widths[i] is the input width of layer i; widths[len] the output
	err    error // first error met while adding layers

	built  bool
	dtype  tensor.Dtype
	seed   uint64
	params []*graph.Param

	compiled bool
	loss     Loss
	opt      optim.Optimizer
	metrics  []Metric

	progs map[progKey]*program

	state trainState // where training stands, for resumption
	// PredictBatchSize is the batch size Predict and Evaluate use. If zero,
	// 256.
	PredictBatchSize int
	// Machine runs the model's graphs: graph.DescentVM (the zero value),
	// descent's own implementation of gorgonia's VM, or gorgonia's
	// graph.TapeMachine, the reference it is tested against. Both execute the
	// same gorgonia graph with the same symbolic gradients. It may be changed
	// between calls; graphs are built per machine.
	Machine graph.Machine
}

type progKind int

const (
	progTrain progKind = iota
	progEval
	progPredict
)

type progKey struct {
	kind    progKind
	batch   int
	machine graph.Machine
}

// NewSequential returns a model made of layers, in order. Problems with the
// layers (such as a missing InputDim) are reported by Build, Compile and
// Summary.
func NewSequential(layers ...Layer) *Sequential {
	m := &Sequential{}
	for _, l := range layers {
		m.Add(l)
	}
	return m
}

// Add appends a layer, naming it like Keras ("dense_1", "activation_2") if
// it has no name yet. Adding to a built model is an error, reported by Add
// and by every later call.
func (m *Sequential) Add(l Layer) error {
	if m.err != nil {
		return m.err
	}
	switch {
	case l == nil:
		m.err = fmt.Errorf("nn: layer %d is nil: %w", len(m.layers)+1, ErrConfig)
	case m.built:
		m.err = fmt.Errorf("nn: cannot add layer %d to a built model: %w", len(m.layers)+1, ErrConfig)
	}
	if m.err != nil {
		return m.err
	}
	if l.Name() == "" {
		prefix := snake(l.ClassName())
		n := 1
		for _, other := range m.layers {
			if strings.HasPrefix(other.Name(), prefix+"_") {
				n++
			}
		}
		l.SetName(fmt.Sprintf("%s_%d", prefix, n))
	}
	for _, other := range m.layers {
		if other.Name() == l.Name() {
			m.err = fmt.Errorf("nn: layer %d: name %q is already used: %w", len(m.layers)+1, l.Name(), ErrConfig)
			return m.err
		}
	}
	m.layers = append(m.layers, l)
	return nil
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Layers returns the model's layers, in order.
func (m *Sequential) Layers() []Layer { return append([]Layer(nil), m.layers...) }

// shapes validates the layer stack and fills m.widths.
func (m *Sequential) shapes() error {
	if m.err != nil {
		return m.err
	}
	if len(m.layers) == 0 {
		return fmt.Errorf("nn: model has no layers: %w", ErrConfig)
	}
	in := 0
	if iw, ok := m.layers[0].(InputWidther); ok {
		in = iw.InputWidth()
	}
	if in <= 0 {
		return fmt.Errorf("nn: layer 1 (%s): the first layer needs its input dimension (InputDim): %w", m.layers[0].Name(), ErrConfig)
	}
	widths := []int{in}
	for i, l := range m.layers {
		out, err := l.OutputWidth(in)
		if err != nil {
			return fmt.Errorf("nn: layer %d (%s): %w", i+1, l.Name(), err)
		}
		in = out
		widths = append(widths, out)
	}
	m.widths = widths
	return nil
}

// Widths returns the input width of each layer followed by the model's
// output width, or the first problem of the layer stack.
func (m *Sequential) Widths() ([]int, error) {
	if err := m.shapes(); err != nil {
		return nil, err
	}
	return append([]int(nil), m.widths...), nil
}

// InputDim returns the model's input width (0 if the stack is invalid).
func (m *Sequential) InputDim() int {
	if m.shapes() != nil {
		return 0
	}
	return m.widths[0]
}

// OutputDim returns the model's output width (0 if the stack is invalid).
func (m *Sequential) OutputDim() int {
	if m.shapes() != nil {
		return 0
	}
	return m.widths[len(m.widths)-1]
}

// BuildConfig sets how a model's weights are created.
type BuildConfig struct {
	// Seed drives every random choice of the model: initialisation,
	// shuffling and dropout draw from independent streams derived from it,
	// so the same seed gives the same initial weights whatever the batch
	// size.
	Seed uint64
	// DType is tensor.Float32 or tensor.Float64. If zero, float64.
	DType tensor.Dtype
	// MaxParams bounds the model's parameter count (see CheckParams), so
	// that an architecture read from a file cannot make Build allocate
	// gigabytes. If zero, DefaultMaxParams; negative means no limit.
	MaxParams int64
}

// DefaultMaxParams is the parameter-count limit of Build and of the
// loaders (nn/keras, nn/persist) when theirs is zero: 10^8 parameters,
// 800 MB of float64 weights (400 MB in float32), to which training adds
// gradients and optimizer state (two to four times as much). It is far
// above what a network trained on a CPU with descent needs (MNIST's
// 784-128-10 has 101,770) and far below what would exhaust a machine's
// memory; raise it through BuildConfig.MaxParams or the loaders' Options.
const DefaultMaxParams = 100_000_000

// CheckParams reports whether the model's layer stack stays within limit
// parameters (DefaultMaxParams if limit is zero, no limit if negative)
// without building anything. Its error names the layer at which the count
// crosses the limit, the layer's output width ("units") and input width,
// its parameters and the bytes they would take, and wraps ErrLimit.
func (m *Sequential) CheckParams(limit int64) error {
	if err := m.shapes(); err != nil {
		return err
	}
	if limit == 0 {
		limit = DefaultMaxParams
	}
	if limit < 0 {
		return nil
	}
	var total int64
	for i, l := range m.layers {
		in, out := m.widths[i], m.widths[i+1]
		n := int64(l.ParamCount(in))
		if n < 0 {
			return fmt.Errorf("nn: layer %d (%s): %d parameters for an input of width %d (negative: an overflow?): %w", i+1, l.Name(), n, in, ErrConfig)
		}
		if n > limit-total {
			all := ""
			if total > 0 {
				all = fmt.Sprintf(", %d with the layers before it", total+min(n, math.MaxInt64-total))
			}
			return fmt.Errorf("nn: layer %d (%s): %d units on an input of width %d make %s%s, over the limit of %d parameters: %w",
				i+1, l.Name(), out, in, countBytes(n), all, limit, ErrLimit)
		}
		total += n
	}
	return nil
}

// countBytes describes n parameters and their size in memory.
func countBytes(n int64) string {
	if n == math.MaxInt64 {
		return "more than 9.2e18 parameters (beyond any memory)"
	}
	return fmt.Sprintf("%d parameters (%s in float64, %s in float32)", n, byteSize(8*float64(n)), byteSize(4*float64(n)))
}

// byteSize formats a size in bytes with a decimal unit: "24 GB".
func byteSize(b float64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB", "PB", "EB"}
	i := 0
	for b >= 1000 && i < len(units)-1 {
		b /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f bytes", b)
	}
	return fmt.Sprintf("%.3g %s", b, units[i])
}

// Build creates the model's parameters: each layer draws from the seed's
// initialisation stream in order. Building twice is an error, and so is a
// model of more than cfg.MaxParams parameters (checked before anything is
// allocated).
func (m *Sequential) Build(cfg BuildConfig) error {
	if m.built {
		return fmt.Errorf("nn: model is already built: %w", ErrConfig)
	}
	if err := m.shapes(); err != nil {
		return err
	}
	if err := m.CheckParams(cfg.MaxParams); err != nil {
		return fmt.Errorf("%w (raise BuildConfig.MaxParams to build it)", err)
	}
	dt := graph.DefaultDType(cfg.DType)
	if err := graph.CheckDType(dt); err != nil {
		return fmt.Errorf("nn: build: %w", err)
	}
	rng := rand.New(newStream(cfg.Seed, streamInit))
	var params []*graph.Param
	for i, l := range m.layers {
		if err := l.Build(m.widths[i], BuildContext{DType: dt, RNG: rng}); err != nil {
			return fmt.Errorf("nn: layer %d (%s): %w", i+1, l.Name(), err)
		}
		for _, p := range l.Params() {
			for _, q := range params {
				if q.Name() == p.Name() {
					return fmt.Errorf("nn: layer %d (%s): weight name %q is already used: %w", i+1, l.Name(), p.Name(), ErrConfig)
				}
			}
			params = append(params, p)
		}
	}
	m.params, m.dtype, m.seed, m.built = params, dt, cfg.Seed, true
	m.progs = map[progKey]*program{}
	m.state = newTrainState(cfg.Seed)
	return nil
}

// Built reports whether the model has weights.
func (m *Sequential) Built() bool { return m.built }

// DType returns the model's dtype (zero before Build).
func (m *Sequential) DType() tensor.Dtype { return m.dtype }

// Seed returns the seed the model was built with.
func (m *Sequential) Seed() uint64 { return m.seed }

// Params returns the model's parameters in layer order (kernel, then bias).
// They are the live tensors: changing them changes the model.
func (m *Sequential) Params() []*graph.Param { return append([]*graph.Param(nil), m.params...) }

// CompileConfig sets the training objective of a model.
type CompileConfig struct {
	// Loss is a Loss or its name (see LossNames). Required.
	Loss any
	// Optimizer is an optim.Optimizer or its name with default settings
	// ("sgd" with Keras's learning rate 0.01, "adam", ...; see optim.New).
	// Required.
	Optimizer any
	// Metrics names metrics reported besides the loss (see MetricNames).
	Metrics []string
	// CustomMetrics adds metrics given as values.
	CustomMetrics []Metric
	// Seed and DType build the model if it is not built yet (see
	// BuildConfig). On a built model they cannot apply: left zero they say
	// nothing, set to another seed or dtype than the model's they are an
	// error.
	Seed  uint64
	DType tensor.Dtype
}

// Compile sets the loss, optimizer and metrics, building the model first
// if needed. A model with a layer that has no gradient (the step
// activation) cannot be compiled for training: the error names the layer
// and what to use instead.
func (m *Sequential) Compile(cfg CompileConfig) error {
	if err := m.shapes(); err != nil {
		return err
	}
	if m.built && cfg.Seed != 0 && cfg.Seed != m.seed {
		return fmt.Errorf("nn: compile: Seed %d cannot apply: the model is already built with seed %d (leave Seed zero, or build with it): %w", cfg.Seed, m.seed, ErrConfig)
	}
	if m.built && cfg.DType != (tensor.Dtype{}) && cfg.DType != m.dtype {
		return fmt.Errorf("nn: compile: DType %v cannot apply: the model is already built in %v: %w", cfg.DType, m.dtype, ErrConfig)
	}
	for i, l := range m.layers {
		if act, bad := nonDifferentiable(l); bad {
			return fmt.Errorf("nn: layer %d (%s): the step activation has no gradient, so the model cannot be trained by gradient descent; %s: %w", i+1, l.Name(), act.instead, ErrNoGradient)
		}
	}
	var loss Loss
	switch v := cfg.Loss.(type) {
	case string:
		l, err := LossByName(v)
		if err != nil {
			return err
		}
		loss = l
	case Loss:
		loss = v
	case nil:
		return fmt.Errorf("nn: compile: no loss (valid: %s): %w", strings.Join(LossNames(), ", "), ErrConfig)
	default:
		return fmt.Errorf("nn: compile: loss is a %T, want a name or an nn.Loss: %w", v, ErrConfig)
	}
	var opt optim.Optimizer
	switch v := cfg.Optimizer.(type) {
	case string:
		var hyper map[string]any
		if strings.EqualFold(v, "sgd") {
			hyper = map[string]any{"lr": 0.01} // Keras's default; torch has none
		}
		o, err := optim.New(v, hyper)
		if err != nil {
			return fmt.Errorf("nn: compile: %w", err)
		}
		opt = o
	case optim.Optimizer:
		opt = v
	case nil:
		return fmt.Errorf("nn: compile: no optimizer: %w", ErrConfig)
	default:
		return fmt.Errorf("nn: compile: optimizer is a %T, want a name or an optim.Optimizer: %w", v, ErrConfig)
	}
	var ms []Metric
	for _, name := range cfg.Metrics {
		if strings.EqualFold(name, "loss") {
			continue
		}
		mt, err := MetricByName(name)
		if err != nil {
			return err
		}
		ms = append(ms, mt)
	}
	for _, mt := range cfg.CustomMetrics {
		if mt == nil {
			return fmt.Errorf("nn: compile: nil metric: %w", ErrConfig)
		}
		ms = append(ms, mt)
	}
	if !m.built {
		if err := m.Build(BuildConfig{Seed: cfg.Seed, DType: cfg.DType}); err != nil {
			return err
		}
	}
	m.loss, m.opt, m.metrics, m.compiled = loss, opt, ms, true
	m.closePrograms(progTrain, progEval) // the loss may have changed
	return nil
}

// Loss returns the compiled loss (nil before Compile).
func (m *Sequential) Loss() Loss { return m.loss }

// Optimizer returns the compiled optimizer (nil before Compile).
func (m *Sequential) Optimizer() optim.Optimizer { return m.opt }

// Metrics returns the compiled metrics, in order (nil before Compile).
func (m *Sequential) Metrics() []Metric { return append([]Metric(nil), m.metrics...) }

// Compiled reports whether the model has a loss and an optimizer.
func (m *Sequential) Compiled() bool { return m.compiled }

// Close releases the model's compiled graphs. The model stays usable; graphs
// are rebuilt on demand.
func (m *Sequential) Close() error {
	m.closePrograms(progTrain, progEval, progPredict)
	return nil
}

func (m *Sequential) closePrograms(kinds ...progKind) {
	for k, p := range m.progs {
		for _, kind := range kinds {
			if k.kind == kind {
				p.Close()
				delete(m.progs, k)
			}
		}
	}
}

// forward builds the model on x and returns its output.
func (m *Sequential) forward(x *graph.Node, ctx *ForwardContext) Output {
	h := x
	last := len(m.layers) - 1
	for _, l := range m.layers[:last] {
		h = l.Forward(h, ctx)
	}
	if ll, ok := m.layers[last].(logitLayer); ok {
		logits, act, alpha := ll.forwardLogits(h, ctx)
		return Output{Pred: applyActivation(logits, act, alpha), Logits: logits, Activation: strings.ToLower(act)}
	}
	return Output{Pred: m.layers[last].Forward(h, ctx)}
}

// program is a compiled graph and the random inputs (dropout masks) to fill
// before each of its training steps.
type program struct {
	*graph.Program
	noise []noiseBuf
}

type noiseBuf struct {
	buf     *tensor.Dense
	fill    NoiseFunc
	scratch []float64
}

// fillNoise draws every random input of the program from rng, in layer
// order.
func (p *program) fillNoise(rng *rand.Rand) error {
	for i := range p.noise {
		n := &p.noise[i]
		n.fill(n.scratch, rng)
		if err := graph.WriteFloat64s(n.buf, n.scratch); err != nil {
			return err
		}
	}
	return nil
}

// program returns the cached program of a kind for a batch size, building
// it on first use. The loss of training and evaluation programs is the
// compiled loss plus every penalty the layers add (regularizers).
func (m *Sequential) program(kind progKind, batch int) (*program, error) {
	key := progKey{kind, batch, m.Machine}
	if p, ok := m.progs[key]; ok {
		return p, nil
	}
	in, out := m.widths[0], m.widths[len(m.widths)-1]
	g := graph.New(m.dtype)
	x := g.Input("x", batch, in)
	ctx := &ForwardContext{Training: kind == progTrain, Loss: kind != progPredict}
	o := m.forward(x, ctx)
	spec := graph.Spec{Outputs: map[string]*graph.Node{"pred": o.Pred}, Machine: m.Machine}
	if kind != progPredict {
		y := g.Input("y", batch, out)
		loss := m.loss.Build(o, y)
		for _, l := range ctx.losses {
			loss = graph.Add(loss, l)
		}
		if kind == progTrain {
			spec.Loss, spec.WRT = loss, m.params
		} else {
			spec.Outputs["loss"] = loss
		}
	}
	gp, err := g.Compile(spec)
	if err != nil {
		return nil, fmt.Errorf("nn: building the graph for batch %d: %w", batch, err)
	}
	p := &program{Program: gp}
	for _, n := range ctx.noise {
		buf, err := gp.Input(n.name)
		if err != nil {
			return nil, err
		}
		p.noise = append(p.noise, noiseBuf{buf: buf, fill: n.fill, scratch: make([]float64, buf.Shape().TotalSize())})
	}
	m.progs[key] = p
	return p, nil
}

// checkX validates an input matrix against the model, values included.
func (m *Sequential) checkX(what string, x *tensor.Dense) error {
	if err := m.checkWidth(what, x); err != nil {
		return err
	}
	if ok, i := graph.AllFinite(x); !ok {
		cols := x.Shape()[1]
		return fmt.Errorf("nn: %s: input row %d column %d is not finite: %w", what, i/cols, i%cols, ErrNotFinite)
	}
	return nil
}

// checkWidth validates the dtype and shape of an input matrix.
func (m *Sequential) checkWidth(what string, x *tensor.Dense) error {
	if !m.built {
		return fmt.Errorf("nn: %s: %w (call Build or Compile first)", what, ErrNotBuilt)
	}
	if x == nil {
		return fmt.Errorf("nn: %s: no input: %w", what, ErrShape)
	}
	if x.Dtype() != m.dtype {
		return fmt.Errorf("nn: %s: input is %v, model is %v (load the data in the model's dtype, with the loaders' DType option, or convert it with Dataset.To): %w", what, x.Dtype(), m.dtype, graph.ErrDType)
	}
	if x.Dims() != 2 || x.Shape()[0] == 0 {
		return fmt.Errorf("nn: %s: input has shape %v, want [rows, %d] with rows > 0: %w", what, x.Shape(), m.widths[0], ErrShape)
	}
	if x.Shape()[1] != m.widths[0] {
		return fmt.Errorf("nn: %s: layer 1 (%s): input width %d, want %d: %w", what, m.layers[0].Name(), x.Shape()[1], m.widths[0], ErrShape)
	}
	return nil
}

func (m *Sequential) predictBatch() int {
	if m.PredictBatchSize > 0 {
		return m.PredictBatchSize
	}
	return 256
}

// Predict returns the model's output [rows, out] for x [rows, in], in the
// model's dtype, computed in batches of PredictBatchSize. The result is a
// new tensor owned by the caller.
func (m *Sequential) Predict(x *tensor.Dense) (*tensor.Dense, error) {
	// Finiteness is checked batch by batch, just before each runs, while its
	// rows are in cache for the first product anyway.
	if err := m.checkWidth("predict", x); err != nil {
		return nil, err
	}
	rows, in, out := x.Shape()[0], m.widths[0], m.widths[len(m.widths)-1]
	res, err := graph.ZeroTensor(m.dtype, rows, out)
	if err != nil {
		return nil, err
	}
	bs := min(m.predictBatch(), rows)
	for lo := 0; lo < rows; lo += bs {
		hi := min(lo+bs, rows)
		p, err := m.program(progPredict, hi-lo)
		if err != nil {
			return nil, err
		}
		if i := graph.FirstNonFinite(x, lo*in, hi*in); i >= 0 {
			return nil, fmt.Errorf("nn: predict: input row %d column %d is not finite: %w", i/in, i%in, ErrNotFinite)
		}
		if err := p.BindRows("x", x, lo, hi); err != nil {
			return nil, fmt.Errorf("nn: predict: %w", err)
		}
		if err := p.Run(); err != nil {
			return nil, fmt.Errorf("nn: predict: %w", err)
		}
		o, err := p.Output("pred")
		if err != nil {
			return nil, err
		}
		if err := graph.CopyRows(res, o, lo); err != nil {
			return nil, fmt.Errorf("nn: predict: %w", err)
		}
	}
	return res, nil
}

// PredictRows is Predict returning the output as rows of float64 (one
// slice per row of x, sharing one backing array), whatever the model's
// dtype: a program can read predictions without package tensor.
func (m *Sequential) PredictRows(x *tensor.Dense) ([][]float64, error) {
	p, err := m.Predict(x)
	if err != nil {
		return nil, err
	}
	vals := graph.ReadFloat64s(p, nil)
	cols := p.Shape()[1]
	rows := make([][]float64, p.Shape()[0])
	for r := range rows {
		rows[r] = vals[r*cols : (r+1)*cols : (r+1)*cols]
	}
	return rows, nil
}

// PredictClasses returns the predicted class of each row of x: 0 or 1 at
// the 0.5 threshold for a single output, the argmax of the row otherwise.
func (m *Sequential) PredictClasses(x *tensor.Dense) ([]int, error) {
	p, err := m.Predict(x)
	if err != nil {
		return nil, err
	}
	vals := graph.ReadFloat64s(p, nil)
	cols := p.Shape()[1]
	classes := make([]int, p.Shape()[0])
	for r := range classes {
		row := vals[r*cols : (r+1)*cols]
		if cols == 1 {
			if row[0] > 0.5 {
				classes[r] = 1
			}
			continue
		}
		classes[r] = argmax(row)
	}
	return classes, nil
}

// Summary writes a Keras-style table of the layers, their output shapes and
// parameter counts, with the totals.
func (m *Sequential) Summary(w io.Writer) error {
	if err := m.shapes(); err != nil {
		return err
	}
	// Keras 2's print_summary for sequential models: 65 columns, fields
	// ending at 29, 55 and 65, each truncated to fit.
	const width = 65
	positions := []int{29, 55, 65}
	line := func(fields ...string) string {
		s := ""
		for i, f := range fields {
			if i > 0 {
				s = s[:len(s)-1] + " "
			}
			s += f
			if len(s) > positions[i] {
				s = s[:positions[i]]
			}
			s += strings.Repeat(" ", positions[i]-len(s))
		}
		return strings.TrimRight(s, " ") + "\n"
	}
	var b strings.Builder
	b.WriteString(strings.Repeat("_", width) + "\n")
	b.WriteString(line("Layer (type)", "Output Shape", "Param #"))
	b.WriteString(strings.Repeat("=", width) + "\n")
	total := 0
	for i, l := range m.layers {
		n := l.ParamCount(m.widths[i])
		total += n
		b.WriteString(line(fmt.Sprintf("%s (%s)", l.Name(), l.ClassName()), fmt.Sprintf("(None, %d)", m.widths[i+1]), fmt.Sprint(n)))
		if i < len(m.layers)-1 {
			b.WriteString(strings.Repeat("_", width) + "\n")
		}
	}
	b.WriteString(strings.Repeat("=", width) + "\n")
	fmt.Fprintf(&b, "Total params: %d\nTrainable params: %d\nNon-trainable params: 0\n", total, total)
	b.WriteString(strings.Repeat("_", width) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}
