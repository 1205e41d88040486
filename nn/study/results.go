package study

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/keras"
	"gorgonia.org/tensor"
)

// Results are the runs of a study, or of some of its shards.
type Results struct {
	Meta Meta
	// Runs are in index order; a shard, or a merge of some shards, holds
	// only theirs.
	Runs []RunResult
	// Missing lists, in order, the indices of the study's runs that Runs
	// lacks: runs of other shards, of shards not merged, or not finished.
	Missing []int
	// MissingShards lists, after a Load of shards of a split, the shards
	// that were not given.
	MissingShards []Shard
	// Tuning holds, after a tuned study's Run, the results of its tuning
	// stage (the choices are also in Meta.Tuning).
	Tuning *Results
}

// Failed returns the runs that ended with an error.
func (r *Results) Failed() []RunResult {
	var out []RunResult
	for _, run := range r.Runs {
		if run.Err != "" {
			out = append(out, run)
		}
	}
	return out
}

// Meta describes the study the results come from; shards of one study
// have equal Meta but for Shard (see Fingerprint).
type Meta struct {
	Name string
	Data string
	// DataHash fingerprints the training and validation data: their
	// shapes, dtype and values.
	DataHash  string
	TrainRows int
	ValRows   int
	TestRows  int
	// Model is the architecture: the Keras JSON of a fresh model
	// (nn.Sequential.ToJSON), or its summary as a JSON string when it has
	// no Keras form.
	Model   json.RawMessage
	Loss    string
	Metrics []string
	Configs []Config
	Seeds   []uint64
	Budget  Budget
	// Target is the target with its metric resolved.
	Target Target
	// TotalRuns is the number of runs of the whole study.
	TotalRuns int
	// Shard is the shard these results cover (zero for a whole study and
	// after a merge).
	Shard Shard
	// Kind is the study's kind.
	Kind Kind
	// Stage is the stage of a tuned study the results come from.
	Stage Stage
	// Tuning is, for a tuning stage, its metric and, for a final stage, how
	// its rates were chosen; nil for an untuned study.
	Tuning *TuningRecord
	// NoiseScale is the study's noise-scale estimation, if any.
	NoiseScale *NoiseScale
	// EvalsPerDoubling is the study's (see Study.EvalsPerDoubling).
	EvalsPerDoubling int
}

// meta describes the study; s must be valid.
func (s *Study) meta(total int, sh Shard) (Meta, error) {
	if sh.Count <= 1 {
		sh = Shard{}
	}
	m := Meta{Name: s.Name, Data: s.Data, TrainRows: s.Train.Len(), Loss: s.Loss, Metrics: s.Metrics,
		Configs: s.Configs(), Seeds: s.Grid.Seeds, Budget: s.Budget, TotalRuns: total, Shard: sh,
		Kind: s.Kind, Stage: s.stage, Tuning: s.tuning, NoiseScale: s.NoiseScale, EvalsPerDoubling: s.EvalsPerDoubling}
	if s.Validation != nil {
		m.ValRows = s.Validation.Len()
	}
	sets := []*data.Dataset{s.Train, s.Validation}
	if s.Test != nil {
		m.TestRows = s.Test.Len()
		sets = append(sets, s.Test)
	}
	metric, _ := s.target()
	m.Target = Target{Metric: metric, Value: s.Target.Value, Stop: s.stops()}
	var err error
	if m.DataHash, err = hashData(sets...); err != nil {
		return m, err
	}
	if m.Model, err = s.architecture(); err != nil {
		return m, err
	}
	return m, nil
}

// architecture returns a fresh model's Keras JSON, compacted, or its
// summary as a JSON string.
func (s *Study) architecture() (json.RawMessage, error) {
	m, err := s.Model()
	if err != nil {
		return nil, fieldErr("model", "%w", err)
	}
	if m == nil {
		return nil, fieldErr("model", "Model returned nil")
	}
	defer m.Close()
	if js, err := keras.ToJSON(m); err == nil {
		var b bytes.Buffer
		if err := json.Compact(&b, js); err == nil {
			return b.Bytes(), nil
		}
	}
	var sum bytes.Buffer
	if err := m.Summary(&sum); err != nil {
		return nil, fieldErr("model", "%w", err)
	}
	return json.Marshal(sum.String())
}

// hashData fingerprints datasets (nil ones included, as absent): FNV-1a of
// their dtypes, shapes and values.
func hashData(sets ...*data.Dataset) (string, error) {
	h := fnv.New64a()
	buf := make([]byte, 0, 1<<16)
	flush := func() { h.Write(buf); buf = buf[:0] }
	for _, d := range sets {
		if d == nil {
			buf = append(buf, 0)
			continue
		}
		for _, t := range []*tensor.Dense{d.X, d.Y} {
			buf = fmt.Appendf(buf, "%v%v", t.Dtype(), t.Shape())
			if t.IsMaterializable() {
				t = t.Materialize().(*tensor.Dense)
			}
			switch v := t.Data().(type) {
			case []float32:
				for _, x := range v {
					if len(buf)+4 > cap(buf) {
						flush()
					}
					buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
				}
			case []float64:
				for _, x := range v {
					if len(buf)+8 > cap(buf) {
						flush()
					}
					buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(x))
				}
			default:
				return "", fieldErr("data", "%T data, want float32 or float64", v)
			}
		}
	}
	flush()
	return fmt.Sprintf("%016x", h.Sum64()), nil
}

// Float is a float64 whose JSON form also carries NaN and ±Inf, as the
// strings "NaN", "+Inf" and "-Inf" (a diverged run has a NaN loss).
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("study: number %q: %w", s, err)
		}
		*f = Float(v)
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

func floats(m map[string]float64) map[string]Float {
	out := make(map[string]Float, len(m))
	for k, v := range m {
		out[k] = Float(v)
	}
	return out
}

func unfloats(m map[string]Float) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = float64(v)
	}
	return out
}

// JSON forms, with stable snake_case names.

type configJSON struct {
	Variant   string         `json:"variant"`
	Optimizer string         `json:"optimizer"`
	Hyper     map[string]any `json:"hyper,omitempty"`
	LR        float64        `json:"lr"`
	Label     string         `json:"label"`
}

func (c Config) toJSON() configJSON {
	return configJSON{Variant: VariantName(c.Variant), Optimizer: c.Optimizer, Hyper: c.Hyper, LR: c.LR, Label: c.String()}
}

func (j configJSON) config() (Config, error) {
	v, err := ParseVariant(j.Variant)
	if err != nil {
		return Config{}, err
	}
	return Config{Variant: v, Optimizer: j.Optimizer, Hyper: j.Hyper, LR: j.LR}, nil
}

// BudgetSpec is Budget in a study file; MaxTime is a Go duration ("90s").
type BudgetSpec struct {
	Epochs       int    `json:"epochs"`
	MaxExamples  int64  `json:"max_examples,omitempty"`
	MaxGradEvals int64  `json:"max_grad_evals,omitempty"`
	MaxTime      string `json:"max_time,omitempty"`
}

func (b Budget) toJSON() BudgetSpec {
	j := BudgetSpec{Epochs: b.Epochs, MaxExamples: b.MaxExamples, MaxGradEvals: b.MaxGradEvals}
	if b.MaxTime > 0 {
		j.MaxTime = b.MaxTime.String()
	}
	return j
}

func (j BudgetSpec) budget() (Budget, error) {
	b := Budget{Epochs: j.Epochs, MaxExamples: j.MaxExamples, MaxGradEvals: j.MaxGradEvals}
	if j.MaxTime != "" {
		d, err := time.ParseDuration(j.MaxTime)
		if err != nil {
			return b, fieldErr("budget.max_time", "%v", err)
		}
		b.MaxTime = d
	}
	return b, nil
}

// TargetSpec is Target in a study file.
type TargetSpec struct {
	Metric string  `json:"metric,omitempty"`
	Value  float64 `json:"value,omitempty"`
	Stop   bool    `json:"stop,omitempty"`
}

// NoiseScaleSpec is NoiseScale in a study file.
type NoiseScaleSpec struct {
	Small  int `json:"small,omitempty"`
	Big    int `json:"big,omitempty"`
	Probes int `json:"probes,omitempty"`
}

type choiceJSON struct {
	Config  configJSON `json:"config"`
	LRs     []float64  `json:"lrs"`
	Scores  [][]Float  `json:"scores"`
	ValLoss [][]Float  `json:"val_loss"`
	Best    int        `json:"best"`
}

type tuningJSON struct {
	Metric    string       `json:"metric"`
	Seeds     []uint64     `json:"seeds,omitempty"`
	Budget    *BudgetSpec  `json:"budget,omitempty"`
	StudyHash string       `json:"study_hash,omitempty"`
	Choices   []choiceJSON `json:"choices,omitempty"`
}

func floats2(v [][]float64) [][]Float {
	out := make([][]Float, len(v))
	for i, row := range v {
		out[i] = make([]Float, len(row))
		for j, x := range row {
			out[i][j] = Float(x)
		}
	}
	return out
}

func unfloats2(v [][]Float) [][]float64 {
	out := make([][]float64, len(v))
	for i, row := range v {
		out[i] = make([]float64, len(row))
		for j, x := range row {
			out[i][j] = float64(x)
		}
	}
	return out
}

func (t *TuningRecord) toJSON() *tuningJSON {
	if t == nil {
		return nil
	}
	j := &tuningJSON{Metric: t.Metric, Seeds: t.Seeds, StudyHash: t.StudyHash}
	if t.StudyHash != "" {
		b := t.Budget.toJSON()
		j.Budget = &b
	}
	for _, c := range t.Choices {
		j.Choices = append(j.Choices, choiceJSON{Config: c.Config.toJSON(), LRs: c.LRs, Scores: floats2(c.Scores), ValLoss: floats2(c.ValLoss), Best: c.Best})
	}
	return j
}

func (j *tuningJSON) record() (*TuningRecord, error) {
	if j == nil {
		return nil, nil
	}
	t := &TuningRecord{Metric: j.Metric, Seeds: j.Seeds, StudyHash: j.StudyHash}
	if j.Budget != nil {
		b, err := j.Budget.budget()
		if err != nil {
			return nil, err
		}
		t.Budget = b
	}
	for _, c := range j.Choices {
		cfg, err := c.Config.config()
		if err != nil {
			return nil, err
		}
		if c.Best < 0 || c.Best >= len(c.LRs) {
			return nil, fmt.Errorf("study: tuning choice %s: best %d out of range", cfg, c.Best)
		}
		t.Choices = append(t.Choices, Choice{Config: cfg, LRs: c.LRs, Scores: unfloats2(c.Scores), ValLoss: unfloats2(c.ValLoss), Best: c.Best})
	}
	return t, nil
}

type metaJSON struct {
	Name      string          `json:"name"`
	Data      string          `json:"data"`
	DataHash  string          `json:"data_hash"`
	TrainRows int             `json:"train_rows"`
	ValRows   int             `json:"val_rows"`
	Model     json.RawMessage `json:"model"`
	Loss      string          `json:"loss"`
	Metrics   []string        `json:"metrics"`
	Configs   []configJSON    `json:"configs"`
	Seeds     []uint64        `json:"seeds"`
	Budget    BudgetSpec      `json:"budget"`
	Target    TargetSpec      `json:"target"`
	TotalRuns int             `json:"total_runs"`
	TestRows  int             `json:"test_rows,omitempty"`
	Kind      Kind            `json:"kind,omitempty"`
	Stage     Stage           `json:"stage,omitempty"`
	Tuning    *tuningJSON     `json:"tuning,omitempty"`
	Noise     *NoiseScaleSpec `json:"noise_scale,omitempty"`
	Evals     int             `json:"evals_per_doubling,omitempty"`
}

func (m Meta) toJSON() metaJSON {
	j := metaJSON{Name: m.Name, Data: m.Data, DataHash: m.DataHash, TrainRows: m.TrainRows, ValRows: m.ValRows, Model: m.Model,
		Loss: m.Loss, Metrics: m.Metrics, Seeds: m.Seeds, Budget: m.Budget.toJSON(), Target: TargetSpec(m.Target), TotalRuns: m.TotalRuns,
		TestRows: m.TestRows, Kind: m.Kind, Stage: m.Stage, Tuning: m.Tuning.toJSON(), Evals: m.EvalsPerDoubling}
	if m.NoiseScale != nil {
		n := NoiseScaleSpec(*m.NoiseScale)
		j.Noise = &n
	}
	if len(j.Model) == 0 {
		j.Model = json.RawMessage("null")
	}
	for _, c := range m.Configs {
		j.Configs = append(j.Configs, c.toJSON())
	}
	return j
}

func (j metaJSON) meta() (Meta, error) {
	m := Meta{Name: j.Name, Data: j.Data, DataHash: j.DataHash, TrainRows: j.TrainRows, ValRows: j.ValRows, Model: j.Model,
		Loss: j.Loss, Metrics: j.Metrics, Seeds: j.Seeds, Target: Target(j.Target), TotalRuns: j.TotalRuns,
		TestRows: j.TestRows, Kind: j.Kind, Stage: j.Stage, EvalsPerDoubling: j.Evals}
	if j.Noise != nil {
		n := NoiseScale(*j.Noise)
		m.NoiseScale = &n
	}
	var err error
	if m.Budget, err = j.Budget.budget(); err != nil {
		return m, err
	}
	if m.Tuning, err = j.Tuning.record(); err != nil {
		return m, err
	}
	for _, c := range j.Configs {
		cfg, err := c.config()
		if err != nil {
			return m, err
		}
		m.Configs = append(m.Configs, cfg)
	}
	return m, nil
}

type epochJSON struct {
	Epoch     int              `json:"epoch"`
	Loss      Float            `json:"loss"`
	Metrics   map[string]Float `json:"metrics"`
	LR        Float            `json:"lr"`
	Steps     int              `json:"steps"`
	Examples  int64            `json:"examples"`
	GradEvals int64            `json:"grad_evals"`
	Seconds   float64          `json:"seconds"`
	Noise     *noiseJSON       `json:"noise,omitempty"`
}

type noiseJSON struct {
	Small    int   `json:"small"`
	Big      int   `json:"big"`
	Probes   int   `json:"probes"`
	GradSq   Float `json:"grad_sq"`
	TraceCov Float `json:"trace_cov"`
	Simple   Float `json:"simple"`
}

type crossingJSON struct {
	Epoch     int     `json:"epoch"`
	GradEvals int64   `json:"grad_evals"`
	Examples  int64   `json:"examples"`
	Seconds   float64 `json:"seconds"`
	Value     Float   `json:"value"`
}

type evalJSON struct {
	Epoch     int              `json:"epoch"`
	GradEvals int64            `json:"grad_evals"`
	Examples  int64            `json:"examples"`
	Seconds   float64          `json:"seconds"`
	Metrics   map[string]Float `json:"metrics"`
}

type stepJSON struct {
	Epoch     int     `json:"epoch"`
	Step      int     `json:"step"`
	Batch     int     `json:"batch"`
	Loss      Float   `json:"loss"`
	LR        Float   `json:"lr"`
	GradNorm  Float   `json:"grad_norm,omitempty"`
	Examples  int64   `json:"examples"`
	GradEvals int64   `json:"grad_evals"`
	Seconds   float64 `json:"seconds"`
}

type runJSON struct {
	Index       int              `json:"index"`
	ConfigIndex int              `json:"config_index"`
	Config      configJSON       `json:"config"`
	Seed        uint64           `json:"seed"`
	InitHash    string           `json:"init_hash"`
	Initial     map[string]Float `json:"initial"`
	Seconds     float64          `json:"seconds"`
	Error       string           `json:"error,omitempty"`
	Test        map[string]Float `json:"test,omitempty"`
	Reached     *crossingJSON    `json:"reached,omitempty"`
	Evals       []evalJSON       `json:"evals,omitempty"`
	Epochs      []epochJSON      `json:"epochs"`
	Steps       []stepJSON       `json:"steps,omitempty"`
}

func (r RunResult) toJSON() runJSON {
	j := runJSON{Index: r.Index, ConfigIndex: r.ConfigIndex, Config: r.Config.toJSON(), Seed: r.Seed, InitHash: r.InitHash,
		Initial: floats(r.Initial), Seconds: r.Seconds, Error: r.Err, Epochs: []epochJSON{}}
	if r.Test != nil {
		j.Test = floats(r.Test)
	}
	if c := r.Reached; c != nil {
		j.Reached = &crossingJSON{Epoch: c.Epoch, GradEvals: c.GradEvals, Examples: c.Examples, Seconds: c.Seconds, Value: Float(c.Value)}
	}
	for _, e := range r.Evals {
		j.Evals = append(j.Evals, evalJSON{Epoch: e.Epoch, GradEvals: e.GradEvals, Examples: e.Examples, Seconds: e.Seconds, Metrics: floats(e.Metrics)})
	}
	for _, e := range r.History.Epochs {
		ej := epochJSON{Epoch: e.Epoch, Loss: Float(e.Loss), Metrics: floats(e.Metrics), LR: Float(e.LR),
			Steps: e.Steps, Examples: e.Examples, GradEvals: e.GradEvals, Seconds: e.Elapsed.Seconds()}
		if n := e.Noise; n.Probes > 0 {
			ej.Noise = &noiseJSON{Small: n.Small, Big: n.Big, Probes: n.Probes, GradSq: Float(n.GradSq), TraceCov: Float(n.TraceCov), Simple: Float(n.Simple)}
		}
		j.Epochs = append(j.Epochs, ej)
	}
	for _, s := range r.History.Steps {
		j.Steps = append(j.Steps, stepJSON{Epoch: s.Epoch, Step: s.Step, Batch: s.Batch, Loss: Float(s.Loss), LR: Float(s.LR),
			GradNorm: Float(s.GradNorm), Examples: s.Examples, GradEvals: s.GradEvals, Seconds: s.Elapsed.Seconds()})
	}
	return j
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

func (j runJSON) result() (RunResult, error) {
	c, err := j.Config.config()
	if err != nil {
		return RunResult{}, err
	}
	r := RunResult{Run: Run{Index: j.Index, ConfigIndex: j.ConfigIndex, Config: c, Seed: j.Seed}, InitHash: j.InitHash,
		Initial: unfloats(j.Initial), Seconds: j.Seconds, Err: j.Error, History: &nn.History{}}
	if j.Test != nil {
		r.Test = unfloats(j.Test)
	}
	if c := j.Reached; c != nil {
		r.Reached = &Crossing{Epoch: c.Epoch, GradEvals: c.GradEvals, Examples: c.Examples, Seconds: c.Seconds, Value: float64(c.Value)}
	}
	for _, e := range j.Evals {
		r.Evals = append(r.Evals, EvalPoint{Epoch: e.Epoch, GradEvals: e.GradEvals, Examples: e.Examples, Seconds: e.Seconds, Metrics: unfloats(e.Metrics)})
	}
	for _, e := range j.Epochs {
		rec := nn.EpochRecord{Epoch: e.Epoch, Loss: float64(e.Loss), Metrics: unfloats(e.Metrics),
			LR: float64(e.LR), Steps: e.Steps, Examples: e.Examples, GradEvals: e.GradEvals, Elapsed: seconds(e.Seconds)}
		if n := e.Noise; n != nil {
			rec.Noise = nn.GradientNoise{Small: n.Small, Big: n.Big, Probes: n.Probes, GradSq: float64(n.GradSq), TraceCov: float64(n.TraceCov), Simple: float64(n.Simple)}
		}
		r.History.Epochs = append(r.History.Epochs, rec)
	}
	for _, s := range j.Steps {
		r.History.Steps = append(r.History.Steps, nn.StepRecord{Epoch: s.Epoch, Step: s.Step, Batch: s.Batch, Loss: float64(s.Loss),
			LR: float64(s.LR), GradNorm: float64(s.GradNorm), Examples: s.Examples, GradEvals: s.GradEvals, Elapsed: seconds(s.Seconds)})
	}
	return r, nil
}

// Write writes the results to dir: for each run runs/<id>.json (everything
// about the run) and runs/<id>.csv (one row per epoch, epoch 0 being the
// untrained model: epoch, loss, the metrics in sorted order, lr, examples,
// grad_evals, seconds), and study.json, which records the study, the shard
// and the runs the directory holds (see Meta.Fingerprint). dir is created
// if needed. A directory that holds the results of another study or shard,
// or files that are not study results, is refused with ErrDirInUse
// (ClearDir clears a results directory); results of the same study and
// shard are replaced. Each file is written atomically.
func (r *Results) Write(dir string) error {
	if err := claim(dir, r.Meta); err != nil {
		return err
	}
	ids := make([]string, 0, len(r.Runs))
	for _, run := range r.Runs {
		if err := writeRun(dir, run); err != nil {
			return err
		}
		ids = append(ids, run.ID())
	}
	return writeManifest(dir, r.Meta, ids)
}

// WriteCSV writes the run's epochs as CSV (see Results.Write).
func (r RunResult) WriteCSV(w io.Writer) error {
	names := map[string]bool{}
	for k := range r.Initial {
		if k != "loss" {
			names[k] = true
		}
	}
	for _, e := range r.History.Epochs {
		for k := range e.Metrics {
			names[k] = true
		}
	}
	metrics := slices.Sorted(maps.Keys(names))
	cw := csv.NewWriter(w)
	cw.Write(append(append([]string{"epoch", "loss"}, metrics...), "lr", "examples", "grad_evals", "seconds"))
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	row := func(epoch int, loss float64, m map[string]float64, lr string, ex, ge int64, secs float64) {
		rec := []string{strconv.Itoa(epoch), f(loss)}
		for _, k := range metrics {
			v, ok := m[k]
			if !ok {
				rec = append(rec, "")
				continue
			}
			rec = append(rec, f(v))
		}
		cw.Write(append(rec, lr, strconv.FormatInt(ex, 10), strconv.FormatInt(ge, 10), f(secs)))
	}
	if r.Initial != nil {
		row(0, r.Initial["loss"], r.Initial, "", 0, 0, 0)
	}
	for _, e := range r.History.Epochs {
		row(e.Epoch, e.Loss, e.Metrics, f(e.LR), e.Examples, e.GradEvals, e.Elapsed.Seconds())
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("study: %w", err)
	}
	return nil
}

// Load reads and merges the results written by Write (or by Run with
// Options.Dir) in one or more directories, typically one per shard. It
// refuses, with ErrMerge, what cannot be merged: the same directory twice,
// different studies, shards of different splits (0/3 with 3/4, or a whole
// study with anything), the same shard twice, a shard out of range, and run
// files that a directory's study.json does not list or that do not belong
// to its shard. Runs of the study that no directory holds (shards not given,
// runs not finished) are listed in Results.Missing, and absent shards in
// Results.MissingShards.
func Load(dirs ...string) (*Results, error) {
	if len(dirs) == 0 {
		return nil, errorf(ErrMerge, "load: no directory")
	}
	type input struct {
		dir  string
		info os.FileInfo
		m    *manifest
		meta Meta
	}
	var ins []input
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("study: load: %w", err)
		}
		for _, prev := range ins {
			if os.SameFile(prev.info, fi) {
				if prev.dir == dir {
					return nil, errorf(ErrMerge, "load: %s given twice", dir)
				}
				return nil, errorf(ErrMerge, "load: %s given twice (as %s)", dir, prev.dir)
			}
		}
		m, meta, err := readManifest(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errorf(ErrMerge, "load: %s has no %s: not a results directory", dir, manifestName)
		}
		if err != nil {
			return nil, err
		}
		ins = append(ins, input{dir, fi, m, meta})
	}
	first := ins[0]
	shard := func(in input) string {
		if in.m.Shard.Count == 1 {
			return "the whole study"
		}
		return "shard " + in.meta.Shard.String()
	}
	for _, in := range ins[1:] {
		if in.m.StudyHash != first.m.StudyHash {
			return nil, errorf(ErrMerge, "load: %s and %s hold different studies (they differ in %s)",
				first.dir, in.dir, strings.Join(differences(first.meta, in.meta), ", "))
		}
		if in.m.Shard.Count != first.m.Shard.Count {
			return nil, errorf(ErrMerge, "load: %s holds %s but %s holds %s: they are not shards of one split (a directory left from another run?)",
				first.dir, shard(first), in.dir, shard(in))
		}
	}
	byIndex := map[int]string{}
	for _, in := range ins {
		if d, ok := byIndex[in.m.Shard.Index]; ok {
			if in.m.Shard.Count == 1 {
				return nil, errorf(ErrMerge, "load: %s and %s both hold the whole study", d, in.dir)
			}
			return nil, errorf(ErrMerge, "load: %s and %s are both %s", d, in.dir, shard(in))
		}
		byIndex[in.m.Shard.Index] = in.dir
	}
	out := &Results{Meta: first.meta}
	out.Meta.Shard = Shard{}
	for _, in := range ins {
		runs, err := readRuns(in.dir, in.m, in.meta)
		if err != nil {
			return nil, err
		}
		out.Runs = append(out.Runs, runs...)
	}
	slices.SortFunc(out.Runs, func(a, b RunResult) int { return a.Index - b.Index })
	out.Missing = missing(out.Meta.TotalRuns, out.Runs)
	if n := first.m.Shard.Count; n > 1 {
		for i := range n {
			if _, ok := byIndex[i]; !ok {
				out.MissingShards = append(out.MissingShards, Shard{Index: i, Count: n})
			}
		}
	}
	return out, nil
}

// missing lists the indices below total that runs lack; runs are sorted.
func missing(total int, runs []RunResult) []int {
	var out []int
	k := 0
	for i := range total {
		if k < len(runs) && runs[k].Index == i {
			k++
			continue
		}
		out = append(out, i)
	}
	return out
}

// readRuns reads the runs a results directory lists, checking that the
// directory holds no other run file and that each run is the study's run
// of that index and belongs to the directory's shard.
func readRuns(dir string, m *manifest, meta Meta) ([]RunResult, error) {
	manifestPath := filepath.Join(dir, manifestName)
	listed := map[string]bool{}
	for _, id := range m.Runs {
		if listed[id] {
			return nil, errorf(ErrMerge, "load: %s lists run %s twice", manifestPath, id)
		}
		listed[id] = true
	}
	files, err := filepath.Glob(filepath.Join(dir, runsDir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("study: load: %w", err)
	}
	for _, f := range files {
		if id := strings.TrimSuffix(filepath.Base(f), ".json"); !listed[id] {
			return nil, errorf(ErrMerge, "load: %s is not listed in %s: a stale or partly written file; clear the directory and rerun its shard", f, manifestPath)
		}
	}
	var runs []RunResult
	for _, id := range m.Runs {
		path := filepath.Join(dir, runsDir, id+".json")
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errorf(ErrMerge, "load: %s lists run %s, but %s is missing", manifestPath, id, path)
		}
		if err != nil {
			return nil, fmt.Errorf("study: load: %w", err)
		}
		var rj runJSON
		if err := decode(b, path, &rj); err != nil {
			return nil, err
		}
		r, err := rj.result()
		if err != nil {
			return nil, inFile(err, path)
		}
		want, ok := meta.run(r.Index)
		switch {
		case !ok || want.ID() != id || r.ID() != id || r.ConfigIndex != want.ConfigIndex:
			return nil, errorf(ErrMerge, "load: %s is not run %s of the study in %s", path, id, manifestPath)
		case !meta.Shard.Has(r.Run):
			return nil, errorf(ErrMerge, "load: %s: run %d does not belong to shard %s", path, r.Index, meta.Shard)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// run returns the study's run of index i, as Study.Runs orders them.
func (m Meta) run(i int) (Run, bool) {
	n := len(m.Seeds)
	if n == 0 || i < 0 || i >= len(m.Configs)*n {
		return Run{}, false
	}
	return Run{Index: i, ConfigIndex: i / n, Config: m.Configs[i/n], Seed: m.Seeds[i%n]}, true
}

// errNoRuns reports results without any run.
var errNoRuns = errors.New("no runs")

// metricNames lists the epoch metric names of the results, sorted.
func (r *Results) metricNames() []string {
	names := map[string]bool{}
	for _, run := range r.Runs {
		for _, e := range run.History.Epochs {
			for k := range e.Metrics {
				names[k] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(names))
}
