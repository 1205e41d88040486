package study

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// Study is one comparison: a model, a dataset and a grid of training
// configurations, each trained once per seed.
type Study struct {
	// Name names the study in tables, plots and files.
	Name string
	// Model returns a fresh, unbuilt model. It is called once per run, from
	// the run's goroutine, so it must not share layers between calls.
	Model func() (*nn.Sequential, error)
	// Loss names the loss (see nn.LossNames). Required.
	Loss string
	// Metrics names the metrics besides the loss; "accuracy" fills the
	// accuracy columns of the summary.
	Metrics []string
	// DType is the models' dtype, tensor.Float32 or tensor.Float64; it must
	// match the data's. If zero, the data's dtype.
	DType tensor.Dtype
	// Data names the dataset in the results ("moons", "mnist").
	Data string
	// Train is the training set; Validation, evaluated after every epoch, is
	// optional but the validation columns and plots need it. Runs share
	// them read-only.
	Train, Validation *data.Dataset
	// Test, optional, is evaluated once after each run, never during
	// training and never in a tuning stage: its loss and metrics are the
	// test columns of the summary (RunResult.Test).
	Test *data.Dataset
	// Grid is what varies.
	Grid Grid
	// Budget bounds every run.
	Budget Budget
	// Target sets the "to target" columns of the summary. If its Value is
	// zero they are left out.
	Target Target
	// Tune, if set, tunes the learning rate of every configuration (see
	// Tuning): the study runs in two stages, TuningStage and FinalStage.
	Tune *Tuning
	// Kind is KindCompare (the zero value) or KindBatchSweep (see
	// BatchSweep), which changes the report.
	Kind Kind
	// NoiseScale, if set, estimates the gradient noise scale during every
	// run (of the final stage of a tuned study) and records it in the
	// epochs' Noise (see callbacks.GradientNoiseScale).
	NoiseScale *NoiseScale
	// EvalsPerDoubling, if positive, also evaluates the validation data
	// within epochs, after steps 1, 2, ... and then every time the step
	// count has grown by 2^(1/EvalsPerDoubling) (RunResult.Evals), so that
	// the learning curves have points between epochs, the more so the
	// more steps an epoch has. A study that stops at its target evaluates
	// 8 times per doubling anyway.
	EvalsPerDoubling int
	// Callbacks, if set, returns fresh callbacks for one run (one call per
	// run, so that stateful callbacks are not shared). Runs always end
	// cleanly on a non-finite loss (callbacks.TerminateOnNaN).
	Callbacks func(Run) []nn.Callback
	// KeepSteps keeps the step records in the results, at Fit's default
	// resolution (every step up to nn.DefaultMaxStepRecords, then an evenly
	// spaced sample, see nn.FitConfig.MaxStepRecords). Without it only
	// epoch records are kept, which is what the summary and the plots use
	// (a stochastic epoch on MNIST has tens of thousands of steps).
	KeepSteps bool
	// Landscape, if set, keeps snapshots of the weights of the runs of the
	// seeds it pictures, for Study.Landscapes (see LandscapeConfig).
	Landscape *LandscapeConfig

	// stage and tuning are set on the stages of a tuned study.
	stage  Stage
	tuning *TuningRecord
}

// Grid is the set of configurations: for every optimizer, every variant
// (the optimizer's own Variants, else Grid.Variants) and every learning
// rate (the optimizer's own LRs, else Grid.LRs), each with every seed.
type Grid struct {
	// Variants are the batch policies: data.FullBatch(), data.Stochastic(),
	// data.Minibatch(n).
	Variants []data.Batching
	// Optimizers are the optimizers tried, with their hyperparameters.
	Optimizers []OptimizerChoice
	// LRs are the learning rates, each positive.
	LRs []float64
	// Seeds drive initialisation and shuffling (see nn.BuildConfig).
	Seeds []uint64
}

// OptimizerChoice is one optimizer a Grid tries: not an optim.Optimizer
// but what makes one for each run, a name and hyperparameters as optim.New
// takes them, without the learning rate, which the grid sets.
type OptimizerChoice struct {
	// Name is an optim.Names name ("sgd", "adam").
	Name string
	// Hyper are the hyperparameters other than lr ("momentum": 0.9).
	Hyper map[string]any
	// LRs, if set, replaces Grid.LRs for this optimizer (Adam wants smaller
	// rates than SGD).
	LRs []float64
	// Variants, if set, replaces Grid.Variants for this optimizer.
	Variants []data.Batching
}

// Budget bounds each run: Epochs always; the others, when positive, end the
// run early once that many examples or gradient evaluations (optimizer
// steps, nn.FitConfig.MaxSteps) or that much training time have been used.
type Budget struct {
	Epochs       int
	MaxExamples  int64
	MaxGradEvals int64
	MaxTime      time.Duration
}

// Target is the value of a monitored quantity whose first crossing the
// summary reports in epochs, examples, gradient evaluations and seconds.
type Target struct {
	// Metric is "loss" (the epoch's training loss), "val_loss" or a metric
	// name. If empty, "val_loss" when the study has validation data, else
	// "loss". It is reached when at or below Value, or at or above it for
	// accuracies (names containing "acc").
	Metric string
	Value  float64
	// Stop ends each run as soon as the target is reached, and measures
	// when to the step: the metric, which must then be a validation one
	// ("val_loss", "val_accuracy"), is also evaluated after steps 1, 2,
	// ..., 8 and then every time the step count grows by 2^(1/8) (9%), so
	// that the steps to the target are known to 9% whatever the batch
	// size (RunResult.Reached). A batch sweep always stops.
	Stop bool
}

// NoiseScale configures the gradient noise scale's estimation (see
// callbacks.GradientNoiseScale): probes of Small and Big rows, Probes per
// epoch. Zero fields take the callback's defaults (32, 512, 4).
type NoiseScale struct {
	Small, Big, Probes int
}

// Kind is the kind of a study.
type Kind string

// Study kinds.
const (
	// KindCompare compares configurations (the zero value).
	KindCompare Kind = ""
	// KindBatchSweep sweeps the batch size of one optimizer to measure how
	// the steps to a target scale with it (see BatchSweep).
	KindBatchSweep Kind = "batch_sweep"
)

// Config is one point of the grid without the seed.
type Config struct {
	Variant   data.Batching
	Optimizer string
	// Hyper are the optimizer's hyperparameters other than lr.
	Hyper map[string]any
	LR    float64
}

// String names the configuration, as "minibatch(32) sgd(momentum=0.9)
// lr=0.1".
func (c Config) String() string {
	return VariantName(c.Variant) + " " + c.optimizerLabel() + " lr=" + strconv.FormatFloat(c.LR, 'g', -1, 64)
}

func (c Config) optimizerLabel() string {
	if len(c.Hyper) == 0 {
		return c.Optimizer
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c.Hyper)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, c.Hyper[k]))
	}
	return c.Optimizer + "(" + strings.Join(parts, ",") + ")"
}

// Run is one training run: a configuration and a seed. Index is its place
// in the study's order, the same in every shard.
type Run struct {
	Index int
	// ConfigIndex is the configuration's place in Study.Configs.
	ConfigIndex int
	Config      Config
	Seed        uint64
}

// ID names the run in file names: its index, variant, optimizer, rate and
// seed, as "007_minibatch32_sgd_lr0.1_seed2".
func (r Run) ID() string {
	v := sanitize(strings.NewReplacer("(", "", ")", "").Replace(VariantName(r.Config.Variant)))
	return fmt.Sprintf("%03d_%s_%s_lr%s_seed%d", r.Index, v, sanitize(r.Config.optimizerLabel()), strconv.FormatFloat(r.Config.LR, 'g', -1, 64), r.Seed)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '=':
			return r
		}
		return '-'
	}, s)
}

// Configs returns the grid's configurations in order: by optimizer, then
// variant, then learning rate.
func (s *Study) Configs() []Config {
	var out []Config
	for _, o := range s.Grid.Optimizers {
		variants := ownOr(o.Variants, s.Grid.Variants)
		lrs := ownOr(o.LRs, s.Grid.LRs)
		for _, v := range variants {
			for _, lr := range lrs {
				out = append(out, Config{Variant: v, Optimizer: strings.ToLower(o.Name), Hyper: o.Hyper, LR: lr})
			}
		}
	}
	return out
}

// ownOr returns an optimizer's own list if it has one, else the grid's.
func ownOr[T any](own, grid []T) []T {
	if len(own) > 0 {
		return own
	}
	return grid
}

// Runs validates the study and returns its runs in order: every
// configuration (see Configs) with every seed, the seed varying fastest.
func (s *Study) Runs() ([]Run, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var runs []Run
	for ci, c := range s.Configs() {
		for _, seed := range s.Grid.Seeds {
			runs = append(runs, Run{Index: len(runs), ConfigIndex: ci, Config: c, Seed: seed})
		}
	}
	return runs, nil
}

// Validate reports the first problem with the study, as a *ConfigError
// naming the field as a study file spells it ("grid.lrs[1]"). Besides the
// fields, it builds and compiles one model and evaluates it on the first
// training row, so that a model that cannot train on the data (an unknown
// activation, a wrong input width, a loss that does not fit the targets) is
// reported before any run, and it checks that Target.Metric is recorded.
func (s *Study) Validate() error {
	switch {
	case s.Model == nil:
		return fieldErr("model", "no model")
	case s.Loss == "":
		return fieldErr("loss", "no loss (valid: %s)", strings.Join(nn.LossNames(), ", "))
	case s.Train == nil:
		return fieldErr("data", "no training data")
	}
	if _, err := nn.LossByName(s.Loss); err != nil {
		return fieldErr("loss", "%w", err)
	}
	for i, m := range s.Metrics {
		if _, err := nn.MetricByName(m); err != nil && !strings.EqualFold(m, "loss") {
			return fieldErr(fmt.Sprintf("metrics[%d]", i), "%w", err)
		}
	}
	if err := s.Train.Validate(); err != nil {
		return fieldErr("data", "training set: %w", err)
	}
	if s.Validation != nil {
		if err := s.Validation.Validate(); err != nil {
			return fieldErr("data", "validation set: %w", err)
		}
	}
	if s.DType.Type != nil && s.DType != s.Train.DType() {
		return fieldErr("dtype", "%v, but the data is %v", s.DType, s.Train.DType())
	}
	if err := s.validateGrid(); err != nil {
		return err
	}
	b := s.Budget
	switch {
	case b.Epochs <= 0:
		return fieldErr("budget.epochs", "%d must be positive", b.Epochs)
	case b.MaxExamples < 0:
		return fieldErr("budget.max_examples", "%d must not be negative", b.MaxExamples)
	case b.MaxGradEvals < 0:
		return fieldErr("budget.max_grad_evals", "%d must not be negative", b.MaxGradEvals)
	case b.MaxTime < 0:
		return fieldErr("budget.max_time", "%v must not be negative", b.MaxTime)
	}
	if t := s.Target; t.Value != 0 && (math.IsNaN(t.Value) || math.IsInf(t.Value, 0)) {
		return fieldErr("target.value", "%v is not finite", t.Value)
	}
	if s.Test != nil {
		if err := s.Test.Validate(); err != nil {
			return fieldErr("data", "test set: %w", err)
		}
	}
	if s.EvalsPerDoubling < 0 {
		return fieldErr("evals_per_doubling", "%d must not be negative", s.EvalsPerDoubling)
	}
	if err := s.validateStages(); err != nil {
		return err
	}
	recorded, err := s.trial()
	if err != nil {
		return fieldErr("model", "%w", err)
	}
	if metric, _ := s.target(); !slices.Contains(recorded, metric) {
		return fieldErr("target.metric", "%q is not recorded (valid: %s)", metric, strings.Join(recorded, ", "))
	}
	if s.Tune != nil {
		if m := s.Tune.metric(s.Kind); m != TuneStepsToTarget && !slices.Contains(recorded, m) {
			var valid []string
			for _, r := range recorded {
				if strings.HasPrefix(r, "val_") {
					valid = append(valid, r)
				}
			}
			valid = append(valid, TuneStepsToTarget)
			return fieldErr("tune.metric", "%q is not recorded (valid: %s)", m, strings.Join(valid, ", "))
		}
	}
	return s.Landscape.validate(s)
}

func (s *Study) validateGrid() error {
	g := s.Grid
	if len(g.Optimizers) == 0 {
		return fieldErr("grid.optimizers", "empty grid: no optimizer")
	}
	if len(g.Seeds) == 0 {
		return fieldErr("grid.seeds", "empty grid: no seed")
	}
	if i, dup := firstDup(g.Seeds); dup {
		return fieldErr(fmt.Sprintf("grid.seeds[%d]", i), "seed %d repeats", g.Seeds[i])
	}
	if err := validateVariants("grid.variants", g.Variants, s.Train.Len()); err != nil {
		return err
	}
	if err := validateLRs("grid.lrs", g.LRs); err != nil {
		return err
	}
	for i, o := range g.Optimizers {
		f := fmt.Sprintf("grid.optimizers[%d]", i)
		if err := validateVariants(f+".variants", o.Variants, s.Train.Len()); err != nil {
			return err
		}
		if err := validateLRs(f+".lrs", o.LRs); err != nil {
			return err
		}
		if len(ownOr(o.Variants, g.Variants)) == 0 {
			return fieldErr("grid.variants", "empty grid: no variant for optimizer %q", o.Name)
		}
		if len(ownOr(o.LRs, g.LRs)) == 0 {
			return fieldErr("grid.lrs", "empty grid: no learning rate for optimizer %q", o.Name)
		}
		if _, ok := o.Hyper["lr"]; ok {
			return fieldErr(f+".hyper.lr", "the learning rate is set by the grid's lrs")
		}
		if _, err := json.Marshal(o.Hyper); err != nil {
			return fieldErr(f+".hyper", "cannot be recorded in the results: %w", err)
		}
		if _, err := newOptimizer(o.Name, o.Hyper, ownOr(o.LRs, g.LRs)[0]); err != nil {
			field := f + ".name"
			if slices.Contains(optim.Names(), strings.ToLower(o.Name)) {
				field = f + ".hyper"
			}
			return fieldErr(field, "%w", err)
		}
	}
	return nil
}

// trial builds and compiles one model as the first run would, evaluates it
// on the first training row, and returns the names the runs' histories will
// record: "loss", the metrics, then the same prefixed "val_" if there is
// validation data.
func (s *Study) trial() ([]string, error) {
	m, err := s.Model()
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("Model returned nil")
	}
	defer m.Close()
	o := s.Grid.Optimizers[0]
	opt, err := newOptimizer(o.Name, o.Hyper, ownOr(o.LRs, s.Grid.LRs)[0])
	if err != nil {
		return nil, err
	}
	if err := m.Compile(nn.CompileConfig{Loss: s.Loss, Optimizer: opt, Metrics: s.Metrics, Seed: s.Grid.Seeds[0], DType: s.dtype()}); err != nil {
		return nil, err
	}
	row, err := s.Train.Slice(0, 1)
	if err != nil {
		return nil, err
	}
	ev, err := m.Evaluate(row)
	if err != nil {
		return nil, err
	}
	names := []string{"loss"}
	for _, k := range slices.Sorted(maps.Keys(ev)) {
		if k != "loss" {
			names = append(names, k)
		}
	}
	if s.Validation != nil {
		for _, k := range names[:len(names):len(names)] {
			names = append(names, "val_"+k)
		}
	}
	return names, nil
}

// dtype returns the models' dtype: DType, else the data's.
func (s *Study) dtype() tensor.Dtype {
	if s.DType.Type == nil {
		return s.Train.DType()
	}
	return s.DType
}

func firstDup[T comparable](s []T) (int, bool) {
	seen := map[T]bool{}
	for i, v := range s {
		if seen[v] {
			return i, true
		}
		seen[v] = true
	}
	return 0, false
}

func validateVariants(field string, vs []data.Batching, n int) error {
	names := make([]string, len(vs))
	for i, v := range vs {
		if err := v.Validate(n); err != nil {
			return fieldErr(fmt.Sprintf("%s[%d]", field, i), "%w", err)
		}
		names[i] = VariantName(v)
	}
	if i, dup := firstDup(names); dup {
		return fieldErr(fmt.Sprintf("%s[%d]", field, i), "variant %s repeats", names[i])
	}
	return nil
}

func validateLRs(field string, lrs []float64) error {
	for i, lr := range lrs {
		if !(lr > 0) || math.IsInf(lr, 0) {
			return fieldErr(fmt.Sprintf("%s[%d]", field, i), "learning rate %v must be positive and finite", lr)
		}
	}
	if i, dup := firstDup(lrs); dup {
		return fieldErr(fmt.Sprintf("%s[%d]", field, i), "learning rate %v repeats", lrs[i])
	}
	return nil
}

// newOptimizer builds an optimizer from its name, hyperparameters and rate.
func newOptimizer(name string, hyper map[string]any, lr float64) (optim.Optimizer, error) {
	h := make(map[string]any, len(hyper)+1)
	maps.Copy(h, hyper)
	h["lr"] = lr
	return optim.New(name, h)
}

// target returns the resolved target metric and whether reaching it means
// going up.
func (s *Study) target() (metric string, up bool) {
	metric = s.Target.Metric
	if metric == "" {
		metric = "loss"
		if s.Validation != nil {
			metric = "val_loss"
		}
	}
	return metric, strings.Contains(metric, "acc")
}

// VariantName names a batch policy as ParseVariant reads it: "full",
// "stochastic" or "minibatch(32)", followed by ",noshuffle" and
// ",droplast" when set.
func VariantName(b data.Batching) string {
	s := b.String()
	if b.NoShuffle {
		s += ",noshuffle"
	}
	if b.DropLast {
		s += ",droplast"
	}
	return s
}

// ParseVariant reads a batch policy: "full" (or "batch"), "stochastic"
// (or "sgd1"), "minibatch(32)", "minibatch:32", "minibatch32", "mb32" or a
// bare size "32"; each may be followed by ",noshuffle" and ",droplast".
// The error is a *ConfigError.
func ParseVariant(s string) (data.Batching, error) {
	b, err := parseVariant(s)
	if err != nil {
		return b, &ConfigError{Err: err}
	}
	return b, nil
}

// parseVariant is ParseVariant with an error that says only what is wrong.
func parseVariant(s string) (data.Batching, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), ",")
	var b data.Batching
	name := strings.TrimSpace(parts[0])
	switch name {
	case "full", "batch", "fullbatch", "full-batch":
	case "stochastic", "sgd1", "online":
		b.Size = 1
	default:
		num := strings.NewReplacer("minibatch", "", "mb", "", "(", "", ")", "", ":", "", "=", "").Replace(name)
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			return b, fmt.Errorf("%q is not a variant: want full, stochastic or minibatch(n) with n >= 1", s)
		}
		b.Size = n
	}
	for _, opt := range parts[1:] {
		switch strings.TrimSpace(opt) {
		case "noshuffle":
			b.NoShuffle = true
		case "droplast":
			b.DropLast = true
		default:
			return b, fmt.Errorf("variant %q: unknown option %q, want noshuffle or droplast", s, opt)
		}
	}
	return b, nil
}
