package nn

import (
	"fmt"
	"sort"
	"strings"

	"github.com/descentlab/descent/graph"
)

// activation is one element-wise (or row-wise, for softmax) function.
type activation struct {
	apply func(x *graph.Node, alpha float64) *graph.Node
	// alpha is the default parameter (leaky_relu's slope, elu's alpha).
	alpha float64
	// nonDiff marks functions without a gradient.
	nonDiff bool
	// instead is what to use for training when nonDiff is set.
	instead string
}

var activations = map[string]activation{
	"linear":     {apply: func(x *graph.Node, _ float64) *graph.Node { return x }},
	"sigmoid":    {apply: func(x *graph.Node, _ float64) *graph.Node { return graph.Sigmoid(x) }},
	"tanh":       {apply: func(x *graph.Node, _ float64) *graph.Node { return graph.Tanh(x) }},
	"relu":       {apply: func(x *graph.Node, _ float64) *graph.Node { return graph.ReLU(x) }},
	"leaky_relu": {apply: graph.LeakyReLU, alpha: 0.2},
	"elu":        {apply: graph.ELU, alpha: 1.0},
	"softplus":   {apply: func(x *graph.Node, _ float64) *graph.Node { return graph.Softplus(x) }},
	"softmax":    {apply: func(x *graph.Node, _ float64) *graph.Node { return graph.Softmax(x) }},
	"step": {apply: func(x *graph.Node, _ float64) *graph.Node { return graph.Heaviside(x) }, nonDiff: true,
		instead: `use "sigmoid" (its smooth version) for gradient descent, or train the step neuron with the perceptron rule`},
}

// ActivationNames returns the activation names Dense and Activation accept.
func ActivationNames() []string {
	names := make([]string, 0, len(activations))
	for n := range activations {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CanonicalActivation returns the name under which descent knows an
// activation: lower case, "linear" for "", "step" for "heaviside". An
// unknown name is an error listing the valid ones and wrapping
// ErrUnknownName.
func CanonicalActivation(name string) (string, error) {
	_, key, err := lookupActivation(name)
	return key, err
}

func lookupActivation(name string) (activation, string, error) {
	if name == "" {
		name = "linear"
	}
	key := strings.ToLower(name)
	if key == "heaviside" {
		key = "step"
	}
	a, ok := activations[key]
	if !ok {
		return activation{}, "", fmt.Errorf("unknown activation %q (valid: %s): %w", name, strings.Join(ActivationNames(), ", "), ErrUnknownName)
	}
	return a, key, nil
}
