package nn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// FitConfig configures one call of Fit. Only Epochs is required.
type FitConfig struct {
	// Epochs is the number of epochs to train; it must be positive. With
	// Resume it is the total, counting the epochs already done.
	Epochs int
	// Batching is the descent variant: data.FullBatch(), data.Stochastic(),
	// data.Minibatch(n), or any data.Batcher. If nil, full batch.
	Batching data.Batcher
	// Verbose is 0 for silence, 1 for a Keras progress bar per epoch (drawn
	// in place on a terminal; one line per epoch, without control
	// characters, into a pipe or file), 2 for one line per epoch.
	Verbose int
	// Output receives progress. If nil, os.Stdout.
	Output io.Writer

	// Validation is evaluated after every epoch; its loss and metrics are
	// recorded under "val_" names.
	Validation *data.Dataset
	// ValidationSplit, if positive, holds out this fraction of the training
	// rows, taken from the end without shuffling as Keras does, as
	// validation data. It must be below 1 and cannot be combined with
	// Validation.
	ValidationSplit float64

	// Schedule, if set, gives the learning rate from the optimizer's base
	// rate and the number of schedule steps taken.
	Schedule optim.Schedule
	// ScheduleInterval says when the schedule advances: after every epoch
	// (the zero value) or after every step. PerStep without a Schedule is
	// an error.
	ScheduleInterval optim.Interval
	// Clip, if set, clips the gradients before each update.
	Clip optim.Clipper
	// RecordGradNorm records the global gradient norm of every step even
	// without Clip.
	RecordGradNorm bool
	// MaxStepRecords bounds the step records History keeps, so that a long
	// run's memory stays flat: every step is recorded until the run has
	// taken MaxStepRecords steps; then every other record is dropped and
	// the spacing doubles each time the records fill up, so that between
	// MaxStepRecords/2 and MaxStepRecords records spread evenly over the
	// whole run (History.StepEvery gives the spacing), the latest step's
	// always last. Epoch records are always kept, and callbacks see every
	// step. If zero, DefaultMaxStepRecords (10000); 1 keeps the latest
	// step only; negative keeps every step (72 bytes each).
	MaxStepRecords int

	// Callbacks are called in order at each event.
	Callbacks []Callback

	// MaxSteps, MaxExamples and MaxTime, when positive, end training once
	// that many steps, examples or that much time have been used (checked
	// after each step). The epoch in progress is then recorded as it stands.
	MaxSteps    int64
	MaxExamples int64
	MaxTime     time.Duration

	// Resume continues the model's previous run (interrupted by a cancelled
	// context, or restored from a checkpoint) exactly where it stopped, up
	// to Epochs in total, appending to its History. Without it, Fit starts a
	// new run at epoch 1 (the shuffling and dropout streams and the
	// optimizer's state carry on, as in Keras).
	Resume bool
}

// TrainState is where a run stands: enough, with the weights and the
// optimizer's state, to resume it bit for bit.
type TrainState struct {
	Epoch       int   // epochs completed
	StepInEpoch int   // steps completed in the epoch in progress
	Steps       int64 // steps so far
	Examples    int64 // rows fed so far
	// ScheduleStep is the number of schedule steps taken.
	ScheduleStep int
	// LRScale multiplies the scheduled learning rate (1 unless changed).
	LRScale float64
	// Shuffle is the shuffling stream's state; EpochShuffle its state when
	// the epoch in progress began.
	Shuffle, EpochShuffle []byte
	// Dropout is the dropout stream's state. If empty, SetTrainState
	// starts the stream afresh from the model's seed (as states saved
	// before descent had Dropout do).
	Dropout []byte
	// Elapsed is the training time so far.
	Elapsed time.Duration
	// Partial sums of the epoch in progress: loss and metrics weighted by
	// rows, and the rows.
	EpochLoss    float64
	EpochMetrics []float64
	EpochRows    int64
	// History is the record so far.
	History *History
}

// trainState is the live form of TrainState.
type trainState struct {
	TrainState
	shuffle *rand.PCG
	dropout *rand.PCG
}

func newTrainState(seed uint64) trainState {
	return trainState{
		TrainState: TrainState{LRScale: 1, History: &History{}},
		shuffle:    newStream(seed, streamShuffle),
		dropout:    newStream(seed, streamDropout),
	}
}

// TrainState returns a copy of the model's training state.
func (m *Sequential) TrainState() (TrainState, error) {
	if !m.built {
		return TrainState{}, fmt.Errorf("nn: train state: %w", ErrNotBuilt)
	}
	s := m.state.TrainState
	var err error
	if s.Shuffle, err = m.state.shuffle.MarshalBinary(); err != nil {
		return TrainState{}, err
	}
	if s.Dropout, err = m.state.dropout.MarshalBinary(); err != nil {
		return TrainState{}, err
	}
	s.EpochShuffle = append([]byte(nil), s.EpochShuffle...)
	s.EpochMetrics = append([]float64(nil), s.EpochMetrics...)
	s.History = &History{Epochs: append([]EpochRecord(nil), s.History.Epochs...), Steps: append([]StepRecord(nil), s.History.Steps...), StepEvery: s.History.StepEvery}
	return s, nil
}

// SetTrainState restores a training state saved by TrainState, so that Fit
// with Resume continues from it.
func (m *Sequential) SetTrainState(s TrainState) error {
	if !m.built {
		return fmt.Errorf("nn: set train state: %w", ErrNotBuilt)
	}
	if s.Epoch < 0 || s.StepInEpoch < 0 || s.Steps < 0 || s.Examples < 0 || s.ScheduleStep < 0 {
		return fmt.Errorf("nn: set train state: negative counter: %w", ErrConfig)
	}
	if !(s.LRScale > 0) || math.IsInf(s.LRScale, 0) {
		return fmt.Errorf("nn: set train state: learning-rate scale %v must be positive: %w", s.LRScale, ErrConfig)
	}
	shuffle, dropout := &rand.PCG{}, newStream(m.seed, streamDropout)
	if err := shuffle.UnmarshalBinary(s.Shuffle); err != nil {
		return fmt.Errorf("nn: set train state: shuffle stream: %w", err)
	}
	if len(s.Dropout) > 0 {
		if err := dropout.UnmarshalBinary(s.Dropout); err != nil {
			return fmt.Errorf("nn: set train state: dropout stream: %w", err)
		}
	}
	if s.StepInEpoch > 0 {
		if err := (&rand.PCG{}).UnmarshalBinary(s.EpochShuffle); err != nil {
			return fmt.Errorf("nn: set train state: epoch shuffle stream: %w", err)
		}
	}
	if s.History == nil {
		s.History = &History{}
	}
	m.state = trainState{TrainState: s, shuffle: shuffle, dropout: dropout}
	return nil
}

// Fit trains the model on train with the compiled loss and optimizer and
// returns the run's History. It stops between steps when ctx is cancelled,
// returning the History so far and an error wrapping ctx.Err(); the model
// can then continue with Resume. A NaN or infinite loss stops training
// with an error naming the epoch and step.
//
// Fit is a short driver over a run (begin, then per epoch its steps and
// its end, then finish); a batch flows one way through it: data's Feeder
// fills the graph's inputs, graph runs forward and backward, optim
// updates the weights.
func (m *Sequential) Fit(ctx context.Context, train *data.Dataset, cfg FitConfig) (*History, error) {
	r, err := m.newRun(train, cfg)
	if err != nil {
		return nil, err
	}
	if r.st.Epoch >= cfg.Epochs {
		return r.st.History, nil
	}
	if err := r.begin(); err != nil {
		return r.st.History, err
	}
	for epoch := r.st.Epoch + 1; epoch <= cfg.Epochs && !r.stopped; epoch++ {
		if err := r.epoch(ctx, epoch); err != nil {
			return r.st.History, err
		}
	}
	return r.st.History, r.finish()
}

// run is one call of Fit.
type run struct {
	m          *Sequential
	cfg        FitConfig
	st         *trainState
	train      *data.Feeder
	val        *data.Feeder
	batcher    data.Batcher
	t          *Training
	prog       *progress
	acc        accumulator // the epoch in progress
	shuffle    *rand.Rand
	dropout    *rand.Rand
	order      []int
	base       float64 // the optimizer's base learning rate
	started    time.Time
	lr         float64 // the learning rate of the epoch's last step
	badLoss    float64 // a non-finite loss that stopped training, when hasBadLoss
	hasBadLoss bool
	ctx        context.Context // of the Fit call
	k          int             // batches of the epoch so far
	err        error           // of the step that ended the epoch
	stopped    bool
}

// newRun validates the data and the configuration and sets the training
// state up for a new run or a resumed one.
func (m *Sequential) newRun(train *data.Dataset, cfg FitConfig) (*run, error) {
	if !m.compiled {
		return nil, fmt.Errorf("nn: fit: %w (call Compile first)", ErrNotCompiled)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	val := cfg.Validation
	if cfg.ValidationSplit != 0 {
		if val != nil {
			return nil, fmt.Errorf("nn: fit: both Validation and ValidationSplit are set: %w", ErrConfig)
		}
		if err := train.Validate(); err != nil {
			return nil, fmt.Errorf("nn: fit: %w", err)
		}
		var err error
		if train, val, err = train.ValidationSplit(cfg.ValidationSplit); err != nil {
			return nil, fmt.Errorf("nn: fit: validation split: %w", err)
		}
	}
	r := &run{m: m, cfg: cfg, batcher: cfg.Batching}
	var err error
	if r.train, err = m.feeder("fit", train); err != nil {
		return nil, err
	}
	if val != nil {
		if r.val, err = m.feeder("fit: validation", val); err != nil {
			return nil, err
		}
	}
	if r.batcher == nil {
		r.batcher = data.FullBatch()
	}
	if err := r.batcher.Validate(r.train.Len()); err != nil {
		return nil, fmt.Errorf("nn: fit: %w", err)
	}
	if !cfg.Resume {
		shuffle, dropout := m.state.shuffle, m.state.dropout
		m.state = newTrainState(m.seed)
		m.state.shuffle, m.state.dropout = shuffle, dropout
	}
	r.st = &m.state
	if len(r.st.EpochMetrics) != len(m.metrics) {
		r.st.EpochMetrics = make([]float64, len(m.metrics))
	}
	if r.st.History == nil {
		r.st.History = &History{}
	}
	r.acc = accumulator{metrics: m.metrics, loss: r.st.EpochLoss, sums: r.st.EpochMetrics, rows: r.st.EpochRows}
	return r, nil
}

// validate checks the settings that do not depend on the data.
func (cfg FitConfig) validate() error {
	switch {
	case cfg.Epochs <= 0:
		return fmt.Errorf("nn: fit: epochs %d must be positive: %w", cfg.Epochs, ErrConfig)
	case cfg.MaxSteps < 0 || cfg.MaxExamples < 0 || cfg.MaxTime < 0:
		return fmt.Errorf("nn: fit: budgets must not be negative: %w", ErrConfig)
	case cfg.Verbose < 0 || cfg.Verbose > 2:
		return fmt.Errorf("nn: fit: verbose %d, want 0, 1 or 2: %w", cfg.Verbose, ErrConfig)
	case cfg.Schedule == nil && cfg.ScheduleInterval != optim.PerEpoch:
		return fmt.Errorf("nn: fit: ScheduleInterval %v without a Schedule: %w", cfg.ScheduleInterval, ErrConfig)
	}
	return nil
}

// stepLimit returns the number of step records to keep, or -1 for all.
func (cfg *FitConfig) stepLimit() int {
	switch {
	case cfg.MaxStepRecords == 0:
		return DefaultMaxStepRecords
	case cfg.MaxStepRecords < 0:
		return -1
	}
	return cfg.MaxStepRecords
}

// begin calls the OnTrainBegin callbacks and reserves the step records.
func (r *run) begin() error {
	n, st := r.train.Len(), r.st
	out := r.cfg.Output
	if out == nil {
		out = os.Stdout
	}
	r.prog = newProgress(out, r.cfg.Verbose, r.cfg.Epochs, n, r.m.metricNames(r.val != nil))
	r.t = &Training{Model: r.m, Optimizer: r.m.opt, History: st.History, Config: r.cfg, Epoch: st.Epoch + 1, m: r.m}
	for _, cb := range r.cfg.Callbacks {
		if c, ok := cb.(TrainBeginCallback); ok {
			if err := c.OnTrainBegin(r.t); err != nil {
				return stopOrFail(err)
			}
		}
	}
	hist, limit := st.History, r.cfg.stepLimit()
	hist.shrink(limit)
	if est := r.batcher.MaxBatch(n); est > 0 && cap(hist.Steps) == len(hist.Steps) {
		perEpoch := (n + est - 1) / est
		more := int64(perEpoch) * int64(r.cfg.Epochs-st.Epoch)
		if r.cfg.MaxSteps > 0 {
			more = min(more, r.cfg.MaxSteps-st.Steps)
		}
		more = min(max(more, 0), 1<<22) // beyond 4M records, let append grow the slice
		if limit >= 0 {
			more = min(more, int64(limit-len(hist.Steps)))
		}
		hist.Steps = append(make([]StepRecord, 0, len(hist.Steps)+int(more)), hist.Steps...)
	}
	r.shuffle, r.dropout = rand.New(st.shuffle), rand.New(st.dropout)
	r.order = make([]int, n)
	r.base = r.m.opt.LearningRate()
	r.started = time.Now().Add(-st.Elapsed)
	return nil
}

// epoch runs the steps of one epoch, from where a resumed run stopped, and
// closes it. The loop's state lives in r, so that the loop body, a closure
// handed to the batcher's iterator, captures nothing that must move to the
// heap.
func (r *run) epoch(ctx context.Context, epoch int) error {
	st := r.st
	r.t.Epoch = epoch
	if st.StepInEpoch == 0 {
		b, err := st.shuffle.AppendBinary(st.EpochShuffle[:0])
		if err != nil {
			return err
		}
		st.EpochShuffle = b
	} else if err := st.shuffle.UnmarshalBinary(st.EpochShuffle); err != nil {
		return fmt.Errorf("nn: fit: resuming the epoch's order: %w", err)
	}
	r.prog.epochBegin(epoch)
	start := time.Now()
	r.lr, r.hasBadLoss, r.ctx, r.k = 0, false, ctx, 0
	r.err = nil
	for idx := range r.batcher.Epoch(epoch, r.order, r.shuffle) {
		if r.k++; r.k <= r.st.StepInEpoch {
			continue // done before the run was interrupted
		}
		var stop bool
		if stop, r.err = r.step(r.ctx, r.t.Epoch, r.k, idx); r.err != nil || stop {
			r.stopped = stop
			break
		}
	}
	if r.err != nil {
		return r.err
	}
	return r.endEpoch(epoch, time.Since(start))
}

// step trains on one batch, the k-th of the epoch, and reports whether
// training should stop after it.
func (r *run) step(ctx context.Context, epoch, k int, idx []int) (stop bool, err error) {
	m, st, cfg := r.m, r.st, r.cfg
	if err := ctx.Err(); err != nil {
		st.Elapsed = time.Since(r.started)
		return false, fmt.Errorf("nn: fit: epoch %d step %d: %w", epoch, st.Steps+1, err)
	}
	p, err := m.program(progTrain, len(idx))
	if err != nil {
		return false, err
	}
	y, err := r.feed(p, idx)
	if err != nil {
		return false, fmt.Errorf("nn: fit: %w", err)
	}
	if err := p.fillNoise(r.dropout); err != nil {
		return false, fmt.Errorf("nn: fit: %w", err)
	}
	if err := p.Run(); err != nil {
		return false, fmt.Errorf("nn: fit: epoch %d step %d: %w", epoch, st.Steps+1, err)
	}
	loss := p.Loss()
	rec := StepRecord{Epoch: epoch, Step: int(st.Steps + 1), Batch: len(idx), Loss: loss, Examples: st.Examples, GradEvals: st.Steps}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		err := fmt.Errorf("nn: fit: epoch %d step %d: loss is %v: %w", epoch, st.Steps+1, loss, ErrNotFinite)
		if stop, err := onNonFinite(r.t, cfg.Callbacks, rec, err); !stop {
			return false, err
		}
		r.badLoss, r.hasBadLoss = loss, true // see NonFiniteCallback
		return true, nil
	}
	st.Steps++
	st.Examples += int64(len(idx))
	rec.Examples, rec.GradEvals = st.Examples, st.Steps
	r.t.Step = rec.Step
	r.lr = r.base
	if cfg.Schedule != nil {
		r.lr = cfg.Schedule.Rate(r.base, st.ScheduleStep)
	}
	r.lr *= st.LRScale
	rec.LR = r.lr
	for _, cb := range cfg.Callbacks {
		if c, ok := cb.(GradientCallback); ok {
			if err := c.OnGradients(r.t, rec); err != nil {
				return false, stopOrFail(err)
			}
		}
	}
	switch {
	case cfg.Clip != nil:
		if rec.GradNorm, err = cfg.Clip.Clip(m.params); err != nil {
			return false, fmt.Errorf("nn: fit: clipping: %w", err)
		}
	case cfg.RecordGradNorm:
		rec.GradNorm = gradNorm(m.params)
	}
	if err := m.opt.Step(r.lr, m.params); err != nil {
		return false, fmt.Errorf("nn: fit: epoch %d step %d: %w", epoch, st.Steps, err)
	}
	if cfg.Schedule != nil && cfg.ScheduleInterval == optim.PerStep {
		st.ScheduleStep++
	}
	if err := r.acc.add(p, y, loss, len(idx)); err != nil {
		return false, err
	}
	st.EpochLoss, st.EpochRows = r.acc.loss, r.acc.rows
	st.StepInEpoch = k
	st.Elapsed = time.Since(r.started)
	rec.Elapsed = st.Elapsed
	st.History.recordStep(rec, cfg.stepLimit())
	r.prog.step(st.EpochRows, st.EpochLoss, st.EpochMetrics)
	for _, cb := range cfg.Callbacks {
		if c, ok := cb.(StepCallback); ok {
			if err := c.OnStepEnd(r.t, rec); err != nil {
				if !errors.Is(err, ErrStopped) {
					return false, err
				}
				r.t.stop = true
			}
		}
	}
	return r.t.stop || (cfg.MaxSteps > 0 && st.Steps >= cfg.MaxSteps) ||
		(cfg.MaxExamples > 0 && st.Examples >= cfg.MaxExamples) ||
		(cfg.MaxTime > 0 && st.Elapsed >= cfg.MaxTime), nil
}

// feed puts rows idx of the training set into the program's inputs and
// returns the targets the program reads. A full batch in order reads the
// dataset's own tensors, without a copy (the targets are expanded into the
// program's buffer when they are class indices); any other batch is
// gathered into the program's buffers.
func (r *run) feed(p *program, idx []int) (*tensor.Dense, error) {
	d := r.train.Dataset()
	if !isIdentity(idx, d.Len()) {
		x, err := p.Input("x")
		if err != nil {
			return nil, err
		}
		y, err := p.Input("y")
		if err != nil {
			return nil, err
		}
		return y, r.train.Gather(x, y, idx)
	}
	if err := p.Bind("x", d.X); err != nil {
		return nil, err
	}
	if !r.train.OneHot() {
		return d.Y, p.Bind("y", d.Y)
	}
	y, err := p.Input("y")
	if err != nil {
		return nil, err
	}
	return y, r.train.GatherTargets(y, idx)
}

// isIdentity reports whether idx is 0, 1, ..., n-1.
func isIdentity(idx []int, n int) bool {
	if len(idx) != n {
		return false
	}
	for i, v := range idx {
		if v != i {
			return false
		}
	}
	return true
}

// endEpoch records the epoch (as it stands if training stopped in it),
// validates, and calls the OnEpochEnd callbacks.
func (r *run) endEpoch(epoch int, took time.Duration) error {
	st, m := r.st, r.m
	rec := EpochRecord{Epoch: epoch, LR: r.lr, Steps: st.StepInEpoch, Examples: st.Examples, GradEvals: st.Steps, Metrics: map[string]float64{}}
	if st.EpochRows > 0 {
		loss, ms := r.acc.means()
		rec.Loss = loss
		for i, mt := range m.metrics {
			rec.Metrics[mt.Name()] = ms[i]
		}
	}
	if r.hasBadLoss {
		rec.Loss = r.badLoss
	}
	if r.val != nil {
		vl, vm, err := m.evaluate(r.val)
		if err != nil {
			return fmt.Errorf("nn: fit: validation after epoch %d: %w", epoch, err)
		}
		rec.Metrics["val_loss"] = vl
		for i, mt := range m.metrics {
			rec.Metrics["val_"+mt.Name()] = vm[i]
		}
	}
	if r.cfg.Schedule != nil && r.cfg.ScheduleInterval == optim.PerEpoch {
		st.ScheduleStep++
	}
	r.acc.reset()
	st.Epoch, st.StepInEpoch, st.EpochLoss, st.EpochRows = epoch, 0, 0, 0
	st.Elapsed = time.Since(r.started)
	rec.Elapsed = st.Elapsed
	hist := st.History
	hist.Epochs = append(hist.Epochs, rec)
	r.prog.epochEnd(&rec, took)
	for _, cb := range r.cfg.Callbacks {
		if err := cb.OnEpochEnd(r.t, &hist.Epochs[len(hist.Epochs)-1]); err != nil {
			if !errors.Is(err, ErrStopped) {
				return err
			}
			r.t.stop = true
		}
	}
	if r.t.stop {
		r.stopped = true
	}
	return nil
}

// finish calls the OnTrainEnd callbacks.
func (r *run) finish() error {
	for _, cb := range r.cfg.Callbacks {
		if c, ok := cb.(TrainEndCallback); ok {
			if err := c.OnTrainEnd(r.t); err != nil && !errors.Is(err, ErrStopped) {
				return err
			}
		}
	}
	return nil
}

func stopOrFail(err error) error {
	if errors.Is(err, ErrStopped) {
		return nil
	}
	return err
}

func gradNorm(params []*graph.Param) float64 {
	var s float64
	for _, p := range params {
		switch g := p.Grad().Data().(type) {
		case []float64:
			for _, v := range g {
				s += v * v
			}
		case []float32:
			for _, v := range g {
				s += float64(v) * float64(v)
			}
		}
	}
	return math.Sqrt(s)
}

// accumulator sums the loss and the metrics of batches weighted by their
// rows: the epoch in progress in Fit, the whole set in Evaluate.
type accumulator struct {
	metrics    []Metric
	loss       float64
	sums       []float64
	rows       int64
	pred, targ []float64 // scratch
}

// add adds a batch of rows whose loss is loss; the metrics compare the
// program's "pred" output with the targets y.
func (a *accumulator) add(p *program, y *tensor.Dense, loss float64, rows int) error {
	a.loss += loss * float64(rows)
	a.rows += int64(rows)
	if len(a.metrics) == 0 {
		return nil
	}
	if len(a.sums) != len(a.metrics) {
		a.sums = make([]float64, len(a.metrics))
	}
	pred, err := p.Output("pred")
	if err != nil {
		return err
	}
	a.pred = graph.ReadFloat64s(pred, a.pred)
	a.targ = graph.ReadFloat64s(y, a.targ)
	for i, mt := range a.metrics {
		a.sums[i] += mt.Compute(a.pred, a.targ, y.Shape()[1]) * float64(rows)
	}
	return nil
}

// means returns the mean loss and metrics over the rows added.
func (a *accumulator) means() (float64, []float64) {
	ms := make([]float64, len(a.metrics))
	for i := range ms {
		ms[i] = a.sums[i] / float64(a.rows)
	}
	return a.loss / float64(a.rows), ms
}

// reset empties the sums, keeping the sums slice (shared with the
// training state).
func (a *accumulator) reset() {
	a.loss, a.rows = 0, 0
	clear(a.sums)
}

// feeder validates a dataset against the compiled model and returns the
// Feeder of its batches: class-index targets for a sparse loss, rows of
// the output's width otherwise.
func (m *Sequential) feeder(what string, d *data.Dataset) (*data.Feeder, error) {
	if d == nil {
		return nil, fmt.Errorf("nn: %s: no data: %w", what, data.ErrEmpty)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("nn: %s: %w", what, err)
	}
	if err := m.checkWidth(what, d.X); err != nil {
		return nil, err
	}
	out, classes := m.widths[len(m.widths)-1], 0
	if s, ok := m.loss.(sparseTargets); ok && s.sparse() {
		if d.Targets() != 1 {
			return nil, fmt.Errorf("nn: %s: %s wants one column of class indices, targets have %d: %w", what, m.loss.Name(), d.Targets(), ErrShape)
		}
		classes = out
	} else if d.Targets() != out {
		return nil, fmt.Errorf("nn: %s: targets have %d columns, the model's output (layer %d, %s) has %d: %w", what, d.Targets(), len(m.layers), m.layers[len(m.layers)-1].Name(), out, ErrShape)
	}
	f, err := data.NewFeeder(d, classes)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", what, err)
	}
	return f, nil
}

// Evaluate returns the loss (penalties included, as Keras reports it) and
// the compiled metrics of the model on d, keyed "loss" and by metric name.
// Dropout is inactive.
func (m *Sequential) Evaluate(d *data.Dataset) (map[string]float64, error) {
	if !m.compiled {
		return nil, fmt.Errorf("nn: evaluate: %w (call Compile first)", ErrNotCompiled)
	}
	f, err := m.feeder("evaluate", d)
	if err != nil {
		return nil, err
	}
	loss, ms, err := m.evaluate(f)
	if err != nil {
		return nil, err
	}
	res := map[string]float64{"loss": loss}
	for i, mt := range m.metrics {
		res[mt.Name()] = ms[i]
	}
	return res, nil
}

// evaluate computes the loss and metrics over f's dataset in batches of
// PredictBatchSize, weighted by rows.
func (m *Sequential) evaluate(f *data.Feeder) (float64, []float64, error) {
	n := f.Len()
	bs := min(m.predictBatch(), n)
	acc := accumulator{metrics: m.metrics}
	for lo := 0; lo < n; lo += bs {
		hi := min(lo+bs, n)
		p, err := m.program(progEval, hi-lo)
		if err != nil {
			return 0, nil, err
		}
		x, _ := p.Input("x")
		y, _ := p.Input("y")
		if err := f.Rows(x, y, lo, hi); err != nil {
			return 0, nil, fmt.Errorf("nn: evaluate: %w", err)
		}
		if err := p.Run(); err != nil {
			return 0, nil, fmt.Errorf("nn: evaluate: %w", err)
		}
		l, err := p.Scalar("loss")
		if err != nil {
			return 0, nil, err
		}
		if err := acc.add(p, y, l, hi-lo); err != nil {
			return 0, nil, err
		}
	}
	loss, ms := acc.means()
	return loss, ms, nil
}

// metricNames returns the names progress shows after the loss: the
// compiled metrics and, with validation data, val_loss and the val_
// metrics, in Keras's order.
func (m *Sequential) metricNames(withVal bool) []string {
	names := make([]string, 0, 2*len(m.metrics)+1)
	for _, mt := range m.metrics {
		names = append(names, mt.Name())
	}
	if withVal {
		names = append(names, "val_loss")
		for _, mt := range m.metrics {
			names = append(names, "val_"+mt.Name())
		}
	}
	return names
}

// TrainStep makes one optimizer step on the batch x [rows, in], y [rows,
// out] (class indices [rows, 1] for a sparse loss) and returns the batch
// loss before the update (penalties included). The learning rate is the
// optimizer's base rate times the training state's LRScale (1 unless a
// callback or a restored checkpoint changed it); no schedule applies.
// Dropout masks are drawn from the model's dropout stream, as in Fit. It is
// the building block for hand-written training loops and benchmarks: it
// reuses the compiled graph of its batch size and, unlike Fit, records
// nothing and leaves the rest of the training state (epochs, schedule,
// History) untouched.
func (m *Sequential) TrainStep(x, y *tensor.Dense) (float64, error) {
	loss, err := m.gradient("train step", x, y, rand.New(m.state.dropout))
	if err != nil {
		return loss, err
	}
	if err := m.opt.Step(m.opt.LearningRate()*m.state.LRScale, m.params); err != nil {
		return loss, fmt.Errorf("nn: train step: %w", err)
	}
	return loss, nil
}
