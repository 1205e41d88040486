package graph

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// GradCheck configures CheckGradients. Zero fields take defaults chosen per
// dtype.
type GradCheck struct {
	// Epsilon is the finite-difference step. If zero, 1e-6 for float64 and
	// 1e-2 for float32 (a smaller step drowns in float32 rounding: the loss
	// has about 7 significant digits, so a step of h loses about 1e-7/h of
	// relative precision).
	Epsilon float64
	// Atol and Rtol bound |symbolic - numeric| <= Atol + Rtol*max(|symbolic|, |numeric|).
	// If zero, 1e-7 and 1e-5 for float64 (central differences have an error
	// of order h² times the third derivative, plus rounding of order
	// 1e-16/h), and 1e-3 and 2e-2 for float32.
	Atol, Rtol float64
}

// GradDiff is the worst disagreement found for one parameter.
type GradDiff struct {
	Param             string
	Index             int // flat index of the worst element
	Symbolic, Numeric float64
	AbsErr, RelErr    float64
}

// ErrGradientMismatch is returned by CheckGradients when a symbolic gradient
// disagrees with its finite difference beyond the tolerance.
var ErrGradientMismatch = errors.New("symbolic and numeric gradients disagree")

// CheckGradients compares the program's symbolic gradient of its loss with
// central finite differences, element by element for every parameter the
// program differentiates. The program's inputs must already hold the batch
// to check. Parameters are perturbed in place and restored exactly.
//
// It returns the worst disagreement per parameter and an error wrapping
// ErrGradientMismatch naming the first element out of tolerance.
func (p *Program) CheckGradients(c GradCheck) ([]GradDiff, error) {
	if !p.HasLoss() {
		return nil, errors.New("graph: gradient check needs a program compiled with a loss")
	}
	f32 := p.g.dtype == tensor.Float32
	if c.Epsilon == 0 {
		c.Epsilon = 1e-6
		if f32 {
			c.Epsilon = 1e-2
		}
	}
	if c.Atol == 0 && c.Rtol == 0 {
		c.Atol, c.Rtol = 1e-7, 1e-5
		if f32 {
			c.Atol, c.Rtol = 1e-3, 2e-2
		}
	}
	if err := p.Run(); err != nil {
		return nil, err
	}
	symbolic := make([][]float64, len(p.wrt))
	for i, prm := range p.wrt {
		symbolic[i] = ReadFloat64s(prm.grad, nil)
	}
	var report []GradDiff
	var firstErr error
	for i, prm := range p.wrt {
		orig := ReadFloat64s(prm.value, nil)
		work := append([]float64(nil), orig...)
		worst := GradDiff{Param: prm.name, Index: -1}
		for j := range orig {
			work[j] = orig[j] + c.Epsilon
			up, hiVal, err := p.lossAt(prm, work, j)
			if err != nil {
				return nil, err
			}
			work[j] = orig[j] - c.Epsilon
			down, loVal, err := p.lossAt(prm, work, j)
			if err != nil {
				return nil, err
			}
			work[j] = orig[j]
			numeric := (up - down) / (hiVal - loVal)
			sym := symbolic[i][j]
			abs := math.Abs(sym - numeric)
			rel := abs / math.Max(math.Max(math.Abs(sym), math.Abs(numeric)), 1e-300)
			if worst.Index < 0 || abs > worst.AbsErr {
				worst = GradDiff{Param: prm.name, Index: j, Symbolic: sym, Numeric: numeric, AbsErr: abs, RelErr: rel}
			}
			if firstErr == nil && !(abs <= c.Atol+c.Rtol*math.Max(math.Abs(sym), math.Abs(numeric))) {
				firstErr = fmt.Errorf("graph: d loss / d %s[%d]: symbolic %.10g, numeric %.10g (|diff| %.3g > %.3g + %.3g·|g|): %w",
					prm.name, j, sym, numeric, abs, c.Atol, c.Rtol, ErrGradientMismatch)
			}
		}
		if err := WriteFloat64s(prm.value, orig); err != nil {
			return nil, err
		}
		report = append(report, worst)
	}
	// Leave the gradients as they were at the unperturbed point.
	if err := p.Run(); err != nil {
		return nil, err
	}
	return report, firstErr
}

// lossAt sets prm to vals and runs the program, returning the loss and the
// value element j actually took after rounding to the parameter's dtype.
func (p *Program) lossAt(prm *Param, vals []float64, j int) (loss, actual float64, err error) {
	if err := WriteFloat64s(prm.value, vals); err != nil {
		return 0, 0, err
	}
	switch d := prm.value.Data().(type) {
	case []float64:
		actual = d[j]
	case []float32:
		actual = float64(d[j])
	}
	if err := p.Run(); err != nil {
		return 0, 0, err
	}
	return p.Loss(), actual, nil
}
