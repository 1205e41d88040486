package data

import (
	"bytes"
	"cmp"
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
// ragged row, ErrNotFinite for NaN or Inf, ErrLimit for a field or line
// beyond CSVOptions' limits, or csv.ErrQuote and csv.ErrBareQuote (of
// encoding/csv) for misplaced quotes.
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

// Default limits of CSVOptions.
const (
	// DefaultMaxFieldBytes is the default CSVOptions.MaxFieldBytes: 64 KiB,
	// bufio.Scanner's default token limit. A number takes a few dozen
	// bytes; a longer field is usually a quote that was never closed, or
	// not a CSV file at all.
	DefaultMaxFieldBytes = 64 << 10
	// DefaultMaxFields is the default CSVOptions.MaxFields: 1,048,576
	// fields per record, more than any table we know of but SNP panels (a
	// million markers: raise the limit for them). A longer line is almost
	// always a file whose line endings were not recognised, or not a table,
	// and is better refused after a few megabytes than parsed into one
	// example of millions of features.
	DefaultMaxFields = 1 << 20
	// DefaultMaxClasses is the default CSVOptions.MaxClasses: 65,536
	// distinct labels, three times ImageNet-21k's class count. More are
	// usually a column of identifiers or values read as class labels.
	DefaultMaxClasses = 1 << 16
)

// CSVOptions configures ReadCSV. The zero value reads a headerless,
// comma-separated file of numbers whose last column is the (numeric) target,
// into float64.
type CSVOptions struct {
	// Source names the input in errors. If empty, it is "csv"; ReadCSVFile
	// sets it to the file's base name.
	Source string
	// Comma is the field delimiter. If zero, it is ','. It may be any rune
	// but '"', '\r' and '\n', as in encoding/csv.
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
	// the class indices instead of one column of indices. So that a short
	// file of many distinct labels cannot ask for n*classes values beyond
	// reason, that Y may take at most 64 MiB more than twice the input's
	// size; beyond, ReadCSV fails (wrapping ErrLimit) and class indices
	// with a sparse loss are the way.
	OneHot bool
	// DType is the dtype of the dataset, float32 or float64. If zero, it is
	// float64. Values are parsed in float64 and stored in DType directly,
	// so a float32 model takes the data with no conversion step (a value
	// beyond float32's range is an error).
	DType tensor.Dtype
	// MaxFieldBytes caps the length of a field, quotes removed; a longer
	// one is an error wrapping ErrLimit. If zero, it is
	// DefaultMaxFieldBytes (64 KiB).
	MaxFieldBytes int
	// MaxFields caps the number of fields of a record; a record with more
	// is an error wrapping ErrLimit, given once that many fields have been
	// read (about 9 MB of numbers). If zero, it is DefaultMaxFields
	// (1,048,576). Raised, a longer line is parsed in memory proportional
	// to it (see ReadCSV).
	MaxFields int
	// MaxClasses, with Class, caps the number of distinct labels; more are
	// an error wrapping ErrLimit. If zero, it is DefaultMaxClasses
	// (65,536).
	MaxClasses int
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
// (see CSVOptions). Fields are split as encoding/csv splits them (quoted
// fields may hold delimiters, quotes doubled and line breaks; "\r\n" ends a
// line like "\n"), empty lines are skipped, a leading UTF-8 byte order mark
// is dropped and spaces around a number or label are ignored. Every record
// must have the same number of fields. Malformed input (a field that is not
// a number, NaN or Inf, a ragged row, no data rows, a field or record
// beyond the limits of opts) is reported as a *ParseError with the line and
// field, quoting at most 40 bytes of the field, and with a hint when the
// first line looks like a header or a target like a class label.
//
// Memory: the parser makes no string per field: it reads through a 64 KiB
// buffer and holds a field only while parsing it (at most MaxFieldBytes).
// It reads the input twice, once to check everything and count the rows,
// then straight into X and Y allocated at their final size: 8 bytes per
// value in float64, 4 in float32. When r can seek (an *os.File of a regular
// file, *bytes.Reader, *strings.Reader), it is read again from its offset
// at the call; otherwise (a pipe, a network body) the first pass keeps what
// it reads, in chunks of up to 1 MiB, and the second reads that copy. The
// cost is then the result, plus the input's size for a stream, plus about
// 200 KB, about 40 bytes per column and the header names and distinct
// class labels; a bad input is rejected by the first pass, before X and Y
// exist, having cost nothing in proportion to its size from a file and its
// size from a stream. Measured with BenchmarkReadCSV on 5 million float64
// values (a 45 MB input): 1,000,000 rows of 5 columns allocate 8.02 bytes
// per value from a file and 17.0 from a stream, 100 rows of 50,000 columns
// 8.47 and 17.5. The first record is kept until it ends, as its width
// decides the columns: about 15 bytes per field, and up to 50 when
// MaxFields is raised for a line of millions of fields.
func ReadCSV(r io.Reader, opts CSVOptions) (*Table, error) {
	cfg, err := opts.config()
	if err != nil {
		return nil, err
	}
	start := int64(-1)
	if sk, ok := r.(io.Seeker); ok {
		if off, err := sk.Seek(0, io.SeekCurrent); err == nil {
			start = off
		}
	}
	if start < 0 {
		r, start = &spool{r: r}, 0
	}
	if cfg.dt == tensor.Float32 {
		return readCSV[float32](r, start, cfg)
	}
	return readCSV[float64](r, start, cfg)
}

// csvConfig is CSVOptions checked, with its defaults in place.
type csvConfig struct {
	CSVOptions
	src   string
	dt    tensor.Dtype
	given map[string]int // Classes, indexed; nil if not given
}

func (opts CSVOptions) config() (*csvConfig, error) {
	cfg := &csvConfig{CSVOptions: opts, src: cmp.Or(opts.Source, "csv"), dt: opts.DType}
	if cfg.dt.Type == nil {
		cfg.dt = tensor.Float64
	}
	if err := checkFloat(cfg.dt); err != nil {
		return nil, err
	}
	cfg.Comma = cmp.Or(opts.Comma, ',')
	if !validDelim(cfg.Comma) {
		return nil, fmt.Errorf("data: csv: Comma %q is not a valid delimiter (it may not be '\"', '\\r', '\\n' or an invalid rune)", cfg.Comma)
	}
	if opts.Comment != 0 && (!validDelim(opts.Comment) || opts.Comment == cfg.Comma) {
		return nil, fmt.Errorf("data: csv: Comment %q is not a valid comment character (it may not be the delimiter, '\"', '\\r', '\\n' or an invalid rune)", opts.Comment)
	}
	for _, lim := range []struct {
		name string
		v    *int
		def  int
	}{{"MaxFieldBytes", &cfg.MaxFieldBytes, DefaultMaxFieldBytes}, {"MaxFields", &cfg.MaxFields, DefaultMaxFields}, {"MaxClasses", &cfg.MaxClasses, DefaultMaxClasses}} {
		if *lim.v < 0 {
			return nil, fmt.Errorf("data: csv: %s %d is negative, want 0 (the default, %d) or a positive limit", lim.name, *lim.v, lim.def)
		}
		if *lim.v == 0 {
			*lim.v = lim.def
		}
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
	if opts.Classes != nil {
		cfg.given = make(map[string]int, len(opts.Classes))
		for k, c := range opts.Classes {
			if _, dup := cfg.given[c]; dup {
				return nil, fmt.Errorf("data: csv: class %q listed twice in Classes", c)
			}
			cfg.given[c] = k
		}
		if len(cfg.given) == 0 {
			return nil, fmt.Errorf("data: csv: Classes is empty: %w", ErrEmpty)
		}
	}
	return cfg, nil
}

// Kinds of CSV column.
const (
	colFeature = iota
	colTarget  // a numeric target
	colClass   // the class label target
)

// csvLoad is one ReadCSV in progress: the columns, the classes met, and
// where values go. It reads the input twice: counting (everything is
// checked, nothing stored), then direct (values written into X and Y at
// their place).
type csvLoad[T float32 | float64] struct {
	cfg  *csvConfig
	tab  *Table
	scan *csvScanner
	mode int

	width  int     // fields per record, -1 before the first
	kind   []uint8 // per column: colFeature, colTarget or colClass
	index  []int32 // per column: its column in X or Y
	nx, ny int     // columns of X and of Y (1 for a class target, before one-hot)

	rows      int  // data rows done
	max       int  // direct mode: the rows counted by the first pass
	firstData bool // the current record is the input's first (hint: a header?)

	// The first record, kept until its width is known: field bytes,
	// their ends in raw, its line, and the lines of its fields if any
	// starts on a later line (after a quoted line break), else nil.
	raw   []byte
	ends  []int32
	line  int
	lines []int32

	ids    map[string]int // class label to id: first-seen order, or Classes' index
	labels []string       // class labels by id
	rank   []int          // class index of each id, once known
	k      int            // number of classes, once known

	x, y []T // direct mode: X and Y
}

const (
	modeCount = iota
	modeDirect
)

func readCSV[T float32 | float64](r io.Reader, start int64, cfg *csvConfig) (*Table, error) {
	l := &csvLoad[T]{
		cfg:   cfg,
		tab:   &Table{},
		scan:  newCSVScanner(r, cfg.Comma, cfg.Comment, cfg.MaxFieldBytes, cfg.MaxFields, cfg.src),
		width: -1,
		mode:  modeCount,
	}
	if cfg.Class {
		l.ids = make(map[string]int)
		if cfg.given != nil {
			l.ids = cfg.given
			l.labels = cfg.Classes
		}
	}
	if err := l.pass(); err != nil {
		return nil, err
	}
	if l.rows == 0 {
		return nil, fmt.Errorf("data: %s: no data rows: %w", cfg.src, ErrEmpty)
	}
	l.classes()
	if cfg.OneHot {
		size := int64(cfg.dt.Size())
		if limit := 64<<20 + 2*l.scan.total; l.k > 0 && int64(l.rows) > limit/size/int64(l.k) {
			return nil, fmt.Errorf("data: %s: one-hot Y of %d rows and %d classes would take %d bytes, more than the %d allowed for an input of %d bytes; read class indices instead (OneHot false): %w",
				cfg.src, l.rows, l.k, int64(l.rows)*int64(l.k)*size, limit, l.scan.total, ErrLimit)
		}
	}
	// Second pass, straight into X and Y.
	if _, err := r.(io.Seeker).Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("data: %s: rewinding for the second pass: %w", cfg.src, err)
	}
	ny := l.ny
	if cfg.OneHot {
		ny = l.k
	}
	x, err := zeros(cfg.dt, l.rows, l.nx)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", cfg.src, err)
	}
	y, err := zeros(cfg.dt, l.rows, ny)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", cfg.src, err)
	}
	l.x, l.y = tensorSlice[T](x), tensorSlice[T](y)
	l.mode, l.max, l.rows = modeDirect, l.rows, 0
	l.scan.reset()
	if cfg.Header {
		if _, _, err := l.scan.record(func(int, int, []byte) error { return nil }); err != nil {
			return nil, fmt.Errorf("data: %s: the header is gone on the second reading: the input changed: %w", cfg.src, err)
		}
	}
	if err := l.pass(); err != nil {
		return nil, err
	}
	if l.rows != l.max {
		return nil, fmt.Errorf("data: %s: %d data rows on the second reading, %d on the first: the input changed", cfg.src, l.rows, l.max)
	}
	l.tab.Data = &Dataset{X: x, Y: y}
	return l.tab, nil
}

// tensorSlice returns the backing slice of t, a new float32 or float64
// tensor of T.
func tensorSlice[T float32 | float64](t *tensor.Dense) []T {
	var zero T
	if _, ok := any(zero).(float32); ok {
		return any(t.Float32s()).([]T)
	}
	return any(t.Float64s()).([]T)
}

// pass reads every record of the input.
func (l *csvLoad[T]) pass() error {
	field := l.field
	for {
		line, n, err := l.scan.record(field)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if l.width < 0 {
			if err := l.first(line, n); err != nil {
				return err
			}
			continue
		}
		if n != l.width {
			return l.scan.errAt(line, 0, fmt.Errorf("%d fields, want %d: %w", n, l.width, ErrShape))
		}
		l.rows++
	}
}

// first decides the columns from the first record, of n fields, then
// takes it as the header or as the first data row.
func (l *csvLoad[T]) first(line, n int) error {
	var names []string
	if l.cfg.Header {
		names = make([]string, n)
		for j := range n {
			names[j] = strings.TrimSpace(string(l.fieldBytes(j)))
		}
	}
	if err := l.columns(n, names); err != nil {
		return l.scan.errAt(line, 0, err)
	}
	l.width = n
	if !l.cfg.Header {
		l.firstData = true
		for j := range n {
			fline := l.line
			if l.lines != nil {
				fline = int(l.lines[j])
			}
			if err := l.value(j, fline, l.fieldBytes(j)); err != nil {
				return err
			}
		}
		l.firstData = false
		l.rows++
	}
	l.raw, l.ends, l.lines = nil, nil, nil
	return nil
}

// fieldBytes returns field j of the kept first record.
func (l *csvLoad[T]) fieldBytes(j int) []byte {
	lo := int32(0)
	if j > 0 {
		lo = l.ends[j-1]
	}
	return l.raw[lo:l.ends[j]]
}

// field handles one field from the scanner.
func (l *csvLoad[T]) field(col, line int, b []byte) error {
	if l.width < 0 {
		if col == 0 {
			l.raw, l.ends, l.line, l.lines = l.raw[:0], l.ends[:0], line, nil
		}
		if len(l.raw)+len(b) > math.MaxInt32 {
			return l.scan.errAt(line, col+1, fmt.Errorf("the first record is longer than 2 GiB: %w", ErrLimit))
		}
		// Doubling, not append's 1.25 growth of large slices, so that all
		// the copies allocate twice the record, not five times.
		l.raw = append(grow(l.raw, len(b)), b...)
		l.ends = append(grow(l.ends, 1), int32(len(l.raw)))
		if line != l.line && l.lines == nil {
			l.lines = make([]int32, col, cap(l.ends))
			for j := range l.lines {
				l.lines[j] = int32(l.line)
			}
		}
		if l.lines != nil {
			l.lines = append(grow(l.lines, 1), int32(line))
		}
		return nil
	}
	if col >= l.width {
		return nil // counted: the record is reported as ragged at its end
	}
	if l.mode == modeDirect && l.rows == l.max {
		return l.scan.errAt(line, 0, fmt.Errorf("more than the %d data rows of the first reading: the input changed", l.max))
	}
	return l.value(col, line, b)
}

// value takes field col of the current data row.
func (l *csvLoad[T]) value(col, line int, b []byte) error {
	switch l.kind[col] {
	case colClass:
		label := bytes.TrimSpace(b)
		if len(label) == 0 {
			return l.scan.errAt(line, col+1, errors.New("empty class label"))
		}
		id, ok := l.ids[string(label)] // no allocation for the lookup
		switch {
		case ok:
		case l.cfg.given != nil:
			return l.scan.errAt(line, col+1, fmt.Errorf("label %s is not one of the %d classes", quoteField(label), len(l.cfg.given)))
		case l.mode == modeDirect:
			return l.scan.errAt(line, col+1, fmt.Errorf("label %s was not in the input on the first reading: the input changed", quoteField(label)))
		case len(l.ids) >= l.cfg.MaxClasses:
			return l.scan.errAt(line, col+1, fmt.Errorf("label %s would be class %d, more than the %d that CSVOptions.MaxClasses allows; is column %d really a class label? %w", quoteField(label), len(l.ids)+1, l.cfg.MaxClasses, col+1, ErrLimit))
		default:
			id = len(l.labels)
			l.labels = append(grow(l.labels, 1), string(label))
			l.ids[l.labels[id]] = id
		}
		if l.mode == modeDirect {
			if l.cfg.OneHot {
				l.y[l.rows*l.k+l.rank[id]] = 1
			} else {
				l.y[l.rows] = T(l.rank[id])
			}
		}
		return nil
	}
	v, err := parseNumber(b, l.cfg.dt == tensor.Float32)
	if err != nil {
		if errors.Is(err, errNotNumber) {
			err = fmt.Errorf("%w%s", err, l.hint(col, line, b))
		}
		return l.scan.errAt(line, col+1, err)
	}
	if l.mode == modeDirect {
		if l.kind[col] == colTarget {
			l.y[l.rows*l.ny+int(l.index[col])] = T(v)
		} else {
			l.x[l.rows*l.nx+int(l.index[col])] = T(v)
		}
	}
	return nil
}

// hint suggests what may be wrong when field col, b, is not a number.
func (l *csvLoad[T]) hint(col, line int, b []byte) string {
	switch {
	case bytes.IndexByte(b, '\r') >= 0:
		return " (it holds a \\r: do the lines end with \\r alone? CSV lines end with \\n or \\r\\n)"
	case l.firstData:
		return fmt.Sprintf(" (if line %d is a header, set CSVOptions.Header)", line)
	case l.kind[col] == colTarget:
		return fmt.Sprintf(" (if column %d holds class labels, set CSVOptions.Class)", col+1)
	}
	return ""
}

// errNotNumber is wrapped by parseNumber's error for a field that is not a
// number at all.
var errNotNumber = errors.New("is not a number")

// parseNumber parses a finite number, spaces around it ignored, in float64,
// and checks that it is representable in float32 if f32.
func parseNumber(b []byte, f32 bool) (float64, error) {
	t := bytes.TrimSpace(b)
	v, err := strconv.ParseFloat(string(t), 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) && math.IsInf(v, 0) {
			return 0, fmt.Errorf("%s overflows float64: %w", quoteField(t), ErrNotFinite)
		}
		return 0, fmt.Errorf("%s %w", quoteField(t), errNotNumber)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s: %w", quoteField(t), ErrNotFinite)
	}
	if f32 && math.IsInf(float64(float32(v)), 0) {
		return 0, fmt.Errorf("%s overflows float32: %w", quoteField(t), ErrNotFinite)
	}
	return v, nil
}

// columns decides which of the width columns are targets and fills in the
// table's column lists and, from names (nil without a header), its names.
func (l *csvLoad[T]) columns(width int, names []string) error {
	opts := l.cfg
	isTarget := make([]bool, width)
	var targets []int
	switch {
	case len(opts.TargetNames) > 0:
		for _, name := range opts.TargetNames {
			j := slices.Index(names, name)
			if j < 0 {
				return fmt.Errorf("target column %q not in the header", name)
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
				return fmt.Errorf("target column %d out of range for %d columns: %w", j, width, ErrShape)
			}
			targets = append(targets, k)
		}
	default:
		targets = []int{width - 1}
	}
	for _, j := range targets {
		if isTarget[j] {
			return fmt.Errorf("target column %d selected twice", j)
		}
		isTarget[j] = true
	}
	if opts.Class && len(targets) != 1 {
		return fmt.Errorf("class target needs exactly one target column, got %d", len(targets))
	}
	if len(targets) == width {
		return fmt.Errorf("every one of the %d columns is a target, no feature left: %w", width, ErrEmpty)
	}
	// Targets in file order, so that Y's columns follow the file.
	slices.Sort(targets)
	tab := l.tab
	tab.TargetColumns = targets
	l.kind, l.index = make([]uint8, width), make([]int32, width)
	tab.FeatureColumns = make([]int, 0, width-len(targets))
	for j := range width {
		switch {
		case !isTarget[j]:
			l.kind[j], l.index[j] = colFeature, int32(l.nx)
			l.nx++
			tab.FeatureColumns = append(tab.FeatureColumns, j)
		case opts.Class:
			l.kind[j], l.index[j] = colClass, 0
			l.ny++
		default:
			l.kind[j], l.index[j] = colTarget, int32(l.ny)
			l.ny++
		}
	}
	if names != nil {
		tab.Features = make([]string, 0, len(tab.FeatureColumns))
		for _, j := range tab.FeatureColumns {
			tab.Features = append(tab.Features, names[j])
		}
		for _, j := range tab.TargetColumns {
			tab.Targets = append(tab.Targets, names[j])
		}
	}
	return nil
}

// classes fixes the class indices once every label has been met: the
// given Classes, or the labels sorted.
func (l *csvLoad[T]) classes() {
	if !l.cfg.Class {
		return
	}
	if l.cfg.given != nil {
		l.tab.Classes = slices.Clone(l.cfg.Classes)
		l.rank = make([]int, len(l.cfg.Classes))
		for k := range l.rank {
			l.rank[k] = k
		}
	} else {
		l.tab.Classes = sortedClasses(l.labels)
		l.rank = make([]int, len(l.labels))
		for k, c := range l.tab.Classes {
			l.rank[l.ids[c]] = k
		}
	}
	l.k = len(l.tab.Classes)
}

// spool keeps what a first pass reads from a stream that cannot seek, in
// chunks that double from 4 KiB to 1 MiB, so that a second pass can read
// it again from memory: the stream then costs its own size.
type spool struct {
	r      io.Reader
	chunks [][]byte
	replay bool
	ci, at int // the replay position: chunks[ci][at:]
}

func (s *spool) Read(p []byte) (int, error) {
	if s.replay {
		for s.ci < len(s.chunks) && s.at == len(s.chunks[s.ci]) {
			s.ci, s.at = s.ci+1, 0
		}
		if s.ci == len(s.chunks) {
			return 0, io.EOF
		}
		k := copy(p, s.chunks[s.ci][s.at:])
		s.at += k
		return k, nil
	}
	k, err := s.r.Read(p)
	for b := p[:k]; len(b) > 0; {
		n := len(s.chunks)
		if n == 0 || len(s.chunks[n-1]) == cap(s.chunks[n-1]) {
			size := 4 << 10
			if n > 0 {
				size = min(2*cap(s.chunks[n-1]), 1<<20)
			}
			s.chunks = append(s.chunks, make([]byte, 0, size))
			n++
		}
		c := s.chunks[n-1]
		m := min(len(b), cap(c)-len(c))
		s.chunks[n-1] = append(c, b[:m]...)
		b = b[m:]
	}
	return k, err
}

// Seek rewinds the spool for its replay; it supports only that.
func (s *spool) Seek(offset int64, whence int) (int64, error) {
	if offset != 0 || whence != io.SeekStart {
		return 0, errors.New("spool: only a rewind to the start is supported")
	}
	s.replay, s.ci, s.at = true, 0, 0
	return 0, nil
}

// sortedClasses returns the distinct labels sorted, numerically if every
// one is an integer, else as strings.
func sortedClasses(labels []string) []string {
	classes := slices.Clone(labels)
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

// grow returns s with room for n more elements, doubling its capacity
// when it grows (append grows large slices by a quarter, which allocates
// five times the final size in all).
func grow[E any](s []E, n int) []E {
	if len(s)+n <= cap(s) {
		return s
	}
	g := make([]E, len(s), max(2*cap(s), len(s)+n, 256))
	copy(g, s)
	return g
}
