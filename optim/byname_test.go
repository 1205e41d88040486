package optim_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
)

func TestNew(t *testing.T) {
	cases := []struct {
		name  string
		hyper map[string]any
		want  optim.Optimizer
	}{
		{"SGD", map[string]any{"lr": 0.1, "momentum": 0.9, "nesterov": true, "maximize": false}, &optim.SGD{LR: 0.1, Momentum: 0.9, Nesterov: true}},
		{"sgd", map[string]any{"lr": 1, "Weight_Decay": json.Number("0.5"), "convention": "keras"}, &optim.SGD{LR: 1, WeightDecay: 0.5, Convention: optim.Keras}},
		{"adam", nil, &optim.Adam{LR: 0.001, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}},
		{"Adam", map[string]any{"betas": []any{0.8, json.Number("0.95")}, "eps": 1e-6, "amsgrad": true}, &optim.Adam{LR: 0.001, Beta1: 0.8, Beta2: 0.95, Eps: 1e-6, AMSGrad: true}},
		{"adamw", map[string]any{"betas": [2]float64{0.5, 0.6}}, &optim.AdamW{LR: 0.001, Beta1: 0.5, Beta2: 0.6, Eps: 1e-8, WeightDecay: 0.01}},
		{"rmsprop", map[string]any{"alpha": 0.9, "centered": true, "momentum": int64(1), "convention": optim.Keras}, &optim.RMSprop{LR: 0.01, Alpha: 0.9, Eps: 1e-8, Momentum: 1, Centered: true, Convention: optim.Keras}},
		{"adagrad", map[string]any{"lr_decay": 0.05, "initial_accumulator_value": 0.1}, &optim.Adagrad{LR: 0.01, LRDecay: 0.05, InitialAccumulatorValue: 0.1, Eps: 1e-10}},
		{"ADADELTA", map[string]any{"rho": 0.95, "eps": float32(0.5)}, &optim.Adadelta{LR: 1, Rho: 0.95, Eps: 0.5}},
	}
	for _, c := range cases {
		got, err := optim.New(c.name, c.hyper)
		if err != nil {
			t.Errorf("New(%q, %v): %v", c.name, c.hyper, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("New(%q, %v) = %+v, want %+v", c.name, c.hyper, got, c.want)
		}
	}
	if got := strings.Join(optim.Names(), ","); got != "adadelta,adagrad,adam,adamw,rmsprop,sgd" {
		t.Errorf("Names() = %s", got)
	}
}

func TestNewErrors(t *testing.T) {
	cases := []struct {
		name    string
		hyper   map[string]any
		want    string
		unknown bool // wraps graph.ErrUnknown too
	}{
		{"lbfgs", nil, `unknown optimizer "lbfgs" (valid: adadelta, adagrad, adam, adamw, rmsprop, sgd)`, true},
		{"sgd", nil, "sgd: lr is required", false},
		{"adam", map[string]any{"momentum": 0.9}, `adam: unknown hyperparameter "momentum" (valid: amsgrad, betas, convention, eps, lr, maximize, weight_decay)`, true},
		{"adagrad", map[string]any{"convention": "keras"}, `unknown hyperparameter "convention"`, true},
		{"adam", map[string]any{"lr": "fast"}, "adam: lr: want a number, got string fast", false},
		{"adam", map[string]any{"lr": json.Number("1e")}, `want a number, got "1e"`, false},
		{"adam", map[string]any{"betas": []any{0.9}}, "betas: want two numbers, got 1", false},
		{"adam", map[string]any{"betas": []any{0.9, "x"}}, "betas[1]: want a number", false},
		{"adam", map[string]any{"betas": []any{0.9, 1.0}}, "betas[1] 1 must be in [0, 1)", false},
		{"adam", map[string]any{"amsgrad": 1}, "amsgrad: want true or false", false},
		{"adam", map[string]any{"maximize": true}, "maximize=true is not supported", false},
		{"adam", map[string]any{"lr": 0.1, "LR": 0.2}, "given twice", false},
		{"rmsprop", map[string]any{"convention": "caffe"}, `unknown convention "caffe"`, false},
		{"sgd", map[string]any{"lr": 0.1, "nesterov": true}, "nesterov needs momentum > 0", false},
		{"adadelta", map[string]any{"rho": 2}, "rho 2 must be in [0, 1]", false},
	}
	for _, c := range cases {
		_, err := optim.New(c.name, c.hyper)
		if !errors.Is(err, optim.ErrConfig) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "optim: ") {
			t.Errorf("New(%q, %v) = %v, want an ErrConfig error mentioning %q", c.name, c.hyper, err, c.want)
		}
		if c.unknown && !errors.Is(err, graph.ErrUnknown) {
			t.Errorf("New(%q, %v) = %v, want it to wrap graph.ErrUnknown", c.name, c.hyper, err)
		}
	}
}

func TestScheduleByName(t *testing.T) {
	cases := []struct {
		name   string
		params map[string]any
		want   optim.Schedule
	}{
		{"StepLR", map[string]any{"step_size": 2.0, "gamma": 0.5}, optim.StepLR{StepSize: 2, Gamma: 0.5}},
		{"steplr", map[string]any{"step_size": 3}, optim.StepLR{StepSize: 3, Gamma: 0.1}},
		{"MultiStepLR", map[string]any{"milestones": []any{1.0, json.Number("2")}, "gamma": 0.3}, optim.MultiStepLR{Milestones: []int{1, 2}, Gamma: 0.3}},
		{"ExponentialLR", map[string]any{"gamma": 0.9}, optim.ExponentialLR{Gamma: 0.9}},
		{"CosineAnnealingLR", map[string]any{"T_max": 10, "eta_min": 0.01}, optim.CosineAnnealingLR{TMax: 10, EtaMin: 0.01}},
		{"inversetimedecay", map[string]any{"decay": 1e-3}, optim.InverseTimeDecay{Decay: 1e-3}},
		{"constant", nil, optim.Constant{}},
		{"linearwarmup", map[string]any{"steps": 5, "start": 0.1, "then": map[string]any{"name": "exponentiallr", "params": map[string]any{"gamma": 0.5}}},
			optim.LinearWarmup{Steps: 5, Start: 0.1, Then: optim.ExponentialLR{Gamma: 0.5}}},
	}
	for _, c := range cases {
		got, err := optim.ScheduleByName(c.name, c.params)
		if err != nil {
			t.Errorf("ScheduleByName(%q, %v): %v", c.name, c.params, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ScheduleByName(%q, %v) = %#v, want %#v", c.name, c.params, got, c.want)
		}
	}
	errs := []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"onecycle", nil, `unknown schedule "onecycle" (valid: constant, cosineannealinglr,`},
		{"steplr", nil, "steplr: step_size is required"},
		{"steplr", map[string]any{"step_size": 1.5}, "step_size: want an integer, got 1.5"},
		{"steplr", map[string]any{"step_size": 0}, "step_size 0 must be positive"},
		{"exponentiallr", map[string]any{"gamma": 0.5, "step_size": 1}, `unknown hyperparameter "step_size" (valid: gamma)`},
		{"multisteplr", map[string]any{"milestones": "1,2"}, "want a list of integers"},
		{"ReduceLROnPlateau", nil, "use ReduceOnPlateau"},
		{"linearwarmup", map[string]any{"steps": 2, "then": map[string]any{"name": "nope"}}, `unknown schedule "nope"`},
	}
	for _, c := range errs {
		_, err := optim.ScheduleByName(c.name, c.params)
		if !errors.Is(err, optim.ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ScheduleByName(%q, %v) = %v, want an ErrConfig error mentioning %q", c.name, c.params, err, c.want)
		}
	}
}
