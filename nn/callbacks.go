package nn

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/descentlab/descent/optim"
)

// Keras-style callbacks. Each is a small struct configured by its exported
// fields (zero values documented) and reset when training begins, so one
// value can be passed to several Fit calls in turn, but not to two running
// at once.

// monitored returns the value of the monitored quantity in an epoch record:
// "loss" or a metric name such as "val_loss" or "val_accuracy".
func monitored(who, name string, rec *EpochRecord) (float64, error) {
	if name == "loss" {
		return rec.Loss, nil
	}
	if v, ok := rec.Metrics[name]; ok {
		return v, nil
	}
	avail := []string{"loss"}
	for k := range rec.Metrics {
		avail = append(avail, k)
	}
	slices.Sort(avail)
	return 0, fmt.Errorf("nn: %s: monitor %q is not recorded (have %s; val_ names need validation data): %w",
		who, name, strings.Join(avail, ", "), ErrConfig)
}

// monitorMode resolves "auto" as Keras does: "max" for accuracies, "min"
// otherwise.
func monitorMode(who, mode, monitor string) (string, error) {
	switch mode {
	case "min", "max":
		return mode, nil
	case "", "auto":
		if strings.Contains(monitor, "acc") {
			return "max", nil
		}
		return "min", nil
	}
	return "", fmt.Errorf("nn: %s: mode %q, want min, max or auto: %w", who, mode, ErrConfig)
}

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
	weights [][]float64
}

// OnTrainBegin implements TrainBeginCallback: it validates the settings
// and resets the state.
func (e *EarlyStopping) OnTrainBegin(*Training) error {
	if _, err := monitorMode("early stopping", e.Mode, e.monitor()); err != nil {
		return err
	}
	if e.MinDelta < 0 || math.IsNaN(e.MinDelta) {
		return fmt.Errorf("nn: early stopping: min delta %v must not be negative: %w", e.MinDelta, ErrConfig)
	}
	if e.Patience < 0 {
		return fmt.Errorf("nn: early stopping: patience %d must not be negative: %w", e.Patience, ErrConfig)
	}
	e.BestEpoch, e.Best, e.StoppedEpoch, e.wait, e.weights = 0, math.NaN(), 0, 0, nil
	return nil
}

func (e *EarlyStopping) monitor() string {
	if e.Monitor == "" {
		return "val_loss"
	}
	return e.Monitor
}

// OnEpochEnd implements Callback.
func (e *EarlyStopping) OnEpochEnd(t *Training, rec *EpochRecord) error {
	v, err := monitored("early stopping", e.monitor(), rec)
	if err != nil {
		return err
	}
	mode, err := monitorMode("early stopping", e.Mode, e.monitor())
	if err != nil {
		return err
	}
	better := false
	switch {
	case math.IsNaN(v):
	case e.BestEpoch == 0:
		better = true
	case mode == "min":
		better = v < e.Best-e.MinDelta
	default:
		better = v > e.Best+e.MinDelta
	}
	if better {
		e.Best, e.BestEpoch, e.wait = v, rec.Epoch, 0
		if e.RestoreBestWeights {
			e.weights = snapshot(t, e.weights)
		}
		return nil
	}
	e.wait++
	if e.wait < max(e.Patience, 1) {
		return nil
	}
	e.StoppedEpoch = rec.Epoch
	if e.RestoreBestWeights && e.weights != nil {
		if err := restore(t, e.weights); err != nil {
			return fmt.Errorf("nn: early stopping: restoring the weights of epoch %d: %w", e.BestEpoch, err)
		}
	}
	return ErrStopped
}

// snapshot copies the values of the model's parameters, reusing buf.
func snapshot(t *Training, buf [][]float64) [][]float64 {
	ps := t.Params()
	if len(buf) != len(ps) {
		buf = make([][]float64, len(ps))
	}
	for i, p := range ps {
		buf[i] = p.Float64s()
	}
	return buf
}

func restore(t *Training, vals [][]float64) error {
	for i, p := range t.Params() {
		if err := p.SetFloat64s(vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// NonFiniteCallback is implemented by callbacks that decide what a NaN or
// infinite batch loss does. Fit calls OnNonFiniteLoss, before applying the
// step, with the step's record (its Loss the non-finite value) and the error
// Fit would return. If a callback returns ErrStopped or calls
// Training.Stop, Fit ends cleanly: the step is not applied, and the epoch in
// progress is recorded with the non-finite loss and then passed to the
// OnEpochEnd callbacks. A nil return leaves the decision to the next
// callback; without any, Fit returns err.
type NonFiniteCallback interface {
	OnNonFiniteLoss(t *Training, rec StepRecord, err error) error
}

// TerminateOnNaN ends training cleanly, without error, when a batch loss is
// NaN or infinite, as Keras's TerminateOnNaN. Without it, Fit returns an
// error wrapping ErrNotFinite. The weights are those before the offending
// step; the last epoch record has the non-finite loss.
type TerminateOnNaN struct {
	// Step is the step whose loss was not finite (0 if none).
	Step int
}

// OnTrainBegin implements TrainBeginCallback.
func (c *TerminateOnNaN) OnTrainBegin(*Training) error { c.Step = 0; return nil }

// OnNonFiniteLoss implements NonFiniteCallback.
func (c *TerminateOnNaN) OnNonFiniteLoss(_ *Training, rec StepRecord, _ error) error {
	c.Step = rec.Step
	return ErrStopped
}

// OnEpochEnd implements Callback.
func (*TerminateOnNaN) OnEpochEnd(*Training, *EpochRecord) error { return nil }

// onNonFinite asks the callbacks what to do about a non-finite loss: stop is
// true to end cleanly; otherwise Fit returns ret.
func onNonFinite(t *Training, cbs []Callback, rec StepRecord, err error) (stop bool, ret error) {
	for _, cb := range cbs {
		c, ok := cb.(NonFiniteCallback)
		if !ok {
			continue
		}
		switch e := c.OnNonFiniteLoss(t, rec, err); {
		case errors.Is(e, ErrStopped):
			t.stop = true
		case e != nil:
			return false, e
		}
		if t.stop {
			return true, nil
		}
	}
	return false, err
}

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

// OnTrainBegin implements TrainBeginCallback: it sets the first epoch's rate.
func (s LearningRateScheduler) OnTrainBegin(t *Training) error {
	if s.Schedule == nil {
		return fmt.Errorf("nn: learning-rate scheduler: Schedule is nil: %w", ErrConfig)
	}
	if t.m.state.StepInEpoch > 0 {
		return nil
	}
	return s.set(t, t.m.state.Epoch+1)
}

// OnEpochEnd implements Callback: it sets the next epoch's rate.
func (s LearningRateScheduler) OnEpochEnd(t *Training, rec *EpochRecord) error {
	return s.set(t, rec.Epoch+1)
}

func (s LearningRateScheduler) set(t *Training, epoch int) error {
	base := t.Optimizer.LearningRate()
	if !(base > 0) {
		return fmt.Errorf("nn: learning-rate scheduler: the optimizer's learning rate %v must be positive to be scaled: %w", base, ErrConfig)
	}
	lr := s.Schedule(epoch, base*t.LRScale())
	if !(lr > 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("nn: learning-rate scheduler: epoch %d: schedule gave learning rate %v, want a positive finite rate: %w", epoch, lr, ErrConfig)
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

// OnTrainBegin implements TrainBeginCallback: it validates the settings.
func (r *ReduceLROnPlateau) OnTrainBegin(*Training) error {
	if r.Plateau == nil {
		r.Plateau = optim.NewReduceOnPlateau()
	}
	if err := r.Plateau.Validate(); err != nil {
		return fmt.Errorf("nn: reduce on plateau: %w", err)
	}
	return nil
}

// OnEpochEnd implements Callback.
func (r *ReduceLROnPlateau) OnEpochEnd(t *Training, rec *EpochRecord) error {
	if r.Plateau == nil {
		r.Plateau = optim.NewReduceOnPlateau()
	}
	v, err := monitored("reduce on plateau", cmp.Or(r.Monitor, "val_loss"), rec)
	if err != nil {
		return err
	}
	if _, err := r.Plateau.Observe(v); err != nil {
		return fmt.Errorf("nn: reduce on plateau: %w", err)
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

// OnTrainBegin implements TrainBeginCallback.
func (c *CSVLogger) OnTrainBegin(*Training) error {
	c.metrics, c.header = nil, false
	out := c.W
	if out == nil {
		if c.Path == "" {
			return fmt.Errorf("nn: csv logger: neither W nor Path is set: %w", ErrConfig)
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
			return fmt.Errorf("nn: csv logger: %w", err)
		}
		if fi, err := f.Stat(); err == nil && c.Append && fi.Size() > 0 {
			c.header = true
		}
		c.f, out = f, f
	}
	c.w = csv.NewWriter(out)
	return nil
}

// OnEpochEnd implements Callback.
func (c *CSVLogger) OnEpochEnd(_ *Training, rec *EpochRecord) error {
	if c.w == nil {
		return fmt.Errorf("nn: csv logger: not started (OnTrainBegin was not called): %w", ErrConfig)
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
			return fmt.Errorf("nn: csv logger: %w", err)
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
		return fmt.Errorf("nn: csv logger: %w", err)
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("nn: csv logger: %w", err)
	}
	return nil
}

// OnTrainEnd implements TrainEndCallback: it closes the file it opened.
func (c *CSVLogger) OnTrainEnd(*Training) error { return c.Close() }

// Close closes the file the logger opened, if any. Fit calls it through
// OnTrainEnd; call it yourself when Fit fails.
func (c *CSVLogger) Close() error {
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	if err != nil {
		return fmt.Errorf("nn: csv logger: %w", err)
	}
	return nil
}
