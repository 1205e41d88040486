package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/keras"
	"github.com/descentlab/descent/nn/persist"
)

// Saving and reloading (see README.md): -save writes the trained model to
// one safetensors file (weights, and the Keras JSON of the architecture in
// its metadata); -load reads such a file and predicts without training.
// With a path ending in .h5, they do the tutorial's last step instead:
// the weights as Keras's save_weights writes them, the architecture as
// model.to_json() text next to them (basic_weights.h5 and
// basic_weights.json), and -load rebuilds the model from the JSON and
// loads the weights, as model_from_json and load_weights do.
var (
	savePath = flag.String("save", filepath.Join(os.TempDir(), "xor.safetensors"), `write the trained model to this file ("" to skip); a .h5 path writes Keras's save_weights file and the model's JSON next to it`)
	loadPath = flag.String("load", "", "predict with the model saved in this file instead of training")
)

// jsonPath is where the architecture of a .h5 weights file goes:
// basic_weights.h5 gives basic_weights.json.
func jsonPath(h5 string) string { return strings.TrimSuffix(h5, filepath.Ext(h5)) + ".json" }

func isH5(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".h5" || ext == ".hdf5"
}

// save writes the trained model to *savePath, if set.
func save(model *nn.Sequential) error {
	if *savePath == "" {
		return nil
	}
	if !isH5(*savePath) {
		if err := persist.Save(*savePath, model); err != nil {
			return err
		}
		fmt.Println("saved the model to", *savePath)
		return nil
	}
	js, err := keras.ToJSON(model) // model.to_json()
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath(*savePath), js, 0o644); err != nil {
		return err
	}
	if err := persist.SaveWeights(*savePath, model); err != nil { // model.save_weights(...)
		return err
	}
	fmt.Printf("saved the weights to %s and the architecture to %s\n", *savePath, jsonPath(*savePath))
	return nil
}

// loadModel reads a model saved by -save: a whole-model file, or a .h5
// weights file and the JSON next to it (a Keras model.save .h5 file, with
// no JSON next to it, loads whole).
func loadModel(path string) (*nn.Sequential, error) {
	if !isH5(path) {
		return persist.Load(path)
	}
	js, err := os.ReadFile(jsonPath(path))
	if os.IsNotExist(err) {
		return persist.Load(path)
	}
	if err != nil {
		return nil, err
	}
	model, err := keras.FromJSON(js) // model_from_json(...)
	if err != nil {
		return nil, err
	}
	if err := model.Build(nn.BuildConfig{}); err != nil {
		return nil, err
	}
	if err := persist.LoadWeights(path, model); err != nil { // load_weights(...)
		return nil, err
	}
	return model, nil
}

// predictSaved loads a model saved by -save and predicts XOR with it.
func predictSaved(path string) error {
	model, err := loadModel(path)
	if err != nil {
		return err
	}
	fmt.Println("loaded the model from", path)
	if err := model.Summary(os.Stdout); err != nil {
		return err
	}
	x := data.XOR(model.DType()).X
	pred, err := model.Predict(x)
	if err != nil {
		return err
	}
	fmt.Printf("predictions:\n%s\n", rows(pred))
	classes, err := model.PredictClasses(x)
	if err != nil {
		return err
	}
	fmt.Println("classes:", classes)
	return nil
}
