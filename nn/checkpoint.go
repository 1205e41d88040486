package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/optim"
	"github.com/nlpodyssey/safetensors"
)

// Checkpoints.
//
// A checkpoint is a safetensors file (see weights.go) holding everything a
// run needs to continue bit for bit:
//
//	tensors   "<layer>/kernel:0", ...            the weights, F32 or F64
//	          "optimizer/<param>/<buffer>"       optimizer buffers, F64, the
//	                                             parameter's shape ("exp_avg")
//	          "history/steps_int"   I64 [n, 6]   per step: epoch, step, batch,
//	                                             examples, grad evals, elapsed ns
//	          "history/steps_float" F64 [n, 3]   per step: loss, lr, grad norm
//	metadata  descent.format = "checkpoint", descent.version = "1",
//	          model_json, descent.dtype, descent.seed (as Save writes them),
//	          descent.train_state  JSON: epoch, step in epoch, counters,
//	                               schedule step, LR scale, shuffle stream
//	                               states, partial-epoch sums, epoch records
//	          descent.optimizer    JSON: name, hyperparameters, step count
//	          descent.training     JSON: the TrainConfig of the run
//
// Floats in the JSON are written with Go's shortest round-trip formatting,
// so they come back bit for bit; NaN and infinities are written as the
// strings "NaN", "Infinity" and "-Infinity".

const (
	metaTrainState = "descent.train_state"
	metaOptimizer  = "descent.optimizer"
	metaTraining   = "descent.training"

	optimizerPrefix = "optimizer/"
	historyPrefix   = "history/"
	histInts        = "history/steps_int"
	histFloats      = "history/steps_float"
)

// isStateTensor reports the tensors of a checkpoint that are not weights.
func isStateTensor(name string) bool {
	return strings.HasPrefix(name, optimizerPrefix) || strings.HasPrefix(name, historyPrefix)
}

// TrainConfig describes how a run trains, as a checkpoint records it to
// check that a resumed run is configured the same way. Values are
// descriptions (a type and its settings as JSON), compared as strings.
type TrainConfig struct {
	Epochs           int      `json:"epochs"`
	Batching         string   `json:"batching"`
	ValidationSplit  string   `json:"validation_split"`
	Schedule         string   `json:"schedule"`
	ScheduleInterval string   `json:"schedule_interval"`
	Clip             string   `json:"clip"`
	Loss             string   `json:"loss"`
	Metrics          []string `json:"metrics"`
	Optimizer        string   `json:"optimizer"`
}

// describe returns a value's type and exported settings.
func describe(v any) string {
	if v == nil {
		return "none"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%T%+v", v, v)
	}
	return fmt.Sprintf("%T%s", v, b)
}

// fitConfig returns the parts of a TrainConfig that come from FitConfig.
func fitConfig(cfg FitConfig) TrainConfig {
	var batching any = cfg.Batching
	if cfg.Batching == nil {
		batching = data.FullBatch()
	}
	tc := TrainConfig{
		Epochs:          cfg.Epochs,
		Batching:        describe(batching),
		ValidationSplit: strconv.FormatFloat(cfg.ValidationSplit, 'g', -1, 64),
		Schedule:        describe(cfg.Schedule),
		Clip:            describe(cfg.Clip),
	}
	if cfg.Schedule != nil {
		tc.ScheduleInterval = cfg.ScheduleInterval.String()
	}
	return tc
}

// trainConfig returns the whole TrainConfig of a compiled model and a run.
func (m *Sequential) trainConfig(cfg FitConfig) TrainConfig {
	tc := fitConfig(cfg)
	tc.Loss = describe(m.loss)
	tc.Optimizer = describe(m.opt)
	tc.Metrics = []string{}
	for _, mt := range m.metrics {
		tc.Metrics = append(tc.Metrics, mt.Name())
	}
	return tc
}

type diffs []string

func (d *diffs) add(field string, a, b any) {
	if fmt.Sprint(a) != fmt.Sprint(b) {
		*d = append(*d, fmt.Sprintf("%s: checkpoint %v, now %v", field, a, b))
	}
}

// diffFit lists the fields set by FitConfig that differ between c and o.
func (c TrainConfig) diffFit(o TrainConfig) []string {
	var d diffs
	d.add("epochs", c.Epochs, o.Epochs)
	d.add("batching", c.Batching, o.Batching)
	d.add("validation split", c.ValidationSplit, o.ValidationSplit)
	d.add("schedule", c.Schedule, o.Schedule)
	d.add("schedule interval", c.ScheduleInterval, o.ScheduleInterval)
	d.add("clip", c.Clip, o.Clip)
	return d
}

// diffModel lists the fields set by Compile that differ between c and o.
// The optimizer is compared by LoadCheckpoint with its state.
func (c TrainConfig) diffModel(o TrainConfig) []string {
	var d diffs
	d.add("loss", c.Loss, o.Loss)
	d.add("metrics", c.Metrics, o.Metrics)
	return d
}

// CheckpointInfo is what LoadCheckpoint tells of the checkpoint it
// restored.
type CheckpointInfo struct {
	// Epoch is the number of epochs completed, StepInEpoch the steps done
	// in the epoch in progress (0 at an epoch boundary), Steps the steps
	// over the whole run.
	Epoch, StepInEpoch int
	Steps              int64
	// Training is the configuration of the run that wrote the checkpoint.
	Training TrainConfig
}

// CheckFit reports, in one error wrapping ErrMismatch, every difference
// between the run that wrote the checkpoint and cfg that would make a
// resumed Fit differ from the uninterrupted run: epochs, batching,
// validation split, schedule and clipping. (The loss, metrics and
// optimizer were checked by LoadCheckpoint.) To train for more epochs than
// planned, skip the check or set cfg.Epochs from Training.Epochs first.
func (c *CheckpointInfo) CheckFit(cfg FitConfig) error {
	d := c.Training.diffFit(fitConfig(cfg))
	if len(d) == 0 {
		return nil
	}
	return fmt.Errorf("nn: checkpoint: the run is configured differently: %s: %w", strings.Join(d, "; "), ErrMismatch)
}

// jfloat is a float64 that survives JSON: finite values round-trip
// exactly, NaN and infinities are written as strings.
type jfloat float64

// MarshalJSON implements json.Marshaler.
func (f jfloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *jfloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*f = jfloat(math.NaN())
	case `"Infinity"`:
		*f = jfloat(math.Inf(1))
	case `"-Infinity"`:
		*f = jfloat(math.Inf(-1))
	default:
		v, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return fmt.Errorf("%s is not a number", jsonExcerpt(b))
		}
		*f = jfloat(v)
	}
	return nil
}

// ckptState is the JSON form of TrainState; the step records are tensors.
type ckptState struct {
	Epoch        int         `json:"epoch"`
	StepInEpoch  int         `json:"step_in_epoch"`
	Steps        int64       `json:"steps"`
	Examples     int64       `json:"examples"`
	ScheduleStep int         `json:"schedule_step"`
	LRScale      jfloat      `json:"lr_scale"`
	Shuffle      []byte      `json:"shuffle"`
	EpochShuffle []byte      `json:"epoch_shuffle"`
	ElapsedNS    int64       `json:"elapsed_ns"`
	EpochLoss    jfloat      `json:"epoch_loss"`
	EpochMetrics []jfloat    `json:"epoch_metrics"`
	EpochRows    int64       `json:"epoch_rows"`
	Epochs       []ckptEpoch `json:"epochs"`
	HistorySteps int         `json:"history_steps"`
}

type ckptEpoch struct {
	Epoch     int               `json:"epoch"`
	Loss      jfloat            `json:"loss"`
	Metrics   map[string]jfloat `json:"metrics"`
	LR        jfloat            `json:"lr"`
	Steps     int               `json:"steps"`
	Examples  int64             `json:"examples"`
	GradEvals int64             `json:"grad_evals"`
	ElapsedNS int64             `json:"elapsed_ns"`
}

type ckptOptimizer struct {
	Name   string `json:"name"`
	Config string `json:"config"`
	Step   int    `json:"step"`
}

// stepInts and stepFloats are the columns of the history tensors.
const (
	stepInts   = 6
	stepFloats = 3
)

// SaveCheckpoint writes a checkpoint of the compiled model and its run to
// path: weights, optimizer state, training state (epoch, step, counters,
// schedule position, LR scale, shuffling stream, partial-epoch sums),
// History, and cfg's description (see TrainConfig), so that LoadCheckpoint
// and Fit with Resume continue the run bit for bit. cfg is the
// configuration the run was started with. The save is atomic.
func (m *Sequential) SaveCheckpoint(path string, cfg FitConfig) error {
	if err := writeFileAtomic(path, func(w io.Writer) error { return m.WriteCheckpoint(w, cfg) }); err != nil {
		return fmt.Errorf("nn: save checkpoint %s: %w", path, err)
	}
	return nil
}

// WriteCheckpoint writes a checkpoint to w (see SaveCheckpoint).
func (m *Sequential) WriteCheckpoint(w io.Writer, cfg FitConfig) error {
	views, meta, err := m.checkpoint(cfg)
	if err != nil {
		return fmt.Errorf("nn: write checkpoint: %w", err)
	}
	if err := writeST(w, views, meta); err != nil {
		return fmt.Errorf("nn: write checkpoint: %w", err)
	}
	return nil
}

func (m *Sequential) checkpoint(cfg FitConfig) (map[string]safetensors.TensorView, map[string]string, error) {
	if !m.compiled {
		return nil, nil, fmt.Errorf("%w (call Compile first)", ErrNotCompiled)
	}
	so, ok := m.opt.(optim.Stateful)
	if !ok {
		return nil, nil, fmt.Errorf("optimizer %s (%T) does not implement optim.Stateful, so its state cannot be saved: %w", m.opt.Name(), m.opt, ErrConfig)
	}
	for _, l := range m.layers {
		if isStateTensor(l.Name() + "/") {
			return nil, nil, fmt.Errorf("layer name %q is reserved in checkpoints: %w", l.Name(), ErrConfig)
		}
	}
	meta, err := m.modelMeta(formatCheckpoint)
	if err != nil {
		return nil, nil, err
	}
	views, err := m.weightViews()
	if err != nil {
		return nil, nil, err
	}
	// Optimizer state.
	st := so.State()
	shapes := map[string][]int{}
	for _, p := range m.params {
		shapes[p.Name()] = p.Shape()
	}
	for pname, bufs := range st.Buffers {
		shape, ok := shapes[pname]
		if !ok {
			return nil, nil, fmt.Errorf("optimizer state has parameter %q, which the model lacks: %w", pname, ErrMismatch)
		}
		for bname, vals := range bufs {
			v, err := tensorView(safetensors.F64, shape, encode64(vals))
			if err != nil {
				return nil, nil, fmt.Errorf("optimizer buffer %s of %s: %w", bname, pname, err)
			}
			views[optimizerPrefix+pname+"/"+bname] = v
		}
	}
	opt, err := json.Marshal(ckptOptimizer{Name: m.opt.Name(), Config: describe(m.opt), Step: st.Step})
	if err != nil {
		return nil, nil, err
	}
	meta[metaOptimizer] = string(opt)
	// Training state and History.
	ts, err := m.TrainState()
	if err != nil {
		return nil, nil, err
	}
	cs := ckptState{
		Epoch: ts.Epoch, StepInEpoch: ts.StepInEpoch, Steps: ts.Steps, Examples: ts.Examples,
		ScheduleStep: ts.ScheduleStep, LRScale: jfloat(ts.LRScale),
		Shuffle: ts.Shuffle, EpochShuffle: ts.EpochShuffle, ElapsedNS: int64(ts.Elapsed),
		EpochLoss: jfloat(ts.EpochLoss), EpochRows: ts.EpochRows,
		Epochs: []ckptEpoch{}, HistorySteps: len(ts.History.Steps),
	}
	for _, v := range ts.EpochMetrics {
		cs.EpochMetrics = append(cs.EpochMetrics, jfloat(v))
	}
	for _, e := range ts.History.Epochs {
		ce := ckptEpoch{Epoch: e.Epoch, Loss: jfloat(e.Loss), LR: jfloat(e.LR), Steps: e.Steps,
			Examples: e.Examples, GradEvals: e.GradEvals, ElapsedNS: int64(e.Elapsed), Metrics: map[string]jfloat{}}
		for k, v := range e.Metrics {
			ce.Metrics[k] = jfloat(v)
		}
		cs.Epochs = append(cs.Epochs, ce)
	}
	state, err := json.Marshal(cs)
	if err != nil {
		return nil, nil, err
	}
	meta[metaTrainState] = string(state)
	if n := len(ts.History.Steps); n > 0 {
		ints := make([]byte, 0, 8*stepInts*n)
		floats := make([]float64, 0, stepFloats*n)
		for _, s := range ts.History.Steps {
			for _, v := range [stepInts]int64{int64(s.Epoch), int64(s.Step), int64(s.Batch), s.Examples, s.GradEvals, int64(s.Elapsed)} {
				ints = binary.LittleEndian.AppendUint64(ints, uint64(v))
			}
			floats = append(floats, s.Loss, s.LR, s.GradNorm)
		}
		if views[histInts], err = tensorView(safetensors.I64, []int{n, stepInts}, ints); err != nil {
			return nil, nil, err
		}
		if views[histFloats], err = tensorView(safetensors.F64, []int{n, stepFloats}, encode64(floats)); err != nil {
			return nil, nil, err
		}
	}
	training, err := json.Marshal(m.trainConfig(cfg))
	if err != nil {
		return nil, nil, err
	}
	meta[metaTraining] = string(training)
	return views, meta, nil
}

// LoadCheckpoint restores a checkpoint written by SaveCheckpoint (or the
// Checkpoint callback) into m, which must be compiled like the model that
// wrote it: same architecture, dtype, loss, metrics and optimizer settings.
// It sets the weights, the optimizer's state and the training state
// (History included), so that Fit with Resume continues the run exactly;
// use CheckpointInfo.CheckFit to check the FitConfig too. Everything is
// validated before the model is touched: on error, a *LoadError listing
// every problem for a bad or mismatched file, m is unchanged.
func LoadCheckpoint(path string, m *Sequential) (*CheckpointInfo, error) {
	if m == nil || !m.compiled {
		return nil, fmt.Errorf("nn: load checkpoint %s: %w (call Compile first)", path, ErrNotCompiled)
	}
	f, err := readSTFile("load checkpoint", path)
	if err != nil {
		return nil, err
	}
	return m.restore(f)
}

// ReadCheckpoint is LoadCheckpoint from a stream.
func ReadCheckpoint(r io.Reader, m *Sequential) (*CheckpointInfo, error) {
	if m == nil || !m.compiled {
		return nil, fmt.Errorf("nn: read checkpoint: %w (call Compile first)", ErrNotCompiled)
	}
	f, err := readSTStream("read checkpoint", r)
	if err != nil {
		return nil, err
	}
	return m.restore(f)
}

func (m *Sequential) restore(f *stFile) (*CheckpointInfo, error) {
	if f.format != formatCheckpoint {
		kind := f.format
		if kind == "" {
			kind = "plain safetensors"
		}
		return nil, formatError(f.op, f.name, "a %s file, not a checkpoint", kind)
	}
	so, ok := m.opt.(optim.Stateful)
	if !ok {
		return nil, fmt.Errorf("nn: %s %s: optimizer %s (%T) does not implement optim.Stateful: %w", f.op, f.name, m.opt.Name(), m.opt, ErrConfig)
	}
	e := &LoadError{Op: f.op, File: f.name}
	var missing []string
	need := func(key string) string {
		v, ok := f.meta[key]
		if !ok {
			missing = append(missing, key)
		}
		return v
	}
	js, stateJS, optJS, trainJS := need(metaModel), need(metaTrainState), need(metaOptimizer), need(metaTraining)
	if len(missing) > 0 {
		return nil, formatError(f.op, f.name, "metadata lacks %s", strings.Join(missing, ", "))
	}

	m.compareArchitecture(js, e)
	if dt, _, err := f.buildInfo(); err == nil && dt != m.dtype {
		e.add(ErrMismatch, "the checkpoint is %v, the model is %v", dt, m.dtype)
	}
	plan := planWeights(f, m, e)

	// The run's configuration: loss, metrics, optimizer.
	var saved TrainConfig
	if err := json.Unmarshal([]byte(trainJS), &saved); err != nil {
		e.add(ErrFormat, "%s: %v", metaTraining, err)
	} else {
		for _, s := range saved.diffModel(m.trainConfig(FitConfig{})) {
			e.add(ErrMismatch, "%s", s)
		}
	}
	var co ckptOptimizer
	if err := json.Unmarshal([]byte(optJS), &co); err != nil {
		e.add(ErrFormat, "%s: %v", metaOptimizer, err)
	} else {
		if co.Name != m.opt.Name() {
			e.add(ErrMismatch, "optimizer: checkpoint %s, the model has %s", co.Name, m.opt.Name())
		} else if now := describe(m.opt); co.Config != now {
			e.add(ErrMismatch, "optimizer settings: checkpoint %s, now %s", co.Config, now)
		}
		if co.Step < 0 {
			e.add(ErrFormat, "optimizer step %d is negative", co.Step)
		}
	}
	ostate := optim.State{Name: co.Name, Step: co.Step, Buffers: map[string]map[string][]float64{}}
	params := map[string][]int{}
	for _, p := range m.params {
		params[p.Name()] = p.Shape()
	}
	for _, name := range f.sortedNames() {
		if !strings.HasPrefix(name, optimizerPrefix) {
			continue
		}
		ti, raw, _ := f.tensor(name)
		rest := strings.TrimPrefix(name, optimizerPrefix)
		i := strings.LastIndexByte(rest, '/')
		if i <= 0 || i == len(rest)-1 {
			e.add(ErrFormat, "optimizer tensor %s is not named optimizer/<parameter>/<buffer>", name)
			continue
		}
		pname, bname := rest[:i], rest[i+1:]
		shape, ok := params[pname]
		switch {
		case !ok:
			e.add(ErrMismatch, "optimizer tensor %s: the model has no parameter %s", name, pname)
		case ti.DType != safetensors.F64:
			e.add(ErrFormat, "optimizer tensor %s is %v, want F64", name, ti.DType)
		case !shapeEqual(ti.Shape, shape):
			e.add(ErrMismatch, "optimizer tensor %s has shape %s, the parameter has %v", name, stShapeString(ti.Shape), shape)
		default:
			checkFloats(e, name, ti.DType, raw)
			vals := make([]float64, len(raw)/8)
			for k := range vals {
				vals[k] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*k:]))
			}
			if ostate.Buffers[pname] == nil {
				ostate.Buffers[pname] = map[string][]float64{}
			}
			ostate.Buffers[pname][bname] = vals
		}
	}

	// Training state and History.
	ts, ok := m.decodeTrainState(f, stateJS, e)
	if err := e.errOrNil(); err != nil || !ok {
		return nil, e
	}

	// Apply: each step validates before it changes anything, and the
	// earlier ones are undone if a later one fails.
	old, err := m.TrainState()
	if err != nil {
		return nil, err
	}
	if err := m.SetTrainState(ts); err != nil {
		return nil, fmt.Errorf("nn: %s %s: %w", f.op, f.name, err)
	}
	if err := so.SetState(ostate); err != nil {
		if rerr := m.SetTrainState(old); rerr != nil {
			return nil, fmt.Errorf("nn: %s %s: %w (and restoring the training state failed: %v)", f.op, f.name, err, rerr)
		}
		return nil, fmt.Errorf("nn: %s %s: %w: %w", f.op, f.name, err, ErrMismatch)
	}
	copyWeights(plan)
	return &CheckpointInfo{Epoch: ts.Epoch, StepInEpoch: ts.StepInEpoch, Steps: ts.Steps, Training: saved}, nil
}

// compareArchitecture reports how the checkpoint's architecture differs
// from the model's, layer by layer.
func (m *Sequential) compareArchitecture(js string, e *LoadError) {
	mine, err := m.ToJSON()
	if err != nil {
		e.add(ErrMismatch, "the model has no Keras JSON form: %v", err)
		return
	}
	if string(mine) == js {
		return
	}
	other, err := FromJSON([]byte(js))
	if err != nil {
		e.add(ErrFormat, "%s: %v", metaModel, err)
		return
	}
	if len(other.layers) != len(m.layers) {
		e.add(ErrMismatch, "the checkpoint's model has %d layers, the model %d", len(other.layers), len(m.layers))
		return
	}
	for i := range m.layers {
		a, aerr := layerJSONString(other.layers[i], i == 0, other.widths[i])
		b, berr := layerJSONString(m.layers[i], i == 0, m.widths[i])
		if aerr != nil || berr != nil || a != b {
			e.add(ErrMismatch, "layer %d: checkpoint %s, model %s", i+1, a, b)
		}
	}
}

func layerJSONString(l Layer, first bool, in int) (string, error) {
	obj, err := layerJSON(l, first, in)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := writePy(&b, obj); err != nil {
		return "", err
	}
	return b.String(), nil
}

// decodeTrainState decodes and checks the training state and History.
func (m *Sequential) decodeTrainState(f *stFile, stateJS string, e *LoadError) (TrainState, bool) {
	var cs ckptState
	if err := json.Unmarshal([]byte(stateJS), &cs); err != nil {
		e.add(ErrFormat, "%s: %v", metaTrainState, err)
		return TrainState{}, false
	}
	bad := func(format string, args ...any) {
		e.add(ErrFormat, "%s: "+format, append([]any{metaTrainState}, args...)...)
	}
	if cs.Epoch < 0 || cs.StepInEpoch < 0 || cs.Steps < 0 || cs.Examples < 0 || cs.ScheduleStep < 0 || cs.EpochRows < 0 || cs.ElapsedNS < 0 || cs.HistorySteps < 0 {
		bad("negative counter")
	}
	if lr := float64(cs.LRScale); !(lr > 0) || math.IsInf(lr, 0) {
		bad("learning-rate scale %v must be positive and finite", lr)
	}
	if err := (&rand.PCG{}).UnmarshalBinary(cs.Shuffle); err != nil {
		bad("shuffle stream: %v", err)
	}
	if cs.StepInEpoch > 0 {
		if err := (&rand.PCG{}).UnmarshalBinary(cs.EpochShuffle); err != nil {
			bad("epoch shuffle stream: %v", err)
		}
	}
	if n := len(cs.EpochMetrics); n != 0 && n != len(m.metrics) {
		bad("%d partial metric sums, the model has %d metrics", n, len(m.metrics))
	}
	ts := TrainState{
		Epoch: cs.Epoch, StepInEpoch: cs.StepInEpoch, Steps: cs.Steps, Examples: cs.Examples,
		ScheduleStep: cs.ScheduleStep, LRScale: float64(cs.LRScale),
		Shuffle: cs.Shuffle, EpochShuffle: cs.EpochShuffle, Elapsed: time.Duration(cs.ElapsedNS),
		EpochLoss: float64(cs.EpochLoss), EpochRows: cs.EpochRows, History: &History{},
	}
	for _, v := range cs.EpochMetrics {
		ts.EpochMetrics = append(ts.EpochMetrics, float64(v))
	}
	for _, ce := range cs.Epochs {
		rec := EpochRecord{Epoch: ce.Epoch, Loss: float64(ce.Loss), LR: float64(ce.LR), Steps: ce.Steps,
			Examples: ce.Examples, GradEvals: ce.GradEvals, Elapsed: time.Duration(ce.ElapsedNS), Metrics: map[string]float64{}}
		for k, v := range ce.Metrics {
			rec.Metrics[k] = float64(v)
		}
		ts.History.Epochs = append(ts.History.Epochs, rec)
	}
	// History steps.
	for _, name := range f.sortedNames() {
		if strings.HasPrefix(name, historyPrefix) && name != histInts && name != histFloats {
			e.add(ErrFormat, "unknown history tensor %s", name)
		}
	}
	n := cs.HistorySteps
	ii, iraw, iok := f.tensor(histInts)
	fi, fraw, fok := f.tensor(histFloats)
	switch {
	case n == 0 && !iok && !fok:
	case !iok || !fok:
		bad("%d step records but the history tensors %s and %s are not both present", n, histInts, histFloats)
	case ii.DType != safetensors.I64 || !shapeEqual(ii.Shape, []int{n, stepInts}):
		e.add(ErrFormat, "%s is %v %s, want I64 [%d %d]", histInts, ii.DType, stShapeString(ii.Shape), n, stepInts)
	case fi.DType != safetensors.F64 || !shapeEqual(fi.Shape, []int{n, stepFloats}):
		e.add(ErrFormat, "%s is %v %s, want F64 [%d %d]", histFloats, fi.DType, stShapeString(fi.Shape), n, stepFloats)
	default:
		ts.History.Steps = make([]StepRecord, n)
		for k := range ts.History.Steps {
			var iv [stepInts]int64
			for j := range iv {
				iv[j] = int64(binary.LittleEndian.Uint64(iraw[8*(k*stepInts+j):]))
			}
			var fv [stepFloats]float64
			for j := range fv {
				fv[j] = math.Float64frombits(binary.LittleEndian.Uint64(fraw[8*(k*stepFloats+j):]))
			}
			ts.History.Steps[k] = StepRecord{Epoch: int(iv[0]), Step: int(iv[1]), Batch: int(iv[2]), Examples: iv[3], GradEvals: iv[4],
				Elapsed: time.Duration(iv[5]), Loss: fv[0], LR: fv[1], GradNorm: fv[2]}
		}
	}
	return ts, true
}

// Checkpoint is a callback that saves checkpoints during Fit, as Keras's
// ModelCheckpoint: every EveryEpochs epochs, or only when a monitored value
// improves, keeping the last KeepLast files. Each file is a full checkpoint
// (see SaveCheckpoint) written atomically at the end of an epoch, from
// which LoadCheckpoint and Fit with Resume continue the run bit for bit.
//
// Put it last in FitConfig.Callbacks: a callback after it that changes the
// training state at the same epoch end (such as a learning-rate reduction)
// would not be in the file. Use it by pointer; it keeps the best value and
// the files it wrote.
type Checkpoint struct {
	// Path is the file to write. "{epoch}" is replaced by the epoch number
	// and "{name}" by the epoch's value of "loss" or a metric ("accuracy",
	// "val_loss"), each with an optional Python-style format as in Keras:
	// "ckpt-{epoch:03d}-{val_loss:.4f}.safetensors". A path without
	// placeholders is overwritten by each save. Required.
	Path string
	// EveryEpochs saves at epochs EveryEpochs, 2·EveryEpochs, ... If zero, 1.
	EveryEpochs int
	// SaveBest saves only when Monitor improves on the best value so far
	// (checked every EveryEpochs epochs); NaN never improves.
	SaveBest bool
	// Monitor names the value SaveBest compares: "loss" or a metric. If
	// empty, "val_loss".
	Monitor string
	// Mode is "min" or "max": whether lower or higher values of Monitor are
	// better. If empty or "auto", "max" when Monitor contains "acc", "min"
	// otherwise.
	Mode string
	// KeepLast, if positive, keeps only the KeepLast most recent files this
	// callback wrote, deleting the older ones; files it did not write are
	// never deleted.
	KeepLast int

	best    float64
	hasBest bool
	files   []string
}

var placeholderRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}`)
var formatSpecRE = regexp.MustCompile(`^(0?)([0-9]*)(?:\.([0-9]+))?([dfeg%]?)$`)

func (c *Checkpoint) validate() error {
	if c.Path == "" {
		return fmt.Errorf("nn: checkpoint: Path is empty: %w", ErrConfig)
	}
	if c.EveryEpochs < 0 || c.KeepLast < 0 {
		return fmt.Errorf("nn: checkpoint: EveryEpochs %d and KeepLast %d must not be negative: %w", c.EveryEpochs, c.KeepLast, ErrConfig)
	}
	if _, err := c.mode(); err != nil {
		return err
	}
	for _, sm := range placeholderRE.FindAllStringSubmatch(c.Path, -1) {
		spec := formatSpecRE.FindStringSubmatch(sm[2])
		if spec == nil || (sm[1] == "epoch" && spec[4] != "" && spec[4] != "d") || (sm[1] != "epoch" && spec[4] == "d") {
			return fmt.Errorf("nn: checkpoint: path %q: placeholder %s has an unsupported format (use {epoch:03d} or {val_loss:.4f}): %w", c.Path, sm[0], ErrConfig)
		}
	}
	return nil
}

func (c *Checkpoint) monitor() string {
	if c.Monitor == "" {
		return "val_loss"
	}
	return c.Monitor
}

func (c *Checkpoint) mode() (string, error) {
	switch c.Mode {
	case "min", "max":
		return c.Mode, nil
	case "", "auto":
		if strings.Contains(c.monitor(), "acc") {
			return "max", nil
		}
		return "min", nil
	}
	return "", fmt.Errorf("nn: checkpoint: mode %q, want min, max or auto: %w", c.Mode, ErrConfig)
}

// epochValue returns "loss" or a metric of an epoch record.
func epochValue(name string, rec *EpochRecord) (float64, error) {
	if name == "loss" {
		return rec.Loss, nil
	}
	if v, ok := rec.Metrics[name]; ok {
		return v, nil
	}
	have := []string{"loss"}
	for k := range rec.Metrics {
		have = append(have, k)
	}
	slices.Sort(have)
	return 0, fmt.Errorf("nn: checkpoint: %q is not recorded at epoch %d (have %s; val_ names need validation data): %w", name, rec.Epoch, strings.Join(have, ", "), ErrConfig)
}

// fileName expands the path pattern for an epoch.
func (c *Checkpoint) fileName(rec *EpochRecord) (string, error) {
	var ferr error
	out := placeholderRE.ReplaceAllStringFunc(c.Path, func(ph string) string {
		sm := placeholderRE.FindStringSubmatch(ph)
		spec := formatSpecRE.FindStringSubmatch(sm[2])
		verb := spec[1] + spec[2]
		if spec[3] != "" {
			verb += "." + spec[3]
		}
		if sm[1] == "epoch" {
			return fmt.Sprintf("%"+verb+"d", rec.Epoch)
		}
		v, err := epochValue(sm[1], rec)
		if err != nil {
			ferr = err
			return ""
		}
		switch spec[4] {
		case "":
			if verb == "" {
				return pyFloat(v)
			}
			return fmt.Sprintf("%"+verb+"g", v)
		case "%":
			return fmt.Sprintf("%"+verb+"f%%", 100*v)
		}
		return fmt.Sprintf("%"+verb+spec[4], v)
	})
	return out, ferr
}

// OnTrainBegin implements TrainBeginCallback: it checks the settings and
// takes the best monitored value from the History of a resumed run.
func (c *Checkpoint) OnTrainBegin(t *Training) error {
	if err := c.validate(); err != nil {
		return err
	}
	c.hasBest = false
	if c.SaveBest && t.History != nil {
		mode, _ := c.mode()
		for i := range t.History.Epochs {
			if v, err := epochValue(c.monitor(), &t.History.Epochs[i]); err == nil {
				c.improve(v, mode)
			}
		}
	}
	return nil
}

// improve records v if it is better than the best so far.
func (c *Checkpoint) improve(v float64, mode string) bool {
	if math.IsNaN(v) {
		return false
	}
	if c.hasBest && !(mode == "min" && v < c.best) && !(mode == "max" && v > c.best) {
		return false
	}
	c.best, c.hasBest = v, true
	return true
}

// OnEpochEnd implements Callback.
func (c *Checkpoint) OnEpochEnd(t *Training, rec *EpochRecord) error {
	if err := c.validate(); err != nil {
		return err
	}
	every := max(c.EveryEpochs, 1)
	if rec.Epoch%every != 0 {
		return nil
	}
	if c.SaveBest {
		v, err := epochValue(c.monitor(), rec)
		if err != nil {
			return err
		}
		mode, _ := c.mode()
		if !c.improve(v, mode) {
			return nil
		}
	}
	path, err := c.fileName(rec)
	if err != nil {
		return err
	}
	if err := t.Model.SaveCheckpoint(path, t.Config); err != nil {
		return err
	}
	c.files = slices.DeleteFunc(c.files, func(s string) bool { return s == path })
	c.files = append(c.files, path)
	if c.KeepLast > 0 {
		for len(c.files) > c.KeepLast {
			if err := os.Remove(c.files[0]); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("nn: checkpoint: removing an old checkpoint: %w", err)
			}
			c.files = c.files[1:]
		}
	}
	return nil
}

// Files returns the checkpoint files this callback wrote and kept, oldest
// first.
func (c *Checkpoint) Files() []string { return slices.Clone(c.files) }

// Best returns the best monitored value so far and whether there is one
// (SaveBest only).
func (c *Checkpoint) Best() (float64, bool) { return c.best, c.hasBest }
