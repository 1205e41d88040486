package data

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// The compiler checks that both batch policies implement Batcher.
var (
	_ Batcher = Batching{}
	_ Batcher = Replay(nil)
)

// A Feeder hands a trainer finished batches of one dataset: it gathers the
// rows a Batcher chose into the caller's reused x and y buffers (the inputs
// of a compiled graph), X rows as they are and Y rows either as they are or,
// for class-index targets, expanded to one-hot rows. The dataset is checked
// once, by NewFeeder, so Gather and Rows only copy.
//
// A batch so flows one way: data cuts and fills it, nn runs the graph on
// it, optim updates the weights.
type Feeder struct {
	d       *Dataset
	classes int
}

// NewFeeder returns a Feeder over d after validating it (see
// Dataset.Validate). With classes > 0, Y must be one column of class
// indices, each an integer in [0, classes), and batches get one-hot target
// rows of width classes; with classes 0, target rows are Y's rows.
func NewFeeder(d *Dataset, classes int) (*Feeder, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if classes < 0 {
		return nil, fmt.Errorf("data: feeder: %d classes: %w", classes, ErrShape)
	}
	if classes > 0 {
		if d.Targets() != 1 {
			return nil, fmt.Errorf("data: Y has %d columns, want one column of class indices: %w", d.Targets(), ErrShape)
		}
		for i := range d.Len() {
			if v := at(d.Y, i, 0); v != math.Trunc(v) || v < 0 || v >= float64(classes) {
				return nil, fmt.Errorf("data: Y row %d is %v, want a class index in [0, %d): %w", i, v, classes, ErrShape)
			}
		}
	}
	return &Feeder{d: d, classes: classes}, nil
}

// Dataset returns the dataset the feeder reads.
func (f *Feeder) Dataset() *Dataset { return f.d }

// Len returns the number of rows of the dataset.
func (f *Feeder) Len() int { return f.d.Len() }

// TargetWidth returns the width of a batch's target rows: the number of
// classes for class-index targets, Y's width otherwise.
func (f *Feeder) TargetWidth() int {
	if f.classes > 0 {
		return f.classes
	}
	return f.d.Targets()
}

// OneHot reports whether batches expand class indices to one-hot rows (Y
// then cannot be read as the targets themselves).
func (f *Feeder) OneHot() bool { return f.classes > 0 }

// Gather writes rows idx of the dataset into the first len(idx) rows of x
// and y, which must have the dataset's dtype, x the dataset's width and y
// TargetWidth columns. It does not allocate.
func (f *Feeder) Gather(x, y *tensor.Dense, idx []int) error {
	if err := Gather(x, f.d.X, idx); err != nil {
		return err
	}
	return f.GatherTargets(y, idx)
}

// GatherTargets writes the target rows idx into the first len(idx) rows of
// y, as Gather does, leaving X alone: a trainer that reads X in place (a
// full batch) needs only its targets expanded.
func (f *Feeder) GatherTargets(y *tensor.Dense, idx []int) error {
	if f.classes == 0 {
		return Gather(y, f.d.Y, idx)
	}
	if err := f.checkTargets(y, len(idx)); err != nil {
		return err
	}
	for _, i := range idx {
		if i < 0 || i >= f.d.Len() {
			return fmt.Errorf("data: row index %d out of range [0, %d): %w", i, f.d.Len(), ErrShape)
		}
	}
	switch y.Dtype() {
	case tensor.Float64:
		oneHotRows(y.Float64s(), f.d.Y.Float64s(), idx, f.classes)
	case tensor.Float32:
		oneHotRows(y.Float32s(), f.d.Y.Float32s(), idx, f.classes)
	}
	return nil
}

// Rows writes rows [lo, hi) of the dataset into the first hi-lo rows of x
// and y, as Gather does for those indices. It does not allocate.
func (f *Feeder) Rows(x, y *tensor.Dense, lo, hi int) error {
	if lo < 0 || hi > f.d.Len() || lo >= hi {
		return fmt.Errorf("data: rows [%d, %d) of %d: %w", lo, hi, f.d.Len(), ErrShape)
	}
	if err := copyRows(x, f.d.X, lo, hi); err != nil {
		return err
	}
	if f.classes == 0 {
		return copyRows(y, f.d.Y, lo, hi)
	}
	if err := f.checkTargets(y, hi-lo); err != nil {
		return err
	}
	switch y.Dtype() {
	case tensor.Float64:
		oneHotRange(y.Float64s(), f.d.Y.Float64s(), lo, hi, f.classes)
	case tensor.Float32:
		oneHotRange(y.Float32s(), f.d.Y.Float32s(), lo, hi, f.classes)
	}
	return nil
}

func (f *Feeder) checkTargets(y *tensor.Dense, rows int) error {
	if err := checkMatrix("targets", y); err != nil {
		return err
	}
	if y.Dtype() != f.d.Y.Dtype() {
		return fmt.Errorf("data: targets into %v from %v: %w", y.Dtype(), f.d.Y.Dtype(), ErrDType)
	}
	if y.Dims() != 2 || y.Shape()[1] != f.classes || y.Shape()[0] < rows {
		return fmt.Errorf("data: %d one-hot rows of %d classes into %v: %w", rows, f.classes, y.Shape(), ErrShape)
	}
	return nil
}

// copyRows copies rows [lo, hi) of src into the first rows of dst.
func copyRows(dst, src *tensor.Dense, lo, hi int) error {
	if err := checkMatrix("copy destination", dst); err != nil {
		return err
	}
	if dst.Dtype() != src.Dtype() {
		return fmt.Errorf("data: copy rows into %v from %v: %w", dst.Dtype(), src.Dtype(), ErrDType)
	}
	cols := src.Shape()[1]
	if dst.Dims() != 2 || dst.Shape()[1] != cols || dst.Shape()[0] < hi-lo {
		return fmt.Errorf("data: copy %d rows of %v into %v: %w", hi-lo, src.Shape(), dst.Shape(), ErrShape)
	}
	switch dst.Dtype() {
	case tensor.Float64:
		copy(dst.Float64s(), src.Float64s()[lo*cols:hi*cols])
	case tensor.Float32:
		copy(dst.Float32s(), src.Float32s()[lo*cols:hi*cols])
	default:
		return fmt.Errorf("data: copy rows of %v: %w", dst.Dtype(), ErrDType)
	}
	return nil
}

func oneHotRows[T float32 | float64](dst, labels []T, idx []int, k int) {
	clear(dst[:len(idx)*k])
	for r, i := range idx {
		dst[r*k+int(labels[i])] = 1
	}
}

func oneHotRange[T float32 | float64](dst, labels []T, lo, hi, k int) {
	clear(dst[:(hi-lo)*k])
	for i := lo; i < hi; i++ {
		dst[(i-lo)*k+int(labels[i])] = 1
	}
}
