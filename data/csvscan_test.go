package data

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// scanAll returns the records csvScanner reads from r.
func scanAll(r io.Reader, comma, comment rune) ([][]string, error) {
	s := newCSVScanner(r, comma, comment, DefaultMaxFieldBytes, DefaultMaxFields, "test")
	var recs [][]string
	for {
		var rec []string
		_, n, err := s.record(func(col, line int, b []byte) error {
			if col != len(rec) {
				return fmt.Errorf("field %d after %d fields", col, len(rec))
			}
			rec = append(rec, string(b))
			return nil
		})
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		if n != len(rec) {
			return recs, fmt.Errorf("%d fields reported, %d seen", n, len(rec))
		}
		recs = append(recs, rec)
	}
}

// csvAll returns the records encoding/csv reads from in.
func csvAll(in string, comma, comment rune) ([][]string, error) {
	r := csv.NewReader(strings.NewReader(in))
	r.Comma, r.Comment, r.FieldsPerRecord = comma, comment, -1
	return r.ReadAll()
}

var scannerCases = []struct {
	name, in       string
	comma, comment rune
}{
	{"plain", "1,2,3\n4,5,6\n", ',', 0},
	{"no final newline", "1,2\n3,4", ',', 0},
	{"crlf", "a,b\r\n1,2\r\n", ',', 0},
	{"empty lines", "\n\n1,2\n\r\n\n3,4\n\n", ',', 0},
	{"empty fields", ",\n,,\n", ',', 0},
	{"spaces kept", " 1 , 2 \n", ',', 0},
	{"quoted", `"a","b,c","d""e"` + "\n", ',', 0},
	{"quoted newline", "\"a\nb\",c\n\"x\r\ny\",z\r\n", ',', 0},
	{"quoted empty", "\"\",\"\"\n", ',', 0},
	{"quoted at end of input", `1,"2"`, ',', 0},
	{"lone cr kept", "a\rb,c\n", ',', 0},
	{"cr before crlf", "a\r\r\n", ',', 0},
	{"cr at end of input", "a,b\r", ',', 0},
	{"quote then cr at end", `"a"` + "\r", ',', 0},
	{"comments", "# c\n1,2\n#x,y\n3,4\n", ',', '#'},
	{"comment char inside quotes", "\"a\n#b\",c\n", ',', '#'},
	{"semicolon", "1;2\n3;4\n", ';', 0},
	{"tab", "1\t2\n", '\t', 0},
	{"multi-byte comma", "1§2§3\n§\n", '§', 0},
	{"multi-byte comment", "→ no\n1,2\n", ',', '→'},
	{"bare quote", "a\"b,c\n", ',', 0},
	{"quote not closed", "\"abc\n", ',', 0},
	{"text after quote", "\"a\"b\n", ',', 0},
	{"space before quote", " \"a\"\n", ',', 0},
	{"only cr", "\r", ',', 0},
	{"only newline", "\n", ',', 0},
	{"empty", "", ',', 0},
}

// TestScannerMatchesEncodingCSV checks that csvScanner splits records
// exactly as encoding/csv does, and fails where it fails.
func TestScannerMatchesEncodingCSV(t *testing.T) {
	for _, tc := range scannerCases {
		t.Run(tc.name, func(t *testing.T) {
			want, werr := csvAll(tc.in, tc.comma, tc.comment)
			// Also one byte at a time, so that every field and delimiter
			// straddles reads.
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				got, err := scanAll(r, tc.comma, tc.comment)
				if (err == nil) != (werr == nil) {
					t.Fatalf("error %v, encoding/csv's %v", err, werr)
				}
				if werr != nil {
					var pe *csv.ParseError
					errors.As(werr, &pe)
					if !errors.Is(err, pe.Err) {
						t.Errorf("error %v, want one wrapping encoding/csv's %v", err, pe.Err)
					}
					continue
				}
				if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
					t.Errorf("records %q, encoding/csv's %q", got, want)
				}
			}
		})
	}
}

func TestScannerByteOrderMark(t *testing.T) {
	got, err := scanAll(strings.NewReader("\uFEFFa,b\n1,2\n"), ',', 0)
	if err != nil || !slices.Equal(got[0], []string{"a", "b"}) {
		t.Errorf("got %q, %v; want the mark dropped", got, err)
	}
}

// FuzzCSVScanner checks csvScanner against encoding/csv on any input.
func FuzzCSVScanner(f *testing.F) {
	for _, tc := range scannerCases {
		f.Add([]byte(tc.in), tc.comma == ';', tc.comment != 0)
	}
	f.Fuzz(func(t *testing.T, in []byte, semicolon, comments bool) {
		if bytes.HasPrefix(in, []byte("\uFEFF")) {
			return // dropped by csvScanner only
		}
		comma, comment := ',', rune(0)
		if semicolon {
			comma = ';'
		}
		if comments {
			comment = '#'
		}
		want, werr := csvAll(string(in), comma, comment)
		got, err := scanAll(iotest.HalfReader(bytes.NewReader(in)), comma, comment)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: error %v, encoding/csv's %v", in, err, werr)
		}
		if err == nil && !slices.EqualFunc(got, want, slices.Equal[[]string]) {
			t.Fatalf("%q: records %q, encoding/csv's %q", in, got, want)
		}
	})
}
