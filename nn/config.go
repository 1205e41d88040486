package nn

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Config is a layer's configuration in Keras's form: the keys its
// get_config() returns after the ones every layer has (name, trainable and,
// on a first layer, batch_input_shape and dtype), in the order Keras writes
// them. Values are JSON values: nil, bool, int, float64, string, []any,
// []int or a nested Config. Package nn/keras writes and reads it as Keras
// JSON text; a layer never sees JSON.
type Config []Field

// Field is one key of a Config.
type Field struct {
	Key   string
	Value any
}

// Lookup returns the value of key and whether it is present.
func (c Config) Lookup(key string) (any, bool) {
	for _, f := range c {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

// LayerDecoder makes a layer from its Keras config, read through c. It
// reads the keys it knows; the loader reports the keys it left as
// unsupported options.
type LayerDecoder func(c *ConfigReader) (Layer, error)

// LayerRegistry maps Keras class names to layer decoders: it is how a
// loader (keras.Options, persist.Options) turns "class_name" into a layer.
// There is no global registry: a loader uses BuiltinLayers unless given
// another, so a program registers its own layers on a map it owns:
//
//	layers := nn.BuiltinLayers()
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
		"LeakyReLU":  func(c *ConfigReader) (Layer, error) { return decodeAlphaLayer(c, "leaky_relu", 0.3) },
		"ELU":        func(c *ConfigReader) (Layer, error) { return decodeAlphaLayer(c, "elu", 1) },
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

// ConfigReader reads one Config for a LayerDecoder, remembering the keys it
// read so that Done can report the others. Its errors begin with where it
// reads ("keras: layer 2 (dense_2)") and wrap ErrFormat for a value of the
// wrong type and ErrUnsupported for an option descent lacks.
type ConfigReader struct {
	where string
	cfg   Config
	used  []bool
}

// NewConfigReader returns a reader of cfg; where names it in errors.
func NewConfigReader(where string, cfg Config) *ConfigReader {
	return &ConfigReader{where: where, cfg: cfg, used: make([]bool, len(cfg))}
}

// Where returns what the reader reads, for error messages.
func (r *ConfigReader) Where() string { return r.where }

// Errorf returns an error that begins with Where and wraps kind.
func (r *ConfigReader) Errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", r.where, fmt.Sprintf(format, args...), kind)
}

// Get decodes key into dst, which is a *bool, *int, *float64, *string,
// *[]any, *Config or *any, and reports whether the key was present. A
// null value counts as absent and leaves dst unchanged, as Keras treats
// None as the default. An int is accepted for a *float64; a float for an
// *int is an error.
func (r *ConfigReader) Get(key string, dst any) (bool, error) {
	i := slices.IndexFunc(r.cfg, func(f Field) bool { return f.Key == key })
	if i < 0 {
		return false, nil
	}
	r.used[i] = true
	v := r.cfg[i].Value
	if v == nil {
		return false, nil
	}
	ok := true
	want := ""
	switch d := dst.(type) {
	case *bool:
		*d, ok = v.(bool)
		want = "a boolean"
	case *int:
		*d, ok = v.(int)
		want = "an integer"
	case *float64:
		want = "a number"
		switch n := v.(type) {
		case float64:
			*d = n
		case int:
			*d = float64(n)
		default:
			ok = false
		}
	case *string:
		*d, ok = v.(string)
		want = "a string"
	case *[]any:
		*d, ok = v.([]any)
		want = "a list"
	case *Config:
		*d, ok = v.(Config)
		want = "an object"
	case *any:
		*d = v
	default:
		return true, r.Errorf(ErrConfig, "cannot decode %s into a %T", key, dst)
	}
	if !ok {
		return true, r.Errorf(ErrFormat, "%s is %s, want %s", key, FormatValue(v), want)
	}
	return true, nil
}

// Require is Get for a key that must be present and not null.
func (r *ConfigReader) Require(key string, dst any) error {
	found, err := r.Get(key, dst)
	if err != nil {
		return err
	}
	if !found {
		return r.Errorf(ErrFormat, "missing %q", key)
	}
	return nil
}

// Null reads a key that descent supports only when it is absent or null;
// what names the feature in the error ("weight constraints").
func (r *ConfigReader) Null(key, what string) error {
	var v any
	found, err := r.Get(key, &v)
	if err != nil {
		return err
	}
	if found {
		return r.Errorf(ErrUnsupported, "%s is %s: descent has no %s", key, FormatValue(v), what)
	}
	return nil
}

// Done reports the first key (in sorted order) that nobody read, as an
// unsupported option.
func (r *ConfigReader) Done() error {
	var left []string
	for i, f := range r.cfg {
		if !r.used[i] {
			left = append(left, f.Key)
		}
	}
	if len(left) == 0 {
		return nil
	}
	slices.Sort(left)
	v, _ := r.cfg.Lookup(left[0])
	return r.Errorf(ErrUnsupported, "unsupported option %q (= %s)", left[0], FormatValue(v))
}

// FormatValue returns a Config value as short JSON-like text for error
// messages: strings quoted, long values cut.
func FormatValue(v any) string {
	var b strings.Builder
	formatValue(&b, v)
	s := b.String()
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func formatValue(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		b.WriteString(strconv.Quote(v))
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e16 {
			b.WriteString(strconv.FormatFloat(v, 'f', 1, 64))
		} else {
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			formatValue(b, e)
		}
		b.WriteByte(']')
	case Config:
		b.WriteByte('{')
		for i, f := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(b, "%q: ", f.Key)
			formatValue(b, f.Value)
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, v)
	}
}
