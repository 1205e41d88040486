package kerash5

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/descentlab/descent/nn/internal/hdf5"
)

// ErrLayout reports a valid HDF5 file that is not in a Keras weights
// layout: a missing or mistyped layer_names or weight_names attribute, a
// listed weight that is not a float dataset.
var ErrLayout = errors.New("not a Keras weights file")

// DType is the element type of a weight.
type DType string

// The weight dtypes Keras files hold and this package reads.
const (
	Float32 DType = "float32"
	Float64 DType = "float64"
)

// size returns the bytes per element.
func (d DType) size() int {
	if d == Float32 {
		return 4
	}
	return 8
}

// Weight is one weight tensor.
type Weight struct {
	Name  string // as Keras names it, "dense_1/kernel:0"
	Shape []int  // Keras's shape, [in, units] for a Dense kernel; empty for a scalar
	DType DType
	Data  []byte // the elements, little-endian, row major
}

// Len returns the number of elements.
func (w *Weight) Len() int { return len(w.Data) / w.DType.size() }

// Float64s returns the elements as float64.
func (w *Weight) Float64s() []float64 {
	out := make([]float64, w.Len())
	for i := range out {
		if w.DType == Float32 {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(w.Data[4*i:])))
		} else {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(w.Data[8*i:]))
		}
	}
	return out
}

// Layer is one layer of the file: its name and weights, in Keras's order
// (kernel, then bias for a Dense layer). A layer without weights (an
// Activation) has none.
type Layer struct {
	Name    string
	Weights []Weight
}

// File is the content of a Keras weights file.
type File struct {
	// KerasVersion and Backend are the keras_version and backend
	// attributes ("2.2.4", "tensorflow"); "" when absent. Write uses
	// "2.2.4" and "tensorflow" when they are empty.
	KerasVersion, Backend string
	// ModelConfig is the model.save file's model_config attribute, the
	// model's JSON ({"class_name": ..., "config": ...}); "" for a
	// save_weights file. Write writes the model.save layout when it is
	// set.
	ModelConfig string
	// TrainingConfig is model.save's training_config attribute (the
	// compile arguments as JSON), "" when absent.
	TrainingConfig string
	// Layers are the layers in the order of the layer_names attribute.
	Layers []Layer
}

// Layer returns the layer called name, as Keras's load_weights(by_name=True)
// finds it.
func (f *File) Layer(name string) (*Layer, bool) {
	for i := range f.Layers {
		if f.Layers[i].Name == name {
			return &f.Layers[i], true
		}
	}
	return nil, false
}

// layoutError reports a Keras layout problem in object of file.
func layoutError(file, object, format string, args ...any) error {
	return fmt.Errorf("kerash5: %s: %s: %s: %w", file, object, fmt.Sprintf(format, args...), ErrLayout)
}

// Read reads a Keras weights file (either layout) of size bytes from r.
// Errors name the file and the object at fault; they wrap ErrLayout or one
// of package hdf5's sentinels (hdf5.ErrFormat, ErrUnsupported, ErrLimit).
func Read(r io.ReaderAt, size int64, opt hdf5.Options) (*File, error) {
	h, err := hdf5.Open(r, size, opt)
	if err != nil {
		return nil, err
	}
	name := h.Name()
	root, err := h.Root()
	if err != nil {
		return nil, err
	}
	out := &File{}
	weights := root
	if _, err := root.Attr("layer_names"); errors.Is(err, hdf5.ErrNotFound) {
		if _, err0 := root.Attr("layer_names0"); errors.Is(err0, hdf5.ErrNotFound) {
			// model.save: the weights are under model_weights.
			g, err := root.Group("model_weights")
			if errors.Is(err, hdf5.ErrNotFound) {
				return nil, layoutError(name, "group /", "no layer_names attribute and no model_weights group")
			}
			if err != nil {
				return nil, err
			}
			weights = g
			if out.ModelConfig, err = optionalString(root, "model_config", name); err != nil {
				return nil, err
			}
			if out.TrainingConfig, err = optionalString(root, "training_config", name); err != nil {
				return nil, err
			}
		}
	} else if err != nil {
		return nil, err
	}
	for _, p := range []struct {
		dst  *string
		attr string
	}{{&out.KerasVersion, "keras_version"}, {&out.Backend, "backend"}} {
		v, err := optionalString(weights, p.attr, name)
		if err == nil && v == "" && weights != root {
			v, err = optionalString(root, p.attr, name)
		}
		if err != nil {
			return nil, err
		}
		*p.dst = v
	}
	layers, err := stringList(weights, "layer_names", name)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, ln := range layers {
		if seen[ln] {
			return nil, layoutError(name, "group "+weights.Path(), "layer %q is listed twice in layer_names", ln)
		}
		seen[ln] = true
		g, err := weights.Group(ln)
		if err != nil {
			return nil, err
		}
		names, err := stringList(g, "weight_names", name)
		if err != nil {
			return nil, err
		}
		layer := Layer{Name: ln}
		for _, wn := range names {
			w, err := readWeight(g, wn, name)
			if err != nil {
				return nil, err
			}
			layer.Weights = append(layer.Weights, w)
		}
		out.Layers = append(out.Layers, layer)
	}
	return out, nil
}

// readWeight reads the weight wn of a layer group.
func readWeight(g *hdf5.Group, wn, file string) (Weight, error) {
	d, err := g.Dataset(wn)
	if err != nil {
		return Weight{}, err
	}
	w := Weight{Name: wn, Shape: d.Shape()}
	switch d.Type() {
	case hdf5.Float32:
		w.DType = Float32
	case hdf5.Float64:
		w.DType = Float64
	default:
		return Weight{}, fmt.Errorf("kerash5: %s: dataset %s: weights of type %v are not supported (float32 and float64 are): %w", file, d.Path(), d.Type(), hdf5.ErrUnsupported)
	}
	if w.Data, err = d.ReadRaw(); err != nil {
		return Weight{}, err
	}
	return w, nil
}

// optionalString returns a scalar string attribute, "" if absent.
func optionalString(o hdf5.Object, attr, file string) (string, error) {
	a, err := o.Attr(attr)
	if errors.Is(err, hdf5.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !a.Type.IsString() || a.Len() != 1 {
		return "", layoutError(file, "group "+o.Path(), "attribute %s holds %d values of %v, want one string", attr, a.Len(), a.Type)
	}
	s, err := a.Strings()
	if err != nil {
		return "", err
	}
	return s[0], nil
}

// stringList reads a list attribute as Keras's
// load_attributes_from_hdf5_group does: the attribute itself, or its
// chunks attr0, attr1, ...; absent, or an empty array (Keras writes [] as
// an empty float64 array), is an empty list.
func stringList(o hdf5.Object, attr, file string) ([]string, error) {
	one := func(name string) ([]string, bool, error) {
		a, err := o.Attr(name)
		if errors.Is(err, hdf5.ErrNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		if a.Len() == 0 && len(a.Shape()) == 1 {
			return nil, true, nil
		}
		if !a.Type.IsString() || len(a.Shape()) != 1 {
			return nil, false, layoutError(file, "group "+o.Path(), "attribute %s holds %v of shape %v, want a list of strings", name, a.Type, a.Shape())
		}
		s, err := a.Strings()
		return s, true, err
	}
	list, ok, err := one(attr)
	if ok || err != nil {
		return list, err
	}
	for i := 0; ; i++ {
		chunk, ok, err := one(fmt.Sprintf("%s%d", attr, i))
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		list = append(list, chunk...)
	}
	if list == nil && attr == "layer_names" {
		return nil, layoutError(file, "group "+o.Path(), "no layer_names attribute")
	}
	return list, nil
}

// headerLimit is Keras's HDF5_OBJECT_HEADER_LIMIT: a list attribute whose
// data is larger is split into chunks.
const headerLimit = 64512

// Write writes f to w in the save_weights layout of Keras 2.2.4, or in its
// model.save layout (root attributes keras_version, backend, model_config
// and training_config when set, the weights under model_weights) when
// f.ModelConfig is set. Every weight's Data must hold its shape's elements
// of its dtype. The file is built in memory and written in one call; the
// caller makes the save atomic.
func Write(w io.Writer, f *File) error {
	hw := hdf5.NewWriter()
	root := hw.Root()
	version, backend := f.KerasVersion, f.Backend
	if version == "" {
		version = "2.2.4"
	}
	if backend == "" {
		backend = "tensorflow"
	}
	weights := root
	if f.ModelConfig != "" {
		for _, a := range [][2]string{{"keras_version", version}, {"backend", backend}, {"model_config", f.ModelConfig}} {
			if err := root.SetStringAttr(a[0], a[1]); err != nil {
				return fmt.Errorf("kerash5: write: %w", err)
			}
		}
		var err error
		if weights, err = root.CreateGroup("model_weights"); err != nil {
			return fmt.Errorf("kerash5: write: %w", err)
		}
	}
	if err := writeWeights(weights, f.Layers, version, backend); err != nil {
		return err
	}
	if f.ModelConfig != "" && f.TrainingConfig != "" {
		if err := root.SetStringAttr("training_config", f.TrainingConfig); err != nil {
			return fmt.Errorf("kerash5: write: %w", err)
		}
	}
	if _, err := hw.WriteTo(w); err != nil {
		return fmt.Errorf("kerash5: write: %w", err)
	}
	return nil
}

// writeWeights is Keras 2.2.4's save_weights_to_hdf5_group.
func writeWeights(g *hdf5.GroupWriter, layers []Layer, version, backend string) error {
	names := make([]string, len(layers))
	for i, l := range layers {
		names[i] = l.Name
		if slices.Contains(names[:i], l.Name) {
			return fmt.Errorf("kerash5: write: two layers named %q", l.Name)
		}
		if l.Name == "" || strings.ContainsAny(l.Name, "/\x00") {
			return fmt.Errorf("kerash5: write: invalid layer name %q (empty, or holding \"/\" or NUL)", l.Name)
		}
	}
	if err := setList(g, "layer_names", names); err != nil {
		return err
	}
	for _, a := range [][2]string{{"backend", backend}, {"keras_version", version}} {
		if err := g.SetStringAttr(a[0], a[1]); err != nil {
			return fmt.Errorf("kerash5: write: %w", err)
		}
	}
	for _, l := range layers {
		lg, err := g.CreateGroup(l.Name)
		if err != nil {
			return fmt.Errorf("kerash5: write: layer %q: %w", l.Name, err)
		}
		wn := make([]string, len(l.Weights))
		for i, w := range l.Weights {
			wn[i] = w.Name
		}
		if err := setList(lg, "weight_names", wn); err != nil {
			return err
		}
		for _, w := range l.Weights {
			t := hdf5.Float64
			switch w.DType {
			case Float32:
				t = hdf5.Float32
			case Float64:
			default:
				return fmt.Errorf("kerash5: write: weight %s has dtype %q, want float32 or float64", w.Name, w.DType)
			}
			if err := lg.CreateDataset(w.Name, t, w.Shape, w.Data); err != nil {
				return fmt.Errorf("kerash5: write: layer %q: %w", l.Name, err)
			}
		}
	}
	return nil
}

// setList is Keras 2.2.4's save_attributes_to_hdf5_group: a list of
// strings as one fixed-length string array (numpy's np.asarray of bytes),
// split into attr0, attr1, ... (np.array_split, which keeps the element
// size) when larger than headerLimit; an empty list is an empty float64
// array, as numpy makes np.asarray([]).
func setList(g *hdf5.GroupWriter, attr string, values []string) error {
	if len(values) == 0 {
		if err := g.SetFloat64sAttr(attr, nil); err != nil {
			return fmt.Errorf("kerash5: write: %w", err)
		}
		return nil
	}
	size := 1
	for _, v := range values {
		size = max(size, len(v))
	}
	if size > headerLimit {
		return fmt.Errorf("kerash5: write: attribute %s: a name of %d bytes exceeds Keras's limit of %d", attr, size, headerLimit)
	}
	n := len(values)
	chunks := 1
	for (n+chunks-1)/chunks*size > headerLimit {
		chunks++
	}
	if chunks == 1 {
		if err := g.SetStringsAttr(attr, values, size); err != nil {
			return fmt.Errorf("kerash5: write: %w", err)
		}
		return nil
	}
	// np.array_split: the first n%chunks chunks get one more element.
	start := 0
	for i := range chunks {
		m := n / chunks
		if i < n%chunks {
			m++
		}
		if err := g.SetStringsAttr(fmt.Sprintf("%s%d", attr, i), values[start:start+m], size); err != nil {
			return fmt.Errorf("kerash5: write: %w", err)
		}
		start += m
	}
	return nil
}
