package data_test

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/descentlab/descent/data"
	"gorgonia.org/tensor"
)

func ExampleBatching_Epoch() {
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int, 10)
	for _, b := range []data.Batching{data.Minibatch(4), {Size: 4, DropLast: true}, data.FullBatch()} {
		fmt.Printf("%v drop=%v:", b, b.DropLast)
		for batch := range b.Epoch(1, order, rng) {
			fmt.Printf(" %d", len(batch))
		}
		fmt.Println()
	}
	// Output:
	// minibatch(4) drop=false: 4 4 2
	// minibatch(4) drop=true: 4 4
	// full drop=false: 10
}

func ExampleReadCSV() {
	const iris = `sepal_length,sepal_width,petal_length,petal_width,species
5.1,3.5,1.4,0.2,setosa
7.0,3.2,4.7,1.4,versicolor
6.3,3.3,6.0,2.5,virginica
`
	tab, err := data.ReadCSV(strings.NewReader(iris), data.CSVOptions{
		Source: "iris.csv", Header: true, TargetNames: []string{"species"}, Class: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tab.Data.X.Shape(), tab.Data.Y.Shape(), tab.Features, tab.Classes)
	labels, _ := tab.Data.Labels()
	fmt.Println(labels)

	_, err = data.ReadCSV(strings.NewReader("a,b,c\n1,2,3\n4,abc,6\n"), data.CSVOptions{Source: "iris.csv", Header: true})
	fmt.Println(err)
	// Output:
	// (3, 4) (3, 1) [sepal_length sepal_width petal_length petal_width] [setosa versicolor virginica]
	// [0 1 2]
	// data: iris.csv:3:2: "abc" is not a number
}

func ExampleScaler() {
	train, _ := data.FromRows([][]float64{{1, 10}, {2, 10}, {3, 10}}, [][]float64{{0}, {0}, {1}}, tensor.Float64)
	test, _ := data.FromRows([][]float64{{4, 11}}, [][]float64{{1}}, tensor.Float64)
	s := data.Scaler{Method: data.MinMax}
	train, err := s.FitTransformDataset(train) // statistics of the training set only
	if err != nil {
		fmt.Println(err)
		return
	}
	test, err = s.TransformDataset(test) // the constant column has scale 1: 11-10
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(train.X.Data(), test.X.Data(), test.Y.Data())
	// Output:
	// [0 0 0.5 0 1 0] [1.5 1] [1]
}

func ExampleDataset_ValidationSplit() {
	d, _ := data.Parity(3, tensor.Float32) // 8 rows
	train, val, _ := d.ValidationSplit(0.25)
	fmt.Println(train.Len(), val.Len(), val.X.Data())

	train, val, _ = d.Split(0.25, 1) // shuffled first, seed 1
	fmt.Println(train.Len(), val.Len())
	// Output:
	// 6 2 [1 1 0 1 1 1]
	// 6 2
}

func ExampleOneHot() {
	y, _ := data.OneHot([]int{2, 0, 1}, 3, tensor.Float32)
	fmt.Println(y.Data())
	labels, _ := data.ArgMax(y)
	fmt.Println(labels)
	// Output:
	// [0 0 1 1 0 0 0 1 0]
	// [2 0 1]
}

func ExampleLinearRegression() {
	d, truth, err := data.LinearRegression(100, 2, 0.1, tensor.Float64, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.X.Shape(), d.Y.Shape(), len(truth.W))
	// Output:
	// (100, 2) (100, 1) 2
}

func ExampleSpirals() {
	d, _ := data.Spirals(200, 0.02, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
	x := d.X.Float32s()
	fmt.Printf("%v, row 0 (class %v) at (%.2f, %.2f)\n", d.X.Shape(), d.Y.Float32s()[0], x[0], x[1])
	// Output:
	// (200, 2), row 0 (class 0) at (0.05, 0.09)
}
