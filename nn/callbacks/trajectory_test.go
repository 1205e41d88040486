package callbacks

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// trajectoryXOR returns the XOR network compiled with SGD at rate 0.5.
func trajectoryXOR(t *testing.T, dt tensor.Dtype) *nn.Sequential {
	t.Helper()
	m := nn.NewSequential(&nn.Dense{Units: 4, InputDim: 2, Activation: "tanh"}, &nn.Dense{Units: 1, Activation: "sigmoid"})
	if err := m.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewSGD(0.5), Seed: 3, DType: dt}); err != nil {
		t.Fatal(err)
	}
	return m
}

// recorder keeps the weights after every step (index 0: the initial
// weights) and checks, after each step, that a trajectory holds no more
// snapshots than its budget.
type recorder struct {
	tr      *Trajectory
	weights [][]float64
	most    int
}

func (r *recorder) OnTrainBegin(t *nn.Training) error {
	r.weights = [][]float64{graph.ParamVector(t.Params(), nil)}
	return nil
}

func (r *recorder) OnStepEnd(t *nn.Training, rec nn.StepRecord) error {
	if rec.Step != len(r.weights) {
		return errors.New("recorder: steps out of order")
	}
	r.weights = append(r.weights, graph.ParamVector(t.Params(), nil))
	r.most = max(r.most, len(r.tr.Snapshots))
	return nil
}

func (r *recorder) OnEpochEnd(*nn.Training, *nn.EpochRecord) error {
	r.most = max(r.most, len(r.tr.Snapshots))
	return nil
}

func TestTrajectory(t *testing.T) {
	tests := []struct {
		name      string
		tr        Trajectory
		batching  data.Batching
		epochs    int
		wantSteps []int
		wantEpoch []int
	}{
		{"every step", Trajectory{Every: 1}, data.FullBatch(), 6, []int{0, 1, 2, 3, 4, 5, 6}, []int{0, 1, 2, 3, 4, 5, 6}},
		// The final weights (step 10) are added after the last multiple of 4.
		{"every 4 steps", Trajectory{Every: 4}, data.FullBatch(), 10, []int{0, 4, 8, 10}, []int{0, 4, 8, 10}},
		// Stochastic XOR: 4 steps an epoch.
		{"every epoch", Trajectory{}, data.Stochastic(), 3, []int{0, 4, 8, 12}, []int{0, 1, 2, 3}},
		{"every 3 steps, stochastic", Trajectory{Every: 3}, data.Stochastic(), 2, []int{0, 3, 6, 8}, []int{0, 1, 2, 2}},
		// Budget 4, every step, 10 steps: 0 1 2 3 | due 4: decimate to 0 2,
		// interval 2 | 4 6 | due 8: decimate to 0 4, interval 4 | 8 | end:
		// add 10.
		{"budget 4", Trajectory{Every: 1, Max: 4}, data.FullBatch(), 10, []int{0, 4, 8, 10}, []int{0, 4, 8, 10}},
		// Budget 5, 16 steps: 0..4 | 5: decimate to 0 2 4, interval 2 | 6
		// 8 | 10: decimate to 0 4 8, interval 4 | 12 16.
		{"budget 5", Trajectory{Every: 1, Max: 5}, data.FullBatch(), 16, []int{0, 4, 8, 12, 16}, []int{0, 4, 8, 12, 16}},
		// Budget 2: the initial weights and the latest due snapshot.
		{"budget 2", Trajectory{Every: 1, Max: 2}, data.FullBatch(), 7, []int{0, 7}, []int{0, 7}},
		// At the end the budget is full: decimate, then add the final
		// weights.
		{"budget 3 full at the end", Trajectory{Every: 1, Max: 3}, data.FullBatch(), 5, []int{0, 4, 5}, []int{0, 4, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := trajectoryXOR(t, tensor.Float64)
			tr := tc.tr
			rec := &recorder{tr: &tr}
			_, err := m.Fit(context.Background(), data.XOR(tensor.Float64), nn.FitConfig{Epochs: tc.epochs, Batching: tc.batching, Output: io.Discard,
				Callbacks: []nn.Callback{rec, &tr}})
			if err != nil {
				t.Fatal(err)
			}
			var steps, epochs []int
			for _, s := range tr.Snapshots {
				steps, epochs = append(steps, s.Step), append(epochs, s.Epoch)
				// Exact: a snapshot is a copy of the float64 weights.
				if !slices.Equal(s.Params, rec.weights[s.Step]) {
					t.Errorf("snapshot of step %d differs from the weights after that step", s.Step)
				}
				if want := int64(s.Step) * int64(tc.batching.BatchSize(4)); s.Examples != want {
					t.Errorf("snapshot of step %d: examples %d, want %d", s.Step, s.Examples, want)
				}
			}
			if !slices.Equal(steps, tc.wantSteps) {
				t.Errorf("steps %v, want %v", steps, tc.wantSteps)
			}
			if !slices.Equal(epochs, tc.wantEpoch) {
				t.Errorf("epochs %v, want %v", epochs, tc.wantEpoch)
			}
			if budget := tr.max(); rec.most > budget || len(tr.Snapshots) > budget {
				t.Errorf("held up to %d snapshots during the run and %d at the end, budget %d", rec.most, len(tr.Snapshots), budget)
			}
		})
	}
}

// TestTrajectoryBudget checks the budget and the even spacing over many
// run lengths: at most Max snapshots at any time, at least Max/2 at the
// end, evenly spaced but for the final one.
func TestTrajectoryBudget(t *testing.T) {
	for _, budget := range []int{2, 3, 7, 16} {
		for _, steps := range []int{1, 5, 17, 64, 100} {
			m := trajectoryXOR(t, tensor.Float32)
			tr := &Trajectory{Every: 1, Max: budget}
			rec := &recorder{tr: tr}
			_, err := m.Fit(context.Background(), data.XOR(tensor.Float32), nn.FitConfig{Epochs: steps, Output: io.Discard, Callbacks: []nn.Callback{rec, tr}})
			if err != nil {
				t.Fatal(err)
			}
			s := tr.Snapshots
			if rec.most > budget || len(s) > budget {
				t.Errorf("max %d, %d steps: held %d during the run, %d at the end", budget, steps, rec.most, len(s))
			}
			if want := min(steps+1, (budget+1)/2); len(s) < want {
				t.Errorf("max %d, %d steps: %d snapshots, want at least %d", budget, steps, len(s), want)
			}
			if s[0].Step != 0 || s[len(s)-1].Step != steps {
				t.Errorf("max %d, %d steps: first step %d, last %d; want 0 and %d", budget, steps, s[0].Step, s[len(s)-1].Step, steps)
			}
			for i := 2; i < len(s)-1; i++ {
				if s[i].Step-s[i-1].Step != s[1].Step {
					t.Errorf("max %d, %d steps: snapshot steps %v are not evenly spaced", budget, steps, stepsOf(s))
					break
				}
			}
			for _, sn := range s {
				if !slices.Equal(sn.Params, rec.weights[sn.Step]) {
					t.Errorf("max %d, %d steps: snapshot of step %d differs from the weights", budget, steps, sn.Step)
				}
			}
		}
	}
}

func stepsOf(s []Snapshot) []int {
	var out []int
	for _, x := range s {
		out = append(out, x.Step)
	}
	return out
}

// A trajectory is reset when training begins: a second Fit starts over.
func TestTrajectoryReset(t *testing.T) {
	m := trajectoryXOR(t, tensor.Float64)
	tr := &Trajectory{Every: 2}
	xor := data.XOR(tensor.Float64)
	for range 2 {
		if _, err := m.Fit(context.Background(), xor, nn.FitConfig{Epochs: 4, Output: io.Discard, Callbacks: []nn.Callback{tr}}); err != nil {
			t.Fatal(err)
		}
		if got := stepsOf(tr.Snapshots); !slices.Equal(got, []int{0, 2, 4}) {
			t.Errorf("steps %v, want [0 2 4]", got)
		}
	}
}

func TestTrajectoryConfigErrors(t *testing.T) {
	for _, tr := range []*Trajectory{{Every: -1}, {Max: 1}, {Max: -3}} {
		m := trajectoryXOR(t, tensor.Float64)
		_, err := m.Fit(context.Background(), data.XOR(tensor.Float64), nn.FitConfig{Epochs: 1, Output: io.Discard, Callbacks: []nn.Callback{tr}})
		if !errors.Is(err, nn.ErrConfig) {
			t.Errorf("every %d max %d: error %v, want ErrConfig", tr.Every, tr.Max, err)
		}
	}
}

// TestTrajectoryDecimatedRecords checks that the final snapshot is of the
// last step when the History keeps few step records (nn's
// TestStepRecordsLatest: decimated records still end with the latest step).
func TestTrajectoryDecimatedRecords(t *testing.T) {
	m := compiledXOR(t, 1, tensor.Float64)
	tr := &Trajectory{Every: 3}
	h, err := m.Fit(context.Background(), data.XOR(tensor.Float64), nn.FitConfig{Epochs: 10, MaxStepRecords: 3, Output: io.Discard, Callbacks: []nn.Callback{tr}})
	if err != nil {
		t.Fatal(err)
	}
	if last := h.Steps[len(h.Steps)-1].Step; last != 10 || len(h.Steps) > 3 {
		t.Fatalf("records of steps %v, want at most 3 ending with step 10", h.Steps)
	}
	if got := tr.Snapshots[len(tr.Snapshots)-1].Step; got != 10 {
		t.Errorf("the trajectory's final snapshot is of step %d, want 10", got)
	}
}
