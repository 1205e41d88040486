package kerash5

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/descentlab/descent/nn/internal/hdf5"
)

var interopDir = flag.String("interop-dir", "", "TestWriteInterop writes its files and expected.json there (for testdata/check_h5py.py)")

// xorFile is the seed model's weights as Keras 2.2.4 saves them: the
// layers of keras_xor.json in order, float32.
func xorFile(t testing.TB) *File {
	t.Helper()
	var fx xorFixture
	readJSON(t, filepath.Join("testdata", "keras_xor.json"), &fx)
	f := &File{KerasVersion: "2.2.4", Backend: "tensorflow"}
	for _, name := range []string{"dense_1", "activation_1", "dense_2", "activation_2"} {
		l := Layer{Name: name}
		for _, w := range fx.Weights {
			if filepath.Dir(w.Name) == name {
				l.Weights = append(l.Weights, Weight{Name: w.Name, Shape: w.Shape, DType: Float32, Data: encode(Float32, w.Data)})
			}
		}
		f.Layers = append(f.Layers, l)
	}
	return f
}

// TestWriteGolden checks the writer's bytes for the seed model against
// testdata/golden_xor_weights.h5 (go test -run TestWriteGolden -update
// rewrites it; testdata/check_h5py.py checks that h5py reads it as Keras
// would), and a few fields against the format specification.
func TestWriteGolden(t *testing.T) {
	got := write(t, xorFile(t))
	path := filepath.Join("testdata", "golden_xor_weights.h5")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		n := 0
		for n < min(len(got), len(want)) && got[n] == want[n] {
			n++
		}
		t.Errorf("written file (%d bytes) differs from %s (%d bytes) from byte %d", len(got), path, len(want), n)
	}
	le := binary.LittleEndian
	for _, c := range []struct {
		what      string
		got, want uint64
	}{
		{"superblock version", uint64(got[8]), 0},
		{"size of offsets", uint64(got[13]), 8},
		{"size of lengths", uint64(got[14]), 8},
		{"group leaf node K", uint64(le.Uint16(got[16:])), 4},
		{"group internal node K", uint64(le.Uint16(got[18:])), 16},
		{"base address", le.Uint64(got[24:]), 0},
		{"end of file address", le.Uint64(got[40:]), uint64(len(got))},
		{"root object header address", le.Uint64(got[64:]), 96},
		{"root entry cache type", uint64(le.Uint32(got[72:])), 1},
		{"root object header version", uint64(got[96]), 1},
		{"root's first message type (symbol table)", uint64(le.Uint16(got[112:])), 0x11},
		{"root B-tree address (cached = message)", le.Uint64(got[80:]), le.Uint64(got[120:])},
		{"root local heap address (cached = message)", le.Uint64(got[88:]), le.Uint64(got[128:])},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	if string(got[:8]) != "\x89HDF\r\n\x1a\n" {
		t.Errorf("signature %q", got[:8])
	}
	bt := le.Uint64(got[80:])
	if string(got[bt:bt+4]) != "TREE" || got[bt+4] != 0 || got[bt+5] != 0 || le.Uint16(got[bt+6:]) != 1 {
		t.Errorf("root B-tree at %d: % x, want a level-0 group node (type 0) with one child", bt, got[bt:bt+8])
	}
	// Every weight's bytes lie in the file once, contiguous.
	for _, l := range xorFile(t).Layers {
		for _, w := range l.Weights {
			if bytes.Count(got, w.Data) != 1 {
				t.Errorf("%s: its %d data bytes occur %d times in the file", w.Name, len(w.Data), bytes.Count(got, w.Data))
			}
		}
	}
}

// interopFile is one file TestWriteInterop writes, as expected.json
// describes it to check_h5py.py.
type interopFile struct {
	KerasVersion   string `json:"keras_version"`
	Backend        string `json:"backend"`
	ModelConfig    string `json:"model_config"`
	TrainingConfig string `json:"training_config"`
	Layers         []struct {
		Name    string `json:"name"`
		Weights []struct {
			Name  string `json:"name"`
			Shape []int  `json:"shape"`
			DType string `json:"dtype"`
			Hex   string `json:"hex"` // the little-endian bytes
		} `json:"weights"`
	} `json:"layers"`
}

func describe(f *File) interopFile {
	var d interopFile
	d.KerasVersion, d.Backend, d.ModelConfig, d.TrainingConfig = f.KerasVersion, f.Backend, f.ModelConfig, f.TrainingConfig
	for _, l := range f.Layers {
		var dl struct {
			Name    string `json:"name"`
			Weights []struct {
				Name  string `json:"name"`
				Shape []int  `json:"shape"`
				DType string `json:"dtype"`
				Hex   string `json:"hex"`
			} `json:"weights"`
		}
		dl.Name = l.Name
		for _, w := range l.Weights {
			dl.Weights = append(dl.Weights, struct {
				Name  string `json:"name"`
				Shape []int  `json:"shape"`
				DType string `json:"dtype"`
				Hex   string `json:"hex"`
			}{w.Name, w.Shape, string(w.DType), hex.EncodeToString(w.Data)})
		}
		d.Layers = append(d.Layers, dl)
	}
	return d
}

// toFloat64 converts a File's weights to float64.
func toFloat64(f *File) *File {
	out := *f
	out.Layers = nil
	for _, l := range f.Layers {
		nl := Layer{Name: l.Name}
		for _, w := range l.Weights {
			nl.Weights = append(nl.Weights, Weight{Name: w.Name, Shape: w.Shape, DType: Float64, Data: encode(Float64, w.Float64s())})
		}
		out.Layers = append(out.Layers, nl)
	}
	return &out
}

// TestWriteInterop writes the files testdata/check_h5py.py reads with
// h5py, with expected.json describing them, and reads each back. It
// writes to -interop-dir when given, else to a temporary folder.
func TestWriteInterop(t *testing.T) {
	dir := *interopDir
	if dir == "" {
		dir = t.TempDir()
	}
	model, _ := readFile(t, filepath.Join("testdata", "xor_model.h5"))
	mlp, _ := readFile(t, filepath.Join("testdata", "mlp_weights.h5"))
	files := map[string]*File{
		"xor_weights.h5":     xorFile(t),
		"xor_model.h5":       model,
		"mlp_f64_weights.h5": toFloat64(mlp),
		"big_weights.h5":     bigModel(1500),
		"empty_weights.h5":   {},
	}
	desc := map[string]interopFile{}
	for name, f := range files {
		b := write(t, f)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		back, err := Read(bytes.NewReader(b), int64(len(b)), hdf5.Options{Name: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := *f
		if want.KerasVersion == "" {
			want.KerasVersion, want.Backend = "2.2.4", "tensorflow"
		}
		sameFile(t, back, &want)
		desc[name] = describe(&want)
	}
	b, err := json.MarshalIndent(desc, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "expected.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
