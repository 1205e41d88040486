package study

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/descentlab/descent/nn"
)

// Results are the runs of a study, or of some of its shards.
type Results struct {
	Meta Meta
	// Runs are in index order; a shard, or a merge of some shards, holds
	// only theirs.
	Runs []RunResult
}

// Meta describes the study the results come from; shards of one study
// have equal Meta but for Shard.
type Meta struct {
	Name      string
	Data      string
	TrainRows int
	ValRows   int
	Loss      string
	Metrics   []string
	Configs   []Config
	Seeds     []uint64
	Budget    Budget
	// Target is the target with its metric resolved.
	Target Target
	// TotalRuns is the number of runs of the whole study.
	TotalRuns int
	// Shard is the shard these results cover (zero after a merge).
	Shard Shard
}

func (s *Study) meta(total int, sh Shard) Meta {
	m := Meta{Name: s.Name, Data: s.Data, TrainRows: s.Train.Len(), Loss: s.Loss, Metrics: s.Metrics,
		Configs: s.Configs(), Seeds: s.Grid.Seeds, Budget: s.Budget, TotalRuns: total, Shard: sh}
	if s.Validation != nil {
		m.ValRows = s.Validation.Len()
	}
	metric, _ := s.target()
	m.Target = Target{Metric: metric, Value: s.Target.Value}
	return m
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
}

type metaJSON struct {
	Name      string       `json:"name"`
	Data      string       `json:"data"`
	TrainRows int          `json:"train_rows"`
	ValRows   int          `json:"val_rows"`
	Loss      string       `json:"loss"`
	Metrics   []string     `json:"metrics"`
	Configs   []configJSON `json:"configs"`
	Seeds     []uint64     `json:"seeds"`
	Budget    BudgetSpec   `json:"budget"`
	Target    TargetSpec   `json:"target"`
	TotalRuns int          `json:"total_runs"`
	Shard     string       `json:"shard"`
}

func (m Meta) toJSON() metaJSON {
	j := metaJSON{Name: m.Name, Data: m.Data, TrainRows: m.TrainRows, ValRows: m.ValRows, Loss: m.Loss, Metrics: m.Metrics,
		Seeds: m.Seeds, Budget: m.Budget.toJSON(), Target: TargetSpec(m.Target), TotalRuns: m.TotalRuns, Shard: m.Shard.String()}
	for _, c := range m.Configs {
		j.Configs = append(j.Configs, c.toJSON())
	}
	return j
}

func (j metaJSON) meta() (Meta, error) {
	m := Meta{Name: j.Name, Data: j.Data, TrainRows: j.TrainRows, ValRows: j.ValRows, Loss: j.Loss, Metrics: j.Metrics,
		Seeds: j.Seeds, Target: Target(j.Target), TotalRuns: j.TotalRuns}
	var err error
	if m.Budget, err = j.Budget.budget(); err != nil {
		return m, err
	}
	for _, c := range j.Configs {
		cfg, err := c.config()
		if err != nil {
			return m, err
		}
		m.Configs = append(m.Configs, cfg)
	}
	if j.Shard != "all" && j.Shard != "" {
		if m.Shard, err = ParseShard(j.Shard); err != nil {
			return m, err
		}
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
	Epochs      []epochJSON      `json:"epochs"`
	Steps       []stepJSON       `json:"steps,omitempty"`
}

func (r RunResult) toJSON() runJSON {
	j := runJSON{Index: r.Index, ConfigIndex: r.ConfigIndex, Config: r.Config.toJSON(), Seed: r.Seed, InitHash: r.InitHash,
		Initial: floats(r.Initial), Seconds: r.Seconds, Error: r.Err, Epochs: []epochJSON{}}
	for _, e := range r.History.Epochs {
		j.Epochs = append(j.Epochs, epochJSON{Epoch: e.Epoch, Loss: Float(e.Loss), Metrics: floats(e.Metrics), LR: Float(e.LR),
			Steps: e.Steps, Examples: e.Examples, GradEvals: e.GradEvals, Seconds: e.Elapsed.Seconds()})
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
	for _, e := range j.Epochs {
		r.History.Epochs = append(r.History.Epochs, nn.EpochRecord{Epoch: e.Epoch, Loss: float64(e.Loss), Metrics: unfloats(e.Metrics),
			LR: float64(e.LR), Steps: e.Steps, Examples: e.Examples, GradEvals: e.GradEvals, Elapsed: seconds(e.Seconds)})
	}
	for _, s := range j.Steps {
		r.History.Steps = append(r.History.Steps, nn.StepRecord{Epoch: s.Epoch, Step: s.Step, Batch: s.Batch, Loss: float64(s.Loss),
			LR: float64(s.LR), GradNorm: float64(s.GradNorm), Examples: s.Examples, GradEvals: s.GradEvals, Elapsed: seconds(s.Seconds)})
	}
	return r, nil
}

// Write writes the results to dir (created if needed): study.json, which
// describes the study, and for each run runs/<id>.json (everything about
// the run) and runs/<id>.csv (one row per epoch, epoch 0 being the
// untrained model: epoch, loss, the metrics in sorted order, lr, examples,
// grad_evals, seconds).
func (r *Results) Write(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "runs"), 0o755); err != nil {
		return fmt.Errorf("study: %w", err)
	}
	if err := writeJSON(filepath.Join(dir, "study.json"), r.Meta.toJSON()); err != nil {
		return err
	}
	for _, run := range r.Runs {
		base := filepath.Join(dir, "runs", run.ID())
		if err := writeJSON(base+".json", run.toJSON()); err != nil {
			return err
		}
		var b bytes.Buffer
		if err := run.WriteCSV(&b); err != nil {
			return err
		}
		if err := os.WriteFile(base+".csv", b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("study: %w", err)
		}
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("study: %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("study: %w", err)
	}
	return nil
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

// Load reads and merges the results written by Write in one or more
// directories, typically one per shard. The studies must be the same (equal
// Meta but for the shard); a run found twice is kept once. Runs of the
// study that no directory holds are simply absent: the summary says how
// many runs each configuration has.
func Load(dirs ...string) (*Results, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("study: load: no directory: %w", ErrConfig)
	}
	var out *Results
	var first string
	seen := map[int]bool{}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "study.json"))
		if err != nil {
			return nil, fmt.Errorf("study: load: %w", err)
		}
		var mj metaJSON
		if err := json.Unmarshal(b, &mj); err != nil {
			return nil, fmt.Errorf("study: load %s: %w", filepath.Join(dir, "study.json"), err)
		}
		meta, err := mj.meta()
		if err != nil {
			return nil, fmt.Errorf("study: load %s: %w", dir, err)
		}
		if out == nil {
			out, first = &Results{Meta: meta}, dir
			out.Meta.Shard = Shard{}
		} else {
			a, b := out.Meta, meta
			a.Shard, b.Shard = Shard{}, Shard{}
			if !reflect.DeepEqual(a.toJSON(), b.toJSON()) {
				return nil, fmt.Errorf("study: load: %s and %s hold different studies: %w", first, dir, ErrConfig)
			}
		}
		files, err := filepath.Glob(filepath.Join(dir, "runs", "*.json"))
		if err != nil {
			return nil, fmt.Errorf("study: load: %w", err)
		}
		for _, path := range files {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("study: load: %w", err)
			}
			var rj runJSON
			if err := json.Unmarshal(b, &rj); err != nil {
				return nil, fmt.Errorf("study: load %s: %w", path, err)
			}
			r, err := rj.result()
			if err != nil {
				return nil, fmt.Errorf("study: load %s: %w", path, err)
			}
			if r.ConfigIndex < 0 || r.ConfigIndex >= len(out.Meta.Configs) {
				return nil, fmt.Errorf("study: load %s: config index %d out of range: %w", path, r.ConfigIndex, ErrConfig)
			}
			if seen[r.Index] {
				continue
			}
			seen[r.Index] = true
			out.Runs = append(out.Runs, r)
		}
	}
	slices.SortFunc(out.Runs, func(a, b RunResult) int { return a.Index - b.Index })
	return out, nil
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
