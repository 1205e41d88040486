package nn

import (
	"fmt"
	"sort"
	"strings"

	"github.com/descentlab/descent/graph"
)

// Output is what a loss sees of the model: its prediction, and when the last
// layer ends in an activation, the values before it.
type Output struct {
	// Pred is the model's output [batch, k].
	Pred *graph.Node
	// Logits is the input of the final activation [batch, k], or nil.
	Logits *graph.Node
	// Activation names the final activation ("softmax"), or "" when unknown.
	Activation string
}

// Loss builds the training objective. Every loss is a mean over the batch
// actually fed (a ragged last batch of 2 rows is averaged over 2), so
// learning rates are comparable across full-batch, stochastic and minibatch
// descent.
type Loss interface {
	// Name returns the Keras name ("binary_crossentropy").
	Name() string
	// Build returns the scalar loss of out against target [batch, k].
	Build(out Output, target *graph.Node) *graph.Node
}

// sparseTargets is implemented by losses whose targets are class indices
// ([batch, 1]) rather than one-hot rows; the trainer expands them.
type sparseTargets interface {
	sparse() bool
}

// MeanSquaredError is mean((pred - target)²) over every element.
type MeanSquaredError struct{}

// BinaryCrossentropy is -mean(y·log p + (1-y)·log(1-p)) over every element,
// with p clipped to [Epsilon, 1-Epsilon] as Keras does (gorgonia's
// BinaryXent epsilon is a no-op in both dtypes).
type BinaryCrossentropy struct {
	// Epsilon is the clipping margin. If zero, Keras's 1e-7.
	Epsilon float64
}

// CategoricalCrossentropy is -Σ y·log p / batch, the mean over rows of each
// row's cross-entropy, targets one-hot (or any distribution). When the
// model's output activation is softmax it is computed from the logits
// through a row-stable log-softmax, which is exact and never takes log 0;
// otherwise p is clipped to [Epsilon, 1] as Keras does.
type CategoricalCrossentropy struct {
	// Epsilon is the clipping margin for non-softmax outputs. If zero, 1e-7.
	Epsilon float64
}

// SparseCategoricalCrossentropy is CategoricalCrossentropy with targets
// given as class indices in a single column.
type SparseCategoricalCrossentropy struct {
	CategoricalCrossentropy
}

// Name implements Loss.
func (MeanSquaredError) Name() string { return "mean_squared_error" }

// Name implements Loss.
func (BinaryCrossentropy) Name() string { return "binary_crossentropy" }

// Name implements Loss.
func (CategoricalCrossentropy) Name() string { return "categorical_crossentropy" }

// Name implements Loss.
func (SparseCategoricalCrossentropy) Name() string { return "sparse_categorical_crossentropy" }

func (SparseCategoricalCrossentropy) sparse() bool { return true }

// Build implements Loss.
func (MeanSquaredError) Build(out Output, target *graph.Node) *graph.Node {
	return graph.Mean(graph.Square(graph.Sub(out.Pred, target)))
}

// Build implements Loss.
func (l BinaryCrossentropy) Build(out Output, target *graph.Node) *graph.Node {
	eps := l.Epsilon
	if eps == 0 {
		eps = 1e-7
	}
	p := graph.Clip(out.Pred, eps, 1-eps)
	one := target.Graph().Scalar(1)
	pos := graph.Mul(target, graph.Log(p))
	neg := graph.Mul(graph.Sub(one, target), graph.Log(graph.Sub(one, p)))
	return graph.Neg(graph.Mean(graph.Add(pos, neg)))
}

// Build implements Loss.
func (l CategoricalCrossentropy) Build(out Output, target *graph.Node) *graph.Node {
	var logp *graph.Node
	if out.Logits != nil && strings.EqualFold(out.Activation, "softmax") {
		logp = graph.LogSoftmax(out.Logits)
	} else {
		eps := l.Epsilon
		if eps == 0 {
			eps = 1e-7
		}
		logp = graph.Log(graph.Clip(out.Pred, eps, 1))
	}
	rows := 1
	if s := target.Shape(); len(s) > 0 {
		rows = s[0]
	}
	return graph.Scale(graph.Sum(graph.Mul(target, logp)), -1/float64(rows))
}

var losses = map[string]Loss{
	"mean_squared_error":              MeanSquaredError{},
	"binary_crossentropy":             BinaryCrossentropy{},
	"categorical_crossentropy":        CategoricalCrossentropy{},
	"sparse_categorical_crossentropy": SparseCategoricalCrossentropy{},
}

var lossAliases = map[string]string{
	"mse": "mean_squared_error", "bce": "binary_crossentropy", "cce": "categorical_crossentropy",
}

// LossNames returns the loss names LossByName accepts (aliases: mse, bce, cce).
func LossNames() []string {
	names := make([]string, 0, len(losses))
	for n := range losses {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LossByName returns the loss with the given Keras name.
func LossByName(name string) (Loss, error) {
	key := strings.ToLower(name)
	if a, ok := lossAliases[key]; ok {
		key = a
	}
	if l, ok := losses[key]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("nn: unknown loss %q (valid: %s): %w", name, strings.Join(LossNames(), ", "), ErrUnknownName)
}
