package hdf5

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzReadHDF5 reads everything in any input: no panic, errors that name
// the file and wrap a sentinel, and allocations bounded by a small multiple
// of the input (allocBudget), no input taking 5 seconds. With lenient,
// checksums and the end-of-file address are not checked, so that mutations
// reach the structures behind them.
func FuzzReadHDF5(f *testing.F) {
	for _, b := range testFiles(f) {
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, b []byte, lenient bool) {
		var err error
		start := time.Now()
		alloc := measure(func() {
			err = readEverything("fuzz.h5", b, Options{MaxReadBytes: smallBudget(len(b)), lenient: lenient})
		})
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("reading %d bytes took %v (err %v)", len(b), d, err)
		}
		if alloc > allocBudget(len(b)) {
			t.Fatalf("reading %d bytes allocated %d (budget %d)", len(b), alloc, allocBudget(len(b)))
		}
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "fuzz.h5") {
			t.Fatalf("error %q does not name the file", err)
		}
		if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrLimit) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("error %q wraps no sentinel", err)
		}
	})
}
