package persist

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// resumeCase is one run to interrupt and resume from a checkpoint.
type resumeCase struct {
	name     string
	dt       tensor.Dtype
	batching data.Batcher
	opt      func() optim.Optimizer
	schedule optim.Schedule
	interval optim.Interval
	stopAt   int64             // cancel after this step
	layers   func() []nn.Layer // if nil, the XOR model's
	records  int               // FitConfig.MaxStepRecords
}

// dropoutLayers is a network with Dropout and regularizers: its resumed
// run matches only if the checkpoint carries the dropout stream.
func dropoutLayers() []nn.Layer {
	return []nn.Layer{
		&nn.Dense{Units: 12, InputDim: 2, Activation: "tanh", KernelRegularizer: nn.L2(0.01), BiasRegularizer: nn.L1(0.001)},
		&nn.Dropout{Rate: 0.3},
		&nn.Dense{Units: 8, Activation: "relu", KernelRegularizer: nn.L1L2{L1: 0.001, L2: 0.001}},
		&nn.Dropout{Rate: 0.2, NoiseShape: []int{0, 1}},
		&nn.Dense{Units: 1, Activation: "sigmoid"},
	}
}

func resumeCases() []resumeCase {
	adam := func() optim.Optimizer { return optim.NewAdam(0.05) }
	momentum := func() optim.Optimizer { o := optim.NewSGD(0.2); o.Momentum = 0.9; return o }
	return []resumeCase{
		{name: "full/adam", dt: tensor.Float64, batching: data.FullBatch(), opt: adam, stopAt: 5},
		{name: "stochastic/adam", dt: tensor.Float64, batching: data.Stochastic(), opt: adam, stopAt: 10},
		{name: "minibatch3/adam", dt: tensor.Float64, batching: data.Minibatch(3), opt: adam, stopAt: 7},
		{name: "minibatch3/adam/float32", dt: tensor.Float32, batching: data.Minibatch(3), opt: adam, stopAt: 7},
		{name: "stochastic/momentum/step-schedule", dt: tensor.Float64, batching: data.Stochastic(), opt: momentum,
			schedule: optim.StepLR{StepSize: 3, Gamma: 0.7}, interval: optim.PerStep, stopAt: 9},
		{name: "minibatch3/momentum/epoch-schedule/float32", dt: tensor.Float32, batching: data.Minibatch(3), opt: momentum,
			schedule: optim.ExponentialLR{Gamma: 0.9}, interval: optim.PerEpoch, stopAt: 5},
		{name: "minibatch3/adam/dropout+regularizers", dt: tensor.Float64, batching: data.Minibatch(3), opt: adam, stopAt: 7, layers: dropoutLayers},
		{name: "stochastic/adam/dropout+regularizers/float32", dt: tensor.Float32, batching: data.Stochastic(), opt: adam, stopAt: 10, layers: dropoutLayers},
		// 24 steps kept in 5 records: decimated before the interruption
		// (every 4 at step 10) and after it (every 8).
		{name: "stochastic/adam/5-step-records", dt: tensor.Float64, batching: data.Stochastic(), opt: adam, stopAt: 10, records: 5},
	}
}

func (c resumeCase) model(t testing.TB, seed uint64) *nn.Sequential {
	t.Helper()
	m := xorModel()
	if c.layers != nil {
		m = nn.NewSequential(c.layers()...)
	}
	err := m.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: c.opt(), Metrics: []string{"accuracy"}, Seed: seed, DType: c.dt})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (c resumeCase) fit(epochs int) nn.FitConfig {
	return nn.FitConfig{Epochs: epochs, Batching: c.batching, Schedule: c.schedule, ScheduleInterval: c.interval, MaxStepRecords: c.records}
}

// sameRun checks that two runs' histories and weights agree bit for bit
// (elapsed times aside).
func sameRun(t *testing.T, got, want *nn.Sequential, hg, hw *nn.History) {
	t.Helper()
	if len(hg.Steps) != len(hw.Steps) || len(hg.Epochs) != len(hw.Epochs) || hg.StepEvery != hw.StepEvery {
		t.Fatalf("%d step records (every %d) and %d epochs, want %d (every %d) and %d", len(hg.Steps), hg.StepEvery, len(hg.Epochs), len(hw.Steps), hw.StepEvery, len(hw.Epochs))
	}
	for i := range hw.Steps {
		a, b := hg.Steps[i], hw.Steps[i]
		a.Elapsed, b.Elapsed = 0, 0
		if a != b {
			t.Fatalf("step %d: got %+v, want %+v", i+1, a, b)
		}
	}
	for i := range hw.Epochs {
		a, b := hg.Epochs[i], hw.Epochs[i]
		if math.Float64bits(a.Loss) != math.Float64bits(b.Loss) || a.LR != b.LR || a.Steps != b.Steps || a.Examples != b.Examples || a.GradEvals != b.GradEvals {
			t.Fatalf("epoch %d: got %+v, want %+v", i+1, a, b)
		}
		for k, v := range b.Metrics {
			if math.Float64bits(a.Metrics[k]) != math.Float64bits(v) {
				t.Fatalf("epoch %d %s: got %v, want %v", i+1, k, a.Metrics[k], v)
			}
		}
	}
	sameBits(t, "weights", paramBits(got), paramBits(want))
}

// TestCheckpointResume interrupts a run mid-epoch through its context,
// saves a checkpoint, restores it into a fresh model built from another
// seed, and checks that the resumed run is the uninterrupted one, bit for
// bit, for every descent variant.
func TestCheckpointResume(t *testing.T) {
	const epochs = 6
	for _, c := range resumeCases() {
		t.Run(c.name, func(t *testing.T) {
			xor := data.XOR(c.dt)
			whole := c.model(t, 5)
			hw, err := whole.Fit(context.Background(), xor, c.fit(epochs))
			if err != nil {
				t.Fatal(err)
			}

			m := c.model(t, 5)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := c.fit(epochs)
			stopped := cfg
			stopped.Callbacks = []nn.Callback{nn.StepFunc(func(_ *nn.Training, rec nn.StepRecord) error {
				if int64(rec.Step) == c.stopAt {
					cancel()
				}
				return nil
			})}
			if _, err := m.Fit(ctx, xor, stopped); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted fit: err = %v, want context.Canceled", err)
			}
			path := filepath.Join(t.TempDir(), "ckpt.safetensors")
			if err := SaveCheckpoint(path, m, cfg); err != nil {
				t.Fatal(err)
			}

			fresh := c.model(t, 999) // other initial weights and shuffling
			info, err := LoadCheckpoint(path, fresh)
			if err != nil {
				t.Fatal(err)
			}
			if info.Steps != c.stopAt {
				t.Errorf("checkpoint at step %d, want %d", info.Steps, c.stopAt)
			}
			if err := info.CheckFit(cfg); err != nil {
				t.Error(err)
			}
			other := cfg
			other.MaxStepRecords = c.records + 3
			if err := info.CheckFit(other); !errors.Is(err, nn.ErrMismatch) || !strings.Contains(err.Error(), "MaxStepRecords") {
				t.Errorf("CheckFit with another MaxStepRecords: err = %v", err)
			}
			if c.records > 0 {
				ts, err := fresh.TrainState()
				if err != nil {
					t.Fatal(err)
				}
				if ts.History.StepEvery < 2 || len(ts.History.Steps) > c.records {
					t.Errorf("restored %d step records every %d, want at most %d, decimated", len(ts.History.Steps), ts.History.StepEvery, c.records)
				}
			}
			resumed := cfg
			resumed.Resume = true
			hr, err := fresh.Fit(context.Background(), xor, resumed)
			if err != nil {
				t.Fatal(err)
			}
			sameRun(t, fresh, whole, hr, hw)
		})
	}
}

// TestCheckpointCallback saves every 2 epochs keeping the last 2, resumes
// from one, and checks SaveBest.
func TestCheckpointCallback(t *testing.T) {
	c := resumeCases()[2] // minibatch of 3, Adam
	xor := data.XOR(c.dt)
	whole := c.model(t, 8)
	hw, err := whole.Fit(context.Background(), xor, c.fit(7))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cb := &Checkpoint{Path: filepath.Join(dir, "ckpt-{epoch:03d}-{loss:.3f}.safetensors"), EveryEpochs: 2, KeepLast: 2}
	m := c.model(t, 8)
	cfg := c.fit(7)
	cfg.Callbacks = []nn.Callback{cb}
	if _, err := m.Fit(context.Background(), xor, cfg); err != nil {
		t.Fatal(err)
	}
	files := cb.Files()
	if len(files) != 2 || !strings.Contains(files[0], "ckpt-004-") || !strings.Contains(files[1], "ckpt-006-") {
		t.Fatalf("kept %v, want the checkpoints of epochs 4 and 6", files)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d files, want 2", len(entries))
	}
	fresh := c.model(t, 1)
	info, err := LoadCheckpoint(files[0], fresh)
	if err != nil {
		t.Fatal(err)
	}
	if info.Epoch != 4 || info.StepInEpoch != 0 {
		t.Errorf("checkpoint at epoch %d step %d, want 4 and 0", info.Epoch, info.StepInEpoch)
	}
	if err := info.CheckFit(c.fit(7)); err != nil {
		t.Error(err)
	}
	resumed := c.fit(7)
	resumed.Resume = true
	hr, err := fresh.Fit(context.Background(), xor, resumed)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, fresh, whole, hr, hw)

	// SaveBest on the training loss.
	best := &Checkpoint{Path: filepath.Join(dir, "best-{epoch}.safetensors"), SaveBest: true, Monitor: "loss"}
	m = c.model(t, 8)
	cfg = c.fit(7)
	cfg.Callbacks = []nn.Callback{best}
	h, err := m.Fit(context.Background(), xor, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	low := math.Inf(1)
	for _, e := range h.Epochs {
		if e.Loss < low {
			low = e.Loss
			want = append(want, filepath.Join(dir, "best-"+strconv.Itoa(e.Epoch)+".safetensors"))
		}
	}
	if !slices.Equal(best.Files(), want) {
		t.Errorf("SaveBest wrote %v, want %v", best.Files(), want)
	}
	if v, ok := best.Best(); !ok || v != low {
		t.Errorf("Best() = %v, %v; want %v", v, ok, low)
	}

	// Settings errors stop Fit at once.
	for _, bad := range []*Checkpoint{
		{},
		{Path: "x-{epoch:.2f}"},
		{Path: "x", Mode: "sideways"},
		{Path: "x-{val_loss}", EveryEpochs: 1},
	} {
		m := c.model(t, 8)
		cfg := c.fit(2)
		cfg.Callbacks = []nn.Callback{bad}
		if _, err := m.Fit(context.Background(), xor, cfg); !errors.Is(err, nn.ErrConfig) {
			t.Errorf("%+v: err = %v, want nn.ErrConfig", bad, err)
		}
	}
}

// modelState is what a failed load must leave unchanged.
type modelState struct {
	weights []float64
	ts      nn.TrainState
	opt     optim.State
}

func snapshotModel(t testing.TB, m *nn.Sequential) modelState {
	t.Helper()
	ts, err := m.TrainState()
	if err != nil {
		t.Fatal(err)
	}
	return modelState{paramBits(m), ts, m.Optimizer().(optim.Stateful).State()}
}

func (s modelState) equal(o modelState) bool {
	if !slices.Equal(s.weights, o.weights) || s.ts.Steps != o.ts.Steps || s.ts.Epoch != o.ts.Epoch ||
		!bytes.Equal(s.ts.Shuffle, o.ts.Shuffle) || len(s.ts.History.Steps) != len(o.ts.History.Steps) ||
		s.opt.Step != o.opt.Step || len(s.opt.Buffers) != len(o.opt.Buffers) {
		return false
	}
	for p, bufs := range s.opt.Buffers {
		for b, v := range bufs {
			if !slices.Equal(v, o.opt.Buffers[p][b]) {
				return false
			}
		}
	}
	return true
}

// trainedCheckpoint returns a checkpoint of a short Adam run.
func trainedCheckpoint(t testing.TB) []byte {
	t.Helper()
	c := resumeCases()[2]
	m := c.model(t, 3)
	cfg := c.fit(3)
	if _, err := m.Fit(context.Background(), data.XOR(c.dt), cfg); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCheckpoint(&buf, m, cfg); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLoadCheckpointErrors checks mismatched models and broken files: every
// problem is reported and the model is unchanged.
func TestLoadCheckpointErrors(t *testing.T) {
	good := trainedCheckpoint(t)
	c := resumeCases()[2]
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}

	// A model that has trained a little, so that its state is not empty.
	victim := func(mk func() *nn.Sequential) *nn.Sequential {
		m := mk()
		if _, err := m.Fit(context.Background(), data.XOR(m.DType()), c.fit(1)); err != nil {
			t.Fatal(err)
		}
		return m
	}
	compile := func(layers []nn.Layer, opt optim.Optimizer, dt tensor.Dtype, metrics ...string) func() *nn.Sequential {
		return func() *nn.Sequential {
			m := nn.NewSequential(layers...)
			if err := m.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: opt, Metrics: metrics, DType: dt}); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	xorLayers := func() []nn.Layer { return xorModel().Layers() }
	mismatches := []struct {
		name string
		mk   func() *nn.Sequential
		want []string
	}{
		{"optimizer", compile(xorLayers(), optim.NewSGD(0.05), tensor.Float64, "accuracy"), []string{"optimizer: checkpoint adam, the model has sgd"}},
		{"hyperparameters", compile(xorLayers(), optim.NewAdam(0.01), tensor.Float64, "accuracy"), []string{"optimizer settings", `"LR":0.05`, `"LR":0.01`}},
		{"metrics", compile(xorLayers(), optim.NewAdam(0.05), tensor.Float64), []string{"metrics: checkpoint [accuracy], now []"}},
		{"dtype", compile(xorLayers(), optim.NewAdam(0.05), tensor.Float32, "accuracy"), []string{"the checkpoint is float64, the model is float32", "is F64, the model is float32"}},
		{"architecture", compile([]nn.Layer{&nn.Dense{Units: 8, InputDim: 2}, &nn.Activation{Fn: "relu"}, &nn.Dense{Units: 1}, &nn.Activation{Fn: "sigmoid"}}, optim.NewAdam(0.05), tensor.Float64, "accuracy"),
			[]string{"layer 1 (dense_1): units: the checkpoint 10, the model 8", `layer 2 (activation_1): activation: the checkpoint "tanh", the model "relu"`,
				"dense_1/kernel:0 has shape [2 10]", "optimizer tensor optimizer/dense_1/kernel/exp_avg has shape"}},
	}
	for _, mc := range mismatches {
		t.Run(mc.name, func(t *testing.T) {
			m := victim(mc.mk)
			before := snapshotModel(t, m)
			_, err := LoadCheckpoint(path, m)
			if !errors.Is(err, nn.ErrMismatch) {
				t.Fatalf("err = %v, want nn.ErrMismatch", err)
			}
			for _, w := range append(mc.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			// Differences, not the two architectures to diff by hand.
			if strings.Contains(err.Error(), "kernel_initializer") {
				t.Errorf("error %q quotes whole layers", err)
			}
			if !before.equal(snapshotModel(t, m)) {
				t.Error("a failed load changed the model")
			}
		})
	}

	// Files that are not checkpoints, or broken ones.
	m := victim(func() *nn.Sequential { return c.model(t, 1) })
	before := snapshotModel(t, m)
	bad := badFiles(t, good)
	var w bytes.Buffer
	if err := WriteWeights(&w, m); err != nil {
		t.Fatal(err)
	}
	bad["weights file"] = w.Bytes()
	w.Reset()
	if err := WriteModel(&w, m); err != nil {
		t.Fatal(err)
	}
	bad["model file"] = w.Bytes()
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, "bad.safetensors")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadCheckpoint(p, m)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
			if !before.equal(snapshotModel(t, m)) {
				t.Error("a failed load changed the model")
			}
		})
	}

	// A wrong nn.FitConfig is reported by CheckFit.
	fresh := c.model(t, 1)
	info, err := LoadCheckpoint(path, fresh)
	if err != nil {
		t.Fatal(err)
	}
	other := c.fit(3)
	other.Batching = data.Stochastic()
	other.Clip = optim.ClipNorm{MaxNorm: 1}
	if err := info.CheckFit(other); !errors.Is(err, nn.ErrMismatch) || !strings.Contains(err.Error(), "batching") || !strings.Contains(err.Error(), "clip") {
		t.Errorf("CheckFit with other batching and clipping: %v", err)
	}
	if _, err := LoadCheckpoint(path, xorModel()); !errors.Is(err, nn.ErrNotCompiled) {
		t.Errorf("uncompiled model: err = %v", err)
	}
}

// TestCheckpointNaN checks that a non-finite optimizer buffer is reported.
func TestCheckpointNaN(t *testing.T) {
	c := resumeCases()[2]
	m := c.model(t, 3)
	cfg := c.fit(2)
	if _, err := m.Fit(context.Background(), data.XOR(c.dt), cfg); err != nil {
		t.Fatal(err)
	}
	st := m.Optimizer().(optim.Stateful).State()
	st.Buffers["dense_2/bias"]["exp_avg"][0] = math.NaN()
	if err := m.Optimizer().(optim.Stateful).SetState(st); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCheckpoint(&buf, m, cfg); err != nil {
		t.Fatal(err)
	}
	fresh := c.model(t, 4)
	before := snapshotModel(t, fresh)
	_, err := ReadCheckpoint(&buf, fresh)
	if !errors.Is(err, nn.ErrNotFinite) || !strings.Contains(err.Error(), "optimizer/dense_2/bias/exp_avg holds 1 non-finite") {
		t.Errorf("err = %v", err)
	}
	if !before.equal(snapshotModel(t, fresh)) {
		t.Error("a failed load changed the model")
	}
}

func FuzzLoadCheckpoint(f *testing.F) {
	good := trainedCheckpoint(f)
	f.Add(good)
	for _, b := range badFiles(f, good) {
		if len(b) < 1<<16 {
			f.Add(b)
		}
	}
	c := resumeCases()[2]
	m := c.model(f, 1)
	f.Fuzz(func(t *testing.T, b []byte) {
		before := snapshotModel(t, m)
		var err error
		alloc := measure(func() { _, err = ReadCheckpoint(bytes.NewReader(b), m) })
		if alloc > allocBudget(len(b)) {
			t.Fatalf("loading %d bytes allocated %d", len(b), alloc)
		}
		if err != nil && !before.equal(snapshotModel(t, m)) {
			t.Fatalf("a failed load changed the model: %v", err)
		}
	})
}

// TestCheckpointKeepsNoiseEstimates checks that the gradient noise scale a
// callback recorded in the epoch records survives a checkpoint.
func TestCheckpointKeepsNoiseEstimates(t *testing.T) {
	xor := data.XOR(tensor.Float64)
	m := compiledXOR(t, tensor.Float64)
	cfg := nn.FitConfig{Epochs: 3, Callbacks: []nn.Callback{noiseRecorder{}}}
	h, err := m.Fit(context.Background(), xor, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if h.Epochs[0].Noise.Probes == 0 {
		t.Fatal("the test callback recorded no noise estimate")
	}
	var buf bytes.Buffer
	if err := WriteCheckpoint(&buf, m, cfg); err != nil {
		t.Fatal(err)
	}
	back := compiledXOR(t, tensor.Float64)
	if _, err := ReadCheckpoint(&buf, back); err != nil {
		t.Fatal(err)
	}
	st, err := back.TrainState()
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range st.History.Epochs {
		if e.Noise != h.Epochs[i].Noise {
			t.Fatalf("epoch %d: noise %+v after the checkpoint, %+v before", i+1, e.Noise, h.Epochs[i].Noise)
		}
	}
}

// noiseRecorder writes a made-up noise estimate into each epoch record, as
// callbacks.GradientNoiseScale does with a real one.
type noiseRecorder struct{}

func (noiseRecorder) OnEpochEnd(_ *nn.Training, rec *nn.EpochRecord) error {
	rec.Noise = nn.GradientNoise{Small: 1, Big: 3, Probes: 2, GradSq: 0.25 * float64(rec.Epoch), TraceCov: 1.5, Simple: 6 / float64(rec.Epoch)}
	return nil
}
