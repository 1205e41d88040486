package data

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// Dataset is a set of examples: X is [n, features] and Y is [n, targets],
// both float32 or both float64, row i of Y being the target of row i of X.
// Build one with New or FromRows, which validate it.
type Dataset struct {
	X, Y *tensor.Dense
}

// New returns a dataset over x and y (not copied) after checking that both
// are matrices of the same float dtype with the same number of rows (at
// least one), and that every value is finite.
func New(x, y *tensor.Dense) (*Dataset, error) {
	d := &Dataset{X: x, Y: y}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// FromRows copies x and y into a new dataset of dtype dt (the zero Dtype
// means float64). Every row of x must have the same length, and so must
// every row of y.
func FromRows(x, y [][]float64, dt tensor.Dtype) (*Dataset, error) {
	if dt.Type == nil {
		dt = tensor.Float64
	}
	if dt != tensor.Float64 && dt != tensor.Float32 {
		return nil, fmt.Errorf("data: dtype %v is not supported (want float32 or float64): %w", dt, ErrDType)
	}
	xt, err := matrix("X", x, dt)
	if err != nil {
		return nil, err
	}
	yt, err := matrix("Y", y, dt)
	if err != nil {
		return nil, err
	}
	return New(xt, yt)
}

func matrix(name string, rows [][]float64, dt tensor.Dtype) (*tensor.Dense, error) {
	if len(rows) == 0 || len(rows[0]) == 0 {
		return nil, fmt.Errorf("data: %s has no rows or no columns: %w", name, ErrEmpty)
	}
	cols := len(rows[0])
	flat := make([]float64, 0, len(rows)*cols)
	for i, r := range rows {
		if len(r) != cols {
			return nil, fmt.Errorf("data: %s row %d has %d values, row 0 has %d: %w", name, i, len(r), cols, ErrShape)
		}
		flat = append(flat, r...)
	}
	return FromFloat64s(flat, dt, len(rows), cols), nil
}

// FromFloat64s returns a new [rows, cols] tensor of dtype dt holding vals
// (row-major; converted to float32 when dt is float32). len(vals) must be
// rows*cols.
func FromFloat64s(vals []float64, dt tensor.Dtype, rows, cols int) *tensor.Dense {
	if dt == tensor.Float32 {
		f := make([]float32, len(vals))
		for i, v := range vals {
			f[i] = float32(v)
		}
		return tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(f))
	}
	return tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(append([]float64(nil), vals...)))
}

// Validate checks the dataset's invariants (see New).
func (d *Dataset) Validate() error {
	if d == nil || d.X == nil || d.Y == nil {
		return fmt.Errorf("data: dataset has no X or no Y: %w", ErrEmpty)
	}
	for _, m := range []struct {
		name string
		t    *tensor.Dense
	}{{"X", d.X}, {"Y", d.Y}} {
		if m.t.Dtype() != tensor.Float64 && m.t.Dtype() != tensor.Float32 {
			return fmt.Errorf("data: %s is %v, want float32 or float64: %w", m.name, m.t.Dtype(), ErrDType)
		}
		if m.t.Dims() != 2 {
			return fmt.Errorf("data: %s has shape %v, want [rows, columns]: %w", m.name, m.t.Shape(), ErrShape)
		}
		if m.t.Shape()[0] == 0 || m.t.Shape()[1] == 0 {
			return fmt.Errorf("data: %s has shape %v: %w", m.name, m.t.Shape(), ErrEmpty)
		}
		if r, c, ok := firstNonFinite(m.t); !ok {
			return fmt.Errorf("data: %s row %d column %d is %v: %w", m.name, r, c, at(m.t, r, c), ErrNotFinite)
		}
	}
	if d.X.Dtype() != d.Y.Dtype() {
		return fmt.Errorf("data: X is %v but Y is %v: %w", d.X.Dtype(), d.Y.Dtype(), ErrDType)
	}
	if d.X.Shape()[0] != d.Y.Shape()[0] {
		return fmt.Errorf("data: X has %d rows but Y has %d: %w", d.X.Shape()[0], d.Y.Shape()[0], ErrShape)
	}
	return nil
}

func firstNonFinite(t *tensor.Dense) (row, col int, ok bool) {
	cols := t.Shape()[1]
	switch s := t.Data().(type) {
	case []float64:
		for i, v := range s {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return i / cols, i % cols, false
			}
		}
	case []float32:
		for i, v := range s {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return i / cols, i % cols, false
			}
		}
	}
	return 0, 0, true
}

func at(t *tensor.Dense, r, c int) float64 {
	i := r*t.Shape()[1] + c
	switch s := t.Data().(type) {
	case []float64:
		return s[i]
	case []float32:
		return float64(s[i])
	}
	return math.NaN()
}

// Len returns the number of examples.
func (d *Dataset) Len() int { return d.X.Shape()[0] }

// Features returns the number of columns of X.
func (d *Dataset) Features() int { return d.X.Shape()[1] }

// Targets returns the number of columns of Y.
func (d *Dataset) Targets() int { return d.Y.Shape()[1] }

// DType returns the dtype of X and Y.
func (d *Dataset) DType() tensor.Dtype { return d.X.Dtype() }

// Gather copies rows idx of src into the first len(idx) rows of dst, which
// must have src's dtype and column count. It does not allocate.
func Gather(dst, src *tensor.Dense, idx []int) error {
	if dst.Dtype() != src.Dtype() {
		return fmt.Errorf("data: gather into %v from %v: %w", dst.Dtype(), src.Dtype(), ErrDType)
	}
	if dst.Dims() != 2 || src.Dims() != 2 || dst.Shape()[1] != src.Shape()[1] || dst.Shape()[0] < len(idx) {
		return fmt.Errorf("data: gather %d rows of %v into %v: %w", len(idx), src.Shape(), dst.Shape(), ErrShape)
	}
	n, cols := src.Shape()[0], src.Shape()[1]
	for _, i := range idx {
		if i < 0 || i >= n {
			return fmt.Errorf("data: row index %d out of range [0, %d): %w", i, n, ErrShape)
		}
	}
	// Float64s and Float32s view the backing arrays without allocating,
	// unlike Data, which boxes a new slice header on every call.
	switch dst.Dtype() {
	case tensor.Float64:
		gather(dst.Float64s(), src.Float64s(), idx, cols)
	case tensor.Float32:
		gather(dst.Float32s(), src.Float32s(), idx, cols)
	default:
		return fmt.Errorf("data: gather %v: %w", dst.Dtype(), ErrDType)
	}
	return nil
}

func gather[T float32 | float64](dst, src []T, idx []int, cols int) {
	for k, i := range idx {
		copy(dst[k*cols:(k+1)*cols], src[i*cols:(i+1)*cols])
	}
}

// XOR returns the four XOR examples, X = [[0 0] [0 1] [1 0] [1 1]] and
// Y = [[0] [1] [1] [0]], in dtype dt (the zero Dtype means float64).
func XOR(dt tensor.Dtype) *Dataset {
	d, err := FromRows([][]float64{{0, 0}, {0, 1}, {1, 0}, {1, 1}}, [][]float64{{0}, {1}, {1}, {0}}, dt)
	if err != nil {
		panic("data: XOR: " + err.Error()) // unreachable: the rows are constant
	}
	return d
}
