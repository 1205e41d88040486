package callbacks

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// script is a callback that sets the metric name of each epoch to the
// next scripted value and records the weights after each epoch. Placed
// before a monitoring callback, it drives it deterministically.
type script struct {
	name    string
	values  []float64
	weights [][]float64
}

func (s *script) OnEpochEnd(t *nn.Training, rec *nn.EpochRecord) error {
	rec.Metrics[s.name] = s.values[rec.Epoch-1]
	s.weights = append(s.weights, graph.ParamVector(t.Params(), nil))
	return nil
}

func weightsOf(m *nn.Sequential) []float64 { return graph.ParamVector(m.Params(), nil) }

func TestEarlyStopping(t *testing.T) {
	xor := data.XOR(tensor.Float64)
	tests := []struct {
		name      string
		values    []float64
		es        EarlyStopping
		wantEpoch int // epochs run
		wantBest  int
	}{
		// Best at epoch 4; epochs 5 and 6 do not improve: stop after 6.
		{"min patience 2", []float64{1, 0.5, 0.6, 0.4, 0.45, 0.44, 0.3, 0.2}, EarlyStopping{Monitor: "score", Mode: "min", Patience: 2}, 6, 4},
		// 0.95 and 0.92 are within MinDelta of 1.
		{"min delta", []float64{1, 0.95, 0.92, 0.5}, EarlyStopping{Monitor: "score", MinDelta: 0.1}, 2, 1},
		// "auto" on an accuracy means max.
		{"auto max", []float64{0.5, 0.7, 0.6, 0.9}, EarlyStopping{Monitor: "score_acc", Patience: 1}, 3, 2},
		// NaN never improves.
		{"nan", []float64{1, math.NaN(), math.NaN(), 0}, EarlyStopping{Monitor: "score", Patience: 2}, 3, 1},
		// Never stops: all epochs run.
		{"improving", []float64{4, 3, 2, 1}, EarlyStopping{Monitor: "score"}, 4, 4},
	}
	for _, tc := range tests {
		for _, restoreBest := range []bool{false, true} {
			t.Run(tc.name+"/restore="+strconv.FormatBool(restoreBest), func(t *testing.T) {
				m := compiledXOR(t, 1, tensor.Float64)
				es := tc.es
				es.RestoreBestWeights = restoreBest
				s := &script{name: es.Monitor, values: tc.values}
				cbs := []nn.Callback{s, &es}
				hist, err := m.Fit(context.Background(), xor, nn.FitConfig{Epochs: len(tc.values), Callbacks: cbs})
				if err != nil {
					t.Fatal(err)
				}
				if got := len(hist.Epochs); got != tc.wantEpoch {
					t.Errorf("epochs run: got %d, want %d", got, tc.wantEpoch)
				}
				if es.BestEpoch != tc.wantBest {
					t.Errorf("best epoch: got %d, want %d", es.BestEpoch, tc.wantBest)
				}
				stoppedEarly := tc.wantEpoch < len(tc.values)
				if wantStopped := map[bool]int{true: tc.wantEpoch}[stoppedEarly]; es.StoppedEpoch != wantStopped {
					t.Errorf("stopped epoch: got %d, want %d", es.StoppedEpoch, wantStopped)
				}
				want := s.weights[len(s.weights)-1]
				if restoreBest && stoppedEarly {
					want = s.weights[tc.wantBest-1]
				}
				if !slices.Equal(weightsOf(m), want) {
					t.Errorf("weights are not those of epoch %d", tc.wantBest)
				}
			})
		}
	}
}

func TestEarlyStoppingErrors(t *testing.T) {
	xor := data.XOR(tensor.Float64)
	tests := []struct {
		es   EarlyStopping
		want string
	}{
		{EarlyStopping{}, `monitor "val_loss" is not recorded (have accuracy, loss`},
		{EarlyStopping{Monitor: "loss", Mode: "up"}, `mode "up"`},
		{EarlyStopping{Monitor: "loss", MinDelta: -1}, "min delta -1"},
		{EarlyStopping{Monitor: "loss", Patience: -1}, "patience -1"},
	}
	for _, tc := range tests {
		m := compiledXOR(t, 1, tensor.Float64)
		_, err := m.Fit(context.Background(), xor, nn.FitConfig{Epochs: 3, Callbacks: []nn.Callback{&tc.es}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, nn.ErrConfig) {
			t.Errorf("%+v: got error %v, want one containing %q wrapping nn.ErrConfig", tc.es, err, tc.want)
		}
	}
}

// divergent returns a linear least-squares model and data on which SGD with
// learning rate 10 diverges (the stable limit is about 2/λmax ≈ 0.4), so
// that the loss overflows to +Inf within a few dozen steps.
func divergent(t *testing.T) (*nn.Sequential, *data.Dataset) {
	t.Helper()
	m := nn.NewSequential(&nn.Dense{Units: 1, InputDim: 2})
	if err := m.Compile(nn.CompileConfig{Loss: "mse", Optimizer: optim.NewSGD(10), Seed: 3}); err != nil {
		t.Fatal(err)
	}
	d, err := data.FromRows([][]float64{{1, 2}, {2, 1}, {3, 3}, {-1, 2}}, [][]float64{{1}, {2}, {3}, {4}}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	return m, d
}

func TestTerminateOnNaN(t *testing.T) {
	m, d := divergent(t)
	_, err := m.Fit(context.Background(), d, nn.FitConfig{Epochs: 1000})
	if !errors.Is(err, nn.ErrNotFinite) {
		t.Fatalf("without TerminateOnNaN: got error %v, want nn.ErrNotFinite", err)
	}

	m, d = divergent(t)
	var tn TerminateOnNaN
	var sawEpochEnd bool
	hist, err := m.Fit(context.Background(), d, nn.FitConfig{Epochs: 1000, Callbacks: []nn.Callback{&tn, nn.EpochFunc(func(_ *nn.Training, rec *nn.EpochRecord) error {
		sawEpochEnd = !isFinite(rec.Loss)
		return nil
	})}})
	if err != nil {
		t.Fatalf("with TerminateOnNaN: got error %v, want none", err)
	}
	last := hist.Last()
	if isFinite(last.Loss) || !sawEpochEnd {
		t.Errorf("last epoch loss %v (seen by OnEpochEnd: %v), want non-finite and seen", last.Loss, sawEpochEnd)
	}
	if len(hist.Epochs) >= 1000 || tn.Step == 0 || tn.Step != len(hist.Steps)+1 {
		t.Errorf("stopped at step %d after %d recorded steps and %d epochs, want the step after the last recorded one", tn.Step, len(hist.Steps), len(hist.Epochs))
	}
	for _, v := range weightsOf(m) {
		if !isFinite(v) {
			t.Fatalf("weight %v is not finite: the offending step was applied", v)
		}
	}
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func TestLearningRateScheduler(t *testing.T) {
	m := compiledXOR(t, 1, tensor.Float64)
	var seen []float64
	lrs := LearningRateScheduler{Schedule: func(epoch int, lr float64) float64 {
		seen = append(seen, lr)
		return 0.1 / float64(epoch)
	}}
	hist, err := m.Fit(context.Background(), data.XOR(tensor.Float64), nn.FitConfig{Epochs: 4, Callbacks: []nn.Callback{lrs}})
	if err != nil {
		t.Fatal(err)
	}
	// Tolerance: lr/base·base rounds once each way.
	const tol = 1e-15
	for i, rec := range hist.Epochs {
		if want := 0.1 / float64(i+1); math.Abs(rec.LR-want) > tol {
			t.Errorf("epoch %d: lr %v, want %v", i+1, rec.LR, want)
		}
	}
	// The function sees the rate in effect: 0.1 (the base), then its own.
	if want := []float64{0.1, 0.1, 0.05, 0.1 / 3}; len(seen) < 4 || math.Abs(seen[2]-want[2]) > tol || seen[0] != want[0] {
		t.Errorf("schedule saw %v, want %v then the rate of epoch 4", seen, want)
	}

	bad := LearningRateScheduler{Schedule: func(int, float64) float64 { return -1 }}
	m = compiledXOR(t, 1, tensor.Float64)
	if _, err := m.Fit(context.Background(), data.XOR(tensor.Float64), nn.FitConfig{Epochs: 2, Callbacks: []nn.Callback{bad}}); err == nil || !strings.Contains(err.Error(), "learning rate -1") {
		t.Errorf("negative rate: got %v, want an error naming it", err)
	}
}

func TestReduceLROnPlateau(t *testing.T) {
	m := compiledXOR(t, 1, tensor.Float64)
	scores := []float64{1, 1, 1, 0.5, 0.5, 0.5}
	p := optim.NewReduceOnPlateau()
	p.Patience, p.Factor = 1, 0.5
	r := &ReduceLROnPlateau{Monitor: "score", Plateau: p}
	cbs := []nn.Callback{nn.EpochFunc(func(_ *nn.Training, rec *nn.EpochRecord) error {
		rec.Metrics["score"] = scores[rec.Epoch-1]
		return nil
	}), r}
	hist, err := m.Fit(context.Background(), data.XOR(tensor.Float64), nn.FitConfig{Epochs: len(scores), Callbacks: cbs})
	if err != nil {
		t.Fatal(err)
	}
	// torch: with patience 1 the rate halves after the second epoch in a row
	// without improvement (epoch 3 and epoch 6), taking effect in the next.
	want := []float64{0.1, 0.1, 0.1, 0.05, 0.05, 0.05}
	for i, rec := range hist.Epochs {
		if math.Abs(rec.LR-want[i]) > 1e-15 {
			t.Errorf("epoch %d: lr %v, want %v", i+1, rec.LR, want[i])
		}
	}
	if got, _ := m.TrainState(); got.LRScale != 0.25 {
		t.Errorf("final scale %v, want 0.25", got.LRScale)
	}
}

func TestCSVLogger(t *testing.T) {
	xor := data.XOR(tensor.Float64)
	check := func(t *testing.T, text string, rows int) {
		t.Helper()
		recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		wantHead := []string{"epoch", "loss", "accuracy", "val_accuracy", "val_loss", "lr", "examples", "grad_evals", "seconds"}
		if !slices.Equal(recs[0], wantHead) {
			t.Errorf("header %v, want %v", recs[0], wantHead)
		}
		if len(recs) != rows+1 {
			t.Fatalf("%d rows, want %d", len(recs)-1, rows)
		}
		last := recs[len(recs)-1]
		if last[0] != strconv.Itoa(rows) || last[5] != "0.1" || last[6] != strconv.Itoa(4*rows) || last[7] != strconv.Itoa(rows) {
			t.Errorf("last row %v, want epoch %d, lr 0.1, %d examples, %d grad evals", last, rows, 4*rows, rows)
		}
	}
	t.Run("writer", func(t *testing.T) {
		var b bytes.Buffer
		m := compiledXOR(t, 1, tensor.Float64)
		if _, err := m.Fit(context.Background(), xor, nn.FitConfig{Epochs: 3, Validation: xor, Callbacks: []nn.Callback{&CSVLogger{W: &b}}}); err != nil {
			t.Fatal(err)
		}
		check(t, b.String(), 3)
	})
	t.Run("file append", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "log.csv")
		m := compiledXOR(t, 1, tensor.Float64)
		l := &CSVLogger{Path: path, Append: true}
		cfg := nn.FitConfig{Epochs: 2, Validation: xor, Callbacks: []nn.Callback{l}}
		if _, err := m.Fit(context.Background(), xor, cfg); err != nil {
			t.Fatal(err)
		}
		cfg.Epochs, cfg.Resume = 3, true
		if _, err := m.Fit(context.Background(), xor, cfg); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		check(t, string(b), 3)
	})
}

func TestHooksStopAndFail(t *testing.T) {
	xor := data.XOR(tensor.Float64)
	boom := errors.New("boom")
	m := compiledXOR(t, 1, tensor.Float64)
	hist, err := m.Fit(context.Background(), xor, nn.FitConfig{Epochs: 10, Callbacks: []nn.Callback{nn.EpochFunc(func(_ *nn.Training, rec *nn.EpochRecord) error {
		if rec.Epoch == 3 {
			return boom
		}
		return nil
	})}})
	if !errors.Is(err, boom) || len(hist.Epochs) != 3 {
		t.Errorf("epoch hook error: got %v after %d epochs, want boom after 3", err, len(hist.Epochs))
	}
	m = compiledXOR(t, 1, tensor.Float64)
	hist, err = m.Fit(context.Background(), xor, nn.FitConfig{Epochs: 10, Batching: data.Stochastic(), Callbacks: []nn.Callback{nn.StepFunc(func(_ *nn.Training, rec nn.StepRecord) error {
		if rec.Step == 6 {
			return nn.ErrStopped
		}
		return nil
	})}})
	if err != nil || len(hist.Steps) != 6 || len(hist.Epochs) != 2 {
		t.Errorf("step hook stop: got %v after %d steps and %d epochs, want none after 6 and 2", err, len(hist.Steps), len(hist.Epochs))
	}
}

func TestBudgets(t *testing.T) {
	xor := data.XOR(tensor.Float64)
	tests := []struct {
		name     string
		cfg      nn.FitConfig
		epochs   int
		steps    int
		examples int64
	}{
		{"epochs", nn.FitConfig{Epochs: 7, Batching: data.Minibatch(3)}, 7, 14, 28},
		{"grad evals", nn.FitConfig{Epochs: 100, Batching: data.Stochastic(), MaxSteps: 9}, 3, 9, 9},
		// Minibatches of 3 then the ragged 1: 3, 4, 7, 8, 11 >= 10.
		{"examples", nn.FitConfig{Epochs: 100, Batching: data.Minibatch(3), MaxExamples: 10}, 3, 5, 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := compiledXOR(t, 1, tensor.Float64)
			hist, err := m.Fit(context.Background(), xor, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			last := hist.Last()
			if len(hist.Epochs) != tc.epochs || len(hist.Steps) != tc.steps || last.Examples != tc.examples || last.GradEvals != int64(tc.steps) {
				t.Errorf("got %d epochs, %d steps, %d examples, %d grad evals; want %d, %d, %d, %d",
					len(hist.Epochs), len(hist.Steps), last.Examples, last.GradEvals, tc.epochs, tc.steps, tc.examples, tc.steps)
			}
		})
	}
	t.Run("wall time", func(t *testing.T) {
		m := compiledXOR(t, 1, tensor.Float64)
		const budget = 30 * time.Millisecond
		slow := nn.StepFunc(func(*nn.Training, nn.StepRecord) error { time.Sleep(time.Millisecond); return nil })
		hist, err := m.Fit(context.Background(), xor, nn.FitConfig{Epochs: 100000, Batching: data.Stochastic(), MaxTime: budget, Callbacks: []nn.Callback{slow}})
		if err != nil {
			t.Fatal(err)
		}
		last := hist.Last()
		// The budget is checked after each step of at least 1 ms: it ends
		// within a few steps of 30 ms, far before 100000 epochs.
		if last.Elapsed < budget || len(hist.Steps) > 1000 || len(hist.Epochs) >= 100000 {
			t.Errorf("ran %v, %d steps, %d epochs; want just over %v", last.Elapsed, len(hist.Steps), len(hist.Epochs), budget)
		}
	})
}

// compiledXOR is the seed's 2-10-1 tanh/sigmoid network, compiled for
// binary cross-entropy with SGD(0.1) and accuracy.
func compiledXOR(t testing.TB, seed uint64, dt tensor.Dtype) *nn.Sequential {
	t.Helper()
	m := nn.NewSequential(
		&nn.Dense{Units: 10, InputDim: 2},
		&nn.Activation{Fn: "tanh"},
		&nn.Dense{Units: 1},
		&nn.Activation{Fn: "sigmoid"},
	)
	err := m.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewSGD(0.1), Metrics: []string{"accuracy"}, Seed: seed, DType: dt})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
