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
	// (the zero value) or after every step.
	ScheduleInterval optim.Interval
	// Clip, if set, clips the gradients before each update.
	Clip optim.Clipper
	// RecordGradNorm records the global gradient norm of every step even
	// without Clip.
	RecordGradNorm bool

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
	// new run at epoch 1 (the shuffling stream and the optimizer's state
	// carry on, as in Keras).
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
}

func newTrainState(seed uint64) trainState {
	return trainState{TrainState: TrainState{LRScale: 1, History: &History{}}, shuffle: newStream(seed, streamShuffle)}
}

// TrainState returns a copy of the model's training state.
func (m *Sequential) TrainState() (TrainState, error) {
	if !m.built {
		return TrainState{}, fmt.Errorf("nn: train state: %w", ErrNotBuilt)
	}
	s := m.state.TrainState
	b, err := m.state.shuffle.MarshalBinary()
	if err != nil {
		return TrainState{}, err
	}
	s.Shuffle = b
	s.EpochShuffle = append([]byte(nil), s.EpochShuffle...)
	s.EpochMetrics = append([]float64(nil), s.EpochMetrics...)
	h := &History{Epochs: append([]EpochRecord(nil), s.History.Epochs...), Steps: append([]StepRecord(nil), s.History.Steps...)}
	s.History = h
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
	pcg := &rand.PCG{}
	if err := pcg.UnmarshalBinary(s.Shuffle); err != nil {
		return fmt.Errorf("nn: set train state: shuffle stream: %w", err)
	}
	if s.StepInEpoch > 0 {
		if err := (&rand.PCG{}).UnmarshalBinary(s.EpochShuffle); err != nil {
			return fmt.Errorf("nn: set train state: epoch shuffle stream: %w", err)
		}
	}
	if s.History == nil {
		s.History = &History{}
	}
	m.state = trainState{TrainState: s, shuffle: pcg}
	return nil
}

// Fit trains the model on train with the compiled loss and optimizer and
// returns the run's History. It stops between steps when ctx is cancelled,
// returning the History so far and an error wrapping ctx.Err(); the model
// can then continue with Resume. A NaN or infinite loss stops training
// with an error naming the epoch and step.
func (m *Sequential) Fit(ctx context.Context, train *data.Dataset, cfg FitConfig) (*History, error) {
	if !m.compiled {
		return nil, fmt.Errorf("nn: fit: %w (call Compile first)", ErrNotCompiled)
	}
	if cfg.Epochs <= 0 {
		return nil, fmt.Errorf("nn: fit: epochs %d must be positive: %w", cfg.Epochs, ErrConfig)
	}
	if err := m.checkData("fit", train); err != nil {
		return nil, err
	}
	val := cfg.Validation
	if cfg.ValidationSplit != 0 {
		if val != nil {
			return nil, fmt.Errorf("nn: fit: both Validation and ValidationSplit are set: %w", ErrConfig)
		}
		var err error
		if train, val, err = train.ValidationSplit(cfg.ValidationSplit); err != nil {
			return nil, fmt.Errorf("nn: fit: validation split: %w", err)
		}
	}
	if val != nil {
		if err := m.checkData("fit: validation", val); err != nil {
			return nil, err
		}
	}
	batcher := cfg.Batching
	if batcher == nil {
		batcher = data.FullBatch()
	}
	n := train.Len()
	if err := batcher.Validate(n); err != nil {
		return nil, fmt.Errorf("nn: fit: %w", err)
	}
	if cfg.MaxSteps < 0 || cfg.MaxExamples < 0 || cfg.MaxTime < 0 {
		return nil, fmt.Errorf("nn: fit: budgets must not be negative: %w", ErrConfig)
	}
	if !cfg.Resume {
		shuffle := m.state.shuffle
		m.state = newTrainState(m.seed)
		m.state.shuffle = shuffle
	}
	st := &m.state
	if len(st.EpochMetrics) != len(m.metrics) {
		st.EpochMetrics = make([]float64, len(m.metrics))
	}
	hist := st.History
	if hist == nil {
		hist = &History{}
		st.History = hist
	}
	if st.Epoch >= cfg.Epochs {
		return hist, nil
	}

	out := cfg.Output
	if out == nil {
		out = os.Stdout
	}
	prog := newProgress(out, cfg.Verbose, cfg.Epochs, n, m.metricNames(val != nil))
	t := &Training{Model: m, Optimizer: m.opt, History: hist, Config: cfg, m: m}
	for _, cb := range cfg.Callbacks {
		if c, ok := cb.(TrainBeginCallback); ok {
			if err := c.OnTrainBegin(t); err != nil {
				return hist, stopOrFail(err)
			}
		}
	}
	if est := batcher.MaxBatch(n); est > 0 && cap(hist.Steps) == len(hist.Steps) {
		perEpoch := (n + est - 1) / est
		more := int64(perEpoch) * int64(cfg.Epochs-st.Epoch)
		if cfg.MaxSteps > 0 {
			more = min(more, cfg.MaxSteps-st.Steps)
		}
		more = min(max(more, 0), 1<<22) // beyond 4M records, let append grow the slice
		hist.Steps = append(make([]StepRecord, 0, len(hist.Steps)+int(more)), hist.Steps...)
	}

	sparse := false
	if s, ok := m.loss.(sparseTargets); ok {
		sparse = s.sparse()
	}
	rng := rand.New(st.shuffle)
	order := make([]int, n)
	var scratch, tscratch []float64
	params := m.params
	base := m.opt.LearningRate()
	started := time.Now().Add(-st.Elapsed)
	stopped := false

	for epoch := st.Epoch + 1; epoch <= cfg.Epochs && !stopped; epoch++ {
		t.Epoch = epoch
		if st.StepInEpoch == 0 {
			b, err := st.shuffle.MarshalBinary()
			if err != nil {
				return hist, err
			}
			st.EpochShuffle = b
		} else if err := st.shuffle.UnmarshalBinary(st.EpochShuffle); err != nil {
			return hist, fmt.Errorf("nn: fit: resuming the epoch's order: %w", err)
		}
		prog.epochBegin(epoch)
		epochStart := time.Now()
		k := 0
		var lr float64
		var badLoss *float64 // a non-finite loss that stopped training
		for idx := range batcher.Epoch(epoch, order, rng) {
			k++
			if k <= st.StepInEpoch {
				continue
			}
			if err := ctx.Err(); err != nil {
				st.Elapsed = time.Since(started)
				return hist, fmt.Errorf("nn: fit: epoch %d step %d: %w", epoch, st.Steps+1, err)
			}
			p, err := m.program(progTrain, len(idx))
			if err != nil {
				return hist, err
			}
			yb, err := feedBatch(p, train, idx, sparse)
			if err != nil {
				return hist, err
			}
			if err := p.Run(); err != nil {
				return hist, fmt.Errorf("nn: fit: epoch %d step %d: %w", epoch, st.Steps+1, err)
			}
			loss := p.Loss()
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				err := fmt.Errorf("nn: fit: epoch %d step %d: loss is %v: %w", epoch, st.Steps+1, loss, ErrNotFinite)
				bad := StepRecord{Epoch: epoch, Step: int(st.Steps + 1), Batch: len(idx), Loss: loss, Examples: st.Examples, GradEvals: st.Steps}
				stop, err := onNonFinite(t, cfg.Callbacks, bad, err)
				if !stop {
					return hist, err
				}
				badLoss, stopped = &loss, true // see NonFiniteCallback
				break
			}
			st.Steps++
			st.Examples += int64(len(idx))
			rec := StepRecord{Epoch: epoch, Step: int(st.Steps), Batch: len(idx), Loss: loss, Examples: st.Examples, GradEvals: st.Steps}
			t.Step = rec.Step
			lr = base
			if cfg.Schedule != nil {
				lr = cfg.Schedule.Rate(base, st.ScheduleStep)
			}
			lr *= st.LRScale
			rec.LR = lr
			for _, cb := range cfg.Callbacks {
				if c, ok := cb.(GradientCallback); ok {
					if err := c.OnGradients(t, rec); err != nil {
						return hist, stopOrFail(err)
					}
				}
			}
			switch {
			case cfg.Clip != nil:
				if rec.GradNorm, err = cfg.Clip.Clip(params); err != nil {
					return hist, fmt.Errorf("nn: fit: clipping: %w", err)
				}
			case cfg.RecordGradNorm:
				rec.GradNorm = gradNorm(params)
			}
			if err := m.opt.Step(lr, params); err != nil {
				return hist, fmt.Errorf("nn: fit: epoch %d step %d: %w", epoch, st.Steps, err)
			}
			if cfg.Schedule != nil && cfg.ScheduleInterval == optim.PerStep {
				st.ScheduleStep++
			}
			rows := int64(len(idx))
			st.EpochLoss += loss * float64(rows)
			st.EpochRows += rows
			if len(m.metrics) > 0 {
				pred, err := p.Output("pred")
				if err != nil {
					return hist, err
				}
				scratch = graph.ReadFloat64s(pred, scratch)
				tscratch = graph.ReadFloat64s(yb, tscratch)
				cols := yb.Shape()[1]
				for i, mt := range m.metrics {
					st.EpochMetrics[i] += mt.Compute(scratch, tscratch, cols) * float64(rows)
				}
			}
			st.StepInEpoch = k
			st.Elapsed = time.Since(started)
			rec.Elapsed = st.Elapsed
			hist.Steps = append(hist.Steps, rec)
			prog.step(st.EpochRows, st.EpochLoss, st.EpochMetrics)
			for _, cb := range cfg.Callbacks {
				if c, ok := cb.(StepCallback); ok {
					if err := c.OnStepEnd(t, rec); err != nil {
						if !errors.Is(err, ErrStopped) {
							return hist, err
						}
						t.stop = true
					}
				}
			}
			if t.stop || (cfg.MaxSteps > 0 && st.Steps >= cfg.MaxSteps) ||
				(cfg.MaxExamples > 0 && st.Examples >= cfg.MaxExamples) ||
				(cfg.MaxTime > 0 && st.Elapsed >= cfg.MaxTime) {
				stopped = true
				break
			}
		}
		// Close the epoch.
		rec := EpochRecord{Epoch: epoch, LR: lr, Steps: st.StepInEpoch, Examples: st.Examples, GradEvals: st.Steps, Metrics: map[string]float64{}}
		if st.EpochRows > 0 {
			rec.Loss = st.EpochLoss / float64(st.EpochRows)
			for i, mt := range m.metrics {
				rec.Metrics[mt.Name()] = st.EpochMetrics[i] / float64(st.EpochRows)
			}
		}
		if badLoss != nil {
			rec.Loss = *badLoss
		}
		if val != nil {
			vl, vm, err := m.evaluate(val)
			if err != nil {
				return hist, fmt.Errorf("nn: fit: validation after epoch %d: %w", epoch, err)
			}
			rec.Metrics["val_loss"] = vl
			for i, mt := range m.metrics {
				rec.Metrics["val_"+mt.Name()] = vm[i]
			}
		}
		if cfg.Schedule != nil && cfg.ScheduleInterval == optim.PerEpoch {
			st.ScheduleStep++
		}
		st.Epoch, st.StepInEpoch, st.EpochLoss, st.EpochRows = epoch, 0, 0, 0
		clear(st.EpochMetrics)
		st.Elapsed = time.Since(started)
		rec.Elapsed = st.Elapsed
		hist.Epochs = append(hist.Epochs, rec)
		prog.epochEnd(&rec, time.Since(epochStart))
		for _, cb := range cfg.Callbacks {
			if err := cb.OnEpochEnd(t, &hist.Epochs[len(hist.Epochs)-1]); err != nil {
				if !errors.Is(err, ErrStopped) {
					return hist, err
				}
				t.stop = true
			}
		}
		if t.stop {
			stopped = true
		}
	}
	for _, cb := range cfg.Callbacks {
		if c, ok := cb.(TrainEndCallback); ok {
			if err := c.OnTrainEnd(t); err != nil && !errors.Is(err, ErrStopped) {
				return hist, err
			}
		}
	}
	return hist, nil
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

// checkData validates a dataset against the compiled model.
func (m *Sequential) checkData(what string, d *data.Dataset) error {
	if d == nil {
		return fmt.Errorf("nn: %s: no data: %w", what, data.ErrEmpty)
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("nn: %s: %w", what, err)
	}
	if err := m.checkX(what, d.X); err != nil {
		return err
	}
	out := m.widths[len(m.widths)-1]
	if s, ok := m.loss.(sparseTargets); ok && s.sparse() {
		if d.Targets() != 1 {
			return fmt.Errorf("nn: %s: %s wants one column of class indices, targets have %d: %w", what, m.loss.Name(), d.Targets(), ErrShape)
		}
		labels := graph.ReadFloat64s(d.Y, nil)
		for i, v := range labels {
			if v != math.Trunc(v) || v < 0 || int(v) >= out {
				return fmt.Errorf("nn: %s: target row %d is %v, want a class index in [0, %d): %w", what, i, v, out, ErrShape)
			}
		}
		return nil
	}
	if d.Targets() != out {
		return fmt.Errorf("nn: %s: targets have %d columns, the model's output (layer %d, %s) has %d: %w", what, d.Targets(), len(m.layers), m.layers[len(m.layers)-1].Name(), out, ErrShape)
	}
	return nil
}

// feedBatch puts the rows idx of d into the program's inputs and returns
// the target buffer the program reads. A full batch in order is bound
// without a copy (the dataset's own tensors); other batches are gathered
// into the program's buffers.
func feedBatch(p *graph.Program, d *data.Dataset, idx []int, sparse bool) (*tensor.Dense, error) {
	if isIdentity(idx, d.Len()) {
		if err := p.Bind("x", d.X); err != nil {
			return nil, fmt.Errorf("nn: fit: %w", err)
		}
		if !sparse {
			if err := p.Bind("y", d.Y); err != nil {
				return nil, fmt.Errorf("nn: fit: %w", err)
			}
			return d.Y, nil
		}
	} else {
		xb, err := p.Input("x")
		if err != nil {
			return nil, err
		}
		if err := data.Gather(xb, d.X, idx); err != nil {
			return nil, fmt.Errorf("nn: fit: %w", err)
		}
	}
	yb, err := p.Input("y")
	if err != nil {
		return nil, err
	}
	if err := gatherTargets(yb, d.Y, idx, sparse); err != nil {
		return nil, err
	}
	return yb, nil
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

// gatherTargets gathers target rows, expanding class indices to one-hot
// rows when sparse.
func gatherTargets(dst, src *tensor.Dense, idx []int, sparse bool) error {
	if !sparse {
		if err := data.Gather(dst, src, idx); err != nil {
			return fmt.Errorf("nn: fit: %w", err)
		}
		return nil
	}
	k := dst.Shape()[1]
	switch d := dst.Data().(type) {
	case []float64:
		oneHot(d, src.Data().([]float64), idx, k)
	case []float32:
		oneHot(d, src.Data().([]float32), idx, k)
	}
	return nil
}

func oneHot[T graph.Float](dst, labels []T, idx []int, k int) {
	clear(dst[:len(idx)*k])
	for r, i := range idx {
		dst[r*k+int(labels[i])] = 1
	}
}

// Evaluate returns the loss and the compiled metrics of the model on d,
// keyed "loss" and by metric name.
func (m *Sequential) Evaluate(d *data.Dataset) (map[string]float64, error) {
	if !m.compiled {
		return nil, fmt.Errorf("nn: evaluate: %w (call Compile first)", ErrNotCompiled)
	}
	if err := m.checkData("evaluate", d); err != nil {
		return nil, err
	}
	loss, ms, err := m.evaluate(d)
	if err != nil {
		return nil, err
	}
	res := map[string]float64{"loss": loss}
	for i, mt := range m.metrics {
		res[mt.Name()] = ms[i]
	}
	return res, nil
}

// evaluate computes the loss and metrics over d in batches, weighted by rows.
func (m *Sequential) evaluate(d *data.Dataset) (float64, []float64, error) {
	n, in := d.Len(), m.widths[0]
	sparse := false
	if s, ok := m.loss.(sparseTargets); ok {
		sparse = s.sparse()
	}
	bs := min(m.predictBatch(), n)
	idx := make([]int, 0, bs)
	var loss float64
	ms := make([]float64, len(m.metrics))
	var pbuf, tbuf []float64
	for lo := 0; lo < n; lo += bs {
		hi := min(lo+bs, n)
		p, err := m.program(progEval, hi-lo)
		if err != nil {
			return 0, nil, err
		}
		if err := bindRows(p, d.X, lo, hi, in); err != nil {
			return 0, nil, fmt.Errorf("nn: evaluate: %w", err)
		}
		yb, err := p.Input("y")
		if err != nil {
			return 0, nil, err
		}
		idx = idx[:0]
		for i := lo; i < hi; i++ {
			idx = append(idx, i)
		}
		if err := gatherTargets(yb, d.Y, idx, sparse); err != nil {
			return 0, nil, err
		}
		if err := p.Run(); err != nil {
			return 0, nil, fmt.Errorf("nn: evaluate: %w", err)
		}
		l, err := p.Scalar("loss")
		if err != nil {
			return 0, nil, err
		}
		rows := float64(hi - lo)
		loss += l * rows
		if len(m.metrics) > 0 {
			pred, err := p.Output("pred")
			if err != nil {
				return 0, nil, err
			}
			pbuf = graph.ReadFloat64s(pred, pbuf)
			tbuf = graph.ReadFloat64s(yb, tbuf)
			for i, mt := range m.metrics {
				ms[i] += mt.Compute(pbuf, tbuf, yb.Shape()[1]) * rows
			}
		}
	}
	for i := range ms {
		ms[i] /= float64(n)
	}
	return loss / float64(n), ms, nil
}

func (m *Sequential) metricNames(withVal bool) []string {
	names := make([]string, 0, 2*len(m.metrics)+2)
	for _, mt := range m.metrics {
		names = append(names, mt.Name())
	}
	return names
}

// TrainStep makes one optimizer step on the batch x [rows, in], y [rows,
// out] (class indices [rows, 1] for a sparse loss) at the optimizer's base
// learning rate, and returns the batch loss before the update. It is the
// building block for hand-written training loops and benchmarks: it reuses
// the compiled graph of its batch size and, unlike Fit, records nothing and
// leaves the training state (epochs, schedule, History) untouched.
func (m *Sequential) TrainStep(x, y *tensor.Dense) (float64, error) {
	if !m.compiled {
		return 0, fmt.Errorf("nn: train step: %w (call Compile first)", ErrNotCompiled)
	}
	if y == nil {
		return 0, fmt.Errorf("nn: train step: no targets: %w", ErrShape)
	}
	d := &data.Dataset{X: x, Y: y}
	if err := m.checkData("train step", d); err != nil {
		return 0, err
	}
	rows := x.Shape()[0]
	p, err := m.program(progTrain, rows)
	if err != nil {
		return 0, err
	}
	xb, _ := p.Input("x")
	yb, _ := p.Input("y")
	copyRows(xb, x, 0, rows, x.Shape()[1])
	sparse := false
	if s, ok := m.loss.(sparseTargets); ok {
		sparse = s.sparse()
	}
	if sparse {
		if m.stepIdx == nil || len(m.stepIdx) != rows {
			m.stepIdx = make([]int, rows)
			for i := range m.stepIdx {
				m.stepIdx[i] = i
			}
		}
		if err := gatherTargets(yb, y, m.stepIdx, true); err != nil {
			return 0, err
		}
	} else {
		copyRows(yb, y, 0, rows, y.Shape()[1])
	}
	if err := p.Run(); err != nil {
		return 0, fmt.Errorf("nn: train step: %w", err)
	}
	loss := p.Loss()
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, fmt.Errorf("nn: train step: loss is %v: %w", loss, ErrNotFinite)
	}
	if err := m.opt.Step(m.opt.LearningRate()*m.state.LRScale, m.params); err != nil {
		return loss, fmt.Errorf("nn: train step: %w", err)
	}
	return loss, nil
}
