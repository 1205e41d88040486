package data

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// Slice returns a copy of rows [lo, hi) of d. It fails unless
// 0 <= lo < hi <= d.Len().
func (d *Dataset) Slice(lo, hi int) (*Dataset, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if lo < 0 || hi > d.Len() || lo >= hi {
		return nil, fmt.Errorf("data: slice [%d, %d) of %d rows: %w", lo, hi, d.Len(), ErrShape)
	}
	idx := make([]int, hi-lo)
	for i := range idx {
		idx[i] = lo + i
	}
	return d.Subset(idx)
}

// Subset returns a copy of rows idx of d, in that order; an index may repeat
// (as in a bootstrap sample). idx must be non-empty and every index in
// [0, d.Len()).
func (d *Dataset) Subset(idx []int) (*Dataset, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("data: subset of no rows: %w", ErrEmpty)
	}
	x, err := zeros(d.X.Dtype(), len(idx), d.Features())
	if err != nil {
		return nil, err
	}
	y, err := zeros(d.Y.Dtype(), len(idx), d.Targets())
	if err != nil {
		return nil, err
	}
	if err := Gather(x, d.X, idx); err != nil {
		return nil, err
	}
	if err := Gather(y, d.Y, idx); err != nil {
		return nil, err
	}
	return &Dataset{X: x, Y: y}, nil
}

// splitAt returns the number of training rows when the fraction f of n rows
// is held out for validation, with Keras's rounding: floor(n * (1 - f)).
func splitAt(n int, f float64) (int, error) {
	if !(f > 0 && f < 1) {
		return 0, fmt.Errorf("data: validation fraction %v, want 0 < fraction < 1", f)
	}
	at := int(math.Floor(float64(n) * (1 - f)))
	if at <= 0 || at >= n {
		return 0, fmt.Errorf("data: validation fraction %v of %d rows leaves %d training and %d validation rows: %w", f, n, at, n-at, ErrEmpty)
	}
	return at, nil
}

// ValidationSplit holds out the last fraction of the rows, unshuffled, as
// Keras's fit(validation_split=fraction) does: train is the first
// floor(n*(1-fraction)) rows and val the rest, both copies. Both must be
// non-empty. Shuffle first (or use Split) if the rows are ordered by class.
func (d *Dataset) ValidationSplit(fraction float64) (train, val *Dataset, err error) {
	if err := d.check(); err != nil {
		return nil, nil, err
	}
	at, err := splitAt(d.Len(), fraction)
	if err != nil {
		return nil, nil, err
	}
	if train, err = d.Slice(0, at); err != nil {
		return nil, nil, err
	}
	if val, err = d.Slice(at, d.Len()); err != nil {
		return nil, nil, err
	}
	return train, val, nil
}

// Split shuffles the rows with a permutation drawn from seed and holds out
// the last fraction of them for validation, as scikit-learn's
// train_test_split(test_size=fraction, random_state=seed) does, with the
// sizes of ValidationSplit: train has floor(n*(1-fraction)) rows. The same
// seed gives the same split (with a *rand.Rand at hand, pass rng.Uint64()).
// Both are copies; d is not modified.
func (d *Dataset) Split(fraction float64, seed uint64) (train, val *Dataset, err error) {
	if err := d.check(); err != nil {
		return nil, nil, err
	}
	at, err := splitAt(d.Len(), fraction)
	if err != nil {
		return nil, nil, err
	}
	perm := permutation(d.Len(), seed)
	if train, err = d.Subset(perm[:at]); err != nil {
		return nil, nil, err
	}
	if val, err = d.Subset(perm[at:]); err != nil {
		return nil, nil, err
	}
	return train, val, nil
}

// Shuffle returns a copy of d with its rows in an order drawn from seed; d
// is not modified. The same seed gives the same order, the one Split uses.
func (d *Dataset) Shuffle(seed uint64) (*Dataset, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return d.Subset(permutation(d.Len(), seed))
}

// permutation returns rng.Perm(n) for a PCG source seeded with seed and a
// stream constant of this package, so that a seed used elsewhere for
// something else does not give correlated draws.
func permutation(n int, seed uint64) []int {
	return rand.New(rand.NewPCG(seed, 0x5_1e_d5_17)).Perm(n)
}

// To returns a copy of d converted to dtype dt (float32 or float64; the
// zero Dtype means float64). It always copies, even when dt is d's dtype.
// Converting float64 to float32 fails if a value overflows float32.
func (d *Dataset) To(dt tensor.Dtype) (*Dataset, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if dt.Type == nil {
		dt = tensor.Float64
	}
	if err := checkFloat(dt); err != nil {
		return nil, err
	}
	x, err := convert(d.X, dt)
	if err != nil {
		return nil, fmt.Errorf("data: X: %w", err)
	}
	y, err := convert(d.Y, dt)
	if err != nil {
		return nil, fmt.Errorf("data: Y: %w", err)
	}
	return &Dataset{X: x, Y: y}, nil
}

// convert copies the float matrix t into a new tensor of dtype dt.
func convert(t *tensor.Dense, dt tensor.Dtype) (*tensor.Dense, error) {
	vals := float64s(t)
	if dt == tensor.Float32 {
		for i, v := range vals {
			if math.IsInf(float64(float32(v)), 0) {
				cols := t.Shape()[1]
				return nil, fmt.Errorf("row %d column %d is %v, beyond float32: %w", i/cols, i%cols, v, ErrNotFinite)
			}
		}
	}
	return FromFloat64s(vals, dt, t.Shape()[0], t.Shape()[1])
}

// float64s returns the values of t, a matrix checkMatrix accepts, as
// float64s: t's own backing slice if t is float64 (do not modify it), a new
// slice otherwise.
func float64s(t *tensor.Dense) []float64 {
	n := t.Shape().TotalSize()
	if t.Dtype() == tensor.Float32 {
		f := make([]float64, n)
		for i, v := range t.Float32s()[:n] {
			f[i] = float64(v)
		}
		return f
	}
	return t.Float64s()[:n]
}

// OneHot returns the [len(labels), classes] one-hot encoding of the class
// indices labels in dtype dt (the zero Dtype means float64): row i is 1 in
// column labels[i] and 0 elsewhere. Every label must be in [0, classes).
func OneHot(labels []int, classes int, dt tensor.Dtype) (*tensor.Dense, error) {
	if dt.Type == nil {
		dt = tensor.Float64
	}
	if err := checkFloat(dt); err != nil {
		return nil, err
	}
	if len(labels) == 0 || classes <= 0 {
		return nil, fmt.Errorf("data: one-hot of %d labels into %d classes: %w", len(labels), classes, ErrEmpty)
	}
	if classes > math.MaxInt/8/len(labels) {
		return nil, fmt.Errorf("data: one-hot of %d labels into %d classes: too large: %w", len(labels), classes, ErrShape)
	}
	for i, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("data: label %d is %d, want 0 <= label < %d classes", i, l, classes)
		}
	}
	t, err := zeros(dt, len(labels), classes)
	if err != nil {
		return nil, err
	}
	if dt == tensor.Float32 {
		oneHot(t.Float32s(), labels, classes)
	} else {
		oneHot(t.Float64s(), labels, classes)
	}
	return t, nil
}

// ArgMax returns, for each row of the float matrix t ([n, k]), the column of
// its largest value (the first one on ties): the inverse of OneHot, and the
// predicted class of a row of scores or probabilities.
func ArgMax(t *tensor.Dense) ([]int, error) {
	if err := checkMatrix("argmax", t); err != nil {
		return nil, err
	}
	n, k := t.Shape()[0], t.Shape()[1]
	out := make([]int, n)
	if t.Dtype() == tensor.Float32 {
		argmax(out, t.Float32s()[:n*k], k)
	} else {
		argmax(out, t.Float64s()[:n*k], k)
	}
	return out, nil
}

func oneHot[T float32 | float64](s []T, labels []int, classes int) {
	for i, l := range labels {
		s[i*classes+l] = 1
	}
}

func argmax[T float32 | float64](out []int, s []T, k int) {
	for i := range out {
		row := s[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
}

// Labels returns the class index of every row of d: Y itself if Y is one
// column of non-negative integers, the argmax of each row if Y has several
// columns (one-hot or scores). A one-hot encoding of a single class is one
// column of ones, which Labels reads as class 1: use ArgMax for it.
func (d *Dataset) Labels() ([]int, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if d.Targets() > 1 {
		return ArgMax(d.Y)
	}
	vals := float64s(d.Y)
	out := make([]int, len(vals))
	for i, v := range vals {
		if v < 0 || v != math.Trunc(v) || v > math.MaxInt32 {
			return nil, fmt.Errorf("data: Y row %d is %v, want a class index (an integer >= 0)", i, v)
		}
		out[i] = int(v)
	}
	return out, nil
}

// OneHot returns a copy of d whose Y, one column of class indices in
// [0, classes), is replaced by its [n, classes] one-hot encoding. X is
// shared with d, not copied.
func (d *Dataset) OneHot(classes int) (*Dataset, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if d.Targets() != 1 {
		return nil, fmt.Errorf("data: one-hot of Y with %d columns, want 1 column of class indices: %w", d.Targets(), ErrShape)
	}
	labels, err := d.Labels()
	if err != nil {
		return nil, err
	}
	y, err := OneHot(labels, classes, d.Y.Dtype())
	if err != nil {
		return nil, err
	}
	return &Dataset{X: d.X, Y: y}, nil
}

// errNilRand reports a nil *rand.Rand where randomness is needed.
var errNilRand = errors.New("rng is nil, want a seeded *rand.Rand")
