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
type History struct {
	Epochs []EpochRecord
	Steps  []StepRecord
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
