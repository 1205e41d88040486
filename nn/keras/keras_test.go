package keras

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	rtmetrics "runtime/metrics"
	"slices"
	"strings"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"gorgonia.org/tensor"
)

// kerasFixture is the keras_xor.json reference file (see the fixtures'
// README): Keras 2.2.4's to_json() of the seed model, its weights and
// float64 predictions.
type kerasFixture struct {
	ModelJSON string `json:"model_json"`
	Weights   []struct {
		Name  string    `json:"name"`
		Shape []int     `json:"shape"`
		Data  []float64 `json:"data"`
	} `json:"weights"`
	Inputs               [][]float64            `json:"inputs"`
	ExpectedPredict      [][]float64            `json:"expected_predict"`
	ExpectedLayerOutputs map[string][][]float64 `json:"expected_layer_outputs"`
}

// kerasFixturePath is testdata/reference/keras_xor.json, or
// $DESCENT_FIXTURES/keras_xor.json when DESCENT_FIXTURES is set.
func kerasFixturePath() string {
	if dir := os.Getenv("DESCENT_FIXTURES"); dir != "" {
		return filepath.Join(dir, "keras_xor.json")
	}
	return filepath.Join("..", "testdata", "reference", "keras_xor.json")
}

func readKerasFixture(t *testing.T, path string) *kerasFixture {
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

// setKerasWeights sets a built model's parameters from Keras-named weights.
func setKerasWeights(t *testing.T, m *nn.Sequential, fx *kerasFixture) {
	t.Helper()
	byName := map[string][]float64{}
	for _, w := range fx.Weights {
		byName[w.Name] = w.Data
	}
	for _, p := range m.Params() {
		vals, ok := byName[p.Name()+":0"]
		if !ok {
			t.Fatalf("fixture has no weight %s", p.Name()+":0")
		}
		if err := p.SetFloat64s(vals); err != nil {
			t.Fatal(err)
		}
	}
}

func matrix(rows [][]float64) *tensor.Dense {
	var vals []float64
	for _, r := range rows {
		vals = append(vals, r...)
	}
	return must(data.FromFloat64s(vals, tensor.Float64, len(rows), len(rows[0])))
}

// kerasTol is the agreement required with the fixture's float64 forward
// pass: two float64 implementations of tanh and sigmoid agree to about
// 1e-16; 1e-9 is the fixtures' recommended tolerance.
const kerasTol = 1e-9

// TestKerasFixture reads a fixture in keras_xor.json's format, whatever
// the Dense/Activation model it describes: its model_json must survive
// FromJSON then ToJSON byte for byte, and the model built from it, with the
// fixture's weights, must predict expected_predict and each layer's
// expected output. It runs on keras_xor.json (from DESCENT_FIXTURES when
// set) and on testdata/keras_mlp.json, another architecture (gen_mlp.py).
func TestKerasFixture(t *testing.T) {
	t.Run("keras_xor", func(t *testing.T) { checkKerasFixture(t, kerasFixturePath()) })
	t.Run("keras_mlp", func(t *testing.T) { checkKerasFixture(t, filepath.Join("testdata", "keras_mlp.json")) })
}

func checkKerasFixture(t *testing.T, path string) {
	fx := readKerasFixture(t, path)
	m, err := FromJSON([]byte(fx.ModelJSON))
	if err != nil {
		t.Fatal(err)
	}
	again, err := ToJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != fx.ModelJSON {
		t.Errorf("FromJSON then ToJSON changed the text:\ngot  %s\nwant %s", again, fx.ModelJSON)
	}
	if err := m.Build(nn.BuildConfig{DType: tensor.Float64}); err != nil {
		t.Fatal(err)
	}
	setKerasWeights(t, m, fx)
	pred, err := m.Predict(matrix(fx.Inputs))
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, "predict", graph.Float64s(pred), fx.ExpectedPredict)

	// Every layer's output, from the model cut after that layer.
	if len(fx.ExpectedLayerOutputs) != len(m.Layers()) {
		t.Errorf("fixture has outputs of %d layers, the model has %d", len(fx.ExpectedLayerOutputs), len(m.Layers()))
	}
	for k := range m.Layers() {
		fresh, err := FromJSON([]byte(fx.ModelJSON))
		if err != nil {
			t.Fatal(err)
		}
		cut := nn.NewSequential(fresh.Layers()[:k+1]...)
		if err := cut.Build(nn.BuildConfig{}); err != nil {
			t.Fatal(err)
		}
		setKerasWeights(t, cut, fx)
		out, err := cut.Predict(matrix(fx.Inputs))
		if err != nil {
			t.Fatal(err)
		}
		name := cut.Layers()[k].Name()
		want, ok := fx.ExpectedLayerOutputs[name]
		if !ok {
			t.Errorf("fixture has no output for layer %s", name)
			continue
		}
		checkRows(t, name, graph.Float64s(out), want)
	}
}

// TestToJSONSeedModel checks that descent writes the seed model as Keras
// 2.2.4 does, byte for byte: the repository's own copy of keras_xor.json
// holds Keras's text of it (whatever DESCENT_FIXTURES says).
func TestToJSONSeedModel(t *testing.T) {
	fx := readKerasFixture(t, filepath.Join("..", "testdata", "reference", "keras_xor.json"))
	got, err := ToJSON(xorModel())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != fx.ModelJSON {
		t.Errorf("ToJSON of the seed model differs from Keras 2.2.4's:\ngot  %s\nwant %s", got, fx.ModelJSON)
	}
	cfg, err := ModelConfig(xorModel())
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSuffix(fx.ModelJSON, `, "keras_version": "2.2.4", "backend": "tensorflow"}`) + "}"
	if string(cfg) != want || !strings.HasPrefix(want, `{"class_name": "Sequential", "config": {`) {
		t.Errorf("ModelConfig = %s, want %s", cfg, want)
	}
}

func checkRows(t *testing.T, what string, got []float64, want [][]float64) {
	t.Helper()
	i := 0
	for r, row := range want {
		for c, w := range row {
			if i >= len(got) {
				t.Fatalf("%s: %d values, want more", what, len(got))
			}
			if math.Abs(got[i]-w) > kerasTol*math.Max(1, math.Abs(w)) {
				t.Errorf("%s[%d][%d] = %.17g, want %.17g", what, r, c, got[i], w)
			}
			i++
		}
	}
	if i != len(got) {
		t.Errorf("%s: %d values, want %d", what, len(got), i)
	}
}

// persistModels are architectures covering every layer, activation and
// initialiser descent can write as Keras JSON.
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
				&nn.Dense{Units: 4, Activation: "tanh", KernelRegularizer: nn.L1L2{L1: 1e-5, L2: 1e-4}},
				&nn.Dropout{Rate: 0.5, NoiseShape: []int{1, 0}},
				&nn.Dropout{Rate: 0.1, NoiseShape: []int{0, 1}},
				&nn.Dense{Units: 2, Activation: "softmax"},
			)
		},
		"step": func() *nn.Sequential {
			return nn.NewSequential(&nn.Dense{Units: 2, InputDim: 2, Activation: "heaviside", KernelInitializer: graph.RandomUniform{}, BiasInitializer: graph.RandomNormal{}})
		},
	}
}

// TestJSONRoundTrip checks that ToJSON, FromJSON and the weights give the
// same model: the same text again and bit-identical predictions.
func TestJSONRoundTrip(t *testing.T) {
	x := must(data.FromFloat64s([]float64{0.3, -1.2, 2.5, 0, 1, -0.7, 5, -3, 0.01}, tensor.Float64, 3, 3))
	for name, mk := range persistModels() {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			t.Run(name+"/"+dt.String(), func(t *testing.T) {
				m := mk()
				if err := m.Build(nn.BuildConfig{Seed: 3, DType: dt}); err != nil {
					t.Fatal(err)
				}
				js, err := ToJSON(m)
				if err != nil {
					t.Fatal(err)
				}
				if !json.Valid(js) {
					t.Fatalf("ToJSON wrote invalid JSON: %s", js)
				}
				back, err := FromJSON(js)
				if err != nil {
					t.Fatalf("FromJSON(ToJSON): %v\n%s", err, js)
				}
				js2, err := ToJSON(back)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(js, js2) {
					t.Fatalf("round trip changed the JSON:\n%s\n%s", js, js2)
				}
				if err := back.Build(nn.BuildConfig{Seed: 99, DType: dt}); err != nil {
					t.Fatal(err)
				}
				for i, p := range back.Params() {
					if err := p.SetFloat64s(m.Params()[i].Float64s()); err != nil {
						t.Fatal(err)
					}
				}
				in := x
				if m.InputDim() != 3 {
					in = must(data.FromFloat64s([]float64{0.3, -1.2, 2.5, 0}, tensor.Float64, 2, 2))
				}
				if dt == tensor.Float32 {
					in = must(data.FromFloat64s(graph.ReadFloat64s(in, nil), dt, in.Shape()[0], in.Shape()[1]))
				}
				a, err := m.Predict(in)
				if err != nil {
					t.Fatal(err)
				}
				b, err := back.Predict(in)
				if err != nil {
					t.Fatal(err)
				}
				sameBits(t, "predictions", graph.ReadFloat64s(a, nil), graph.ReadFloat64s(b, nil))
			})
		}
	}
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

// TestKerasLayerClasses reads what Keras writes for the layers descent has
// in other spellings: LeakyReLU and ELU layers, a tf.keras InputLayer, the
// list form of Keras 2.1's config and bare initialiser names.
func TestKerasLayerClasses(t *testing.T) {
	js := `{"class_name": "Sequential", "config": [
		{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "dtype": "float32", "sparse": false, "ragged": false, "name": "dense_input"}},
		{"class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": "float32", "units": 4, "activation": "tanh", "use_bias": true,
			"kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}}, "bias_initializer": "zeros"}},
		{"class_name": "LeakyReLU", "config": {"name": "leaky", "trainable": true, "alpha": 0.1}},
		{"class_name": "ELU", "config": {"name": "elu", "trainable": true}},
		{"class_name": "LeakyReLU", "config": {"name": "leaky0", "trainable": true, "alpha": 0.0}},
		{"class_name": "Dense", "config": {"name": "out", "units": 2, "activation": "softmax",
			"kernel_initializer": {"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal", "seed": null}},
			"bias_initializer": {"class_name": "RandomUniform", "config": {"minval": -1, "maxval": 1, "seed": null}}}}
	], "keras_version": "2.4.0", "backend": "tensorflow"}`
	m, err := FromJSON([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	ls := m.Layers()
	if len(ls) != 5 {
		t.Fatalf("%d layers, want 5", len(ls))
	}
	d := ls[0].(*nn.Dense)
	if d.InputDim != 3 || d.Units != 4 || d.Activation != "tanh" || d.Name() != "dense" {
		t.Errorf("first nn.Dense = %+v", d)
	}
	if _, ok := d.KernelInitializer.(graph.GlorotUniform); !ok {
		t.Errorf("kernel initialiser %T, want GlorotUniform", d.KernelInitializer)
	}
	if _, ok := d.BiasInitializer.(graph.Zeros); !ok {
		t.Errorf("bias initialiser %T, want Zeros", d.BiasInitializer)
	}
	if a := ls[1].(*nn.Activation); a.Fn != "leaky_relu" || a.Alpha != 0.1 {
		t.Errorf("LeakyReLU became %+v", a)
	}
	if a := ls[2].(*nn.Activation); a.Fn != "elu" || a.Alpha != 1 {
		t.Errorf("ELU became %+v", a)
	}
	if a := ls[3].(*nn.Activation); a.Fn != "relu" {
		t.Errorf("LeakyReLU(alpha=0) became %+v, want relu", a)
	}
	out := ls[4].(*nn.Dense)
	if _, ok := out.KernelInitializer.(graph.HeNormal); !ok {
		t.Errorf("VarianceScaling(2, fan_in, truncated_normal) became %T, want HeNormal", out.KernelInitializer)
	}
	if r, ok := out.BiasInitializer.(graph.RandomUniform); !ok || r.Min != -1 || r.Max != 1 {
		t.Errorf("RandomUniform became %#v", out.BiasInitializer)
	}
}

// TestKerasRegularizersAndDropout reads the spellings of regularizers and
// Dropout that Keras writes.
func TestKerasRegularizersAndDropout(t *testing.T) {
	js := `{"class_name": "Sequential", "config": {"name": "s", "layers": [
		{"class_name": "Dense", "config": {"name": "a", "batch_input_shape": [null, 3], "units": 4,
			"kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.009999999776482582}},
			"bias_regularizer": {"class_name": "L1", "config": {"l1": 0.5}}}},
		{"class_name": "Dropout", "config": {"name": "b", "trainable": true, "rate": 0.2, "noise_shape": [null, 1], "seed": null}},
		{"class_name": "Dense", "config": {"name": "c", "units": 2, "kernel_regularizer": "l1_l2",
			"bias_regularizer": {"class_name": "L2", "config": {}}}},
		{"class_name": "Dropout", "config": {"name": "d", "rate": 0}}
	]}, "keras_version": "2.4.0", "backend": "tensorflow"}`
	m, err := FromJSON([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	ls := m.Layers()
	a, c := ls[0].(*nn.Dense), ls[2].(*nn.Dense)
	if a.KernelRegularizer != (nn.L1L2{L2: 0.009999999776482582}) || a.BiasRegularizer != nn.L1(0.5) {
		t.Errorf("first Dense regularizers %#v %#v", a.KernelRegularizer, a.BiasRegularizer)
	}
	if c.KernelRegularizer != (nn.L1L2{L1: 0.01, L2: 0.01}) || c.BiasRegularizer != nn.L2(0.01) {
		t.Errorf("second Dense regularizers %#v %#v", c.KernelRegularizer, c.BiasRegularizer)
	}
	if d := ls[1].(*nn.Dropout); d.Rate != 0.2 || !slices.Equal(d.NoiseShape, []int{0, 1}) || d.Name() != "b" {
		t.Errorf("Dropout became %+v", d)
	}
	if d := ls[3].(*nn.Dropout); d.Rate != 0 || d.NoiseShape != nil {
		t.Errorf("Dropout(0) became %+v", d)
	}
	out, err := ToJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.009999999776482582}}`,
		`"bias_regularizer": {"class_name": "L1L2", "config": {"l1": 0.5, "l2": 0.0}}`,
		`{"class_name": "Dropout", "config": {"name": "b", "trainable": true, "rate": 0.2, "noise_shape": [null, 1], "seed": null}}`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ToJSON lacks %s:\n%s", want, out)
		}
	}
}

// TestFromJSONErrors checks that what descent lacks is an error naming it,
// and that sizes over the limits are refused before anything is built. It
// edits the seed model's text, the repository's own copy of
// keras_xor.json.
func TestFromJSONErrors(t *testing.T) {
	fx := readKerasFixture(t, filepath.Join("..", "testdata", "reference", "keras_xor.json"))
	base := fx.ModelJSON
	dense1 := `"kernel_regularizer": null`
	cases := []struct {
		name, json string
		want       []string
		is         error
	}{
		{"activity regularizer", strings.Replace(base, `"activity_regularizer": null`, `"activity_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}}`, 1),
			[]string{"layer 1 (dense_1)", "activity_regularizer", "activity regularizers"}, nn.ErrUnsupported},
		{"regularizer class", strings.Replace(base, dense1, `"kernel_regularizer": {"class_name": "OrthogonalRegularizer", "config": {}}`, 1),
			[]string{"layer 1 (dense_1)", "kernel_regularizer", "OrthogonalRegularizer"}, nn.ErrUnsupported},
		{"negative regularizer", strings.Replace(base, dense1, `"kernel_regularizer": {"class_name": "L1L2", "config": {"l1": -1.0, "l2": 0.0}}`, 1),
			[]string{"dense_1", "kernel_regularizer", "not negative"}, nn.ErrFormat},
		{"dropout seed", strings.Replace(base, `{"class_name": "Activation", "config": {"name": "activation_1", "trainable": true, "activation": "tanh"}}`,
			`{"class_name": "Dropout", "config": {"name": "dropout_1", "trainable": true, "rate": 0.5, "noise_shape": null, "seed": 42}}`, 1),
			[]string{"layer 2 (dropout_1)", "seed", "dropout stream"}, nn.ErrUnsupported},
		{"dropout rate", strings.Replace(base, `{"class_name": "Activation", "config": {"name": "activation_1", "trainable": true, "activation": "tanh"}}`,
			`{"class_name": "Dropout", "config": {"name": "dropout_1", "trainable": true, "rate": 1.0}}`, 1),
			[]string{"layer 2 (dropout_1)", "rate 1"}, nn.ErrFormat},
		{"first layer without a width", strings.Replace(base, `"layers": [{"class_name": "Dense"`, `"layers": [{"class_name": "Dropout", "config": {"name": "d", "batch_input_shape": [null, 2], "rate": 0.1}}, {"class_name": "Dense"`, 1),
			[]string{"layer 1 (d)", "first layer"}, nn.ErrUnsupported},
		{"constraint", strings.Replace(base, `"bias_constraint": null}}, {"class_name": "Activation"`, `"bias_constraint": {"class_name": "MaxNorm", "config": {}}}}, {"class_name": "Activation"`, 1),
			[]string{"dense_1", "bias_constraint"}, nn.ErrUnsupported},
		{"class", strings.Replace(base, `"class_name": "Activation"`, `"class_name": "BatchNormalization"`, 1),
			[]string{"layer 2 (activation_1)", `"BatchNormalization"`, "Dropout"}, nn.ErrUnsupported},
		{"activation", strings.Replace(base, `"activation": "tanh"`, `"activation": "selu"`, 1),
			[]string{"activation_1", `"selu"`}, nn.ErrUnsupported},
		{"trainable", strings.Replace(base, `"trainable": true`, `"trainable": false`, 1),
			[]string{"dense_1", "trainable"}, nn.ErrUnsupported},
		{"seed", strings.Replace(base, `"seed": null`, `"seed": 42`, 1),
			[]string{"dense_1", "kernel_initializer", "seed"}, nn.ErrUnsupported},
		{"variance scaling", strings.Replace(base, `"scale": 1.0, "mode": "fan_avg"`, `"scale": 0.5, "mode": "fan_out"`, 1),
			[]string{"dense_1", "VarianceScaling{scale 0.5, mode fan_out"}, nn.ErrUnsupported},
		{"initializer", strings.Replace(base, `"class_name": "Zeros"`, `"class_name": "Orthogonal"`, 1),
			[]string{"bias_initializer", `"Orthogonal"`}, nn.ErrUnsupported},
		{"unknown option", strings.Replace(base, `"units": 10,`, `"units": 10, "kernel_quantizer": "int8",`, 1),
			[]string{"dense_1", `"kernel_quantizer"`}, nn.ErrUnsupported},
		{"model class", strings.Replace(base, `"Sequential"`, `"Model"`, 1), []string{`"Model"`}, nn.ErrUnsupported},
		{"keras 3", strings.Replace(base, `"2.2.4"`, `"3.3.3"`, 1), []string{"3.3.3"}, nn.ErrUnsupported},
		{"batch size", strings.Replace(base, `[null, 2]`, `[32, 2]`, 1), []string{"batch_input_shape", "[32, 2]"}, nn.ErrUnsupported},
		{"no input", strings.Replace(base, `"batch_input_shape": [null, 2], `, ``, 1), []string{"dense_1", "input width"}, nn.ErrFormat},
		{"syntax", strings.Replace(base, `"units": 10,`, "\n\"units\": 10,,", 1), []string{"line 2 column"}, nn.ErrFormat},
		{"not an object", `[1, 2]`, []string{"line 1 column"}, nn.ErrFormat},
		{"units", strings.Replace(base, `"units": 10`, `"units": "ten"`, 1), []string{"dense_1", "units"}, nn.ErrFormat},
		{"1e9 units", strings.Replace(base, `"units": 10`, `"units": 1000000000`, 1),
			[]string{"layer 1 (dense_1)", "1000000000 units on an input of width 2", "24 GB in float64", "keras.Options.MaxParams"}, nn.ErrLimit},
		{"5e7 units", strings.Replace(base, `"units": 1,`, `"units": 50000000,`, 1),
			[]string{"layer 3 (dense_2)", "50000000 units on an input of width 10", "550000000 parameters", "keras.Options.MaxParams"}, nn.ErrLimit},
		{"overflowing units", strings.Replace(base, `"units": 10`, `"units": 4611686018427387904`, 1), []string{"dense_1", "more than 9.2e18 parameters"}, nn.ErrLimit},
		{"text over 4 MiB", strings.Replace(base, `"units": 10,`, `"units": 10, "pad": "`+strings.Repeat("x", DefaultMaxBytes)+`",`, 1),
			[]string{"bytes, over the limit of 4194304", "keras.Options.MaxBytes"}, nn.ErrLimit},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			alloc := measure(func() { _, err = FromJSON([]byte(c.json)) })
			if err == nil {
				t.Fatal("no error")
			}
			// The text twice over, and its parse (tens of bytes per byte).
			if budget := 1<<20 + 2*uint64(len(c.json)) + 100*uint64(min(len(c.json), 1<<16)); alloc > budget {
				t.Errorf("refusing %d bytes allocated %d (budget %d)", len(c.json), alloc, budget)
			}
			if !errors.Is(err, c.is) {
				t.Errorf("error %q does not wrap %v", err, c.is)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestToJSONErrors(t *testing.T) {
	m := nn.NewSequential(&nn.Dense{Units: 2})
	if _, err := ToJSON(m); err == nil || !strings.Contains(err.Error(), "InputDim") {
		t.Errorf("ToJSON without an input width: err = %v", err)
	}
	m = nn.NewSequential(&nn.Dense{Units: 2, InputDim: 1, KernelInitializer: graph.Constant{Value: math.NaN()}})
	if _, err := ToJSON(m); err == nil {
		t.Error("ToJSON with a NaN constant: no error")
	}
}

// configLayer is a user-defined layer whose Config holds an initialiser
// and a regularizer as values, nested in an object and a list.
type configLayer struct {
	nn.Activation
	cfg nn.Config
}

func (l *configLayer) Config() (string, nn.Config, error) { return "Custom", l.cfg, nil }

// TestLayerJSONValues checks that LayerJSON writes the initialisers and
// regularizers of any layer's Config in Keras's form, at any depth, and
// reports a regularizer that cannot be written.
func TestLayerJSONValues(t *testing.T) {
	l := &configLayer{Activation: nn.Activation{Fn: "relu"}, cfg: nn.Config{
		{Key: "init", Value: graph.HeNormal{}},
		{Key: "nested", Value: nn.Config{{Key: "reg", Value: nn.L2(0.5)}}},
		{Key: "list", Value: []any{graph.Ones{}, 3}},
	}}
	l.SetName("custom_1")
	obj, err := LayerJSON(l, false, 4)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writePy(&b, obj); err != nil {
		t.Fatal(err)
	}
	want := `{"class_name": "Custom", "config": {"name": "custom_1", "trainable": true, ` +
		`"init": {"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_in", "distribution": "normal", "seed": null}}, ` +
		`"nested": {"reg": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.5}}}, ` +
		`"list": [{"class_name": "Ones", "config": {}}, 3]}}`
	if b.String() != want {
		t.Errorf("LayerJSON:\n got %s\nwant %s", b.String(), want)
	}
	l.cfg = nn.Config{{Key: "reg", Value: nn.L1L2{L1: -1}}}
	if _, err := LayerJSON(l, false, 4); !errors.Is(err, nn.ErrConfig) || !strings.Contains(err.Error(), "reg") {
		t.Errorf("LayerJSON with a negative coefficient: err = %v, want ErrConfig naming the key", err)
	}
}

// TestPyFloat checks floats against Python 3's repr.
func TestFormatFloat(t *testing.T) {
	point1 := 0.1 // a variable, so that 0.1 + 0.2 is rounded
	for _, c := range []struct {
		f    float64
		want string
	}{
		{1, "1.0"}, {2, "2.0"}, {0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {-0.05, "-0.05"}, {0.05, "0.05"},
		{0.1, "0.1"}, {1e-4, "0.0001"}, {1e-5, "1e-05"}, {1.5e-7, "1.5e-07"}, {123.456, "123.456"},
		{1e15, "1000000000000000.0"}, {1e16, "1e+16"}, {1.2345e16, "1.2345e+16"}, {9007199254740993, "9007199254740992.0"},
		{point1 + 0.2, "0.30000000000000004"}, {math.MaxFloat64, "1.7976931348623157e+308"}, {5e-324, "5e-324"},
	} {
		if got := FormatFloat(c.f); got != c.want {
			t.Errorf("FormatFloat(%v) = %s, want %s", c.f, got, c.want)
		}
	}
}

func TestPyString(t *testing.T) {
	var b bytes.Buffer
	writePyString(&b, "a\"b\\c\n\x01\x7fé😀")
	if want := `"a\"b\\c\n\u0001\u007f\u00e9\ud83d\ude00"`; b.String() != want {
		t.Errorf("got %s, want %s", b.String(), want)
	}
}

// fuzzParams is the parameter limit of the fuzz test: any model it
// accepts builds in under a megabyte.
const fuzzParams = 100_000

// fuzzAllocBudget is what FromJSON and Build may allocate for n bytes of
// text: json.Decoder's tokens cost about 100 bytes per JSON value, so up to
// 100 bytes per byte of text (garbage, but counted), plus the weights
// allowed by fuzzParams in float64 and fixed costs.
func fuzzAllocBudget(n int) uint64 { return 2<<20 + 8*fuzzParams + 128*uint64(n) }

// measure returns the bytes allocated on the heap while fn runs.
func measure(fn func()) uint64 {
	s := []rtmetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	rtmetrics.Read(s)
	before := s[0].Value.Uint64()
	fn()
	rtmetrics.Read(s)
	return s[0].Value.Uint64() - before
}

// FuzzFromJSON checks that no Keras JSON makes FromJSON panic, that what it
// accepts builds and is written back and read again, and that reading and
// building allocate a bounded multiple of the text (a claimed size never
// allocates what it claims beyond the parameter limit).
func FuzzFromJSON(f *testing.F) {
	f.Add([]byte(`{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"batch_input_shape": [null, 2], "units": 1}}]}}`))
	for _, path := range []string{kerasFixturePath(), filepath.Join("testdata", "keras_mlp.json")} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		var fx kerasFixture
		if json.Unmarshal(b, &fx) == nil {
			f.Add([]byte(fx.ModelJSON))
		}
	}
	for _, mk := range persistModels() {
		if js, err := ToJSON(mk()); err == nil {
			f.Add(js)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m *nn.Sequential
		var err error
		alloc := measure(func() {
			m, err = Options{MaxParams: fuzzParams}.FromJSON(b)
			if err == nil {
				err = m.Build(nn.BuildConfig{MaxParams: fuzzParams})
			}
		})
		if alloc > fuzzAllocBudget(len(b)) {
			t.Fatalf("reading and building %d bytes allocated %d (budget %d)", len(b), alloc, fuzzAllocBudget(len(b)))
		}
		if err != nil {
			return
		}
		js, err := ToJSON(m)
		if err != nil {
			return // e.g. an initialiser value ToJSON cannot write (NaN)
		}
		if _, err := FromJSON(js); err != nil {
			t.Fatalf("FromJSON accepted %q but not its own ToJSON %s: %v", b, js, err)
		}
	})
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

// TestInitializerForms checks that every initialiser descent writes reads
// back as itself, and that Keras's other spellings of a class (the
// snake_case alias as class name, the bare name) read as the same.
func TestInitializerForms(t *testing.T) {
	for _, in := range []graph.Initializer{
		graph.GlorotUniform{}, graph.GlorotNormal{}, graph.HeUniform{}, graph.HeNormal{},
		graph.LecunUniform{}, graph.LecunNormal{}, graph.Zeros{}, graph.Ones{},
		graph.Constant{Value: 0.5}, graph.RandomUniform{Min: -2, Max: 3}, graph.RandomNormal{Mean: 1, Stddev: 0.5},
	} {
		cfg, err := InitializerConfig(in)
		if err != nil {
			t.Fatalf("%T: %v", in, err)
		}
		got, err := NewConfigReader("test", nn.Config{{Key: "k", Value: cfg}}).Initializer("k")
		if err != nil || got != in {
			t.Errorf("%T: read back %#v, %v", in, got, err)
		}
	}
	for _, v := range []any{
		"he_normal",
		nn.Config{{Key: "class_name", Value: "he_normal"}, {Key: "config", Value: nn.Config{}}},
		nn.Config{{Key: "class_name", Value: "HeNormal"}, {Key: "config", Value: nn.Config{{Key: "seed", Value: nil}}}},
	} {
		got, err := NewConfigReader("test", nn.Config{{Key: "k", Value: v}}).Initializer("k")
		if err != nil || got != (graph.HeNormal{}) {
			t.Errorf("%s: read %#v, %v; want HeNormal", FormatValue(v), got, err)
		}
	}
}
