package data

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gorgonia.org/tensor"
)

func TestParity(t *testing.T) {
	d, err := Parity(3, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 8 || d.Features() != 3 || d.DType() != tensor.Float32 {
		t.Fatalf("got %v rows of %d, %v; want 8 of 3, float32", d.Len(), d.Features(), d.DType())
	}
	if got, want := d.Y.Float32s(), []float32{0, 1, 1, 0, 1, 0, 0, 1}; !slices.Equal(got, want) {
		t.Errorf("Y = %v, want %v", got, want)
	}
	if got := d.X.Float32s()[3*6 : 3*7]; !slices.Equal(got, []float32{1, 1, 0}) {
		t.Errorf("row 6 = %v, want [1 1 0]", got)
	}
	xor, err := Parity(2, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(xor.X.Float64s(), XOR(tensor.Float64).X.Float64s()) || !slices.Equal(xor.Y.Float64s(), XOR(tensor.Float64).Y.Float64s()) {
		t.Errorf("Parity(2) differs from XOR")
	}
	for _, bits := range []int{0, 21} {
		if _, err := Parity(bits, tensor.Float64); err == nil {
			t.Errorf("Parity(%d): no error", bits)
		}
	}
}

// generators lists the random two-class problems with their arguments.
var generators = []struct {
	name string
	gen  func(n int, dt tensor.Dtype, rng *rand.Rand) (*Dataset, error)
}{
	{"blobs", Blobs},
	{"overlapping", OverlappingBlobs},
	{"moons", func(n int, dt tensor.Dtype, rng *rand.Rand) (*Dataset, error) { return TwoMoons(n, 0.1, dt, rng) }},
	{"circles", func(n int, dt tensor.Dtype, rng *rand.Rand) (*Dataset, error) { return Circles(n, 0.05, 0, dt, rng) }},
	{"spirals", func(n int, dt tensor.Dtype, rng *rand.Rand) (*Dataset, error) { return Spirals(n, 0.05, dt, rng) }},
}

func TestProblemsShapesSeeds(t *testing.T) {
	for _, g := range generators {
		t.Run(g.name, func(t *testing.T) {
			d, err := g.gen(101, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			if d.Len() != 101 || d.Features() != 2 || d.Targets() != 1 || d.DType() != tensor.Float32 {
				t.Errorf("got %d rows, %d features, %d targets, %v; want 101, 2, 1, float32", d.Len(), d.Features(), d.Targets(), d.DType())
			}
			for i, y := range d.Y.Float32s() {
				if y != float32(i%2) {
					t.Fatalf("row %d is class %v, want %d (interleaved)", i, y, i%2)
				}
			}
			same, _ := g.gen(101, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
			if !slices.Equal(same.X.Float32s(), d.X.Float32s()) {
				t.Errorf("same seed gave different X")
			}
			other, _ := g.gen(101, tensor.Float32, rand.New(rand.NewPCG(3, 4)))
			if slices.Equal(other.X.Float32s(), d.X.Float32s()) {
				t.Errorf("different seeds gave the same X")
			}
			if _, err := g.gen(1, tensor.Float64, rand.New(rand.NewPCG(1, 2))); err == nil {
				t.Errorf("n=1: no error")
			}
			if _, err := g.gen(10, tensor.Float64, nil); err == nil {
				t.Errorf("nil rng: no error")
			}
		})
	}
}

// linearErrors returns the fraction of rows the line y = x misclassifies
// (class 0 above it).
func linearErrors(d *Dataset) float64 {
	x, y := d.X.Float64s(), d.Y.Float64s()
	wrong := 0
	for i := range y {
		above := x[2*i+1] > x[2*i]
		if above != (y[i] == 0) {
			wrong++
		}
	}
	return float64(wrong) / float64(len(y))
}

func TestBlobsSeparability(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	sep, err := Blobs(5000, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	if e := linearErrors(sep); e != 0 {
		t.Errorf("Blobs: the line y = x misclassifies %.2f%%, want 0", 100*e)
	}
	over, err := OverlappingBlobs(20000, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	// Bayes error P(Z > 1) = 15.87%; with 20000 points its standard error
	// is about 0.26%, so 1.5% is over 5 standard errors.
	if e := linearErrors(over); math.Abs(e-0.1587) > 0.015 {
		t.Errorf("OverlappingBlobs: the line y = x misclassifies %.2f%%, want about 15.87%%", 100*e)
	}
}

func TestCurvesNoiseless(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	circles, err := Circles(100, 0, 0.3, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	x, y := circles.X.Float64s(), circles.Y.Float64s()
	for i := range y {
		r, want := math.Hypot(x[2*i], x[2*i+1]), 1.0
		if y[i] == 1 {
			want = 0.3
		}
		if math.Abs(r-want) > 1e-12 {
			t.Fatalf("circles row %d: radius %v, want %v", i, r, want)
		}
	}
	moons, err := TwoMoons(6, 0, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	// Row 0 is t=0 of class 0, (1, 0); row 1 is t=0 of class 1, (0, 0.5).
	if got := moons.X.Float64s()[:4]; math.Abs(got[0]-1) > 1e-12 || math.Abs(got[1]) > 1e-12 || math.Abs(got[2]) > 1e-12 || math.Abs(got[3]-0.5) > 1e-12 {
		t.Errorf("moons rows 0 and 1 = %v, want [1 0 0 0.5]", got)
	}
	if _, err := Circles(10, 0, 1.5, tensor.Float64, rng); err == nil {
		t.Errorf("circles factor 1.5: no error")
	}
	if _, err := Spirals(10, -1, tensor.Float64, rng); err == nil {
		t.Errorf("spirals noise -1: no error")
	}
}

func TestLinearRegression(t *testing.T) {
	for _, tc := range []struct {
		noise, tol float64
	}{
		// Exact data: least squares recovers the truth to rounding.
		{0, 1e-10},
		// Noise 0.1 over 2000 rows: the error of each coefficient is about
		// 0.1/sqrt(2000) = 0.0022; 0.02 is about 9 standard errors.
		{0.1, 0.02},
	} {
		d, truth, err := LinearRegression(2000, 3, tc.noise, tensor.Float64, rand.New(rand.NewPCG(9, 9)))
		if err != nil {
			t.Fatal(err)
		}
		// Least squares with a column of ones for the bias.
		n := d.Len()
		a := mat.NewDense(n, 4, nil)
		x := d.X.Float64s()
		for i := range n {
			a.Set(i, 0, 1)
			for j := range 3 {
				a.Set(i, j+1, x[3*i+j])
			}
		}
		var beta mat.VecDense
		if err := beta.SolveVec(a, mat.NewVecDense(n, d.Y.Float64s())); err != nil {
			t.Fatal(err)
		}
		want := append([]float64{truth.B}, truth.W...)
		for j, w := range want {
			if got := beta.AtVec(j); math.Abs(got-w) > tc.tol {
				t.Errorf("noise %v: coefficient %d = %v, want %v ± %v", tc.noise, j, got, w, tc.tol)
			}
		}
	}
}
