package graph

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"gorgonia.org/tensor"
)

// Param is a named learnable tensor. It is owned once, by the model that
// created it, and bound into every graph of that model with Graph.Param: all
// of them read the same Value tensor, so an optimizer that updates Value in
// place updates every graph at once.
//
// Grad has the same shape and dtype as Value. Program.Run overwrites it with
// the gradient of the program's loss; clipping and optimizers then read and
// modify it in place.
type Param struct {
	name  string
	value *tensor.Dense
	grad  *tensor.Dense
}

// NewParam returns a zero parameter of the given dtype and shape.
func NewParam(name string, dt tensor.Dtype, shape ...int) (*Param, error) {
	if name == "" {
		return nil, fmt.Errorf("graph: parameter name is empty: %w", ErrUnknown)
	}
	v, err := ZeroTensor(dt, shape...)
	if err != nil {
		return nil, fmt.Errorf("graph: parameter %s: %w", name, err)
	}
	g, err := ZeroTensor(dt, shape...)
	if err != nil {
		return nil, fmt.Errorf("graph: parameter %s: %w", name, err)
	}
	return &Param{name: name, value: v, grad: g}, nil
}

// Name returns the parameter's name, unique within its model ("dense_1/kernel").
func (p *Param) Name() string { return p.name }

// Shape returns a copy of the parameter's shape.
func (p *Param) Shape() []int { return slices.Clone([]int(p.value.Shape())) }

// DType returns the parameter's dtype.
func (p *Param) DType() tensor.Dtype { return p.value.Dtype() }

// Size returns the number of elements.
func (p *Param) Size() int { return p.value.Shape().TotalSize() }

// Value returns the parameter's tensor. It is shared with every graph the
// parameter is bound into; modify it in place only, never reshape it.
func (p *Param) Value() *tensor.Dense { return p.value }

// Grad returns the gradient tensor written by the last Program.Run.
func (p *Param) Grad() *tensor.Dense { return p.grad }

// Float64s returns a copy of the value as float64.
func (p *Param) Float64s() []float64 { return ReadFloat64s(p.value, nil) }

// SetFloat64s sets the value from src, converting to the parameter's dtype.
// It fails, leaving the value unchanged, when the length differs or a value
// is not finite.
func (p *Param) SetFloat64s(src []float64) error {
	if len(src) != p.Size() {
		return fmt.Errorf("graph: parameter %s has %d elements (shape %v), got %d: %w", p.name, p.Size(), p.value.Shape(), len(src), ErrShape)
	}
	for i, v := range src {
		if v != v || v > maxFloat || v < -maxFloat {
			return fmt.Errorf("graph: parameter %s: element %d is %v: %w", p.name, i, v, ErrNotFinite)
		}
	}
	return WriteFloat64s(p.value, src)
}

// Init fills the value with init, drawing from rng. For a kernel of shape
// [in, out], fan-in is in and fan-out is out; for a vector both are its
// length. The draws are made in float64 and converted, so a float32 and a
// float64 parameter initialised from the same stream hold the same numbers
// up to rounding.
func (p *Param) Init(init Initializer, rng *rand.Rand) error {
	fanIn, fanOut := Fans(p.Shape())
	buf := make([]float64, p.Size())
	if err := init.Fill(buf, fanIn, fanOut, rng); err != nil {
		return fmt.Errorf("graph: initialising %s with %s: %w", p.name, init.Name(), err)
	}
	return WriteFloat64s(p.value, buf)
}

// Fans returns the fan-in and fan-out of a weight of the given shape, as
// Keras computes them: [in, out] gives (in, out); a vector of n gives (n, n).
func Fans(shape []int) (fanIn, fanOut int) {
	switch len(shape) {
	case 0:
		return 1, 1
	case 1:
		return shape[0], shape[0]
	case 2:
		return shape[0], shape[1]
	}
	receptive := 1
	for _, d := range shape[:len(shape)-2] {
		receptive *= d
	}
	return shape[len(shape)-2] * receptive, shape[len(shape)-1] * receptive
}
