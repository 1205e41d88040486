package keras

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
)

// Version and Backend are what ToJSON declares.
const (
	Version = "2.2.4"
	Backend = "tensorflow"
)

// ToJSON returns the model's architecture in the format of Keras 2.2.4's
// model.to_json(), which Keras 2.2.4's model_from_json loads (see the
// package documentation for the exceptions). The model need not be built;
// its layer stack must be valid. Weights are not included: see nn/persist.
func ToJSON(m *nn.Sequential) ([]byte, error) {
	widths, err := m.Widths()
	if err != nil {
		return nil, fmt.Errorf("keras: to json: %w", err)
	}
	layers := make([]any, 0, len(m.Layers()))
	for i, l := range m.Layers() {
		obj, err := LayerJSON(l, i == 0, widths[i])
		if err != nil {
			return nil, fmt.Errorf("keras: to json: layer %d (%s): %w", i+1, l.Name(), err)
		}
		layers = append(layers, obj)
	}
	top := nn.Config{
		{Key: "class_name", Value: "Sequential"},
		{Key: "config", Value: nn.Config{{Key: "name", Value: "sequential_1"}, {Key: "layers", Value: layers}}},
		{Key: "keras_version", Value: Version},
		{Key: "backend", Value: Backend},
	}
	var b bytes.Buffer
	if err := writePy(&b, top); err != nil {
		return nil, fmt.Errorf("keras: to json: %w", err)
	}
	return b.Bytes(), nil
}

// LayerJSON returns one layer's {"class_name", "config"} object: the keys
// Keras's Layer.get_config writes first (name, trainable, and on the first
// layer batch_input_shape [null, in] and dtype), then the layer's Config,
// its initialisers and regularizers in Keras's form (InitializerConfig,
// nn.Regularizer's Config). Every value of the result is a JSON value.
func LayerJSON(l nn.Layer, first bool, in int) (nn.Config, error) {
	class, layerCfg, err := l.Config()
	if err != nil {
		return nil, err
	}
	v, err := jsonValue(layerCfg)
	if err != nil {
		return nil, err
	}
	own, _ := v.(nn.Config)
	if class == "" {
		class = l.ClassName()
	}
	cfg := nn.Config{{Key: "name", Value: l.Name()}, {Key: "trainable", Value: true}}
	if first {
		cfg = append(cfg, nn.Field{Key: "batch_input_shape", Value: []any{nil, in}}, nn.Field{Key: "dtype", Value: "float32"})
	}
	return nn.Config{{Key: "class_name", Value: class}, {Key: "config", Value: append(cfg, own...)}}, nil
}

// jsonValue returns v with every graph.Initializer and nn.Regularizer in
// it, at any depth, replaced by its Keras serialisation.
func jsonValue(v any) (any, error) {
	switch v := v.(type) {
	case graph.Initializer:
		return InitializerConfig(v)
	case nn.Regularizer:
		c, err := v.Config()
		if err != nil {
			return nil, err
		}
		return jsonValue(c)
	case nn.Config:
		out := make(nn.Config, len(v))
		for i, f := range v {
			jv, err := jsonValue(f.Value)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Key, err)
			}
			out[i] = nn.Field{Key: f.Key, Value: jv}
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			jv, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = jv
		}
		return out, nil
	}
	return v, nil
}

// ModelConfig returns the model's architecture as Keras 2.2.4's
// model.save stores it in an HDF5 file's model_config attribute: ToJSON's
// text without the keras_version and backend keys, which model.save
// writes as attributes of their own.
func ModelConfig(m *nn.Sequential) ([]byte, error) {
	js, err := ToJSON(m)
	if err != nil {
		return nil, err
	}
	tail := fmt.Sprintf(`, "keras_version": "%s", "backend": "%s"}`, Version, Backend)
	if !bytes.HasSuffix(js, []byte(tail)) {
		return nil, fmt.Errorf("keras: model config: ToJSON's text does not end with %s", tail)
	}
	return append(js[:len(js)-len(tail)], '}'), nil
}

// DefaultMaxBytes is the size of the largest JSON text FromJSON reads when
// Options.MaxBytes is zero: 4 MiB, the architecture of some 6000 Dense
// layers. Parsing takes about 10 bytes of memory per byte of text, so the
// limit bounds what a stranger's text costs.
const DefaultMaxBytes = 4 << 20

// Options configures FromJSON.
type Options struct {
	// Layers decodes layers by Keras class name. If nil,
	// BuiltinLayers(); add a program's own layers to a copy of it.
	Layers LayerRegistry
	// MaxParams bounds the parameters of the model described (see
	// nn.Sequential.CheckParams), so that a text claiming 10^9 units is
	// refused before Build would allocate them. If zero,
	// nn.DefaultMaxParams (10^8); negative means no limit. Build the model
	// with the same nn.BuildConfig.MaxParams.
	MaxParams int64
	// MaxBytes bounds the length of the text. If zero, DefaultMaxBytes;
	// negative means no limit.
	MaxBytes int
}

// FromJSON reads Keras JSON with the built-in layers (see
// Options.FromJSON).
func FromJSON(b []byte) (*nn.Sequential, error) { return Options{}.FromJSON(b) }

// FromJSON returns the Sequential model described by Keras JSON (the text
// of model.to_json(), or what ToJSON writes), with its layers' names,
// unbuilt: Build or Compile it, then load weights. A layer class, an
// activation or an option descent lacks (an activity regularizer or a
// constraint that is not null, trainable false, an initialiser seed, ...)
// is an error that names the layer and the option and wraps
// nn.ErrUnsupported; malformed JSON wraps nn.ErrFormat and gives the line
// and column. A text longer than MaxBytes, or a model of more parameters
// than MaxParams, is an error wrapping nn.ErrLimit that names the layer,
// its units and the bytes its weights would take.
func (o Options) FromJSON(b []byte) (*nn.Sequential, error) {
	reg := o.Layers
	if reg == nil {
		reg = BuiltinLayers()
	}
	limit := o.MaxBytes
	if limit == 0 {
		limit = DefaultMaxBytes
	}
	if limit > 0 && len(b) > limit {
		return nil, fmt.Errorf("keras: the JSON text is %d bytes, over the limit of %d (raise keras.Options.MaxBytes): %w", len(b), limit, nn.ErrLimit)
	}
	v, err := Parse(b)
	if err != nil {
		return nil, err
	}
	top, ok := v.(nn.Config)
	if !ok {
		return nil, fmt.Errorf("keras: line 1 column 1: the model is a JSON %s, want an object: %w", kind(v), nn.ErrFormat)
	}
	c := NewConfigReader("keras: model", top)
	var class, version, backend string
	var raw any
	if err := first(c.Require("class_name", &class), c.Require("config", &raw)); err != nil {
		return nil, err
	}
	if class != "Sequential" {
		return nil, c.Errorf(nn.ErrUnsupported, "model class %q: descent reads Sequential models only", class)
	}
	if err := first(c.Read("keras_version", &version), c.Read("backend", &backend), c.Done()); err != nil {
		return nil, err
	}
	if strings.HasPrefix(version, "3") {
		return nil, c.Errorf(nn.ErrUnsupported, "keras_version %q: descent reads the Keras 2 format", version)
	}
	// Keras 2.2 and later: {"name": ..., "layers": [...]}; earlier: [...].
	layers, isList := raw.([]any)
	if !isList {
		mc, ok := raw.(nn.Config)
		if !ok {
			return nil, c.Errorf(nn.ErrFormat, "config is %s, want an object or a list", FormatValue(raw))
		}
		r := NewConfigReader("keras: model config", mc)
		var name string
		if err := first(r.Read("name", &name), r.Require("layers", &layers), r.Done()); err != nil {
			return nil, err
		}
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("keras: model has no layers: %w", nn.ErrFormat)
	}
	m := nn.NewSequential()
	inputDim, n := 0, 0
	for i, lv := range layers {
		where := fmt.Sprintf("keras: layer %d", i+1)
		lm, ok := lv.(nn.Config)
		if !ok {
			return nil, fmt.Errorf("%s is %s, want an object: %w", where, FormatValue(lv), nn.ErrFormat)
		}
		lc := NewConfigReader(where, lm)
		var lclass string
		var cfg nn.Config
		if err := first(lc.Require("class_name", &lclass), lc.Require("config", &cfg), lc.Done()); err != nil {
			return nil, err
		}
		var name string
		if err := NewConfigReader(where, cfg).Read("name", &name); err != nil {
			return nil, err
		}
		if name != "" {
			where = fmt.Sprintf("keras: layer %d (%s)", i+1, name)
		}
		r := NewConfigReader(where, cfg)
		in, err := common(r, n == 0)
		if err != nil {
			return nil, err
		}
		if lclass == "InputLayer" {
			if n > 0 || inputDim != 0 {
				return nil, r.Errorf(nn.ErrUnsupported, "an InputLayer must come first")
			}
			if inputDim, err = inputLayer(r, in); err != nil {
				return nil, err
			}
			continue
		}
		dec, ok := reg[lclass]
		if !ok {
			return nil, r.Errorf(nn.ErrUnsupported, "layer class %q is not supported (descent has InputLayer, %s)", lclass, strings.Join(reg.Classes(), ", "))
		}
		l, err := dec(r)
		if err != nil {
			return nil, err
		}
		if l == nil {
			return nil, r.Errorf(nn.ErrConfig, "the decoder of %q returned no layer", lclass)
		}
		if err := r.Done(); err != nil {
			return nil, err
		}
		if name != "" {
			l.SetName(name)
		}
		if n == 0 {
			if err := setInput(r, l, max(in, inputDim)); err != nil {
				return nil, err
			}
		}
		if err := m.Add(l); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("keras: model has only an InputLayer: %w", nn.ErrFormat)
	}
	if _, err := m.Widths(); err != nil {
		return nil, fmt.Errorf("keras: %w", err)
	}
	if err := m.CheckParams(o.MaxParams); err != nil {
		return nil, fmt.Errorf("keras: %w (raise keras.Options.MaxParams to read it)", err)
	}
	return m, nil
}

// setInput gives the first layer the model's input width.
func setInput(r *ConfigReader, l nn.Layer, in int) error {
	iw, ok := l.(nn.InputWidther)
	if !ok {
		return r.Errorf(nn.ErrUnsupported, "a %s layer cannot be a model's first layer (it takes no input width; descent's first layer implements nn.InputWidther, as Dense does)", l.ClassName())
	}
	if in != 0 {
		iw.SetInputWidth(in)
	}
	if iw.InputWidth() == 0 {
		return r.Errorf(nn.ErrFormat, "the first layer has no batch_input_shape; descent needs the input width")
	}
	return nil
}

// first returns the first non-nil error.
func first(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// common reads the keys every Keras layer may carry: name, trainable,
// dtype and, on the first layer, batch_input_shape. It returns the
// declared input width (0 if none).
func common(r *ConfigReader, isFirst bool) (int, error) {
	trainable := true
	var name, dtype string
	var shape []any
	if err := first(r.Read("name", &name), r.Read("trainable", &trainable), r.Read("dtype", &dtype)); err != nil {
		return 0, err
	}
	if !trainable {
		return 0, r.Errorf(nn.ErrUnsupported, "trainable is false; descent trains every layer")
	}
	switch dtype {
	case "", "float16", "float32", "float64":
	default:
		return 0, r.Errorf(nn.ErrUnsupported, "dtype %q: descent computes in float32 or float64", dtype)
	}
	found, err := r.Get("batch_input_shape", &shape)
	if err != nil || !found {
		return 0, err
	}
	if len(shape) != 2 || shape[0] != nil {
		return 0, r.Errorf(nn.ErrUnsupported, "batch_input_shape is %s; descent takes [null, width] (rows of a free batch size)", FormatValue(shape))
	}
	in, ok := shape[1].(int)
	if !ok || in <= 0 {
		return 0, r.Errorf(nn.ErrUnsupported, "batch_input_shape is %s; descent takes [null, width] (rows of a free batch size)", FormatValue(shape))
	}
	if !isFirst {
		return 0, r.Errorf(nn.ErrUnsupported, "batch_input_shape on a layer that is not the first")
	}
	return in, nil
}

func inputLayer(r *ConfigReader, in int) (int, error) {
	var sparse, ragged bool
	if err := first(r.Read("sparse", &sparse), r.Read("ragged", &ragged)); err != nil {
		return 0, err
	}
	if sparse || ragged {
		return 0, r.Errorf(nn.ErrUnsupported, "sparse or ragged input")
	}
	if in == 0 {
		return 0, r.Errorf(nn.ErrFormat, "InputLayer without batch_input_shape")
	}
	return in, r.Done()
}

// Parse reads JSON text into Config values: objects become nn.Config with
// their keys in order, arrays []any, numbers int when written without a
// fraction or exponent (and within int's range), float64 otherwise. A
// syntax error gives the line and column and wraps nn.ErrFormat.
func Parse(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = fmt.Errorf("invalid character after the top-level value")
		}
	}
	if err != nil {
		line, col := lineCol(b, dec.InputOffset())
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col = lineCol(b, se.Offset)
		}
		return nil, fmt.Errorf("keras: line %d column %d: %v: %w", line, col, err, nn.ErrFormat)
	}
	return v, nil
}

// maxDepth bounds the nesting of arrays and objects Parse accepts.
const maxDepth = 64

func parseValue(dec *json.Decoder) (any, error) {
	return parseDepth(dec, 0)
}

func parseDepth(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, fmt.Errorf("nesting deeper than %d", maxDepth)
		}
		switch t {
		case '{':
			obj := nn.Config{}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				if seen[key] {
					return nil, fmt.Errorf("key %q appears twice in an object", key)
				}
				seen[key] = true
				v, err := parseDepth(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj = append(obj, nn.Field{Key: key, Value: v})
			}
			_, err := dec.Token() // '}'
			return obj, err
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := parseDepth(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token() // ']'
			return arr, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		s := string(t)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 0); err == nil {
				return int(i), nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s is out of range", s)
		}
		return f, nil
	default: // nil, bool, string
		return t, nil
	}
}

func kind(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case nil:
		return "null"
	case bool:
		return "boolean"
	}
	return "number"
}

func lineCol(b []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(b)))
	line = 1 + bytes.Count(b[:off], []byte("\n"))
	col = int(off) - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}

// writePy writes v as Python's json.dumps(v) would: ", " and ": "
// separators, floats as repr, ASCII-only strings. v is nil, a bool, an
// int, a float64, a string, a []any, a []int or an nn.Config.
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
		b.WriteString(FormatFloat(v))
	case string:
		writePyString(b, v)
	case []int:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = e
		}
		return writePy(b, s)
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
	case nn.Config:
		b.WriteByte('{')
		for i, f := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyString(b, f.Key)
			b.WriteString(": ")
			if err := writePy(b, f.Value); err != nil {
				return fmt.Errorf("%s: %w", f.Key, err)
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("cannot write a %T", v)
	}
	return nil
}

// FormatFloat formats f as Python's repr(float): the shortest digits that
// round-trip, in fixed notation when the decimal exponent is in [-4, 16)
// (with ".0" for integers) and in exponent notation ("1e-05") otherwise.
func FormatFloat(f float64) string {
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
