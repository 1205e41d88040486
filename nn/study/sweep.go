package study

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// BatchSweep is the analysis of a batch-size sweep (a study of
// KindBatchSweep, usually tuned on TuneStepsToTarget): how the steps and
// examples needed to reach the target scale with the batch size, in the
// terms of Shallue et al. (2018, "Measuring the Effects of Data
// Parallelism on Neural Network Training") and McCandlish et al. (2018,
// "An Empirical Model of Large-Batch Training").
//
// The steps S and examples E = B·S to the target are fitted, over the
// batch sizes every seed reached the target with, by McCandlish et al.'s
// model (S/S_min − 1)(E/E_min − 1) = 1, that is S(B) = S_min + E_min/B
// (weighted least squares on 1/B with weights 1/S², so that each point
// counts by its relative error). The critical batch size is their B_crit =
// E_min/S_min: there, reaching the target takes twice the minimal steps
// and twice the minimal examples. The regions are Shallue et al.'s, read
// off the fit: perfect scaling where B ≤ B_crit/4 (doubling the batch
// still divides the steps by at least 1.6, and the steps are within 25%
// of E_min/B), maximal data parallelism where B ≥ 4·B_crit (the steps
// are within 25% of S_min), diminishing returns between.
type BatchSweep struct {
	Target Target
	Points []SweepPoint
	// SMin, EMin and BCrit are the fit's; BCrit is +Inf when the fit finds
	// no floor of steps (perfect scaling over the whole sweep) and NaN
	// when fewer than two batch sizes reached the target.
	SMin, EMin, BCrit float64
	// FitPoints is the number of batch sizes fitted.
	FitPoints int
	// NoiseScale is B_simple near the target: the ratio of the mean
	// estimates of tr(Σ) and |G|² of the last epoch of every run that
	// reached it (runs stop at the target); NaN when not estimated.
	NoiseScale float64
	// NoiseRuns is the number of runs NoiseScale averages.
	NoiseRuns int
}

// SweepPoint is one batch size of a sweep.
type SweepPoint struct {
	// Batch is the batch size in rows (the training set's for full batch).
	Batch  int
	Config Config
	// Steps and Examples to the target, over the seeds that reached it.
	Steps, Examples Reach
	// Slope is the measured −Δlog S/Δlog B from the previous batch size
	// (1 for perfect scaling, 0 for none); NaN for the first or when
	// either did not reach the target with every seed.
	Slope float64
	// Region is "perfect scaling", "diminishing returns" or "maximal data
	// parallelism", from the fit; empty without one.
	Region string
}

// Regions of a batch sweep.
const (
	RegionPerfect     = "perfect scaling"
	RegionDiminishing = "diminishing returns"
	RegionMaximal     = "maximal data parallelism"
)

// Sweep analyses a batch sweep's results (see BatchSweep).
func (r *Results) Sweep() (*BatchSweep, error) {
	if r.Meta.Kind != KindBatchSweep {
		return nil, fieldErr("kind", "%q is not a batch sweep", r.Meta.Kind)
	}
	sum := r.Summary()
	sw := &BatchSweep{Target: r.Meta.Target, BCrit: math.NaN(), SMin: math.NaN(), EMin: math.NaN(), NoiseScale: math.NaN()}
	for _, row := range sum.Rows {
		b := row.Config.Variant.BatchSize(r.Meta.TrainRows)
		sw.Points = append(sw.Points, SweepPoint{Batch: b, Config: row.Config, Steps: row.GradEvals, Examples: row.Examples, Slope: math.NaN()})
	}
	complete := func(p SweepPoint) bool { return p.Steps.Of > 0 && p.Steps.Reached == p.Steps.Of }
	var xs, ys, ws []float64
	for i, p := range sw.Points {
		if !complete(p) {
			continue
		}
		xs, ys, ws = append(xs, 1/float64(p.Batch)), append(ys, p.Steps.Mean), append(ws, 1/(p.Steps.Mean*p.Steps.Mean))
		if i > 0 && complete(sw.Points[i-1]) && p.Batch != sw.Points[i-1].Batch {
			q := sw.Points[i-1]
			sw.Points[i].Slope = -math.Log(p.Steps.Mean/q.Steps.Mean) / math.Log(float64(p.Batch)/float64(q.Batch))
		}
	}
	sw.FitPoints = len(xs)
	if len(xs) >= 2 {
		a, b := stat.LinearRegression(xs, ys, ws, false)
		sw.SMin, sw.EMin = a, b
		switch {
		case a <= 0:
			sw.BCrit = math.Inf(1)
		case b <= 0:
			sw.BCrit = 0
		default:
			sw.BCrit = b / a
		}
		for i := range sw.Points {
			switch bb := float64(sw.Points[i].Batch); {
			case bb <= sw.BCrit/4:
				sw.Points[i].Region = RegionPerfect
			case bb >= 4*sw.BCrit:
				sw.Points[i].Region = RegionMaximal
			default:
				sw.Points[i].Region = RegionDiminishing
			}
		}
	}
	var gs, tr float64
	for _, run := range r.Runs {
		if run.Reached == nil || len(run.History.Epochs) == 0 {
			continue
		}
		if n := run.History.Last().Noise; n.Probes > 0 {
			gs += n.GradSq
			tr += n.TraceCov
			sw.NoiseRuns++
		}
	}
	if sw.NoiseRuns > 0 {
		sw.NoiseScale = tr / gs
	}
	return sw, nil
}

// WriteMarkdown writes the sweep as a Markdown table with the fit, the
// critical batch size and the noise scale.
func (sw *BatchSweep) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	op := "≤"
	if strings.Contains(sw.Target.Metric, "acc") {
		op = "≥"
	}
	fmt.Fprintf(&b, "## Batch-size scaling: steps to %s %s %s\n\n", sw.Target.Metric, op, strconv.FormatFloat(sw.Target.Value, 'g', -1, 64))
	b.WriteString("Per batch size, with its tuned learning rate: the steps (gradient evaluations) and examples until the target was first met, measured to within 9% (mean ± 95% confidence half-width over seeds; \"(k/n)\" when only k of n seeds reached it); the measured slope −Δlog(steps)/Δlog(batch) from the previous size (1: perfect scaling, 0: none); and the region from the fit below.\n\n")
	b.WriteString("| batch size | lr (tuned) | steps to target | examples to target | slope | region |\n|---|---|---|---|---|---|\n")
	for _, p := range sw.Points {
		slope := "–"
		if !math.IsNaN(p.Slope) {
			slope = strconv.FormatFloat(p.Slope, 'f', 2, 64)
		}
		region := p.Region
		if region == "" {
			region = "–"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", p.Batch, strconv.FormatFloat(p.Config.LR, 'g', -1, 64),
			fmtReach(p.Steps, count), fmtReach(p.Examples, count), slope, region)
	}
	b.WriteString("\n")
	switch {
	case math.IsNaN(sw.BCrit):
		b.WriteString("Fewer than two batch sizes reached the target with every seed: no fit, no critical batch size.\n")
	default:
		fmt.Fprintf(&b, "Fit over the %d batch sizes every seed brought to the target, S(B) = S_min + E_min/B (McCandlish et al. 2018): S_min = %s steps, E_min = %s examples. ",
			sw.FitPoints, g3(sw.SMin), g3(sw.EMin))
		if math.IsInf(sw.BCrit, 1) {
			b.WriteString("The fit finds no floor of steps: perfect scaling over the whole sweep, the critical batch size lies above it.\n")
		} else {
			fmt.Fprintf(&b, "**Critical batch size B_crit = E_min/S_min = %s** (McCandlish et al.'s definition: twice the minimal steps and twice the minimal examples). Regions (Shallue et al. 2018) from the fit: perfect scaling for B ≤ B_crit/4, maximal data parallelism for B ≥ 4·B_crit, diminishing returns between.\n", g3(sw.BCrit))
		}
	}
	if sw.NoiseRuns > 0 {
		fmt.Fprintf(&b, "\nGradient noise scale near the target, B_simple = tr(Σ)/|G|² (McCandlish et al.'s unbiased two-batch estimator, ratio of the mean estimates over the last epoch of the %d runs that reached the target): **%s**", sw.NoiseRuns, g3(sw.NoiseScale))
		if !math.IsNaN(sw.BCrit) && !math.IsInf(sw.BCrit, 0) && sw.BCrit > 0 {
			fmt.Fprintf(&b, ", %s times the measured B_crit", g3(sw.NoiseScale/sw.BCrit))
		}
		b.WriteString(".\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// stepsPlot draws the steps to the target against the batch size, log-log,
// with the perfect-scaling line, the fit and B_crit.
func (r *Results) stepsPlot(name string) (*plot.Plot, error) {
	return r.sweepPlot(name, false)
}

// examplesPlot draws the examples to the target against the batch size.
func (r *Results) examplesPlot(name string) (*plot.Plot, error) {
	return r.sweepPlot(name, true)
}

func (r *Results) sweepPlot(name string, examples bool) (*plot.Plot, error) {
	sw, err := r.Sweep()
	if err != nil {
		return nil, err
	}
	p := plot.New()
	what, unit := "steps", "gradient evaluations (steps)"
	if examples {
		what, unit = "examples", "examples seen"
	}
	p.Title.Text = fmt.Sprintf("%s: %s to %s %v against batch size (tuned rates; mean and 95%% CI over seeds)", name, what, sw.Target.Metric, sw.Target.Value)
	p.X.Label.Text = "batch size, log scale"
	p.Y.Label.Text = unit + " to target, log scale"
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	var pts plotter.XYs
	var errs plotter.YErrors
	var bmin, bmax float64 = math.Inf(1), 0
	var first *SweepPoint
	for i, q := range sw.Points {
		st := q.Steps
		if examples {
			st = q.Examples
		}
		if st.Reached == 0 || !(st.Mean > 0) {
			continue
		}
		if first == nil {
			first = &sw.Points[i]
		}
		pts = append(pts, plotter.XY{X: float64(q.Batch), Y: st.Mean})
		ci := st.CI
		if math.IsNaN(ci) {
			ci = 0
		}
		low := math.Min(ci, 0.9*st.Mean) // a log axis cannot reach zero
		errs = append(errs, struct{ Low, High float64 }{low, ci})
		bmin, bmax = math.Min(bmin, float64(q.Batch)), math.Max(bmax, float64(q.Batch))
	}
	if len(pts) == 0 {
		return nil, nil
	}
	meas := &struct {
		plotter.XYs
		plotter.YErrors
	}{pts, errs}
	bars, err := plotter.NewYErrorBars(meas)
	if err != nil {
		return nil, fmt.Errorf("study: plot: %w", err)
	}
	ln, sc, err := plotter.NewLinePoints(pts)
	if err != nil {
		return nil, fmt.Errorf("study: plot: %w", err)
	}
	ln.Width, ln.Color = vg.Points(1.5), plotutil.Color(0)
	sc.Color, sc.Shape, sc.Radius = plotutil.Color(0), draw.CircleGlyph{}, vg.Points(3)
	p.Add(ln, sc, bars)
	p.Legend.Add("measured (tuned rate per batch size)", ln, sc)
	// Perfect scaling through the smallest batch size: steps ∝ 1/B, examples constant.
	// The steps' line ends a factor 3 below the fewest steps measured, so
	// that it does not squash the measurements.
	ymin := math.Inf(1)
	for _, q := range pts {
		ymin = math.Min(ymin, q.Y)
	}
	var perfect plotter.XYs
	for _, x := range []float64{bmin, bmax} {
		y := first.Steps.Mean * float64(first.Batch) / x
		if examples {
			y = first.Examples.Mean
		} else if y < ymin/3 {
			x, y = first.Steps.Mean*float64(first.Batch)/(ymin/3), ymin/3
		}
		perfect = append(perfect, plotter.XY{X: x, Y: y})
	}
	pl, err := plotter.NewLine(perfect)
	if err != nil {
		return nil, fmt.Errorf("study: plot: %w", err)
	}
	pl.Color, pl.Dashes, pl.Width = plotutil.Color(1), []vg.Length{vg.Points(5), vg.Points(3)}, vg.Points(1)
	p.Add(pl)
	p.Legend.Add("perfect scaling from the smallest batch", pl)
	if !math.IsNaN(sw.BCrit) && !math.IsInf(sw.BCrit, 0) && sw.SMin > 0 && sw.EMin > 0 {
		var fit plotter.XYs
		for k := 0; k <= 40; k++ {
			x := bmin * math.Pow(bmax/bmin, float64(k)/40)
			y := sw.SMin + sw.EMin/x
			if examples {
				y *= x
			}
			fit = append(fit, plotter.XY{X: x, Y: y})
		}
		fl, err := plotter.NewLine(fit)
		if err != nil {
			return nil, fmt.Errorf("study: plot: %w", err)
		}
		fl.Color, fl.Dashes, fl.Width = plotutil.Color(2), []vg.Length{vg.Points(2), vg.Points(2)}, vg.Points(1.5)
		p.Add(fl)
		p.Legend.Add(fmt.Sprintf("fit S = S_min + E_min/B; B_crit = %s", g3(sw.BCrit)), fl)
		if sw.BCrit >= bmin && sw.BCrit <= bmax {
			p.Add(vline(sw.BCrit, pts, plotutil.Color(2)))
		}
	}
	if !math.IsNaN(sw.NoiseScale) && sw.NoiseScale >= bmin && sw.NoiseScale <= bmax {
		l := vline(sw.NoiseScale, pts, plotutil.Color(3))
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("B_simple near the target = %s", g3(sw.NoiseScale)), l)
	}
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for i, q := range pts {
		ylo, yhi = math.Min(ylo, q.Y-errs[i].Low), math.Max(yhi, q.Y+errs[i].High)
	}
	if !examples {
		ylo = math.Min(ylo, ymin/3)
	}
	padLogAxis(&p.X, bmin, bmax)
	padLogAxis(&p.Y, ylo, yhi)
	p.Legend.Top, p.Legend.Left = true, examples
	return p, nil
}

// vline is a dotted vertical line at x spanning the points' y range.
func vline(x float64, pts plotter.XYs, col interface{ RGBA() (r, g, b, a uint32) }) *plotter.Line {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, q := range pts {
		lo, hi = math.Min(lo, q.Y), math.Max(hi, q.Y)
	}
	l, _ := plotter.NewLine(plotter.XYs{{X: x, Y: lo}, {X: x, Y: hi}})
	l.Color, l.Dashes, l.Width = col, []vg.Length{vg.Points(1), vg.Points(3)}, vg.Points(1.5)
	return l
}
