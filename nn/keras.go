package nn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/descentlab/descent/graph"
)

// Keras architecture JSON.
//
// ToJSON writes a Sequential model as Keras 2.2.4's model.to_json() does,
// byte for byte: the same key order, Python's json.dumps separators (", "
// and ": "), Python's float repr and ASCII-only strings. FromJSON reads
// that format (and the small variations of later Keras 2 releases) back.
//
// Layers map as follows:
//
//	descent                        Keras 2.2.4
//	Dense                          Dense (activation inside, as Keras allows)
//	Activation{Fn: f}              Activation{activation: f}
//	Activation{Fn: "leaky_relu"}   LeakyReLU{alpha}
//	Activation{Fn: "elu", α ≠ 1}   ELU{alpha}
//	(first Dense's InputDim)       batch_input_shape [null, in]
//
// Keras 2.2.4 has no leaky_relu activation function and no alpha on an
// activation name, so a Dense layer with Activation "leaky_relu" (or "elu"
// with an alpha other than 1) writes the slope under the descent-specific
// config key "descent_alpha"; such a file, like one using the "step"
// activation, loads in descent but not in Keras. Everything else ToJSON
// writes loads in Keras 2.2.4.
//
// Initialisers map to Keras 2.2.4's serialisation: glorot, he and lecun are
// VarianceScaling configs (scale 1 fan_avg, scale 2 fan_in and scale 1
// fan_in, distribution uniform or normal), the others keep their class name
// (Zeros, Ones, Constant, RandomUniform, RandomNormal).
//
// The "dtype" Keras writes on the first layer is Keras's floatx, the dtype
// of the input placeholder, which Keras 2.2.4 needs to equal its weights'
// dtype: ToJSON always writes "float32", and FromJSON accepts float16, 32
// and 64 and ignores it. descent's dtype is a build option (BuildConfig);
// Save and Load keep it next to the JSON.

// kerasVersion and kerasBackend are what ToJSON declares.
const (
	kerasVersion = "2.2.4"
	kerasBackend = "tensorflow"
)

// descentAlphaKey is the descent-specific config key holding an
// activation's alpha where Keras has no place for it.
const descentAlphaKey = "descent_alpha"

// kerasLayer is implemented by layers that have a Keras JSON form. first is
// true for the model's first layer, whose input width is in.
type kerasLayer interface {
	kerasConfig(first bool, in int) (className string, cfg pyObject, err error)
}

// kerasDecoder builds a layer from its Keras config. first is true for the
// first layer of the model (an InputLayer does not count); inputDim is the
// width declared by a preceding InputLayer, or 0.
type kerasDecoder func(c *kerasReader, first bool, inputDim int) (Layer, error)

// kerasDecoders maps Keras class names to decoders. A layer type added to
// nn registers itself here and implements kerasLayer.
var kerasDecoders = map[string]kerasDecoder{
	"Dense":      decodeDense,
	"Activation": decodeActivation,
	"LeakyReLU":  decodeLeakyReLU,
	"ELU":        decodeELU,
}

// ToJSON returns the model's architecture in the format of Keras 2.2.4's
// model.to_json(), which Keras 2.2.4's model_from_json loads (see the
// package's notes on Keras JSON above for the exceptions). The model need
// not be built; its layer stack must be valid. Weights are not included:
// see SaveWeights, or Save for both in one file.
func (m *Sequential) ToJSON() ([]byte, error) {
	if err := m.shapes(); err != nil {
		return nil, fmt.Errorf("nn: to json: %w", err)
	}
	layers := make([]any, 0, len(m.layers))
	for i, l := range m.layers {
		obj, err := layerJSON(l, i == 0, m.widths[i])
		if err != nil {
			return nil, fmt.Errorf("nn: to json: layer %d (%s): %w", i+1, l.Name(), err)
		}
		layers = append(layers, obj)
	}
	top := pyObject{
		{"class_name", "Sequential"},
		{"config", pyObject{{"name", "sequential_1"}, {"layers", layers}}},
		{"keras_version", kerasVersion},
		{"backend", kerasBackend},
	}
	var b bytes.Buffer
	if err := writePy(&b, top); err != nil {
		return nil, fmt.Errorf("nn: to json: %w", err)
	}
	return b.Bytes(), nil
}

// layerJSON returns one layer's {"class_name", "config"} object.
func layerJSON(l Layer, first bool, in int) (pyObject, error) {
	kl, ok := l.(kerasLayer)
	if !ok {
		return nil, fmt.Errorf("layer type %T has no Keras JSON form: %w", l, ErrUnsupported)
	}
	class, cfg, err := kl.kerasConfig(first, in)
	if err != nil {
		return nil, err
	}
	return pyObject{{"class_name", class}, {"config", cfg}}, nil
}

// baseConfig returns the keys Keras's Layer.get_config writes first.
func baseConfig(name string, first bool, in int) pyObject {
	cfg := pyObject{{"name", name}, {"trainable", true}}
	if first {
		cfg = append(cfg, pyField{"batch_input_shape", []any{nil, in}}, pyField{"dtype", "float32"})
	}
	return cfg
}

// kerasConfig implements kerasLayer.
func (d *Dense) kerasConfig(first bool, in int) (string, pyObject, error) {
	_, act, err := lookupActivation(d.Activation)
	if err != nil {
		return "", nil, err
	}
	kinit, binit := d.KernelInitializer, d.BiasInitializer
	if kinit == nil {
		kinit = graph.GlorotUniform{}
	}
	if binit == nil {
		binit = graph.Zeros{}
	}
	kj, err := initializerJSON(kinit)
	if err != nil {
		return "", nil, fmt.Errorf("kernel_initializer: %w", err)
	}
	bj, err := initializerJSON(binit)
	if err != nil {
		return "", nil, fmt.Errorf("bias_initializer: %w", err)
	}
	cfg := baseConfig(d.name, first, in)
	cfg = append(cfg,
		pyField{"units", d.Units},
		pyField{"activation", act},
		pyField{"use_bias", !d.NoBias},
		pyField{"kernel_initializer", kj},
		pyField{"bias_initializer", bj},
		pyField{"kernel_regularizer", nil},
		pyField{"bias_regularizer", nil},
		pyField{"activity_regularizer", nil},
		pyField{"kernel_constraint", nil},
		pyField{"bias_constraint", nil},
	)
	if alpha, ok := extraAlpha(act, d.Alpha); ok {
		cfg = append(cfg, pyField{descentAlphaKey, alpha})
	}
	return "Dense", cfg, nil
}

// extraAlpha returns the alpha to write under descent_alpha for an
// activation name, if Keras's name alone does not imply it.
func extraAlpha(act string, alpha float64) (float64, bool) {
	def := activations[act].alpha
	if alpha == 0 {
		alpha = def
	}
	switch act {
	case "leaky_relu":
		return alpha, true
	case "elu":
		return alpha, alpha != 1
	}
	return 0, false
}

// kerasConfig implements kerasLayer.
func (a *Activation) kerasConfig(first bool, in int) (string, pyObject, error) {
	_, act, err := lookupActivation(a.Fn)
	if err != nil {
		return "", nil, err
	}
	cfg := baseConfig(a.name, first, in)
	alpha, extra := extraAlpha(act, a.Alpha)
	switch {
	case act == "leaky_relu":
		return "LeakyReLU", append(cfg, pyField{"alpha", alpha}), nil
	case act == "elu" && extra:
		return "ELU", append(cfg, pyField{"alpha", alpha}), nil
	}
	return "Activation", append(cfg, pyField{"activation", act}), nil
}

// initializerJSON returns Keras 2.2.4's serialisation of an initialiser.
func initializerJSON(in graph.Initializer) (pyObject, error) {
	vs := func(scale float64, mode, dist string) pyObject {
		return pyObject{{"class_name", "VarianceScaling"}, {"config", pyObject{
			{"scale", scale}, {"mode", mode}, {"distribution", dist}, {"seed", nil}}}}
	}
	plain := func(class string, cfg pyObject) pyObject {
		if cfg == nil {
			cfg = pyObject{}
		}
		return pyObject{{"class_name", class}, {"config", cfg}}
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
		return plain("Constant", pyObject{{"value", v.Value}}), nil
	case *graph.Constant:
		return plain("Constant", pyObject{{"value", v.Value}}), nil
	case graph.RandomUniform:
		return randomUniformJSON(v), nil
	case *graph.RandomUniform:
		return randomUniformJSON(*v), nil
	case graph.RandomNormal:
		return randomNormalJSON(v), nil
	case *graph.RandomNormal:
		return randomNormalJSON(*v), nil
	}
	return nil, fmt.Errorf("initialiser %T (%s) has no Keras JSON form: %w", in, in.Name(), ErrUnsupported)
}

func randomUniformJSON(r graph.RandomUniform) pyObject {
	lo, hi := r.Min, r.Max
	if lo == 0 && hi == 0 {
		lo, hi = -0.05, 0.05
	}
	return pyObject{{"class_name", "RandomUniform"}, {"config", pyObject{{"minval", lo}, {"maxval", hi}, {"seed", nil}}}}
}

func randomNormalJSON(r graph.RandomNormal) pyObject {
	sd := r.Stddev
	if sd == 0 {
		sd = 0.05
	}
	return pyObject{{"class_name", "RandomNormal"}, {"config", pyObject{{"mean", r.Mean}, {"stddev", sd}, {"seed", nil}}}}
}

// FromJSON returns the Sequential model described by Keras JSON (the text
// of model.to_json(), or what ToJSON writes), with its layers' names,
// unbuilt: Build or Compile it, then load weights. A layer class, an
// activation or an option descent lacks (a regularizer or constraint that
// is not null, trainable false, an initialiser seed, ...) is an error that
// names the layer and the option and wraps ErrUnsupported; malformed JSON
// wraps ErrFormat and gives the line and column.
func FromJSON(b []byte) (*Sequential, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, jsonSyntaxError(b, err)
	}
	c := &kerasReader{where: "model", m: top}
	var class string
	if err := c.get("class_name", &class, true); err != nil {
		return nil, err
	}
	if class != "Sequential" {
		return nil, fmt.Errorf("nn: keras json: model class %q: descent reads Sequential models only: %w", class, ErrUnsupported)
	}
	var version, backend string
	if err := c.get("keras_version", &version, false); err != nil {
		return nil, err
	}
	if strings.HasPrefix(version, "3") {
		return nil, fmt.Errorf("nn: keras json: keras_version %q: descent reads the Keras 2 format: %w", version, ErrUnsupported)
	}
	if err := c.get("backend", &backend, false); err != nil {
		return nil, err
	}
	raw, ok := c.take("config")
	if !ok {
		return nil, fmt.Errorf("nn: keras json: model has no config: %w", ErrFormat)
	}
	if err := c.done(); err != nil {
		return nil, err
	}
	// Keras 2.2 and later: {"name": ..., "layers": [...]}; earlier: [...].
	var layers []json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		if err := json.Unmarshal(raw, &layers); err != nil {
			return nil, fmt.Errorf("nn: keras json: model config: %v: %w", err, ErrFormat)
		}
	} else {
		var mc map[string]json.RawMessage
		if err := json.Unmarshal(raw, &mc); err != nil {
			return nil, fmt.Errorf("nn: keras json: model config: %v: %w", err, ErrFormat)
		}
		c := &kerasReader{where: "model config", m: mc}
		var name string
		if err := c.get("name", &name, false); err != nil {
			return nil, err
		}
		if err := c.get("layers", &layers, true); err != nil {
			return nil, err
		}
		if err := c.done(); err != nil {
			return nil, err
		}
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("nn: keras json: model has no layers: %w", ErrFormat)
	}
	m := NewSequential()
	inputDim := 0
	for i, rl := range layers {
		var lm map[string]json.RawMessage
		if err := json.Unmarshal(rl, &lm); err != nil {
			return nil, fmt.Errorf("nn: keras json: layer %d: %v: %w", i+1, err, ErrFormat)
		}
		lc := &kerasReader{where: fmt.Sprintf("layer %d", i+1), m: lm}
		var lclass string
		var cfg map[string]json.RawMessage
		if err := lc.get("class_name", &lclass, true); err != nil {
			return nil, err
		}
		if err := lc.get("config", &cfg, true); err != nil {
			return nil, err
		}
		if err := lc.done(); err != nil {
			return nil, err
		}
		c := &kerasReader{where: fmt.Sprintf("layer %d", i+1), m: cfg}
		var name string
		if err := c.get("name", &name, false); err != nil {
			return nil, err
		}
		if name != "" {
			c.where = fmt.Sprintf("layer %d (%s)", i+1, name)
		}
		first := len(m.layers) == 0
		if lclass == "InputLayer" {
			if !first || inputDim != 0 {
				return nil, fmt.Errorf("nn: keras json: %s: an InputLayer must come first: %w", c.where, ErrUnsupported)
			}
			d, err := decodeInputLayer(c)
			if err != nil {
				return nil, err
			}
			inputDim = d
			continue
		}
		dec, ok := kerasDecoders[lclass]
		if !ok {
			return nil, fmt.Errorf("nn: keras json: %s: layer class %q is not supported (descent has %s): %w", c.where, lclass, strings.Join(kerasClassNames(), ", "), ErrUnsupported)
		}
		l, err := dec(c, first, inputDim)
		if err != nil {
			return nil, err
		}
		if err := c.done(); err != nil {
			return nil, err
		}
		if name != "" {
			l.SetName(name)
		}
		if err := m.Add(l); err != nil {
			return nil, fmt.Errorf("nn: keras json: %s: %w", c.where, err)
		}
	}
	if len(m.layers) == 0 {
		return nil, fmt.Errorf("nn: keras json: model has only an InputLayer: %w", ErrFormat)
	}
	if err := m.shapes(); err != nil {
		return nil, fmt.Errorf("nn: keras json: %w", err)
	}
	return m, nil
}

func kerasClassNames() []string {
	names := []string{"InputLayer"}
	for n := range kerasDecoders {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// jsonSyntaxError turns a json error into one with line and column.
func jsonSyntaxError(b []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := jsonLineCol(b, se.Offset)
		return fmt.Errorf("nn: keras json: line %d column %d: %v: %w", line, col, se, ErrFormat)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		line, col := jsonLineCol(b, te.Offset)
		return fmt.Errorf("nn: keras json: line %d column %d: the model is a JSON %s, want an object: %w", line, col, te.Value, ErrFormat)
	}
	return fmt.Errorf("nn: keras json: %v: %w", err, ErrFormat)
}

func jsonLineCol(b []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(b)))
	line = 1 + bytes.Count(b[:off], []byte("\n"))
	col = int(off) - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}

// kerasReader reads one JSON object's keys, remembering which were used so
// that done can report the rest.
type kerasReader struct {
	where string // "layer 2 (dense_2)"
	m     map[string]json.RawMessage
}

// take removes and returns a key's raw value.
func (c *kerasReader) take(key string) (json.RawMessage, bool) {
	v, ok := c.m[key]
	delete(c.m, key)
	return v, ok
}

// get decodes key into dst; a missing key is an error when required.
func (c *kerasReader) get(key string, dst any, required bool) error {
	v, ok := c.take(key)
	if !ok {
		if required {
			return fmt.Errorf("nn: keras json: %s: missing %q: %w", c.where, key, ErrFormat)
		}
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("nn: keras json: %s: %s is %s: %v: %w", c.where, key, jsonExcerpt(v), err, ErrFormat)
	}
	return nil
}

// null checks that key is absent or null: an option descent lacks.
func (c *kerasReader) null(key, what string) error {
	v, ok := c.take(key)
	if ok && string(bytes.TrimSpace(v)) != "null" {
		return fmt.Errorf("nn: keras json: %s: %s is %s; descent has no %s: %w", c.where, key, jsonExcerpt(v), what, ErrUnsupported)
	}
	return nil
}

// common reads the keys every Keras layer may carry: trainable, dtype and,
// on the first layer, batch_input_shape. It returns the declared input
// width (0 if none).
func (c *kerasReader) common(first bool) (int, error) {
	trainable := true
	if err := c.get("trainable", &trainable, false); err != nil {
		return 0, err
	}
	if !trainable {
		return 0, fmt.Errorf("nn: keras json: %s: trainable is false; descent trains every layer: %w", c.where, ErrUnsupported)
	}
	var dtype string
	if err := c.get("dtype", &dtype, false); err != nil {
		return 0, err
	}
	switch dtype {
	case "", "float16", "float32", "float64":
	default:
		return 0, fmt.Errorf("nn: keras json: %s: dtype %q: descent computes in float32 or float64: %w", c.where, dtype, ErrUnsupported)
	}
	v, ok := c.take("batch_input_shape")
	if !ok {
		return 0, nil
	}
	return c.inputShape("batch_input_shape", v, first)
}

func (c *kerasReader) inputShape(key string, v json.RawMessage, first bool) (int, error) {
	var shape []*int
	if err := json.Unmarshal(v, &shape); err != nil {
		return 0, fmt.Errorf("nn: keras json: %s: %s is %s: %v: %w", c.where, key, jsonExcerpt(v), err, ErrFormat)
	}
	if len(shape) != 2 || shape[0] != nil || shape[1] == nil || *shape[1] <= 0 {
		return 0, fmt.Errorf("nn: keras json: %s: %s is %s; descent takes [null, width] (rows of a free batch size): %w", c.where, key, jsonExcerpt(v), ErrUnsupported)
	}
	if !first {
		return 0, fmt.Errorf("nn: keras json: %s: %s on a layer that is not the first: %w", c.where, key, ErrUnsupported)
	}
	return *shape[1], nil
}

// done reports the keys nobody read.
func (c *kerasReader) done() error {
	if len(c.m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return fmt.Errorf("nn: keras json: %s: unsupported option %q (= %s): %w", c.where, keys[0], jsonExcerpt(c.m[keys[0]]), ErrUnsupported)
}

// jsonExcerpt returns raw JSON for an error message, cut to a readable length.
func jsonExcerpt(v json.RawMessage) string {
	s := string(bytes.TrimSpace(v))
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func decodeInputLayer(c *kerasReader) (int, error) {
	var sparse, ragged bool
	if err := c.get("sparse", &sparse, false); err != nil {
		return 0, err
	}
	if err := c.get("ragged", &ragged, false); err != nil {
		return 0, err
	}
	if sparse || ragged {
		return 0, fmt.Errorf("nn: keras json: %s: sparse or ragged input: %w", c.where, ErrUnsupported)
	}
	in, err := c.common(true)
	if err != nil {
		return 0, err
	}
	if in == 0 {
		return 0, fmt.Errorf("nn: keras json: %s: InputLayer without batch_input_shape: %w", c.where, ErrFormat)
	}
	return in, c.done()
}

// activationName checks a Keras activation name against descent's.
func (c *kerasReader) activationName(name string) (string, error) {
	_, key, err := lookupActivation(name)
	if err != nil {
		return "", fmt.Errorf("nn: keras json: %s: %w: %w", c.where, err, ErrUnsupported)
	}
	return key, nil
}

// alphaFor reads descent_alpha for an activation; leaky_relu or elu with
// alpha 0 are relu.
func (c *kerasReader) alphaFor(act string) (string, float64, error) {
	var alpha *float64
	if err := c.get(descentAlphaKey, &alpha, false); err != nil {
		return "", 0, err
	}
	if alpha == nil {
		return act, 0, nil
	}
	if act != "leaky_relu" && act != "elu" {
		return "", 0, fmt.Errorf("nn: keras json: %s: %s given for activation %q, which has no alpha: %w", c.where, descentAlphaKey, act, ErrFormat)
	}
	if *alpha == 0 {
		return "relu", 0, nil
	}
	return act, *alpha, nil
}

func decodeDense(c *kerasReader, first bool, inputDim int) (Layer, error) {
	in, err := c.common(first)
	if err != nil {
		return nil, err
	}
	if first && in == 0 {
		in = inputDim
	}
	if first && in == 0 {
		// Keras 1's spelling.
		if err := c.get("input_dim", &in, false); err != nil {
			return nil, err
		}
		if in == 0 {
			return nil, fmt.Errorf("nn: keras json: %s: the first layer has no batch_input_shape; descent needs the input width: %w", c.where, ErrFormat)
		}
	}
	d := &Dense{InputDim: in}
	if err := c.get("units", &d.Units, true); err != nil {
		return nil, err
	}
	if d.Units <= 0 {
		return nil, fmt.Errorf("nn: keras json: %s: units %d must be positive: %w", c.where, d.Units, ErrFormat)
	}
	act := "linear"
	if err := c.get("activation", &act, false); err != nil {
		return nil, err
	}
	if d.Activation, err = c.activationName(act); err != nil {
		return nil, err
	}
	if d.Activation, d.Alpha, err = c.alphaFor(d.Activation); err != nil {
		return nil, err
	}
	useBias := true
	if err := c.get("use_bias", &useBias, false); err != nil {
		return nil, err
	}
	d.NoBias = !useBias
	if v, ok := c.take("kernel_initializer"); ok {
		if d.KernelInitializer, err = c.initializer("kernel_initializer", v); err != nil {
			return nil, err
		}
	}
	if v, ok := c.take("bias_initializer"); ok {
		if d.BiasInitializer, err = c.initializer("bias_initializer", v); err != nil {
			return nil, err
		}
	}
	for _, k := range []string{"kernel_regularizer", "bias_regularizer", "activity_regularizer"} {
		if err := c.null(k, "regularizers"); err != nil {
			return nil, err
		}
	}
	for _, k := range []string{"kernel_constraint", "bias_constraint"} {
		if err := c.null(k, "weight constraints"); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func decodeActivation(c *kerasReader, first bool, _ int) (Layer, error) {
	if err := c.notFirst(first); err != nil {
		return nil, err
	}
	var act string
	if err := c.get("activation", &act, true); err != nil {
		return nil, err
	}
	key, err := c.activationName(act)
	if err != nil {
		return nil, err
	}
	a := &Activation{Fn: key}
	if a.Fn, a.Alpha, err = c.alphaFor(key); err != nil {
		return nil, err
	}
	return a, nil
}

// notFirst reads the common keys of a layer without weights, which cannot
// be a descent model's first layer (the input width comes from a Dense).
func (c *kerasReader) notFirst(first bool) error {
	in, err := c.common(first)
	if err != nil {
		return err
	}
	if first || in != 0 {
		return fmt.Errorf("nn: keras json: %s: descent's first layer must be a Dense layer: %w", c.where, ErrUnsupported)
	}
	return nil
}

// decodeLeakyReLU reads Keras's LeakyReLU layer (alpha, default 0.3 in
// Keras 2; Keras 3's negative_slope, default 0.2, is accepted too).
func decodeLeakyReLU(c *kerasReader, first bool, _ int) (Layer, error) {
	return decodeAlphaLayer(c, first, "leaky_relu", 0.3)
}

// decodeELU reads Keras's ELU layer (alpha, default 1).
func decodeELU(c *kerasReader, first bool, _ int) (Layer, error) {
	return decodeAlphaLayer(c, first, "elu", 1)
}

func decodeAlphaLayer(c *kerasReader, first bool, fn string, def float64) (Layer, error) {
	if err := c.notFirst(first); err != nil {
		return nil, err
	}
	alpha := def
	if err := c.get("alpha", &alpha, false); err != nil {
		return nil, err
	}
	if fn == "leaky_relu" {
		if err := c.get("negative_slope", &alpha, false); err != nil {
			return nil, err
		}
	}
	if math.IsNaN(alpha) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("nn: keras json: %s: alpha %v is not finite: %w", c.where, alpha, ErrFormat)
	}
	if alpha == 0 {
		return &Activation{Fn: "relu"}, nil
	}
	return &Activation{Fn: fn, Alpha: alpha}, nil
}

// initializer decodes a Keras initialiser: {"class_name", "config"} or a
// bare name ("glorot_uniform").
func (c *kerasReader) initializer(key string, v json.RawMessage) (graph.Initializer, error) {
	var name string
	if json.Unmarshal(v, &name) == nil {
		in, err := graph.InitializerByName(name)
		if err != nil {
			return nil, fmt.Errorf("nn: keras json: %s: %s: %w: %w", c.where, key, err, ErrUnsupported)
		}
		return in, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(v, &obj); err != nil {
		return nil, fmt.Errorf("nn: keras json: %s: %s is %s: %v: %w", c.where, key, jsonExcerpt(v), err, ErrFormat)
	}
	oc := &kerasReader{where: c.where + ": " + key, m: obj}
	var class string
	cfg := map[string]json.RawMessage{}
	if err := oc.get("class_name", &class, true); err != nil {
		return nil, err
	}
	if err := oc.get("config", &cfg, false); err != nil {
		return nil, err
	}
	if err := oc.done(); err != nil {
		return nil, err
	}
	ic := &kerasReader{where: fmt.Sprintf("%s: %s %s", c.where, key, class), m: cfg}
	if err := ic.null("seed", "per-initialiser seeds (descent seeds every initialiser from BuildConfig.Seed)"); err != nil {
		return nil, err
	}
	var in graph.Initializer
	switch snake(class) {
	case "variance_scaling":
		var scale float64 = 1
		mode, dist := "fan_in", "normal"
		if err := ic.get("scale", &scale, false); err != nil {
			return nil, err
		}
		if err := ic.get("mode", &mode, false); err != nil {
			return nil, err
		}
		if err := ic.get("distribution", &dist, false); err != nil {
			return nil, err
		}
		in = varianceScaling(scale, mode, dist)
		if in == nil {
			return nil, fmt.Errorf("nn: keras json: %s: %s VarianceScaling{scale %v, mode %s, distribution %s} has no descent equivalent (descent has scale 1 fan_avg (glorot), scale 2 fan_in (he) and scale 1 fan_in (lecun), each uniform or normal): %w", c.where, key, scale, mode, dist, ErrUnsupported)
		}
	case "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal", "zeros", "ones":
		in, _ = graph.InitializerByName(snake(class))
	case "constant":
		var val float64
		if err := ic.get("value", &val, false); err != nil {
			return nil, err
		}
		in = graph.Constant{Value: val}
	case "random_uniform":
		r := graph.RandomUniform{Min: -0.05, Max: 0.05}
		if err := ic.get("minval", &r.Min, false); err != nil {
			return nil, err
		}
		if err := ic.get("maxval", &r.Max, false); err != nil {
			return nil, err
		}
		in = r
	case "random_normal":
		r := graph.RandomNormal{Stddev: 0.05}
		if err := ic.get("mean", &r.Mean, false); err != nil {
			return nil, err
		}
		if err := ic.get("stddev", &r.Stddev, false); err != nil {
			return nil, err
		}
		in = r
	default:
		return nil, fmt.Errorf("nn: keras json: %s: %s class %q is not supported (descent has VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Zeros, Ones, Constant, RandomUniform, RandomNormal): %w", c.where, key, class, ErrUnsupported)
	}
	if err := ic.done(); err != nil {
		return nil, err
	}
	// Validate the parameters now rather than at Build.
	if err := checkRandomInit(in); err != nil {
		return nil, fmt.Errorf("nn: keras json: %s: %s: %v: %w", c.where, key, err, ErrFormat)
	}
	return in, nil
}

// checkRandomInit validates the parameters of the random initialisers.
func checkRandomInit(in graph.Initializer) error {
	switch v := in.(type) {
	case graph.RandomUniform:
		if !(v.Min <= v.Max) || math.IsInf(v.Min, 0) || math.IsInf(v.Max, 0) {
			return fmt.Errorf("random_uniform needs finite minval <= maxval, got [%v, %v]", v.Min, v.Max)
		}
	case graph.RandomNormal:
		if !(v.Stddev > 0) || math.IsInf(v.Stddev, 0) || math.IsNaN(v.Mean) || math.IsInf(v.Mean, 0) {
			return fmt.Errorf("random_normal needs a finite mean and a positive stddev, got mean %v stddev %v", v.Mean, v.Stddev)
		}
	}
	return nil
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

// pyObject is a JSON object with ordered keys, written as Python's
// json.dumps writes a dict.
type pyObject []pyField

type pyField struct {
	key string
	val any
}

// writePy writes v as Python's json.dumps(v) would: ", " and ": "
// separators, floats as repr, ASCII-only strings. v is nil, a bool, an
// int, a float64, a string, a []any or a pyObject.
func writePy(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("value %v is not finite", v)
		}
		b.WriteString(pyFloat(v))
	case string:
		writePyString(b, v)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writePy(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case pyObject:
		b.WriteByte('{')
		for i, f := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyString(b, f.key)
			b.WriteString(": ")
			if err := writePy(b, f.val); err != nil {
				return fmt.Errorf("%s: %w", f.key, err)
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("cannot write a %T", v)
	}
	return nil
}

// pyFloat formats f as Python's repr(float): the shortest digits that
// round-trip, in fixed notation when the decimal exponent is in [-4, 16)
// (with ".0" for integers) and in exponent notation ("1e-05") otherwise.
func pyFloat(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // [-]d[.ddd]e±dd
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	mant, exps, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(exps)
	digits := strings.Replace(mant, ".", "", 1)
	decpt := exp + 1 // f = 0.digits × 10^decpt
	switch {
	case decpt <= -4 || decpt > 16:
		out := digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		es := "+"
		if exp < 0 {
			es, exp = "-", -exp
		}
		return fmt.Sprintf("%s%se%s%02d", sign, out, es, exp)
	case decpt <= 0:
		return sign + "0." + strings.Repeat("0", -decpt) + digits
	case decpt >= len(digits):
		return sign + digits + strings.Repeat("0", decpt-len(digits)) + ".0"
	}
	return sign + digits[:decpt] + "." + digits[decpt:]
}

// writePyString writes s as json.dumps does with ensure_ascii: printable
// ASCII as is, the usual short escapes, everything else as \uXXXX (UTF-16).
func writePyString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	u := func(r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hex[(r>>shift)&0xf])
		}
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r >= 0x10000:
			r1, r2 := utf16.EncodeRune(r)
			u(r1)
			u(r2)
		default:
			u(r)
		}
	}
	b.WriteByte('"')
}
