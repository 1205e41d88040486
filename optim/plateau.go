package optim

import (
	"fmt"
	"math"
)

// ReduceOnPlateau is torch.optim.lr_scheduler.ReduceLROnPlateau as a
// stateful scale on the learning rate, driven by a monitored metric (a
// validation loss, say) through Observe, once per epoch. The trainer
// multiplies its scheduled rate by Scale, or calls Apply.
//
// A metric improves on the best so far when, in Mode "min" with
// ThresholdMode "rel", metric < best·(1 − Threshold); "abs" uses
// best − Threshold; Mode "max" mirrors both. After more than Patience
// observations without improvement the scale is multiplied by Factor, the
// count restarts, and the next Cooldown observations are ignored.
//
// torch floors the rate at min_lr and skips reductions smaller than 1e-8;
// here Apply floors the scaled rate at MinLR (which gives torch's rates when
// ReduceOnPlateau is the only schedule), and the 1e-8 rule is not modelled.
type ReduceOnPlateau struct {
	Mode          string  // "min" or "max"; torch default "min"
	Factor        float64 // in (0, 1); torch default 0.1
	Patience      int     // >= 0; torch default 10
	Threshold     float64 // >= 0; torch default 1e-4
	ThresholdMode string  // "rel" or "abs"; torch default "rel"
	Cooldown      int     // >= 0; torch default 0
	MinLR         float64 // >= 0; torch default 0

	started  bool
	scale    float64
	best     float64
	bad      int
	cooldown int
}

// NewReduceOnPlateau returns a ReduceOnPlateau with torch's defaults.
func NewReduceOnPlateau() *ReduceOnPlateau {
	return &ReduceOnPlateau{Mode: "min", Factor: 0.1, Patience: 10, Threshold: 1e-4, ThresholdMode: "rel"}
}

// Validate reports the first invalid field.
func (r *ReduceOnPlateau) Validate() error {
	const n = "reducelronplateau"
	switch {
	case r.Mode != "min" && r.Mode != "max":
		return fmt.Errorf("optim: %s: mode %q must be min or max: %w", n, r.Mode, ErrConfig)
	case !(r.Factor > 0 && r.Factor < 1):
		return fmt.Errorf("optim: %s: factor %v must be in (0, 1): %w", n, r.Factor, ErrConfig)
	case r.Patience < 0:
		return fmt.Errorf("optim: %s: patience %d must be >= 0: %w", n, r.Patience, ErrConfig)
	case r.ThresholdMode != "rel" && r.ThresholdMode != "abs":
		return fmt.Errorf("optim: %s: threshold_mode %q must be rel or abs: %w", n, r.ThresholdMode, ErrConfig)
	case r.Cooldown < 0:
		return fmt.Errorf("optim: %s: cooldown %d must be >= 0: %w", n, r.Cooldown, ErrConfig)
	}
	if err := checkNonNeg(n, "threshold", r.Threshold); err != nil {
		return err
	}
	return checkNonNeg(n, "min_lr", r.MinLR)
}

// Observe records one value of the monitored metric and reports whether
// the scale was reduced. It fails, changing nothing, when the settings are
// invalid.
func (r *ReduceOnPlateau) Observe(metric float64) (changed bool, err error) {
	if err := r.Validate(); err != nil {
		return false, err
	}
	r.init()
	if r.better(metric) {
		r.best = metric
		r.bad = 0
	} else {
		r.bad++
	}
	if r.cooldown > 0 {
		r.cooldown--
		r.bad = 0
	}
	if r.bad > r.Patience {
		r.scale *= r.Factor
		r.cooldown = r.Cooldown
		r.bad = 0
		return true, nil
	}
	return false, nil
}

func (r *ReduceOnPlateau) init() {
	if r.started {
		return
	}
	r.started, r.scale = true, 1
	r.best = math.Inf(1)
	if r.Mode == "max" {
		r.best = math.Inf(-1)
	}
}

func (r *ReduceOnPlateau) better(x float64) bool {
	switch {
	case r.Mode == "min" && r.ThresholdMode == "rel":
		return x < r.best*(1-r.Threshold)
	case r.Mode == "min":
		return x < r.best-r.Threshold
	case r.ThresholdMode == "rel":
		return x > r.best*(r.Threshold+1)
	}
	return x > r.best+r.Threshold
}

// Scale returns the current factor on the learning rate: 1 until the first
// reduction, then Factor^k after k reductions.
func (r *ReduceOnPlateau) Scale() float64 {
	if !r.started {
		return 1
	}
	return r.scale
}

// Best returns the best metric observed so far (±Inf before any).
func (r *ReduceOnPlateau) Best() float64 {
	r.init()
	return r.best
}

// Apply returns lr scaled by Scale, floored at MinLR once a reduction has
// happened.
func (r *ReduceOnPlateau) Apply(lr float64) float64 {
	s := r.Scale()
	if s == 1 {
		return lr
	}
	return max(lr*s, r.MinLR)
}
