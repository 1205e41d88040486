package keras

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/descentlab/descent/nn"
)

// ConfigReader reads one nn.Config for a LayerDecoder, remembering the keys it
// read so that Done can report the others. Its errors begin with where it
// reads ("keras: layer 2 (dense_2)") and wrap nn.ErrFormat for a value of the
// wrong type and nn.ErrUnsupported for an option descent lacks.
type ConfigReader struct {
	where string
	cfg   nn.Config
	used  []bool
}

// NewConfigReader returns a reader of cfg; where names it in errors.
func NewConfigReader(where string, cfg nn.Config) *ConfigReader {
	return &ConfigReader{where: where, cfg: cfg, used: make([]bool, len(cfg))}
}

// Where returns what the reader reads, for error messages.
func (r *ConfigReader) Where() string { return r.where }

// Errorf returns an error that begins with Where and wraps kind.
func (r *ConfigReader) Errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", r.where, fmt.Sprintf(format, args...), kind)
}

// Get decodes key into dst, which is a *bool, *int, *float64, *string,
// *[]any, *nn.Config or *any, and reports whether the key was present. A
// null value counts as absent and leaves dst unchanged, as Keras treats
// None as the default. An int is accepted for a *float64; a float for an
// *int is an error.
func (r *ConfigReader) Get(key string, dst any) (bool, error) {
	i := slices.IndexFunc(r.cfg, func(f nn.Field) bool { return f.Key == key })
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
	case *nn.Config:
		*d, ok = v.(nn.Config)
		want = "an object"
	case *any:
		*d = v
	default:
		return true, r.Errorf(nn.ErrConfig, "cannot decode %s into a %T", key, dst)
	}
	if !ok {
		return true, r.Errorf(nn.ErrFormat, "%s is %s, want %s", key, FormatValue(v), want)
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
		return r.Errorf(nn.ErrFormat, "missing %q", key)
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
		return r.Errorf(nn.ErrUnsupported, "%s is %s: descent has no %s", key, FormatValue(v), what)
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
	return r.Errorf(nn.ErrUnsupported, "unsupported option %q (= %s)", left[0], FormatValue(v))
}

// FormatValue returns a Config value as short JSON text for error
// messages, as ToJSON would write it (Python's float repr, strings
// quoted), cut after 80 bytes.
func FormatValue(v any) string {
	var b bytes.Buffer
	var s string
	if writePy(&b, v) == nil {
		s = b.String()
	} else {
		s = fmt.Sprint(v)
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// Read is Get for an optional key: it returns only the error.
func (r *ConfigReader) Read(key string, dst any) error {
	_, err := r.Get(key, dst)
	return err
}

// object reads v as Keras's {"class_name": ..., "config": {...}} and
// returns the class and a reader of the inner config.
func (r *ConfigReader) object(key string, v any) (string, *ConfigReader, error) {
	obj, ok := v.(nn.Config)
	if !ok {
		return "", nil, r.Errorf(nn.ErrFormat, "%s is %s, want a name or {\"class_name\", \"config\"}", key, FormatValue(v))
	}
	oc := NewConfigReader(r.where+": "+key, obj)
	var class string
	cfg := nn.Config{}
	if err := first(oc.Require("class_name", &class), oc.Read("config", &cfg), oc.Done()); err != nil {
		return "", nil, err
	}
	return class, NewConfigReader(fmt.Sprintf("%s: %s %s", r.where, key, class), cfg), nil
}
