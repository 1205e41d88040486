package data

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// Scaling names the statistics a Scaler fits.
type Scaling int

const (
	// Standardize maps each column to zero mean and unit variance:
	// (x - mean) / std, std being the population standard deviation.
	Standardize Scaling = iota
	// MinMax maps each column into [0, 1]: (x - min) / (max - min).
	MinMax
)

// String returns "standardize" or "minmax".
func (s Scaling) String() string {
	switch s {
	case Standardize:
		return "standardize"
	case MinMax:
		return "minmax"
	}
	return fmt.Sprintf("Scaling(%d)", int(s))
}

// Scaler rescales the columns of a matrix with statistics fitted on another
// one, so that validation and test data are scaled with the training set's
// statistics. On datasets, whose features (X) it scales, that is two calls:
//
//	var s data.Scaler // standardisation
//	train, err := s.FitTransformDataset(train) // fits on train.X only
//	...
//	test, err = s.TransformDataset(test)
//
// and on matrices Fit, Transform, FitTransform and Inverse (which maps
// scaled values, such as predictions of a scaled target, back).
//
// Transform computes (x - Shift[j]) / Scale[j] for every value x of column j.
// A constant column (zero variance, or max == min) gets Scale 1, so it
// becomes all zeros instead of NaN.
type Scaler struct {
	// Method is the scaling Fit computes. The zero value is Standardize.
	Method Scaling
	// Shift and Scale hold one value per column. Fit sets them; they may
	// also be set by hand. Every Scale must be finite and non-zero.
	Shift, Scale []float64
}

// Fit computes the scaler's statistics from the columns of x, a float32 or
// float64 matrix ([n, columns], n >= 1), in float64 arithmetic. x is not
// modified.
func (s *Scaler) Fit(x *tensor.Dense) error {
	if err := checkMatrix("scaler fit", x); err != nil {
		return err
	}
	if s.Method != Standardize && s.Method != MinMax {
		return fmt.Errorf("data: scaler method %v is unknown, want Standardize or MinMax", s.Method)
	}
	n, cols := x.Shape()[0], x.Shape()[1]
	vals := float64s(x)
	lo := make([]float64, cols)
	hi := make([]float64, cols)
	copy(lo, vals[:cols])
	copy(hi, vals[:cols])
	mean := make([]float64, cols)
	for i := 0; i < n; i++ {
		for j, v := range vals[i*cols : (i+1)*cols] {
			lo[j] = min(lo[j], v)
			hi[j] = max(hi[j], v)
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	shift, scale := make([]float64, cols), make([]float64, cols)
	switch s.Method {
	case MinMax:
		for j := range cols {
			shift[j], scale[j] = lo[j], hi[j]-lo[j]
		}
	case Standardize:
		// Two passes (mean, then squared deviations) for accuracy.
		for i := 0; i < n; i++ {
			for j, v := range vals[i*cols : (i+1)*cols] {
				dv := v - mean[j]
				scale[j] += dv * dv
			}
		}
		for j := range cols {
			shift[j], scale[j] = mean[j], math.Sqrt(scale[j]/float64(n))
		}
	}
	for j := range cols {
		// Compare the extremes rather than the computed spread: a constant
		// column can have a tiny non-zero variance from rounding.
		if lo[j] == hi[j] || scale[j] == 0 {
			scale[j] = 1
		}
		if math.IsInf(scale[j], 0) || math.IsNaN(scale[j]) || math.IsInf(shift[j], 0) || math.IsNaN(shift[j]) {
			return fmt.Errorf("data: fit column %d: statistics not finite: %w", j, ErrNotFinite)
		}
	}
	s.Shift, s.Scale = shift, scale
	return nil
}

// Transform returns a new tensor of x's dtype holding x scaled column by
// column; x is not modified. x must have as many columns as the scaler.
func (s *Scaler) Transform(x *tensor.Dense) (*tensor.Dense, error) {
	return s.apply("transform", x, false)
}

// Inverse undoes Transform: it returns a new tensor holding
// x*Scale[j] + Shift[j] column by column, such as predictions mapped back to
// the units of the original targets.
func (s *Scaler) Inverse(x *tensor.Dense) (*tensor.Dense, error) {
	return s.apply("inverse", x, true)
}

// FitTransform fits the scaler on x and returns x transformed.
func (s *Scaler) FitTransform(x *tensor.Dense) (*tensor.Dense, error) {
	if err := s.Fit(x); err != nil {
		return nil, err
	}
	return s.Transform(x)
}

// FitTransformDataset fits the scaler on the features of d (d.X) and
// returns a new dataset holding them scaled, with d's targets: its Y is
// d.Y, shared, not copied. d is not modified.
func (s *Scaler) FitTransformDataset(d *Dataset) (*Dataset, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if err := s.Fit(d.X); err != nil {
		return nil, err
	}
	return s.TransformDataset(d)
}

// TransformDataset returns a new dataset holding the features of d scaled
// with the fitted statistics, and d's targets (Y is d.Y, shared, not
// copied). d is not modified and must have as many features as the scaler
// has columns.
func (s *Scaler) TransformDataset(d *Dataset) (*Dataset, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	x, err := s.Transform(d.X)
	if err != nil {
		return nil, err
	}
	return &Dataset{X: x, Y: d.Y}, nil
}

func (s *Scaler) apply(op string, x *tensor.Dense, inverse bool) (*tensor.Dense, error) {
	if err := checkMatrix("scaler "+op, x); err != nil {
		return nil, err
	}
	cols := x.Shape()[1]
	if len(s.Shift) != cols || len(s.Scale) != cols {
		return nil, fmt.Errorf("data: %s %d columns with a scaler of %d shifts and %d scales (not fitted?): %w", op, cols, len(s.Shift), len(s.Scale), ErrShape)
	}
	for j, v := range s.Scale {
		if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) || math.IsInf(s.Shift[j], 0) || math.IsNaN(s.Shift[j]) {
			return nil, fmt.Errorf("data: %s: column %d has shift %v and scale %v, want finite values and a non-zero scale", op, j, s.Shift[j], v)
		}
	}
	rows := x.Shape()[0]
	out, err := zeros(x.Dtype(), rows, cols)
	if err != nil {
		return nil, err
	}
	if x.Dtype() == tensor.Float32 {
		scaleInto(out.Float32s(), x.Float32s()[:rows*cols], s.Shift, s.Scale, inverse)
	} else {
		scaleInto(out.Float64s(), x.Float64s()[:rows*cols], s.Shift, s.Scale, inverse)
	}
	return out, nil
}

func scaleInto[T float32 | float64](dst, src []T, shift, scale []float64, inverse bool) {
	cols := len(shift)
	for i := 0; i < len(src); i += cols {
		for j := range cols {
			v := float64(src[i+j])
			if inverse {
				v = v*scale[j] + shift[j]
			} else {
				v = (v - shift[j]) / scale[j]
			}
			dst[i+j] = T(v)
		}
	}
}
