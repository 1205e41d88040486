package nn

import (
	"errors"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
)

// Training is what callbacks see of a run in progress.
type Training struct {
	// Model is the model being trained.
	Model *Sequential
	// Optimizer is the model's optimizer.
	Optimizer optim.Optimizer
	// History is the record so far (the current epoch's record is appended
	// before OnEpochEnd is called).
	History *History
	// Epoch is the current epoch, from 1 (in OnTrainBegin, the epoch about
	// to run); Step the last step, from 1.
	Epoch, Step int
	// Config is a copy of the configuration Fit was called with (the
	// Checkpoint callback records it).
	Config FitConfig

	m    *Sequential
	stop bool
}

// StepInEpoch returns the number of steps done in the current epoch: more
// than 0 in OnTrainBegin when Fit resumes in the middle of an epoch.
func (t *Training) StepInEpoch() int { return t.m.state.StepInEpoch }

// Stop ends training after the current step (from OnStepEnd or
// OnGradients) or epoch (from OnEpochEnd). Fit then returns without error.
func (t *Training) Stop() { t.stop = true }

// Stopping reports whether Stop was called.
func (t *Training) Stopping() bool { return t.stop }

// LRScale returns the factor applied to the scheduled learning rate (1
// unless a callback such as reduce-on-plateau changed it).
func (t *Training) LRScale() float64 { return t.m.state.LRScale }

// SetLRScale sets the factor applied to the scheduled learning rate from the
// next step on. It is part of the training state saved in checkpoints.
func (t *Training) SetLRScale(s float64) { t.m.state.LRScale = s }

// Params returns the model's parameters; during OnGradients their Grad
// tensors hold the raw gradients of the current batch.
func (t *Training) Params() []*graph.Param { return t.m.params }

// Callback observes training at the end of every epoch. A callback may also
// implement any of TrainBeginCallback, StepCallback, GradientCallback,
// NonFiniteCallback and TrainEndCallback. Package nn/callbacks has Keras's
// (EarlyStopping, CSVLogger, ...) and the Monitor they share with
// nn/persist's Checkpoint callback. Returning ErrStopped (or calling
// Training.Stop) ends training normally; any other error aborts Fit with
// that error.
type Callback interface {
	OnEpochEnd(t *Training, rec *EpochRecord) error
}

// TrainBeginCallback is called once before the first step.
type TrainBeginCallback interface {
	OnTrainBegin(t *Training) error
}

// StepCallback is called after every optimizer step.
type StepCallback interface {
	OnStepEnd(t *Training, rec StepRecord) error
}

// GradientCallback is called after the backward pass of every step, before
// clipping and the optimizer update, with the raw gradients in each
// parameter's Grad. It may inspect or modify them.
type GradientCallback interface {
	OnGradients(t *Training, rec StepRecord) error
}

// TrainEndCallback is called once when training ends, whatever the reason
// (not when Fit fails).
type TrainEndCallback interface {
	OnTrainEnd(t *Training) error
}

// EpochFunc adapts a function to a Callback.
type EpochFunc func(t *Training, rec *EpochRecord) error

// OnEpochEnd implements Callback.
func (f EpochFunc) OnEpochEnd(t *Training, rec *EpochRecord) error { return f(t, rec) }

// StepFunc adapts a function to a StepCallback (and a Callback that does
// nothing at epoch ends).
type StepFunc func(t *Training, rec StepRecord) error

// OnStepEnd implements StepCallback.
func (f StepFunc) OnStepEnd(t *Training, rec StepRecord) error { return f(t, rec) }

// OnEpochEnd implements Callback.
func (f StepFunc) OnEpochEnd(*Training, *EpochRecord) error { return nil }

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
