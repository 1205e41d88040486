package optim_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
)

// referenceCase is the part of an optim fixture (see the fixtures README)
// that the optimizer needs: the network itself is not run here, the
// recorded raw gradients are replayed instead.
type referenceCase struct {
	Name       string `json:"name"`
	ParamOrder []struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	} `json:"param_order"`
	InitialParams map[string][]float64 `json:"initial_params"`
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
		StepsPerEpoch int `json:"steps_per_epoch"`
	} `json:"batching"`
	Steps []struct {
		Step     int                  `json:"step"`
		LR       float64              `json:"lr"`
		Grads    map[string][]float64 `json:"grads"`
		GradNorm *float64             `json:"grad_norm"`
		Params   map[string][]float64 `json:"params"`
	} `json:"steps"`
}

// referenceDir returns the folder of optim fixtures: $DESCENT_FIXTURES/optim
// when the variable is set, else ../nn/testdata/reference/optim, else the
// shared public fixtures; "" when none exists.
func referenceDir(t *testing.T) string {
	if env := os.Getenv("DESCENT_FIXTURES"); env != "" {
		dir := filepath.Join(env, "optim")
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("DESCENT_FIXTURES is set but %s is missing: %v", dir, err)
		}
		return dir
	}
	for _, dir := range []string{filepath.Join("..", "nn", "testdata", "reference", "optim"), "/work/shared/fixtures/public/optim"} {
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
	}
	t.Skip("no optim fixtures: set DESCENT_FIXTURES, or provide ../nn/testdata/reference/optim or /work/shared/fixtures/public/optim")
	return ""
}

// TestReferenceTrajectories replays every PyTorch trajectory of the fixture
// folder through clipping, the schedule and the optimizer, from the recorded
// raw gradients, and compares the parameters after every step.
func TestReferenceTrajectories(t *testing.T) {
	dir := referenceDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no *.json fixtures in %s", dir)
	}
	worst := map[string]float64{}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			opt, dev := runReference(t, file)
			worst[opt] = max(worst[opt], dev)
		})
	}
	names := make([]string, 0, len(worst))
	for n := range worst {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t.Logf("%-9s largest deviation |got-want|/(1+|want|) = %.3g", n, worst[n])
	}
}

// Tolerances. Parameters: two float64 implementations of the same formulas
// agree to about 1e-15 (README); 1e-9 absolute plus relative leaves room
// for the order of operations and pow/sqrt rounding over 24 steps while
// still catching any wrong term. Rates and norms are compared more tightly
// because they involve no trajectory: closed forms against torch's
// recursion differ by at most 4e-16 relative (README), and the norm is a
// single sum.
const (
	paramTol = 1e-9
	lrTol    = 1e-13
	normTol  = 1e-12
)

// runReference replays one fixture and returns its optimizer's name and the
// largest deviation seen.
func runReference(t *testing.T, file string) (string, float64) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c referenceCase
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	params := make([]*graph.Param, len(c.ParamOrder))
	for i, po := range c.ParamOrder {
		p, err := graph.NewParam(po.Name, tensor.Float64, po.Shape...)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.SetFloat64s(c.InitialParams[po.Name]); err != nil {
			t.Fatal(err)
		}
		params[i] = p
	}
	opt, err := optim.New(c.Optimizer.Name, c.Optimizer.Hyperparams)
	if err != nil {
		t.Fatalf("New(%q, %v): %v", c.Optimizer.Name, c.Optimizer.Hyperparams, err)
	}
	var sched optim.Schedule = optim.Constant{}
	interval := optim.PerStep
	if c.Scheduler != nil {
		sched, err = optim.ScheduleByName(c.Scheduler.Name, c.Scheduler.Params)
		if err != nil {
			t.Fatalf("ScheduleByName(%q, %v): %v", c.Scheduler.Name, c.Scheduler.Params, err)
		}
		if c.Scheduler.Interval == "epoch" {
			interval = optim.PerEpoch
		}
	}
	var clip optim.Clipper
	if c.Clip != nil {
		switch c.Clip.Type {
		case "norm":
			if c.Clip.NormType != 2 {
				t.Fatalf("norm_type %v: only 2 is supported", c.Clip.NormType)
			}
			clip = optim.ClipNorm{MaxNorm: c.Clip.MaxNorm}
		case "value":
			clip = optim.ClipValue{Value: c.Clip.ClipValue}
		default:
			t.Fatalf("unknown clip type %q", c.Clip.Type)
		}
	}
	spe := max(c.Batching.StepsPerEpoch, 1)
	worst := 0.0
	for k, st := range c.Steps {
		for _, p := range params {
			if err := graph.WriteFloat64s(p.Grad(), st.Grads[p.Name()]); err != nil {
				t.Fatalf("step %d: grads of %s: %v", st.Step, p.Name(), err)
			}
		}
		if clip != nil {
			n, err := clip.Clip(params)
			if err != nil {
				t.Fatalf("step %d: clip: %v", st.Step, err)
			}
			if st.GradNorm != nil && math.Abs(n-*st.GradNorm) > normTol*(1+*st.GradNorm) {
				t.Errorf("step %d: grad norm %.17g, want %.17g", st.Step, n, *st.GradNorm)
			}
		}
		e := k
		if interval == optim.PerEpoch {
			e = k / spe
		}
		lr := sched.Rate(opt.LearningRate(), e)
		if math.Abs(lr-st.LR) > lrTol*math.Abs(st.LR) {
			t.Errorf("step %d: lr %.17g, want %.17g", st.Step, lr, st.LR)
		}
		if err := opt.Step(lr, params); err != nil {
			t.Fatalf("step %d: %v", st.Step, err)
		}
		for _, p := range params {
			got, want := p.Float64s(), st.Params[p.Name()]
			if len(got) != len(want) {
				t.Fatalf("step %d: %s has %d values, want %d", st.Step, p.Name(), len(got), len(want))
			}
			for i := range got {
				d := math.Abs(got[i]-want[i]) / (1 + math.Abs(want[i]))
				worst = max(worst, d)
				if d > paramTol {
					t.Errorf("step %d: %s[%d] = %.17g, want %.17g", st.Step, p.Name(), i, got[i], want[i])
				}
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	return c.Optimizer.Name, worst
}
