package study

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/callbacks"
)

// Shard selects part of a study's runs: run i belongs to shard i mod
// Count. The zero value (or Count 1) is the whole study.
type Shard struct {
	Index, Count int
}

// ParseShard reads a shard written "i/n", 0 <= i < n, as the -shard flag
// takes it. The error is a *ConfigError for the field "shard".
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fieldErr("shard", "%q, want i/n with 0 <= i < n", s)
	}
	return Shard{Index: i, Count: n}, nil
}

// String returns "i/n", or "all" for the whole study.
func (s Shard) String() string {
	if s.Count <= 1 {
		return "all"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Has reports whether the run belongs to the shard.
func (s Shard) Has(r Run) bool { return s.Count <= 1 || r.Index%s.Count == s.Index }

// Options configures Study.Run.
type Options struct {
	// Workers is the number of runs trained at once. If zero,
	// runtime.GOMAXPROCS(0). The results do not depend on it.
	Workers int
	// Shard, if set, runs only that shard of the grid. It must leave no
	// shard empty: Count at most the number of runs.
	Shard Shard
	// Dir, if set, receives the results (see Results.Write): Run checks it
	// before training, refusing one that holds another study's or shard's
	// results (ErrDirInUse), and writes each run as it finishes, so that an
	// interrupted study keeps its finished runs.
	Dir string
	// Progress, if not nil, receives a line per finished run and an
	// overall progress bar with an estimate of the time left.
	Progress io.Writer
}

// Plan checks the study and the options, without training or writing
// anything, and returns the runs that Run would train, in order. Its
// errors are those Run would return before training: a *ConfigError naming
// the field (the options' fields are "workers", "shard" and "dir"), or
// ErrDirInUse.
//
// For a tuned study (Study.Tune), whose final runs depend on the rates the
// tuning stage chooses, Plan returns the tuning stage's runs, checks
// opt.Dir for both stages and refuses a Shard: shard the stages instead.
func (s *Study) Plan(opt Options) ([]Run, error) {
	if s.Tune != nil {
		ts, topt, err := s.planTuned(opt)
		if err != nil {
			return nil, err
		}
		return ts.Plan(topt)
	}
	runs, _, err := s.plan(opt)
	return runs, err
}

func (s *Study) plan(opt Options) ([]Run, Meta, error) {
	runs, err := s.Runs()
	if err != nil {
		return nil, Meta{}, err
	}
	sh := opt.Shard
	switch {
	case opt.Workers < 0:
		return nil, Meta{}, fieldErr("workers", "%d must not be negative", opt.Workers)
	case sh.Count < 0 || sh.Count > 1 && (sh.Index < 0 || sh.Index >= sh.Count):
		return nil, Meta{}, fieldErr("shard", "%d/%d, want i/n with 0 <= i < n", sh.Index, sh.Count)
	case sh.Count > len(runs) && sh.Index >= len(runs):
		return nil, Meta{}, fieldErr("shard", "%s would be empty: the study has %d runs, so at most %d shards", sh, len(runs), len(runs))
	case sh.Count > len(runs):
		return nil, Meta{}, fieldErr("shard", "%d shards would leave shards %d to %d empty: the study has %d runs, so at most %d shards",
			sh.Count, len(runs), sh.Count-1, len(runs), len(runs))
	}
	meta, err := s.meta(len(runs), sh)
	if err != nil {
		return nil, Meta{}, err
	}
	if opt.Dir != "" {
		if err := checkDir(opt.Dir, meta); err != nil {
			return nil, Meta{}, err
		}
	}
	var mine []Run
	for _, r := range runs {
		if sh.Has(r) {
			mine = append(mine, r)
		}
	}
	return mine, meta, nil
}

// RunResult is what one run produced.
type RunResult struct {
	Run
	// InitHash is a fingerprint (FNV-1a of the float64 bits) of the initial
	// weights: equal for the runs of a seed, whatever their configuration.
	InitHash string
	// Initial holds the loss and metrics before training (epoch 0), under
	// the History's names ("loss", "val_accuracy").
	Initial map[string]float64
	// History is the run's record; its Steps are dropped unless
	// Study.KeepSteps.
	History *nn.History
	// Seconds is the run's wall time, evaluation included.
	Seconds float64
	// Test holds the loss and metrics of the trained model on the study's
	// test data ("loss", "accuracy"); nil without test data.
	Test map[string]float64
	// Reached is when the run first reached the target, measured to the
	// step, when the study stops at its target (Target.Stop); nil if it
	// did not reach it or the study does not stop.
	Reached *Crossing
	// Evals are the validation evaluations within and at the end of the
	// epochs, when the study makes them (Study.EvalsPerDoubling, or a study
	// that stops at its target).
	Evals []EvalPoint
	// Err is the error that ended the run, if any; History then holds what
	// was recorded before it.
	Err string
	// Trajectory holds snapshots of the run's weights when Study.Landscape
	// pictures its seed (nil otherwise). It is kept in memory only: Write
	// does not save it.
	Trajectory []callbacks.Snapshot
}

// EvalPoint is one evaluation of the validation data during a run: when
// (epoch in progress, steps, examples, training seconds) and the values
// ("val_loss", "val_accuracy").
type EvalPoint struct {
	Epoch     int
	GradEvals int64
	Examples  int64
	Seconds   float64
	Metrics   map[string]float64
}

// Crossing is the moment a run reached its target: the gradient
// evaluations (steps), examples and training seconds so far, the epoch in
// progress, and the metric's value then.
type Crossing struct {
	Epoch     int
	GradEvals int64
	Examples  int64
	Seconds   float64
	Value     float64
}

// Run trains the study's runs (those of opt.Shard) on opt.Workers
// goroutines, each run owning its model and graphs, and returns them in
// index order. Everything Plan checks is checked before any training, and
// opt.Dir is claimed. A run that fails is recorded with its error (see
// Results.Failed) and does not stop the others; a cancelled ctx stops the
// study with its error, with the runs finished so far. Results.Missing
// lists the study's runs not trained.
//
// A tuned study (Study.Tune) runs its two stages in turn: the tuning stage
// into opt.Dir/tuning (TuningDir), then the final stage into opt.Dir; the
// final stage's Results are returned with the tuning stage's in
// Results.Tuning. It cannot be sharded as a whole (see Plan).
func (s *Study) Run(ctx context.Context, opt Options) (*Results, error) {
	if s.Tune != nil {
		return s.runTuned(ctx, opt)
	}
	mine, meta, err := s.plan(opt)
	if err != nil {
		return nil, err
	}
	if opt.Dir != "" {
		if err := claim(opt.Dir, meta); err != nil {
			return nil, err
		}
	}
	res := &Results{Meta: meta}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(mine)))

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	done := make(chan RunResult)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				done <- s.train(ctx, mine[i])
			}
		})
	}
	go func() {
		defer close(jobs)
		for i := range mine {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()
	prog := newProgress(opt.Progress, len(mine))
	var written []Run
	var werr error
	for r := range done {
		res.Runs = append(res.Runs, r)
		prog.finished(r)
		if opt.Dir == "" || werr != nil {
			continue
		}
		// Each run is written as it finishes, then listed.
		if werr = writeRun(opt.Dir, r); werr == nil {
			written = append(written, r.Run)
			slices.SortFunc(written, func(a, b Run) int { return a.Index - b.Index })
			ids := make([]string, len(written))
			for i, w := range written {
				ids[i] = w.ID()
			}
			werr = writeManifest(opt.Dir, meta, ids)
		}
		if werr != nil {
			cancel(werr)
		}
	}
	slices.SortFunc(res.Runs, func(a, b RunResult) int { return a.Index - b.Index })
	res.Missing = missing(meta.TotalRuns, res.Runs)
	if werr != nil {
		return res, werr
	}
	if err := context.Cause(ctx); err != nil {
		return res, fmt.Errorf("study: %w", err)
	}
	return res, nil
}

// train does one run.
func (s *Study) train(ctx context.Context, r Run) (out RunResult) {
	out = RunResult{Run: r, History: &nn.History{}}
	begin := time.Now()
	defer func() { out.Seconds = time.Since(begin).Seconds() }()
	fail := func(err error) RunResult {
		out.Err = err.Error()
		return out
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	m, err := s.Model()
	if err != nil {
		return fail(fmt.Errorf("study: model: %w", err))
	}
	if m == nil {
		return fail(fieldErr("model", "Model returned nil"))
	}
	defer m.Close()
	o, err := newOptimizer(r.Config.Optimizer, r.Config.Hyper, r.Config.LR)
	if err != nil {
		return fail(err)
	}
	if err := m.Compile(nn.CompileConfig{Loss: s.Loss, Optimizer: o, Metrics: s.Metrics, Seed: r.Seed, DType: s.dtype()}); err != nil {
		return fail(err)
	}
	out.InitHash = hashParams(m.Params())
	if out.Initial, err = s.initial(m); err != nil {
		return fail(err)
	}
	cbs := []nn.Callback{&callbacks.TerminateOnNaN{}}
	if n := s.NoiseScale; n != nil {
		cbs = append(cbs, &callbacks.GradientNoiseScale{Data: s.Train, Small: n.Small, Big: n.Big, Probes: n.Probes, Seed: r.Seed})
	}
	var wt *watch
	switch {
	case s.stops():
		metric, up := s.target()
		wt = &watch{val: s.Validation, growth: stopGrowth, target: true, metric: metric, up: up, value: s.Target.Value}
	case s.EvalsPerDoubling > 0 && s.Validation != nil:
		wt = &watch{val: s.Validation, growth: math.Exp2(1 / float64(s.EvalsPerDoubling))}
	}
	if wt != nil {
		cbs = append(cbs, wt)
	}
	if s.Callbacks != nil {
		cbs = append(cbs, s.Callbacks(r)...)
	}
	if tr := s.trajectory(r); tr != nil {
		cbs = append(cbs, tr)
		defer func() { out.Trajectory = tr.Snapshots }()
	}
	b := s.Budget
	hist, err := m.Fit(ctx, s.Train, nn.FitConfig{
		Epochs: b.Epochs, Batching: r.Config.Variant, Output: io.Discard, Validation: s.Validation,
		MaxSteps: b.MaxGradEvals, MaxExamples: b.MaxExamples, MaxTime: b.MaxTime, Callbacks: cbs,
	})
	if hist != nil {
		out.History = hist
		if !s.KeepSteps {
			out.History = &nn.History{Epochs: hist.Epochs}
		}
	}
	if wt != nil {
		out.Reached, out.Evals = wt.reached, wt.evals
	}
	if err != nil {
		return fail(err)
	}
	if s.Test != nil {
		if out.Test, err = m.Evaluate(s.Test); err != nil {
			return fail(fmt.Errorf("study: test set: %w", err))
		}
	}
	return out
}

// watch evaluates the validation data within epochs: after steps 1, 2,
// ... and then whenever the step count has grown by growth, recording each
// evaluation (RunResult.Evals) and, with a target, stopping the run when
// it is met (see Target.Stop and Study.EvalsPerDoubling).
type watch struct {
	val     *data.Dataset
	growth  float64
	target  bool // stop at the target
	metric  string
	up      bool
	value   float64
	next    int64
	evals   []EvalPoint
	reached *Crossing
}

// stopGrowth is the factor between the step counts at which a study that
// stops at its target evaluates: 2^(1/8), eight evaluations per doubling.
var stopGrowth = math.Exp2(1.0 / 8)

func (w *watch) meets(v float64) bool {
	if w.up {
		return v >= w.value
	}
	return v <= w.value
}

// record adds an evaluation and reports whether it meets the target.
func (w *watch) record(p EvalPoint) bool {
	if n := len(w.evals); n > 0 && w.evals[n-1].GradEvals == p.GradEvals {
		return false
	}
	w.evals = append(w.evals, p)
	if !w.target || w.reached != nil {
		return false
	}
	v, ok := p.Metrics[w.metric]
	if !ok || !w.meets(v) {
		return false
	}
	w.reached = &Crossing{Epoch: p.Epoch, GradEvals: p.GradEvals, Examples: p.Examples, Seconds: p.Seconds, Value: v}
	return true
}

// OnStepEnd implements nn.StepCallback.
func (w *watch) OnStepEnd(t *nn.Training, rec nn.StepRecord) error {
	if rec.GradEvals < w.next {
		return nil
	}
	w.next = max(rec.GradEvals+1, int64(math.Ceil(float64(rec.GradEvals)*w.growth)))
	ev, err := t.Model.Evaluate(w.val)
	if err != nil {
		return fmt.Errorf("study: validation within the epoch: %w", err)
	}
	p := EvalPoint{Epoch: rec.Epoch, GradEvals: rec.GradEvals, Examples: rec.Examples, Seconds: rec.Elapsed.Seconds(), Metrics: map[string]float64{}}
	for k, v := range ev {
		p.Metrics["val_"+k] = v
	}
	if w.record(p) {
		return nn.ErrStopped
	}
	return nil
}

// OnEpochEnd implements nn.Callback: the epoch's own validation is a point
// too.
func (w *watch) OnEpochEnd(_ *nn.Training, rec *nn.EpochRecord) error {
	p := EvalPoint{Epoch: rec.Epoch, GradEvals: rec.GradEvals, Examples: rec.Examples, Seconds: rec.Elapsed.Seconds(), Metrics: map[string]float64{}}
	for k, v := range rec.Metrics {
		if strings.HasPrefix(k, "val_") {
			p.Metrics[k] = v
		}
	}
	if w.record(p) {
		return nn.ErrStopped
	}
	return nil
}

// initial evaluates the untrained model.
func (s *Study) initial(m *nn.Sequential) (map[string]float64, error) {
	ev, err := m.Evaluate(s.Train)
	if err != nil {
		return nil, err
	}
	if s.Validation != nil {
		v, err := m.Evaluate(s.Validation)
		if err != nil {
			return nil, err
		}
		for k, x := range v {
			ev["val_"+k] = x
		}
	}
	return ev, nil
}

// hashParams fingerprints parameter values.
func hashParams(ps []*graph.Param) string {
	h := fnv.New64a()
	var b [8]byte
	for _, p := range ps {
		for _, v := range p.Float64s() {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
			h.Write(b[:])
		}
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// progress reports finished runs and an overall bar.
type progress struct {
	w     io.Writer
	total int
	done  int
	start time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, start: time.Now()}
}

func (p *progress) finished(r RunResult) {
	p.done++
	if p.w == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%*d/%d] %s seed=%d: ", len(strconv.Itoa(p.total)), p.done, p.total, r.Config, r.Seed)
	if last := r.History.Last(); len(r.History.Epochs) > 0 {
		fmt.Fprintf(&b, "%d epochs, loss %.4g", last.Epoch, last.Loss)
		for _, k := range []string{"accuracy", "val_loss", "val_accuracy"} {
			if v, ok := last.Metrics[k]; ok {
				fmt.Fprintf(&b, ", %s %.4g", k, v)
			}
		}
	}
	if r.Err != "" {
		fmt.Fprintf(&b, " error: %s", r.Err)
	}
	fmt.Fprintf(&b, " (%.1fs)\n", r.Seconds)
	elapsed := time.Since(p.start)
	const width = 30
	filled := width * p.done / p.total
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	if filled < width {
		bar = strings.Repeat("=", filled) + ">" + strings.Repeat(" ", width-filled-1)
	}
	left := time.Duration(float64(elapsed) * float64(p.total-p.done) / float64(p.done))
	fmt.Fprintf(&b, "[%s] %d/%d runs %3d%%, %s elapsed, about %s left\n", bar, p.done, p.total, 100*p.done/p.total,
		elapsed.Round(time.Second), left.Round(time.Second))
	io.WriteString(p.w, b.String())
}
