// Command xor is the classic Keras XOR tutorial in Go: a 2-10-1 network with
// a tanh hidden layer and a sigmoid output, trained by gradient descent with
// binary cross-entropy, that learns XOR.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

func main() {
	seed := flag.Uint64("seed", 1, "random seed (initialisation and shuffling)")
	epochs := flag.Int("epochs", 1000, "training epochs")
	batch := flag.Int("batch", 0, "batch size: 0 full batch, 1 stochastic, n minibatch")
	lr := flag.Float64("lr", 0.1, "learning rate")
	verbose := flag.Int("verbose", 2, "0 silent, 1 progress bar, 2 one line per epoch")
	flag.Parse()
	if *landscape {
		if err := drawLandscape(*seed, *epochs, *lr); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *loadPath != "" {
		if err := predictSaved(*loadPath); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(*seed, *epochs, *batch, *lr, *verbose); err != nil {
		log.Fatal(err)
	}
}

func run(seed uint64, epochs, batch int, lr float64, verbose int) error {
	xor := data.XOR(tensor.Float64)

	model := nn.NewSequential(
		&nn.Dense{Units: 10, InputDim: 2},
		&nn.Activation{Fn: "tanh"},
		&nn.Dense{Units: 1},
		&nn.Activation{Fn: "sigmoid"},
	)
	if err := model.Summary(os.Stdout); err != nil {
		return err
	}
	err := model.Compile(nn.CompileConfig{
		Loss:      "binary_crossentropy",
		Optimizer: optim.NewSGD(lr),
		Metrics:   []string{"accuracy"},
		Seed:      seed,
	})
	if err != nil {
		return err
	}

	before, err := model.Predict(xor.X)
	if err != nil {
		return err
	}
	fmt.Printf("predictions before training:\n%s\n", rows(before))

	_, err = model.Fit(context.Background(), xor, nn.FitConfig{
		Epochs:   epochs,
		Batching: data.Batching{Size: batch},
		Verbose:  verbose,
	})
	if err != nil {
		return err
	}

	after, err := model.Predict(xor.X)
	if err != nil {
		return err
	}
	fmt.Printf("predictions after training:\n%s\n", rows(after))
	classes, err := model.PredictClasses(xor.X)
	if err != nil {
		return err
	}
	fmt.Println("classes:", classes)
	return save(model)
}

// rows formats a [n, k] prediction like numpy prints it, four decimals.
func rows(t *tensor.Dense) string {
	vals := graph.ReadFloat64s(t, nil)
	k := t.Shape()[1]
	var b strings.Builder
	b.WriteString("[")
	for r := 0; r < len(vals)/k; r++ {
		if r > 0 {
			b.WriteString("\n ")
		}
		b.WriteString("[")
		for j, v := range vals[r*k : (r+1)*k] {
			if j > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%.4f", v)
		}
		b.WriteString("]")
	}
	b.WriteString("]")
	return b.String()
}
