package data

import (
	"fmt"
	"math"
	"slices"

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
	if err := checkFloat(dt); err != nil {
		return nil, err
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
	for i, r := range rows {
		if len(r) != cols {
			return nil, fmt.Errorf("data: %s row %d has %d values, row 0 has %d: %w", name, i, len(r), cols, ErrShape)
		}
	}
	if dt == tensor.Float32 {
		f := make([]float32, 0, len(rows)*cols)
		for _, r := range rows {
			for _, v := range r {
				f = append(f, float32(v))
			}
		}
		return dense(f, len(rows), cols)
	}
	f := make([]float64, 0, len(rows)*cols)
	for _, r := range rows {
		f = append(f, r...)
	}
	return dense(f, len(rows), cols)
}

// FromFloat64s returns a new [rows, cols] tensor of dtype dt (float32 or
// float64; the zero Dtype means float64) holding a copy of vals, row-major,
// converted to float32 when dt is float32. It fails with ErrShape unless
// rows and cols are positive and len(vals) is rows*cols, and with ErrDType
// for another dtype. Values are not checked (New checks a dataset's).
func FromFloat64s(vals []float64, dt tensor.Dtype, rows, cols int) (*tensor.Dense, error) {
	if dt.Type == nil {
		dt = tensor.Float64
	}
	if err := checkFloat(dt); err != nil {
		return nil, err
	}
	if rows < 1 || cols < 1 || rows > len(vals) || len(vals)/rows != cols || len(vals)%rows != 0 {
		return nil, fmt.Errorf("data: %d values for a [%d, %d] matrix, want rows >= 1, cols >= 1 and rows*cols values: %w", len(vals), rows, cols, ErrShape)
	}
	if dt == tensor.Float32 {
		f := make([]float32, len(vals))
		for i, v := range vals {
			f[i] = float32(v)
		}
		return dense(f, rows, cols)
	}
	return dense(slices.Clone(vals), rows, cols)
}

// dense wraps backing, a slice of rows*cols elements, in a [rows, cols]
// tensor. Callers guarantee the length; tensor's panic, should it still
// raise one, is returned as an error wrapping ErrShape rather than
// escaping.
func dense[T idxItem](backing []T, shape ...int) (t *tensor.Dense, err error) {
	size := 1
	for _, d := range shape {
		size *= d
	}
	if len(shape) == 0 || size != len(backing) {
		return nil, fmt.Errorf("data: %d values for shape %v: %w", len(backing), shape, ErrShape)
	}
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("data: tensor of shape %v: tensor panicked: %v: %w", shape, r, ErrShape)
		}
	}()
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing)), nil
}

// zeros returns a new [rows, cols] tensor of dtype dt, float32 or float64,
// holding zeros. rows*cols must not overflow.
func zeros(dt tensor.Dtype, rows, cols int) (*tensor.Dense, error) {
	if rows < 1 || cols < 1 || rows > math.MaxInt/8/cols {
		return nil, fmt.Errorf("data: matrix of %d by %d: %w", rows, cols, ErrShape)
	}
	if dt == tensor.Float32 {
		return dense(make([]float32, rows*cols), rows, cols)
	}
	return dense(make([]float64, rows*cols), rows, cols)
}

// Validate checks the dataset's invariants (see New): X and Y are
// non-empty float32 or float64 matrices of the same dtype and row count,
// contiguous in memory (not a transposed or column-sliced view), holding
// finite values.
func (d *Dataset) Validate() error {
	if err := d.check(); err != nil {
		return err
	}
	for _, m := range []struct {
		name string
		t    *tensor.Dense
	}{{"X", d.X}, {"Y", d.Y}} {
		if r, c, ok := firstNonFinite(m.t); !ok {
			return fmt.Errorf("data: %s row %d column %d is %v: %w", m.name, r, c, at(m.t, r, c), ErrNotFinite)
		}
	}
	return nil
}

// check validates the dataset's structure, everything Validate does but
// the values: it is cheap, and every method that reads X or Y calls it
// first.
func (d *Dataset) check() error {
	if d == nil || d.X == nil || d.Y == nil {
		return fmt.Errorf("data: dataset has no X or no Y: %w", ErrEmpty)
	}
	if err := checkMatrix("X", d.X); err != nil {
		return err
	}
	if err := checkMatrix("Y", d.Y); err != nil {
		return err
	}
	if d.X.Dtype() != d.Y.Dtype() {
		return fmt.Errorf("data: X is %v but Y is %v: %w", d.X.Dtype(), d.Y.Dtype(), ErrDType)
	}
	if d.X.Shape()[0] != d.Y.Shape()[0] {
		return fmt.Errorf("data: X has %d rows but Y has %d: %w", d.X.Shape()[0], d.Y.Shape()[0], ErrShape)
	}
	return nil
}

// checkMatrix reports an error unless t is a matrix of float32 or float64
// with at least one row and one column whose values lie contiguously in
// row-major order, so that Float64s or Float32s is its data; what names t
// in the error.
func checkMatrix(what string, t *tensor.Dense) error {
	if t == nil {
		return fmt.Errorf("data: %s is nil: %w", what, ErrEmpty)
	}
	if err := checkFloat(t.Dtype()); err != nil {
		return fmt.Errorf("data: %s: %w", what, err)
	}
	if t.Dims() != 2 {
		return fmt.Errorf("data: %s has shape %v, want [rows, columns]: %w", what, t.Shape(), ErrShape)
	}
	if t.Shape()[0] == 0 || t.Shape()[1] == 0 {
		return fmt.Errorf("data: %s has shape %v: %w", what, t.Shape(), ErrEmpty)
	}
	if t.RequiresIterator() || t.DataSize() < t.Shape().TotalSize() {
		return fmt.Errorf("data: %s is a transposed, column-sliced or masked view whose values are not contiguous; copy it with Materialize first: %w", what, ErrShape)
	}
	return nil
}

// checkFloat reports an error unless dt is float32 or float64.
func checkFloat(dt tensor.Dtype) error {
	if dt != tensor.Float64 && dt != tensor.Float32 {
		return fmt.Errorf("data: dtype %v is not supported (want float32 or float64): %w", dt, ErrDType)
	}
	return nil
}

// firstNonFinite returns the first NaN or infinite value of the matrix t,
// which checkMatrix accepts.
func firstNonFinite(t *tensor.Dense) (row, col int, ok bool) {
	cols := t.Shape()[1]
	n := t.Shape().TotalSize()
	if t.Dtype() == tensor.Float32 {
		for i, v := range t.Float32s()[:n] {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return i / cols, i % cols, false
			}
		}
		return 0, 0, true
	}
	for i, v := range t.Float64s()[:n] {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return i / cols, i % cols, false
		}
	}
	return 0, 0, true
}

func at(t *tensor.Dense, r, c int) float64 {
	i := r*t.Shape()[1] + c
	if t.Dtype() == tensor.Float32 {
		return float64(t.Float32s()[i])
	}
	return t.Float64s()[i]
}

// Len returns the number of examples, 0 for a dataset without a matrix X.
func (d *Dataset) Len() int { return dim(d, true, 0) }

// Features returns the number of columns of X, 0 without a matrix X.
func (d *Dataset) Features() int { return dim(d, true, 1) }

// Targets returns the number of columns of Y, 0 without a matrix Y.
func (d *Dataset) Targets() int { return dim(d, false, 1) }

func dim(d *Dataset, x bool, i int) int {
	if d == nil {
		return 0
	}
	t := d.Y
	if x {
		t = d.X
	}
	if t == nil || t.Dims() != 2 {
		return 0
	}
	return t.Shape()[i]
}

// DType returns the dtype of X, the zero Dtype without X.
func (d *Dataset) DType() tensor.Dtype {
	if d == nil || d.X == nil {
		return tensor.Dtype{}
	}
	return d.X.Dtype()
}

// Gather copies rows idx of src into the first len(idx) rows of dst, which
// must have src's dtype and column count. It does not allocate.
func Gather(dst, src *tensor.Dense, idx []int) error {
	if err := checkMatrix("gather source", src); err != nil {
		return err
	}
	if err := checkMatrix("gather destination", dst); err != nil {
		return err
	}
	if dst.Dtype() != src.Dtype() {
		return fmt.Errorf("data: gather into %v from %v: %w", dst.Dtype(), src.Dtype(), ErrDType)
	}
	if dst.Shape()[1] != src.Shape()[1] || dst.Shape()[0] < len(idx) {
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
	if dst.Dtype() == tensor.Float32 {
		gather(dst.Float32s(), src.Float32s(), idx, cols)
	} else {
		gather(dst.Float64s(), src.Float64s(), idx, cols)
	}
	return nil
}

func gather[T float32 | float64](dst, src []T, idx []int, cols int) {
	for k, i := range idx {
		copy(dst[k*cols:(k+1)*cols], src[i*cols:(i+1)*cols])
	}
}

// XOR returns the four XOR examples, X = [[0 0] [0 1] [1 0] [1 1]] and
// Y = [[0] [1] [1] [0]], in dtype dt (the zero Dtype means float64). It
// returns nil for a dtype other than float32 and float64, which every
// function taking a dataset rejects with an error wrapping ErrEmpty.
func XOR(dt tensor.Dtype) *Dataset {
	d, err := FromRows([][]float64{{0, 0}, {0, 1}, {1, 0}, {1, 1}}, [][]float64{{0}, {1}, {1}, {0}}, dt)
	if err != nil {
		return nil // an unsupported dtype: the rows are constant
	}
	return d
}
