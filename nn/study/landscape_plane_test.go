package study

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	gfloats "gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/floats/scalar"
)

// orthonormal returns k orthonormal vectors of length n (Gram-Schmidt on
// seeded normal draws).
func orthonormal(n, k int, rng *rand.Rand) [][]float64 {
	var out [][]float64
	for len(out) < k {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		for _, u := range out {
			gfloats.AddScaled(v, -gfloats.Dot(u, v), u)
		}
		gfloats.Scale(1/gfloats.Norm(v, 2), v)
		out = append(out, v)
	}
	return out
}

// TestPCAPlaneKnownStructure builds snapshots c + t_i·u + s_i·v + r_i·w
// with u, v, w orthonormal and t, s, r orthogonal over i, so that the
// SVD of the centred snapshots is known exactly: right singular vectors
// u, v, w with singular values ‖t‖, ‖s‖, ‖r‖.
func TestPCAPlaneKnownStructure(t *testing.T) {
	// SVD results are accurate to a few ulps of the largest singular value
	// (6 here) times a small factor of the dimensions; 1e-12 leaves room.
	const tol = 1e-12
	rng := rand.New(rand.NewPCG(1, 2))
	const p = 30
	basis := orthonormal(p, 3, rng)
	u, v, w := basis[0], basis[1], basis[2]
	centre := make([]float64, p)
	for i := range centre {
		centre[i] = rng.NormFloat64()
	}
	ts := []float64{3, -3, 3, -3}         // ‖t‖² = 36
	ss := []float64{1, 1, 1, 1}           // ‖s‖² = 4, s ⟂ t
	rs := []float64{0.5, -0.5, -0.5, 0.5} // ‖r‖² = 1, r ⟂ t, s
	var snaps [][]float64
	for i := range ts {
		x := slices.Clone(centre)
		gfloats.AddScaled(x, ts[i], u)
		gfloats.AddScaled(x, ss[i], v)
		gfloats.AddScaled(x, rs[i], w)
		snaps = append(snaps, x)
	}
	pl, err := PCAPlane(centre, snaps)
	if err != nil {
		t.Fatal(err)
	}
	// The last snapshot minus the first is -6u: the sign rule makes X = -u.
	// It is orthogonal to v, so Y's largest element is made positive.
	wantY := slices.Clone(v)
	if v[argmaxAbs(v)] < 0 {
		gfloats.Scale(-1, wantY)
	}
	tests := []struct {
		name      string
		got, want []float64
	}{
		{"X", pl.X, gfloats.ScaleTo(make([]float64, p), -1, u)},
		{"Y", pl.Y, wantY},
	}
	for _, tc := range tests {
		if !gfloats.EqualApprox(tc.got, tc.want, tol) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	shares := []struct {
		name      string
		got, want float64
	}{
		{"explained X", pl.Explained[0], 36.0 / 41},
		{"explained Y", pl.Explained[1], 4.0 / 41},
		{"captured", pl.Captured, 40.0 / 41},
		{"captured, recomputed", pl.Capture(snaps), 40.0 / 41},
	}
	for _, tc := range shares {
		if !scalar.EqualWithinAbs(tc.got, tc.want, tol) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	// Each snapshot projects onto its own (t, s) coordinates, signed.
	for i, x := range snaps {
		a, b := pl.Project(x)
		wb := ss[i] * gfloats.Dot(v, wantY)
		if !scalar.EqualWithinAbs(a, -ts[i], tol) || !scalar.EqualWithinAbs(b, wb, tol) {
			t.Errorf("snapshot %d projects to (%v, %v), want (%v, %v)", i, a, b, -ts[i], wb)
		}
	}
}

// TestPCAPlaneOneDirection: snapshots on a line give one direction with
// all the variance and a second, orthogonal, with none.
func TestPCAPlaneOneDirection(t *testing.T) {
	const tol = 1e-12
	c := []float64{1, 2, 3}
	pl, err := PCAPlane(c, [][]float64{{1, 2, 3}, {2, 4, 3}})
	if err != nil {
		t.Fatal(err)
	}
	s := 1 / math.Sqrt(5)
	if !gfloats.EqualApprox(pl.X, []float64{s, 2 * s, 0}, tol) {
		t.Errorf("X = %v, want [1 2 0]/√5", pl.X)
	}
	if !scalar.EqualWithinAbs(gfloats.Dot(pl.X, pl.Y), 0, tol) || !scalar.EqualWithinAbs(gfloats.Norm(pl.Y, 2), 1, tol) {
		t.Errorf("Y = %v is not a unit vector orthogonal to X", pl.Y)
	}
	if !scalar.EqualWithinAbs(pl.Explained[0], 1, tol) || !scalar.EqualWithinAbs(pl.Explained[1], 0, tol) {
		t.Errorf("explained %v, want [1 0]", pl.Explained)
	}
}

func TestPCAPlaneErrors(t *testing.T) {
	tests := []struct {
		name   string
		centre []float64
		snaps  [][]float64
	}{
		{"no snapshots", []float64{0, 0}, nil},
		{"one parameter", []float64{0}, [][]float64{{1}}},
		{"wrong length", []float64{0, 0}, [][]float64{{1, 2, 3}}},
		{"NaN", []float64{0, 0}, [][]float64{{1, math.NaN()}}},
	}
	for _, tc := range tests {
		if _, err := PCAPlane(tc.centre, tc.snaps); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: error %v, want ErrConfig", tc.name, err)
		}
	}
}

// TestProjectInPlane: a point of the plane, Centre + a·X + b·Y, projects
// back to (a, b), for PCA's orthonormal directions and for random ones,
// which are not orthogonal.
func TestProjectInPlane(t *testing.T) {
	// Coordinates up to 40 on vectors of norm up to ~5: rounding in Point
	// and in the dot products stays below 1e-12 relative.
	const tol = 1e-12
	rng := rand.New(rand.NewPCG(3, 4))
	shapes := [][]int{{3, 5}, {5}, {5, 2}, {2}}
	centre := make([]float64, 3*5+5+5*2+2)
	for i := range centre {
		centre[i] = rng.NormFloat64()
	}
	var snaps [][]float64
	for range 6 {
		s := slices.Clone(centre)
		for i := range s {
			s[i] += rng.NormFloat64()
		}
		snaps = append(snaps, s)
	}
	pca, err := PCAPlane(centre, snaps)
	if err != nil {
		t.Fatal(err)
	}
	random, err := FilterNormalPlane(centre, shapes, rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	if xx, xy, yy := random.gram(); math.Abs(xy) < 1e-3*math.Sqrt(xx*yy) {
		t.Fatalf("the random directions are orthogonal to %g: the test wants them not to be", xy/math.Sqrt(xx*yy))
	}
	for _, pl := range []*Plane{pca, random} {
		for _, ab := range [][2]float64{{0, 0}, {1, -2}, {-40, 0.001}, {0.5, 37}} {
			w := pl.Point(ab[0], ab[1], nil)
			a, b := pl.Project(w)
			if !scalar.EqualWithinRel(a, ab[0], tol) && !scalar.EqualWithinAbs(a, ab[0], tol) ||
				!scalar.EqualWithinRel(b, ab[1], tol) && !scalar.EqualWithinAbs(b, ab[1], tol) {
				t.Errorf("%s: point (%v, %v) projects to (%v, %v)", pl.Method, ab[0], ab[1], a, b)
			}
		}
		if got := pl.Point(0, 0, nil); !slices.Equal(got, centre) {
			t.Errorf("%s: Point(0, 0) = %v, want the centre exactly", pl.Method, got)
		}
	}
}

// TestFilterNormalPlane checks Li et al.'s normalisation: every filter (a
// kernel column) of each direction has the norm of the centre's filter;
// biases and zero filters get zero directions; the same stream gives the
// same directions.
func TestFilterNormalPlane(t *testing.T) {
	const tol = 1e-12 // a norm of a rescaled vector: a few ulps
	shapes := [][]int{{3, 4}, {4}, {4, 2}, {2}}
	centre := make([]float64, 12+4+8+2)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range centre {
		centre[i] = rng.NormFloat64()
	}
	for r := range 3 { // column 1 of the first kernel is zero
		centre[r*4+1] = 0
	}
	pl, err := FilterNormalPlane(centre, shapes, rand.New(rand.NewPCG(9, 10)))
	if err != nil {
		t.Fatal(err)
	}
	col := func(v []float64, off, rows, cols, j int) []float64 {
		var out []float64
		for r := range rows {
			out = append(out, v[off+r*cols+j])
		}
		return out
	}
	for name, d := range map[string][]float64{"X": pl.X, "Y": pl.Y} {
		for _, k := range []struct{ off, rows, cols int }{{0, 3, 4}, {16, 4, 2}} {
			for j := range k.cols {
				got, want := gfloats.Norm(col(d, k.off, k.rows, k.cols, j), 2), gfloats.Norm(col(centre, k.off, k.rows, k.cols, j), 2)
				if !scalar.EqualWithinAbsOrRel(got, want, tol, tol) {
					t.Errorf("%s: kernel at %d, filter %d: norm %v, want %v", name, k.off, j, got, want)
				}
			}
		}
		if !slices.Equal(d[12:16], make([]float64, 4)) || !slices.Equal(d[24:26], make([]float64, 2)) {
			t.Errorf("%s: the bias directions %v and %v are not zero", name, d[12:16], d[24:26])
		}
	}
	again, err := FilterNormalPlane(centre, shapes, rand.New(rand.NewPCG(9, 10)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.X, pl.X) || !slices.Equal(again.Y, pl.Y) {
		t.Error("the same stream gave different directions")
	}
	if _, err := FilterNormalPlane(centre[:5], shapes, rng); !errors.Is(err, ErrConfig) {
		t.Errorf("short centre: error %v, want ErrConfig", err)
	}
}
