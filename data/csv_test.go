package data

import (
	"encoding/csv"
	"errors"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func TestReadCSVFileIris(t *testing.T) {
	tab, err := ReadCSVFile("testdata/iris_tiny.csv", CSVOptions{Header: true, TargetNames: []string{"species"}, Class: true, DType: tensor.Float32})
	if err != nil {
		t.Fatal(err)
	}
	d := tab.Data
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 6 || d.Features() != 4 || d.Targets() != 1 || d.DType() != tensor.Float32 {
		t.Errorf("got %d rows, %d features, %d targets, %v; want 6, 4, 1, float32", d.Len(), d.Features(), d.Targets(), d.DType())
	}
	if want := []string{"sepal_length", "sepal_width", "petal_length", "petal_width"}; !slices.Equal(tab.Features, want) {
		t.Errorf("Features = %v, want %v", tab.Features, want)
	}
	if want := []string{"species"}; !slices.Equal(tab.Targets, want) {
		t.Errorf("Targets = %v, want %v", tab.Targets, want)
	}
	if want := []string{"setosa", "versicolor", "virginica"}; !slices.Equal(tab.Classes, want) {
		t.Errorf("Classes = %v, want %v", tab.Classes, want)
	}
	labels, err := d.Labels()
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 0, 1, 2}; !slices.Equal(labels, want) {
		t.Errorf("labels = %v, want %v", labels, want)
	}
	if got := d.X.Float32s()[4:8]; !slices.Equal(got, []float32{7.0, 3.2, 4.7, 1.4}) {
		t.Errorf("row 1 = %v, want [7 3.2 4.7 1.4]", got)
	}
}

func TestReadCSVFileRegression(t *testing.T) {
	tab, err := ReadCSVFile("testdata/regression.csv", CSVOptions{Comment: '#'})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tab.Data.X.Float64s(), []float64{0, 0, 1, 0, 0, 1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("X = %v, want %v", got, want)
	}
	if got, want := tab.Data.Y.Float64s(), []float64{1, 3, 0, 2}; !slices.Equal(got, want) {
		t.Errorf("Y = %v, want %v", got, want)
	}
	if tab.Features != nil || !slices.Equal(tab.FeatureColumns, []int{0, 1}) || !slices.Equal(tab.TargetColumns, []int{2}) {
		t.Errorf("columns: names %v, features %v, targets %v; want nil, [0 1], [2]", tab.Features, tab.FeatureColumns, tab.TargetColumns)
	}
}

func TestReadCSVOptions(t *testing.T) {
	const in = "a,b,c,d\n1,2,3,4\n5,6,7,8\n"
	for _, tc := range []struct {
		name           string
		opts           CSVOptions
		wantX, wantY   []float64
		features, targ []string
	}{
		{"default last", CSVOptions{Header: true}, []float64{1, 2, 3, 5, 6, 7}, []float64{4, 8}, []string{"a", "b", "c"}, []string{"d"}},
		{"by index", CSVOptions{Header: true, TargetColumns: []int{0}}, []float64{2, 3, 4, 6, 7, 8}, []float64{1, 5}, []string{"b", "c", "d"}, []string{"a"}},
		{"negative index", CSVOptions{Header: true, TargetColumns: []int{-2}}, []float64{1, 2, 4, 5, 6, 8}, []float64{3, 7}, []string{"a", "b", "d"}, []string{"c"}},
		{"two by name, file order", CSVOptions{Header: true, TargetNames: []string{"d", "b"}}, []float64{1, 3, 5, 7}, []float64{2, 4, 6, 8}, []string{"a", "c"}, []string{"b", "d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := ReadCSV(strings.NewReader(in), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := tab.Data.X.Float64s(); !slices.Equal(got, tc.wantX) {
				t.Errorf("X = %v, want %v", got, tc.wantX)
			}
			if got := tab.Data.Y.Float64s(); !slices.Equal(got, tc.wantY) {
				t.Errorf("Y = %v, want %v", got, tc.wantY)
			}
			if !slices.Equal(tab.Features, tc.features) || !slices.Equal(tab.Targets, tc.targ) {
				t.Errorf("names %v / %v, want %v / %v", tab.Features, tab.Targets, tc.features, tc.targ)
			}
		})
	}
}

func TestReadCSVClasses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		opts    CSVOptions
		classes []string
		y       []float64
	}{
		{"integers sort numerically", "0,10\n1,9\n2,10\n3,1\n", CSVOptions{Class: true}, []string{"1", "9", "10"}, []float64{2, 1, 2, 0}},
		{"strings sort", "0,b\n1,a\n2, b \n", CSVOptions{Class: true}, []string{"a", "b"}, []float64{1, 0, 1}},
		{"given classes", "0,b\n1,b\n", CSVOptions{Class: true, Classes: []string{"c", "b", "a"}}, []string{"c", "b", "a"}, []float64{1, 1}},
		{"one-hot", "0,b\n1,a\n", CSVOptions{Class: true, OneHot: true}, []string{"a", "b"}, []float64{0, 1, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := ReadCSV(strings.NewReader(tc.in), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tab.Classes, tc.classes) {
				t.Errorf("Classes = %q, want %q", tab.Classes, tc.classes)
			}
			if got := tab.Data.Y.Float64s(); !slices.Equal(got, tc.y) {
				t.Errorf("Y = %v, want %v", got, tc.y)
			}
		})
	}
}

func TestReadCSVErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		opts CSVOptions
		msg  string // the whole message
		is   error  // wrapped sentinel, or nil
		line int    // ParseError line, or 0 if not a ParseError
	}{
		{"not a number", "a,b,label\n1,2,0\n3,abc,1\n", CSVOptions{Source: "iris.csv", Header: true}, `data: iris.csv:3:2: "abc" is not a number`, nil, 3},
		{"NaN", "1,2\nNaN,3\n", CSVOptions{}, `data: csv:2:1: "NaN": value is not finite`, ErrNotFinite, 2},
		{"Inf", "1,2\n3,-Inf\n", CSVOptions{}, `data: csv:2:2: "-Inf": value is not finite`, ErrNotFinite, 2},
		{"overflow", "1,2\n3,1e999\n", CSVOptions{}, `data: csv:2:2: "1e999" overflows float64: value is not finite`, ErrNotFinite, 2},
		{"float32 overflow", "1,1e39\n", CSVOptions{DType: tensor.Float32}, `data: csv:1:2: "1e39" overflows float32: value is not finite`, ErrNotFinite, 1},
		{"ragged", "1,2,3\n4,5,6\n\n7,8\n", CSVOptions{}, `data: csv:4: 2 fields, want 3: shape mismatch`, ErrShape, 4},
		{"empty", "", CSVOptions{}, `data: csv: no data rows: empty data`, ErrEmpty, 0},
		{"header only", "a,b\n", CSVOptions{Header: true}, `data: csv: no data rows: empty data`, ErrEmpty, 0},
		{"one column", "1\n2\n", CSVOptions{}, `data: csv:1: every one of the 1 columns is a target, no feature left: empty data`, ErrEmpty, 1},
		{"unknown name", "a,b\n1,2\n", CSVOptions{Header: true, TargetNames: []string{"z"}}, `data: csv:1: target column "z" not in the header`, nil, 1},
		{"index out of range", "1,2\n", CSVOptions{TargetColumns: []int{2}}, `data: csv:1: target column 2 out of range for 2 columns: shape mismatch`, ErrShape, 1},
		{"unknown class", "1,a\n2,z\n", CSVOptions{Class: true, Classes: []string{"a", "b"}}, `data: csv:2:2: label "z" is not one of the 2 classes`, nil, 2},
		{"empty class", "1,a\n2,\n", CSVOptions{Class: true}, `data: csv:2:2: empty class label`, nil, 2},
		{"quote not closed", "1,\"2\n", CSVOptions{}, `data: csv:1:2: quoted field not closed before the end of the input: extraneous or missing " in quoted-field`, csv.ErrQuote, 1},
		{"text after a quote", "1,\"2\"x,3\n", CSVOptions{}, `data: csv:1:2: 'x' after the closing quote: extraneous or missing " in quoted-field`, csv.ErrQuote, 1},
		{"bare quote", "1,2\"\n", CSVOptions{}, `data: csv:1:2: bare " in non-quoted-field`, csv.ErrBareQuote, 1},
		{"header hint", "a,b,c\n1,2,3\n", CSVOptions{}, `data: csv:1:1: "a" is not a number (if line 1 is a header, set CSVOptions.Header)`, nil, 1},
		{"header hint after comments", "# x\n\n a ,b\n1,2\n", CSVOptions{Comment: '#'}, `data: csv:3:1: "a" is not a number (if line 3 is a header, set CSVOptions.Header)`, nil, 3},
		{"class hint", "x,y,label\n1,2,benign\n3,4,malignant\n", CSVOptions{Header: true}, `data: csv:2:3: "benign" is not a number (if column 3 holds class labels, set CSVOptions.Class)`, nil, 2},
		{"class hint by name", "label,x\nmalignant,1\n", CSVOptions{Header: true, TargetNames: []string{"label"}}, `data: csv:2:1: "malignant" is not a number (if column 1 holds class labels, set CSVOptions.Class)`, nil, 2},
		{"no hint in a feature", "1,2\n3,x\n4,5\n", CSVOptions{TargetColumns: []int{0}}, `data: csv:2:2: "x" is not a number`, nil, 2},
		{"carriage returns", "1,2\r3,4\r", CSVOptions{}, `data: csv:1:2: "2\r3" is not a number (it holds a \r: do the lines end with \r alone? CSV lines end with \n or \r\n)`, nil, 1},
		{"long field quoted short", "1,2,3\n1," + strings.Repeat("7", 100) + "x,3\n", CSVOptions{}, `data: csv:2:2: "7777777777777777777777777777777777777777"... is not a number`, nil, 2},
		{"field limit", "1," + strings.Repeat("7", 100) + "\n", CSVOptions{MaxFieldBytes: 50}, `data: csv:1:2: field longer than 50 bytes, the limit CSVOptions.MaxFieldBytes sets (it starts "7777777777777777777777777777777777777777"...): input exceeds a limit`, ErrLimit, 1},
		{"quoted field limit", "1,\"" + strings.Repeat("7", 100) + "\"\n", CSVOptions{MaxFieldBytes: 50}, `data: csv:1:2: field longer than 50 bytes, the limit CSVOptions.MaxFieldBytes sets (it starts "7777777777777777777777777777777777777777"...): input exceeds a limit`, ErrLimit, 1},
		{"fields limit", "1,2,3,4\n", CSVOptions{MaxFields: 3}, `data: csv:1: more than 3 fields, the limit CSVOptions.MaxFields sets; a line this long is usually a file whose line endings were not recognised, or not a table: input exceeds a limit`, ErrLimit, 1},
		{"classes limit", "1,a\n2,b\n3,c\n", CSVOptions{Class: true, MaxClasses: 2}, `data: csv:3:2: label "c" would be class 3, more than the 2 that CSVOptions.MaxClasses allows; is column 2 really a class label? input exceeds a limit`, ErrLimit, 3},
		{"negative limit", "1,2\n", CSVOptions{MaxFields: -1}, `data: csv: MaxFields -1 is negative, want 0 (the default, 1048576) or a positive limit`, nil, 0},
		{"bad comma", "1,2\n", CSVOptions{Comma: '"'}, `data: csv: Comma '"' is not a valid delimiter (it may not be '"', '\r', '\n' or an invalid rune)`, nil, 0},
		{"comment is comma", "1,2\n", CSVOptions{Comment: ','}, `data: csv: Comment ',' is not a valid comment character (it may not be the delimiter, '"', '\r', '\n' or an invalid rune)`, nil, 0},
		{"names without header", "1,2\n", CSVOptions{TargetNames: []string{"a"}}, `data: csv: TargetNames needs Header`, nil, 0},
		{"dtype", "1,2\n", CSVOptions{DType: tensor.Int}, `data: dtype int is not supported (want float32 or float64): dtype mismatch`, ErrDType, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := ReadCSV(strings.NewReader(tc.in), tc.opts)
			if err == nil {
				t.Fatalf("got %d rows, want error %q", tab.Data.Len(), tc.msg)
			}
			if err.Error() != tc.msg {
				t.Errorf("error %q, want %q", err, tc.msg)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %v", err, tc.is)
			}
			var pe *ParseError
			if got := errors.As(err, &pe); got != (tc.line > 0) {
				t.Errorf("error %q is a *ParseError: %v, want %v", err, got, tc.line > 0)
			} else if got && pe.Line != tc.line {
				t.Errorf("line %d, want %d", pe.Line, tc.line)
			}
		})
	}
}

func TestReadCSVFileErrorNamesFile(t *testing.T) {
	_, err := ReadCSVFile("testdata/bad_number.csv", CSVOptions{Header: true})
	if want := `data: bad_number.csv:3:2: "abc" is not a number`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if _, err := ReadCSVFile("testdata/missing.csv", CSVOptions{}); err == nil {
		t.Errorf("missing file: no error")
	}
}
