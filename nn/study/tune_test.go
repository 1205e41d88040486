package study

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"gorgonia.org/tensor"
)

// knownBestStudy is least squares y = 2x + 0.5 + noise on inputs of mean 0
// and mean square 1, by full-batch gradient descent on a 1-1 linear
// network, validated on its training data. The mean squared error's
// Hessian is then diag(2, 2) (2·mean(x²) for the weight, 2 for the bias),
// so every step multiplies the distance to the optimum by |1 − 2·lr|:
// lr = 0.5 reaches the optimum in one step and every other rate is still
// away from it after three. The best rate is known: 0.5.
func knownBestStudy(t *testing.T) *Study {
	t.Helper()
	const n = 64
	x, y := make([][]float64, n), make([][]float64, n)
	var ss float64
	for i := range n / 2 {
		v := float64(i+1) / n
		x[2*i], x[2*i+1] = []float64{v}, []float64{-v}
		ss += 2 * v * v
	}
	scale := math.Sqrt(float64(n) / ss) // mean(x²) = 1
	for i := range x {
		x[i][0] *= scale
		y[i] = []float64{2*x[i][0] + 0.5 + 0.1*math.Sin(float64(7*i))}
	}
	d, err := data.FromRows(x, y, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	return &Study{
		Name:  "known-best",
		Model: func() (*nn.Sequential, error) { return nn.NewSequential(&nn.Dense{Units: 1, InputDim: 1}), nil },
		Loss:  "mean_squared_error", Train: d, Validation: d,
		Grid: Grid{
			Variants:   []data.Batching{data.FullBatch()},
			Optimizers: []OptimizerChoice{{Name: "sgd"}},
			LRs:        []float64{0.05, 0.15, 0.5, 0.8, 0.95},
			Seeds:      []uint64{1, 2, 3},
		},
		Budget: Budget{Epochs: 3},
		Tune:   &Tuning{Seeds: []uint64{5}},
	}
}

func TestTuningPicksKnownBestRate(t *testing.T) {
	s := knownBestStudy(t)
	res, err := s.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Meta.Tuning
	if res.Meta.Stage != StageFinal || tr == nil || len(tr.Choices) != 1 {
		t.Fatalf("final stage %q with tuning %+v, want one choice", res.Meta.Stage, tr)
	}
	c := tr.Choices[0]
	if c.Config.LR != 0.5 || c.LRs[c.Best] != 0.5 {
		t.Errorf("chose lr %v (scores %v), want 0.5", c.Config.LR, c.Scores)
	}
	if c.AtEdge() {
		t.Errorf("0.5 is inside the grid, AtEdge says otherwise")
	}
	// The other rates' validation losses are above the best one's: the
	// choice is not a tie broken by order.
	for i, v := range c.Scores {
		if i != c.Best && !(v[0] > c.Scores[c.Best][0]) {
			t.Errorf("lr %v scores %v, not above the best's %v", c.LRs[i], v[0], c.Scores[c.Best][0])
		}
	}
	if !reflect.DeepEqual(tr.Seeds, []uint64{5}) || tr.Metric != "val_loss" {
		t.Errorf("tuning seeds %v metric %q, want [5] and val_loss", tr.Seeds, tr.Metric)
	}
	if len(res.Runs) != 3 || res.Tuning == nil || len(res.Tuning.Runs) != 5 {
		t.Fatalf("%d final runs and tuning %v, want 3 and 5 tuning runs", len(res.Runs), res.Tuning)
	}
	for _, r := range res.Runs {
		if r.Config.LR != 0.5 {
			t.Errorf("final run %s: lr %v, want the chosen 0.5", r.ID(), r.Config.LR)
		}
	}
}

// tunedSmallStudy is smallStudy with two rates per configuration and a
// test set, tuned on seed 9.
func tunedSmallStudy(t *testing.T) *Study {
	t.Helper()
	f := &File{
		Name:  "moons-tuned",
		Model: ModelSpec{Builtin: "mlp", Hidden: []int{8}, Activation: "tanh"},
		Data:  DataSpec{Name: "moons", N: 100, Seed: 7, TestFraction: 0.2},
		Grid: GridSpec{
			Variants:   []string{"full", "minibatch(16)"},
			Optimizers: []OptimizerSpec{{Name: "sgd"}, {Name: "adam", LRRange: &RangeSpec{Min: 0.003, Max: 0.03, Count: 3}, Variants: []string{"minibatch(16)"}}},
			LRRange:    &RangeSpec{Min: 0.1, Max: 1, Count: 3},
			Seeds:      []uint64{1, 2},
		},
		Budget: BudgetSpec{Epochs: 3},
		Tune:   &TuneSpec{Seeds: []uint64{9, 10}, Budget: &BudgetSpec{Epochs: 2}},
	}
	s, err := f.Study()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A tuning stage sharded over machines merges into the same choices, and
// the same final stage, as one machine.
func TestShardedTuningEqualsUnsharded(t *testing.T) {
	s := tunedSmallStudy(t)
	ts, err := s.TuningStage()
	if err != nil {
		t.Fatal(err)
	}
	whole, err := ts.Run(context.Background(), Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for i := range 4 {
		d := t.TempDir()
		if _, err := ts.Run(context.Background(), Options{Shard: Shard{Index: i, Count: 4}, Dir: d, Workers: 1}); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	merged, err := Load(dirs...)
	if err != nil {
		t.Fatal(err)
	}
	// Part of the shards is not enough.
	if _, err := s.FinalStage(must(Load(dirs[:3]...))); !errors.Is(err, ErrMerge) || !strings.Contains(err.Error(), "lacks") {
		t.Errorf("final stage from 3 of 4 shards: %v, want ErrMerge saying runs are missing", err)
	}
	a, err := s.FinalStage(whole)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.FinalStage(merged)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.tuning.Choices, b.tuning.Choices) {
		t.Errorf("choices differ:\nunsharded %+v\nsharded   %+v", a.tuning.Choices, b.tuning.Choices)
	}
	fa, _ := a.Fingerprint()
	fb, _ := b.Fingerprint()
	if fa != fb {
		t.Errorf("final stage fingerprints differ: %s and %s", fa, fb)
	}
	if got := len(a.tuning.Choices); got != 3 {
		t.Errorf("%d choices, want 3 (full sgd, minibatch sgd, minibatch adam)", got)
	}
	// Tuning results of another study are refused.
	other := tunedSmallStudy(t)
	other.Budget.Epochs = 4
	if _, err := other.FinalStage(merged); err != nil {
		t.Errorf("the final budget is not part of the tuning stage: %v", err)
	}
	other.Tune.Budget.Epochs = 3
	if _, err := other.FinalStage(merged); !errors.Is(err, ErrMerge) || !strings.Contains(err.Error(), "budget") {
		t.Errorf("tuning results of another tuning budget: %v, want ErrMerge naming the budget", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A tuned study's Run writes both stages, the tuning one in dir/tuning;
// the test set is used by the final stage only; a rerun replaces them and
// ClearDir removes both.
func TestTunedRunDirectories(t *testing.T) {
	s := tunedSmallStudy(t)
	dir := filepath.Join(t.TempDir(), "out")
	res, err := s.Run(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Runs {
		if r.Test == nil || r.Test["accuracy"] == 0 {
			t.Errorf("final run %s: test %v, want the test loss and accuracy", r.ID(), r.Test)
		}
	}
	for _, r := range res.Tuning.Runs {
		if r.Test != nil {
			t.Errorf("tuning run %s used the test set", r.ID())
		}
	}
	if res.Tuning.Meta.TestRows != 0 || res.Meta.TestRows != 20 {
		t.Errorf("test rows: tuning %d final %d, want 0 and 20", res.Tuning.Meta.TestRows, res.Meta.TestRows)
	}
	tl, err := Load(filepath.Join(dir, TuningDir))
	if err != nil {
		t.Fatal(err)
	}
	fl, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tl.Meta.Stage != StageTuning || fl.Meta.Stage != StageFinal || !reflect.DeepEqual(fl.Meta.Tuning, res.Meta.Tuning) {
		t.Errorf("loaded stages %q and %q; tuning record round trip %v", tl.Meta.Stage, fl.Meta.Stage, reflect.DeepEqual(fl.Meta.Tuning, res.Meta.Tuning))
	}
	if _, err := s.Run(context.Background(), Options{Dir: dir}); err != nil {
		t.Fatalf("rerun into its own directory: %v", err)
	}
	if _, err := smallStudy(t).Run(context.Background(), Options{Dir: dir}); !errors.Is(err, ErrDirInUse) {
		t.Errorf("another study into a tuned study's directory: %v, want ErrDirInUse", err)
	}
	if _, err := s.Plan(Options{Dir: dir, Shard: Shard{0, 2}}); err == nil || !strings.Contains(err.Error(), "two stages") {
		t.Errorf("sharding a tuned study as a whole: %v, want an error about its stages", err)
	}
	if err := ClearDir(dir); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("ClearDir left %v", left)
	}
}

func TestTuningErrors(t *testing.T) {
	for _, c := range []struct {
		edit  func(*File)
		field string
	}{
		{func(f *File) { f.Tune = &TuneSpec{Metric: "accuracy"} }, "tune.metric"},
		{func(f *File) { f.Tune = &TuneSpec{Metric: "val_wobble"} }, "tune.metric"},
		{func(f *File) { f.Tune = &TuneSpec{Metric: TuneStepsToTarget} }, "tune.metric"},
		{func(f *File) { f.Tune = &TuneSpec{Seeds: []uint64{1, 1}} }, "tune.seeds[1]"},
		{func(f *File) { f.Tune = &TuneSpec{Budget: &BudgetSpec{Epochs: -1}} }, "tune.budget.epochs"},
		{func(f *File) { f.Tune = &TuneSpec{Budget: &BudgetSpec{MaxTime: "soon"}} }, "tune.budget.max_time"},
		{func(f *File) { f.Grid.LRRange = &RangeSpec{Min: 0.1, Max: 1, Count: 3} }, "grid.lr_range"},
		{func(f *File) { f.Grid.LRs, f.Grid.LRRange = nil, &RangeSpec{Min: 0, Max: 1, Count: 3} }, "grid.lr_range.min"},
		{func(f *File) { f.Grid.LRs, f.Grid.LRRange = nil, &RangeSpec{Min: 1, Max: 0.1, Count: 3} }, "grid.lr_range.max"},
		{func(f *File) { f.Grid.LRs, f.Grid.LRRange = nil, &RangeSpec{Min: 0.1, Max: 1} }, "grid.lr_range.count"},
		{func(f *File) { f.Kind = "sweep" }, "kind"},
		{func(f *File) { f.Kind = "batch_sweep" }, "target.value"},
		{func(f *File) { f.Target = &TargetSpec{Value: 0.5, Metric: "loss", Stop: true} }, "target.metric"},
		{func(f *File) { f.NoiseScale = &NoiseScaleSpec{Small: 64, Big: 32} }, "noise_scale.big"},
		{func(f *File) { f.NoiseScale = &NoiseScaleSpec{Probes: -1} }, "noise_scale.probes"},
		{func(f *File) { f.Data.TestFraction = 1.5 }, "data.test_fraction"},
	} {
		f := tinyFile()
		c.edit(f)
		_, err := f.Study()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("got %v, want an error for field %s", err, c.field)
		}
	}
}

func TestLogRange(t *testing.T) {
	got := LogRange(0.001, 1, 7)
	want := []float64{0.001, 0.00316, 0.01, 0.0316, 0.1, 0.316, 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LogRange(0.001, 1, 7) = %v, want %v", got, want)
	}
	if got := BatchSizes(10); len(got) != 5 || got[3].Size != 8 || got[4].Size != 0 {
		t.Errorf("BatchSizes(10) = %v, want 1, 2, 4, 8, full", got)
	}
}

// Evaluations within epochs come at 1, 2, ... steps, then every doubling
// (EvalsPerDoubling 1), end at each epoch's end, survive Write and Load,
// and leave training as it was.
func TestEvalsPerDoubling(t *testing.T) {
	s := smallStudy(t)
	plain, err := s.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.EvalsPerDoubling = 1
	dir := t.TempDir()
	res, err := s.Run(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Runs {
		last := r.History.Last()
		if len(r.Evals) == 0 || r.Evals[len(r.Evals)-1].GradEvals != last.GradEvals {
			t.Fatalf("run %s: evaluations %+v do not end at step %d", r.ID(), r.Evals, last.GradEvals)
		}
		for k := 1; k < len(r.Evals); k++ {
			a, b := r.Evals[k-1].GradEvals, r.Evals[k].GradEvals
			if b <= a || (b > 2*a && r.Evals[k].Epoch == r.Evals[k-1].Epoch) {
				t.Errorf("run %s: evaluation after step %d, then %d: want growth by at most 2 within an epoch", r.ID(), a, b)
			}
		}
		if r.Evals[len(r.Evals)-1].Metrics["val_loss"] != last.Metrics["val_loss"] {
			t.Errorf("run %s: last evaluation %v, epoch's val_loss %v", r.ID(), r.Evals[len(r.Evals)-1].Metrics, last.Metrics["val_loss"])
		}
		if p := plain.Runs[i].History.Last(); p.Loss != last.Loss {
			t.Errorf("run %s: evaluating changed training: loss %v, without %v", r.ID(), last.Loss, p.Loss)
		}
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded.Runs[1].Evals, res.Runs[1].Evals) {
		t.Errorf("evaluations do not survive Write and Load:\n%+v\n%+v", loaded.Runs[1].Evals, res.Runs[1].Evals)
	}
}
