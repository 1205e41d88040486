package kerash5

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/descentlab/descent/nn/internal/hdf5"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// expectedFile is what testdata/gen.py recorded with h5py for one file.
type expectedFile struct {
	KerasVersion   string `json:"keras_version"`
	Backend        string `json:"backend"`
	ModelConfig    string `json:"model_config"`
	TrainingConfig string `json:"training_config"`
	Layers         []struct {
		Name    string `json:"name"`
		Weights []struct {
			Name  string    `json:"name"`
			Shape []int     `json:"shape"`
			DType string    `json:"dtype"`
			Data  []float64 `json:"data"`
		} `json:"weights"`
	} `json:"layers"`
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readFile(t testing.TB, path string) (*File, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Read(bytes.NewReader(b), int64(len(b)), hdf5.Options{Name: path})
	if err != nil {
		t.Fatal(err)
	}
	return f, b
}

// encode returns values as little-endian bytes of dtype dt.
func encode(dt DType, values []float64) []byte {
	var b []byte
	for _, v := range values {
		if dt == Float32 {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
		} else {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	return b
}

// TestReadVariants reads every file gen.py wrote with h5py and checks the
// layers, weights and attributes it recorded. Values compare bitwise: the
// JSON holds each one exactly (a float32 widened to float64 is exact).
func TestReadVariants(t *testing.T) {
	var exp map[string]expectedFile
	readJSON(t, filepath.Join("testdata", "expected.json"), &exp)
	if len(exp) < 9 {
		t.Fatalf("expected.json describes %d files, want 9", len(exp))
	}
	for name, want := range exp {
		t.Run(name, func(t *testing.T) {
			f, _ := readFile(t, filepath.Join("testdata", name))
			if f.KerasVersion != want.KerasVersion || f.Backend != want.Backend {
				t.Errorf("keras_version %q backend %q, want %q %q", f.KerasVersion, f.Backend, want.KerasVersion, want.Backend)
			}
			if f.ModelConfig != want.ModelConfig || f.TrainingConfig != want.TrainingConfig {
				t.Errorf("model_config %.60q training_config %.60q, want %.60q %.60q", f.ModelConfig, f.TrainingConfig, want.ModelConfig, want.TrainingConfig)
			}
			if len(f.Layers) != len(want.Layers) {
				t.Fatalf("%d layers, want %d", len(f.Layers), len(want.Layers))
			}
			for i, wl := range want.Layers {
				l := f.Layers[i]
				if l.Name != wl.Name || len(l.Weights) != len(wl.Weights) {
					t.Errorf("layer %d: %s with %d weights, want %s with %d", i, l.Name, len(l.Weights), wl.Name, len(wl.Weights))
					continue
				}
				for j, ww := range wl.Weights {
					w := l.Weights[j]
					if w.Name != ww.Name || !slices.Equal(w.Shape, ww.Shape) || string(w.DType) != ww.DType {
						t.Errorf("%s: weight %s %v %s, want %s %v %s", l.Name, w.Name, w.Shape, w.DType, ww.Name, ww.Shape, ww.DType)
						continue
					}
					if !bytes.Equal(w.Data, encode(w.DType, ww.Data)) {
						t.Errorf("%s: values %v, want %v", w.Name, w.Float64s(), ww.Data)
					}
				}
			}
		})
	}
}

// xorFixture is keras_xor.json: the weights the seed model's file holds.
type xorFixture struct {
	ModelJSON string `json:"model_json"`
	Weights   []struct {
		Name  string    `json:"name"`
		Shape []int     `json:"shape"`
		Data  []float64 `json:"data"`
	} `json:"weights"`
}

// fixtureDir is testdata, or $DESCENT_FIXTURES when set.
func fixtureDir() string {
	if dir := os.Getenv("DESCENT_FIXTURES"); dir != "" {
		return dir
	}
	return "testdata"
}

// TestReadFixture reads the shared fixture keras_xor_weights.h5 (written
// as Keras 2.2.4's save_weights does) and checks it against keras_xor.json:
// layer names and order from the model's JSON, float32 weights.
func TestReadFixture(t *testing.T) {
	t.Run("keras_xor_weights", func(t *testing.T) {
		dir := fixtureDir()
		var fx xorFixture
		readJSON(t, filepath.Join(dir, "keras_xor.json"), &fx)
		var model struct {
			Config struct {
				Layers []struct {
					Config struct {
						Name string `json:"name"`
					} `json:"config"`
				} `json:"layers"`
			} `json:"config"`
		}
		if err := json.Unmarshal([]byte(fx.ModelJSON), &model); err != nil {
			t.Fatal(err)
		}
		f, _ := readFile(t, filepath.Join(dir, "keras_xor_weights.h5"))
		var names []string
		for _, l := range model.Config.Layers {
			names = append(names, l.Config.Name)
		}
		var got []string
		var weights []Weight
		for _, l := range f.Layers {
			got = append(got, l.Name)
			weights = append(weights, l.Weights...)
		}
		if !slices.Equal(got, names) {
			t.Errorf("layers %v, want %v", got, names)
		}
		if f.KerasVersion != "2.2.4" || f.Backend != "tensorflow" || f.ModelConfig != "" {
			t.Errorf("keras_version %q backend %q model_config %q", f.KerasVersion, f.Backend, f.ModelConfig)
		}
		if len(weights) != len(fx.Weights) {
			t.Fatalf("%d weights, want %d", len(weights), len(fx.Weights))
		}
		for i, want := range fx.Weights {
			w := weights[i]
			if w.Name != want.Name || !slices.Equal(w.Shape, want.Shape) || w.DType != Float32 {
				t.Errorf("weight %d: %s %v %s, want %s %v float32", i, w.Name, w.Shape, w.DType, want.Name, want.Shape)
				continue
			}
			if !bytes.Equal(w.Data, encode(Float32, want.Data)) {
				t.Errorf("%s = %v, want float32 of %v", w.Name, w.Float64s(), want.Data)
			}
		}
		if l, ok := f.Layer("dense_2"); !ok || len(l.Weights) != 2 {
			t.Errorf("Layer(dense_2) = %v, %v", l, ok)
		}
		if _, ok := f.Layer("dense_3"); ok {
			t.Error("Layer(dense_3) found")
		}
	})
}

// sameFile checks two Files for equal content, bit for bit.
func sameFile(t *testing.T, got, want *File) {
	t.Helper()
	if got.KerasVersion != want.KerasVersion || got.Backend != want.Backend || got.ModelConfig != want.ModelConfig || got.TrainingConfig != want.TrainingConfig {
		t.Errorf("attributes %q %q %.40q %.40q, want %q %q %.40q %.40q", got.KerasVersion, got.Backend, got.ModelConfig, got.TrainingConfig,
			want.KerasVersion, want.Backend, want.ModelConfig, want.TrainingConfig)
	}
	if len(got.Layers) != len(want.Layers) {
		t.Fatalf("%d layers, want %d", len(got.Layers), len(want.Layers))
	}
	for i, wl := range want.Layers {
		l := got.Layers[i]
		if l.Name != wl.Name || len(l.Weights) != len(wl.Weights) {
			t.Errorf("layer %d: %s (%d weights), want %s (%d)", i, l.Name, len(l.Weights), wl.Name, len(wl.Weights))
			continue
		}
		for j, ww := range wl.Weights {
			w := l.Weights[j]
			if w.Name != ww.Name || !slices.Equal(w.Shape, ww.Shape) || w.DType != ww.DType || !bytes.Equal(w.Data, ww.Data) {
				t.Errorf("weight %s %v %s differs from %s %v %s", w.Name, w.Shape, w.DType, ww.Name, ww.Shape, ww.DType)
			}
		}
	}
}

func write(t testing.TB, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWriteRoundTrip writes every h5py variant's content back with Write
// and reads it again: the same layers, names, shapes, dtypes and bits.
func TestWriteRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.h5"))
	if err != nil || len(files) < 10 {
		t.Fatalf("%d test files (%v)", len(files), err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, _ := readFile(t, path)
			b := write(t, want)
			got, err := Read(bytes.NewReader(b), int64(len(b)), hdf5.Options{Name: "written.h5"})
			if err != nil {
				t.Fatal(err)
			}
			sameFile(t, got, want)
		})
	}
}

// bigModel has enough long layer names for layer_names to exceed Keras's
// 64512-byte attribute limit, so that it is split into chunks.
func bigModel(layers int) *File {
	f := &File{}
	for i := range layers {
		name := fmt.Sprintf("dense_with_a_rather_long_descriptive_name_%05d", i)
		f.Layers = append(f.Layers, Layer{Name: name, Weights: []Weight{
			{Name: name + "/bias:0", Shape: []int{1}, DType: Float32, Data: encode(Float32, []float64{float64(i)})},
		}})
	}
	return f
}

// TestWriteChunkedNames checks Keras's splitting of long attribute lists
// (layer_names0, layer_names1, ...) both ways.
func TestWriteChunkedNames(t *testing.T) {
	want := bigModel(1500) // 1500 names of 47 bytes: 70500 bytes, 2 chunks
	b := write(t, want)
	h, err := hdf5.Open(bytes.NewReader(b), int64(len(b)), hdf5.Options{Name: "big.h5"})
	if err != nil {
		t.Fatal(err)
	}
	root, err := h.Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Attr("layer_names"); !errors.Is(err, hdf5.ErrNotFound) {
		t.Errorf("layer_names present in a file whose names exceed the limit: %v", err)
	}
	for i, n := range []int{750, 750} {
		a, err := root.Attr(fmt.Sprintf("layer_names%d", i))
		if err != nil || a.Len() != n || a.Type.Size != 47 {
			t.Errorf("layer_names%d: %v (%v)", i, a, err)
		}
	}
	got, err := Read(bytes.NewReader(b), int64(len(b)), hdf5.Options{Name: "big.h5"})
	if err != nil {
		t.Fatal(err)
	}
	sameFile(t, got, &File{KerasVersion: "2.2.4", Backend: "tensorflow", Layers: want.Layers})
}

func TestWriteErrors(t *testing.T) {
	w1 := Weight{Name: "d/kernel:0", Shape: []int{2}, DType: Float32, Data: make([]byte, 8)}
	for name, f := range map[string]*File{
		"duplicate layer":  {Layers: []Layer{{Name: "d"}, {Name: "d"}}},
		"short data":       {Layers: []Layer{{Name: "d", Weights: []Weight{{Name: "k", Shape: []int{3}, DType: Float32, Data: make([]byte, 8)}}}}},
		"bad dtype":        {Layers: []Layer{{Name: "d", Weights: []Weight{{Name: "k", Shape: []int{1}, DType: "int8", Data: make([]byte, 1)}}}}},
		"duplicate weight": {Layers: []Layer{{Name: "d", Weights: []Weight{w1, w1}}}},
		"slash in layer":   {Layers: []Layer{{Name: "a/b"}}},
		"empty layer name": {Layers: []Layer{{Name: ""}}},
	} {
		if err := Write(&bytes.Buffer{}, f); err == nil || !strings.HasPrefix(err.Error(), "kerash5: write: ") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
