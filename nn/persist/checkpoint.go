package persist

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
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
//	                               schedule step, LR scale, shuffle and
//	                               dropout stream states, partial-epoch
//	                               sums, epoch records
//	          descent.optimizer    JSON: name, hyperparameters, step count
//	          descent.training     JSON: the Fingerprint of the run
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

// Fingerprint describes how a run trains, as a checkpoint records it to
// check that a resumed run is configured the same way. Values are
// descriptions (a type and its settings as JSON), compared as strings.
type Fingerprint struct {
	Epochs           int      `json:"epochs"`
	Batching         string   `json:"batching"`
	ValidationSplit  string   `json:"validation_split"`
	Schedule         string   `json:"schedule"`
	ScheduleInterval string   `json:"schedule_interval"`
	Clip             string   `json:"clip"`
	Loss             string   `json:"loss"`
	Metrics          []string `json:"metrics"`
	Optimizer        string   `json:"optimizer"`
	// MaxStepRecords is FitConfig.MaxStepRecords resolved (10000 for
	// zero, -1 for every step); 0 in checkpoints written before descent
	// bounded the step records.
	MaxStepRecords int `json:"max_step_records,omitempty"`
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

// fitConfig returns the parts of a Fingerprint that come from FitConfig.
func fitConfig(cfg nn.FitConfig) Fingerprint {
	var batching any = cfg.Batching
	if cfg.Batching == nil {
		batching = data.FullBatch()
	}
	tc := Fingerprint{
		Epochs:          cfg.Epochs,
		Batching:        describe(batching),
		ValidationSplit: strconv.FormatFloat(cfg.ValidationSplit, 'g', -1, 64),
		Schedule:        describe(cfg.Schedule),
		Clip:            describe(cfg.Clip),
		MaxStepRecords:  cfg.MaxStepRecords,
	}
	switch {
	case cfg.MaxStepRecords == 0:
		tc.MaxStepRecords = nn.DefaultMaxStepRecords
	case cfg.MaxStepRecords < 0:
		tc.MaxStepRecords = -1
	}
	if cfg.Schedule != nil {
		tc.ScheduleInterval = cfg.ScheduleInterval.String()
	}
	return tc
}

// fingerprint returns the whole Fingerprint of a compiled model and a run.
func fingerprint(m *nn.Sequential, cfg nn.FitConfig) Fingerprint {
	tc := fitConfig(cfg)
	tc.Loss = describe(m.Loss())
	tc.Optimizer = describe(m.Optimizer())
	tc.Metrics = []string{}
	for _, mt := range m.Metrics() {
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
func (c Fingerprint) diffFit(o Fingerprint) []string {
	var d diffs
	d.add("epochs", c.Epochs, o.Epochs)
	d.add("batching", c.Batching, o.Batching)
	d.add("validation split", c.ValidationSplit, o.ValidationSplit)
	d.add("schedule", c.Schedule, o.Schedule)
	d.add("schedule interval", c.ScheduleInterval, o.ScheduleInterval)
	d.add("clip", c.Clip, o.Clip)
	if c.MaxStepRecords != 0 {
		d.add("step records kept (MaxStepRecords)", c.MaxStepRecords, o.MaxStepRecords)
	}
	return d
}

// diffModel lists the fields set by Compile that differ between c and o.
// The optimizer is compared by LoadCheckpoint with its state.
func (c Fingerprint) diffModel(o Fingerprint) []string {
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
	// Fingerprint is the configuration of the run that wrote the
	// checkpoint.
	Fingerprint Fingerprint
}

// CheckFit reports, in one error wrapping nn.ErrMismatch, every difference
// between the run that wrote the checkpoint and cfg that would make a
// resumed Fit differ from the uninterrupted run: epochs, batching,
// validation split, schedule, clipping and the step records kept. (The loss, metrics and
// optimizer were checked by LoadCheckpoint.) To train for more epochs than
// planned, skip the check or set cfg.Epochs from Fingerprint.Epochs first.
func (c *CheckpointInfo) CheckFit(cfg nn.FitConfig) error {
	d := c.Fingerprint.diffFit(fitConfig(cfg))
	if len(d) == 0 {
		return nil
	}
	return fmt.Errorf("persist: checkpoint: the run is configured differently: %s: %w", strings.Join(d, "; "), nn.ErrMismatch)
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
			return fmt.Errorf("%.80s is not a number", b)
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
	Dropout      []byte      `json:"dropout,omitempty"` // absent before descent had Dropout
	ElapsedNS    int64       `json:"elapsed_ns"`
	EpochLoss    jfloat      `json:"epoch_loss"`
	EpochMetrics []jfloat    `json:"epoch_metrics"`
	EpochRows    int64       `json:"epoch_rows"`
	Epochs       []ckptEpoch `json:"epochs"`
	HistorySteps int         `json:"history_steps"`
	// StepEvery is the spacing of the step records (History.StepEvery),
	// absent when every step is recorded.
	StepEvery int `json:"step_every,omitempty"`
}

// ckptStateIn is ckptState as it is read: the lists that a hostile file
// could make long are decoded one element at a time (decodeEpochs).
type ckptStateIn struct {
	ckptState
	EpochMetrics json.RawMessage `json:"epoch_metrics"`
	Epochs       json.RawMessage `json:"epochs"`
}

// ckptEpochIn is an epoch record as it is read: every field must be there.
type ckptEpochIn struct {
	Epoch     *int              `json:"epoch"`
	Loss      *jfloat           `json:"loss"`
	Metrics   map[string]jfloat `json:"metrics"`
	LR        *jfloat           `json:"lr"`
	Steps     *int              `json:"steps"`
	Examples  *int64            `json:"examples"`
	GradEvals *int64            `json:"grad_evals"`
	ElapsedNS *int64            `json:"elapsed_ns"`
	Noise     *ckptNoise        `json:"noise"` // optional: absent in older checkpoints
}

// ckptNoise is an epoch's gradient noise estimate (nn.GradientNoise).
type ckptNoise struct {
	Small    int    `json:"small"`
	Big      int    `json:"big"`
	Probes   int    `json:"probes"`
	GradSq   jfloat `json:"grad_sq"`
	TraceCov jfloat `json:"trace_cov"`
	Simple   jfloat `json:"simple"`
}

// Limits of a checkpoint's JSON metadata: the optimizer's and the run's
// settings (a few hundred bytes in practice), the partial metric sums and
// one epoch record each take at most maxSmallJSON, so that decoding them
// costs little whatever a file claims. Epoch records, as many as the
// epochs run, must each be complete: a record decodes into about twice
// the bytes it takes.
const maxSmallJSON = 64 << 10

// maxBuffers bounds the optimizer buffers of one parameter (Adam with
// AMSGrad has three), so that a checkpoint's optimizer state is at most a
// few times the weights.
const maxBuffers = 8

type ckptEpoch struct {
	Epoch     int               `json:"epoch"`
	Loss      jfloat            `json:"loss"`
	Metrics   map[string]jfloat `json:"metrics"`
	LR        jfloat            `json:"lr"`
	Steps     int               `json:"steps"`
	Examples  int64             `json:"examples"`
	GradEvals int64             `json:"grad_evals"`
	ElapsedNS int64             `json:"elapsed_ns"`
	Noise     *ckptNoise        `json:"noise,omitempty"`
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
// schedule position, LR scale, shuffling and dropout streams,
// partial-epoch sums), History, and cfg's description (see Fingerprint),
// so that LoadCheckpoint and Fit with Resume continue the run bit for bit.
// cfg is the configuration the run was started with. The save is atomic.
func SaveCheckpoint(path string, m *nn.Sequential, cfg nn.FitConfig) error {
	if err := writeFileAtomic(path, func(w io.Writer) error { return WriteCheckpoint(w, m, cfg) }); err != nil {
		return fmt.Errorf("persist: save checkpoint %s: %w", path, err)
	}
	return nil
}

// WriteCheckpoint writes a checkpoint to w (see SaveCheckpoint).
func WriteCheckpoint(w io.Writer, m *nn.Sequential, cfg nn.FitConfig) error {
	views, meta, err := checkpoint(m, cfg)
	if err != nil {
		return fmt.Errorf("persist: write checkpoint: %w", err)
	}
	if err := writeST(w, views, meta); err != nil {
		return fmt.Errorf("persist: write checkpoint: %w", err)
	}
	return nil
}

func checkpoint(m *nn.Sequential, cfg nn.FitConfig) (map[string]safetensors.TensorView, map[string]string, error) {
	if !m.Compiled() {
		return nil, nil, fmt.Errorf("%w (call Compile first)", nn.ErrNotCompiled)
	}
	opt := m.Optimizer()
	so, ok := opt.(optim.Stateful)
	if !ok {
		return nil, nil, fmt.Errorf("optimizer %s (%T) does not implement optim.Stateful, so its state cannot be saved: %w", opt.Name(), opt, nn.ErrConfig)
	}
	for _, l := range m.Layers() {
		if isStateTensor(l.Name() + "/") {
			return nil, nil, fmt.Errorf("layer name %q is reserved in checkpoints: %w", l.Name(), nn.ErrConfig)
		}
	}
	meta, err := modelMeta(m, formatCheckpoint)
	if err != nil {
		return nil, nil, err
	}
	views, err := weightViews(m)
	if err != nil {
		return nil, nil, err
	}
	// Optimizer state.
	st := so.State()
	shapes := map[string][]int{}
	for _, p := range m.Params() {
		shapes[p.Name()] = p.Shape()
	}
	for pname, bufs := range st.Buffers {
		shape, ok := shapes[pname]
		if !ok {
			return nil, nil, fmt.Errorf("optimizer state has parameter %q, which the model lacks: %w", pname, nn.ErrMismatch)
		}
		for bname, vals := range bufs {
			v, err := tensorView(safetensors.F64, shape, encode64(vals))
			if err != nil {
				return nil, nil, fmt.Errorf("optimizer buffer %s of %s: %w", bname, pname, err)
			}
			views[optimizerPrefix+pname+"/"+bname] = v
		}
	}
	oj, err := json.Marshal(ckptOptimizer{Name: opt.Name(), Config: describe(opt), Step: st.Step})
	if err != nil {
		return nil, nil, err
	}
	meta[metaOptimizer] = string(oj)
	// Training state and History.
	ts, err := m.TrainState()
	if err != nil {
		return nil, nil, err
	}
	cs := ckptState{
		Epoch: ts.Epoch, StepInEpoch: ts.StepInEpoch, Steps: ts.Steps, Examples: ts.Examples,
		ScheduleStep: ts.ScheduleStep, LRScale: jfloat(ts.LRScale),
		Shuffle: ts.Shuffle, EpochShuffle: ts.EpochShuffle, Dropout: ts.Dropout, ElapsedNS: int64(ts.Elapsed),
		EpochLoss: jfloat(ts.EpochLoss), EpochRows: ts.EpochRows,
		Epochs: []ckptEpoch{}, HistorySteps: len(ts.History.Steps), StepEvery: ts.History.StepEvery,
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
		if n := e.Noise; n.Probes > 0 {
			ce.Noise = &ckptNoise{Small: n.Small, Big: n.Big, Probes: n.Probes, GradSq: jfloat(n.GradSq), TraceCov: jfloat(n.TraceCov), Simple: jfloat(n.Simple)}
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
	training, err := json.Marshal(fingerprint(m, cfg))
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
func LoadCheckpoint(path string, m *nn.Sequential) (*CheckpointInfo, error) {
	if m == nil || !m.Compiled() {
		return nil, fmt.Errorf("persist: load checkpoint %s: %w (call Compile first)", path, nn.ErrNotCompiled)
	}
	f, err := readFile("load checkpoint", path)
	if err != nil {
		return nil, err
	}
	return restore(f, m)
}

// ReadCheckpoint is LoadCheckpoint from a stream.
func ReadCheckpoint(r io.Reader, m *nn.Sequential) (*CheckpointInfo, error) {
	if m == nil || !m.Compiled() {
		return nil, fmt.Errorf("persist: read checkpoint: %w (call Compile first)", nn.ErrNotCompiled)
	}
	f, err := readStream("read checkpoint", r)
	if err != nil {
		return nil, err
	}
	return restore(f, m)
}

func restore(f *stFile, m *nn.Sequential) (*CheckpointInfo, error) {
	if f.format != formatCheckpoint {
		return nil, formatError(f.op, f.name, "a %s file, not a checkpoint (descent's checkpoints are safetensors files written by SaveCheckpoint)", f.kind())
	}
	opt := m.Optimizer()
	so, ok := opt.(optim.Stateful)
	if !ok {
		return nil, fmt.Errorf("persist: %s %s: optimizer %s (%T) does not implement optim.Stateful: %w", f.op, f.name, opt.Name(), opt, nn.ErrConfig)
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
	_, stateJS, optJS, trainJS := need(metaModel), need(metaTrainState), need(metaOptimizer), need(metaTraining)
	if len(missing) > 0 {
		return nil, formatError(f.op, f.name, "metadata lacks %s", strings.Join(missing, ", "))
	}
	for _, k := range []string{metaOptimizer, metaTraining} {
		if n := len(f.meta[k]); n > maxSmallJSON {
			return nil, formatError(f.op, f.name, "%s is %d bytes, more than the %d its settings take", k, n, maxSmallJSON)
		}
	}

	checkArchitecture(f, m, e)
	if dt, _, err := f.buildInfo(); err == nil && dt != m.DType() {
		e.add(nn.ErrMismatch, "the checkpoint is %v, the model is %v", dt, m.DType())
	}
	plan := planWeights(f, m, e)

	// The run's configuration: loss, metrics, optimizer.
	var saved Fingerprint
	if err := json.Unmarshal([]byte(trainJS), &saved); err != nil {
		e.add(nn.ErrFormat, "%s: %v", metaTraining, err)
	} else {
		for _, s := range saved.diffModel(fingerprint(m, nn.FitConfig{})) {
			e.add(nn.ErrMismatch, "%s", s)
		}
	}
	var co ckptOptimizer
	if err := json.Unmarshal([]byte(optJS), &co); err != nil {
		e.add(nn.ErrFormat, "%s: %v", metaOptimizer, err)
	} else {
		if co.Name != opt.Name() {
			e.add(nn.ErrMismatch, "optimizer: checkpoint %s, the model has %s", co.Name, opt.Name())
		} else if now := describe(opt); co.Config != now {
			e.add(nn.ErrMismatch, "optimizer settings: checkpoint %s, now %s", co.Config, now)
		}
		if co.Step < 0 {
			e.add(nn.ErrFormat, "optimizer step %d is negative", co.Step)
		}
	}
	ostate := optim.State{Name: co.Name, Step: co.Step, Buffers: map[string]map[string][]float64{}}
	params := map[string][]int{}
	for _, p := range m.Params() {
		params[p.Name()] = p.Shape()
	}
	type optBuf struct{ name, param, buffer string }
	var bufs []optBuf
	perParam := map[string]int{}
	for _, name := range f.sortedNames() {
		if !strings.HasPrefix(name, optimizerPrefix) {
			continue
		}
		ti, _, _ := f.tensor(name)
		rest := strings.TrimPrefix(name, optimizerPrefix)
		i := strings.LastIndexByte(rest, '/')
		if i <= 0 || i == len(rest)-1 {
			e.add(nn.ErrFormat, "optimizer tensor %s is not named optimizer/<parameter>/<buffer>", name)
			continue
		}
		pname, bname := rest[:i], rest[i+1:]
		shape, ok := params[pname]
		switch {
		case !ok:
			e.add(nn.ErrMismatch, "optimizer tensor %s: the model has no parameter %s", name, pname)
		case ti.DType != safetensors.F64:
			e.add(nn.ErrFormat, "optimizer tensor %s is %v, want F64", name, ti.DType)
		case !shapeEqual(ti.Shape, shape):
			e.add(nn.ErrMismatch, "optimizer tensor %s has shape %s, the parameter has %v", name, stShapeString(ti.Shape), shape)
		case perParam[pname] == maxBuffers:
			e.add(nn.ErrFormat, "optimizer tensor %s: more than %d optimizer buffers for parameter %s", name, maxBuffers, pname)
		default:
			perParam[pname]++
			bufs = append(bufs, optBuf{name: name, param: pname, buffer: bname})
		}
	}

	// Training state and History.
	ts, ok := decodeTrainState(f, m, stateJS, e)
	if !ok || (f.stream != nil && len(e.Problems) > 0) {
		return nil, e // a stream's data is not read for a mismatched model
	}

	// Everything the values are for has been checked: read them (a
	// stream's data), then check them.
	if err := f.load(nil); err != nil {
		return nil, err
	}
	checkPlan(plan, e)
	for _, b := range bufs {
		ti, raw, _ := f.tensor(b.name)
		checkFloats(e, b.name, ti.DType, raw)
		vals := make([]float64, len(raw)/8)
		for k := range vals {
			vals[k] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*k:]))
		}
		if ostate.Buffers[b.param] == nil {
			ostate.Buffers[b.param] = map[string][]float64{}
		}
		ostate.Buffers[b.param][b.buffer] = vals
	}
	decodeSteps(f, &ts, e)
	if err := e.errOrNil(); err != nil {
		return nil, err
	}

	// Apply: each step validates before it changes anything, and the
	// earlier ones are undone if a later one fails.
	old, err := m.TrainState()
	if err != nil {
		return nil, err
	}
	if err := m.SetTrainState(ts); err != nil {
		return nil, fmt.Errorf("persist: %s %s: %w", f.op, f.name, err)
	}
	if err := so.SetState(ostate); err != nil {
		if rerr := m.SetTrainState(old); rerr != nil {
			return nil, fmt.Errorf("persist: %s %s: %w (and restoring the training state failed: %v)", f.op, f.name, err, rerr)
		}
		return nil, fmt.Errorf("persist: %s %s: %w: %w", f.op, f.name, err, nn.ErrMismatch)
	}
	copyWeights(plan)
	return &CheckpointInfo{Epoch: ts.Epoch, StepInEpoch: ts.StepInEpoch, Steps: ts.Steps, Fingerprint: saved}, nil
}

// decodeTrainState decodes and checks the training state and History.
func decodeTrainState(f *stFile, m *nn.Sequential, stateJS string, e *LoadError) (nn.TrainState, bool) {
	var in ckptStateIn
	if err := json.Unmarshal([]byte(stateJS), &in); err != nil {
		e.add(nn.ErrFormat, "%s: %v", metaTrainState, err)
		return nn.TrainState{}, false
	}
	cs := in.ckptState
	bad := func(format string, args ...any) {
		e.add(nn.ErrFormat, "%s: "+format, append([]any{metaTrainState}, args...)...)
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
	if len(cs.Dropout) > 0 {
		if err := (&rand.PCG{}).UnmarshalBinary(cs.Dropout); err != nil {
			bad("dropout stream: %v", err)
		}
	}
	if every := cs.StepEvery; every < 0 || every&(every-1) != 0 {
		bad("step_every %d is not a power of two", every)
	}
	if len(in.EpochMetrics) > maxSmallJSON {
		bad("epoch_metrics is %d bytes, more than %d", len(in.EpochMetrics), maxSmallJSON)
	} else if len(in.EpochMetrics) > 0 {
		if err := json.Unmarshal(in.EpochMetrics, &cs.EpochMetrics); err != nil {
			bad("epoch_metrics: %v", err)
		}
	}
	if n := len(cs.EpochMetrics); n != 0 && n != len(m.Metrics()) {
		bad("%d partial metric sums, the model has %d metrics", n, len(m.Metrics()))
	}
	ts := nn.TrainState{
		Epoch: cs.Epoch, StepInEpoch: cs.StepInEpoch, Steps: cs.Steps, Examples: cs.Examples,
		ScheduleStep: cs.ScheduleStep, LRScale: float64(cs.LRScale),
		Shuffle: cs.Shuffle, EpochShuffle: cs.EpochShuffle, Dropout: cs.Dropout, Elapsed: time.Duration(cs.ElapsedNS),
		EpochLoss: float64(cs.EpochLoss), EpochRows: cs.EpochRows, History: &nn.History{StepEvery: cs.StepEvery},
	}
	for _, v := range cs.EpochMetrics {
		ts.EpochMetrics = append(ts.EpochMetrics, float64(v))
	}
	epochs, err := decodeEpochs(in.Epochs, cs.Epoch, m)
	if err != nil {
		bad("%v", err)
		return nn.TrainState{}, false
	}
	ts.History.Epochs = epochs
	// History steps: the tensors' shapes now, their values once loaded
	// (decodeSteps).
	for _, name := range f.sortedNames() {
		if strings.HasPrefix(name, historyPrefix) && name != histInts && name != histFloats {
			e.add(nn.ErrFormat, "unknown history tensor %s", name)
		}
	}
	n := cs.HistorySteps
	ii, _, iok := f.tensor(histInts)
	fi, _, fok := f.tensor(histFloats)
	switch {
	case n == 0 && !iok && !fok:
	case int64(n) > cs.Steps:
		bad("%d step records of a run of %d steps", n, cs.Steps)
	case !iok || !fok:
		bad("%d step records but the history tensors %s and %s are not both present", n, histInts, histFloats)
	case ii.DType != safetensors.I64 || !shapeEqual(ii.Shape, []int{n, stepInts}):
		e.add(nn.ErrFormat, "%s is %v %s, want I64 [%d %d]", histInts, ii.DType, stShapeString(ii.Shape), n, stepInts)
	case fi.DType != safetensors.F64 || !shapeEqual(fi.Shape, []int{n, stepFloats}):
		e.add(nn.ErrFormat, "%s is %v %s, want F64 [%d %d]", histFloats, fi.DType, stShapeString(fi.Shape), n, stepFloats)
	}
	return ts, true
}

// decodeSteps decodes the step records of the history tensors, whose
// shapes decodeTrainState checked, and checks their step numbers.
func decodeSteps(f *stFile, ts *nn.TrainState, e *LoadError) {
	ii, iraw, iok := f.tensor(histInts)
	fi, fraw, fok := f.tensor(histFloats)
	if !iok || !fok || ii.DType != safetensors.I64 || fi.DType != safetensors.F64 {
		return
	}
	n := len(iraw) / (8 * stepInts)
	if len(iraw) != 8*stepInts*n || len(fraw) != 8*stepFloats*n {
		return // reported by decodeTrainState
	}
	ts.History.Steps = make([]nn.StepRecord, n)
	for k := range ts.History.Steps {
		var iv [stepInts]int64
		for j := range iv {
			iv[j] = int64(binary.LittleEndian.Uint64(iraw[8*(k*stepInts+j):]))
		}
		var fv [stepFloats]float64
		for j := range fv {
			fv[j] = math.Float64frombits(binary.LittleEndian.Uint64(fraw[8*(k*stepFloats+j):]))
		}
		ts.History.Steps[k] = nn.StepRecord{Epoch: int(iv[0]), Step: int(iv[1]), Batch: int(iv[2]), Examples: iv[3], GradEvals: iv[4],
			Elapsed: time.Duration(iv[5]), Loss: fv[0], LR: fv[1], GradNorm: fv[2]}
	}
	every, prev := max(ts.History.StepEvery, 1), 0
	for k, s := range ts.History.Steps {
		latest := k == n-1 // the latest step's record may be off the spacing
		if s.Step <= prev || int64(s.Step) > ts.Steps || (!latest && (s.Step-1)%every != 0) {
			e.add(nn.ErrFormat, "%s: record %d is of step %d, after step %d, in a run of %d steps recorded every %d", histInts, k, s.Step, prev, ts.Steps, every)
			return
		}
		prev = s.Step
	}
}

// decodeEpochs decodes the epoch records of a checkpoint's training state
// one at a time: each at most maxSmallJSON bytes, complete, numbered 1, 2,
// ... up to the epochs run, with metrics the model knows.
func decodeEpochs(raw json.RawMessage, epochs int, m *nn.Sequential) ([]nn.EpochRecord, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	known := map[string]bool{"val_loss": true}
	for _, mt := range m.Metrics() {
		known[mt.Name()], known["val_"+mt.Name()] = true, true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("epochs is not a list")
	}
	var out []nn.EpochRecord
	for dec.More() {
		i := len(out)
		if i == epochs {
			return nil, fmt.Errorf("more epoch records than the %d epochs run", epochs)
		}
		var one json.RawMessage
		if err := dec.Decode(&one); err != nil {
			return nil, fmt.Errorf("epoch record %d: %v", i+1, err)
		}
		if len(one) > maxSmallJSON {
			return nil, fmt.Errorf("epoch record %d is %d bytes, more than %d", i+1, len(one), maxSmallJSON)
		}
		var ce ckptEpochIn
		if err := json.Unmarshal(one, &ce); err != nil {
			return nil, fmt.Errorf("epoch record %d: %v", i+1, err)
		}
		if ce.Epoch == nil || ce.Loss == nil || ce.Metrics == nil || ce.LR == nil || ce.Steps == nil || ce.Examples == nil || ce.GradEvals == nil || ce.ElapsedNS == nil {
			return nil, fmt.Errorf("epoch record %d lacks a field (epoch, loss, metrics, lr, steps, examples, grad_evals and elapsed_ns are required)", i+1)
		}
		if *ce.Epoch != i+1 {
			return nil, fmt.Errorf("epoch record %d is of epoch %d", i+1, *ce.Epoch)
		}
		rec := nn.EpochRecord{Epoch: *ce.Epoch, Loss: float64(*ce.Loss), LR: float64(*ce.LR), Steps: *ce.Steps,
			Examples: *ce.Examples, GradEvals: *ce.GradEvals, Elapsed: time.Duration(*ce.ElapsedNS), Metrics: make(map[string]float64, len(ce.Metrics))}
		if n := ce.Noise; n != nil {
			if n.Probes < 0 || n.Small < 0 || n.Big < 0 {
				return nil, fmt.Errorf("epoch record %d: noise estimate with a negative count", i+1)
			}
			rec.Noise = nn.GradientNoise{Small: n.Small, Big: n.Big, Probes: n.Probes, GradSq: float64(n.GradSq), TraceCov: float64(n.TraceCov), Simple: float64(n.Simple)}
		}
		for k, v := range ce.Metrics {
			if !known[k] {
				return nil, fmt.Errorf("epoch record %d has a metric %.40q the model does not compute", i+1, k)
			}
			rec.Metrics[k] = float64(v)
		}
		out = append(out, rec)
	}
	return out, nil
}
