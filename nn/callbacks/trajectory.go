package callbacks

import (
	"fmt"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
)

var (
	_ nn.TrainBeginCallback = (*Trajectory)(nil)
	_ nn.StepCallback       = (*Trajectory)(nil)
	_ nn.Callback           = (*Trajectory)(nil)
	_ nn.TrainEndCallback   = (*Trajectory)(nil)
)

// Trajectory is a callback that keeps snapshots of the model's parameters
// during Fit, in float64, for pictures of the path training took through
// weight space (see nn/study's landscapes). Only a run given a Trajectory
// pays for it: between snapshots it costs one integer comparison per step.
//
// The first snapshot is the weights when training begins (step 0 for a new
// run). Then one is taken every Every steps (after the step's update), or,
// if Every is zero, at the end of every epoch. When training ends (not when
// Fit fails), the final weights are added if the last snapshot is not
// already of them.
//
// Max is a memory budget: at most Max snapshots are held, each of 8 bytes
// a parameter (a 784-64-10 network: 50,890 parameters, 407 KB a
// snapshot). When a snapshot is due and Max are already held, the
// trajectory is decimated evenly: every other snapshot is dropped (the
// first, the initial weights, is kept) and the interval doubles, so the
// snapshots kept are always evenly spaced in steps (or epochs), between
// Max/2 and Max of them, whatever the length of the run; only the final
// snapshot may be closer to its predecessor. With Every 1 this keeps the
// whole run at the finest spacing the budget allows.
//
// A Trajectory is reset when training begins (with Resume, the first
// snapshot is the weights at resumption); one value can serve several Fit
// calls in turn but not two at once.
type Trajectory struct {
	// Every is the number of optimizer steps between snapshots. If zero, a
	// snapshot is taken at the end of every epoch. It must not be negative.
	Every int
	// Max is the most snapshots held at once, the first and the final ones
	// included. If zero, 100. It must be at least 2.
	Max int

	// Snapshots are the snapshots of the run, in step order.
	Snapshots []Snapshot

	interval int // ticks (steps or epochs) between snapshots; doubles at each decimation
	step0    int // steps done when training began
	epoch0   int // epochs done when training began
	last     int // step of the last snapshot
}

// Snapshot is a model's parameters at one point of a run.
type Snapshot struct {
	// Step is the number of optimizer steps taken (0: before the first).
	Step int
	// Epoch is the epoch of the last step, from 1 (0 before the first
	// step).
	Epoch int
	// Examples is the number of rows fed so far.
	Examples int64
	// Params holds every parameter, flattened in the model's Params order
	// (see graph.ParamVector).
	Params []float64
}

const defaultTrajectoryMax = 100

// max returns the budget.
func (tr *Trajectory) max() int {
	if tr.Max == 0 {
		return defaultTrajectoryMax
	}
	return tr.Max
}

// OnTrainBegin implements nn.TrainBeginCallback: it validates the settings,
// resets the trajectory and takes the first snapshot.
func (tr *Trajectory) OnTrainBegin(t *nn.Training) error {
	if tr.Every < 0 {
		return fmt.Errorf("callbacks: trajectory: every %d must not be negative: %w", tr.Every, nn.ErrConfig)
	}
	if tr.Max != 0 && tr.Max < 2 {
		return fmt.Errorf("callbacks: trajectory: max %d snapshots, want at least 2 (the initial and the final weights): %w", tr.Max, nn.ErrConfig)
	}
	tr.Snapshots = tr.Snapshots[:0]
	tr.interval = 1
	if tr.Every > 0 {
		tr.interval = tr.Every
	}
	tr.step0, tr.epoch0 = 0, 0
	var examples int64
	epoch := 0
	if h := t.History; h != nil {
		tr.epoch0 = len(h.Epochs)
		epoch = tr.epoch0
		if n := len(h.Steps); n > 0 {
			tr.step0, epoch, examples = h.Steps[n-1].Step, h.Steps[n-1].Epoch, h.Steps[n-1].Examples
		}
	}
	tr.take(t, tr.step0, epoch, examples)
	return nil
}

// OnStepEnd implements nn.StepCallback.
func (tr *Trajectory) OnStepEnd(t *nn.Training, rec nn.StepRecord) error {
	if tr.Every == 0 {
		return nil
	}
	tr.tick(t, rec.Step-tr.step0, rec.Step, rec.Epoch, rec.Examples)
	return nil
}

// OnEpochEnd implements nn.Callback.
func (tr *Trajectory) OnEpochEnd(t *nn.Training, rec *nn.EpochRecord) error {
	if tr.Every != 0 {
		return nil
	}
	tr.tick(t, rec.Epoch-tr.epoch0, int(rec.GradEvals), rec.Epoch, rec.Examples)
	return nil
}

// OnTrainEnd implements nn.TrainEndCallback: it adds the final weights.
func (tr *Trajectory) OnTrainEnd(t *nn.Training) error {
	h := t.History
	if h == nil || len(h.Steps) == 0 || len(tr.Snapshots) == 0 {
		return nil
	}
	last := h.Steps[len(h.Steps)-1]
	if last.Step == tr.last {
		return nil
	}
	if len(tr.Snapshots) >= tr.max() {
		tr.decimate()
	}
	tr.take(t, last.Step, last.Epoch, last.Examples)
	return nil
}

// tick is called at tick k (a step or an epoch counted from the start of
// this Fit call).
func (tr *Trajectory) tick(t *nn.Training, k, step, epoch int, examples int64) {
	if k%tr.interval != 0 {
		return
	}
	if len(tr.Snapshots) >= tr.max() {
		tr.decimate()
		if k%tr.interval != 0 {
			return
		}
	}
	tr.take(t, step, epoch, examples)
}

// decimate keeps every other snapshot, the first included, and doubles the
// interval. The buffers of the dropped snapshots are not reused: a caller
// may hold them.
func (tr *Trajectory) decimate() {
	kept := tr.Snapshots[:0]
	for i := 0; i < len(tr.Snapshots); i += 2 {
		kept = append(kept, tr.Snapshots[i])
	}
	clear(tr.Snapshots[len(kept):])
	tr.Snapshots = kept
	tr.interval *= 2
}

func (tr *Trajectory) take(t *nn.Training, step, epoch int, examples int64) {
	tr.Snapshots = append(tr.Snapshots, Snapshot{Step: step, Epoch: epoch, Examples: examples, Params: graph.ParamVector(t.Params(), nil)})
	tr.last = step
}
