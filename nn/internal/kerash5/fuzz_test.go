package kerash5

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	rtmetrics "runtime/metrics"
	"strings"
	"testing"

	"github.com/descentlab/descent/nn/internal/hdf5"
)

// measure returns the bytes allocated on the heap while fn runs.
func measure(fn func()) uint64 {
	s := []rtmetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	rtmetrics.Read(s)
	before := s[0].Value.Uint64()
	fn()
	rtmetrics.Read(s)
	return s[0].Value.Uint64() - before
}

// budget is the read budget the fuzz test gives Read for n bytes, and
// allocBudget what Read may then allocate: the budget twice over (package
// hdf5 takes every byte read or decoded and a charge per parsed item from
// it), the inflater's state and fixed costs.
func budget(n int) int64 { return 64<<10 + 4*int64(n) }

func allocBudget(n int) uint64 { return 1<<20 + 2*uint64(budget(n)) }

// FuzzReadKeras reads any input as a Keras weights file: no panic, errors
// that name the file and wrap ErrLayout or a package hdf5 sentinel,
// allocations bounded by a small multiple of the input, and on success
// weights whose data fits their shape and dtype.
func FuzzReadKeras(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.h5"))
	if err != nil || len(paths) < 10 {
		f.Fatalf("%d seed files (%v)", len(paths), err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got *File
		var err error
		alloc := measure(func() {
			got, err = Read(bytes.NewReader(b), int64(len(b)), hdf5.Options{Name: "fuzz.h5", MaxReadBytes: budget(len(b))})
		})
		if alloc > allocBudget(len(b)) {
			t.Fatalf("reading %d bytes allocated %d (budget %d)", len(b), alloc, allocBudget(len(b)))
		}
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.h5") {
				t.Fatalf("error %q does not name the file", err)
			}
			for _, s := range []error{ErrLayout, hdf5.ErrFormat, hdf5.ErrLimit, hdf5.ErrNotFound, hdf5.ErrUnsupported} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error %q wraps no sentinel", err)
		}
		for _, l := range got.Layers {
			for _, w := range l.Weights {
				n := w.DType.size()
				for _, d := range w.Shape {
					n *= d
				}
				if n != len(w.Data) {
					t.Fatalf("%s: %d bytes for shape %v of %s", w.Name, len(w.Data), w.Shape, w.DType)
				}
			}
		}
	})
}
