package optim_test

import (
	"math"
	"testing"

	"github.com/descentlab/descent/optim"
)

func TestScheduleTables(t *testing.T) {
	cos := func(t, tmax, min, base float64) float64 { return min + (base-min)*(1+math.Cos(math.Pi*t/tmax))/2 }
	cases := []struct {
		name string
		s    optim.Schedule
		base float64
		want []float64 // Rate(base, 0..len-1)
	}{
		{"constant", optim.Constant{}, 0.1, []float64{0.1, 0.1, 0.1}},
		{"steplr", optim.StepLR{StepSize: 2, Gamma: 0.5}, 0.1, []float64{0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125}},
		{"multisteplr", optim.MultiStepLR{Milestones: []int{3, 1, 3}, Gamma: 0.1}, 1, []float64{1, 0.1, 0.1, 0.001, 0.001}},
		{"exponentiallr", optim.ExponentialLR{Gamma: 0.9}, 0.05, []float64{0.05, 0.045, 0.0405, 0.03645}},
		{"cosine", optim.CosineAnnealingLR{TMax: 4, EtaMin: 0.01}, 0.2, []float64{0.2, cos(1, 4, 0.01, 0.2), 0.105, cos(3, 4, 0.01, 0.2), 0.01, cos(5, 4, 0.01, 0.2)}},
		{"inversetime", optim.InverseTimeDecay{Decay: 0.5}, 0.1, []float64{0.1, 0.1 / 1.5, 0.05, 0.04}},
		{"warmup from 0", optim.LinearWarmup{Steps: 4}, 0.1, []float64{0, 0.025, 0.05, 0.075, 0.1, 0.1}},
		{"warmup then step", optim.LinearWarmup{Steps: 2, Start: 0.5, Then: optim.StepLR{StepSize: 1, Gamma: 0.5}}, 0.1, []float64{0.05, 0.075, 0.1, 0.05, 0.025}},
	}
	// The closed forms are evaluated with one pow or cos each: a few ulps.
	const tol = 1e-15
	for _, c := range cases {
		for k, want := range c.want {
			if got := c.s.Rate(c.base, k); math.Abs(got-want) > tol*math.Abs(want)+1e-300 {
				t.Errorf("%s: Rate(%v, %d) = %.17g, want %.17g", c.name, c.base, k, got, want)
			}
		}
	}
	// Invalid schedules do not panic.
	for _, s := range []optim.Schedule{optim.StepLR{}, optim.CosineAnnealingLR{}, optim.LinearWarmup{}} {
		if got := s.Rate(0.1, 3); got != 0.1 {
			t.Errorf("%#v.Rate(0.1, 3) = %v, want the base", s, got)
		}
	}
}

func TestReduceOnPlateau(t *testing.T) {
	cases := []struct {
		name    string
		r       *optim.ReduceOnPlateau
		metrics []float64
		scales  []float64 // Scale after each Observe
	}{
		{
			// Patience 1: the second bad epoch in a row reduces.
			name:    "min rel",
			r:       &optim.ReduceOnPlateau{Mode: "min", Factor: 0.5, Patience: 1, Threshold: 0.1, ThresholdMode: "rel"},
			metrics: []float64{1, 0.95, 0.93, 0.5, 0.6, 0.6, 0.6},
			scales:  []float64{1, 1, 0.5, 0.5, 0.5, 0.25, 0.25},
		},
		{
			// Cooldown 2: two epochs after a reduction are ignored.
			name:    "max abs cooldown",
			r:       &optim.ReduceOnPlateau{Mode: "max", Factor: 0.1, Patience: 0, Threshold: 0.5, ThresholdMode: "abs", Cooldown: 2},
			metrics: []float64{1, 1.2, 1, 1, 1, 3},
			scales:  []float64{1, 0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002},
		},
	}
	for _, c := range cases {
		for k, m := range c.metrics {
			if _, err := c.r.Observe(m); err != nil {
				t.Fatal(err)
			}
			if got := c.r.Scale(); got != c.scales[k] {
				t.Errorf("%s: after metric %d (%v) scale %v, want %v", c.name, k, m, got, c.scales[k])
			}
		}
	}
	r := optim.NewReduceOnPlateau()
	r.Patience, r.MinLR = 0, 0.004
	r.Observe(1)
	if changed, _ := r.Observe(2); !changed || r.Apply(0.1) != 0.010000000000000002 {
		t.Errorf("changed %v, Apply(0.1) = %v, want true, 0.01", changed, r.Apply(0.1))
	}
	r.Observe(3)
	if got := r.Apply(0.1); got != 0.004 {
		t.Errorf("Apply(0.1) = %v, want the floor 0.004", got)
	}
	if _, err := (&optim.ReduceOnPlateau{}).Observe(1); err == nil {
		t.Error("Observe on an invalid ReduceOnPlateau succeeded")
	}
}
