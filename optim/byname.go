package optim

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/descentlab/descent/graph"
)

// Names returns the optimizer names New accepts, sorted.
func Names() []string {
	return []string{"adadelta", "adagrad", "adam", "adamw", "rmsprop", "sgd"}
}

// New returns the optimizer called name (case-insensitive; see Names) with
// torch's defaults, overridden by hyper. Hyperparameters use torch's names
// (case-insensitive):
//
//	sgd       lr (required), momentum, dampening, weight_decay, nesterov, convention
//	adam      lr, betas, eps, weight_decay, amsgrad, convention
//	adamw     lr, betas, eps, weight_decay, amsgrad, convention
//	rmsprop   lr, alpha, eps, weight_decay, momentum, centered, convention
//	adagrad   lr, lr_decay, weight_decay, initial_accumulator_value, eps
//	adadelta  lr, rho, eps, weight_decay
//
// Numbers may be any Go integer or float type or a json.Number; betas is a
// [2]float64, a []float64 or a two-element []any of numbers; convention is
// "torch" or "keras" (or a Convention). maximize is accepted when false,
// so torch's hyperparameter dictionaries can be passed as they are. The
// optimizer is validated. Unknown names and hyperparameters are errors
// that list the valid ones.
func New(name string, hyper map[string]any) (Optimizer, error) {
	var (
		o      Optimizer
		fields []field
	)
	key := strings.ToLower(strings.TrimSpace(name))
	switch key {
	case "sgd":
		s := NewSGD(0)
		o, fields = s, []field{
			{"lr", num(&s.LR)}, {"momentum", num(&s.Momentum)}, {"dampening", num(&s.Dampening)},
			{"weight_decay", num(&s.WeightDecay)}, {"nesterov", boolean(&s.Nesterov)}, {"convention", conv(&s.Convention)},
		}
	case "adam":
		s := NewAdam(0.001)
		o, fields = s, []field{
			{"lr", num(&s.LR)}, {"betas", betas(&s.Beta1, &s.Beta2)}, {"eps", num(&s.Eps)},
			{"weight_decay", num(&s.WeightDecay)}, {"amsgrad", boolean(&s.AMSGrad)}, {"convention", conv(&s.Convention)},
		}
	case "adamw":
		s := NewAdamW(0.001)
		o, fields = s, []field{
			{"lr", num(&s.LR)}, {"betas", betas(&s.Beta1, &s.Beta2)}, {"eps", num(&s.Eps)},
			{"weight_decay", num(&s.WeightDecay)}, {"amsgrad", boolean(&s.AMSGrad)}, {"convention", conv(&s.Convention)},
		}
	case "rmsprop":
		s := NewRMSprop(0.01)
		o, fields = s, []field{
			{"lr", num(&s.LR)}, {"alpha", num(&s.Alpha)}, {"eps", num(&s.Eps)}, {"weight_decay", num(&s.WeightDecay)},
			{"momentum", num(&s.Momentum)}, {"centered", boolean(&s.Centered)}, {"convention", conv(&s.Convention)},
		}
	case "adagrad":
		s := NewAdagrad(0.01)
		o, fields = s, []field{
			{"lr", num(&s.LR)}, {"lr_decay", num(&s.LRDecay)}, {"weight_decay", num(&s.WeightDecay)},
			{"initial_accumulator_value", num(&s.InitialAccumulatorValue)}, {"eps", num(&s.Eps)},
		}
	case "adadelta":
		s := NewAdadelta(1.0)
		o, fields = s, []field{
			{"lr", num(&s.LR)}, {"rho", num(&s.Rho)}, {"eps", num(&s.Eps)}, {"weight_decay", num(&s.WeightDecay)},
		}
	default:
		return nil, fmt.Errorf("optim: unknown optimizer %q (valid: %s): %w: %w", name, strings.Join(Names(), ", "), graph.ErrUnknown, ErrConfig)
	}
	fields = append(fields, field{"maximize", notTrue})
	if err := setFields(key, hyper, fields); err != nil {
		return nil, err
	}
	if key == "sgd" && !hasKey(hyper, "lr") {
		return nil, fmt.Errorf("optim: sgd: lr is required (torch has no default): %w", ErrConfig)
	}
	if v, ok := o.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// ScheduleNames returns the schedule names ScheduleByName accepts, sorted.
func ScheduleNames() []string {
	return []string{"constant", "cosineannealinglr", "exponentiallr", "inversetimedecay", "linearwarmup", "multisteplr", "steplr"}
}

// ScheduleByName returns the schedule called name (case-insensitive; see
// ScheduleNames, torch's class names such as "StepLR" included) with params
// under torch's names (case-insensitive):
//
//	constant           (none)
//	steplr             step_size (required), gamma (default 0.1)
//	multisteplr        milestones (required), gamma (default 0.1)
//	exponentiallr      gamma (required)
//	cosineannealinglr  T_max (required), eta_min (default 0)
//	inversetimedecay   decay (required)
//	linearwarmup       steps (required), start (default 0), then (optional:
//	                   {"name": ..., "params": {...}})
//
// The schedule is validated. ReduceLROnPlateau is not a Schedule: it is
// stateful (see ReduceOnPlateau).
func ScheduleByName(name string, params map[string]any) (Schedule, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	var (
		s        Schedule
		fields   []field
		required []string
	)
	switch key {
	case "constant", "constantlr":
		key, s = "constant", Constant{}
	case "steplr", "step":
		v := &StepLR{Gamma: 0.1}
		key, s, required = "steplr", v, []string{"step_size"}
		fields = []field{{"step_size", integer(&v.StepSize)}, {"gamma", num(&v.Gamma)}}
	case "multisteplr", "multistep":
		v := &MultiStepLR{Gamma: 0.1}
		key, s, required = "multisteplr", v, []string{"milestones"}
		fields = []field{{"milestones", ints(&v.Milestones)}, {"gamma", num(&v.Gamma)}}
	case "exponentiallr", "exponential":
		v := &ExponentialLR{}
		key, s, required = "exponentiallr", v, []string{"gamma"}
		fields = []field{{"gamma", num(&v.Gamma)}}
	case "cosineannealinglr", "cosine":
		v := &CosineAnnealingLR{}
		key, s, required = "cosineannealinglr", v, []string{"t_max"}
		fields = []field{{"t_max", integer(&v.TMax)}, {"eta_min", num(&v.EtaMin)}}
	case "inversetimedecay":
		v := &InverseTimeDecay{}
		s, required = v, []string{"decay"}
		fields = []field{{"decay", num(&v.Decay)}}
	case "linearwarmup", "warmup":
		v := &LinearWarmup{}
		key, s, required = "linearwarmup", v, []string{"steps"}
		fields = []field{{"steps", integer(&v.Steps)}, {"start", num(&v.Start)}, {"then", then(&v.Then)}}
	case "reducelronplateau":
		return nil, fmt.Errorf("optim: ReduceLROnPlateau is stateful and not a Schedule; use ReduceOnPlateau: %w", ErrConfig)
	default:
		return nil, fmt.Errorf("optim: unknown schedule %q (valid: %s): %w: %w", name, strings.Join(ScheduleNames(), ", "), graph.ErrUnknown, ErrConfig)
	}
	if err := setFields(key, params, fields); err != nil {
		return nil, err
	}
	for _, r := range required {
		if !hasKey(params, r) {
			return nil, fmt.Errorf("optim: %s: %s is required: %w", key, r, ErrConfig)
		}
	}
	// Dereference so that the returned schedules are values, as users write them.
	switch v := s.(type) {
	case *StepLR:
		s = *v
	case *MultiStepLR:
		s = *v
	case *ExponentialLR:
		s = *v
	case *CosineAnnealingLR:
		s = *v
	case *InverseTimeDecay:
		s = *v
	case *LinearWarmup:
		s = *v
	}
	if v, ok := s.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// field is one named hyperparameter and how to set it from a value.
type field struct {
	name string
	set  func(v any) error
}

func hasKey(m map[string]any, k string) bool {
	for key := range m {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// setFields applies hyper to fields in sorted key order, so that the first
// error is deterministic.
func setFields(opt string, hyper map[string]any, fields []field) error {
	keys := make([]string, 0, len(hyper))
	for k := range hyper {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	seen := map[string]string{}
	for _, k := range keys {
		lk := strings.ToLower(strings.TrimSpace(k))
		i := slices.IndexFunc(fields, func(f field) bool { return f.name == lk })
		if i < 0 {
			valid := make([]string, len(fields))
			for j, f := range fields {
				valid[j] = f.name
			}
			slices.Sort(valid)
			return fmt.Errorf("optim: %s: unknown hyperparameter %q (valid: %s): %w: %w", opt, k, strings.Join(valid, ", "), graph.ErrUnknown, ErrConfig)
		}
		if prev, dup := seen[lk]; dup {
			return fmt.Errorf("optim: %s: hyperparameter %s given twice (%q and %q): %w", opt, lk, prev, k, ErrConfig)
		}
		seen[lk] = k
		if err := fields[i].set(hyper[k]); err != nil {
			return fmt.Errorf("optim: %s: %s: %w", opt, lk, err)
		}
	}
	return nil
}

// toFloat converts a number of any Go numeric type or a json.Number.
func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int8:
		return float64(x), nil
	case int16:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint8:
		return float64(x), nil
	case uint16:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, fmt.Errorf("want a number, got %q: %w", x.String(), ErrConfig)
		}
		return f, nil
	}
	return 0, fmt.Errorf("want a number, got %T %v: %w", v, v, ErrConfig)
}

func num(dst *float64) func(any) error {
	return func(v any) error {
		f, err := toFloat(v)
		if err != nil {
			return err
		}
		*dst = f
		return nil
	}
}

func toInt(v any) (int, error) {
	f, err := toFloat(v)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("want an integer, got %v: %w", f, ErrConfig)
	}
	return int(f), nil
}

func integer(dst *int) func(any) error {
	return func(v any) error {
		n, err := toInt(v)
		if err != nil {
			return err
		}
		*dst = n
		return nil
	}
}

func ints(dst *[]int) func(any) error {
	return func(v any) error {
		var out []int
		switch x := v.(type) {
		case []int:
			out = slices.Clone(x)
		case []any:
			for i, e := range x {
				n, err := toInt(e)
				if err != nil {
					return fmt.Errorf("element %d: %w", i, err)
				}
				out = append(out, n)
			}
		case []float64:
			for i, e := range x {
				n, err := toInt(e)
				if err != nil {
					return fmt.Errorf("element %d: %w", i, err)
				}
				out = append(out, n)
			}
		default:
			return fmt.Errorf("want a list of integers, got %T %v: %w", v, v, ErrConfig)
		}
		*dst = out
		return nil
	}
}

func boolean(dst *bool) func(any) error {
	return func(v any) error {
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("want true or false, got %T %v: %w", v, v, ErrConfig)
		}
		*dst = b
		return nil
	}
}

func notTrue(v any) error {
	b, ok := v.(bool)
	if !ok {
		return fmt.Errorf("want false, got %T %v: %w", v, v, ErrConfig)
	}
	if b {
		return fmt.Errorf("maximize=true is not supported (negate the loss instead): %w", ErrConfig)
	}
	return nil
}

func conv(dst *Convention) func(any) error {
	return func(v any) error {
		switch x := v.(type) {
		case Convention:
			*dst = x
			return nil
		case string:
			c, err := ParseConvention(x)
			if err != nil {
				return err
			}
			*dst = c
			return nil
		}
		return fmt.Errorf("want \"torch\" or \"keras\", got %T %v: %w", v, v, ErrConfig)
	}
}

func betas(b1, b2 *float64) func(any) error {
	return func(v any) error {
		var pair []any
		switch x := v.(type) {
		case [2]float64:
			*b1, *b2 = x[0], x[1]
			return nil
		case []float64:
			for _, e := range x {
				pair = append(pair, e)
			}
		case []any:
			pair = x
		default:
			return fmt.Errorf("want two numbers, got %T %v: %w", v, v, ErrConfig)
		}
		if len(pair) != 2 {
			return fmt.Errorf("want two numbers, got %d: %w", len(pair), ErrConfig)
		}
		f1, err := toFloat(pair[0])
		if err != nil {
			return fmt.Errorf("betas[0]: %w", err)
		}
		f2, err := toFloat(pair[1])
		if err != nil {
			return fmt.Errorf("betas[1]: %w", err)
		}
		*b1, *b2 = f1, f2
		return nil
	}
}

func then(dst *Schedule) func(any) error {
	return func(v any) error {
		switch x := v.(type) {
		case nil:
			*dst = nil
			return nil
		case Schedule:
			*dst = x
			return nil
		case map[string]any:
			var name string
			var params map[string]any
			for k, e := range x {
				switch strings.ToLower(k) {
				case "name":
					s, ok := e.(string)
					if !ok {
						return fmt.Errorf("name: want a string, got %T: %w", e, ErrConfig)
					}
					name = s
				case "params":
					if e == nil {
						continue
					}
					p, ok := e.(map[string]any)
					if !ok {
						return fmt.Errorf("params: want an object, got %T: %w", e, ErrConfig)
					}
					params = p
				default:
					return fmt.Errorf("unknown key %q (valid: name, params): %w", k, ErrConfig)
				}
			}
			s, err := ScheduleByName(name, params)
			if err != nil {
				return err
			}
			*dst = s
			return nil
		}
		return fmt.Errorf("want a schedule or {\"name\": ..., \"params\": {...}}, got %T: %w", v, ErrConfig)
	}
}
