package nn

import "time"

// StepRecord is one optimizer step.
type StepRecord struct {
	Epoch int // epoch of the step, from 1
	Step  int // step number over the whole run, from 1
	Batch int // rows in the batch
	// Loss is the batch loss before the update.
	Loss float64
	// LR is the learning rate the update used.
	LR float64
	// GradNorm is the global L2 norm of the raw gradients, before clipping.
	// It is recorded when FitConfig.Clip is set or RecordGradNorm is true,
	// and is 0 otherwise.
	GradNorm float64
	// Examples is the number of rows fed so far, this step included.
	Examples int64
	// GradEvals is the number of gradient evaluations (backward passes, one
	// per step whatever the batch size) so far, this step included.
	GradEvals int64
	// Elapsed is the training time since the run started.
	Elapsed time.Duration
}

// EpochRecord summarises one epoch.
type EpochRecord struct {
	Epoch int
	// Loss is the mean of the epoch's batch losses weighted by batch size
	// (each computed before its update), as Keras reports it.
	Loss float64
	// Metrics holds the compiled metrics, averaged like Loss, and the
	// validation loss and metrics under "val_" names when validation data is
	// given.
	Metrics map[string]float64
	// LR is the learning rate of the epoch's last step.
	LR        float64
	Steps     int   // steps in this epoch
	Examples  int64 // rows fed so far, over the whole run
	GradEvals int64 // gradient evaluations so far
	Elapsed   time.Duration
	// Noise is the gradient noise scale estimated during the epoch, when a
	// callback such as callbacks.GradientNoiseScale records it (its Probes
	// is 0 otherwise).
	Noise GradientNoise
}

// History is the record of a run, Keras's History with per-step detail.
//
// Every epoch is recorded. Steps are recorded at a resolution that keeps a
// long run's memory flat (see FitConfig.MaxStepRecords): every step while
// the run has taken at most MaxStepRecords (10000 by default) steps, then
// an evenly spaced sample, steps 1, 1+StepEvery, 1+2·StepEvery, ..., whose
// spacing doubles each time the records fill up, and always the latest
// step. A StepCallback sees every step whatever the resolution.
type History struct {
	Epochs []EpochRecord
	// Steps are the records of steps 1, 1+StepEvery, 1+2·StepEvery, ... of
	// the run so far (Step numbers over the whole run), in order, followed
	// by the latest step's when it is not one of them.
	Steps []StepRecord
	// StepEvery is the spacing of the step records, a power of two: 1
	// (every step) until the run outgrows FitConfig.MaxStepRecords. Zero
	// counts as 1.
	StepEvery int
}

// DefaultMaxStepRecords is the number of step records History keeps when
// FitConfig.MaxStepRecords is zero: 720 kB per run, finer than any plot
// of a run needs, and every step of runs up to 10000 steps.
const DefaultMaxStepRecords = 10000

// every returns the spacing of the step records.
func (h *History) every() int { return max(h.StepEvery, 1) }

// onSpacing reports whether step is one of 1, 1+StepEvery, ...
func (h *History) onSpacing(step int) bool { return (step-1)%h.every() == 0 }

// recordStep records rec as the latest step: the previous latest record
// is dropped unless it falls on the spacing, and the records are halved
// (every other one dropped, the spacing doubled) as often as needed to
// keep at most limit of them; limit < 0 keeps every step. It does not
// allocate once Steps has room for limit records.
func (h *History) recordStep(rec StepRecord, limit int) {
	if limit < 0 {
		h.Steps = append(h.Steps, rec)
		return
	}
	if n := len(h.Steps); n > 0 && !h.onSpacing(h.Steps[n-1].Step) {
		h.Steps = h.Steps[:n-1]
	}
	h.fitIn(limit - 1)
	h.Steps = append(h.Steps, rec)
}

// shrink halves the records until at most limit remain, keeping the
// latest step's (a resumed run given a smaller limit than the run it
// continues); limit < 0 keeps them all.
func (h *History) shrink(limit int) {
	n := len(h.Steps)
	if limit < 0 || n <= limit {
		return
	}
	last := h.Steps[n-1]
	h.Steps = h.Steps[:n-1]
	h.fitIn(limit - 1)
	h.Steps = append(h.Steps, last)
}

// fitIn halves the records on the spacing until at most n remain; with
// room for none, it drops them all.
func (h *History) fitIn(n int) {
	for len(h.Steps) > max(n, 0) {
		if len(h.Steps) == 1 {
			clear(h.Steps)
			h.Steps = h.Steps[:0]
			return
		}
		h.halve()
	}
}

// halve keeps the records of steps 1, 1+2·StepEvery, ... in place and
// doubles StepEvery.
func (h *History) halve() {
	every := 2 * h.every()
	kept := h.Steps[:0]
	for _, s := range h.Steps {
		if (s.Step-1)%every == 0 {
			kept = append(kept, s)
		}
	}
	clear(h.Steps[len(kept):])
	h.Steps = kept
	h.StepEvery = every
}

// Metric returns one value per epoch of "loss" or of a metric name
// ("accuracy", "val_loss"); nil if unknown.
func (h *History) Metric(name string) []float64 {
	var out []float64
	for _, e := range h.Epochs {
		if name == "loss" {
			out = append(out, e.Loss)
			continue
		}
		v, ok := e.Metrics[name]
		if !ok {
			return nil
		}
		out = append(out, v)
	}
	return out
}

// Last returns the last epoch's record, or a zero record.
func (h *History) Last() EpochRecord {
	if len(h.Epochs) == 0 {
		return EpochRecord{}
	}
	return h.Epochs[len(h.Epochs)-1]
}
