package graph

import (
	"errors"
	"math"
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// xorParams returns the parameters of a 2-4-1 network (a kernel, a bias,
// a kernel, a bias) with values 1, 2, 3, ... in ParamVector's order.
func xorParams(t *testing.T, dt tensor.Dtype) []*Param {
	t.Helper()
	shapes := [][]int{{2, 4}, {4}, {4, 1}, {1}}
	var ps []*Param
	k := 0.0
	for i, s := range shapes {
		p, err := NewParam(string(rune('a'+i)), dt, s...)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float64, p.Size())
		for j := range v {
			k++
			v[j] = k
		}
		if err := p.SetFloat64s(v); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

func TestParamVector(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		ps := xorParams(t, dt)
		v := ParamVector(ps, nil)
		if len(v) != 17 { // 2·4 + 4 + 4·1 + 1
			t.Fatalf("%v: %d values, want 17", dt, len(v))
		}
		if got := ps[0].Float64s(); !slices.Equal(v[:8], got) {
			t.Errorf("%v: the kernel is not first, row-major", dt)
		}
		for i, x := range v {
			if x != float64(i+1) {
				t.Fatalf("%v: values %v, want 1 to 17 in order", dt, v)
			}
		}
		w := slices.Clone(v)
		for i := range w {
			w[i] = float64(i) / 4 // exact in float32 too
		}
		if err := SetParamVector(ps, w); err != nil {
			t.Fatal(err)
		}
		if got := ParamVector(ps, v); !slices.Equal(got, w) || &got[0] != &v[0] {
			t.Errorf("%v: set then get gave %v, want %v in dst's storage", dt, got, w)
		}
		if err := SetParamVector(ps, w[:16]); !errors.Is(err, ErrShape) {
			t.Errorf("%v: short vector: error %v, want ErrShape", dt, err)
		}
		bad := slices.Clone(w)
		bad[13] = math.NaN() // in the second kernel
		if err := SetParamVector(ps, bad); !errors.Is(err, ErrNotFinite) {
			t.Errorf("%v: NaN: error %v, want ErrNotFinite", dt, err)
		}
		// The parameters before the NaN's are set (to the same values), its
		// own and those after are unchanged.
		if got := ParamVector(ps, nil); !slices.Equal(got, w) {
			t.Errorf("%v: after a NaN at value 13: %v, want %v", dt, got, w)
		}
	}
}
