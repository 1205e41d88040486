package persist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	rtmetrics "runtime/metrics"
	"strings"
	"testing"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/nlpodyssey/safetensors"
	"gorgonia.org/tensor"
)

func builtXOR(t testing.TB, seed uint64, dt tensor.Dtype) *nn.Sequential {
	t.Helper()
	m := xorModel()
	if err := m.Build(nn.BuildConfig{Seed: seed, DType: dt}); err != nil {
		t.Fatal(err)
	}
	return m
}

// paramBits returns every parameter value, for bit-for-bit comparisons.
func paramBits(m *nn.Sequential) []float64 {
	var w []float64
	for _, p := range m.Params() {
		w = append(w, p.Float64s()...)
	}
	return w
}

func TestWeightsRoundTrip(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			m := builtXOR(t, 1, dt)
			path := filepath.Join(t.TempDir(), "w.safetensors")
			if err := SaveWeights(path, m); err != nil {
				t.Fatal(err)
			}
			other := builtXOR(t, 2, dt)
			if err := LoadWeights(path, other); err != nil {
				t.Fatal(err)
			}
			sameBits(t, "weights", paramBits(other), paramBits(m))
			x := xorX(dt)
			a, _ := m.Predict(x)
			b, _ := other.Predict(x)
			sameBits(t, "predictions", graph.ReadFloat64s(b, nil), graph.ReadFloat64s(a, nil))

			// Overwriting an existing file.
			if err := SaveWeights(path, other); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func xorX(dt tensor.Dtype) *tensor.Dense {
	return matrixDT([]float64{0, 0, 0, 1, 1, 0, 1, 1}, dt, 4, 2)
}

func matrixDT(v []float64, dt tensor.Dtype, r, c int) *tensor.Dense {
	if dt == tensor.Float32 {
		f := make([]float32, len(v))
		for i, x := range v {
			f[i] = float32(x)
		}
		return tensor.New(tensor.WithShape(r, c), tensor.WithBacking(f))
	}
	return tensor.New(tensor.WithShape(r, c), tensor.WithBacking(append([]float64(nil), v...)))
}

// TestSafetensorsLayout checks a file byte for byte against the format's
// specification (https://github.com/huggingface/safetensors#format): an
// 8-byte little-endian header length, the JSON header padded with spaces
// to a multiple of 8 as the reference implementation does, then the
// tensors' little-endian bytes in the reference order (dtype alignment,
// then name), at the header's offsets.
func TestSafetensorsLayout(t *testing.T) {
	m := nn.NewSequential(&nn.Dense{Units: 2, InputDim: 1})
	if err := m.Build(nn.BuildConfig{DType: tensor.Float32}); err != nil {
		t.Fatal(err)
	}
	if err := m.Params()[0].SetFloat64s([]float64{1.5, -2}); err != nil {
		t.Fatal(err)
	}
	if err := m.Params()[1].SetFloat64s([]float64{0.25, 3}); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := WriteWeights(&got, m); err != nil {
		t.Fatal(err)
	}

	header := `{"__metadata__":{"descent.format":"weights","descent.version":"1"},` +
		`"dense_1/bias:0":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"dense_1/kernel:0":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	var want []byte
	want = binary.LittleEndian.AppendUint64(want, uint64(len(header)))
	want = append(want, header...)
	want = append(want,
		0x00, 0x00, 0x80, 0x3e, // 0.25
		0x00, 0x00, 0x40, 0x40, // 3
		0x00, 0x00, 0xc0, 0x3f, // 1.5
		0x00, 0x00, 0x00, 0xc0, // -2
	)
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("file bytes differ from the specification:\ngot  %q\nwant %q", got.Bytes(), want)
	}
	if (8+len(header))%8 != 0 {
		t.Errorf("tensor data starts at %d, not 8-byte aligned", 8+len(header))
	}
}

// writeRaw writes tensors and metadata with the codec directly, to build
// files descent would not write.
func writeRaw(t testing.TB, path string, tensors map[string]safetensors.TensorView, meta map[string]string) []byte {
	t.Helper()
	b, err := safetensors.Serialize(tensors, meta)
	if err != nil {
		t.Fatal(err)
	}
	if path != "" {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func f64View(t testing.TB, shape []int, vals ...float64) safetensors.TensorView {
	t.Helper()
	v, err := tensorView(safetensors.F64, shape, encode64(vals))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLoadWeightsMismatches checks that every mismatch is reported in one
// error and that the model is left unchanged.
func TestLoadWeightsMismatches(t *testing.T) {
	m := nn.NewSequential(&nn.Dense{Units: 2, InputDim: 2}, &nn.Dense{Units: 1})
	if err := m.Build(nn.BuildConfig{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	before := paramBits(m)
	f32, err := tensorView(safetensors.F32, []int{2}, make([]byte, 8))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	writeRaw(t, path, map[string]safetensors.TensorView{
		"dense_1/kernel:0": f64View(t, []int{2, 3}, 1, 2, 3, 4, 5, 6), // wrong shape
		"dense_1/bias:0":   f32,                                       // wrong dtype
		// dense_2/kernel:0 missing
		"dense_2/bias:0":   f64View(t, []int{1}, math.NaN()),
		"dense_3/kernel:0": f64View(t, []int{1}, 1), // unexpected
	}, nil)
	err = LoadWeights(path, m)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LoadError", err)
	}
	if len(le.Problems) != 5 {
		t.Errorf("%d problems, want 5: %v", len(le.Problems), err)
	}
	for _, w := range []string{path, "dense_1/kernel:0 has shape [2 3]", "dense_1/bias:0 is F32", "missing tensor dense_2/kernel:0", "dense_2/bias:0 holds 1 non-finite", "unexpected tensor dense_3/kernel:0"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if !errors.Is(err, nn.ErrMismatch) || !errors.Is(err, nn.ErrNotFinite) {
		t.Errorf("error does not wrap nn.ErrMismatch and nn.ErrNotFinite: %v", err)
	}
	sameBits(t, "weights after a failed load", paramBits(m), before)

	// NaN alone, in otherwise right weights.
	good := builtXOR(t, 1, tensor.Float64)
	var buf bytes.Buffer
	if err := WriteWeights(&buf, good); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	binary.LittleEndian.PutUint64(b[len(b)-8:], math.Float64bits(math.Inf(-1)))
	other := builtXOR(t, 2, tensor.Float64)
	before = paramBits(other)
	err = ReadWeights(bytes.NewReader(b), other)
	if !errors.Is(err, nn.ErrNotFinite) || !strings.Contains(err.Error(), "-Inf") {
		t.Errorf("infinite weight: err = %v", err)
	}
	sameBits(t, "weights after a failed load", paramBits(other), before)

	// A float32 file into a float64 model.
	if err := SaveWeights(path, builtXOR(t, 1, tensor.Float32)); err != nil {
		t.Fatal(err)
	}
	if err := LoadWeights(path, other); !errors.Is(err, nn.ErrMismatch) || !strings.Contains(err.Error(), "is F32, the model is float64") {
		t.Errorf("float32 file into a float64 model: err = %v", err)
	}
}

// badFiles returns broken variants of a valid safetensors file.
func badFiles(t testing.TB, good []byte) map[string][]byte {
	t.Helper()
	le := func(n uint64, rest string) []byte {
		return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
	}
	// file is a header, padded, then data bytes of zeros.
	file := func(header string, data int) []byte {
		for len(header)%8 != 0 {
			header += " "
		}
		return append(le(uint64(len(header)), header), make([]byte, data)...)
	}
	hdrLen := binary.LittleEndian.Uint64(good)
	version := func(meta map[string]string) []byte {
		return writeRaw(t, "", map[string]safetensors.TensorView{"x": f64View(t, []int{1}, 1)}, meta)
	}
	return map[string][]byte{
		"empty":               {},
		"seven bytes":         good[:7],
		"truncated header":    good[:20],
		"truncated data":      good[:len(good)-3],
		"only the header":     good[:8+hdrLen],
		"trailing bytes":      append(append([]byte(nil), good...), "junk"...),
		"hdf5":                []byte("\x89HDF\r\n\x1a\n" + strings.Repeat("\x00", 64)),
		"huge header length":  le(math.MaxUint64, "{}"),
		"not json":            le(8, "[1, 2]  "),
		"malformed json":      le(8, `{"a":   `),
		"bad offsets":         file(`{"x":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}`, 16),
		"overlapping offsets": file(`{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"y":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, 8),
		"bad dtype":           file(`{"x":{"dtype":"F65","shape":[1],"data_offsets":[0,8]}}`, 8),
		"huge shape":          file(`{"x":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, 8),
		"overflowing shape":   file(`{"x":{"dtype":"F64","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}`, 8),
		"negative shape":      file(`{"x":{"dtype":"F64","shape":[-1],"data_offsets":[0,8]}}`, 8),
		"metadata not string": file(`{"__metadata__":{"a":1},"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, 8),
		"claims a terabyte":   file(`{"x":{"dtype":"F64","shape":[137438953472],"data_offsets":[0,1099511627776]}}`, 8),
		"valid, wrong names":  file(`{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, 8),
		"unknown version":     version(map[string]string{metaFormat: formatWeights, metaVersion: "2"}),
		"unknown format":      version(map[string]string{metaFormat: "banana", metaVersion: formatVersion}),
		"format sans version": version(map[string]string{metaFormat: formatWeights}),
	}
}

func TestHeaderLimit(t *testing.T) {
	if msg := checkHeaderLength(maxHeader+8, 2*maxHeader); !strings.Contains(msg, "limit") {
		t.Errorf("a header over the limit: %q", msg)
	}
	if msg := checkHeaderLength(maxHeader, 2*maxHeader); msg != "" {
		t.Errorf("a header at the limit: %q", msg)
	}
}

// TestLoadWeightsFormatErrors checks that broken files give clear errors
// naming the file, and leave the model unchanged.
func TestLoadWeightsFormatErrors(t *testing.T) {
	good := builtXOR(t, 1, tensor.Float64)
	var buf bytes.Buffer
	if err := WriteWeights(&buf, good); err != nil {
		t.Fatal(err)
	}
	m := builtXOR(t, 2, tensor.Float64)
	before := paramBits(m)
	dir := t.TempDir()
	for name, b := range badFiles(t, buf.Bytes()) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".safetensors")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			err := LoadWeights(path, m)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if !errors.Is(err, nn.ErrFormat) && !errors.Is(err, nn.ErrMismatch) && !errors.Is(err, nn.ErrUnsupported) {
				t.Errorf("error %q wraps none of nn.ErrFormat, ErrMismatch and ErrUnsupported", err)
			}
			t.Log(err)
			if err := ReadWeights(bytes.NewReader(b), m); err == nil {
				t.Error("ReadWeights: no error")
			}
			sameBits(t, "weights after a failed load", paramBits(m), before)
		})
	}
	if err := LoadWeights(filepath.Join(dir, "missing.safetensors"), m); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
	if err := LoadWeights(filepath.Join(dir, "x"), xorModel()); !errors.Is(err, nn.ErrNotBuilt) {
		t.Errorf("unbuilt model: err = %v", err)
	}
}

func TestSaveLoadModel(t *testing.T) {
	for name, mk := range persistModels() {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			t.Run(name+"/"+dt.String(), func(t *testing.T) {
				m := mk()
				if err := m.Build(nn.BuildConfig{Seed: 17, DType: dt}); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(t.TempDir(), "model.safetensors")
				if err := Save(path, m); err != nil {
					t.Fatal(err)
				}
				back, err := Load(path)
				if err != nil {
					t.Fatal(err)
				}
				if back.DType() != dt || back.Seed() != 17 {
					t.Errorf("loaded dtype %v seed %d, want %v 17", back.DType(), back.Seed(), dt)
				}
				sameBits(t, "weights", paramBits(back), paramBits(m))
				x := matrixDT([]float64{0.5, -1, 2, 3, 0, -0.25}, dt, 2, 3)
				if m.InputDim() == 2 {
					x = xorX(dt)
				}
				a, err := m.Predict(x)
				if err != nil {
					t.Fatal(err)
				}
				b, err := back.Predict(x)
				if err != nil {
					t.Fatal(err)
				}
				sameBits(t, "predictions", graph.ReadFloat64s(b, nil), graph.ReadFloat64s(a, nil))
			})
		}
	}
	// A weights-only file is not a model.
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := SaveWeights(path, builtXOR(t, 1, tensor.Float64)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, nn.ErrFormat) || !strings.Contains(err.Error(), "weights only") {
		t.Errorf("Load of a weights file: err = %v", err)
	}
}

// failingWriter passes n bytes on, then fails: a save interrupted midway.
type failingWriter struct {
	w io.Writer
	n int
}

var errInjected = errors.New("injected write failure")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k, _ := f.w.Write(p[:f.n])
		f.n = 0
		return k, errInjected
	}
	f.n -= len(p)
	return f.w.Write(p)
}

// TestAtomicSave checks that a save that fails midway leaves the previous
// file intact and readable, and no temporary file behind.
func TestAtomicSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	old := builtXOR(t, 1, tensor.Float64)
	if err := SaveWeights(path, old); err != nil {
		t.Fatal(err)
	}
	oldBytes, _ := os.ReadFile(path)
	next := builtXOR(t, 2, tensor.Float64)
	for _, n := range []int{0, 7, 50, 300} {
		err := writeFileAtomic(path, func(w io.Writer) error {
			return WriteWeights(&failingWriter{w: w, n: n}, next)
		})
		if !errors.Is(err, errInjected) {
			t.Fatalf("failing after %d bytes: err = %v, want the injected failure", n, err)
		}
		b, _ := os.ReadFile(path)
		if !bytes.Equal(b, oldBytes) {
			t.Fatalf("failing after %d bytes changed the old file", n)
		}
		m := builtXOR(t, 3, tensor.Float64)
		if err := LoadWeights(path, m); err != nil {
			t.Fatal(err)
		}
		sameBits(t, "weights", paramBits(m), paramBits(old))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only w.safetensors", names)
	}
	// A crash after writing the temporary file but before the rename leaves
	// that file behind: the real one still loads.
	if err := os.WriteFile(filepath.Join(dir, ".w.safetensors.tmp-123"), oldBytes[:40], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := LoadWeights(path, builtXOR(t, 3, tensor.Float64)); err != nil {
		t.Fatal(err)
	}
	// The mode of a replaced file is kept.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SaveWeights(path, next); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after a save, want 0600", fi.Mode().Perm())
	}
	if err := SaveWeights(filepath.Join(dir, "no", "such", "dir", "w.safetensors"), next); err == nil {
		t.Error("save into a missing directory: no error")
	}
}

// allocBudget is the most a load may allocate for a file of n bytes: the
// file itself, the header's JSON decoded into maps (tens of bytes per
// header byte at worst) and fixed costs. A loader that trusted a header's
// sizes would allocate gigabytes for some fuzz inputs.
func allocBudget(n int) uint64 { return 1<<20 + 64*uint64(n) }

// measure returns the bytes allocated on the heap while f runs (by the
// whole process: the fuzzing engine allocates little meanwhile). It reads
// runtime/metrics, which does not stop the world as ReadMemStats does.
func measure(f func()) uint64 {
	s := []rtmetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	rtmetrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	rtmetrics.Read(s)
	return s[0].Value.Uint64() - before
}

func FuzzLoadWeights(f *testing.F) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		var buf bytes.Buffer
		if err := WriteWeights(&buf, builtXOR(f, 1, dt)); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
		for _, b := range badFiles(f, buf.Bytes()) {
			if len(b) < 1<<16 {
				f.Add(b)
			}
		}
	}
	m := builtXOR(f, 2, tensor.Float64)
	before := paramBits(m)
	f.Fuzz(func(t *testing.T, b []byte) {
		var err error
		alloc := measure(func() { err = ReadWeights(bytes.NewReader(b), m) })
		if alloc > allocBudget(len(b)) {
			t.Fatalf("loading %d bytes allocated %d", len(b), alloc)
		}
		if err != nil {
			sameBits(t, "weights after a failed load", paramBits(m), before)
			return
		}
		before = paramBits(m)
	})
}

// TestMeasureSeesAllocations checks the allocation meter the fuzzers use.
func TestMeasureSeesAllocations(t *testing.T) {
	var sink []byte
	if got := measure(func() { sink = make([]byte, 10<<20) }); got < 10<<20 {
		t.Errorf("measured %d bytes for a 10 MiB allocation", got)
	}
	_ = sink
}

// xorModel is the seed's 2-10-1 tanh/sigmoid network.
func xorModel() *nn.Sequential {
	return nn.NewSequential(
		&nn.Dense{Units: 10, InputDim: 2},
		&nn.Activation{Fn: "tanh"},
		&nn.Dense{Units: 1},
		&nn.Activation{Fn: "sigmoid"},
	)
}

func sameBits(t *testing.T, what string, a, b []float64) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d values, want %d", what, len(a), len(b))
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("%s[%d] = %v, want %v (bit for bit)", what, i, a[i], b[i])
		}
	}
}

// persistModels are architectures covering every built-in layer,
// activation, initialiser and regularizer.
func persistModels() map[string]func() *nn.Sequential {
	return map[string]func() *nn.Sequential{
		"xor": xorModel,
		"activations": func() *nn.Sequential {
			return nn.NewSequential(
				&nn.Dense{Units: 5, InputDim: 3, Activation: "relu", KernelInitializer: graph.HeUniform{}, BiasInitializer: graph.Constant{Value: 0.1}},
				&nn.Dense{Units: 4, Activation: "leaky_relu", Alpha: 0.05, KernelInitializer: graph.HeNormal{}},
				&nn.Dense{Units: 4, Activation: "elu", KernelInitializer: graph.LecunUniform{}, BiasInitializer: graph.Ones{}},
				&nn.Dense{Units: 4, Activation: "elu", Alpha: 0.5, KernelInitializer: graph.LecunNormal{}},
				&nn.Activation{Fn: "leaky_relu"},
				&nn.Dense{Units: 4, Activation: "softplus", KernelInitializer: graph.GlorotNormal{}, BiasInitializer: graph.RandomUniform{Min: -0.2, Max: 0.3}},
				&nn.Activation{Fn: "elu", Alpha: 2},
				&nn.Dense{Units: 3, NoBias: true, KernelInitializer: graph.RandomNormal{Mean: 0.1, Stddev: 0.2}},
				&nn.Activation{Fn: "softmax"},
			)
		},
		"dropout and regularizers": func() *nn.Sequential {
			return nn.NewSequential(
				&nn.Dense{Units: 6, InputDim: 3, Activation: "relu", KernelRegularizer: nn.L2(0.01), BiasRegularizer: nn.L1(0.001)},
				&nn.Dropout{Rate: 0.25},
				&nn.Dense{Units: 2, Activation: "softmax", KernelRegularizer: nn.L1L2{L1: 1e-5, L2: 1e-4}},
			)
		},
		"step": func() *nn.Sequential {
			return nn.NewSequential(&nn.Dense{Units: 2, InputDim: 2, Activation: "heaviside", KernelInitializer: graph.RandomUniform{}, BiasInitializer: graph.RandomNormal{}})
		},
	}
}
