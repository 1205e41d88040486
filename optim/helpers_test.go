package optim_test

import (
	"fmt"
	"testing"

	"gorgonia.org/tensor"

	"github.com/descentlab/descent/graph"
)

// newParams returns one parameter per value list, named p0, p1, ..., of
// dtype dt.
func newParams(t testing.TB, dt tensor.Dtype, vals ...[]float64) []*graph.Param {
	t.Helper()
	ps := make([]*graph.Param, len(vals))
	for i, v := range vals {
		p, err := graph.NewParam(fmt.Sprintf("p%d", i), dt, len(v))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.SetFloat64s(v); err != nil {
			t.Fatal(err)
		}
		ps[i] = p
	}
	return ps
}

// setGrads writes grads[i] into the gradient of params[i].
func setGrads(t testing.TB, params []*graph.Param, grads ...[]float64) {
	t.Helper()
	for i, g := range grads {
		if err := graph.WriteFloat64s(params[i].Grad(), g); err != nil {
			t.Fatal(err)
		}
	}
}

func grads64(params []*graph.Param) [][]float64 {
	out := make([][]float64, len(params))
	for i, p := range params {
		out[i] = graph.ReadFloat64s(p.Grad(), nil)
	}
	return out
}

var dtypes = []tensor.Dtype{tensor.Float64, tensor.Float32}
