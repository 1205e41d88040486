package study

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/keras"
	"gorgonia.org/tensor"
)

// File is a study as a JSON file describes it. Unknown fields are errors.
// For example:
//
//	{
//	  "name": "moons",
//	  "model": {"builtin": "mlp", "hidden": [16, 16], "activation": "tanh"},
//	  "data": {"name": "moons", "n": 400, "noise": 0.2, "validation": 0.25},
//	  "grid": {
//	    "variants": ["full", "stochastic", "minibatch(32)"],
//	    "optimizers": [{"name": "sgd"}, {"name": "adam", "lrs": [0.01], "variants": ["minibatch(32)"]}],
//	    "lrs": [0.1],
//	    "seeds": [1, 2, 3]
//	  },
//	  "budget": {"epochs": 50, "max_time": "1m"},
//	  "target": {"metric": "val_loss", "value": 0.3}
//	}
type File struct {
	Name  string    `json:"name"`
	Model ModelSpec `json:"model"`
	// Loss and Metrics default from the data: binary_crossentropy and
	// accuracy for two classes in one column, sparse_categorical_crossentropy
	// and accuracy for class indices, categorical_crossentropy and accuracy
	// for one-hot targets, mean_squared_error otherwise.
	Loss    string   `json:"loss,omitempty"`
	Metrics []string `json:"metrics,omitempty"`
	// DType is "float32" or "float64". If empty, float32 for mnist and
	// float64 otherwise.
	DType  string      `json:"dtype,omitempty"`
	Data   DataSpec    `json:"data"`
	Grid   GridSpec    `json:"grid"`
	Budget BudgetSpec  `json:"budget"`
	Target *TargetSpec `json:"target,omitempty"`
	// KeepSteps keeps the step records in the results (see
	// Study.KeepSteps).
	KeepSteps bool `json:"keep_steps,omitempty"`
	// Tune tunes each configuration's learning rate (see Tuning).
	Tune *TuneSpec `json:"tune,omitempty"`
	// Kind is "compare" (or empty) or "batch_sweep" (see BatchSweep). A
	// batch sweep without grid.variants sweeps BatchSizes.
	Kind string `json:"kind,omitempty"`
	// NoiseScale estimates the gradient noise scale (see NoiseScale).
	NoiseScale *NoiseScaleSpec `json:"noise_scale,omitempty"`
	// EvalsPerDoubling evaluates the validation data within epochs (see
	// Study.EvalsPerDoubling).
	EvalsPerDoubling int `json:"evals_per_doubling,omitempty"`
	// Landscape, if present (even as {}), turns on the landscapes (see
	// LandscapeConfig).
	Landscape *LandscapeConfig `json:"landscape,omitempty"`
}

// TuneSpec is Tuning in a study file; a missing budget is the study's.
type TuneSpec struct {
	Metric string      `json:"metric,omitempty"`
	Seeds  []uint64    `json:"seeds,omitempty"`
	Budget *BudgetSpec `json:"budget,omitempty"`
}

// RangeSpec is a log-spaced range of learning rates (see LogRange).
type RangeSpec struct {
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Count int     `json:"count"`
}

// ModelSpec names the model: exactly one of Builtin and Keras.
type ModelSpec struct {
	// Builtin is "xor-2-10-1" (the 2-10-1 tanh/sigmoid XOR network) or
	// "mlp": dense layers of the Hidden widths with Activation (if empty,
	// relu), then an output layer sized and activated for the data
	// (sigmoid for two classes, softmax for more, linear for regression).
	Builtin    string `json:"builtin,omitempty"`
	Hidden     []int  `json:"hidden,omitempty"`
	Activation string `json:"activation,omitempty"`
	// Keras is a Keras Sequential model's JSON (model.to_json()), read by
	// keras.FromJSON.
	Keras json.RawMessage `json:"keras,omitempty"`
}

// DataSpec names the dataset.
type DataSpec struct {
	// Name is xor, moons, spirals, circles, blobs, mnist or csv.
	Name string `json:"name"`
	// N is the number of rows of a generated problem (moons, spirals,
	// circles, blobs), before the validation split. If zero, 400.
	N int `json:"n,omitempty"`
	// Noise is a generated problem's noise. If nil, 0.2 for moons, 0.1
	// for spirals and circles.
	Noise *float64 `json:"noise,omitempty"`
	// Validation is the fraction of a generated problem's or a CSV file's
	// rows, shuffled with Seed, held out for validation. If zero, 0.25.
	Validation float64 `json:"validation,omitempty"`
	// Seed draws a generated problem and its split; the dataset does not
	// depend on the grid's seeds.
	Seed uint64 `json:"seed,omitempty"`
	// Train, Val and Test are MNIST's sizes: the first Train of its 60,000
	// training images train, the last Val of them validate (and tune), and
	// the first Test of its 10,000 test images test. If zero, Val is 6000,
	// Train the 60,000 less Val, and Test 10000.
	Train int `json:"train,omitempty"`
	Val   int `json:"val,omitempty"`
	Test  int `json:"test,omitempty"`
	// TestFraction is the fraction of a generated problem's or a CSV file's
	// rows, shuffled with Seed, held out as test data before the validation
	// split. If zero, there is no test set.
	TestFraction float64 `json:"test_fraction,omitempty"`
	// Dir is MNIST's directory. If empty, data.MNISTDir().
	Dir string `json:"dir,omitempty"`
	// Path is the CSV file (relative to the study file); it has a header
	// and its target is the column named Target (if empty, the last one),
	// read as class labels when Class is set.
	Path   string `json:"path,omitempty"`
	Target string `json:"target,omitempty"`
	Class  bool   `json:"class,omitempty"`
}

// GridSpec is Grid in a file; variants are written as ParseVariant reads
// them.
//
// LRRange, instead of LRs, gives log-spaced rates (LogRange), in the grid
// or per optimizer.
type GridSpec struct {
	Variants   []string        `json:"variants"`
	Optimizers []OptimizerSpec `json:"optimizers"`
	LRs        []float64       `json:"lrs"`
	LRRange    *RangeSpec      `json:"lr_range,omitempty"`
	Seeds      []uint64        `json:"seeds"`
}

// OptimizerSpec is OptimizerChoice in a file.
type OptimizerSpec struct {
	Name     string         `json:"name"`
	Hyper    map[string]any `json:"hyper,omitempty"`
	LRs      []float64      `json:"lrs,omitempty"`
	LRRange  *RangeSpec     `json:"lr_range,omitempty"`
	Variants []string       `json:"variants,omitempty"`
}

// LogRange returns n learning rates spaced evenly in log scale from lo to
// hi, both included, each rounded to 3 significant digits (LogRange(0.001,
// 1, 7) is 0.001, 0.00316, 0.01, 0.0316, 0.1, 0.316, 1); one rate is lo.
func LogRange(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		v := lo
		if n > 1 {
			v = math.Exp(math.Log(lo) + float64(i)*(math.Log(hi)-math.Log(lo))/float64(n-1))
		}
		out[i], _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	}
	return out
}

// lrs returns a grid's or optimizer's rates: lrs, or the range.
func lrs(field string, list []float64, r *RangeSpec) ([]float64, error) {
	if r == nil {
		return list, nil
	}
	switch {
	case len(list) > 0:
		return nil, fieldErr(field+".lr_range", "both lrs and lr_range are set")
	case !(r.Min > 0) || math.IsInf(r.Min, 0):
		return nil, fieldErr(field+".lr_range.min", "%v must be positive and finite", r.Min)
	case !(r.Max >= r.Min) || math.IsInf(r.Max, 0):
		return nil, fieldErr(field+".lr_range.max", "%v must be finite and at least min (%v)", r.Max, r.Min)
	case r.Count < 1:
		return nil, fieldErr(field+".lr_range.count", "%d must be at least 1", r.Count)
	case r.Count > 1 && r.Max == r.Min:
		return nil, fieldErr(field+".lr_range.max", "equals min: %d rates would repeat", r.Count)
	}
	return LogRange(r.Min, r.Max, r.Count), nil
}

// BatchSizes returns the batch sizes of a sweep over n rows: 1, 2, 4, ...
// up to the largest power of two below n, then the full batch.
func BatchSizes(n int) []data.Batching {
	var out []data.Batching
	for b := 1; b < n; b *= 2 {
		out = append(out, data.Minibatch(b))
	}
	return append(out, data.FullBatch())
}

// maxFileSize bounds a study file: a study is a few kilobytes, a Keras
// model in one a few more.
const maxFileSize = 16 << 20

// ReadFile reads a study file and loads its data (see File.Study). A
// relative CSV path is taken relative to the file. Errors in the file's
// fields are *ConfigErrors naming the file (by its base name) and the field.
func ReadFile(path string) (*Study, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("study: %w", err)
	}
	defer fh.Close()
	source := filepath.Base(path)
	f, err := Parse(fh, source)
	if err != nil {
		return nil, err
	}
	if f.Data.Path != "" && !filepath.IsAbs(f.Data.Path) {
		f.Data.Path = filepath.Join(filepath.Dir(path), f.Data.Path)
	}
	s, err := f.Study()
	return s, inFile(err, source)
}

// Parse decodes a study file read from r, named source in errors. An empty
// file, unknown fields, values of the wrong type and trailing data are
// *ConfigErrors giving the line, column and field.
func Parse(r io.Reader, source string) (*File, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("study: %s: %w", source, err)
	}
	if len(b) > maxFileSize {
		return nil, &ConfigError{Source: source, Err: fmt.Errorf("larger than %d MiB: not a study file", maxFileSize>>20)}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, &ConfigError{Source: source, Err: errors.New("empty study file")}
	}
	var f File
	if err := decode(b, source, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// DatasetNames are the names DataSpec.Name accepts.
var DatasetNames = []string{"xor", "moons", "spirals", "circles", "blobs", "mnist", "csv"}

// BuiltinModels are the names ModelSpec.Builtin accepts.
var BuiltinModels = []string{"xor-2-10-1", "mlp"}

// Study checks the file, loads its data and returns the study. Errors name
// the field ("grid.optimizers[1].name", "data.name").
func (f *File) Study() (*Study, error) {
	name := strings.ToLower(f.Data.Name)
	if name == "" && f.Data.Path != "" {
		name = "csv"
	}
	var dt tensor.Dtype
	switch f.DType {
	case "":
		dt = tensor.Float64
		if name == "mnist" {
			dt = tensor.Float32
		}
	case "float32":
		dt = tensor.Float32
	case "float64":
		dt = tensor.Float64
	default:
		return nil, fieldErr("dtype", "%q, want float32 or float64", f.DType)
	}
	if !slices.Contains(DatasetNames, name) {
		return nil, fieldErr("data.name", "unknown dataset %q (valid: %s)", f.Data.Name, strings.Join(DatasetNames, ", "))
	}
	g := f.Grid
	s := &Study{Name: f.Name, Data: name, DType: dt, Loss: f.Loss, Metrics: f.Metrics, KeepSteps: f.KeepSteps,
		Grid: Grid{Seeds: g.Seeds}, EvalsPerDoubling: f.EvalsPerDoubling, Landscape: f.Landscape}
	var err error
	switch Kind(f.Kind) {
	case KindCompare, "compare":
	case KindBatchSweep:
		s.Kind = KindBatchSweep
	default:
		return nil, fieldErr("kind", "unknown kind %q (valid: compare, %s)", f.Kind, KindBatchSweep)
	}
	if s.Grid.LRs, err = lrs("grid", g.LRs, g.LRRange); err != nil {
		return nil, err
	}
	if s.Grid.Variants, err = parseVariants("grid.variants", g.Variants); err != nil {
		return nil, err
	}
	for i, o := range g.Optimizers {
		field := fmt.Sprintf("grid.optimizers[%d]", i)
		if o.Name == "" {
			return nil, fieldErr(field+".name", "no optimizer name")
		}
		vs, err := parseVariants(field+".variants", o.Variants)
		if err != nil {
			return nil, err
		}
		rates, err := lrs(field, o.LRs, o.LRRange)
		if err != nil {
			return nil, err
		}
		s.Grid.Optimizers = append(s.Grid.Optimizers, OptimizerChoice{Name: o.Name, Hyper: o.Hyper, LRs: rates, Variants: vs})
	}
	if s.Budget, err = f.Budget.budget(); err != nil {
		return nil, err
	}
	if f.Target != nil {
		s.Target = Target(*f.Target)
	}
	if t := f.Tune; t != nil {
		s.Tune = &Tuning{Metric: t.Metric, Seeds: t.Seeds}
		if t.Budget != nil {
			if s.Tune.Budget, err = t.Budget.budget(); err != nil {
				return nil, inField(err, "tune.")
			}
		}
	}
	if n := f.NoiseScale; n != nil {
		ns := NoiseScale(*n)
		s.NoiseScale = &ns
	}
	if err := f.checkModel(); err != nil {
		return nil, err
	}
	if s.Train, s.Validation, s.Test, err = LoadData(f.Data, dt); err != nil {
		return nil, err
	}
	if s.Kind == KindBatchSweep && len(s.Grid.Variants) == 0 && len(f.Grid.Optimizers) == 1 && len(f.Grid.Optimizers[0].Variants) == 0 {
		s.Grid.Variants = BatchSizes(s.Train.Len())
	}
	if s.Name == "" {
		s.Name = name
	}
	kind, outputs, err := targetKind(s.Train)
	if err != nil {
		return nil, err
	}
	if s.Loss == "" {
		s.Loss = map[string]string{"binary": "binary_crossentropy", "sparse": "sparse_categorical_crossentropy",
			"onehot": "categorical_crossentropy", "regression": "mean_squared_error"}[kind]
		if f.Metrics == nil && kind != "regression" {
			s.Metrics = []string{"accuracy"}
		}
	}
	if s.Model, err = f.Model.builder(s.Train.Features(), kind, outputs); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func parseVariants(field string, names []string) ([]data.Batching, error) {
	var out []data.Batching
	for i, v := range names {
		b, err := parseVariant(v)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("%s[%d]", field, i), "%w", err)
		}
		out = append(out, b)
	}
	return out, nil
}

func (f *File) checkModel() error {
	m := f.Model
	switch {
	case m.Builtin == "" && len(m.Keras) == 0:
		return fieldErr("model", "no model: set builtin (%s) or keras", strings.Join(BuiltinModels, ", "))
	case m.Builtin != "" && len(m.Keras) > 0:
		return fieldErr("model", "both builtin and keras are set")
	case m.Builtin != "" && !slices.Contains(BuiltinModels, m.Builtin):
		return fieldErr("model.builtin", "unknown model %q (valid: %s)", m.Builtin, strings.Join(BuiltinModels, ", "))
	case m.Builtin == "mlp" && len(m.Hidden) == 0:
		return fieldErr("model.hidden", "mlp needs at least one hidden width")
	case m.Builtin != "mlp" && len(m.Hidden) > 0:
		return fieldErr("model.hidden", "hidden applies to mlp only")
	case m.Builtin != "mlp" && m.Activation != "":
		return fieldErr("model.activation", "activation applies to mlp only")
	case m.Activation != "" && !slices.Contains(nn.ActivationNames(), strings.ToLower(m.Activation)):
		return fieldErr("model.activation", "unknown activation %q (valid: %s)", m.Activation, strings.Join(nn.ActivationNames(), ", "))
	}
	for i, h := range m.Hidden {
		if h <= 0 {
			return fieldErr(fmt.Sprintf("model.hidden[%d]", i), "width %d must be positive", h)
		}
	}
	if len(m.Keras) > 0 {
		if _, err := keras.FromJSON(m.Keras); err != nil {
			return fieldErr("model.keras", "%v", err)
		}
	}
	return nil
}

// targetKind classifies the targets: "binary" (one column of 0 and 1),
// "sparse" (one column of class indices, more than two classes), "onehot"
// (several columns) or "regression", and returns the output width.
func targetKind(d *data.Dataset) (string, int, error) {
	if d.Targets() > 1 {
		return "onehot", d.Targets(), nil
	}
	labels, err := d.Labels()
	if err != nil {
		return "regression", 1, nil
	}
	k := slices.Max(labels) + 1
	if k <= 2 {
		return "binary", 1, nil
	}
	return "sparse", k, nil
}

// builder returns the model constructor.
func (m ModelSpec) builder(in int, kind string, outputs int) (func() (*nn.Sequential, error), error) {
	if len(m.Keras) > 0 {
		raw := slices.Clone([]byte(m.Keras))
		return func() (*nn.Sequential, error) { return keras.FromJSON(raw) }, nil
	}
	outAct := map[string]string{"binary": "sigmoid", "sparse": "softmax", "onehot": "softmax", "regression": "linear"}[kind]
	switch m.Builtin {
	case "xor-2-10-1":
		if in != 2 || outputs != 1 {
			return nil, fieldErr("model.builtin", "xor-2-10-1 wants 2 features and 1 target, the data has %d and %d", in, outputs)
		}
		return XORModel, nil
	}
	hidden, act := slices.Clone(m.Hidden), m.Activation
	if act == "" {
		act = "relu"
	}
	return func() (*nn.Sequential, error) { return MLP(in, hidden, act, outputs, outAct), nil }, nil
}

// XORModel returns the 2-10-1 network of the XOR problem: tanh hidden
// units and a sigmoid output.
func XORModel() (*nn.Sequential, error) {
	return nn.NewSequential(
		&nn.Dense{Units: 10, InputDim: 2},
		&nn.Activation{Fn: "tanh"},
		&nn.Dense{Units: 1},
		&nn.Activation{Fn: "sigmoid"},
	), nil
}

// MLP returns a multilayer perceptron: in inputs, dense layers of the
// hidden widths with activation act, and a dense output layer of out units
// with activation outAct.
func MLP(in int, hidden []int, act string, out int, outAct string) *nn.Sequential {
	m := nn.NewSequential()
	for i, h := range hidden {
		d := &nn.Dense{Units: h, Activation: act}
		if i == 0 {
			d.InputDim = in
		}
		m.Add(d)
	}
	d := &nn.Dense{Units: out, Activation: outAct}
	if len(hidden) == 0 {
		d.InputDim = in
	}
	m.Add(d)
	return m
}

// LoadData loads the training, validation and test sets a DataSpec names,
// in dtype dt; test is nil when the spec has none. MNIST's error, when its
// files are missing, says how to fetch them.
func LoadData(spec DataSpec, dt tensor.Dtype) (train, val, test *data.Dataset, err error) {
	name := strings.ToLower(spec.Name)
	if name == "" && spec.Path != "" {
		name = "csv"
	}
	n := spec.N
	if n == 0 {
		n = 400
	}
	frac := spec.Validation
	if frac == 0 {
		frac = 0.25
	}
	noise := func(def float64) float64 {
		if spec.Noise != nil {
			return *spec.Noise
		}
		return def
	}
	rng := rand.New(rand.NewPCG(spec.Seed, 0x5eed))
	var all *data.Dataset
	switch name {
	case "xor":
		x := data.XOR(dt)
		return x, x, nil, nil
	case "moons":
		all, err = data.TwoMoons(n, noise(0.2), dt, rng)
	case "spirals":
		all, err = data.Spirals(n, noise(0.1), dt, rng)
	case "circles":
		all, err = data.Circles(n, noise(0.1), 0.5, dt, rng)
	case "blobs":
		all, err = data.Blobs(n, dt, rng)
	case "mnist":
		return loadMNIST(spec, dt)
	case "csv":
		if spec.Path == "" {
			return nil, nil, nil, fieldErr("data.path", "csv needs a path")
		}
		opts := data.CSVOptions{Header: true, Class: spec.Class, DType: dt}
		if spec.Target != "" {
			opts.TargetNames = []string{spec.Target}
		}
		tab, err := data.ReadCSVFile(spec.Path, opts)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("study: data.path: %w", err)
		}
		all = tab.Data
	default:
		return nil, nil, nil, fieldErr("data.name", "unknown dataset %q (valid: %s)", spec.Name, strings.Join(DatasetNames, ", "))
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("study: data: %w", err)
	}
	if tf := spec.TestFraction; tf != 0 {
		if all, test, err = all.Split(tf, rng.Uint64()); err != nil {
			return nil, nil, nil, fieldErr("data.test_fraction", "%v", err)
		}
	}
	if train, val, err = all.Split(frac, rng.Uint64()); err != nil {
		return nil, nil, nil, fieldErr("data.validation", "%v", err)
	}
	return train, val, test, nil
}

// loadMNIST loads MNIST's training, validation and test sets (see
// DataSpec.Train).
func loadMNIST(spec DataSpec, dt tensor.Dtype) (train, val, test *data.Dataset, err error) {
	const trainImages, testImages = 60000, 10000
	valN := cmp.Or(spec.Val, 6000)
	trainN := cmp.Or(spec.Train, trainImages-valN)
	testN := cmp.Or(spec.Test, testImages)
	switch {
	case valN < 0 || valN >= trainImages:
		return nil, nil, nil, fieldErr("data.val", "%d MNIST validation images, want 1 to %d (held out of the training images)", valN, trainImages-1)
	case trainN < 0 || trainN+valN > trainImages:
		return nil, nil, nil, fieldErr("data.train", "%d MNIST training images, want 1 to %d (%d less the %d validation images)", trainN, trainImages-valN, trainImages, valN)
	case testN < 0 || testN > testImages:
		return nil, nil, nil, fieldErr("data.test", "%d MNIST test images, want 1 to %d", testN, testImages)
	case spec.TestFraction != 0:
		return nil, nil, nil, fieldErr("data.test_fraction", "MNIST has its own test images: set data.test instead")
	}
	tr, te, err := data.LoadMNIST(spec.Dir, data.MNISTOptions{DType: dt})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("study: data: %w", err)
	}
	if train, err = tr.Slice(0, trainN); err != nil {
		return nil, nil, nil, err
	}
	if val, err = tr.Slice(trainImages-valN, trainImages); err != nil {
		return nil, nil, nil, err
	}
	if test, err = te.Slice(0, testN); err != nil {
		return nil, nil, nil, err
	}
	return train, val, test, nil
}
