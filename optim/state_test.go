package optim_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
)

// statefulConfigs covers every buffer of every optimizer.
var statefulConfigs = []struct {
	name string
	make func() optim.Optimizer
}{
	{"sgd", func() optim.Optimizer { return optim.NewSGD(0.1) }},
	{"sgd/momentum", func() optim.Optimizer { o := optim.NewSGD(0.1); o.Momentum, o.Dampening = 0.9, 0.1; return o }},
	{"sgd/keras_nesterov", func() optim.Optimizer {
		o := optim.NewSGD(0.1)
		o.Momentum, o.Nesterov, o.Convention = 0.9, true, optim.Keras
		return o
	}},
	{"adam/amsgrad", func() optim.Optimizer { o := optim.NewAdam(0.01); o.AMSGrad = true; return o }},
	{"adam/keras", func() optim.Optimizer { o := optim.NewAdam(0.01); o.Convention = optim.Keras; return o }},
	{"adamw", func() optim.Optimizer { return optim.NewAdamW(0.01) }},
	{"rmsprop/centered_momentum", func() optim.Optimizer {
		o := optim.NewRMSprop(0.01)
		o.Centered, o.Momentum = true, 0.5
		return o
	}},
	{"rmsprop/keras_momentum", func() optim.Optimizer {
		o := optim.NewRMSprop(0.01)
		o.Momentum, o.Convention = 0.5, optim.Keras
		return o
	}},
	{"adagrad", func() optim.Optimizer {
		o := optim.NewAdagrad(0.1)
		o.LRDecay, o.InitialAccumulatorValue = 0.1, 0.1
		return o
	}},
	{"adadelta", func() optim.Optimizer { return optim.NewAdadelta(1) }},
}

// wave returns a deterministic gradient for step k.
func wave(k, n int, phase float64) []float64 {
	g := make([]float64, n)
	for i := range g {
		g[i] = 0.5 * math.Sin(1.3*float64(k)+float64(i)+phase)
	}
	return g
}

func runSteps(t *testing.T, o optim.Optimizer, ps []*graph.Param, from, to int) {
	t.Helper()
	for k := from; k < to; k++ {
		setGrads(t, ps, wave(k, ps[0].Size(), 0), wave(k, ps[1].Size(), 1))
		if err := o.Step(0.1*math.Pow(0.9, float64(k)), ps); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStateRestore checks that a state saved after 3 steps, sent through
// JSON and restored into a fresh optimizer continues bit-identically.
func TestStateRestore(t *testing.T) {
	for _, c := range statefulConfigs {
		for _, dt := range dtypes {
			t.Run(c.name+"/"+dt.String(), func(t *testing.T) {
				a := c.make()
				pa := newParams(t, dt, []float64{1, -2, 0.5}, []float64{0.1, 0.2})
				runSteps(t, a, pa, 0, 3)
				st := a.(optim.Stateful).State()
				if st.Step != 3 || st.Name != a.Name() {
					t.Fatalf("State() has name %q step %d, want %q 3", st.Name, st.Step, a.Name())
				}
				raw, err := json.Marshal(st)
				if err != nil {
					t.Fatal(err)
				}
				var back optim.State
				if err := json.Unmarshal(raw, &back); err != nil {
					t.Fatal(err)
				}
				b := c.make()
				if err := b.(optim.Stateful).SetState(back); err != nil {
					t.Fatal(err)
				}
				pb := newParams(t, dt, pa[0].Float64s(), pa[1].Float64s())
				runSteps(t, a, pa, 3, 7)
				runSteps(t, b, pb, 3, 7)
				for i := range pa {
					ga, gb := pa[i].Float64s(), pb[i].Float64s()
					for j := range ga {
						if ga[j] != gb[j] {
							t.Errorf("%s[%d]: continued %v, restored %v", pa[i].Name(), j, ga[j], gb[j])
						}
					}
				}
				// State is a deep copy.
				for _, bufs := range st.Buffers {
					for _, v := range bufs {
						v[0] = 12345
					}
				}
				if again := a.(optim.Stateful).State(); again.Step != 7 {
					t.Errorf("step %d after 7 steps", again.Step)
				} else {
					for _, bufs := range again.Buffers {
						for name, v := range bufs {
							if v[0] == 12345 {
								t.Errorf("State() shares buffer %s", name)
							}
						}
					}
				}
			})
		}
	}
}

func TestSetStateErrors(t *testing.T) {
	buf := func(m map[string][]float64) map[string]map[string][]float64 {
		return map[string]map[string][]float64{"p0": m}
	}
	cases := []struct {
		name string
		o    optim.Stateful
		st   optim.State
		want string
	}{
		{"wrong optimizer", optim.NewAdam(0.1), optim.State{Name: "sgd"}, `state is for optimizer "sgd"`},
		{"negative step", optim.NewAdam(0.1), optim.State{Name: "adam", Step: -1}, "step -1"},
		{"unknown buffer", optim.NewAdam(0.1), optim.State{Name: "adam", Buffers: buf(map[string][]float64{"exp_avg": {1}, "exp_avg_sq": {1}, "momentum_buffer": {1}})}, `unknown buffer "momentum_buffer" (valid with these settings: exp_avg, exp_avg_sq)`},
		{"amsgrad buffer without amsgrad", optim.NewAdam(0.1), optim.State{Name: "adam", Buffers: buf(map[string][]float64{"exp_avg": {1}, "exp_avg_sq": {1}, "max_exp_avg_sq": {1}})}, `unknown buffer "max_exp_avg_sq"`},
		{"missing buffer", optim.NewAdam(0.1), optim.State{Name: "adam", Buffers: buf(map[string][]float64{"exp_avg": {1}})}, "lacks buffer exp_avg_sq"},
		{"lengths differ", optim.NewAdam(0.1), optim.State{Name: "adam", Buffers: buf(map[string][]float64{"exp_avg": {1, 2}, "exp_avg_sq": {1}})}, "has 1 elements, buffer exp_avg has 2"},
		{"empty buffer", optim.NewAdagrad(0.1), optim.State{Name: "adagrad", Buffers: buf(map[string][]float64{"sum": {}})}, "is empty"},
		{"torch buffer under keras", &optim.SGD{LR: 0.1, Momentum: 0.9, Convention: optim.Keras}, optim.State{Name: "sgd", Buffers: buf(map[string][]float64{"momentum_buffer": {1}})}, `unknown buffer "momentum_buffer" (valid with these settings: velocity)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.o.SetState(c.st)
			if err == nil || !contains(err.Error(), c.want) {
				t.Fatalf("SetState() = %v, want an error mentioning %q", err, c.want)
			}
		})
	}

	// A restored buffer whose length differs from the parameter's fails at
	// the next step, leaving the parameter unchanged.
	o := optim.NewAdagrad(0.1)
	if err := o.SetState(optim.State{Name: "adagrad", Step: 2, Buffers: buf(map[string][]float64{"sum": {1, 2, 3}})}); err != nil {
		t.Fatal(err)
	}
	ps := newParams(t, tensor.Float64, []float64{1, 2})
	setGrads(t, ps, []float64{1, 1})
	if err := o.Step(0.1, ps); !errors.Is(err, graph.ErrShape) {
		t.Errorf("Step with a 3-element state for a 2-element parameter: %v, want ErrShape", err)
	}
	if got := ps[0].Float64s(); got[0] != 1 || got[1] != 2 {
		t.Errorf("parameter changed by a failed step: %v", got)
	}
}
