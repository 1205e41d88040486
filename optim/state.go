package optim

import (
	"fmt"
	"slices"
	"strings"

	"gorgonia.org/tensor"

	"github.com/descentlab/descent/graph"
)

// State is a copy of an optimizer's state between steps, for checkpoints.
// Buffers are keyed by parameter name, then by torch's buffer name:
//
//	sgd       momentum_buffer (Torch) or velocity (Keras), when momentum ≠ 0
//	adam(w)   exp_avg, exp_avg_sq, and max_exp_avg_sq with amsgrad
//	rmsprop   square_avg; grad_avg when centered; momentum_buffer (Torch)
//	          or velocity (Keras) when momentum > 0
//	adagrad   sum
//	adadelta  square_avg, acc_delta
//
// Values are float64 whatever the parameter's dtype; float32 parameters
// convert exactly both ways. A parameter with no entry starts fresh.
type State struct {
	Name    string                          // optimizer name, as Name returns it
	Step    int                             // optimizer steps taken (torch's per-parameter "step", equal for all)
	Buffers map[string]map[string][]float64 // parameter name → buffer name → values
}

// Stateful is an optimizer whose state can be saved and restored. Every
// optimizer in this package implements it. State returns a deep copy;
// SetState replaces the whole state with a copy of s, and restoring a state
// into a fresh optimizer with the same settings continues bit-identically.
type Stateful interface {
	State() State
	SetState(s State) error
}

// maxBuffers is the largest number of buffers an optimizer keeps per parameter.
const maxBuffers = 3

// layout says which buffers an optimizer keeps under its current settings.
// Positions are fixed per optimizer; an empty name is an unused position.
type layout struct {
	opt   string
	names [maxBuffers]string
	init  [maxBuffers]float64 // value of a fresh buffer
}

func (l *layout) valid() string {
	var s []string
	for _, n := range l.names {
		if n != "" {
			s = append(s, n)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// slot is the state of one parameter.
type slot struct {
	size  int
	bits  int // 32 or 64; 0 for restored state not yet bound to a parameter
	seen  int // prepare call that last saw the slot, to catch duplicates
	names [maxBuffers]string
	has   [maxBuffers]bool // buffer holds state, as opposed to a fresh value
	fresh [maxBuffers]bool // buffer was fresh when this step began
	b64   [maxBuffers][]float64
	b32   [maxBuffers][]float32
}

// store holds an optimizer's step count and per-parameter state.
type store struct {
	t     int
	calls int // prepare calls, to stamp slots
	slots map[string]*slot
	work  []*slot // slots of the parameters of the current step, in order
}

// begin opens an optimizer step: it reports the optimizer's validation
// error or an invalid rate, prepares the parameters' slots and counts the
// step.
func (s *store) begin(opt string, invalid error, lr float64, l layout, params []*graph.Param) error {
	if invalid != nil {
		return invalid
	}
	if err := checkRate(opt, lr); err != nil {
		return err
	}
	if err := s.prepare(&l, params); err != nil {
		return err
	}
	s.t++
	return nil
}

// prepare checks params and finds or creates their slots in s.work, so that
// the kernels that follow cannot fail. It allocates only for parameters it
// has not seen before.
func (s *store) prepare(l *layout, params []*graph.Param) error {
	if cap(s.work) < len(params) {
		s.work = make([]*slot, len(params))
	}
	s.work = s.work[:len(params)]
	s.calls++
	stamp := s.calls
	for i, p := range params {
		if p == nil {
			return fmt.Errorf("optim: %s: parameter %d is nil: %w", l.opt, i, ErrConfig)
		}
		bits, n, err := dims(p)
		if err != nil {
			return fmt.Errorf("optim: %s: %w", l.opt, err)
		}
		sl := s.slots[p.Name()]
		if sl == nil {
			if s.slots == nil {
				s.slots = map[string]*slot{}
			}
			sl = &slot{size: n, bits: bits}
			s.slots[p.Name()] = sl
		}
		if sl.seen == stamp {
			return fmt.Errorf("optim: %s: parameter %s appears twice: %w", l.opt, p.Name(), ErrConfig)
		}
		if sl.size != n {
			return fmt.Errorf("optim: %s: state of parameter %s has %d elements, the parameter has %d: %w", l.opt, p.Name(), sl.size, n, graph.ErrShape)
		}
		if sl.bits == 0 {
			sl.bind(bits)
		}
		if sl.bits != bits {
			return fmt.Errorf("optim: %s: parameter %s is float%d, its state is float%d: %w", l.opt, p.Name(), bits, sl.bits, graph.ErrDType)
		}
		for k, name := range l.names {
			if name != "" && sl.names[k] != name {
				sl.alloc(k, name, l.init[k])
			}
		}
		sl.seen = stamp
		s.work[i] = sl
	}
	for _, sl := range s.work {
		for k, name := range l.names {
			sl.fresh[k] = name != "" && !sl.has[k]
			if name != "" {
				sl.has[k] = true
			}
		}
	}
	return nil
}

// dims returns the dtype width and length of p, checking that its gradient
// matches.
func dims(p *graph.Param) (bits, n int, err error) {
	v, g := p.Value(), p.Grad()
	if v == nil || g == nil {
		return 0, 0, fmt.Errorf("parameter %s has no value or gradient tensor: %w", p.Name(), graph.ErrShape)
	}
	switch v.Dtype() {
	case tensor.Float64:
		bits, n = 64, len(v.Float64s())
	case tensor.Float32:
		bits, n = 32, len(v.Float32s())
	default:
		return 0, 0, fmt.Errorf("parameter %s has dtype %v: %w", p.Name(), v.Dtype(), graph.ErrDType)
	}
	if g.Dtype() != v.Dtype() {
		return 0, 0, fmt.Errorf("parameter %s is %v but its gradient is %v: %w", p.Name(), v.Dtype(), g.Dtype(), graph.ErrDType)
	}
	gn := len(g.Float64s())
	if bits == 32 {
		gn = len(g.Float32s())
	}
	if gn != n {
		return 0, 0, fmt.Errorf("parameter %s has %d elements, its gradient %d: %w", p.Name(), n, gn, graph.ErrShape)
	}
	return bits, n, nil
}

// alloc gives buffer k a fresh value.
func (sl *slot) alloc(k int, name string, init float64) {
	sl.names[k] = name
	sl.has[k] = false
	if sl.bits == 32 {
		sl.b32[k] = make([]float32, sl.size)
		if init != 0 {
			for i := range sl.b32[k] {
				sl.b32[k][i] = float32(init)
			}
		}
		return
	}
	sl.b64[k] = make([]float64, sl.size)
	if init != 0 {
		for i := range sl.b64[k] {
			sl.b64[k][i] = init
		}
	}
}

// bind converts restored float64 buffers for a parameter of the given width.
func (sl *slot) bind(bits int) {
	sl.bits = bits
	if bits == 64 {
		return
	}
	for k, b := range sl.b64 {
		if b == nil {
			continue
		}
		sl.b32[k] = make([]float32, len(b))
		for i, x := range b {
			sl.b32[k][i] = float32(x)
		}
		sl.b64[k] = nil
	}
}

// state returns a deep copy of the store under layout l.
func (s *store) state(l *layout) State {
	st := State{Name: l.opt, Step: s.t, Buffers: map[string]map[string][]float64{}}
	for pname, sl := range s.slots {
		m := map[string][]float64{}
		for k, name := range l.names {
			if name == "" || sl.names[k] != name || !sl.has[k] {
				continue
			}
			if sl.bits == 32 {
				b := make([]float64, len(sl.b32[k]))
				for i, x := range sl.b32[k] {
					b[i] = float64(x)
				}
				m[name] = b
			} else {
				m[name] = slices.Clone(sl.b64[k])
			}
		}
		if len(m) > 0 {
			st.Buffers[pname] = m
		}
	}
	return st
}

// setState replaces the store with a copy of st after checking it against l.
// It leaves the store unchanged on error.
func (s *store) setState(l *layout, st State) error {
	if !strings.EqualFold(st.Name, l.opt) {
		return fmt.Errorf("optim: %s: state is for optimizer %q: %w", l.opt, st.Name, ErrConfig)
	}
	if st.Step < 0 {
		return fmt.Errorf("optim: %s: state step %d is negative: %w", l.opt, st.Step, ErrConfig)
	}
	slots := make(map[string]*slot, len(st.Buffers))
	pnames := make([]string, 0, len(st.Buffers))
	for pname := range st.Buffers {
		pnames = append(pnames, pname)
	}
	slices.Sort(pnames)
	for _, pname := range pnames {
		bufs := st.Buffers[pname]
		if len(bufs) == 0 {
			continue
		}
		bnames := make([]string, 0, len(bufs))
		for b := range bufs {
			bnames = append(bnames, b)
		}
		slices.Sort(bnames)
		sl := &slot{size: -1}
		for _, b := range bnames {
			k := slices.Index(l.names[:], b)
			if b == "" || k < 0 {
				return fmt.Errorf("optim: %s: state of parameter %s has unknown buffer %q (valid with these settings: %s): %w", l.opt, pname, b, l.valid(), ErrConfig)
			}
			vals := bufs[b]
			if len(vals) == 0 {
				return fmt.Errorf("optim: %s: state buffer %s of parameter %s is empty: %w", l.opt, b, pname, graph.ErrShape)
			}
			if sl.size >= 0 && len(vals) != sl.size {
				return fmt.Errorf("optim: %s: state buffer %s of parameter %s has %d elements, buffer %s has %d: %w", l.opt, b, pname, len(vals), bnames[0], sl.size, graph.ErrShape)
			}
			sl.size = len(vals)
			sl.names[k] = b
			sl.has[k] = true
			sl.b64[k] = slices.Clone(vals)
		}
		for k, name := range l.names {
			if name != "" && sl.names[k] == "" {
				return fmt.Errorf("optim: %s: state of parameter %s lacks buffer %s: %w", l.opt, pname, name, ErrConfig)
			}
		}
		slots[pname] = sl
	}
	s.slots = slots
	s.t = st.Step
	return nil
}
