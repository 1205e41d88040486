package data

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// genCSV is a CSV input generated as it is read, so that tests can feed
// ReadCSV tens of megabytes without holding them: rows lines of cols
// numbers (or, with oneLine, a single line of rows*cols numbers), then
// tail. It can seek back to its start, as ReadCSV's second pass does.
type genCSV struct {
	rows, cols int
	oneLine    bool
	tail       string

	row  int
	buf  []byte // buf[at:] is generated but not read
	at   int
	off  int64 // bytes read so far
	done bool
}

// value is the j-th number of row i: six decimals in [0, 1).
func (g *genCSV) value(i, j int) float64 {
	k := (i*g.cols + j) * 7919 % 1000003
	return float64(k) / 1000003
}

func (g *genCSV) Read(p []byte) (int, error) {
	for g.at == len(g.buf) {
		g.buf, g.at = g.buf[:0], 0
		if g.done {
			return 0, io.EOF
		}
		if g.row == g.rows {
			g.buf, g.done = append(g.buf, g.tail...), true
			continue
		}
		for j := range g.cols {
			if j > 0 || (g.oneLine && g.row > 0) {
				g.buf = append(g.buf, ',')
			}
			g.buf = strconv.AppendFloat(g.buf, g.value(g.row, j), 'f', 6, 64)
		}
		if !g.oneLine || g.row == g.rows-1 {
			g.buf = append(g.buf, '\n')
		}
		g.row++
	}
	k := copy(p, g.buf[g.at:])
	g.at += k
	g.off += int64(k)
	return k, nil
}

// Seek supports what ReadCSV needs: the current offset, and the start.
func (g *genCSV) Seek(off int64, whence int) (int64, error) {
	switch {
	case off == 0 && whence == io.SeekCurrent:
		return g.off, nil
	case off == 0 && whence == io.SeekStart:
		g.row, g.buf, g.at, g.off, g.done = 0, g.buf[:0], 0, 0, false
		return 0, nil
	}
	return 0, errors.New("genCSV: unsupported seek")
}

// stream hides any Seek method of r, so that ReadCSV keeps a copy of what
// it reads for its second pass.
type stream struct{ io.Reader }

func TestGenCSVMatchesItsValues(t *testing.T) {
	g := &genCSV{rows: 3, cols: 4}
	tab, err := ReadCSV(g, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x := tab.Data.X.Float64s()
	for i := range 3 {
		for j := range 3 {
			// Six decimals: the parsed value is within 5e-7 of the exact one.
			if got, want := x[i*3+j], g.value(i, j); math.Abs(got-want) > 5e-7 {
				t.Errorf("X[%d,%d] = %v, want %v", i, j, got, want)
			}
		}
	}
}

// TestCSVMemory checks the documented memory per value: reading values
// from a reader that can seek allocates X and Y and a fixed overhead, 8
// bytes per float64 value and 4 per float32; from a stream, the input's
// size too (kept for the second pass). Tall and wide tables of half a
// million values.
func TestCSVMemory(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rows, cols int
	}{{"tall", 100000, 5}, {"wide", 10, 50000}} {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			for _, seek := range []bool{true, false} {
				name := fmt.Sprintf("%s/%v/seek=%v", tc.name, dt, seek)
				t.Run(name, func(t *testing.T) {
					values := int64(tc.rows * tc.cols)
					per := int64(dt.Size())
					// 64 KiB buffers, and the first record and the column
					// tables (about 40 bytes per column: 2 MB for 50,000).
					overhead := int64(1<<20 + 48*tc.cols)
					want := per*values + overhead
					g := &genCSV{rows: tc.rows, cols: tc.cols, buf: make([]byte, 0, 10*tc.cols+64)}
					var r io.Reader = g
					if !seek {
						r = stream{r}
					}
					var tab *Table
					var err error
					total, _ := allocated(func() { tab, err = ReadCSV(r, CSVOptions{DType: dt}) })
					if err != nil {
						t.Fatal(err)
					}
					if got := tab.Data.Len() * (tab.Data.Features() + tab.Data.Targets()); got != int(values) {
						t.Fatalf("%d values read, want %d", got, values)
					}
					if !seek {
						want += g.off // the input, kept for the second pass
					}
					t.Logf("%.2f bytes per value", float64(total)/float64(values))
					if total > want {
						t.Errorf("allocated %d bytes (%.2f per value), want at most %d", total, float64(total)/float64(values), want)
					}
				})
			}
		}
	}
}

// TestCSVHostileInputs feeds lazily generated inputs that used to exhaust
// memory or make huge errors, and checks that each is rejected with a
// short error after reading little and allocating little.
func TestCSVHostileInputs(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name  string
		in    func() io.Reader
		opts  CSVOptions
		is    error
		read  int64 // at most this much input read
		alloc int64 // at most this much allocated
	}{
		{"100 MB line of numbers", func() io.Reader {
			return &genCSV{rows: 100 * mib / 9 / 1000, cols: 1000, oneLine: true, buf: make([]byte, 0, 16<<10)} // 8-byte numbers and commas
		}, CSVOptions{}, ErrLimit, 10 * mib, 40 * mib},
		{"100 MB field", func() io.Reader {
			return io.MultiReader(strings.NewReader("1,"), &digitReader{n: 100 * mib}, strings.NewReader("\n"))
		}, CSVOptions{}, ErrLimit, 1 * mib, 1 * mib},
		{"100 MB quoted field", func() io.Reader {
			return io.MultiReader(strings.NewReader("1,\""), &digitReader{n: 100 * mib}, strings.NewReader("\"\n"))
		}, CSVOptions{}, ErrLimit, 1 * mib, 1 * mib},
		{"a million distinct class labels", func() io.Reader { return &labelReader{n: 1 << 20} }, CSVOptions{Class: true}, ErrLimit, 2 * mib, 16 * mib},
		// 30,000 rows of distinct labels, 400 KB: a one-hot Y of 7 GB.
		{"one-hot of 30,000 classes", func() io.Reader { return &labelReader{n: 30000} }, CSVOptions{Class: true, OneHot: true}, ErrLimit, 1 * mib, 8 * mib},
	} {
		for _, seek := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/seek=%v", tc.name, seek), func(t *testing.T) {
				in := tc.in()
				r := in
				if !seek {
					r = stream{in}
				}
				var err error
				total, _ := allocated(func() { _, err = ReadCSV(r, tc.opts) })
				if !errors.Is(err, tc.is) {
					t.Fatalf("error %v, want one wrapping %v", err, tc.is)
				}
				if len(err.Error()) > 400 {
					t.Errorf("error of %d bytes: %.400s", len(err.Error()), err)
				}
				read := bytesRead(in)
				t.Logf("%v; read %.1f MiB, allocated %.1f MiB", err, float64(read)/mib, float64(total)/mib)
				if read > tc.read {
					t.Errorf("read %d bytes, want at most %d", read, tc.read)
				}
				if total > tc.alloc {
					t.Errorf("allocated %d bytes, want at most %d", total, tc.alloc)
				}
			})
		}
	}
}

// TestCSVBadFileCostsNothingFromASeeker checks that a bad file is rejected
// by the first pass, before anything in proportion to it is allocated: a
// million good values then a ragged last row.
func TestCSVBadFileCostsNothingFromASeeker(t *testing.T) {
	g := &genCSV{rows: 200000, cols: 5, tail: "1,2\n"}
	var err error
	total, _ := allocated(func() { _, err = ReadCSV(g, CSVOptions{}) })
	if !errors.Is(err, ErrShape) {
		t.Fatalf("error %v, want ErrShape", err)
	}
	if total > 1<<20 {
		t.Errorf("allocated %d bytes for a rejected file of a million values, want at most 1 MiB", total)
	}
}

// digitReader yields n '7's.
type digitReader struct{ n, off int64 }

func (d *digitReader) Read(p []byte) (int, error) {
	if d.off == d.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), d.n-d.off))
	for i := range k {
		p[i] = '7'
	}
	d.off += int64(k)
	return k, nil
}

// labelReader yields n rows "i,label<i>".
type labelReader struct {
	n, i int
	buf  []byte
	at   int
	off  int64
}

func (l *labelReader) Read(p []byte) (int, error) {
	for l.at == len(l.buf) {
		if l.i == l.n {
			return 0, io.EOF
		}
		l.buf, l.at = fmt.Appendf(l.buf[:0], "%d,label%d\n", l.i, l.i), 0
		l.i++
	}
	k := copy(p, l.buf[l.at:])
	l.at += k
	l.off += int64(k)
	return k, nil
}

func (l *labelReader) Seek(off int64, whence int) (int64, error) {
	if off == 0 && whence == io.SeekCurrent {
		return l.off, nil
	}
	if off == 0 && whence == io.SeekStart {
		l.i, l.buf, l.at, l.off = 0, l.buf[:0], 0, 0
		return 0, nil
	}
	return 0, errors.New("labelReader: unsupported seek")
}

func bytesRead(r io.Reader) int64 {
	switch r := r.(type) {
	case *genCSV:
		return r.off
	case *labelReader:
		return r.off
	}
	// A MultiReader of a digitReader: its digits.
	return -1
}

// TestReadCSVSeekAndStreamAgree checks that a reader that can seek, read
// twice, and a stream, whose copy is read the second time, give the same
// table.
func TestReadCSVSeekAndStreamAgree(t *testing.T) {
	for _, tc := range []struct {
		in   string
		opts CSVOptions
	}{
		{"1,2,3\n4,5,6\n", CSVOptions{}},
		{"a,b,c\n1,2,3\n4,5,6\n", CSVOptions{Header: true, TargetNames: []string{"a", "c"}}},
		{"1,x\n2,y\n3,x\n", CSVOptions{Class: true, DType: tensor.Float32}},
		{"1,x\n2,y\n3,x\n", CSVOptions{Class: true, OneHot: true}},
		{"h1;\"h;2\"\n\"1\";2\n", CSVOptions{Header: true, Comma: ';'}},
		{"\uFEFFa,b\r\n1,2\r\n", CSVOptions{Header: true}},
		{"1§2§z\n3§4§10\n5§6§9\n", CSVOptions{Comma: '§', Class: true, Classes: []string{"9", "10", "z"}}},
	} {
		seeked, err := ReadCSV(strings.NewReader(tc.in), tc.opts)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		streamed, err := ReadCSV(stream{strings.NewReader(tc.in)}, tc.opts)
		if err != nil {
			t.Fatalf("%q streamed: %v", tc.in, err)
		}
		if !sameTable(seeked, streamed) {
			t.Errorf("%q: from a seeker %+v, from a stream %+v", tc.in, seeked, streamed)
		}
	}
}

func sameTable(a, b *Table) bool {
	return a.Data.X.Shape().Eq(b.Data.X.Shape()) && a.Data.Y.Shape().Eq(b.Data.Y.Shape()) &&
		a.Data.DType() == b.Data.DType() &&
		slices.Equal(float64s(a.Data.X), float64s(b.Data.X)) && slices.Equal(float64s(a.Data.Y), float64s(b.Data.Y)) &&
		slices.Equal(a.Features, b.Features) && slices.Equal(a.Targets, b.Targets) &&
		slices.Equal(a.FeatureColumns, b.FeatureColumns) && slices.Equal(a.TargetColumns, b.TargetColumns) &&
		slices.Equal(a.Classes, b.Classes)
}

// BenchmarkReadCSV reads tables of 5 million values generated on the fly,
// tall and wide, through a reader that can seek and through a stream, and
// reports the bytes allocated per value and the input's throughput (that
// of the first reading; generating the input is part of the time).
func BenchmarkReadCSV(b *testing.B) {
	for _, tc := range []struct {
		name       string
		rows, cols int
	}{{"tall=1000000x5", 1000000, 5}, {"wide=100x50000", 100, 50000}} {
		for _, seek := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/seek=%v", tc.name, seek), func(b *testing.B) {
				g := &genCSV{rows: tc.rows, cols: tc.cols, buf: make([]byte, 0, 10*tc.cols+64)}
				var total, in int64
				for b.Loop() {
					g.Seek(0, io.SeekStart)
					var r io.Reader = g
					if !seek {
						r = stream{g}
					}
					var err error
					total += allocatedNoGC(func() { _, err = ReadCSV(r, CSVOptions{}) })
					if err != nil {
						b.Fatal(err)
					}
					in += g.off
				}
				values := float64(tc.rows * tc.cols)
				b.ReportMetric(float64(total)/float64(b.N)/values, "B/value")
				b.ReportMetric(float64(in)/1e6/b.Elapsed().Seconds(), "MB/s")
			})
		}
	}
}

// allocatedNoGC returns the bytes f allocated, without collecting first.
func allocatedNoGC(f func()) int64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}
