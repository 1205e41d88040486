package optim_test

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/descentlab/descent/optim"
)

func TestClip(t *testing.T) {
	// Gradients (3, 4) and (12): global norm sqrt(9+16+144) = 13.
	g0, g1 := []float64{3, 4}, []float64{12}
	cases := []struct {
		name   string
		c      optim.Clipper
		g0, g1 []float64 // after clipping
	}{
		{"norm clips", optim.ClipNorm{MaxNorm: 6.5}, scale(g0, 6.5/(13+1e-6)), scale(g1, 6.5/(13+1e-6))},
		{"norm keeps", optim.ClipNorm{MaxNorm: 100}, g0, g1},
		// Mind the 1e-6: M = N still scales by M/(N + 1e-6) < 1.
		{"norm at the limit", optim.ClipNorm{MaxNorm: 13}, scale(g0, 13/(13+1e-6)), scale(g1, 13/(13+1e-6))},
		{"value", optim.ClipValue{Value: 3.5}, []float64{3, 3.5}, []float64{3.5}},
	}
	// float32 gradients are scaled by a float32 coefficient: 1 ulp (6e-8).
	tols := map[tensor.Dtype]float64{tensor.Float64: 1e-15, tensor.Float32: 2e-7}
	for _, c := range cases {
		for _, dt := range dtypes {
			ps := newParams(t, dt, []float64{0, 0}, []float64{0})
			setGrads(t, ps, g0, g1)
			n, err := c.c.Clip(ps)
			if err != nil {
				t.Fatal(err)
			}
			if n != 13 {
				t.Errorf("%s/%v: norm %v, want 13", c.name, dt, n)
			}
			got := grads64(ps)
			for i, want := range [][]float64{c.g0, c.g1} {
				for j := range want {
					if math.Abs(got[i][j]-want[j]) > tols[dt]*math.Abs(want[j]) {
						t.Errorf("%s/%v: g%d[%d] = %.17g, want %.17g", c.name, dt, i, j, got[i][j], want[j])
					}
				}
			}
		}
	}
	ps := newParams(t, tensor.Float64, []float64{0, 0}, []float64{0})
	setGrads(t, ps, []float64{math.NaN(), 1}, []float64{1})
	if n, _ := (optim.ClipNorm{MaxNorm: 1}).Clip(ps); !math.IsNaN(n) || !math.IsNaN(grads64(ps)[1][0]) {
		t.Errorf("NaN norm %v: torch 1.13 makes every gradient NaN, got %v", n, grads64(ps))
	}
	if n, err := optim.GlobalNorm(nil); n != 0 || err != nil {
		t.Errorf("GlobalNorm(nil) = %v, %v", n, err)
	}
}

func scale(s []float64, c float64) []float64 {
	out := make([]float64, len(s))
	for i, x := range s {
		out[i] = x * c
	}
	return out
}
