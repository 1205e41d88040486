package persist_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/keras"
	"github.com/descentlab/descent/nn/persist"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

func residualModel(t *testing.T, seed uint64) *nn.Sequential {
	t.Helper()
	m := nn.NewSequential(
		&nn.Dense{Units: 4, InputDim: 2, Activation: "tanh"},
		&Residual{Activation: "relu"},
		&nn.Dense{Units: 1, Activation: "sigmoid"},
	)
	if err := m.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewAdam(0.05), Seed: seed}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCustomLayer checks a user-defined layer through every persistence
// path: Keras JSON with and without its decoder, weights, a whole model
// and a checkpoint resumed bit for bit.
func TestCustomLayer(t *testing.T) {
	xor := data.XOR(tensor.Float64)
	layers := keras.BuiltinLayers()
	layers["Residual"] = decodeResidual

	js, err := keras.ToJSON(residualModel(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `{"class_name": "Residual", "config": {"name": "residual_1", "trainable": true, "activation": "relu"}}`) {
		t.Errorf("Keras JSON of the custom layer: %s", js)
	}
	if _, err := keras.FromJSON(js); !errors.Is(err, nn.ErrUnsupported) || !strings.Contains(err.Error(), `"Residual"`) {
		t.Errorf("FromJSON without the decoder: err = %v", err)
	}
	back, err := keras.Options{Layers: layers}.FromJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := back.Layers()[1].(*Residual); !ok || r.Activation != "relu" || r.Name() != "residual_1" {
		t.Errorf("decoded layer %#v", back.Layers()[1])
	}

	// A checkpoint mid-run, restored into a model of another seed.
	cfg := nn.FitConfig{Epochs: 6, Batching: data.Minibatch(3)}
	whole := residualModel(t, 4)
	hw, err := whole.Fit(context.Background(), xor, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := residualModel(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := cfg
	stopped.Callbacks = []nn.Callback{nn.StepFunc(func(_ *nn.Training, rec nn.StepRecord) error {
		if rec.Step == 5 {
			cancel()
		}
		return nil
	})}
	if _, err := m.Fit(ctx, xor, stopped); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted fit: %v", err)
	}
	var buf bytes.Buffer
	if err := persist.WriteCheckpoint(&buf, m, cfg); err != nil {
		t.Fatal(err)
	}
	fresh := residualModel(t, 99)
	if _, err := persist.ReadCheckpoint(&buf, fresh); err != nil {
		t.Fatal(err)
	}
	resumed := cfg
	resumed.Resume = true
	hr, err := fresh.Fit(context.Background(), xor, resumed)
	if err != nil {
		t.Fatal(err)
	}
	if len(hr.Steps) != len(hw.Steps) {
		t.Fatalf("%d steps, want %d", len(hr.Steps), len(hw.Steps))
	}
	for i := range hw.Steps {
		if hr.Steps[i].Loss != hw.Steps[i].Loss {
			t.Fatalf("step %d: resumed loss %v, whole %v", i+1, hr.Steps[i].Loss, hw.Steps[i].Loss)
		}
	}
	// The whole model, weights and architecture, and the weights alone.
	buf.Reset()
	if err := persist.WriteModel(&buf, fresh); err != nil {
		t.Fatal(err)
	}
	loaded, err := persist.Options{Layers: layers}.ReadModel(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range loaded.Params() {
		a, b := p.Float64s(), whole.Params()[i].Float64s()
		for j := range a {
			if math.Float64bits(a[j]) != math.Float64bits(b[j]) {
				t.Fatalf("%s[%d]: loaded %v, trained %v", p.Name(), j, a[j], b[j])
			}
		}
	}
	if got := loaded.Params()[2].Name(); got != "residual_1/kernel" {
		t.Errorf("the custom layer's first weight is %q", got)
	}
}
