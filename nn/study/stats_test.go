package study

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// The reference values below were computed independently with SciPy 1.10
// (scipy.stats.t.ppf, ttest_rel, rankdata and wilcoxon: method="exact"
// without ties or zeros, else method="approx", zero_method="wilcox",
// correction=False):
//
//	hw = t.ppf(0.975, n-1) * d.std(ddof=1) / sqrt(n)
//	ttest_rel(a, b); W = rankdata(|d|)[d > 0].sum(); wilcoxon(d, ...)
//
// gonum's Student t quantile (a numerical inversion of the incomplete beta
// function) agrees with SciPy's to about 1e-10 relative; 1e-9 leaves room
// without hiding a wrong formula (a wrong degree of freedom moves the
// values by 1e-2 or more). The interval's ends are compared relative to
// its width, since an end can be close to zero.
const statTol = 1e-9

func TestTHalfWidthAgainstSciPy(t *testing.T) {
	for _, c := range []struct {
		n    int
		want float64
	}{
		{2, 8.984643532275763},
		{3, 2.484137711843753},
		{5, 1.2416639982037665},
		{10, 0.7153569059525722},
		{30, 0.3734061367580999},
	} {
		if got := tHalfWidth(c.n, 1); !scalar.EqualWithinRel(got, c.want, statTol) {
			t.Errorf("n=%d: half-width %v, want %v", c.n, got, c.want)
		}
	}
	if got := tHalfWidth(1, 1); !math.IsNaN(got) {
		t.Errorf("n=1: half-width %v, want NaN", got)
	}
}

func TestPairedTestAgainstSciPy(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name                           string
		a, b                           []float64
		mean, lo, hi, tStat, pt, w, pw float64
	}{
		{"three seeds", []float64{0.91, 0.93, 0.92}, []float64{0.9, 0.915, 0.913}, 0.010666666666666677, 0.0006271436302070273, 0.020706189703126328, 4.571428571428572, 0.04466970555754858, nan, nan},
		{"five seeds", []float64{0.31, 0.29, 0.35, 0.3, 0.33}, []float64{0.36, 0.3, 0.37, 0.36, 0.35}, -0.031999999999999994, -0.058918634023379046, -0.005081365976620941, -3.3005479880281383, 0.029918052212731604, nan, nan},
		{"no difference", []float64{1.0, 2.0, 3.0, 4.0}, []float64{1.5, 1.5, 3.5, 3.5}, 0.0, -0.9186931155186995, 0.9186931155186995, 0.0, 1.0, nan, nan},
		{"six seeds", []float64{0.982, 0.979, 0.981, 0.984, 0.98, 0.983}, []float64{0.975, 0.978, 0.974, 0.98, 0.981, 0.977}, 0.0040000000000000036, 0.00048791659737850226, 0.007512083402621505, 2.9277002188455996, 0.03271993555093364, 19.5, 0.057779571123597245},
		{"eight seeds", []float64{5.1, 4.8, 6.0, 5.5, 5.9, 4.7, 5.3, 6.2}, []float64{4.9, 5.0, 5.1, 5.6, 5.2, 4.1, 4.6, 5.0}, 0.5000000000000001, 0.09043506564406595, 0.9095649343559342, 2.8867513459481287, 0.02342463605443747, 32.0, 0.04966953589289581},
		{"seven seeds exact", []float64{1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55}, []float64{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06}, 0.5652857142857144, 0.20847790991000464, 0.9220935186614241, 3.876608906182734, 0.008202836056195302, 27.0, 0.03125},
		{"twelve seeds exact", []float64{3.1, 2.2, 4.5, 1.9, 3.3, 2.8, 4.0, 3.6, 2.5, 3.9, 2.0, 3.0}, []float64{2.0, 2.7, 3.1, 2.05, 2.2, 3.15, 2.4, 3.45, 2.9, 1.4, 2.3, 1.25}, 0.6583333333333333, 0.0025226092794689015, 1.3141440573871979, 2.209451361358948, 0.0492657884349729, 58.5, 0.12594383864226616},
		{"ten seeds ties", []float64{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0}, []float64{0.0, 1.0, 4.0, 3.0, 5.0, 5.0, 5.0, 9.0, 8.0, 7.0}, 0.8, -0.07936863963482998, 1.6793686396348302, 2.0579830217101063, 0.06970737536955263, 37.0, 0.07045561780387247},
	} {
		got := PairedTest(c.a, c.b)
		for _, v := range []struct {
			what      string
			got, want float64
		}{
			{"mean difference", got.MeanDiff, c.mean}, {"CI low", got.CILo, c.lo}, {"CI high", got.CIHi, c.hi},
			{"t", got.T, c.tStat}, {"p (t)", got.PT, c.pt}, {"W", got.W, c.w}, {"p (Wilcoxon)", got.PW, c.pw},
		} {
			same := math.IsNaN(v.got) && math.IsNaN(v.want) || scalar.EqualWithinAbsOrRel(v.got, v.want, statTol*(c.hi-c.lo), statTol)
			if !same {
				t.Errorf("%s: %s %v, want %v", c.name, v.what, v.got, v.want)
			}
		}
		if got.N != len(c.a) {
			t.Errorf("%s: N %d, want %d", c.name, got.N, len(c.a))
		}
	}
}

func TestPairedTestEdges(t *testing.T) {
	// Non-finite values (diverged runs) drop their pair.
	p := PairedTest([]float64{1, math.NaN(), 3, 4}, []float64{0, 1, math.Inf(1), 2})
	if p.N != 2 || p.MeanDiff != 1.5 {
		t.Errorf("pairs with NaN/Inf: N %d mean %v, want 2 and 1.5", p.N, p.MeanDiff)
	}
	// A constant non-zero difference leaves no doubt.
	p = PairedTest([]float64{2, 3, 4}, []float64{1, 2, 3})
	if !math.IsInf(p.T, 1) || p.PT != 0 {
		t.Errorf("constant difference: t %v p %v, want +Inf and 0", p.T, p.PT)
	}
	// Identical values: no difference, no test.
	p = PairedTest([]float64{2, 3, 4}, []float64{2, 3, 4})
	if p.MeanDiff != 0 || !math.IsNaN(p.PT) {
		t.Errorf("identical: mean %v p %v, want 0 and NaN", p.MeanDiff, p.PT)
	}
	// One pair: a mean, nothing else.
	p = PairedTest([]float64{2}, []float64{1})
	if p.N != 1 || p.MeanDiff != 1 || !math.IsNaN(p.CILo) || !math.IsNaN(p.PT) {
		t.Errorf("one pair: %+v", p)
	}
}
