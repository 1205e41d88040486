package data

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
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

// FuzzReadCSV checks that any input gives a valid dataset or an error, and
// never a panic.
func FuzzReadCSV(f *testing.F) {
	addFiles(f, "*.csv", func(b []byte) {
		f.Add(b, true, false)
		f.Add(b, true, true)
		f.Add(b, false, false)
	})
	for _, s := range []string{"", "\n", "a\n", "1,2\n3,4\n", "1,NaN\n", "x,\"y\nz\"\n1,2\n", "1,2,3\n4,5\n", " 1 , 2 \n", "1e309,1\n", "0x1p-2,1\n", "1,a\n2,b\n3,a\n"} {
		f.Add([]byte(s), false, false)
		f.Add([]byte(s), true, true)
	}
	f.Fuzz(func(t *testing.T, in []byte, header, class bool) {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			oneHot := class && len(in)%2 == 0
			tab, err := ReadCSV(bytes.NewReader(in), CSVOptions{Header: header, Class: class, OneHot: oneHot, DType: dt})
			if err != nil {
				if tab != nil {
					t.Fatalf("error %v with a non-nil table", err)
				}
				var pe *ParseError
				if errors.As(err, &pe) && (pe.Line < 1 || pe.Column < 0) {
					t.Fatalf("error %v at line %d column %d", err, pe.Line, pe.Column)
				}
				continue
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
// through a stream, and never an allocation beyond the input's size (the
// fuzzer's memory limit would catch one driven by the header).
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
		known, errKnown := ReadIDX(bytes.NewReader(in), IDXOptions{})
		streamed, errStream := ReadIDX(io.MultiReader(bytes.NewReader(in)), IDXOptions{})
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
			if _, err := ReadMNIST(bytes.NewReader(in), bytes.NewReader(labels), MNISTOptions{}); err != nil && known.Shape()[1]*known.Shape()[2] <= maxImagePixels {
				t.Fatalf("ReadMNIST: %v", err)
			}
		}
	})
}
