package study

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Plane is a two-dimensional slice of weight space: the points Centre +
// a·X + b·Y. All three vectors have one value per parameter, laid out as
// graph.ParamVector lays them out.
type Plane struct {
	// Method is "pca" or "random" (filter-normalised random directions).
	Method string
	// Centre is the origin, (a, b) = (0, 0).
	Centre []float64
	// X and Y are the directions: orthonormal for "pca"; for "random",
	// each filter scaled to the norm of the centre's filter, and not
	// exactly orthogonal.
	X, Y []float64
	// Explained is, for "pca", the share of the snapshots' summed squared
	// distance from the centre that lies along X and along Y (the squared
	// singular values over their sum). It is zero for "random".
	Explained [2]float64
	// Captured is the share of the snapshots' summed squared distance from
	// the centre that the plane holds: the squared length of their
	// orthogonal projections onto it over their squared length. For "pca"
	// it is Explained[0] + Explained[1]. Set by PCAPlane and by
	// Plane.Capture.
	Captured float64
}

// PCAPlane returns the plane through centre spanned by the two principal
// directions of the snapshots about the centre: the first two right
// singular vectors of the matrix whose rows are the snapshots minus the
// centre (an SVD from gonum/mat). Centring on a chosen point rather than
// on the snapshots' mean follows Li et al. 2018 (section 7), who centre
// on the final weights.
//
// The directions' signs are chosen so that the last snapshot minus the
// first has non-negative coordinates: a path listed first to last runs
// from the lower left to the upper right. When that difference is
// orthogonal to a direction, its largest element is made positive. With
// fewer than two independent snapshot differences the second direction
// is still a unit vector orthogonal to the first, with a zero share.
//
// All snapshots must have the length of centre; there must be at least
// one.
func PCAPlane(centre []float64, snapshots [][]float64) (*Plane, error) {
	n, p := len(snapshots), len(centre)
	if n == 0 {
		return nil, errorf(ErrConfig, "pca plane: no snapshots")
	}
	if p < 2 {
		return nil, errorf(ErrConfig, "pca plane: %d parameters, want at least 2", p)
	}
	rows := max(n, 2) // an SVD with one row has only one right singular vector
	m := mat.NewDense(rows, p, nil)
	for i, s := range snapshots {
		if len(s) != p {
			return nil, errorf(ErrConfig, "pca plane: snapshot %d has %d values, the centre %d", i, len(s), p)
		}
		row := m.RawRowView(i)
		for j, v := range s {
			row[j] = v - centre[j]
		}
	}
	if err := finiteOrErr("pca plane: snapshots", m.RawMatrix().Data); err != nil {
		return nil, err
	}
	var svd mat.SVD
	if !svd.Factorize(m, mat.SVDThinV) {
		return nil, errorf(ErrConfig, "pca plane: the SVD of the %d x %d snapshot matrix did not converge", rows, p)
	}
	sv := svd.Values(nil)
	var v mat.Dense
	svd.VTo(&v)
	pl := &Plane{Method: "pca", Centre: append([]float64(nil), centre...), X: make([]float64, p), Y: make([]float64, p)}
	mat.Col(pl.X, 0, &v)
	mat.Col(pl.Y, 1, &v)
	var total float64
	for _, s := range sv {
		total += s * s
	}
	if total > 0 {
		pl.Explained = [2]float64{sv[0] * sv[0] / total, sv[1] * sv[1] / total}
	}
	pl.Captured = pl.Explained[0] + pl.Explained[1]
	first, last := snapshots[0], snapshots[n-1]
	for _, d := range [][]float64{pl.X, pl.Y} {
		var along float64
		for j := range d {
			along += d[j] * (last[j] - first[j])
		}
		if along < 0 || (along == 0 && d[argmaxAbs(d)] < 0) {
			for j := range d {
				d[j] = -d[j]
			}
		}
	}
	return pl, nil
}

func argmaxAbs(v []float64) int {
	best := 0
	for i, x := range v {
		if math.Abs(x) > math.Abs(v[best]) {
			best = i
		}
	}
	return best
}

func finiteOrErr(what string, v []float64) error {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return errorf(ErrConfig, "%s: value %d is %v", what, i, x)
		}
	}
	return nil
}

// FilterNormalPlane returns the plane through centre spanned by two
// filter-normalised random directions, Li et al. 2018's ("Visualizing the
// Loss Landscape of Neural Nets", NeurIPS, section 4). shapes are the
// shapes of the model's parameters, in graph.ParamVector's order.
//
// Each direction is drawn from a standard normal distribution (all of X,
// then all of Y, from rng), then each filter d_f of it is rescaled to the
// norm of the same filter θ_f of the centre: d_f ← d_f·‖θ_f‖/‖d_f‖. For a
// Dense kernel [in, out], a filter is one output unit's incoming weights
// (a column), as in Li et al.'s code, where a PyTorch Linear weight
// [out, in] is normalised row by row; more generally a filter is the
// elements that share the last index. Vectors (biases) get a zero
// direction, as Li et al.'s code does with its "biasbn" option, so biases
// stay at the centre's values. A filter whose centre norm is zero gets a
// zero direction.
func FilterNormalPlane(centre []float64, shapes [][]int, rng *rand.Rand) (*Plane, error) {
	total := 0
	for _, s := range shapes {
		total += shapeSize(s)
	}
	if total != len(centre) {
		return nil, errorf(ErrConfig, "random plane: the shapes hold %d values, the centre %d", total, len(centre))
	}
	if err := finiteOrErr("random plane: centre", centre); err != nil {
		return nil, err
	}
	pl := &Plane{Method: "random", Centre: append([]float64(nil), centre...)}
	for _, d := range []*[]float64{&pl.X, &pl.Y} {
		dir := make([]float64, total)
		for i := range dir {
			dir[i] = rng.NormFloat64()
		}
		off := 0
		for _, s := range shapes {
			n := shapeSize(s)
			seg, c := dir[off:off+n], centre[off:off+n]
			off += n
			if len(s) < 2 {
				clear(seg)
				continue
			}
			out := s[len(s)-1]
			for f := range out {
				var dn, cn float64
				for i := f; i < n; i += out {
					dn += seg[i] * seg[i]
					cn += c[i] * c[i]
				}
				scale := 0.0
				if dn > 0 {
					scale = math.Sqrt(cn) / math.Sqrt(dn)
				}
				for i := f; i < n; i += out {
					seg[i] *= scale
				}
			}
		}
		*d = dir
	}
	return pl, nil
}

func shapeSize(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// gram returns the dot products of the directions.
func (p *Plane) gram() (xx, xy, yy float64) {
	for i := range p.X {
		xx += p.X[i] * p.X[i]
		xy += p.X[i] * p.Y[i]
		yy += p.Y[i] * p.Y[i]
	}
	return xx, xy, yy
}

// Project returns the coordinates (a, b) of the point of the plane
// nearest to w (least squares, exact for the orthonormal "pca" directions
// and for the merely independent "random" ones): for a w of the plane, the
// a and b with w = Centre + a·X + b·Y. It returns NaNs when the directions
// are not independent or w has the wrong length.
func (p *Plane) Project(w []float64) (a, b float64) {
	if len(w) != len(p.Centre) {
		return math.NaN(), math.NaN()
	}
	xx, xy, yy := p.gram()
	var xd, yd float64
	for i := range w {
		d := w[i] - p.Centre[i]
		xd += p.X[i] * d
		yd += p.Y[i] * d
	}
	det := xx*yy - xy*xy
	if !(det > 0) {
		return math.NaN(), math.NaN()
	}
	return (yy*xd - xy*yd) / det, (xx*yd - xy*xd) / det
}

// Point returns Centre + a·X + b·Y, in dst if it is long enough. At (0, 0)
// it is exactly Centre.
func (p *Plane) Point(a, b float64, dst []float64) []float64 {
	if cap(dst) < len(p.Centre) {
		dst = make([]float64, len(p.Centre))
	}
	dst = dst[:len(p.Centre)]
	for i, c := range p.Centre {
		dst[i] = c + a*p.X[i] + b*p.Y[i]
	}
	return dst
}

// Capture sets Captured from the snapshots and returns it (see Captured);
// 0 when they all lie at the centre.
func (p *Plane) Capture(snapshots [][]float64) float64 {
	var num, den float64
	xx, xy, yy := p.gram()
	det := xx*yy - xy*xy
	for _, s := range snapshots {
		var xd, yd, dd float64
		for i := range s {
			d := s[i] - p.Centre[i]
			xd += p.X[i] * d
			yd += p.Y[i] * d
			dd += d * d
		}
		den += dd
		if det > 0 {
			// ‖proj d‖² = gᵀ G⁻¹ g with g = (X·d, Y·d) and G the Gram matrix.
			num += (yy*xd*xd - 2*xy*xd*yd + xx*yd*yd) / det
		}
	}
	p.Captured = 0
	if den > 0 {
		p.Captured = num / den
	}
	return p.Captured
}

// distances returns the distance of w from the plane, given its
// coordinates (a, b) there, and from the centre.
func (p *Plane) distances(w []float64, a, b float64) (off, dist float64) {
	var oo, dd float64
	for i := range w {
		d := w[i] - p.Centre[i]
		r := d - a*p.X[i] - b*p.Y[i]
		oo += r * r
		dd += d * d
	}
	return math.Sqrt(oo), math.Sqrt(dd)
}
