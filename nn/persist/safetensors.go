package persist

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
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
// The codec is github.com/nlpodyssey/safetensors, which writes the
// reference implementation's layout (tensors ordered by dtype alignment then
// name, header padded with spaces). Its reader wants the whole file in
// memory and does not bound what it parses by the file size itself, so
// descent checks the header length against the file's size before it
// allocates anything that the header claims, and only then reads the file:
// no allocation is larger than the file.
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

// maxHeader is the largest header accepted: the reference
// implementation's limit (100 MB).
const maxHeader = 100_000_000

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

// stFile is a parsed safetensors file held in memory.
type stFile struct {
	op, name string
	meta     map[string]string
	infos    map[string]*safetensors.TensorInfo
	data     []byte // the tensor data section
	format   string // descent format, "" for a foreign file
}

// readSTFile reads a safetensors file, checking its header length against its
// size before reading the rest.
func readSTFile(op, path string) (*stFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("persist: %s: %w", op, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("persist: %s: %w", op, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, formatError(op, path, "not a regular file")
	}
	size := fi.Size()
	if size < 8 {
		return nil, formatError(op, path, "file is %d bytes, shorter than the 8-byte header length (truncated, or not a safetensors file)", size)
	}
	var head [8]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return nil, fmt.Errorf("persist: %s %s: %w", op, path, err)
	}
	if string(head[:]) == hdf5Magic {
		return parseFile(op, path, head[:])
	}
	if err := checkHeaderLength(binary.LittleEndian.Uint64(head[:]), uint64(size)); err != "" {
		return nil, formatError(op, path, "%s", err)
	}
	if uint64(size) > uint64(math.MaxInt) {
		return nil, formatError(op, path, "file of %d bytes is too large for memory", size)
	}
	buf := make([]byte, size)
	copy(buf, head[:])
	if _, err := io.ReadFull(f, buf[8:]); err != nil {
		return nil, formatError(op, path, "file shrank while reading: %v", err)
	}
	return parseFile(op, path, buf)
}

// readSTStream reads a safetensors stream. The buffer grows with the bytes
// actually read, never with what the header claims.
func readSTStream(op string, r io.Reader) (*stFile, error) {
	name := "<reader>"
	if n, ok := r.(interface{ Name() string }); ok {
		name = n.Name()
	}
	if r == nil {
		return nil, formatError(op, name, "nil reader")
	}
	buf, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("persist: %s %s: %w", op, name, err)
	}
	return parseFile(op, name, buf)
}

// checkHeaderLength returns why a header length n is impossible in a file
// of size bytes, or "".
func checkHeaderLength(n, size uint64) string {
	switch {
	case n > size-8:
		return fmt.Sprintf("header length %d exceeds the %d bytes that follow it (truncated, or not a safetensors file)", n, size-8)
	case n > maxHeader:
		return fmt.Sprintf("header length %d exceeds the format's limit of %d bytes", n, maxHeader)
	case n < 2:
		return fmt.Sprintf("header length %d is too short for a JSON object (not a safetensors file)", n)
	}
	return ""
}

// hdf5Magic begins every HDF5 file (Keras's .h5 format).
const hdf5Magic = "\x89HDF\r\n\x1a\n"

// parseFile parses and validates a whole file, choosing its format by its
// content: safetensors, the one descent writes, is the only format read
// today. A reader of another format (Keras's HDF5) plugs in here by
// returning the same stFile: metadata strings (the Keras JSON under
// "model_json") and tensors by Keras weight name.
func parseFile(op, name string, buf []byte) (*stFile, error) {
	if bytes.HasPrefix(buf, []byte(hdf5Magic)) {
		return nil, formatError(op, name, "an HDF5 file (Keras's .h5): descent reads safetensors files and does not read HDF5 yet")
	}
	return parseSafetensors(op, name, buf)
}

// parseSafetensors parses and validates a whole safetensors file.
func parseSafetensors(op, name string, buf []byte) (*stFile, error) {
	size := uint64(len(buf))
	if size < 8 {
		return nil, formatError(op, name, "file is %d bytes, shorter than the 8-byte header length (truncated, or not a safetensors file)", size)
	}
	n := binary.LittleEndian.Uint64(buf)
	if err := checkHeaderLength(n, size); err != "" {
		return nil, formatError(op, name, "%s", err)
	}
	if buf[8] != '{' {
		return nil, formatError(op, name, "header does not start with '{' (not a safetensors file)")
	}
	hn, md, err := safetensors.ReadMetadata(buf)
	if err != nil {
		return nil, formatError(op, name, "%s", headerProblem(buf[8:8+n], size-8-n, err))
	}
	f := &stFile{op: op, name: name, meta: md.Metadata(), infos: md.Tensors(), data: buf[8+hn:]}
	if err := f.checkFormat(); err != nil {
		return nil, err
	}
	return f, nil
}

// headerProblem explains a header the codec rejected.
func headerProblem(hdr []byte, avail uint64, err error) string {
	var md safetensors.Metadata
	if json.Unmarshal(hdr, &md) != nil {
		return fmt.Sprintf("malformed header: %v", err)
	}
	var end uint64
	for _, ti := range md.Tensors() {
		end = max(end, ti.DataOffsets[1])
	}
	switch {
	case end > avail:
		return fmt.Sprintf("header describes %d bytes of tensor data, the file holds %d (truncated?)", end, avail)
	case end < avail:
		return fmt.Sprintf("%d bytes of unexpected data follow the tensors", avail-end)
	}
	return fmt.Sprintf("invalid header: %v", err)
}

// checkFormat checks descent's format and version keys when present.
func (f *stFile) checkFormat() error {
	format, hasFormat := f.meta[metaFormat]
	version, hasVersion := f.meta[metaVersion]
	if !hasFormat && !hasVersion {
		return nil // a foreign file: weights only
	}
	if !hasVersion {
		return formatError(f.op, f.name, "%s %q without %s", metaFormat, format, metaVersion)
	}
	if version != formatVersion {
		return formatError(f.op, f.name, "format version %q is not supported (this descent reads version %s)", version, formatVersion)
	}
	switch format {
	case formatWeights, formatModel, formatCheckpoint:
	default:
		return formatError(f.op, f.name, "unknown %s %q (want %s, %s or %s)", metaFormat, format, formatWeights, formatModel, formatCheckpoint)
	}
	f.format = format
	return nil
}

// isWeight reports whether a tensor of the file is a model weight (and not
// optimizer or history state of a checkpoint).
func (f *stFile) isWeight(name string) bool {
	return f.format != formatCheckpoint || !isStateTensor(name)
}

// tensor returns a tensor's info and bytes.
func (f *stFile) tensor(name string) (*safetensors.TensorInfo, []byte, bool) {
	ti, ok := f.infos[name]
	if !ok {
		return nil, nil, false
	}
	return ti, f.data[ti.DataOffsets[0]:ti.DataOffsets[1]], true
}

// sortedNames returns the file's tensor names, sorted.
func (f *stFile) sortedNames() []string {
	names := make([]string, 0, len(f.infos))
	for n := range f.infos {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
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

// weightCopy is one validated tensor to copy into a parameter.
type weightCopy struct {
	p    *graph.Param
	data []byte
}

// planWeights checks the file's weight tensors against the model's
// parameters and returns the copies to make, or every problem found.
func planWeights(f *stFile, m *nn.Sequential, e *LoadError) []weightCopy {
	want := stDType(m.DType())
	var plan []weightCopy
	seen := map[string]bool{}
	for _, p := range m.Params() {
		name := weightName(p)
		seen[name] = true
		ti, data, ok := f.tensor(name)
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
		checkFloats(e, name, ti.DType, data)
		plan = append(plan, weightCopy{p, data})
	}
	for _, name := range f.sortedNames() {
		if !seen[name] && f.isWeight(name) {
			ti := f.infos[name]
			e.add(nn.ErrMismatch, "unexpected tensor %s (%v %s): the model has no such weight", name, ti.DType, stShapeString(ti.Shape))
		}
	}
	return plan
}

// copyWeights copies validated tensors into their parameters.
func copyWeights(plan []weightCopy) {
	for _, c := range plan {
		decodeFloats(c.p.Value(), c.data)
	}
}

// decodeFloats decodes little-endian data into t's backing slice, whose
// length and dtype were checked.
func decodeFloats(t *tensor.Dense, data []byte) {
	switch s := t.Data().(type) {
	case []float64:
		for i := range s {
			s[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
	case []float32:
		for i := range s {
			s[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
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

// SaveWeights writes the model's weights to a safetensors file: one tensor
// per parameter, named by Keras's weight name ("dense_1/kernel:0"), with
// Keras's shape, in the model's dtype (F32 or F64). The save is atomic: the
// file is written to a temporary file in the same directory, synced and
// renamed over path, so a crash leaves either the old file or the new one.
func SaveWeights(path string, m *nn.Sequential) error {
	if !m.Built() {
		return fmt.Errorf("persist: save weights %s: %w (call Build or Compile first)", path, nn.ErrNotBuilt)
	}
	if err := writeFileAtomic(path, func(w io.Writer) error { return WriteWeights(w, m) }); err != nil {
		return fmt.Errorf("persist: save weights %s: %w", path, err)
	}
	return nil
}

// LoadWeights sets the model's weights from a safetensors file written by
// SaveWeights, Save or SaveCheckpoint, or by any program that names the
// tensors as Keras does ("dense_1/kernel:0", "dense_1/bias:0"). The file
// must hold exactly the model's weights, with its shapes and dtype, all
// finite: otherwise the error, a *LoadError, lists every problem and the
// model is unchanged.
func LoadWeights(path string, m *nn.Sequential) error {
	if !m.Built() {
		return fmt.Errorf("persist: load weights %s: %w (call Build or Compile first)", path, nn.ErrNotBuilt)
	}
	f, err := readSTFile("load weights", path)
	if err != nil {
		return err
	}
	return applyWeights(f, m)
}

// ReadWeights is LoadWeights from a stream.
func ReadWeights(r io.Reader, m *nn.Sequential) error {
	if !m.Built() {
		return fmt.Errorf("persist: read weights: %w (call Build or Compile first)", nn.ErrNotBuilt)
	}
	f, err := readSTStream("read weights", r)
	if err != nil {
		return err
	}
	return applyWeights(f, m)
}

func applyWeights(f *stFile, m *nn.Sequential) error {
	e := &LoadError{Op: f.op, File: f.name}
	plan := planWeights(f, m, e)
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

// Save writes the whole model to one safetensors file: the weights as
// SaveWeights writes them, and in the metadata the Keras JSON of the
// architecture ("model_json", see nn/keras), the dtype and seed, and the
// format version. Load reads it back. The loss, optimizer and training
// state are not saved (see SaveCheckpoint). The save is atomic.
func Save(path string, m *nn.Sequential) error {
	if !m.Built() {
		return fmt.Errorf("persist: save %s: %w (call Build or Compile first)", path, nn.ErrNotBuilt)
	}
	if err := writeFileAtomic(path, func(w io.Writer) error { return WriteModel(w, m) }); err != nil {
		return fmt.Errorf("persist: save %s: %w", path, err)
	}
	return nil
}

// Options configures loading a whole model.
type Options struct {
	// Layers decodes the architecture's layers by Keras class name. If nil,
	// nn.BuiltinLayers(); a program's own layers are added to a copy of it.
	Layers nn.LayerRegistry
}

// Load reads a model saved by Save with the built-in layers (see
// Options.Load).
func Load(path string) (*nn.Sequential, error) { return Options{}.Load(path) }

// ReadModel reads a model written by WriteModel with the built-in layers.
func ReadModel(r io.Reader) (*nn.Sequential, error) { return Options{}.ReadModel(r) }

// Load reads a model saved by Save (or a checkpoint) and returns it built,
// with its weights, in the file's dtype and with its seed, ready for
// Predict or Compile.
func (o Options) Load(path string) (*nn.Sequential, error) {
	f, err := readSTFile("load", path)
	if err != nil {
		return nil, err
	}
	return o.loadModel(f)
}

// ReadModel is Load from a stream.
func (o Options) ReadModel(r io.Reader) (*nn.Sequential, error) {
	f, err := readSTStream("read model", r)
	if err != nil {
		return nil, err
	}
	return o.loadModel(f)
}

func (o Options) loadModel(f *stFile) (*nn.Sequential, error) {
	js, ok := f.meta[metaModel]
	if !ok {
		return nil, formatError(f.op, f.name, "no %s in the metadata: the file holds weights only (build the model and use LoadWeights)", metaModel)
	}
	m, err := keras.Options{Layers: o.Layers}.FromJSON([]byte(js))
	if err != nil {
		return nil, fmt.Errorf("persist: %s %s: %w", f.op, f.name, err)
	}
	dt, seed, err := f.buildInfo()
	if err != nil {
		return nil, err
	}
	if err := m.Build(nn.BuildConfig{Seed: seed, DType: dt}); err != nil {
		return nil, fmt.Errorf("persist: %s %s: %w", f.op, f.name, err)
	}
	if err := applyWeights(f, m); err != nil {
		return nil, err
	}
	return m, nil
}

// buildInfo returns the dtype and seed recorded in the metadata; without
// them, the dtype of the first weight tensor and seed 0.
func (f *stFile) buildInfo() (tensor.Dtype, uint64, error) {
	var seed uint64
	if s, ok := f.meta[metaSeed]; ok {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return tensor.Dtype{}, 0, formatError(f.op, f.name, "%s %q is not a seed", metaSeed, s)
		}
		seed = v
	}
	if s, ok := f.meta[metaDType]; ok {
		dt, err := graph.ParseDType(s)
		if err != nil {
			return tensor.Dtype{}, 0, formatError(f.op, f.name, "%s %q: want float32 or float64", metaDType, s)
		}
		return dt, seed, nil
	}
	for _, name := range f.sortedNames() {
		if f.isWeight(name) && f.infos[name].DType == safetensors.F32 {
			return tensor.Float32, seed, nil
		}
	}
	return tensor.Float64, seed, nil
}
