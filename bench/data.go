package bench

import (
	"fmt"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"gorgonia.org/tensor"
)

// MNIST shapes.
const (
	Pixels    = 784
	Classes   = 10
	TrainRows = 60000
	TestRows  = 10000
	Hidden    = 128
)

// Stream bases of the synthetic data; torch_bench.py uses the same ones.
const (
	baseTrainX uint64 = 1 << 60
	baseTrainY uint64 = 2 << 60
	baseTestX  uint64 = 3 << 60
	baseTestY  uint64 = 4 << 60
)

// splitmix64 is Vigna's SplitMix64 output function applied to x. It is
// simple enough to write again in numpy, so that torch_bench.py generates
// bit for bit the same synthetic data.
func splitmix64(x uint64) uint64 {
	z := x + 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Synthetic returns n MNIST-shaped rows: X [n, 784] with pixels uniform on
// [0, 1) in steps of 2^-24 (exact in float32), Y [n, 1] class indices 0..9.
// Value k of X is splitmix64(seed ^ base + k) >> 40 / 2^24; test selects
// the test streams. It is seeded and needs no files.
func Synthetic(n int, test bool, seed uint64, dt tensor.Dtype) (*data.Dataset, error) {
	bx, by := baseTrainX, baseTrainY
	if test {
		bx, by = baseTestX, baseTestY
	}
	xs := make([]float64, n*Pixels)
	for k := range xs {
		xs[k] = float64(splitmix64((seed^bx)+uint64(k))>>40) / (1 << 24)
	}
	ys := make([]float64, n)
	for k := range ys {
		ys[k] = float64(splitmix64((seed^by)+uint64(k)) % Classes)
	}
	x, err := graph.ZeroTensor(dt, n, Pixels)
	if err != nil {
		return nil, err
	}
	y, err := graph.ZeroTensor(dt, n, 1)
	if err != nil {
		return nil, err
	}
	if err := graph.WriteFloat64s(x, xs); err != nil {
		return nil, err
	}
	if err := graph.WriteFloat64s(y, ys); err != nil {
		return nil, err
	}
	return data.New(x, y)
}

// MNIST is the data the workloads train and predict on.
type MNIST struct {
	Train, Test *data.Dataset
	// Source is "mnist" (the real files, with Dir) or "synthetic".
	Source string
	Dir    string
}

// LoadData returns real MNIST through data.LoadMNIST when its files are
// available and synthetic is false, otherwise synthetic data of the same
// shape (seed 1). Labels are class indices [n, 1]. Synthetic sets have
// trainRows and testRows rows when these are positive.
func LoadData(dt tensor.Dtype, synthetic bool, trainRows, testRows int) (*MNIST, error) {
	if !synthetic {
		dir, err := data.MNISTDir()
		if err == nil {
			train, test, err := data.LoadMNIST(dir, data.MNISTOptions{DType: dt})
			if err != nil {
				return nil, fmt.Errorf("bench: loading MNIST: %w", err)
			}
			return &MNIST{Train: train, Test: test, Source: "mnist", Dir: dir}, nil
		}
	}
	if trainRows <= 0 {
		trainRows = TrainRows
	}
	if testRows <= 0 {
		testRows = TestRows
	}
	train, err := Synthetic(trainRows, false, 1, dt)
	if err != nil {
		return nil, err
	}
	test, err := Synthetic(testRows, true, 1, dt)
	if err != nil {
		return nil, err
	}
	return &MNIST{Train: train, Test: test, Source: "synthetic"}, nil
}

// MNISTDirForTorch returns the directory of the MNIST files, for the torch
// peer to read the same data.
func MNISTDirForTorch() (string, error) { return data.MNISTDir() }
