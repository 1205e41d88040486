package nn

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// The reference conformance test replays PyTorch trajectories (see
// testdata/reference/README or the fixtures' README): every file of the
// folder is one subtest, so the folder can be swapped for another set of
// cases through DESCENT_FIXTURES.

// refTol is the agreement required in float64. Two independent float64
// implementations of these formulas agree to about 1e-15; 1e-9 leaves room
// for different summation orders over a 16-step trajectory while catching
// any formula difference (a wrong epsilon placement or bias correction moves
// the numbers by 1e-6 or more).
const refTol = 1e-9

func referenceDir(t *testing.T) string {
	if dir := os.Getenv("DESCENT_FIXTURES"); dir != "" {
		return dir
	}
	return filepath.Join("testdata", "reference")
}

func referenceFiles(t *testing.T, sub string) []string {
	t.Helper()
	dir := filepath.Join(referenceDir(t), sub)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no reference files in %s", dir)
	}
	sort.Strings(files)
	return files
}

type refLayer struct {
	Name          string   `json:"name"`
	Units         int      `json:"units"`
	Activation    string   `json:"activation"`
	NegativeSlope *float64 `json:"negative_slope"`
	// Keras L1L2 penalties on the kernel and bias, in the cases written by
	// testdata/reference/gen_regularizers.py.
	KernelRegularizer *L1L2 `json:"kernel_regularizer"`
	BiasRegularizer   *L1L2 `json:"bias_regularizer"`
}

type refCase struct {
	Name  string `json:"name"`
	Model struct {
		InputDim int        `json:"input_dim"`
		Layers   []refLayer `json:"layers"`
	} `json:"model"`
	Loss string `json:"loss"`
	Data struct {
		X [][]float64 `json:"X"`
		Y [][]float64 `json:"Y"`
	} `json:"data"`
	ParamOrder []struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	} `json:"param_order"`
	InitialParams map[string][]float64 `json:"initial_params"`
	Params        map[string][]float64 `json:"params"` // grad cases
	Optimizer     struct {
		Name        string         `json:"name"`
		Hyperparams map[string]any `json:"hyperparams"`
	} `json:"optimizer"`
	Scheduler *struct {
		Name     string         `json:"name"`
		Interval string         `json:"interval"`
		Params   map[string]any `json:"params"`
	} `json:"scheduler"`
	Clip *struct {
		Type      string  `json:"type"`
		MaxNorm   float64 `json:"max_norm"`
		NormType  float64 `json:"norm_type"`
		ClipValue float64 `json:"clip_value"`
	} `json:"clip"`
	Batching struct {
		Mode          string `json:"mode"`
		BatchSize     int    `json:"batch_size"`
		StepsPerEpoch int    `json:"steps_per_epoch"`
		NumSteps      int    `json:"num_steps"`
		NumEpochs     int    `json:"num_epochs"`
	} `json:"batching"`
	Steps []struct {
		Step     int                  `json:"step"`
		Epoch    int                  `json:"epoch"`
		Batch    []int                `json:"batch"`
		LR       float64              `json:"lr"`
		Loss     float64              `json:"loss"`
		Grads    map[string][]float64 `json:"grads"`
		GradNorm *float64             `json:"grad_norm"`
		Params   map[string][]float64 `json:"params"`
	} `json:"steps"`
	Expected struct {
		Loss    float64              `json:"loss"`
		Outputs [][]float64          `json:"outputs"`
		Grads   map[string][]float64 `json:"grads"`
	} `json:"expected"`
}

func readCase(t *testing.T, path string) *refCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c refCase
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &c
}

var refLosses = map[string]string{"mse": "mean_squared_error", "binary_crossentropy": "binary_crossentropy", "categorical_crossentropy": "categorical_crossentropy"}

// buildRef builds the case's model in float64 and sets its parameters; it
// returns the model and the fixture's parameter names in model order.
func buildRef(t *testing.T, c *refCase, params map[string][]float64) (*Sequential, []string) {
	t.Helper()
	m := NewSequential()
	for i, l := range c.Model.Layers {
		d := &Dense{Units: l.Units, Activation: l.Activation}
		if i == 0 {
			d.InputDim = c.Model.InputDim
		}
		if l.NegativeSlope != nil {
			d.Alpha = *l.NegativeSlope
		}
		if l.KernelRegularizer != nil {
			d.KernelRegularizer = *l.KernelRegularizer
		}
		if l.BiasRegularizer != nil {
			d.BiasRegularizer = *l.BiasRegularizer
		}
		if err := m.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Build(BuildConfig{DType: tensor.Float64}); err != nil {
		t.Fatal(err)
	}
	ps := m.Params()
	if len(ps) != len(c.ParamOrder) {
		t.Fatalf("model has %d parameters, fixture %d", len(ps), len(c.ParamOrder))
	}
	names := make([]string, len(ps))
	for i, po := range c.ParamOrder {
		if fmt.Sprint(ps[i].Shape()) != fmt.Sprint(po.Shape) {
			t.Fatalf("parameter %d: model shape %v, fixture %s shape %v", i, ps[i].Shape(), po.Name, po.Shape)
		}
		if err := ps[i].SetFloat64s(params[po.Name]); err != nil {
			t.Fatal(err)
		}
		names[i] = po.Name
	}
	return m, names
}

// near reports whether got is within refTol of want, absolutely for small
// values and relatively for large ones.
func near(got, want float64) bool {
	return math.Abs(got-want) <= refTol*math.Max(1, math.Abs(want))
}

func compareSlices(t *testing.T, what string, got, want []float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst := 0.0
	for i := range got {
		worst = math.Max(worst, math.Abs(got[i]-want[i]))
		if !near(got[i], want[i]) {
			t.Fatalf("%s[%d] = %.17g, want %.17g (|diff| %.3g > %g)", what, i, got[i], want[i], math.Abs(got[i]-want[i]), refTol)
		}
	}
	return worst
}

// refOptimizer builds the case's optimizer through optim.New, the same path
// experiment files take. torch's maximize flag is always false here.
func refOptimizer(t *testing.T, c *refCase) optim.Optimizer {
	hyper := map[string]any{}
	for k, v := range c.Optimizer.Hyperparams {
		if k == "maximize" {
			if v != false {
				t.Fatalf("maximize = %v is not supported", v)
			}
			continue
		}
		hyper[k] = v
	}
	opt, err := optim.New(c.Optimizer.Name, hyper)
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

func refSchedule(t *testing.T, c *refCase) (optim.Schedule, optim.Interval) {
	if c.Scheduler == nil {
		return nil, optim.PerEpoch
	}
	s, err := optim.ScheduleByName(c.Scheduler.Name, c.Scheduler.Params)
	if err != nil {
		t.Fatal(err)
	}
	switch c.Scheduler.Interval {
	case "step":
		return s, optim.PerStep
	case "epoch":
		return s, optim.PerEpoch
	}
	t.Fatalf("unknown scheduler interval %q", c.Scheduler.Interval)
	return nil, 0
}

func refClip(t *testing.T, c *refCase) optim.Clipper {
	if c.Clip == nil {
		return nil
	}
	switch c.Clip.Type {
	case "norm":
		if c.Clip.NormType != 2 {
			t.Fatalf("norm type %v is not supported", c.Clip.NormType)
		}
		return optim.ClipNorm{MaxNorm: c.Clip.MaxNorm}
	case "value":
		return optim.ClipValue{Value: c.Clip.ClipValue}
	}
	t.Fatalf("unknown clip type %q", c.Clip.Type)
	return nil
}

// refCheck compares each step of the trainer with the recorded one.
type refCheck struct {
	t     *testing.T
	c     *refCase
	names []string
	worst map[string]float64
}

func (r *refCheck) record(what string, d float64) { r.worst[what] = math.Max(r.worst[what], d) }

func (r *refCheck) OnGradients(tr *Training, rec StepRecord) error {
	s := r.c.Steps[rec.Step-1]
	if s.Step != rec.Step || s.Epoch != rec.Epoch || rec.Batch != len(s.Batch) {
		r.t.Fatalf("step %d epoch %d batch %d, fixture step %d epoch %d batch %d", rec.Step, rec.Epoch, rec.Batch, s.Step, s.Epoch, len(s.Batch))
	}
	if !near(rec.Loss, s.Loss) {
		r.t.Fatalf("step %d: loss %.17g, want %.17g", rec.Step, rec.Loss, s.Loss)
	}
	r.record("loss", math.Abs(rec.Loss-s.Loss))
	if !near(rec.LR, s.LR) {
		r.t.Fatalf("step %d: lr %.17g, want %.17g", rec.Step, rec.LR, s.LR)
	}
	for i, p := range tr.Params() {
		r.record("grads", compareSlices(r.t, fmt.Sprintf("step %d grad %s", rec.Step, r.names[i]), graph.ReadFloat64s(p.Grad(), nil), s.Grads[r.names[i]]))
	}
	return nil
}

func (r *refCheck) OnStepEnd(tr *Training, rec StepRecord) error {
	s := r.c.Steps[rec.Step-1]
	if s.GradNorm != nil {
		if !near(rec.GradNorm, *s.GradNorm) {
			r.t.Fatalf("step %d: grad norm %.17g, want %.17g", rec.Step, rec.GradNorm, *s.GradNorm)
		}
		r.record("grad_norm", math.Abs(rec.GradNorm-*s.GradNorm))
	}
	for i, p := range tr.Params() {
		r.record("params", compareSlices(r.t, fmt.Sprintf("step %d param %s", rec.Step, r.names[i]), p.Float64s(), s.Params[r.names[i]]))
	}
	return nil
}

func (r *refCheck) OnEpochEnd(*Training, *EpochRecord) error { return nil }

// TestReferenceOptim replays every optimizer trajectory on descent's VM;
// TestReferenceOptimTapeMachine replays them on gorgonia's tape machine.
func TestReferenceOptim(t *testing.T)            { referenceOptim(t, graph.DescentVM) }
func TestReferenceOptimTapeMachine(t *testing.T) { referenceOptim(t, graph.TapeMachine) }

// TestReferenceGrad checks every gradient case on descent's VM;
// TestReferenceGradTapeMachine on gorgonia's tape machine.
func TestReferenceGrad(t *testing.T)            { referenceGrad(t, graph.DescentVM) }
func TestReferenceGradTapeMachine(t *testing.T) { referenceGrad(t, graph.TapeMachine) }

func referenceOptim(t *testing.T, machine graph.Machine) {
	for _, path := range referenceFiles(t, "optim") {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			c := readCase(t, path)
			m, names := buildRef(t, c, c.InitialParams)
			m.Machine = machine
			lossName, ok := refLosses[c.Loss]
			if !ok {
				t.Fatalf("unknown loss %q", c.Loss)
			}
			if err := m.Compile(CompileConfig{Loss: lossName, Optimizer: refOptimizer(t, c)}); err != nil {
				t.Fatal(err)
			}
			train, err := data.FromRows(c.Data.X, c.Data.Y, tensor.Float64)
			if err != nil {
				t.Fatal(err)
			}
			var replay data.Replay
			for _, s := range c.Steps {
				for len(replay) < s.Epoch {
					replay = append(replay, nil)
				}
				replay[s.Epoch-1] = append(replay[s.Epoch-1], s.Batch)
			}
			sched, interval := refSchedule(t, c)
			check := &refCheck{t: t, c: c, names: names, worst: map[string]float64{}}
			hist, err := m.Fit(context.Background(), train, FitConfig{
				Epochs:           c.Batching.NumEpochs,
				MaxSteps:         int64(c.Batching.NumSteps),
				Batching:         replay,
				Schedule:         sched,
				ScheduleInterval: interval,
				Clip:             refClip(t, c),
				Callbacks:        []Callback{check},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(hist.Steps) != len(c.Steps) {
				t.Fatalf("ran %d steps, fixture has %d", len(hist.Steps), len(c.Steps))
			}
			t.Logf("%s: largest deviations %v", c.Optimizer.Name, check.worst)
		})
	}
}

func referenceGrad(t *testing.T, machine graph.Machine) {
	for _, path := range referenceFiles(t, "grad") {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			c := readCase(t, path)
			m, names := buildRef(t, c, c.Params)
			m.Machine = machine
			if err := m.Compile(CompileConfig{Loss: refLosses[c.Loss], Optimizer: optim.NewSGD(0.1)}); err != nil {
				t.Fatal(err)
			}
			n := len(c.Data.X)
			p, err := m.program(progTrain, n)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := data.FromRows(c.Data.X, c.Data.Y, tensor.Float64)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Feed("x", ds.X); err != nil {
				t.Fatal(err)
			}
			if err := p.Feed("y", ds.Y); err != nil {
				t.Fatal(err)
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			if !near(p.Loss(), c.Expected.Loss) {
				t.Fatalf("loss %.17g, want %.17g", p.Loss(), c.Expected.Loss)
			}
			out, err := p.Output("pred")
			if err != nil {
				t.Fatal(err)
			}
			var want []float64
			for _, r := range c.Expected.Outputs {
				want = append(want, r...)
			}
			compareSlices(t, "outputs", graph.ReadFloat64s(out, nil), want)
			for i, prm := range m.Params() {
				compareSlices(t, "grad "+names[i], graph.ReadFloat64s(prm.Grad(), nil), c.Expected.Grads[names[i]])
			}
			// The same gradients against finite differences.
			if _, err := p.CheckGradients(graph.GradCheck{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
