package study

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/descentlab/descent/nn"
)

// sweepResults are the results of a sweep over batch sizes 1 to 64 and the
// full batch (128 rows) whose steps to target follow McCandlish et al.'s
// model exactly, S(B) = 16 + 512/B (B_crit = 32), seed 2 taking 25% more
// steps than seed 1 (whole numbers of steps, all of them), with a noise
// scale of 40 recorded at the target.
func sweepResults() *Results {
	var cfgs []Config
	for _, b := range BatchSizes(128) {
		cfgs = append(cfgs, Config{Variant: b, Optimizer: "sgd", LR: 0.1})
	}
	res := &Results{Meta: Meta{Name: "sweep", Kind: KindBatchSweep, TrainRows: 128, ValRows: 32, Loss: "mean_squared_error", Configs: cfgs,
		Seeds: []uint64{1, 2}, Budget: Budget{Epochs: 100}, Target: Target{Metric: "val_loss", Value: 0.1, Stop: true}, TotalRuns: 2 * len(cfgs)}}
	for ci, c := range cfgs {
		b := float64(c.Variant.BatchSize(128))
		for k, seed := range []uint64{1, 2} {
			steps := (16 + 512/b) * (1 + 0.25*float64(k))
			rec := nn.EpochRecord{Epoch: 1, Loss: 0.1, Metrics: map[string]float64{"val_loss": 0.1}, GradEvals: int64(math.Round(steps)),
				Noise: nn.GradientNoise{Small: 4, Big: 32, Probes: 2, GradSq: 1 + float64(k), TraceCov: 40 * (1 + float64(k))}}
			res.Runs = append(res.Runs, RunResult{Run: Run{Index: len(res.Runs), ConfigIndex: ci, Config: c, Seed: seed},
				History: &nn.History{Epochs: []nn.EpochRecord{rec}},
				Reached: &Crossing{Epoch: 1, GradEvals: int64(math.Round(steps)), Examples: int64(math.Round(steps * b))}})
		}
	}
	return res
}

func TestSweepFitsMcCandlish(t *testing.T) {
	sw, err := sweepResults().Sweep()
	if err != nil {
		t.Fatal(err)
	}
	// The mean over seeds is 1.125·S(B), exactly of the model's form: the
	// fit recovers S_min = 18 and E_min = 576, B_crit = 32, to rounding
	// (the weighted least squares sums 8 terms; 1e-9 relative).
	if math.Abs(sw.BCrit-32) > 32e-9 || math.Abs(sw.SMin-18) > 18e-9 || math.Abs(sw.EMin-576) > 576e-9 {
		t.Errorf("fit S_min %v E_min %v B_crit %v, want 18, 576 and 32", sw.SMin, sw.EMin, sw.BCrit)
	}
	if sw.FitPoints != 8 {
		t.Errorf("%d points fitted, want 8", sw.FitPoints)
	}
	want := map[int]string{1: RegionPerfect, 4: RegionPerfect, 16: RegionDiminishing, 64: RegionDiminishing, 128: RegionMaximal}
	for _, p := range sw.Points {
		if w, ok := want[p.Batch]; ok && p.Region != w {
			t.Errorf("batch %d: region %q, want %q", p.Batch, p.Region, w)
		}
	}
	// The measured slope from 1 to 2: log(528/272)/log 2 = 0.957.
	if s := sw.Points[1].Slope; math.Abs(s-math.Log(528.0/272)/math.Log(2)) > 1e-12 {
		t.Errorf("slope from 1 to 2: %v, want 0.957", s)
	}
	// Ratio of means: (40 + 80) / (1 + 2) = 40.
	if sw.NoiseScale != 40 || sw.NoiseRuns != 16 {
		t.Errorf("noise scale %v over %d runs, want 40 over 16", sw.NoiseScale, sw.NoiseRuns)
	}
	var b strings.Builder
	if err := sw.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"B_crit = E_min/S_min = 32", "| 1 | 0.1 | 594 ± ", "maximal data parallelism", "**40**"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("sweep table lacks %q:\n%s", s, b.String())
		}
	}
}

// A batch sweep end to end on two moons: runs stop at the target, every
// file is written.
func TestBatchSweepRun(t *testing.T) {
	f := &File{
		Name: "moons-sweep", Kind: "batch_sweep",
		Model:      ModelSpec{Builtin: "mlp", Hidden: []int{8}, Activation: "tanh"},
		Data:       DataSpec{Name: "moons", N: 80, Seed: 7},
		Grid:       GridSpec{Optimizers: []OptimizerSpec{{Name: "sgd"}}, LRs: []float64{0.3, 1}, Seeds: []uint64{1, 2}},
		Budget:     BudgetSpec{Epochs: 40, MaxGradEvals: 300},
		Target:     &TargetSpec{Metric: "val_loss", Value: 0.45},
		Tune:       &TuneSpec{},
		NoiseScale: &NoiseScaleSpec{Small: 4, Big: 16, Probes: 2},
	}
	s, err := f.Study()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.Grid.Variants); got != 7 { // 1, 2, ..., 32 and full (60 rows)
		t.Fatalf("%d batch sizes, want 7", got)
	}
	dir := t.TempDir()
	res, err := s.Run(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tuning.Meta.Tuning.Metric != TuneStepsToTarget {
		t.Errorf("tuned on %q, want %s", res.Tuning.Meta.Tuning.Metric, TuneStepsToTarget)
	}
	reachedAny := false
	for _, r := range res.Runs {
		if r.Reached == nil {
			continue
		}
		reachedAny = true
		last := r.History.Last()
		if r.Reached.GradEvals != last.GradEvals || !(r.Reached.Value <= 0.45) {
			t.Errorf("run %s reached the target at step %d (value %v) but trained to step %d", r.ID(), r.Reached.GradEvals, r.Reached.Value, last.GradEvals)
		}
		if last.Noise.Probes == 0 {
			t.Errorf("run %s: no noise-scale estimate in its last epoch", r.ID())
		}
	}
	if !reachedAny {
		t.Fatal("no run reached the target")
	}
	paths, err := res.Report(dir, ReportOptions{PlotOptions: PlotOptions{Formats: []string{"png"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sweep.md", FigStepsVsBatch + ".png", FigExamplesVsBatch + ".png", FigSensitivity + ".png", FigNoiseScale + ".png"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written (%v); wrote %v", name, err, paths)
		}
	}
}

func TestSweepNeedsAKind(t *testing.T) {
	if _, err := syntheticResults().Sweep(); err == nil {
		t.Error("Sweep of a comparison: no error")
	}
}
