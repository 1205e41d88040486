package persist

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/internal/hdf5"
	"github.com/descentlab/descent/nn/internal/kerash5"
	"github.com/descentlab/descent/nn/keras"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// kerasFixture is a fixture in the format of keras_xor.json: the model's
// Keras JSON, its inputs and the float64 predictions of its weights.
type kerasFixture struct {
	ModelJSON       string      `json:"model_json"`
	Inputs          [][]float64 `json:"inputs"`
	ExpectedPredict [][]float64 `json:"expected_predict"`
}

// fixtureFile returns $DESCENT_FIXTURES/name when DESCENT_FIXTURES is set,
// else the repository's copy.
func fixtureFile(name, repoCopy string) string {
	if dir := os.Getenv("DESCENT_FIXTURES"); dir != "" {
		return filepath.Join(dir, name)
	}
	return repoCopy
}

func readFixture(t *testing.T, path string) *kerasFixture {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fx kerasFixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &fx
}

func rowsMatrix(rows [][]float64, dt tensor.Dtype) *tensor.Dense {
	var v []float64
	for _, r := range rows {
		v = append(v, r...)
	}
	return matrixDT(v, dt, len(rows), len(rows[0]))
}

// h5Tol is the agreement required between a model given a Keras file's
// float32 weights and the fixture's float64 forward pass of the same
// weights (rounded to 4 decimals, so float32 holds them to 3e-8 relative):
// float32 arithmetic through a few layers of at most ten units, on inputs
// of order 1, stays within 1e-6.
const h5Tol = 1e-6

// TestKerasH5Fixture is issue 16's test: the weights a Keras user saved
// with save_weights load into the model rebuilt from its JSON and predict
// what Keras predicts. keras_xor_weights reads keras_xor.json and
// keras_xor_weights.h5 from DESCENT_FIXTURES when it is set; keras_mlp
// reads another Dense/Activation model (testdata/gen_h5.py).
func TestKerasH5Fixture(t *testing.T) {
	for _, c := range []struct{ name, json, h5 string }{
		{"keras_xor_weights",
			fixtureFile("keras_xor.json", filepath.Join("..", "testdata", "reference", "keras_xor.json")),
			fixtureFile("keras_xor_weights.h5", filepath.Join("testdata", "keras_xor_weights.h5"))},
		{"keras_mlp_weights", filepath.Join("..", "keras", "testdata", "keras_mlp.json"), filepath.Join("testdata", "keras_mlp_weights.h5")},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := readFixture(t, c.json)
			for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
				m, err := keras.FromJSON([]byte(fx.ModelJSON))
				if err != nil {
					t.Fatal(err)
				}
				if err := m.Build(nn.BuildConfig{DType: dt}); err != nil {
					t.Fatal(err)
				}
				if err := LoadWeights(c.h5, m); err != nil {
					t.Fatal(err)
				}
				checkPredict(t, dt.String(), m, fx)
			}
		})
	}
	// The model.save file of the second model loads whole, in float32.
	fx := readFixture(t, filepath.Join("..", "keras", "testdata", "keras_mlp.json"))
	m, err := Load(filepath.Join("testdata", "keras_mlp_model.h5"))
	if err != nil {
		t.Fatal(err)
	}
	if m.DType() != tensor.Float32 {
		t.Errorf("a Keras model file loads in %v, want float32 (its weights')", m.DType())
	}
	checkPredict(t, "keras_mlp_model.h5", m, fx)
	js, err := keras.ToJSON(m)
	if err != nil || string(js) != fx.ModelJSON {
		t.Errorf("the model loaded from model_config writes %s (%v), want %s", js, err, fx.ModelJSON)
	}
}

func checkPredict(t *testing.T, what string, m *nn.Sequential, fx *kerasFixture) {
	t.Helper()
	got, err := m.PredictRows(rowsMatrix(fx.Inputs, m.DType()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(fx.ExpectedPredict) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(fx.ExpectedPredict))
	}
	for r, row := range fx.ExpectedPredict {
		for c, want := range row {
			if d := math.Abs(got[r][c] - want); !(d <= h5Tol) {
				t.Errorf("%s: predict[%d][%d] = %.9g, want %.9g (off by %.2g)", what, r, c, got[r][c], want, d)
			}
		}
	}
}

// trainedXOR returns an XOR model trained for a few epochs.
func trainedXOR(t testing.TB, dt tensor.Dtype) *nn.Sequential {
	t.Helper()
	m := xorModel()
	if err := m.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewSGD(0.5), Seed: 3, DType: dt}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(context.Background(), data.XOR(dt), nn.FitConfig{Epochs: 50}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestH5RoundTrip checks that a descent-trained model saved as .h5 reads
// back bit for bit, weights alone (Keras's save_weights layout) and whole
// (model.save), and that the files have Keras's layout: every layer,
// Activation included, in order, each weight under its Keras name.
func TestH5RoundTrip(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			m := trainedXOR(t, dt)
			dir := t.TempDir()
			wpath := filepath.Join(dir, "basic_weights.h5")
			if err := SaveWeights(wpath, m); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(wpath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte(hdf5Magic)) {
				t.Fatalf("%s does not begin with the HDF5 signature", wpath)
			}
			kf, err := kerash5.Read(bytes.NewReader(b), int64(len(b)), hdf5.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, l := range kf.Layers {
				names = append(names, l.Name)
			}
			if got := strings.Join(names, " "); got != "dense_1 activation_1 dense_2 activation_2" || kf.ModelConfig != "" {
				t.Errorf("layers %q, model_config %q; want the four layers and none", got, kf.ModelConfig)
			}
			if w := kf.Layers[0].Weights; len(w) != 2 || w[0].Name != "dense_1/kernel:0" || w[0].Shape[0] != 2 || w[0].Shape[1] != 10 {
				t.Errorf("dense_1's weights: %+v", w)
			}

			back := builtXOR(t, 9, dt)
			if err := LoadWeights(wpath, back); err != nil {
				t.Fatal(err)
			}
			sameBits(t, "weights through save_weights .h5", paramBits(back), paramBits(m))
			stream := builtXOR(t, 9, dt)
			if err := ReadWeights(bytes.NewReader(b), stream); err != nil {
				t.Fatal(err)
			}
			sameBits(t, "weights through a stream", paramBits(stream), paramBits(m))

			mpath := filepath.Join(dir, "model.hdf5")
			if err := Save(mpath, m); err != nil {
				t.Fatal(err)
			}
			whole, err := Load(mpath)
			if err != nil {
				t.Fatal(err)
			}
			if whole.DType() != dt {
				t.Errorf("loaded %v, want %v", whole.DType(), dt)
			}
			sameBits(t, "weights through model.save .h5", paramBits(whole), paramBits(m))
			a, _ := m.Predict(xorX(dt))
			c, _ := whole.Predict(xorX(dt))
			sameBits(t, "predictions", graph.ReadFloat64s(c, nil), graph.ReadFloat64s(a, nil))
			// LoadWeights takes a model.save file's weights, its
			// architecture being the model's.
			again := builtXOR(t, 11, dt)
			if err := LoadWeights(mpath, again); err != nil {
				t.Fatal(err)
			}
			sameBits(t, "weights of a model.save file", paramBits(again), paramBits(m))

			if _, err := Load(wpath); !errors.Is(err, nn.ErrFormat) || !strings.Contains(err.Error(), "weights only") {
				t.Errorf("Load of a save_weights file: err = %v", err)
			}
			cm := compiledXOR(t, dt)
			if _, err := LoadCheckpoint(mpath, cm); !errors.Is(err, nn.ErrFormat) || !strings.Contains(err.Error(), "not a checkpoint") {
				t.Errorf("LoadCheckpoint of an .h5 file: err = %v", err)
			}
		})
	}
}

func compiledXOR(t testing.TB, dt tensor.Dtype) *nn.Sequential {
	t.Helper()
	m := xorModel()
	if err := m.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewAdam(0.01), DType: dt}); err != nil {
		t.Fatal(err)
	}
	return m
}

// h5File writes a Keras weights file for a test.
func writeH5File(t *testing.T, path string, f *kerash5.File) {
	t.Helper()
	var b bytes.Buffer
	if err := kerash5.Write(&b, f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func f32(vals ...float64) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
	}
	return b
}

// TestH5Mismatches checks that an .h5 file that does not fit the model
// reports every mismatch at once, by layer name as Keras matches them,
// and leaves the model unchanged.
func TestH5Mismatches(t *testing.T) {
	m := builtXOR(t, 1, tensor.Float64)
	before := paramBits(m)
	path := filepath.Join(t.TempDir(), "bad.h5")
	writeH5File(t, path, &kerash5.File{Layers: []kerash5.Layer{
		{Name: "dense_1", Weights: []kerash5.Weight{ // wrong kernel shape, NaN in the bias
			{Name: "dense_1/kernel:0", Shape: []int{3, 10}, DType: kerash5.Float32, Data: f32(make([]float64, 30)...)},
			{Name: "dense_1/bias:0", Shape: []int{10}, DType: kerash5.Float32, Data: f32(0, 0, 0, math.NaN(), 0, 0, 0, 0, 0, 0)},
		}},
		{Name: "activation_1"},
		{Name: "dense_9", Weights: []kerash5.Weight{{Name: "dense_9/kernel:0", Shape: []int{1}, DType: kerash5.Float32, Data: f32(1)}}},
		// dense_2 is missing
	}})
	err := LoadWeights(path, m)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LoadError", err)
	}
	for _, w := range []string{path, "layer dense_1 weight 1 (dense_1/kernel:0) has shape [3 10], the model's dense_1/kernel has [2 10]",
		"dense_1/bias:0 holds 1 non-finite", "missing layer dense_2", "unexpected layer dense_9 with 1 weights"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if !errors.Is(err, nn.ErrMismatch) || !errors.Is(err, nn.ErrNotFinite) {
		t.Errorf("error does not wrap nn.ErrMismatch and nn.ErrNotFinite: %v", err)
	}
	sameBits(t, "weights after a failed load", paramBits(m), before)

	writeH5File(t, path, &kerash5.File{Layers: []kerash5.Layer{
		{Name: "dense_1", Weights: []kerash5.Weight{{Name: "dense_1/kernel:0", Shape: []int{2, 10}, DType: kerash5.Float32, Data: f32(make([]float64, 20)...)}}},
		{Name: "dense_2", Weights: []kerash5.Weight{{Name: "dense_2/kernel:0", Shape: []int{10, 1}, DType: kerash5.Float32, Data: f32(make([]float64, 10)...)}, {Name: "dense_2/bias:0", Shape: []int{1}, DType: kerash5.Float32, Data: f32(0)}}},
	}})
	if err := LoadWeights(path, m); !errors.Is(err, nn.ErrMismatch) || !strings.Contains(err.Error(), "layer dense_1 has 1 weights in the file (dense_1/kernel:0 [2 10] float32), the model's Dense has 2") {
		t.Errorf("a layer with too few weights: err = %v", err)
	}
	sameBits(t, "weights after a failed load", paramBits(m), before)

	// A model.save file whose architecture differs from the model's.
	other := nn.NewSequential(&nn.Dense{Units: 10, InputDim: 2}, &nn.Activation{Fn: "relu"}, &nn.Dense{Units: 1}, &nn.Activation{Fn: "sigmoid"})
	if err := other.Build(nn.BuildConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := Save(path, other); err != nil {
		t.Fatal(err)
	}
	err = LoadWeights(path, m)
	if !errors.Is(err, nn.ErrMismatch) || !strings.Contains(err.Error(), `layer 2 (activation_1): activation: the file "relu", the model "tanh"`) {
		t.Errorf("a model.save file of another architecture: err = %v", err)
	}
	sameBits(t, "weights after a failed load", paramBits(m), before)
}

// h5AllocBudget is what reading an .h5 file of n bytes through persist may
// allocate: package hdf5's budget (16 MiB + 2n, what it reads and decodes)
// twice over for its bookkeeping, the weights copied into the model's
// dtype and fixed costs.
func h5AllocBudget(n int) uint64 { return 2<<20 + 2*(16<<20+2*uint64(n)) }

// TestH5Damaged reads truncated and corrupted copies of the Keras fixture
// through the persist API: each is an error naming the file and what was
// wrong, wrapping nn's sentinels, with bounded allocations; the model is
// unchanged and nothing panics.
func TestH5Damaged(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "keras_xor_weights.h5"))
	if err != nil {
		t.Fatal(err)
	}
	fx := readFixture(t, filepath.Join("..", "testdata", "reference", "keras_xor.json"))
	m, err := keras.FromJSON([]byte(fx.ModelJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Build(nn.BuildConfig{DType: tensor.Float32, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var cases []struct {
		name string
		b    []byte
	}
	for _, n := range []int{0, 8, 9, 40, 60, 100, 200, 500, 1000, 2000, 4000, 8000, len(good) - 100, len(good) - 1} {
		cases = append(cases, struct {
			name string
			b    []byte
		}{"truncated at " + strconv.Itoa(n), good[:n]})
	}
	// Byte flips spread over the file; most land in metadata (addresses,
	// sizes, signatures, names) or in weights (values, which may load).
	for i := 8; i < len(good); i += 97 {
		b := append([]byte(nil), good...)
		b[i] ^= 0xff
		cases = append(cases, struct {
			name string
			b    []byte
		}{"byte " + strconv.Itoa(i) + " flipped", b})
	}
	// The end-of-file address claims a petabyte.
	huge := append([]byte(nil), good...)
	binary.LittleEndian.PutUint64(huge[40:], 1<<50)
	cases = append(cases, struct {
		name string
		b    []byte
	}{"end of file at a petabyte", huge})
	failed := 0
	for _, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".h5")
		if err := os.WriteFile(path, c.b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, how := range []string{"file", "stream", "load"} {
			cur := paramBits(m)
			var err error
			alloc := measure(func() {
				switch how {
				case "file":
					err = LoadWeights(path, m)
				case "stream":
					err = ReadWeights(namedReader{bytes.NewReader(c.b), path}, m)
				case "load":
					_, err = Load(path)
				}
			})
			if alloc > h5AllocBudget(len(c.b)) {
				t.Errorf("%s (%s): allocated %d for %d bytes", c.name, how, alloc, len(c.b))
			}
			if err == nil {
				if how == "load" {
					t.Errorf("%s: Load of a save_weights file succeeded", c.name)
				}
				// A flip in a weight's value: the load succeeded with
				// other weights; restore the fixture's.
				if e := LoadWeights(filepath.Join("testdata", "keras_xor_weights.h5"), m); e != nil {
					t.Fatal(e)
				}
				continue
			}
			failed++
			sameBits(t, c.name+" ("+how+"): weights after a failed load", paramBits(m), cur)
			if !strings.Contains(err.Error(), path) {
				t.Errorf("%s (%s): error %q does not name the file", c.name, how, err)
			}
			if !errors.Is(err, nn.ErrFormat) && !errors.Is(err, nn.ErrMismatch) && !errors.Is(err, nn.ErrUnsupported) && !errors.Is(err, nn.ErrLimit) && !errors.Is(err, nn.ErrNotFinite) {
				t.Errorf("%s (%s): error %q wraps no sentinel of nn", c.name, how, err)
			}
		}
	}
	t.Logf("%d of %d loads of damaged files failed, as they should unless a flip hit a weight's value", failed, 3*len(cases))
}

// namedReader is a stream with a name, as an *os.File has.
type namedReader struct {
	*bytes.Reader
	name string
}

func (r namedReader) Name() string { return r.name }
