package persist

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/internal/kerash5"
	"github.com/descentlab/descent/nn/keras"
	"github.com/nlpodyssey/safetensors"
	"gorgonia.org/tensor"
)

// Keras's HDF5 files (issue 16): the weights files of Keras 2's
// save_weights and the whole-model files of model.save, read by content
// (the HDF5 signature) and written when a path ends in .h5 or .hdf5.
//
// Reading matches layers by name, as Keras's load_weights(by_name=True)
// does: a model layer with weights takes the file's layer group of the
// same name, its weights in order (kernel, then bias), each of the shape
// the model wants; float32 and float64 weights are converted to the
// model's dtype, as Keras's load_weights converts them. Unlike Keras,
// which skips what it cannot match, every model layer with weights must be
// in the file and every file layer with weights in the model; every
// mismatch is reported at once (*LoadError) and the model is unchanged.

// isH5Path reports whether a path names an HDF5 file by its extension.
func isH5Path(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".h5", ".hdf5":
		return true
	}
	return false
}

func h5DType(d kerash5.DType) safetensors.DType {
	if d == kerash5.Float32 {
		return safetensors.F32
	}
	return safetensors.F64
}

// planH5 matches the HDF5 file's layers to the model's by name and returns
// the copies to make, or every problem found.
func planH5(f *stFile, m *nn.Sequential, e *LoadError) []weightCopy {
	var plan []weightCopy
	known := map[string]bool{}
	for _, l := range m.Layers() {
		known[l.Name()] = true
		params := l.Params()
		fl, ok := f.h5.Layer(l.Name())
		switch {
		case !ok && len(params) > 0:
			e.add(nn.ErrMismatch, "missing layer %s (the model's %s with %d weights: %s)", l.Name(), l.ClassName(), len(params), paramList(params))
			continue
		case !ok:
			continue
		case len(fl.Weights) != len(params):
			e.add(nn.ErrMismatch, "layer %s has %d weights in the file (%s), the model's %s has %d (%s)", l.Name(), len(fl.Weights), h5WeightList(fl.Weights), l.ClassName(), len(params), paramList(params))
			continue
		}
		for i, p := range params {
			w := &fl.Weights[i]
			if !shapeEqual(h5Shape(w.Shape), p.Shape()) {
				e.add(nn.ErrMismatch, "layer %s weight %d (%s) has shape %v, the model's %s has %v", l.Name(), i+1, w.Name, w.Shape, p.Name(), p.Shape())
				continue
			}
			plan = append(plan, weightCopy{p: p, name: w.Name, t: &tensorEntry{DType: h5DType(w.DType), Shape: h5Shape(w.Shape), data: w.Data}})
		}
	}
	for _, fl := range f.h5.Layers {
		if !known[fl.Name] && len(fl.Weights) > 0 {
			e.add(nn.ErrMismatch, "unexpected layer %s with %d weights (%s): the model has no such layer", fl.Name, len(fl.Weights), h5WeightList(fl.Weights))
		}
	}
	return plan
}

func paramList(ps []*graph.Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s %v", p.Name(), p.Shape())
	}
	return strings.Join(parts, ", ")
}

func h5WeightList(ws []kerash5.Weight) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%s %v %s", w.Name, w.Shape, w.DType)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// h5Build returns the dtype a model read from an HDF5 file is built in:
// its weights' (float32 in what Keras writes), float32 without weights.
func (f *stFile) h5Build() tensor.Dtype {
	if dt, ok := f.weightDType(); ok && dt == safetensors.F64 {
		return tensor.Float64
	}
	return tensor.Float32
}

// h5File returns the model's weights in Keras's save_weights layout: a
// layer per model layer, those without weights included, each weight
// named as Keras names it, in the model's dtype; with withConfig, the
// model.save layout around them (the architecture in model_config).
func h5File(m *nn.Sequential, withConfig bool) (*kerash5.File, error) {
	f := &kerash5.File{KerasVersion: keras.Version, Backend: keras.Backend}
	if withConfig {
		cfg, err := keras.ModelConfig(m)
		if err != nil {
			return nil, err
		}
		f.ModelConfig = string(cfg)
	}
	dt := kerash5.Float64
	if m.DType() == tensor.Float32 {
		dt = kerash5.Float32
	}
	for _, l := range m.Layers() {
		kl := kerash5.Layer{Name: l.Name()}
		for _, p := range l.Params() {
			kl.Weights = append(kl.Weights, kerash5.Weight{Name: weightName(p), Shape: p.Shape(), DType: dt, Data: encodeFloats(p.Value())})
		}
		f.Layers = append(f.Layers, kl)
	}
	return f, nil
}

// writeH5 writes the model as SaveWeights or Save does for an .h5 path.
func writeH5(w io.Writer, m *nn.Sequential, withConfig bool) error {
	f, err := h5File(m, withConfig)
	if err != nil {
		return err
	}
	return kerash5.Write(w, f)
}
