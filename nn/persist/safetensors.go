package persist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/keras"
	"github.com/nlpodyssey/safetensors"
	"gorgonia.org/tensor"
)

// Weights, whole models and checkpoints are safetensors files
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length n, n bytes of JSON header (padded with spaces to a multiple
// of 8) mapping each tensor name to its dtype, shape and data offsets, with
// an optional "__metadata__" of string keys and values, then the tensors'
// raw little-endian bytes, row-major. Python opens them with
//
//	from safetensors.numpy import load_file
//	w = load_file("xor.safetensors")  # {"dense_1/kernel:0": array(...), ...}
//
// and numpy alone can read them (the format is that simple). Tensors are
// named as Keras names weights, "<layer>/kernel:0" and "<layer>/bias:0",
// with Keras's shapes ([in, units] kernels), in F32 or F64 as the model is.
//
// The codec github.com/nlpodyssey/safetensors writes the reference
// implementation's layout (tensors ordered by dtype alignment then name,
// header padded with spaces). Reading is descent's own (read.go,
// header.go): the codec wants the whole file in memory and decodes the
// header into maps of interfaces, so a reader of hostile files checks
// sizes itself before it allocates.
//
// Every load validates first and touches the model last, so a failed load
// leaves the model as it was. Every save is atomic (see SaveWeights).

// Metadata keys and values of descent's files.
const (
	metaFormat  = "descent.format"  // "weights", "model" or "checkpoint"
	metaVersion = "descent.version" // formatVersion
	metaModel   = "model_json"      // Keras JSON (ToJSON)
	metaSeed    = "descent.seed"    // BuildConfig.Seed, decimal
	metaDType   = "descent.dtype"   // "float32" or "float64"

	formatWeights    = "weights"
	formatModel      = "model"
	formatCheckpoint = "checkpoint"

	// formatVersion is the version of descent's layout of the three file
	// kinds; a file of another version is rejected.
	formatVersion = "1"
)

// LoadError reports why a file cannot be loaded: every problem found, in
// model order (a missing tensor, a wrong shape or dtype, NaN weights, an
// unexpected tensor, ...), or the one reason the file cannot be read at all.
// It wraps nn.ErrFormat, nn.ErrMismatch and nn.ErrNotFinite as they apply.
type LoadError struct {
	Op       string   // "load weights", "load", "load checkpoint"
	File     string   // the file's name, or "<reader>"
	Problems []string // at least one
	kinds    []error
}

// Error implements error.
func (e *LoadError) Error() string {
	s := fmt.Sprintf("persist: %s %s: %s", e.Op, e.File, strings.Join(e.Problems, "; "))
	if len(e.Problems) > 1 {
		s += fmt.Sprintf(" (%d problems)", len(e.Problems))
	}
	return s
}

// Unwrap returns the sentinels the problems fall under.
func (e *LoadError) Unwrap() []error { return e.kinds }

func (e *LoadError) add(kind error, format string, args ...any) {
	e.Problems = append(e.Problems, fmt.Sprintf(format, args...))
	if !slices.Contains(e.kinds, kind) {
		e.kinds = append(e.kinds, kind)
	}
}

func (e *LoadError) errOrNil() error {
	if len(e.Problems) == 0 {
		return nil
	}
	return e
}

func formatError(op, file, format string, args ...any) *LoadError {
	e := &LoadError{Op: op, File: file}
	e.add(nn.ErrFormat, format, args...)
	return e
}

// weightName returns a parameter's tensor name, Keras's weight name.
func weightName(p *graph.Param) string { return p.Name() + ":0" }

// stDType returns the safetensors dtype of a model dtype.
func stDType(dt tensor.Dtype) safetensors.DType {
	if dt == tensor.Float32 {
		return safetensors.F32
	}
	return safetensors.F64
}

func stShapeString(s []uint64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.FormatUint(d, 10)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func shapeEqual(a []uint64, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != uint64(b[i]) {
			return false
		}
	}
	return true
}

// countNonFinite returns the number of non-finite values in F32 or F64 data, and
// the first one's index and value.
func countNonFinite(dt safetensors.DType, data []byte) (count, first int, val float64) {
	first = -1
	size := int(dt.Size())
	for i := 0; i+size <= len(data); i += size {
		var v float64
		if dt == safetensors.F32 {
			v = float64(math.Float32frombits(binary.LittleEndian.Uint32(data[i:])))
		} else {
			v = math.Float64frombits(binary.LittleEndian.Uint64(data[i:]))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if count == 0 {
				first, val = i/size, v
			}
			count++
		}
	}
	return count, first, val
}

// checkFloats adds a problem when F32/F64 data holds NaN or infinities.
func checkFloats(e *LoadError, name string, dt safetensors.DType, data []byte) {
	if n, i, v := countNonFinite(dt, data); n > 0 {
		e.add(nn.ErrNotFinite, "%s holds %d non-finite values (first: %v at index %d)", name, n, v, i)
	}
}

// weightCopy is one validated tensor to copy into a parameter: t holds
// its elements, little-endian, in its dtype (converted when the parameter
// differs, for HDF5 files).
type weightCopy struct {
	p    *graph.Param
	name string // in the file
	t    *tensorEntry
}

// planWeights checks the file's weights against the model's parameters
// and returns the copies to make, or every problem found. Safetensors
// tensors are matched by name, HDF5 layers by layer name (see planH5).
func planWeights(f *stFile, m *nn.Sequential, e *LoadError) []weightCopy {
	if f.h5 != nil {
		return planH5(f, m, e)
	}
	want := stDType(m.DType())
	var plan []weightCopy
	seen := map[string]bool{}
	for _, p := range m.Params() {
		name := weightName(p)
		seen[name] = true
		ti, _, ok := f.tensor(name)
		if !ok {
			e.add(nn.ErrMismatch, "missing tensor %s (the model's %s, shape %v, %v)", name, p.Name(), p.Shape(), want)
			continue
		}
		bad := false
		if ti.DType != want {
			e.add(nn.ErrMismatch, "%s is %v, the model is %v", name, ti.DType, m.DType())
			bad = true
		}
		if !shapeEqual(ti.Shape, p.Shape()) {
			e.add(nn.ErrMismatch, "%s has shape %s, the model's %s has %v", name, stShapeString(ti.Shape), p.Name(), p.Shape())
			bad = true
		}
		if bad {
			continue
		}
		plan = append(plan, weightCopy{p: p, name: name, t: ti})
	}
	for _, name := range f.sortedNames() {
		if !seen[name] && f.isWeight(name) {
			ti := f.tensors[name]
			e.add(nn.ErrMismatch, "unexpected tensor %s (%v %s): the model has no such weight", name, ti.DType, stShapeString(ti.Shape))
		}
	}
	return plan
}

// checkPlan checks the values of the planned tensors, once loaded: all
// finite.
func checkPlan(plan []weightCopy, e *LoadError) {
	for _, c := range plan {
		checkFloats(e, c.name, c.t.DType, c.t.data)
	}
}

// copyWeights copies validated tensors into their parameters.
func copyWeights(plan []weightCopy) {
	for _, c := range plan {
		decodeFloats(c.p.Value(), c.t.DType, c.t.data)
	}
}

// decodeFloats decodes little-endian data of dtype src (F32 or F64) into
// t's backing slice, whose length was checked, converting to t's dtype.
func decodeFloats(t *tensor.Dense, src safetensors.DType, data []byte) {
	at := func(i int) float64 {
		if src == safetensors.F32 {
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
	}
	switch s := t.Data().(type) {
	case []float64:
		for i := range s {
			s[i] = at(i)
		}
	case []float32:
		if src == safetensors.F32 {
			for i := range s {
				s[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			}
			return
		}
		for i := range s {
			s[i] = float32(at(i))
		}
	}
}

// encodeFloats returns t's elements as little-endian bytes.
func encodeFloats(t *tensor.Dense) []byte {
	switch s := t.Data().(type) {
	case []float64:
		return encode64(s)
	case []float32:
		b := make([]byte, 0, 4*len(s))
		for _, v := range s {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b
	}
	return nil
}

func encode64(s []float64) []byte {
	b := make([]byte, 0, 8*len(s))
	for _, v := range s {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

func tensorView(dt safetensors.DType, shape []int, data []byte) (safetensors.TensorView, error) {
	s := make([]uint64, len(shape))
	for i, d := range shape {
		s[i] = uint64(d)
	}
	return safetensors.NewTensorView(dt, s, data)
}

// weightViews returns the model's weights as named tensor views.
func weightViews(m *nn.Sequential) (map[string]safetensors.TensorView, error) {
	params := m.Params()
	views := make(map[string]safetensors.TensorView, len(params))
	dt := stDType(m.DType())
	for _, p := range params {
		v, err := tensorView(dt, p.Shape(), encodeFloats(p.Value()))
		if err != nil {
			return nil, fmt.Errorf("weight %s: %w", p.Name(), err)
		}
		views[weightName(p)] = v
	}
	return views, nil
}

// writeST writes tensors and metadata as a safetensors stream.
func writeST(w io.Writer, views map[string]safetensors.TensorView, meta map[string]string) error {
	return safetensors.SerializeToWriter(views, meta, w)
}

// WriteWeights writes the model's weights to w as a safetensors stream
// (see SaveWeights).
func WriteWeights(w io.Writer, m *nn.Sequential) error {
	if !m.Built() {
		return fmt.Errorf("persist: write weights: %w (call Build or Compile first)", nn.ErrNotBuilt)
	}
	views, err := weightViews(m)
	if err != nil {
		return fmt.Errorf("persist: write weights: %w", err)
	}
	meta := map[string]string{metaFormat: formatWeights, metaVersion: formatVersion}
	if err := writeST(w, views, meta); err != nil {
		return fmt.Errorf("persist: write weights: %w", err)
	}
	return nil
}

// SaveWeights writes the model's weights to a file: one tensor per
// parameter, named by Keras's weight name ("dense_1/kernel:0"), with
// Keras's shape, in the model's dtype (F32 or F64). A path ending in .h5
// or .hdf5 gets Keras 2's save_weights layout, which Keras's
// load_weights and h5py read (a group per layer, Activation layers
// included, the weights at "dense_1/dense_1/kernel:0"); any other path a
// safetensors file. The save is atomic: the file is written to a
// temporary file in the same directory, synced and renamed over path, so
// a crash leaves either the old file or the new one.
func SaveWeights(path string, m *nn.Sequential) error {
	if !m.Built() {
		return fmt.Errorf("persist: save weights %s: %w (call Build or Compile first)", path, nn.ErrNotBuilt)
	}
	write := func(w io.Writer) error { return WriteWeights(w, m) }
	if isH5Path(path) {
		write = func(w io.Writer) error { return writeH5(w, m, false) }
	}
	if err := writeFileAtomic(path, write); err != nil {
		return fmt.Errorf("persist: save weights %s: %w", path, err)
	}
	return nil
}

// LoadWeights sets the model's weights from a file, whose format it tells
// by content: a safetensors file written by SaveWeights, Save or
// SaveCheckpoint, or by any program that names the tensors as Keras does
// ("dense_1/kernel:0", "dense_1/bias:0"); or a Keras HDF5 file of
// save_weights or model.save, whose layers are matched by name (see
// h5.go). The file must hold exactly the model's weights, with its shapes,
// all finite, and a safetensors file the model's dtype (HDF5 weights are
// converted, as Keras does).
//
// A whole-model or checkpoint file (and a Keras model.save file) also
// describes an architecture: its weights are taken, and its architecture
// must be the model's, compared layer by layer and field by field as
// LoadCheckpoint compares it (to get the file's own model, use Load). A
// checkpoint's training state is LoadCheckpoint's and is not read.
//
// On any problem the error, a *LoadError, lists them all and the model is
// unchanged.
func LoadWeights(path string, m *nn.Sequential) error {
	if !m.Built() {
		return fmt.Errorf("persist: load weights %s: %w (call Build or Compile first)", path, nn.ErrNotBuilt)
	}
	f, err := readFile("load weights", path)
	if err != nil {
		return err
	}
	return applyWeights(f, m, true)
}

// ReadWeights is LoadWeights from a stream, read through limits (see
// read.go): it never holds more than twice the bytes the stream has sent.
func ReadWeights(r io.Reader, m *nn.Sequential) error {
	if !m.Built() {
		return fmt.Errorf("persist: read weights: %w (call Build or Compile first)", nn.ErrNotBuilt)
	}
	f, err := readStream("read weights", r)
	if err != nil {
		return err
	}
	return applyWeights(f, m, true)
}

// applyWeights validates everything, then copies the weights; with arch,
// the file's architecture and build metadata too.
func applyWeights(f *stFile, m *nn.Sequential, arch bool) error {
	e := &LoadError{Op: f.op, File: f.name}
	if arch {
		checkArchitecture(f, m, e)
		if _, _, err := f.buildInfo(); err != nil {
			var le *LoadError
			if errors.As(err, &le) {
				for _, p := range le.Problems {
					e.add(nn.ErrFormat, "%s", p)
				}
			}
		}
	}
	plan := planWeights(f, m, e)
	if f.stream != nil && len(e.Problems) > 0 {
		return e // a stream's data is not read for a mismatched model
	}
	if err := f.load(f.isWeight); err != nil {
		return err
	}
	checkPlan(plan, e)
	if err := e.errOrNil(); err != nil {
		return err
	}
	copyWeights(plan)
	return nil
}

// modelMeta returns the metadata that makes a file a whole model.
func modelMeta(m *nn.Sequential, format string) (map[string]string, error) {
	js, err := keras.ToJSON(m)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		metaFormat:  format,
		metaVersion: formatVersion,
		metaModel:   string(js),
		metaSeed:    strconv.FormatUint(m.Seed(), 10),
		metaDType:   m.DType().String(),
	}, nil
}

// WriteModel writes the whole model, architecture and weights, to w as a
// safetensors stream (see Save).
func WriteModel(w io.Writer, m *nn.Sequential) error {
	if !m.Built() {
		return fmt.Errorf("persist: write model: %w (call Build or Compile first)", nn.ErrNotBuilt)
	}
	meta, err := modelMeta(m, formatModel)
	if err != nil {
		return fmt.Errorf("persist: write model: %w", err)
	}
	views, err := weightViews(m)
	if err != nil {
		return fmt.Errorf("persist: write model: %w", err)
	}
	if err := writeST(w, views, meta); err != nil {
		return fmt.Errorf("persist: write model: %w", err)
	}
	return nil
}

// Save writes the whole model to one file: the weights as SaveWeights
// writes them, with the architecture. A safetensors file's metadata holds
// the Keras JSON of the architecture ("model_json", see nn/keras), the
// dtype and seed, and the format version. A path ending in .h5 or .hdf5
// gets Keras 2's model.save layout instead (the architecture in the
// model_config attribute, the weights under model_weights), which Keras's
// load_model reads; it has no place for the seed, so Load gives such a
// model seed 0. Load reads both back. The loss, optimizer and training
// state are not saved (see SaveCheckpoint). The save is atomic.
func Save(path string, m *nn.Sequential) error {
	if !m.Built() {
		return fmt.Errorf("persist: save %s: %w (call Build or Compile first)", path, nn.ErrNotBuilt)
	}
	write := func(w io.Writer) error { return WriteModel(w, m) }
	if isH5Path(path) {
		write = func(w io.Writer) error { return writeH5(w, m, true) }
	}
	if err := writeFileAtomic(path, write); err != nil {
		return fmt.Errorf("persist: save %s: %w", path, err)
	}
	return nil
}

// Options configures loading a whole model.
type Options struct {
	// Layers decodes the architecture's layers by Keras class name. If nil,
	// keras.BuiltinLayers(); a program's own layers are added to a copy of it.
	Layers keras.LayerRegistry
	// MaxParams bounds the parameters of the model built (see
	// nn.BuildConfig.MaxParams). If zero, nn.DefaultMaxParams (10^8);
	// negative means no limit.
	MaxParams int64
}

// Load reads a model saved by Save with the built-in layers (see
// Options.Load).
func Load(path string) (*nn.Sequential, error) { return Options{}.Load(path) }

// ReadModel reads a model written by WriteModel with the built-in layers.
func ReadModel(r io.Reader) (*nn.Sequential, error) { return Options{}.ReadModel(r) }

// Load reads a whole model and returns it built, with its weights, in the
// file's dtype and with its seed, ready for Predict or Compile: a file
// written by Save (safetensors or .h5), a checkpoint, or a Keras model.save
// HDF5 file (built in its weights' dtype, float32 for what Keras writes,
// with seed 0). Before anything is built, the architecture is checked
// against the file's own weights, layer by layer, and against MaxParams:
// a file claiming 10^9 units for weights of 2×10 is refused at once.
func (o Options) Load(path string) (*nn.Sequential, error) {
	f, err := readFile("load", path)
	if err != nil {
		return nil, err
	}
	return o.loadModel(f)
}

// ReadModel is Load from a stream, read through limits (see ReadWeights).
func (o Options) ReadModel(r io.Reader) (*nn.Sequential, error) {
	f, err := readStream("read model", r)
	if err != nil {
		return nil, err
	}
	return o.loadModel(f)
}

func (o Options) loadModel(f *stFile) (*nn.Sequential, error) {
	js, ok := f.meta[metaModel]
	if !ok {
		return nil, formatError(f.op, f.name, "no architecture in the file (%s holds weights only): build the model and use LoadWeights", f.kind())
	}
	// The architecture is read without the parameter limit, so that a
	// file whose architecture contradicts its weights says so; the limit
	// applies to the model built.
	m, err := keras.Options{Layers: o.Layers, MaxParams: -1}.FromJSON([]byte(js))
	if err != nil {
		return nil, fmt.Errorf("persist: %s %s: %w", f.op, f.name, err)
	}
	e := &LoadError{Op: f.op, File: f.name}
	checkTensorsFit(f, m, e)
	if err := e.errOrNil(); err != nil {
		return nil, err
	}
	dt, seed, err := f.buildInfo()
	if err != nil {
		return nil, err
	}
	if err := m.CheckParams(o.MaxParams); err != nil {
		return nil, fmt.Errorf("persist: %s %s: %w (raise persist.Options.MaxParams to load it)", f.op, f.name, err)
	}
	if err := m.Build(nn.BuildConfig{Seed: seed, DType: dt, MaxParams: o.MaxParams}); err != nil {
		return nil, fmt.Errorf("persist: %s %s: %w", f.op, f.name, err)
	}
	if err := applyWeights(f, m, false); err != nil {
		return nil, err
	}
	return m, nil
}

// buildInfo returns the dtype and seed recorded in the metadata; without
// them, the dtype of the weights (float32 for an HDF5 file without any)
// and seed 0.
func (f *stFile) buildInfo() (tensor.Dtype, uint64, error) {
	if f.h5 != nil {
		return f.h5Build(), 0, nil
	}
	var seed uint64
	if s, ok := f.meta[metaSeed]; ok {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return tensor.Dtype{}, 0, formatError(f.op, f.name, "%s %.40q is not a seed", metaSeed, s)
		}
		seed = v
	}
	wdt, hasWeights := f.weightDType()
	if s, ok := f.meta[metaDType]; ok {
		dt, err := graph.ParseDType(s)
		if err != nil {
			return tensor.Dtype{}, 0, formatError(f.op, f.name, "%s %.40q: want float32 or float64", metaDType, s)
		}
		if hasWeights && wdt != stDType(dt) {
			return tensor.Dtype{}, 0, formatError(f.op, f.name, "%s is %s, but the weights are %v", metaDType, dt, wdt)
		}
		return dt, seed, nil
	}
	if hasWeights && wdt == safetensors.F32 {
		return tensor.Float32, seed, nil
	}
	return tensor.Float64, seed, nil
}
