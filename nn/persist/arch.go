package persist

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/keras"
)

// Architectures. A file that describes an architecture (a whole model, a
// checkpoint, a Keras model.save file) is checked against what it is
// loaded into, and against its own tensors, before anything is built or
// changed.

// maxDiffs bounds the differences an architecture comparison lists.
const maxDiffs = 20

// archLayer is one layer of a Keras JSON architecture.
type archLayer struct {
	class, name string
	cfg         nn.Config
}

// archLayers returns the layers of a Keras JSON text.
func archLayers(js []byte) ([]archLayer, error) {
	if len(js) > keras.DefaultMaxBytes {
		return nil, fmt.Errorf("%d bytes, over the limit of %d: %w", len(js), keras.DefaultMaxBytes, nn.ErrLimit)
	}
	v, err := keras.Parse(js)
	if err != nil {
		return nil, err
	}
	top, ok := v.(nn.Config)
	if !ok {
		return nil, fmt.Errorf("not a JSON object: %w", nn.ErrFormat)
	}
	var layers []any
	switch c, _ := top.Lookup("config"); c := c.(type) {
	case []any:
		layers = c
	case nn.Config:
		l, _ := c.Lookup("layers")
		layers, ok = l.([]any)
		if !ok {
			return nil, fmt.Errorf("config has no list of layers: %w", nn.ErrFormat)
		}
	default:
		return nil, fmt.Errorf("no config: %w", nn.ErrFormat)
	}
	out := make([]archLayer, 0, len(layers))
	for i, lv := range layers {
		obj, ok := lv.(nn.Config)
		if !ok {
			return nil, fmt.Errorf("layer %d is %s, want an object: %w", i+1, keras.FormatValue(lv), nn.ErrFormat)
		}
		class, _ := obj.Lookup("class_name")
		cfg, _ := obj.Lookup("config")
		l := archLayer{cfg: nn.Config{}}
		l.class, _ = class.(string)
		if c, ok := cfg.(nn.Config); ok {
			l.cfg = c
		}
		name, _ := l.cfg.Lookup("name")
		l.name, _ = name.(string)
		out = append(out, l)
	}
	return out, nil
}

// diffArchitecture lists how the architecture in a file (what names it:
// "the checkpoint", "the file") differs from the model's, layer by layer
// and field by field: "layer 1 (dense_1): units: the checkpoint 20, the
// model 10".
func diffArchitecture(what string, file, model []byte) ([]string, error) {
	fl, err := archLayers(file)
	if err != nil {
		return nil, fmt.Errorf("the architecture in %s: %w", what, err)
	}
	ml, err := archLayers(model)
	if err != nil {
		return nil, fmt.Errorf("the model's architecture: %w", err)
	}
	var d []string
	if len(fl) != len(ml) {
		d = append(d, fmt.Sprintf("%s's model has %d layers (%s), the model %d (%s)", what, len(fl), layerNames(fl), len(ml), layerNames(ml)))
		return d, nil
	}
	for i := range fl {
		a, b := fl[i], ml[i]
		where := fmt.Sprintf("layer %d (%s)", i+1, b.name)
		if a.class != b.class || a.name != b.name {
			d = append(d, fmt.Sprintf("layer %d: %s has %s %s, the model %s %s", i+1, what, a.class, a.name, b.class, b.name))
			continue
		}
		diffConfig(&d, where, "", what, a.cfg, b.cfg)
	}
	if len(d) > maxDiffs {
		d = append(d[:maxDiffs], fmt.Sprintf("and %d more differences", len(d)-maxDiffs))
	}
	return d, nil
}

func layerNames(ls []archLayer) string {
	names := make([]string, 0, min(len(ls), 8))
	for i, l := range ls {
		if i == 8 {
			names = append(names, "...")
			break
		}
		names = append(names, l.name)
	}
	return strings.Join(names, ", ")
}

// diffConfig adds the fields of two configs that differ, nested configs
// field by field ("kernel_initializer.config.scale").
func diffConfig(d *[]string, where, path, what string, a, b nn.Config) {
	keys := make([]string, 0, len(a)+len(b))
	for _, f := range a {
		keys = append(keys, f.Key)
	}
	for _, f := range b {
		if _, ok := a.Lookup(f.Key); !ok {
			keys = append(keys, f.Key)
		}
	}
	for _, k := range keys {
		if len(*d) > maxDiffs {
			return
		}
		av, aok := a.Lookup(k)
		bv, bok := b.Lookup(k)
		ac, aIs := av.(nn.Config)
		bc, bIs := bv.(nn.Config)
		switch {
		case aIs && bIs:
			diffConfig(d, where, path+k+".", what, ac, bc)
		case !aok:
			*d = append(*d, fmt.Sprintf("%s: %s%s: %s has none, the model %s", where, path, k, what, keras.FormatValue(bv)))
		case !bok:
			*d = append(*d, fmt.Sprintf("%s: %s%s: %s %s, the model has none", where, path, k, what, keras.FormatValue(av)))
		case !reflect.DeepEqual(av, bv):
			*d = append(*d, fmt.Sprintf("%s: %s%s: %s %s, the model %s", where, path, k, what, keras.FormatValue(av), keras.FormatValue(bv)))
		}
	}
}

// checkArchitecture adds to e how the architecture a file describes
// (model_json, or a Keras file's model_config) differs from m's, if it
// describes one. A Keras file's text is first read as descent reads it
// (FromJSON then ToJSON), so that what Keras writes differently but
// means the same does not count.
func checkArchitecture(f *stFile, m *nn.Sequential, e *LoadError) {
	js, ok := f.meta[metaModel]
	if !ok {
		return
	}
	what := "the " + map[bool]string{true: "checkpoint", false: "file"}[f.format == formatCheckpoint]
	mine, err := keras.ToJSON(m)
	if err != nil {
		e.add(nn.ErrMismatch, "the model has no Keras JSON form to compare with the file's architecture: %v", err)
		return
	}
	if js == string(mine) {
		return
	}
	file := []byte(js)
	if f.h5 != nil {
		if fm, err := (keras.Options{MaxParams: -1}).FromJSON(file); err == nil {
			if norm, err := keras.ToJSON(fm); err == nil {
				file = norm
			}
		}
	}
	diffs, err := diffArchitecture(what, file, mine)
	if err != nil {
		e.add(nn.ErrFormat, "%v", err)
		return
	}
	for _, s := range diffs {
		e.add(nn.ErrMismatch, "%s", s)
	}
}

// checkTensorsFit compares the parameters an architecture read from a file
// gives each layer with the file's own weights for the layer, before the
// model is built: a file claiming 10^9 units for tensors of 2×10 is
// refused without allocating anything.
func checkTensorsFit(f *stFile, m *nn.Sequential, e *LoadError) {
	widths, err := m.Widths()
	if err != nil {
		e.add(nn.ErrFormat, "the architecture: %v", err)
		return
	}
	src := "model_json"
	if f.h5 != nil {
		src = "model_config"
	}
	known := map[string]bool{}
	for i, l := range m.Layers() {
		known[l.Name()] = true
		want := uint64(max(l.ParamCount(widths[i]), 0))
		ws := f.layerWeights(l.Name())
		var have uint64
		parts := make([]string, 0, len(ws))
		for _, w := range ws {
			have += min(elements(w.shape), 1<<62)
			parts = append(parts, w.name+" "+stShapeString(w.shape))
		}
		if want == have {
			continue
		}
		held := "none"
		if len(ws) > 0 {
			held = fmt.Sprintf("%d (%s)", have, strings.Join(parts, ", "))
		}
		e.add(nn.ErrMismatch, "layer %d (%s): the architecture (%s) gives it %d parameters (%d units on an input of width %d), the file's weights for it hold %s",
			i+1, l.Name(), src, want, widths[i+1], widths[i], held)
	}
	// Weights of layers the architecture lacks (a safetensors file's
	// unexpected tensors are listed once the model is built).
	if f.h5 != nil {
		for _, l := range f.h5.Layers {
			if !known[l.Name] && len(l.Weights) > 0 {
				e.add(nn.ErrMismatch, "the file holds %d weights of a layer %s that its architecture lacks", len(l.Weights), l.Name)
			}
		}
	}
}
