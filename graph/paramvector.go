package graph

import "fmt"

// ParamVector returns the values of ps flattened into one float64 vector,
// in order, each parameter row-major (a Dense kernel [in, out] row by row,
// then its bias). It reuses dst's storage when large enough.
func ParamVector(ps []*Param, dst []float64) []float64 {
	n := 0
	for _, p := range ps {
		n += p.Size()
	}
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	dst = dst[:n]
	off := 0
	for _, p := range ps {
		seg := ReadFloat64s(p.Value(), dst[off:off])
		off += len(seg)
	}
	return dst
}

// SetParamVector sets the values of ps from v, laid out as ParamVector
// returns them, converting to each parameter's dtype. It fails when v's
// length is not the total size of ps (ErrShape) or a value is not finite
// (ErrNotFinite); the parameters before the offending one are then already
// set.
func SetParamVector(ps []*Param, v []float64) error {
	n := 0
	for _, p := range ps {
		n += p.Size()
	}
	if len(v) != n {
		return fmt.Errorf("graph: parameter vector has %d values, the parameters %d: %w", len(v), n, ErrShape)
	}
	off := 0
	for _, p := range ps {
		if err := p.SetFloat64s(v[off : off+p.Size()]); err != nil {
			return fmt.Errorf("graph: parameter vector, values %d to %d: %w", off, off+p.Size(), err)
		}
		off += p.Size()
	}
	return nil
}
