package study

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Confidence is the level of the confidence intervals of tables and plots.
const Confidence = 0.95

// tHalfWidth returns the half-width of the Confidence interval of the mean
// of n values of sample standard deviation std: t_{(1+c)/2, n−1} std/√n,
// Student's t with n−1 degrees of freedom. It is NaN for fewer than two
// values.
func tHalfWidth(n int, std float64) float64 {
	if n < 2 {
		return math.NaN()
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile((1 + Confidence) / 2)
	return t * std / math.Sqrt(float64(n))
}

// Paired is a paired comparison of two configurations over the seeds both
// ran: since every run of a seed starts from the same weights, the
// per-seed differences d = a − b remove the spread that comes from the
// initialisation.
type Paired struct {
	// N is the number of pairs (seeds whose two values are both finite).
	N int
	// MeanDiff is the mean of d; CILo and CIHi its Confidence interval
	// (Student t, N−1 degrees of freedom).
	MeanDiff, CILo, CIHi float64
	// T is the paired t statistic, mean(d)/(sd(d)/√N), and PT its
	// two-sided p-value from Student's t with N−1 degrees of freedom.
	T, PT float64
	// W is the Wilcoxon signed-rank statistic, the sum of the ranks of the
	// positive differences (zero differences dropped, tied magnitudes
	// given their mean rank), and PW its two-sided p-value: exact (the
	// distribution of W enumerated) without ties or zeros and up to 50
	// pairs, else the normal approximation with the tie correction. Both
	// are NaN with fewer than WilcoxonMin pairs.
	W, PW float64
}

// WilcoxonMin is the number of pairs from which comparisons also give the
// Wilcoxon signed-rank test: with fewer, its smallest two-sided p-value
// (2/2^n) cannot reach 0.05.
const WilcoxonMin = 6

// PairedTest compares a and b, paired by index; pairs with a non-finite
// value are left out. With fewer than two pairs everything but N and
// MeanDiff is NaN.
func PairedTest(a, b []float64) Paired {
	var d []float64
	for i := range min(len(a), len(b)) {
		if x := a[i] - b[i]; !math.IsNaN(x) && !math.IsInf(x, 0) {
			d = append(d, x)
		}
	}
	nan := math.NaN()
	p := Paired{N: len(d), MeanDiff: nan, CILo: nan, CIHi: nan, T: nan, PT: nan, W: nan, PW: nan}
	if len(d) == 0 {
		return p
	}
	p.MeanDiff = stat.Mean(d, nil)
	if len(d) < 2 {
		return p
	}
	sd := stat.StdDev(d, nil)
	hw := tHalfWidth(len(d), sd)
	p.CILo, p.CIHi = p.MeanDiff-hw, p.MeanDiff+hw
	switch se := sd / math.Sqrt(float64(len(d))); {
	case se > 0:
		p.T = p.MeanDiff / se
		p.PT = 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(d) - 1)}.Survival(math.Abs(p.T))
	case p.MeanDiff != 0:
		// Every pair differs by the same amount: no doubt left.
		p.T, p.PT = math.Copysign(math.Inf(1), p.MeanDiff), 0
	}
	if len(d) >= WilcoxonMin {
		p.W, p.PW = wilcoxon(d)
	}
	return p
}

// wilcoxon returns the signed-rank statistic W+ of the differences d and
// its two-sided p-value (see Paired.W).
func wilcoxon(d []float64) (w, p float64) {
	var nz []float64
	for _, x := range d {
		if x != 0 {
			nz = append(nz, x)
		}
	}
	n := len(nz)
	if n == 0 {
		return 0, 1
	}
	// Ranks of |d|, ties sharing their mean rank.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		a, b := math.Abs(nz[i]), math.Abs(nz[j])
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	ranks := make([]float64, n)
	ties := false
	var tieTerm float64 // Σ (t³ − t) over groups of tied magnitudes
	for lo := 0; lo < n; {
		hi := lo + 1
		for hi < n && math.Abs(nz[order[hi]]) == math.Abs(nz[order[lo]]) {
			hi++
		}
		r := float64(lo+hi+1) / 2 // mean of ranks lo+1 .. hi
		for k := lo; k < hi; k++ {
			ranks[order[k]] = r
		}
		if t := float64(hi - lo); t > 1 {
			ties = true
			tieTerm += t*t*t - t
		}
		lo = hi
	}
	for i, x := range nz {
		if x > 0 {
			w += ranks[i]
		}
	}
	total := float64(n*(n+1)) / 2
	if !ties && n == len(d) && n <= 50 {
		// Exact: count the subsets of {1..n} by their rank sum.
		count := make([]float64, int(total)+1)
		count[0] = 1
		for k := 1; k <= n; k++ {
			for s := int(total); s >= k; s-- {
				count[s] += count[s-k]
			}
		}
		lo := int(math.Min(w, total-w))
		var tail float64
		for s := 0; s <= lo; s++ {
			tail += count[s]
		}
		return w, math.Min(1, 2*tail/math.Pow(2, float64(n)))
	}
	mean := total / 2
	variance := float64(n*(n+1)*(2*n+1))/24 - tieTerm/48
	if variance <= 0 {
		return w, 1
	}
	z := (w - mean) / math.Sqrt(variance)
	return w, math.Min(1, 2*distuv.UnitNormal.Survival(math.Abs(z)))
}
