package data

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gorgonia.org/tensor"
)

// ParseError is the error a reader returns for malformed input: where in
// which source, and what. Err is the underlying error, such as ErrShape for a
// ragged row, ErrNotFinite for NaN or Inf, or a *csv.ParseError.
type ParseError struct {
	// Source names the input, such as a file name.
	Source string
	// Line is the 1-based line of the input.
	Line int
	// Column is the 1-based field number (not a byte offset), or 0 when the
	// error concerns the whole line.
	Column int
	// Err is what is wrong.
	Err error
}

// Error returns "data: source:line:column: err", leaving out a zero column.
func (e *ParseError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("data: %s:%d:%d: %v", e.Source, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("data: %s:%d: %v", e.Source, e.Line, e.Err)
}

// Unwrap returns Err.
func (e *ParseError) Unwrap() error { return e.Err }

// CSVOptions configures ReadCSV. The zero value reads a headerless,
// comma-separated file of numbers whose last column is the (numeric) target,
// into float64.
type CSVOptions struct {
	// Source names the input in errors. If empty, it is "csv"; ReadCSVFile
	// sets it to the file's base name.
	Source string
	// Comma is the field delimiter. If zero, it is ','.
	Comma rune
	// Comment, if not zero, starts a comment line (see csv.Reader).
	Comment rune
	// Header reports that the first record holds the column names.
	Header bool
	// TargetNames selects the target columns by header name (Header must
	// be set). It may not be used together with TargetColumns.
	TargetNames []string
	// TargetColumns selects the target columns by 0-based index; a
	// negative index counts from the end (-1 is the last column). If both
	// TargetNames and TargetColumns are empty, the last column is the
	// target. Every other column is a feature and must be numeric.
	TargetColumns []int
	// Class reports that the (single) target column holds class labels,
	// integers or strings, which become class indices 0..k-1 in Y. Unless
	// Classes is given, the classes are the distinct labels sorted
	// (numerically if every label is an integer, else as strings), so
	// integer labels 0..k-1 keep their values when all of them occur.
	Class bool
	// Classes, with Class, fixes the class names, Classes[k] being the
	// label of class k; a label not in it is an error. Pass the Classes of
	// the training file's Table when reading its test file, so that both
	// use the same indices.
	Classes []string
	// OneHot, with Class, makes Y the [n, classes] one-hot encoding of
	// the class indices instead of one column of indices.
	OneHot bool
	// DType is the dtype of the dataset, float32 or float64. If zero, it is
	// float64.
	DType tensor.Dtype
}

// Table is what ReadCSV read: the dataset and what its columns were.
type Table struct {
	// Data holds the features in X and the targets in Y, in file order.
	Data *Dataset
	// Features and Targets are the header names of the columns of X and Y;
	// nil without a header.
	Features, Targets []string
	// FeatureColumns and TargetColumns are the 0-based file columns of the
	// columns of X and Y.
	FeatureColumns, TargetColumns []int
	// Classes, with CSVOptions.Class, names the classes: Classes[k] is the
	// label that became class index k.
	Classes []string
}

// ReadCSVFile reads the CSV file at path with ReadCSV. opts.Source defaults
// to the file's base name.
func ReadCSVFile(path string, opts CSVOptions) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	if opts.Source == "" {
		opts.Source = filepath.Base(path)
	}
	return ReadCSV(f, opts)
}

// ReadCSV reads a CSV table of numeric features and numeric or class targets
// (see CSVOptions) with encoding/csv. Empty lines are skipped and spaces
// around a number are ignored. Every record must have the same number of
// fields. Malformed input (a field that is not a number, NaN or Inf, a
// ragged row, no data rows) is reported as a *ParseError with the line and
// field. It reads the whole input into memory: the cost is about
// 8 bytes per value plus the size of the strings of a class column.
func ReadCSV(r io.Reader, opts CSVOptions) (*Table, error) {
	src := cmp.Or(opts.Source, "csv")
	dt := opts.DType
	if dt.Type == nil {
		dt = tensor.Float64
	}
	if err := checkFloat(dt); err != nil {
		return nil, err
	}
	if len(opts.TargetNames) > 0 && len(opts.TargetColumns) > 0 {
		return nil, errors.New("data: csv: TargetNames and TargetColumns are both set, want one of them")
	}
	if len(opts.TargetNames) > 0 && !opts.Header {
		return nil, errors.New("data: csv: TargetNames needs Header")
	}
	if (opts.OneHot || opts.Classes != nil) && !opts.Class {
		return nil, errors.New("data: csv: OneHot and Classes need Class")
	}
	var given map[string]int // opts.Classes, indexed
	if opts.Classes != nil {
		given = make(map[string]int, len(opts.Classes))
		for k, c := range opts.Classes {
			if _, dup := given[c]; dup {
				return nil, fmt.Errorf("data: csv: class %q listed twice in Classes", c)
			}
			given[c] = k
		}
		if len(given) == 0 {
			return nil, fmt.Errorf("data: csv: Classes is empty: %w", ErrEmpty)
		}
	}
	cr := csv.NewReader(r)
	cr.Comma = cmp.Or(opts.Comma, ',')
	cr.Comment = opts.Comment
	cr.FieldsPerRecord = -1 // checked here, to report the field count
	cr.ReuseRecord = true

	var (
		width    = -1
		tab      = &Table{}
		isTarget []bool
		xs, ys   []float64
		labels   []string // class labels, one per row
		rows     int
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &ParseError{Source: src, Line: pe.Line, Err: pe.Err}
			}
			return nil, fmt.Errorf("data: %s: %w", src, err)
		}
		line, _ := cr.FieldPos(0)
		if width < 0 {
			width = len(rec)
			if isTarget, err = tab.columns(rec, opts); err != nil {
				return nil, &ParseError{Source: src, Line: line, Err: err}
			}
			if opts.Header {
				continue
			}
		}
		if len(rec) != width {
			return nil, &ParseError{Source: src, Line: line, Err: fmt.Errorf("%d fields, want %d: %w", len(rec), width, ErrShape)}
		}
		rows++
		for j, field := range rec {
			if opts.Class && isTarget[j] {
				l := strings.TrimSpace(field)
				err := error(nil)
				if l == "" {
					err = errors.New("empty class label")
				} else if _, ok := given[l]; !ok && given != nil {
					err = fmt.Errorf("label %q is not one of the %d classes", l, len(given))
				}
				if err != nil {
					line, _ := cr.FieldPos(j)
					return nil, &ParseError{Source: src, Line: line, Column: j + 1, Err: err}
				}
				labels = append(labels, l)
				continue
			}
			v, err := parseNumber(field, dt)
			if err != nil {
				line, _ := cr.FieldPos(j)
				return nil, &ParseError{Source: src, Line: line, Column: j + 1, Err: err}
			}
			if isTarget[j] {
				ys = append(ys, v)
			} else {
				xs = append(xs, v)
			}
		}
	}
	if rows == 0 {
		return nil, fmt.Errorf("data: %s: no data rows: %w", src, ErrEmpty)
	}
	nx, ny := len(tab.FeatureColumns), len(tab.TargetColumns)
	if opts.Class {
		classes := slices.Clone(opts.Classes)
		if given == nil {
			classes = sortedClasses(labels)
			given = make(map[string]int, len(classes))
			for k, c := range classes {
				given[c] = k
			}
		}
		idx := make([]int, len(labels))
		for i, l := range labels {
			idx[i] = given[l]
		}
		tab.Classes = classes
		if opts.OneHot {
			y, err := OneHot(idx, len(classes), dt)
			if err != nil {
				return nil, fmt.Errorf("data: %s: %w", src, err)
			}
			x, err := FromFloat64s(xs, dt, rows, nx)
			if err != nil {
				return nil, fmt.Errorf("data: %s: %w", src, err)
			}
			tab.Data = &Dataset{X: x, Y: y}
			return tab, nil
		}
		ys = make([]float64, len(idx))
		for i, k := range idx {
			ys[i] = float64(k)
		}
	}
	x, err := FromFloat64s(xs, dt, rows, nx)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", src, err)
	}
	y, err := FromFloat64s(ys, dt, rows, ny)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", src, err)
	}
	tab.Data = &Dataset{X: x, Y: y}
	return tab, nil
}

// columns decides which columns of the first record rec are targets, fills
// in tab's column lists and names, and returns the target mask.
func (tab *Table) columns(rec []string, opts CSVOptions) ([]bool, error) {
	width := len(rec)
	isTarget := make([]bool, width)
	var targets []int
	switch {
	case len(opts.TargetNames) > 0:
		for _, name := range opts.TargetNames {
			j := slices.IndexFunc(rec, func(h string) bool { return strings.TrimSpace(h) == name })
			if j < 0 {
				return nil, fmt.Errorf("target column %q not in the header", name)
			}
			targets = append(targets, j)
		}
	case len(opts.TargetColumns) > 0:
		for _, j := range opts.TargetColumns {
			k := j
			if k < 0 {
				k += width
			}
			if k < 0 || k >= width {
				return nil, fmt.Errorf("target column %d out of range for %d columns: %w", j, width, ErrShape)
			}
			targets = append(targets, k)
		}
	default:
		targets = []int{width - 1}
	}
	for _, j := range targets {
		if isTarget[j] {
			return nil, fmt.Errorf("target column %d selected twice", j)
		}
		isTarget[j] = true
	}
	if opts.Class && len(targets) != 1 {
		return nil, fmt.Errorf("class target needs exactly one target column, got %d", len(targets))
	}
	if len(targets) == width {
		return nil, fmt.Errorf("every one of the %d columns is a target, no feature left: %w", width, ErrEmpty)
	}
	// Targets in file order, so that Y's columns follow the file.
	slices.Sort(targets)
	tab.TargetColumns = targets
	for j := range width {
		if !isTarget[j] {
			tab.FeatureColumns = append(tab.FeatureColumns, j)
		}
	}
	if opts.Header {
		for _, j := range tab.FeatureColumns {
			tab.Features = append(tab.Features, strings.TrimSpace(rec[j]))
		}
		for _, j := range tab.TargetColumns {
			tab.Targets = append(tab.Targets, strings.TrimSpace(rec[j]))
		}
	}
	return isTarget, nil
}

// parseNumber parses a finite number representable in dt.
func parseNumber(field string, dt tensor.Dtype) (float64, error) {
	s := strings.TrimSpace(field)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) && math.IsInf(v, 0) {
			return 0, fmt.Errorf("%q overflows float64: %w", s, ErrNotFinite)
		}
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q: %w", s, ErrNotFinite)
	}
	if dt == tensor.Float32 && math.IsInf(float64(float32(v)), 0) {
		return 0, fmt.Errorf("%q overflows float32: %w", s, ErrNotFinite)
	}
	return v, nil
}

// sortedClasses returns the distinct labels sorted, numerically if every
// one is an integer, else as strings.
func sortedClasses(labels []string) []string {
	var classes []string
	seen := make(map[string]bool)
	for _, l := range labels {
		if !seen[l] {
			seen[l] = true
			classes = append(classes, l)
		}
	}
	for _, c := range classes {
		if _, err := strconv.ParseInt(c, 10, 64); err != nil {
			slices.Sort(classes)
			return classes
		}
	}
	slices.SortFunc(classes, func(a, b string) int {
		x, _ := strconv.ParseInt(a, 10, 64)
		y, _ := strconv.ParseInt(b, 10, 64)
		return cmp.Or(cmp.Compare(x, y), strings.Compare(a, b))
	})
	return classes
}
