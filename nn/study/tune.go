package study

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/descentlab/descent/data"
)

// TuneStepsToTarget is the tuning metric that ranks rates by the gradient
// evaluations (steps) to reach the study's Target.
const TuneStepsToTarget = "steps_to_target"

// TuningDir is the subdirectory of a tuned study's results directory that
// holds its tuning stage.
const TuningDir = "tuning"

// Tuning tunes each configuration's learning rate, as the published way to
// compare optimizers and batch sizes does (Choi et al. 2019; Shallue et
// al. 2018): a tuning stage trains every configuration with every rate of
// its grid (the optimizer's LRs, else Grid.LRs), with Seeds and Budget,
// on the training data, ranking the rates on the validation data only; the
// final stage then trains each configuration with its best rate and every
// seed of the grid. The test set is never used by the tuning stage.
type Tuning struct {
	// Metric ranks the rates of a configuration. A validation quantity
	// ("val_loss", "val_accuracy"): its value at the last epoch, averaged
	// over the tuning seeds, lowest best for losses and highest for
	// accuracies (names containing "acc"); a diverged or failed run ranks
	// last. Or TuneStepsToTarget: the mean steps to reach Target (a run
	// that does not reach it counts as infinitely many; rates that never
	// reach it are ranked by the final value of the target's metric). Exact
	// ties go to the rate listed first. If empty, "val_loss", or
	// TuneStepsToTarget for a batch sweep.
	Metric string
	// Seeds are the tuning runs' seeds. If empty, the grid's first seed.
	Seeds []uint64
	// Budget bounds each tuning run. If its Epochs is zero, the study's
	// Budget.
	Budget Budget
}

func (t *Tuning) metric(kind Kind) string {
	switch {
	case t.Metric != "":
		return t.Metric
	case kind == KindBatchSweep:
		return TuneStepsToTarget
	}
	return "val_loss"
}

// Stage says which stage of a tuned study results come from.
type Stage string

// Stages.
const (
	// StageNone is an untuned study.
	StageNone Stage = ""
	// StageTuning is a tuned study's tuning stage.
	StageTuning Stage = "tuning"
	// StageFinal is a tuned study's final stage.
	StageFinal Stage = "final"
)

// TuningRecord says how the rates of a final stage were chosen (Meta.Tuning
// of a final stage); a tuning stage's has only Metric.
type TuningRecord struct {
	// Metric ranked the rates (see Tuning.Metric).
	Metric string
	// Seeds and Budget are the tuning runs'.
	Seeds  []uint64
	Budget Budget
	// StudyHash is the tuning stage's fingerprint.
	StudyHash string
	// Choices has one entry per configuration of the final stage, in order.
	Choices []Choice
}

// Choice is one configuration's tuning: the rates tried, what each scored,
// and the one chosen.
type Choice struct {
	// Config is the configuration with the chosen rate.
	Config Config
	// LRs are the rates tried, in the grid's order.
	LRs []float64
	// Scores holds, per rate, the tuning metric of each tuning seed, in the
	// order of TuningRecord.Seeds (steps to target are +Inf when not
	// reached; NaN marks a diverged or failed run).
	Scores [][]float64
	// ValLoss holds, per rate, the final validation loss of each tuning
	// seed: the sensitivity curve.
	ValLoss [][]float64
	// Best is the index of the chosen rate in LRs.
	Best int
}

// AtEdge reports whether the chosen rate is the smallest or the largest
// tried: the best rate may then lie outside the grid.
func (c Choice) AtEdge() bool { return len(c.LRs) > 1 && (c.Best == 0 || c.Best == len(c.LRs)-1) }

// Name names a configuration without its rate: "minibatch(32) sgd".
func (c Config) Name() string { return VariantName(c.Variant) + " " + c.optimizerLabel() }

func (s *Study) validateStages() error {
	switch s.Kind {
	case KindCompare, KindBatchSweep:
	default:
		return fieldErr("kind", "unknown kind %q (valid: compare, %s)", s.Kind, KindBatchSweep)
	}
	if n := s.NoiseScale; n != nil {
		small, big := cmp.Or(n.Small, 32), cmp.Or(n.Big, 512)
		switch {
		case n.Small < 0:
			return fieldErr("noise_scale.small", "%d must not be negative", n.Small)
		case n.Big < 0:
			return fieldErr("noise_scale.big", "%d must not be negative", n.Big)
		case small >= big:
			return fieldErr("noise_scale.big", "%d must be above small (%d)", big, small)
		case n.Probes < 0:
			return fieldErr("noise_scale.probes", "%d must not be negative", n.Probes)
		}
	}
	metric, _ := s.target()
	if s.stops() {
		switch {
		case s.Target.Value == 0:
			return fieldErr("target.value", "stopping at the target (a batch sweep) needs a target value")
		case s.Validation == nil:
			return fieldErr("data", "stopping at the target (a batch sweep) needs validation data")
		case !strings.HasPrefix(metric, "val_"):
			return fieldErr("target.metric", "%q: stopping at the target (a batch sweep) needs a validation metric (val_loss, val_accuracy)", metric)
		}
	}
	if s.Kind == KindBatchSweep {
		opts := map[string]bool{}
		for _, c := range s.Configs() {
			opts[c.optimizerLabel()] = true
		}
		if len(opts) != 1 {
			return fieldErr("grid.optimizers", "a batch sweep has one optimizer, not %d", len(opts))
		}
		if len(s.configNames()) < 2 {
			return fieldErr("grid.variants", "a batch sweep needs at least two batch sizes")
		}
	}
	t := s.Tune
	if t == nil {
		return nil
	}
	if s.Validation == nil {
		return fieldErr("tune", "tuning ranks rates on validation data, and the study has none")
	}
	m := t.metric(s.Kind)
	switch {
	case m == TuneStepsToTarget && s.Target.Value == 0:
		return fieldErr("tune.metric", "%s needs a target value (target.value)", m)
	case m != TuneStepsToTarget && !strings.HasPrefix(m, "val_"):
		return fieldErr("tune.metric", "%q: rates are tuned on validation data: want a val_ quantity (val_loss, val_accuracy) or %s", m, TuneStepsToTarget)
	}
	if i, dup := firstDup(t.Seeds); dup {
		return fieldErr(fmt.Sprintf("tune.seeds[%d]", i), "seed %d repeats", t.Seeds[i])
	}
	b := t.Budget
	switch {
	case b.Epochs < 0:
		return fieldErr("tune.budget.epochs", "%d must not be negative", b.Epochs)
	case b.Epochs == 0 && (b.MaxExamples != 0 || b.MaxGradEvals != 0 || b.MaxTime != 0):
		return fieldErr("tune.budget.epochs", "0 (the study's budget) with other limits set: give epochs too")
	case b.MaxExamples < 0:
		return fieldErr("tune.budget.max_examples", "%d must not be negative", b.MaxExamples)
	case b.MaxGradEvals < 0:
		return fieldErr("tune.budget.max_grad_evals", "%d must not be negative", b.MaxGradEvals)
	case b.MaxTime < 0:
		return fieldErr("tune.budget.max_time", "%v must not be negative", b.MaxTime)
	}
	return nil
}

// stops reports whether runs end at the target.
func (s *Study) stops() bool { return s.Target.Stop || s.Kind == KindBatchSweep }

// configNames returns the configurations' names without rates, in order,
// once each.
func (s *Study) configNames() []string {
	var names []string
	for _, c := range s.Configs() {
		if n := c.Name(); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// TuningStage returns the tuning stage of a tuned study as a study of its
// own: every rate of every configuration, with the tuning seeds and
// budget, without test data, noise-scale probes or landscape snapshots. It can be run, sharded
// and merged like any study; FinalStage takes its results.
func (s *Study) TuningStage() (*Study, error) {
	if s.Tune == nil {
		return nil, fieldErr("tune", "the study is not tuned")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s.tuningStage(), nil
}

func (s *Study) tuningStage() *Study {
	t := *s
	t.Tune, t.Test, t.NoiseScale, t.Landscape = nil, nil, nil, nil
	t.Grid.Seeds = s.Grid.Seeds[:1]
	if len(s.Tune.Seeds) > 0 {
		t.Grid.Seeds = s.Tune.Seeds
	}
	if s.Tune.Budget.Epochs > 0 {
		t.Budget = s.Tune.Budget
	}
	t.stage = StageTuning
	t.tuning = &TuningRecord{Metric: s.Tune.metric(s.Kind)}
	return &t
}

// FinalStage picks each configuration's best rate from the results of the
// study's tuning stage (all its runs, from one Run or merged shards) and
// returns the final stage: every configuration with its chosen rate and
// every seed of the grid, with the test data and the choices recorded in
// its results (Meta.Tuning). Results of another study, or with runs
// missing, are refused (ErrMerge).
func (s *Study) FinalStage(tuning *Results) (*Study, error) {
	ts, err := s.TuningStage()
	if err != nil {
		return nil, err
	}
	runs, err := ts.Runs()
	if err != nil {
		return nil, err
	}
	meta, err := ts.meta(len(runs), Shard{})
	if err != nil {
		return nil, err
	}
	if tuning == nil {
		return nil, errorf(ErrMerge, "final stage: no tuning results")
	}
	if got, want := tuning.Meta.Fingerprint(), meta.Fingerprint(); got != want {
		return nil, errorf(ErrMerge, "final stage: the tuning results are of another study (they differ in %s)",
			strings.Join(differences(tuning.Meta, meta), ", "))
	}
	if len(tuning.Missing) > 0 {
		return nil, errorf(ErrMerge, "final stage: the tuning stage lacks %d of its %d runs (runs %s): merge all its shards first",
			len(tuning.Missing), meta.TotalRuns, ints(tuning.Missing))
	}
	choices := choose(tuning)
	f := *s
	f.Tune = nil
	f.Grid.Variants, f.Grid.LRs = nil, nil
	f.Grid.Optimizers = nil
	for _, c := range choices {
		f.Grid.Optimizers = append(f.Grid.Optimizers, OptimizerChoice{Name: c.Config.Optimizer, Hyper: c.Config.Hyper,
			LRs: []float64{c.Config.LR}, Variants: []data.Batching{c.Config.Variant}})
	}
	f.stage = StageFinal
	f.tuning = &TuningRecord{Metric: ts.tuning.Metric, Seeds: ts.Grid.Seeds, Budget: ts.Budget, StudyHash: meta.Fingerprint(), Choices: choices}
	return &f, nil
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	if len(s) > 10 {
		s = append(s[:10], "...")
	}
	return strings.Join(s, ", ")
}

// choose ranks the rates of each configuration of complete tuning results.
func choose(tuning *Results) []Choice {
	m := tuning.Meta
	metric := "val_loss"
	if m.Tuning != nil {
		metric = m.Tuning.Metric
	}
	byConfig := make([][]RunResult, len(m.Configs))
	for _, r := range tuning.Runs {
		byConfig[r.ConfigIndex] = append(byConfig[r.ConfigIndex], r)
	}
	up := strings.Contains(metric, "acc")
	targetUp := strings.Contains(m.Target.Metric, "acc")
	var out []Choice
	index := map[string]int{}
	type score struct{ main, tie float64 }
	var scores [][]score // per choice, per rate
	for ci, c := range m.Configs {
		name := c.Name()
		k, ok := index[name]
		if !ok {
			k = len(out)
			index[name] = k
			out = append(out, Choice{Config: c})
			scores = append(scores, nil)
		}
		ch := &out[k]
		ch.LRs = append(ch.LRs, c.LR)
		var vals, losses, ties []float64
		for _, r := range byConfig[ci] {
			last := r.History.Last()
			loss := math.NaN()
			if v, ok := last.Metrics["val_loss"]; ok && r.Err == "" && len(r.History.Epochs) > 0 {
				loss = v
			}
			losses = append(losses, loss)
			var v float64
			switch {
			case r.Err != "" || len(r.History.Epochs) == 0:
				v = math.NaN()
			case metric == TuneStepsToTarget:
				v = math.Inf(1)
				if r.Reached != nil {
					v = float64(r.Reached.GradEvals)
				}
				t := finalValue(r, m.Target.Metric)
				if targetUp {
					t = -t
				}
				ties = append(ties, t)
			default:
				v = finalValue(r, metric)
			}
			vals = append(vals, v)
		}
		ch.Scores, ch.ValLoss = append(ch.Scores, vals), append(ch.ValLoss, losses)
		sc := score{main: rankValue(vals, up), tie: rankValue(ties, false)}
		scores[k] = append(scores[k], sc)
	}
	for k := range out {
		best := 0
		for i, sc := range scores[k] {
			b := scores[k][best]
			if sc.main < b.main || sc.main == b.main && sc.tie < b.tie {
				best = i
			}
		}
		out[k].Best = best
		out[k].Config.LR = out[k].LRs[best]
	}
	return out
}

// finalValue returns a run's last-epoch value of a metric, NaN if absent.
func finalValue(r RunResult, metric string) float64 {
	last := r.History.Last()
	if metric == "loss" {
		return last.Loss
	}
	if v, ok := last.Metrics[metric]; ok {
		return v
	}
	return math.NaN()
}

// rankValue returns the mean of vals as a quantity to minimise: negated
// when higher is better; NaN (a diverged or failed run) makes it +Inf.
func rankValue(vals []float64, up bool) float64 {
	if len(vals) == 0 {
		return 0
	}
	var sum float64
	for _, v := range vals {
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		sum += v
	}
	mean := sum / float64(len(vals))
	if up {
		mean = -mean
	}
	if math.IsNaN(mean) { // +Inf − Inf cannot happen: steps are ≥ 0
		return math.Inf(1)
	}
	return mean
}

// runTuned runs both stages of a tuned study: the tuning stage into
// dir/tuning, the final stage into dir.
func (s *Study) runTuned(ctx context.Context, opt Options) (*Results, error) {
	ts, topt, err := s.planTuned(opt)
	if err != nil {
		return nil, err
	}
	if opt.Progress != nil {
		fmt.Fprintf(opt.Progress, "tuning stage: %d configurations, %d rates in all x %d seeds\n", len(s.configNames()), len(ts.Configs()), len(ts.Grid.Seeds))
	}
	tres, err := ts.Run(ctx, topt)
	if err != nil {
		return &Results{Meta: tres.Meta, Tuning: tres}, err
	}
	final, err := s.FinalStage(tres)
	if err != nil {
		return nil, err
	}
	if opt.Dir != "" {
		if err := clearFinal(opt.Dir, final); err != nil {
			return nil, err
		}
	}
	if opt.Progress != nil {
		fmt.Fprintf(opt.Progress, "final stage: %d configurations x %d seeds with the chosen rates\n", len(final.Configs()), len(final.Grid.Seeds))
	}
	res, err := final.Run(ctx, opt)
	if res != nil {
		res.Tuning = tres
	}
	return res, err
}

// planTuned checks a tuned study for Run and returns its tuning stage and
// the options to run it with.
func (s *Study) planTuned(opt Options) (*Study, Options, error) {
	ts, err := s.TuningStage()
	if err != nil {
		return nil, opt, err
	}
	if opt.Shard.Count > 1 {
		return nil, opt, fieldErr("shard", "a tuned study runs in two stages: shard its tuning stage, merge it, then shard the final stage (see Study.TuningStage and Study.FinalStage)")
	}
	topt := opt
	if opt.Dir != "" {
		topt.Dir = filepath.Join(opt.Dir, TuningDir)
		tmeta, err := ts.meta(len(ts.Configs())*len(ts.Grid.Seeds), Shard{})
		if err != nil {
			return nil, opt, err
		}
		if err := checkTunedDir(opt.Dir, tmeta.Fingerprint()); err != nil {
			return nil, opt, err
		}
	}
	return ts, topt, nil
}

// String describes the budget: "3 epochs, at most 10000 gradient
// evaluations".
func (b Budget) String() string {
	s := strconv.Itoa(b.Epochs) + " epochs"
	if b.Epochs == 1 {
		s = "1 epoch"
	}
	if b.MaxExamples > 0 {
		s += fmt.Sprintf(", at most %d examples", b.MaxExamples)
	}
	if b.MaxGradEvals > 0 {
		s += fmt.Sprintf(", at most %d gradient evaluations", b.MaxGradEvals)
	}
	if b.MaxTime > 0 {
		s += ", at most " + b.MaxTime.String()
	}
	return s
}
