package callbacks

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
)

// The compiler checks each callback against the interfaces it serves.
var (
	_ nn.TrainBeginCallback = (*EarlyStopping)(nil)
	_ nn.Callback           = (*EarlyStopping)(nil)
	_ nn.NonFiniteCallback  = (*TerminateOnNaN)(nil)
	_ nn.TrainBeginCallback = (*TerminateOnNaN)(nil)
	_ nn.TrainBeginCallback = LearningRateScheduler{}
	_ nn.Callback           = LearningRateScheduler{}
	_ nn.TrainBeginCallback = (*ReduceLROnPlateau)(nil)
	_ nn.Callback           = (*ReduceLROnPlateau)(nil)
	_ nn.TrainBeginCallback = (*CSVLogger)(nil)
	_ nn.TrainEndCallback   = (*CSVLogger)(nil)
)

// EarlyStopping stops training when a monitored quantity has stopped
// improving, as Keras's EarlyStopping.
//
// After each epoch the monitored value improves on the best so far when it
// is lower by more than MinDelta (mode "min") or higher by more than
// MinDelta (mode "max"); NaN never improves. Training stops at the end of
// the epoch that makes Patience epochs in a row without improvement (the
// first epoch always sets the best). With RestoreBestWeights, the weights of
// the best epoch are copied back when it stops, as Keras does; if training
// ends for another reason (the epochs or a budget run out) the last weights
// are kept.
type EarlyStopping struct {
	// Monitor is "loss" or a metric name. If empty, "val_loss". A name that
	// is not recorded is an error at the first epoch's end.
	Monitor string
	// Mode is "min", "max" or "auto" (the zero value): "max" when Monitor
	// contains "acc", "min" otherwise.
	Mode string
	// MinDelta is the smallest change that counts as an improvement; it must
	// not be negative.
	MinDelta float64
	// Patience is the number of epochs without improvement after which
	// training stops. If zero, it stops at the first epoch without
	// improvement.
	Patience int
	// RestoreBestWeights copies the best epoch's weights back into the model
	// when training stops early.
	RestoreBestWeights bool

	// BestEpoch and Best are the best epoch so far and its value;
	// StoppedEpoch is the epoch at whose end training was stopped (0 if it
	// was not). They are reset when training begins.
	BestEpoch    int
	Best         float64
	StoppedEpoch int

	wait    int
	weights []float64 // the best epoch's, as graph.ParamVector
}

// OnTrainBegin implements nn.TrainBeginCallback: it validates the
// settings and resets the state.
func (e *EarlyStopping) OnTrainBegin(*nn.Training) error {
	if _, err := e.monitor().Max(); err != nil {
		return fmt.Errorf("callbacks: early stopping: %w", err)
	}
	if e.MinDelta < 0 || math.IsNaN(e.MinDelta) {
		return fmt.Errorf("callbacks: early stopping: min delta %v must not be negative: %w", e.MinDelta, nn.ErrConfig)
	}
	if e.Patience < 0 {
		return fmt.Errorf("callbacks: early stopping: patience %d must not be negative: %w", e.Patience, nn.ErrConfig)
	}
	e.BestEpoch, e.Best, e.StoppedEpoch, e.wait, e.weights = 0, math.NaN(), 0, 0, nil
	return nil
}

func (e *EarlyStopping) monitor() Monitor { return Monitor{Name: e.Monitor, Mode: e.Mode} }

// OnEpochEnd implements nn.Callback.
func (e *EarlyStopping) OnEpochEnd(t *nn.Training, rec *nn.EpochRecord) error {
	v, err := e.monitor().Value(rec)
	if err != nil {
		return fmt.Errorf("callbacks: early stopping: %w", err)
	}
	if e.monitor().Improves(v, e.Best, e.MinDelta) {
		e.Best, e.BestEpoch, e.wait = v, rec.Epoch, 0
		if e.RestoreBestWeights {
			e.weights = graph.ParamVector(t.Params(), e.weights)
		}
		return nil
	}
	e.wait++
	if e.wait < max(e.Patience, 1) {
		return nil
	}
	e.StoppedEpoch = rec.Epoch
	if e.RestoreBestWeights && e.weights != nil {
		if err := graph.SetParamVector(t.Params(), e.weights); err != nil {
			return fmt.Errorf("callbacks: early stopping: restoring the weights of epoch %d: %w", e.BestEpoch, err)
		}
	}
	return nn.ErrStopped
}

// TerminateOnNaN ends training cleanly, without error, when a batch loss is
// NaN or infinite, as Keras's TerminateOnNaN. Without it, Fit returns an
// error wrapping ErrNotFinite. The weights are those before the offending
// step; the last epoch record has the non-finite loss.
type TerminateOnNaN struct {
	// Step is the step whose loss was not finite (0 if none).
	Step int
}

// OnTrainBegin implements nn.TrainBeginCallback.
func (c *TerminateOnNaN) OnTrainBegin(*nn.Training) error { c.Step = 0; return nil }

// OnNonFiniteLoss implements nn.NonFiniteCallback.
func (c *TerminateOnNaN) OnNonFiniteLoss(_ *nn.Training, rec nn.StepRecord, _ error) error {
	c.Step = rec.Step
	return nn.ErrStopped
}

// OnEpochEnd implements nn.Callback.
func (*TerminateOnNaN) OnEpochEnd(*nn.Training, *nn.EpochRecord) error { return nil }

// LearningRateScheduler sets the learning rate of each epoch from a
// function, as Keras's LearningRateScheduler. Before epoch e (from 1) it
// calls Schedule(e, lr), lr being the rate in effect (the optimizer's base
// rate times Training.LRScale), and sets LRScale so that the rate becomes
// the result; a FitConfig.Schedule, if any, still multiplies it. The result
// must be positive and finite. When Fit resumes in the middle of an epoch,
// that epoch keeps its rate.
type LearningRateScheduler struct {
	Schedule func(epoch int, lr float64) float64
}

// OnTrainBegin implements nn.TrainBeginCallback: it sets the first epoch's
// rate.
func (s LearningRateScheduler) OnTrainBegin(t *nn.Training) error {
	if s.Schedule == nil {
		return fmt.Errorf("callbacks: learning-rate scheduler: Schedule is nil: %w", nn.ErrConfig)
	}
	if t.StepInEpoch() > 0 {
		return nil
	}
	return s.set(t, t.Epoch)
}

// OnEpochEnd implements nn.Callback: it sets the next epoch's rate.
func (s LearningRateScheduler) OnEpochEnd(t *nn.Training, rec *nn.EpochRecord) error {
	return s.set(t, rec.Epoch+1)
}

func (s LearningRateScheduler) set(t *nn.Training, epoch int) error {
	base := t.Optimizer.LearningRate()
	if !(base > 0) {
		return fmt.Errorf("callbacks: learning-rate scheduler: the optimizer's learning rate %v must be positive to be scaled: %w", base, nn.ErrConfig)
	}
	lr := s.Schedule(epoch, base*t.LRScale())
	if !(lr > 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("callbacks: learning-rate scheduler: epoch %d: schedule gave learning rate %v, want a positive finite rate: %w", epoch, lr, nn.ErrConfig)
	}
	t.SetLRScale(lr / base)
	return nil
}

// ReduceLROnPlateau lowers the learning rate when a monitored quantity has
// stopped improving, with torch's semantics (optim.ReduceOnPlateau): after
// each epoch the monitored value is observed, and the rate, the optimizer's
// base rate times Training.LRScale, becomes base·Factor^k floored at MinLR
// after k reductions. It owns LRScale: do not combine it with
// LearningRateScheduler.
type ReduceLROnPlateau struct {
	// Monitor is "loss" or a metric name. If empty, "val_loss".
	Monitor string
	// Plateau holds the settings (Mode, Factor, Patience, Threshold,
	// ThresholdMode, Cooldown, MinLR) and the state. If nil, torch's
	// defaults (optim.NewReduceOnPlateau) are used. Its state carries over
	// between Fit calls, like torch's scheduler object.
	Plateau *optim.ReduceOnPlateau
}

// OnTrainBegin implements nn.TrainBeginCallback: it validates the
// settings.
func (r *ReduceLROnPlateau) OnTrainBegin(*nn.Training) error {
	if r.Plateau == nil {
		r.Plateau = optim.NewReduceOnPlateau()
	}
	if err := r.Plateau.Validate(); err != nil {
		return fmt.Errorf("callbacks: reduce on plateau: %w", err)
	}
	return nil
}

// OnEpochEnd implements nn.Callback.
func (r *ReduceLROnPlateau) OnEpochEnd(t *nn.Training, rec *nn.EpochRecord) error {
	if r.Plateau == nil {
		r.Plateau = optim.NewReduceOnPlateau()
	}
	v, err := Monitor{Name: cmp.Or(r.Monitor, "val_loss")}.Value(rec)
	if err != nil {
		return fmt.Errorf("callbacks: reduce on plateau: %w", err)
	}
	if _, err := r.Plateau.Observe(v); err != nil {
		return fmt.Errorf("callbacks: reduce on plateau: %w", err)
	}
	base := t.Optimizer.LearningRate()
	if base > 0 {
		t.SetLRScale(r.Plateau.Apply(base) / base)
	}
	return nil
}

// CSVLogger writes one CSV row per epoch, as Keras's CSVLogger: the columns
// are epoch, loss, the metrics in sorted order (val_ ones included), lr,
// examples, grad_evals and seconds (the training time so far), under a
// header written with the first row. Numbers are in Go's shortest
// round-trip form. Each row is flushed when written.
type CSVLogger struct {
	// W receives the rows. If nil, the logger writes to the file Path,
	// created (or, with Append, appended to without a new header if it is
	// not empty) when training begins and closed when it ends.
	W      io.Writer
	Path   string
	Append bool

	f       *os.File
	w       *csv.Writer
	metrics []string
	header  bool
}

// OnTrainBegin implements nn.TrainBeginCallback.
func (c *CSVLogger) OnTrainBegin(*nn.Training) error {
	c.metrics, c.header = nil, false
	out := c.W
	if out == nil {
		if c.Path == "" {
			return fmt.Errorf("callbacks: csv logger: neither W nor Path is set: %w", nn.ErrConfig)
		}
		if err := c.Close(); err != nil {
			return err
		}
		flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if c.Append {
			flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		f, err := os.OpenFile(c.Path, flag, 0o644)
		if err != nil {
			return fmt.Errorf("callbacks: csv logger: %w", err)
		}
		if fi, err := f.Stat(); err == nil && c.Append && fi.Size() > 0 {
			c.header = true
		}
		c.f, out = f, f
	}
	c.w = csv.NewWriter(out)
	return nil
}

// OnEpochEnd implements nn.Callback.
func (c *CSVLogger) OnEpochEnd(_ *nn.Training, rec *nn.EpochRecord) error {
	if c.w == nil {
		return fmt.Errorf("callbacks: csv logger: not started (OnTrainBegin was not called): %w", nn.ErrConfig)
	}
	if c.metrics == nil {
		c.metrics = make([]string, 0, len(rec.Metrics))
		for k := range rec.Metrics {
			c.metrics = append(c.metrics, k)
		}
		slices.Sort(c.metrics)
	}
	if !c.header {
		c.header = true
		head := append([]string{"epoch", "loss"}, c.metrics...)
		if err := c.w.Write(append(head, "lr", "examples", "grad_evals", "seconds")); err != nil {
			return fmt.Errorf("callbacks: csv logger: %w", err)
		}
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	row := []string{strconv.Itoa(rec.Epoch), f(rec.Loss)}
	for _, k := range c.metrics {
		v, ok := rec.Metrics[k]
		if !ok {
			v = math.NaN()
		}
		row = append(row, f(v))
	}
	row = append(row, f(rec.LR), strconv.FormatInt(rec.Examples, 10), strconv.FormatInt(rec.GradEvals, 10), f(rec.Elapsed.Seconds()))
	if err := c.w.Write(row); err != nil {
		return fmt.Errorf("callbacks: csv logger: %w", err)
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("callbacks: csv logger: %w", err)
	}
	return nil
}

// OnTrainEnd implements nn.TrainEndCallback: it closes the file it opened.
func (c *CSVLogger) OnTrainEnd(*nn.Training) error { return c.Close() }

// Close closes the file the logger opened, if any. Fit calls it through
// OnTrainEnd; call it yourself when Fit fails.
func (c *CSVLogger) Close() error {
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	if err != nil {
		return fmt.Errorf("callbacks: csv logger: %w", err)
	}
	return nil
}
