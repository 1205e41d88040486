package optim_test

import (
	"errors"
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
)

// Single steps computed by hand. Every case starts from θ = th0 and applies
// one gradient per entry of steps at the matching rate; want gives the
// expected θ element-wise from the scalar formulas written out below, which
// follow each rule's doc comment, not the package's code.
var th0 = []float64{1, -2, 0.3}

type stepCase struct {
	name  string
	opt   func() optim.Optimizer
	lrs   []float64
	steps [][]float64 // one gradient per step
	want  func(th float64, g [][]float64, i int) float64
}

func sq(x float64) float64 { return x * x }

var stepCases = []stepCase{
	{
		name: "sgd", opt: func() optim.Optimizer { return optim.NewSGD(0.1) },
		lrs: []float64{0.1}, steps: [][]float64{{0.5, -0.25, 0}},
		want: func(th float64, g [][]float64, i int) float64 { return th - 0.1*g[0][i] },
	},
	{
		name: "sgd/weight_decay", opt: func() optim.Optimizer { o := optim.NewSGD(0.1); o.WeightDecay = 0.1; return o },
		lrs: []float64{0.1}, steps: [][]float64{{0.5, -0.25, 0}},
		want: func(th float64, g [][]float64, i int) float64 { return th - 0.1*(g[0][i]+0.1*th) },
	},
	{
		// buf = g (no dampening on the first step), then 0.9·g + 0.5·g.
		name: "sgd/momentum_dampening", opt: func() optim.Optimizer { o := optim.NewSGD(0.1); o.Momentum, o.Dampening = 0.9, 0.5; return o },
		lrs: []float64{0.1, 0.1}, steps: [][]float64{{0.5, -0.25, 0.1}, {0.5, -0.25, 0.1}},
		want: func(th float64, g [][]float64, i int) float64 { return th - 0.1*g[0][i] - 0.1*1.4*g[0][i] },
	},
	{
		// buf1 = g, d1 = g + 0.9·g; buf2 = 1.9·g, d2 = g + 0.9·1.9·g.
		name: "sgd/nesterov", opt: func() optim.Optimizer { o := optim.NewSGD(0.1); o.Momentum, o.Nesterov = 0.9, true; return o },
		lrs: []float64{0.1, 0.1}, steps: [][]float64{{0.5, -0.25, 0.1}, {0.5, -0.25, 0.1}},
		want: func(th float64, g [][]float64, i int) float64 { return th - 0.1*1.9*g[0][i] - 0.1*2.71*g[0][i] },
	},
	{
		// torch keeps lr out of the buffer: θ2 = θ − 0.1·g − 0.05·1.9·g.
		name: "sgd/momentum_lr_change", opt: func() optim.Optimizer { o := optim.NewSGD(0.1); o.Momentum = 0.9; return o },
		lrs: []float64{0.1, 0.05}, steps: [][]float64{{0.5, -0.25, 0.1}, {0.5, -0.25, 0.1}},
		want: func(th float64, g [][]float64, i int) float64 { return th - 0.1*g[0][i] - 0.05*1.9*g[0][i] },
	},
	{
		// Keras: v1 = −0.1·g; v2 = 0.9·v1 − 0.05·g = −0.14·g.
		name: "sgd/keras_momentum_lr_change", opt: func() optim.Optimizer {
			o := optim.NewSGD(0.1)
			o.Momentum, o.Convention = 0.9, optim.Keras
			return o
		},
		lrs: []float64{0.1, 0.05}, steps: [][]float64{{0.5, -0.25, 0.1}, {0.5, -0.25, 0.1}},
		want: func(th float64, g [][]float64, i int) float64 { return th - 0.1*g[0][i] - 0.14*g[0][i] },
	},
	{
		// Keras Nesterov: θ += μ·v − lr·g; v1 = −0.1g, v2 = −0.19g.
		name: "sgd/keras_nesterov", opt: func() optim.Optimizer {
			o := optim.NewSGD(0.1)
			o.Momentum, o.Nesterov, o.Convention = 0.9, true, optim.Keras
			return o
		},
		lrs: []float64{0.1, 0.1}, steps: [][]float64{{0.5, -0.25, 0.1}, {0.5, -0.25, 0.1}},
		want: func(th float64, g [][]float64, i int) float64 {
			return th + (0.9*-0.1-0.1)*g[0][i] + (0.9*-0.19-0.1)*g[0][i]
		},
	},
	{
		// Keras decoupled decay: θ·(1 − 0.1·0.1) first, then −lr·g.
		name: "sgd/keras_weight_decay", opt: func() optim.Optimizer {
			o := optim.NewSGD(0.1)
			o.WeightDecay, o.Convention = 0.1, optim.Keras
			return o
		},
		lrs: []float64{0.1}, steps: [][]float64{{0.5, -0.25, 0}},
		want: func(th float64, g [][]float64, i int) float64 { return th*0.99 - 0.1*g[0][i] },
	},
	{
		// m = 0.1g, v = 0.001g²: the bias-corrected step is lr·g/(|g| + ε).
		name: "adam", opt: func() optim.Optimizer { o := optim.NewAdam(0.01); o.Eps = 1e-3; return o },
		lrs: []float64{0.01}, steps: [][]float64{{0.5, -0.25, 0}},
		want: func(th float64, g [][]float64, i int) float64 { return th - 0.01*g[0][i]/(math.Abs(g[0][i])+1e-3) },
	},
	{
		// epsilon hat: lr_t·0.1g/(sqrt(0.001)|g| + ε) = lr·g/(|g| + ε/sqrt(0.001)).
		name: "adam/keras", opt: func() optim.Optimizer {
			o := optim.NewAdam(0.01)
			o.Eps, o.Convention = 1e-3, optim.Keras
			return o
		},
		lrs: []float64{0.01}, steps: [][]float64{{0.5, -0.25, 0}},
		want: func(th float64, g [][]float64, i int) float64 {
			return th - 0.01*g[0][i]/(math.Abs(g[0][i])+1e-3/math.Sqrt(0.001))
		},
	},
	{
		name: "adam/weight_decay", opt: func() optim.Optimizer { o := optim.NewAdam(0.01); o.WeightDecay = 0.5; return o },
		lrs: []float64{0.01}, steps: [][]float64{{0.5, -0.25, 0}},
		want: func(th float64, g [][]float64, i int) float64 {
			d := g[0][i] + 0.5*th
			return th - 0.01*d/(math.Abs(d)+1e-8)
		},
	},
	{
		// Two steps with bias correction written out.
		name: "adam/two_steps", opt: func() optim.Optimizer { return optim.NewAdam(0.02) },
		lrs: []float64{0.02, 0.02}, steps: [][]float64{{0.5, -0.25, 0.1}, {-0.1, 0.3, 0.1}},
		want: func(th float64, g [][]float64, i int) float64 {
			th1 := th - 0.02*g[0][i]/(math.Abs(g[0][i])+1e-8)
			m := 0.9*0.1*g[0][i] + 0.1*g[1][i]
			v := 0.999*0.001*sq(g[0][i]) + 0.001*sq(g[1][i])
			return th1 - 0.02/(1-0.81)*m/(math.Sqrt(v)/math.Sqrt(1-0.998001)+1e-8)
		},
	},
	{
		// The second gradient is 0, so v shrinks and v̂ keeps v1 = 0.001g².
		name: "adam/amsgrad", opt: func() optim.Optimizer { o := optim.NewAdam(0.01); o.AMSGrad = true; return o },
		lrs: []float64{0.01, 0.01}, steps: [][]float64{{0.5, -0.25, 0.1}, {0, 0, 0}},
		want: func(th float64, g [][]float64, i int) float64 {
			th1 := th - 0.01*g[0][i]/(math.Abs(g[0][i])+1e-8)
			m := 0.09 * g[0][i]
			return th1 - 0.01/(1-0.81)*m/(math.Sqrt(0.001*sq(g[0][i]))/math.Sqrt(1-0.998001)+1e-8)
		},
	},
	{
		name: "adamw", opt: func() optim.Optimizer { o := optim.NewAdamW(0.01); o.WeightDecay = 0.5; return o },
		lrs: []float64{0.01}, steps: [][]float64{{0.5, -0.25, 0}},
		want: func(th float64, g [][]float64, i int) float64 {
			return th*(1-0.005) - 0.01*g[0][i]/(math.Abs(g[0][i])+1e-8)
		},
	},
	{
		name: "adamw/keras", opt: func() optim.Optimizer {
			o := optim.NewAdamW(0.01)
			o.WeightDecay, o.Eps, o.Convention = 0.5, 1e-3, optim.Keras
			return o
		},
		lrs: []float64{0.01}, steps: [][]float64{{0.5, -0.25, 0}},
		want: func(th float64, g [][]float64, i int) float64 {
			return th*(1-0.005) - 0.01*g[0][i]/(math.Abs(g[0][i])+1e-3/math.Sqrt(0.001))
		},
	},
	{
		// s = 0.01g²: θ − lr·g/(0.1|g| + ε).
		name: "rmsprop", opt: func() optim.Optimizer { return optim.NewRMSprop(0.01) },
		lrs: []float64{0.01}, steps: [][]float64{{0.5, -0.25, 0}},
		want: func(th float64, g [][]float64, i int) float64 { return th - 0.01*g[0][i]/(0.1*math.Abs(g[0][i])+1e-8) },
	},
	{
		// ḡ = 0.01g: d = sqrt(0.01g² − 0.0001g²) + ε.
		name: "rmsprop/centered_wd", opt: func() optim.Optimizer {
			o := optim.NewRMSprop(0.01)
			o.Centered, o.WeightDecay = true, 0.1
			return o
		},
		lrs: []float64{0.01}, steps: [][]float64{{0.5, -0.25, 0.1}},
		want: func(th float64, g [][]float64, i int) float64 {
			d := g[0][i] + 0.1*th
			return th - 0.01*d/(math.Sqrt(0.0099*sq(d))+1e-8)
		},
	},
	{
		// buf starts at 0: buf1 = g/d1, buf2 = 0.5·buf1 + g/d2.
		name: "rmsprop/momentum", opt: func() optim.Optimizer { o := optim.NewRMSprop(0.01); o.Momentum = 0.5; return o },
		lrs: []float64{0.01, 0.01}, steps: [][]float64{{0.5, -0.25, 0.1}, {0.5, -0.25, 0.1}},
		want: func(th float64, g [][]float64, i int) float64 {
			x := g[0][i]
			b1 := x / (0.1*math.Abs(x) + 1e-8)
			b2 := 0.5*b1 + x/(math.Sqrt(0.0199*sq(x))+1e-8)
			return th - 0.01*b1 - 0.01*b2
		},
	},
	{
		// Keras 3: ε inside the sqrt.
		name: "rmsprop/keras", opt: func() optim.Optimizer {
			o := optim.NewRMSprop(0.01)
			o.Eps, o.Convention = 1e-3, optim.Keras
			return o
		},
		lrs: []float64{0.01}, steps: [][]float64{{0.5, -0.25, 0}},
		want: func(th float64, g [][]float64, i int) float64 {
			return th - 0.01*g[0][i]/math.Sqrt(0.01*sq(g[0][i])+1e-3)
		},
	},
	{
		// Keras 3 centered momentum: v = μ·v + lr·g/sqrt(s − ḡ² + ε), lr inside v.
		name: "rmsprop/keras_centered_momentum", opt: func() optim.Optimizer {
			o := optim.NewRMSprop(0.01)
			o.Eps, o.Centered, o.Momentum, o.Convention = 1e-3, true, 0.5, optim.Keras
			return o
		},
		lrs: []float64{0.01, 0.02}, steps: [][]float64{{0.5, -0.25, 0.1}, {0.5, -0.25, 0.1}},
		want: func(th float64, g [][]float64, i int) float64 {
			x := g[0][i]
			v1 := 0.01 * x / math.Sqrt(0.01*sq(x)-sq(0.01*x)+1e-3)
			v2 := 0.5*v1 + 0.02*x/math.Sqrt(0.0199*sq(x)-sq(0.0199*x)+1e-3)
			return th - v1 - v2
		},
	},
	{
		// clr = 0.1 then 0.1/(1 + 0.5); S starts at 0.1.
		name: "adagrad", opt: func() optim.Optimizer {
			o := optim.NewAdagrad(0.1)
			o.LRDecay, o.InitialAccumulatorValue = 0.5, 0.1
			return o
		},
		lrs: []float64{0.1, 0.1}, steps: [][]float64{{0.5, -0.25, 0}, {-0.1, 0.3, 0.2}},
		want: func(th float64, g [][]float64, i int) float64 {
			s1 := 0.1 + sq(g[0][i])
			s2 := s1 + sq(g[1][i])
			return th - 0.1*g[0][i]/(math.Sqrt(s1)+1e-10) - 0.1/1.5*g[1][i]/(math.Sqrt(s2)+1e-10)
		},
	},
	{
		name: "adagrad/weight_decay", opt: func() optim.Optimizer { o := optim.NewAdagrad(0.1); o.WeightDecay = 0.1; return o },
		lrs: []float64{0.1}, steps: [][]float64{{0.5, -0.25, 0}},
		want: func(th float64, g [][]float64, i int) float64 {
			d := g[0][i] + 0.1*th
			return th - 0.1*d/(math.Abs(d)+1e-10)
		},
	},
	{
		// Δ = sqrt(u + ε)/sqrt(s + ε)·g, with u updated after Δ.
		name: "adadelta", opt: func() optim.Optimizer { return optim.NewAdadelta(1) },
		lrs: []float64{1, 0.5}, steps: [][]float64{{0.5, -0.25, 0}, {-0.1, 0.3, 0.2}},
		want: func(th float64, g [][]float64, i int) float64 {
			s1 := 0.1 * sq(g[0][i])
			d1 := math.Sqrt(1e-6) / math.Sqrt(s1+1e-6) * g[0][i]
			u1 := 0.1 * sq(d1)
			s2 := 0.9*s1 + 0.1*sq(g[1][i])
			d2 := math.Sqrt(u1+1e-6) / math.Sqrt(s2+1e-6) * g[1][i]
			return th - d1 - 0.5*d2
		},
	},
	{
		name: "adadelta/weight_decay", opt: func() optim.Optimizer { o := optim.NewAdadelta(1); o.WeightDecay = 0.1; return o },
		lrs: []float64{1}, steps: [][]float64{{0.5, -0.25, 0}},
		want: func(th float64, g [][]float64, i int) float64 {
			d := g[0][i] + 0.1*th
			return th - math.Sqrt(1e-6)/math.Sqrt(0.1*sq(d)+1e-6)*d
		},
	},
}

func TestSingleSteps(t *testing.T) {
	// float64 agrees with the scalar formulas to rounding (a few ulps over
	// two steps); float32 has about 6e-8 relative rounding per operation
	// and a dozen operations per step.
	tols := map[tensor.Dtype]float64{tensor.Float64: 1e-14, tensor.Float32: 2e-6}
	for _, c := range stepCases {
		for _, dt := range dtypes {
			t.Run(c.name+"/"+dt.String(), func(t *testing.T) {
				o := c.opt()
				ps := newParams(t, dt, th0)
				for k, g := range c.steps {
					setGrads(t, ps, g)
					if err := o.Step(c.lrs[k], ps); err != nil {
						t.Fatal(err)
					}
				}
				got := ps[0].Float64s()
				for i, th := range th0 {
					want := c.want(th, c.steps, i)
					if d := math.Abs(got[i] - want); d > tols[dt]*(1+math.Abs(want)) {
						t.Errorf("θ[%d] = %.17g, want %.17g (diff %.3g)", i, got[i], want, d)
					}
				}
			})
		}
	}
}

func TestValidate(t *testing.T) {
	type validator interface{ Validate() error }
	cases := []struct {
		name string
		v    validator
		want string // substring naming the field and value
	}{
		{"sgd zero lr", &optim.SGD{}, "lr 0"},
		{"sgd negative lr", optim.NewSGD(-1), "lr -1"},
		{"sgd NaN lr", optim.NewSGD(math.NaN()), "lr NaN"},
		{"sgd momentum", &optim.SGD{LR: 1, Momentum: -0.1}, "momentum -0.1"},
		{"sgd dampening", &optim.SGD{LR: 1, Dampening: 2}, "dampening 2"},
		{"sgd nesterov", &optim.SGD{LR: 1, Nesterov: true}, "nesterov"},
		{"sgd keras dampening", &optim.SGD{LR: 1, Momentum: 0.9, Dampening: 0.1, Convention: optim.Keras}, "dampening 0.1"},
		{"sgd convention", &optim.SGD{LR: 1, Convention: 7}, "convention 7"},
		{"adam beta1", &optim.Adam{LR: 1, Beta1: 1, Beta2: 0.9, Eps: 1}, "betas[0] 1"},
		{"adam beta2", &optim.Adam{LR: 1, Beta1: 0.9, Beta2: -0.5, Eps: 1}, "betas[1] -0.5"},
		{"adam eps", &optim.Adam{LR: 1, Beta1: 0.9, Beta2: 0.9}, "eps 0"},
		{"adamw weight_decay", &optim.AdamW{LR: 1, Beta1: 0.9, Beta2: 0.9, Eps: 1, WeightDecay: -1}, "weight_decay -1"},
		{"rmsprop alpha", &optim.RMSprop{LR: 1, Alpha: 1.5, Eps: 1}, "alpha 1.5"},
		{"rmsprop momentum", &optim.RMSprop{LR: 1, Alpha: 0.9, Eps: 1, Momentum: -1}, "momentum -1"},
		{"adagrad lr_decay", &optim.Adagrad{LR: 1, Eps: 1, LRDecay: -1}, "lr_decay -1"},
		{"adagrad initial", &optim.Adagrad{LR: 1, Eps: 1, InitialAccumulatorValue: -1}, "initial_accumulator_value -1"},
		{"adadelta rho", &optim.Adadelta{LR: 1, Rho: 1.1, Eps: 1}, "rho 1.1"},
		{"adadelta eps", &optim.Adadelta{LR: 1, Rho: 0.9, Eps: -1}, "eps -1"},
		{"steplr", optim.StepLR{Gamma: 0.5}, "step_size 0"},
		{"multisteplr", optim.MultiStepLR{Milestones: []int{3, -1}, Gamma: 0.5}, "milestones[1] -1"},
		{"exponentiallr", optim.ExponentialLR{Gamma: -1}, "gamma -1"},
		{"cosine", optim.CosineAnnealingLR{EtaMin: 0}, "T_max 0"},
		{"inversetime", optim.InverseTimeDecay{Decay: math.NaN()}, "decay NaN"},
		{"warmup", optim.LinearWarmup{Steps: 3, Start: 2}, "start 2"},
		{"warmup then", optim.LinearWarmup{Steps: 3, Then: optim.StepLR{}}, "step_size 0"},
		{"plateau", &optim.ReduceOnPlateau{Mode: "min", Factor: 1, ThresholdMode: "rel"}, "factor 1"},
		{"plateau mode", &optim.ReduceOnPlateau{Mode: "up", Factor: 0.5, ThresholdMode: "rel"}, `mode "up"`},
		{"clipnorm", optim.ClipNorm{}, "max_norm 0"},
		{"clipvalue", optim.ClipValue{Value: -1}, "clip_value -1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.v.Validate()
			if !errors.Is(err, optim.ErrConfig) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrConfig", err)
			}
			if !contains(err.Error(), c.want) || !contains(err.Error(), "optim: ") {
				t.Errorf("Validate() = %q, want it to mention %q", err, c.want)
			}
		})
	}
	for _, name := range optim.Names() {
		o, err := optim.New(name, map[string]any{"lr": 0.1})
		if err != nil {
			t.Fatal(err)
		}
		if err := o.(interface{ Validate() error }).Validate(); err != nil {
			t.Errorf("%s defaults: %v", name, err)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestStepErrors(t *testing.T) {
	ps := newParams(t, tensor.Float64, []float64{1, 2})
	o := optim.NewAdam(0.1)
	if err := o.Step(-1, ps); !errors.Is(err, optim.ErrConfig) {
		t.Errorf("negative step rate: %v, want ErrConfig", err)
	}
	if err := o.Step(0.1, []*graph.Param{ps[0], ps[0]}); !errors.Is(err, optim.ErrConfig) {
		t.Errorf("duplicate parameter: %v, want ErrConfig", err)
	}
	// A failed step changes nothing: the next one is still the first.
	if err := o.Step(0.1, ps); err != nil {
		t.Fatal(err)
	}
	if s := o.State(); s.Step != 1 {
		t.Errorf("step count %d after one successful step, want 1", s.Step)
	}
	other := newParams(t, tensor.Float64, []float64{1, 2, 3})
	if err := o.Step(0.1, other); !errors.Is(err, graph.ErrShape) {
		t.Errorf("parameter p0 changed size: %v, want ErrShape", err)
	}
	f32 := newParams(t, tensor.Float32, []float64{1, 2})
	if err := o.Step(0.1, f32); !errors.Is(err, graph.ErrDType) {
		t.Errorf("parameter p0 changed dtype: %v, want ErrDType", err)
	}
	bad := &optim.SGD{}
	if err := bad.Step(0.1, ps); !errors.Is(err, optim.ErrConfig) {
		t.Errorf("invalid SGD: %v, want ErrConfig", err)
	}
}

func TestConvention(t *testing.T) {
	for _, c := range []struct {
		in   string
		want optim.Convention
	}{{"torch", optim.Torch}, {"Keras", optim.Keras}, {" pytorch ", optim.Torch}} {
		got, err := optim.ParseConvention(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseConvention(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if got.String() != c.want.String() {
			t.Errorf("String() = %q", got.String())
		}
	}
	if _, err := optim.ParseConvention("caffe"); !errors.Is(err, optim.ErrConfig) {
		t.Errorf("ParseConvention(caffe) = %v, want ErrConfig", err)
	}
}
