package persist_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/keras"
	"github.com/descentlab/descent/nn/persist"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// Residual is a user-defined layer: y = x + act(x·W + b), with W [in, in]
// and b [in]. It implements nn.Layer and nothing else, yet trains,
// summarises, saves and loads like a built-in layer.
type Residual struct {
	nn.LayerBase
	// Activation names the activation of the branch (see
	// nn.ActivationNames); "tanh" if empty.
	Activation string
}

var _ nn.Layer = (*Residual)(nil)

// ClassName implements nn.Layer.
func (r *Residual) ClassName() string { return "Residual" }

// OutputWidth implements nn.Layer: the width is kept.
func (r *Residual) OutputWidth(in int) (int, error) { return in, nil }

// ParamCount implements nn.Layer.
func (r *Residual) ParamCount(in int) int { return in*in + in }

// Build implements nn.Layer: the weights are "<name>/kernel" and
// "<name>/bias", drawn from the model's initialisation stream.
func (r *Residual) Build(in int, ctx nn.BuildContext) error {
	w, err := ctx.Weight(r.Name(), "kernel", graph.GlorotUniform{}, in, in)
	if err != nil {
		return err
	}
	b, err := ctx.Weight(r.Name(), "bias", graph.Zeros{}, in)
	if err != nil {
		return err
	}
	r.SetParams(w, b)
	return nil
}

// Forward implements nn.Layer.
func (r *Residual) Forward(x *graph.Node, _ *nn.ForwardContext) *graph.Node {
	g, ps := x.Graph(), r.Params()
	branch := graph.Dense(x, g.Param(ps[0]), g.Param(ps[1]))
	if r.activation() == "relu" {
		branch = graph.ReLU(branch)
	} else {
		branch = graph.Tanh(branch)
	}
	return graph.Add(x, branch)
}

func (r *Residual) activation() string {
	if r.Activation == "" {
		return "tanh"
	}
	return r.Activation
}

// Config implements nn.Layer: what Keras JSON records of the layer.
func (r *Residual) Config() (string, nn.Config, error) {
	return "Residual", nn.Config{{Key: "activation", Value: r.activation()}}, nil
}

// decodeResidual reads a Residual back from its config.
func decodeResidual(c *keras.ConfigReader) (nn.Layer, error) {
	r := &Residual{}
	if err := c.Read("activation", &r.Activation); err != nil {
		return nil, err
	}
	if a := r.activation(); a != "tanh" && a != "relu" {
		return nil, c.Errorf(nn.ErrUnsupported, "activation %q (Residual has tanh and relu)", a)
	}
	return r, nil
}

// A user-defined layer trains, saves and reloads bit-identically: the
// loader learns its class name from a registry value, not from global
// state.
func Example_customLayer() {
	xor := data.XOR(tensor.Float64)
	model := nn.NewSequential(
		&nn.Dense{Units: 4, InputDim: 2, Activation: "tanh"},
		&Residual{},
		&nn.Dropout{Rate: 0.1},
		&nn.Dense{Units: 1, Activation: "sigmoid", KernelRegularizer: nn.L2(1e-4)},
	)
	if err := model.Summary(os.Stdout); err != nil {
		fmt.Println(err)
		return
	}
	err := model.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewAdam(0.05), Seed: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := model.Fit(context.Background(), xor, nn.FitConfig{Epochs: 300}); err != nil {
		fmt.Println(err)
		return
	}

	dir, err := os.MkdirTemp("", "residual")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "residual.safetensors")
	if err := persist.Save(path, model); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := persist.Load(path); err != nil {
		fmt.Println("without the registry:", err != nil)
	}
	layers := keras.BuiltinLayers()
	layers["Residual"] = decodeResidual
	loaded, err := persist.Options{Layers: layers}.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}

	a, err := model.Predict(xor.X)
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := loaded.Predict(xor.X)
	if err != nil {
		fmt.Println(err)
		return
	}
	same := true
	for i, v := range graph.ReadFloat64s(a, nil) {
		same = same && math.Float64bits(v) == math.Float64bits(graph.ReadFloat64s(b, nil)[i])
	}
	classes, _ := loaded.PredictClasses(xor.X)
	fmt.Println("bit-identical after reload:", same, "classes:", classes)
	// Output:
	// _________________________________________________________________
	// Layer (type)                 Output Shape              Param #
	// =================================================================
	// dense_1 (Dense)              (None, 4)                 12
	// _________________________________________________________________
	// residual_1 (Residual)        (None, 4)                 20
	// _________________________________________________________________
	// dropout_1 (Dropout)          (None, 4)                 0
	// _________________________________________________________________
	// dense_2 (Dense)              (None, 1)                 5
	// =================================================================
	// Total params: 37
	// Trainable params: 37
	// Non-trainable params: 0
	// _________________________________________________________________
	// without the registry: true
	// bit-identical after reload: true classes: [0 1 1 0]
}

// The last step of the Keras XOR tutorial: the architecture as JSON
// (model.to_json), the weights as Keras's save_weights writes them, the
// model rebuilt from the JSON (model_from_json) and given the weights
// (load_weights). Keras reads the same two files.
func Example_kerasTutorial() {
	xor := data.XOR(tensor.Float64)
	model := nn.NewSequential(
		&nn.Dense{Units: 10, InputDim: 2},
		&nn.Activation{Fn: "tanh"},
		&nn.Dense{Units: 1},
		&nn.Activation{Fn: "sigmoid"},
	)
	err := model.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewSGD(0.1), Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := model.Fit(context.Background(), xor, nn.FitConfig{Epochs: 1000}); err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "tutorial")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	js, err := keras.ToJSON(model) // model_json = model.to_json()
	if err != nil {
		fmt.Println(err)
		return
	}
	weights := filepath.Join(dir, "basic_weights.h5")
	if err := persist.SaveWeights(weights, model); err != nil { // model.save_weights("basic_weights.h5")
		fmt.Println(err)
		return
	}

	loaded, err := keras.FromJSON(js) // loaded_model = model_from_json(model_json)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := loaded.Build(nn.BuildConfig{}); err != nil {
		fmt.Println(err)
		return
	}
	if err := persist.LoadWeights(weights, loaded); err != nil { // loaded_model.load_weights("basic_weights.h5")
		fmt.Println(err)
		return
	}
	probs, err := loaded.PredictRows(xor.X)
	if err != nil {
		fmt.Println(err)
		return
	}
	classes, _ := loaded.PredictClasses(xor.X)
	fmt.Printf("%.4f\n%v\n", probs, classes)
	// Output:
	// [[0.0182] [0.9553] [0.9617] [0.0491]]
	// [0 1 1 0]
}
