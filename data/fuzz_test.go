package data

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"gorgonia.org/tensor"
)

// addFiles adds the testdata files matching pattern to f's seed corpus,
// through add.
func addFiles(f *testing.F, pattern string, add func(b []byte)) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files %s (%v)", pattern, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// totalAlloc returns the bytes f allocated (runtime.MemStats.TotalAlloc,
// which counts every allocation whether or not it has since been
// collected). The fuzz targets run one input at a time.
func totalAlloc(f func()) int64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}

// fuzzOverhead is what a reader may allocate whatever its input: buffers
// (64 KiB to read through, up to 64 KiB for a field), column tables and
// the error.
const fuzzOverhead = 512 << 10

// FuzzReadCSV checks that any input gives a valid dataset or an error, and
// never a panic; that a reader that can seek and a stream (whose first pass
// keeps a copy for the second) give the same result; and that ReadCSV
// allocates at most the result it returns plus a small multiple of the
// input (and fuzzOverhead): 24 bytes per input byte covers the stream's
// copy, the first record kept until it ends, and the strings and map
// entries of short distinct class labels.
func FuzzReadCSV(f *testing.F) {
	addFiles(f, "*.csv", func(b []byte) {
		f.Add(b, true, false)
		f.Add(b, true, true)
		f.Add(b, false, false)
	})
	for _, s := range []string{"", "\n", "a\n", "1,2\n3,4\n", "1,NaN\n", "x,\"y\nz\"\n1,2\n", "1,2,3\n4,5\n", " 1 , 2 \n", "1e309,1\n", "0x1p-2,1\n", "1,a\n2,b\n3,a\n", "\uFEFFa,b\r\n1,\"2\"\r\n", "1,a\n2,b\n3,c\n4,d\n5,e\n6,f\n"} {
		f.Add([]byte(s), false, false)
		f.Add([]byte(s), true, true)
	}
	f.Fuzz(func(t *testing.T, in []byte, header, class bool) {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			oneHot := class && len(in)%2 == 0
			opts := CSVOptions{Header: header, Class: class, OneHot: oneHot, DType: dt}
			var tab *Table
			var err error
			alloc := totalAlloc(func() { tab, err = ReadCSV(bytes.NewReader(in), opts) })
			streamed, serr := ReadCSV(stream{bytes.NewReader(in)}, opts)
			if (err == nil) != (serr == nil) || (err != nil && err.Error() != serr.Error()) {
				t.Fatalf("from a seeker: %v; from a stream: %v", err, serr)
			}
			if err != nil {
				if tab != nil {
					t.Fatalf("error %v with a non-nil table", err)
				}
				var pe *ParseError
				if errors.As(err, &pe) && (pe.Line < 1 || pe.Column < 0) {
					t.Fatalf("error %v at line %d column %d", err, pe.Line, pe.Column)
				}
				if bound := int64(fuzzOverhead + 24*len(in)); alloc > bound {
					t.Fatalf("rejecting %d bytes allocated %d, want at most %d", len(in), alloc, bound)
				}
				continue
			}
			result := int64(dt.Size()) * int64(tab.Data.X.Shape().TotalSize()+tab.Data.Y.Shape().TotalSize())
			if bound := fuzzOverhead + 24*int64(len(in)) + result; alloc > bound {
				t.Fatalf("reading %d bytes into %d of result allocated %d, want at most %d", len(in), result, alloc, bound)
			}
			if !sameTable(tab, streamed) {
				t.Fatalf("from a seeker %+v, from a stream %+v", tab, streamed)
			}
			if err := tab.Data.Validate(); err != nil {
				t.Fatalf("ReadCSV returned an invalid dataset: %v", err)
			}
			if tab.Data.DType() != dt {
				t.Fatalf("dtype %v, want %v", tab.Data.DType(), dt)
			}
			if got := len(tab.FeatureColumns); got != tab.Data.Features() {
				t.Fatalf("%d feature columns for %d features", got, tab.Data.Features())
			}
			if class {
				labels, err := tab.Data.Labels()
				if oneHot {
					// One class one-hot is one column of ones: not indices.
					labels, err = ArgMax(tab.Data.Y)
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range labels {
					if l >= len(tab.Classes) {
						t.Fatalf("label %d of %d classes", l, len(tab.Classes))
					}
				}
			}
		}
	})
}

// FuzzReadIDX checks that any input gives a tensor of the announced size or
// an error, never a panic, the same through a reader of known size and
// through a stream, and that neither allocates more than fuzzOverhead and
// twice the result (its growth as data arrives), or, when it fails, twice
// what the input could hold: nothing on the header's word. MaxBytes is
// lowered to 1 MiB so that a header announcing up to a gigabyte, in a tiny
// gzip stream, is tried too. ReadMNIST gets the same bounds but for its
// 64 MiB first buffer.
func FuzzReadIDX(f *testing.F) {
	addFiles(f, "*idx*", func(b []byte) {
		f.Add(b)
		f.Add(gzipped(b))
	})
	f.Add([]byte{})
	f.Add(idxBytes(0x08, []uint32{1000000, 1000000}, []byte{1, 2, 3}))
	f.Add(gzipped(idxBytes(0x0E, []uint32{0xFFFFFFFF, 0xFFFFFFFF}, nil)))
	f.Add(idxBytes(0x0D, []uint32{2}, []byte{0x7f, 0xc0, 0, 0, 0xff, 0x80, 0, 0}))
	f.Add(idxBytes(0x0C, []uint32{1, 1}, []byte{0x80, 0, 0, 0}))
	f.Add(idxBytes(0x09, []uint32{2}, []byte{0x80, 0x7f, 0}))
	f.Fuzz(func(t *testing.T, in []byte) {
		opts := IDXOptions{MaxBytes: 1 << 20}
		var known, streamed *tensor.Dense
		var errKnown, errStream error
		allocKnown := totalAlloc(func() { known, errKnown = ReadIDX(bytes.NewReader(in), opts) })
		allocStream := totalAlloc(func() { streamed, errStream = ReadIDX(io.MultiReader(bytes.NewReader(in)), opts) })
		// What the input's bytes could become at most: 8-byte items from
		// 1-byte ones never, as the dtype is the file's; gzip expands, so
		// count the decompressed size, which a failed read bounds by
		// MaxBytes.
		bound := int64(fuzzOverhead) + 2*int64(len(in))
		if gz := len(in) > 1 && in[0] == 0x1f && in[1] == 0x8b; gz {
			bound += 2 * opts.MaxBytes
		}
		if errKnown == nil {
			bound += 2 * int64(known.DataSize()*int(known.Dtype().Size()))
		}
		if allocKnown > bound || allocStream > bound {
			t.Fatalf("allocated %d (known size) and %d (stream) for %d bytes of input, want at most %d", allocKnown, allocStream, len(in), bound)
		}
		if (errKnown == nil) != (errStream == nil) {
			t.Fatalf("known-size error %v, streaming error %v", errKnown, errStream)
		}
		if errKnown != nil {
			return
		}
		if !known.Shape().Eq(streamed.Shape()) || known.Dtype() != streamed.Dtype() {
			t.Fatalf("known-size %v %v, streamed %v %v", known.Dtype(), known.Shape(), streamed.Dtype(), streamed.Shape())
		}
		if known.Shape().TotalSize() != known.DataSize() {
			t.Fatalf("shape %v but %d items", known.Shape(), known.DataSize())
		}
		// Writing it back gives the input, if the input was not gzipped.
		if len(in) > 1 && !(in[0] == 0x1f && in[1] == 0x8b) {
			var out bytes.Buffer
			if err := WriteIDX(&out, known); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), in) {
				t.Fatalf("round trip changed the bytes")
			}
		}
		// The same bytes as MNIST images, with as many labels.
		if known.Dtype() == tensor.Uint8 && known.Dims() == 3 {
			labels := idxBytes(0x08, []uint32{uint32(known.Shape()[0])}, make([]byte, known.Shape()[0]))
			for _, images := range []io.Reader{bytes.NewReader(in), io.MultiReader(bytes.NewReader(in))} {
				var d *Dataset
				var err error
				alloc := totalAlloc(func() { d, err = ReadMNIST(images, bytes.NewReader(labels), MNISTOptions{}) })
				if err != nil {
					if known.Shape()[1]*known.Shape()[2] <= maxImagePixels {
						t.Fatalf("ReadMNIST: %v", err)
					}
					continue
				}
				// The raw bytes (twice, as they grow), the labels and their
				// indices, X and Y.
				result := 8 * int64(d.X.Shape().TotalSize()+d.Y.Shape().TotalSize())
				if bound := fuzzOverhead + 2*int64(len(in)) + 10*int64(len(labels)) + result; alloc > bound {
					t.Fatalf("ReadMNIST allocated %d for %d bytes of images and %d of result, want at most %d", alloc, len(in), result, bound)
				}
			}
		}
	})
}
