package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/persist"
)

// Saving and reloading (see README.md): -save writes the trained model to
// one safetensors file (weights, and the Keras JSON of the architecture in
// its metadata); -load reads such a file and predicts without training.
var (
	savePath = flag.String("save", filepath.Join(os.TempDir(), "xor.safetensors"), `write the trained model to this file ("" to skip)`)
	loadPath = flag.String("load", "", "predict with the model saved in this file instead of training")
)

// save writes the trained model to *savePath, if set.
func save(model *nn.Sequential) error {
	if *savePath == "" {
		return nil
	}
	if err := persist.Save(*savePath, model); err != nil {
		return err
	}
	fmt.Println("saved the model to", *savePath)
	return nil
}

// predictSaved loads a model saved by -save and predicts XOR with it.
func predictSaved(path string) error {
	model, err := persist.Load(path)
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
