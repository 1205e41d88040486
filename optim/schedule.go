package optim

import (
	"fmt"
	"math"
)

// Each schedule below is a pure function of the base learning rate and t,
// the number of schedule steps taken before the optimizer step it sets the
// rate for (t = 0 for the first update). Whether a schedule step is an
// optimizer step or an epoch is the trainer's Interval. Rate assumes the
// schedule is valid (see Validate) and never panics.

// Constant keeps the base rate: Rate(base, t) = base.
type Constant struct{}

// Rate implements Schedule.
func (Constant) Rate(base float64, t int) float64 { return base }

// Validate always succeeds.
func (Constant) Validate() error { return nil }

// StepLR is torch.optim.lr_scheduler.StepLR in closed form:
//
//	lr = base · Gamma^floor(t/StepSize)
type StepLR struct {
	StepSize int     // > 0
	Gamma    float64 // >= 0; torch default 0.1
}

// Rate implements Schedule. An invalid StepSize gives base.
func (s StepLR) Rate(base float64, t int) float64 {
	if s.StepSize <= 0 || t < 0 {
		return base
	}
	return base * math.Pow(s.Gamma, float64(t/s.StepSize))
}

// Validate reports the first invalid field.
func (s StepLR) Validate() error {
	if s.StepSize <= 0 {
		return fmt.Errorf("optim: steplr: step_size %d must be positive: %w", s.StepSize, ErrConfig)
	}
	return checkNonNeg("steplr", "gamma", s.Gamma)
}

// MultiStepLR is torch.optim.lr_scheduler.MultiStepLR in closed form:
//
//	lr = base · Gamma^(number of milestones m with m <= t)
//
// A milestone listed twice counts twice, as in torch.
type MultiStepLR struct {
	Milestones []int   // each >= 0, in any order
	Gamma      float64 // >= 0; torch default 0.1
}

// Rate implements Schedule.
func (s MultiStepLR) Rate(base float64, t int) float64 {
	n := 0
	for _, m := range s.Milestones {
		if m <= t {
			n++
		}
	}
	return base * math.Pow(s.Gamma, float64(n))
}

// Validate reports the first invalid field.
func (s MultiStepLR) Validate() error {
	for i, m := range s.Milestones {
		if m < 0 {
			return fmt.Errorf("optim: multisteplr: milestones[%d] %d must be >= 0: %w", i, m, ErrConfig)
		}
	}
	return checkNonNeg("multisteplr", "gamma", s.Gamma)
}

// ExponentialLR is torch.optim.lr_scheduler.ExponentialLR in closed form:
//
//	lr = base · Gamma^t
type ExponentialLR struct {
	Gamma float64 // >= 0
}

// Rate implements Schedule.
func (s ExponentialLR) Rate(base float64, t int) float64 {
	return base * math.Pow(s.Gamma, float64(t))
}

// Validate reports the first invalid field.
func (s ExponentialLR) Validate() error { return checkNonNeg("exponentiallr", "gamma", s.Gamma) }

// CosineAnnealingLR is torch.optim.lr_scheduler.CosineAnnealingLR in its
// closed form (torch's recursive values differ by at most 4e-16 relative):
//
//	lr = EtaMin + (base − EtaMin)·(1 + cos(π·t/TMax))/2
//
// so lr = EtaMin at t = TMax; beyond TMax the cosine continues (rising
// again), as torch's closed form does.
type CosineAnnealingLR struct {
	TMax   int     // T_max > 0
	EtaMin float64 // eta_min >= 0; torch default 0
}

// Rate implements Schedule. An invalid TMax gives base.
func (s CosineAnnealingLR) Rate(base float64, t int) float64 {
	if s.TMax <= 0 {
		return base
	}
	return s.EtaMin + (base-s.EtaMin)*(1+math.Cos(math.Pi*float64(t)/float64(s.TMax)))/2
}

// Validate reports the first invalid field.
func (s CosineAnnealingLR) Validate() error {
	if s.TMax <= 0 {
		return fmt.Errorf("optim: cosineannealinglr: T_max %d must be positive: %w", s.TMax, ErrConfig)
	}
	return checkNonNeg("cosineannealinglr", "eta_min", s.EtaMin)
}

// InverseTimeDecay is Keras's legacy "decay" argument (Keras 2.2.4
// optimizers), an inverse-time schedule:
//
//	lr = base · 1/(1 + Decay·t)
//
// Keras counts t in optimizer steps (iterations), so use it per step to
// reproduce Keras.
type InverseTimeDecay struct {
	Decay float64 // >= 0
}

// Rate implements Schedule.
func (s InverseTimeDecay) Rate(base float64, t int) float64 {
	return base * (1 / (1 + s.Decay*float64(t)))
}

// Validate reports the first invalid field.
func (s InverseTimeDecay) Validate() error { return checkNonNeg("inversetimedecay", "decay", s.Decay) }

// LinearWarmup ramps the rate linearly over the first Steps schedule
// steps, then hands over to Then, which starts again from its own t = 0
// (as torch's SequentialLR does):
//
//	lr = base · (Start + (1 − Start)·t/Steps)   for t < Steps
//	lr = Then.Rate(base, t − Steps)             for t >= Steps (base if Then is nil)
//
// With Start 0 (the zero value) the first update has rate 0.
type LinearWarmup struct {
	Steps int      // warm-up length, > 0
	Start float64  // start factor in [0, 1]; zero means warm up from 0
	Then  Schedule // schedule after warm-up; nil means Constant
}

// Rate implements Schedule.
func (s LinearWarmup) Rate(base float64, t int) float64 {
	if t < s.Steps && s.Steps > 0 {
		return base * (s.Start + (1-s.Start)*float64(t)/float64(s.Steps))
	}
	if s.Then == nil {
		return base
	}
	return s.Then.Rate(base, t-max(s.Steps, 0))
}

// Validate reports the first invalid field, including Then's when it has a
// Validate method.
func (s LinearWarmup) Validate() error {
	if s.Steps <= 0 {
		return fmt.Errorf("optim: linearwarmup: steps %d must be positive: %w", s.Steps, ErrConfig)
	}
	if err := checkUnit("linearwarmup", "start", s.Start, true); err != nil {
		return err
	}
	if v, ok := s.Then.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}
