package study

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotOptions configures Results.Plot.
type PlotOptions struct {
	// Loss is the quantity of the loss plots: "val_loss" or "loss". If
	// empty, "val_loss" when recorded, else "loss".
	Loss string
	// Formats are the file formats, "png" and "svg" (and anything else
	// gonum's plot.Save reads from an extension: "pdf", "eps"). If nil,
	// png and svg.
	Formats []string
	// Width and Height are the size of each figure. If zero, 8 by 5 inches
	// (768 by 480 pixels in PNG).
	Width, Height vg.Length
	// Band is what the band around each curve shows: "ci95" (the zero
	// value), the 95% confidence interval of the mean over seeds (Student
	// t; none for one seed); "minmax", the minimum to the maximum over
	// seeds; or "none".
	Band string
}

// Figure names, without the extension.
const (
	FigLossEpochs      = "loss_vs_epochs"
	FigLossExamples    = "loss_vs_examples"
	FigLossGradEvals   = "loss_vs_grad_evals"
	FigLossTime        = "loss_vs_time"
	FigValAccuracy     = "val_accuracy_vs_epochs"
	FigSensitivity     = "sensitivity"
	FigNoiseScale      = "noise_scale_vs_epochs"
	FigStepsVsBatch    = "steps_vs_batch"
	FigExamplesVsBatch = "examples_vs_batch"
	bandAlpha          = 0x38
	logRatioThreshold  = 20 // a log axis when max/min reaches this
)

// figures are every figure name a results directory may hold.
var figures = []string{FigLossEpochs, FigLossExamples, FigLossGradEvals, FigLossTime, FigValAccuracy, FigSensitivity,
	FigNoiseScale, FigStepsVsBatch, FigExamplesVsBatch}

// Plot draws the figures into dir and returns the paths written: the loss
// against epochs, examples seen, gradient evaluations and wall time, and
// the validation accuracy against epochs (when recorded); the sensitivity
// to the learning rate of a tuned study (FigSensitivity), the gradient
// noise scale per epoch when estimated (FigNoiseScale), and a batch
// sweep's steps and examples to the target against the batch size
// (FigStepsVsBatch, FigExamplesVsBatch; see BatchSweep). Each
// configuration is one curve, the mean over its seeds, in a band (see
// PlotOptions.Band); x is the mean over seeds at each point, epoch 0 being
// the untrained model. Validation curves use the evaluations within epochs
// when the runs have them (Study.EvalsPerDoubling), with fractional
// epochs. The y axis, and the x axis but for epochs, are logarithmic when
// their values span a factor of 20 or more; a logarithmic x axis drops the
// untrained model. Non-finite values (diverged runs) are left out. An
// unknown Band is a *ConfigError for the field "band".
func (r *Results) Plot(dir string, opt PlotOptions) ([]string, error) {
	if len(r.Runs) == 0 {
		return nil, fmt.Errorf("study: plot: %w", errNoRuns)
	}
	loss := opt.Loss
	if loss == "" {
		loss = "loss"
		if slices.Contains(r.metricNames(), "val_loss") {
			loss = "val_loss"
		}
	}
	formats := opt.Formats
	if formats == nil {
		formats = []string{"png", "svg"}
	}
	w, h := opt.Width, opt.Height
	if w == 0 {
		w = 8 * vg.Inch
	}
	if h == 0 {
		h = 5 * vg.Inch
	}
	lossLabel := "training loss"
	if loss == "val_loss" {
		lossLabel = "validation loss"
	}
	lossLabel += " (" + r.Meta.Loss + ")"
	name := r.Meta.Name
	if name == "" {
		name = r.Meta.Data
	}
	type fig struct {
		file, metric, x, title, xlabel, ylabel string
		legendTop                              bool
	}
	figs := []fig{
		{FigLossEpochs, loss, "epoch", "per epoch", "epoch", lossLabel, true},
		{FigLossExamples, loss, "examples", "per example seen", "examples seen", lossLabel, true},
		{FigLossGradEvals, loss, "grad_evals", "per gradient evaluation", "gradient evaluations (optimizer steps)", lossLabel, true},
		{FigLossTime, loss, "seconds", "per second of training", "wall time (s)", lossLabel, true},
	}
	if slices.Contains(r.metricNames(), "val_accuracy") {
		figs = append(figs, fig{FigValAccuracy, "val_accuracy", "epoch", "per epoch", "epoch", "validation accuracy (fraction correct)", false})
	}
	band, bandText := opt.Band, "band: 95% confidence interval"
	switch band {
	case "", "ci95":
		band = "ci95"
	case "minmax":
		bandText = "band: min to max"
	case "none":
		bandText = "no band"
	default:
		return nil, fieldErr("band", "%q, want ci95, minmax or none", opt.Band)
	}
	var paths []string
	save := func(p *plot.Plot, file string) error {
		for _, ext := range formats {
			path := filepath.Join(dir, file+"."+ext)
			if err := savePlot(p, w, h, path); err != nil {
				return err
			}
			paths = append(paths, path)
		}
		return nil
	}
	for _, f := range figs {
		title := fmt.Sprintf("%s: %s %s (mean of %d seeds, %s)", name, strings.SplitN(f.ylabel, " (", 2)[0], f.title, len(r.Meta.Seeds), bandText)
		p, err := r.figure(f.metric, f.x, title, f.xlabel, f.ylabel, f.legendTop, band)
		if err != nil {
			return paths, err
		}
		if err := save(p, f.file); err != nil {
			return paths, err
		}
	}
	extra := []struct {
		file string
		make func(name string) (*plot.Plot, error)
	}{{FigSensitivity, r.sensitivityPlot}, {FigNoiseScale, r.noisePlot}}
	if r.Meta.Kind == KindBatchSweep {
		extra = append(extra, struct {
			file string
			make func(name string) (*plot.Plot, error)
		}{FigStepsVsBatch, r.stepsPlot}, struct {
			file string
			make func(name string) (*plot.Plot, error)
		}{FigExamplesVsBatch, r.examplesPlot})
	}
	for _, e := range extra {
		p, err := e.make(name)
		if err != nil {
			return paths, err
		}
		if p == nil {
			continue
		}
		if err := save(p, e.file); err != nil {
			return paths, err
		}
	}
	return paths, nil
}

// savePlot saves a figure; a panic inside gonum/plot (it panics on some
// inputs, such as a log axis whose range reaches zero) is returned as an
// error.
func savePlot(p *plot.Plot, w, h vg.Length, path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("study: plot %s: gonum/plot panicked: %v", path, r)
		}
	}()
	if err := p.Save(w, h, path); err != nil {
		return fmt.Errorf("study: plot %s: %w", path, err)
	}
	return nil
}

// padLogAxis sets a log axis's range to lo..hi, widened by a factor on each
// side, so that a single value (gonum would pad it linearly, through zero)
// still draws.
func padLogAxis(ax *plot.Axis, lo, hi float64) {
	ax.Min, ax.Max = lo/1.5, hi*1.5
}

// curve is one configuration's mean and band.
type curve struct {
	label           string
	x, mean, lo, hi []float64
}

// curves computes, per configuration, the metric against x over the seeds,
// with the band (ci95, minmax or none).
func (r *Results) curves(metric, x, band string) []curve {
	byConfig := make([][]RunResult, len(r.Meta.Configs))
	for _, run := range r.Runs {
		byConfig[run.ConfigIndex] = append(byConfig[run.ConfigIndex], run)
	}
	var out []curve
	for ci, runs := range byConfig {
		if len(runs) == 0 {
			continue
		}
		c := curve{label: r.Meta.Configs[ci].String()}
		evals := strings.HasPrefix(metric, "val_")
		for _, run := range runs {
			evals = evals && len(run.Evals) > 0
		}
		for k := 0; ; k++ {
			var xs, ys []float64
			for _, run := range runs {
				xv, yv, ok := point(run, k, metric, x)
				if evals {
					xv, yv, ok = evalPoint(run, k, metric, x, r.Meta.TrainRows)
				}
				if ok && !math.IsNaN(yv) && !math.IsInf(yv, 0) {
					xs, ys = append(xs, xv), append(ys, yv)
				}
			}
			if len(ys) == 0 {
				break
			}
			st := newStat(ys)
			lo, hi := st.Min, st.Max
			switch {
			case band == "none":
				lo, hi = st.Mean, st.Mean
			case band == "ci95" && st.N > 1:
				lo, hi = st.Mean-st.CI, st.Mean+st.CI
			case band == "ci95":
				lo, hi = st.Mean, st.Mean
			}
			c.x = append(c.x, newStat(xs).Mean)
			c.mean, c.lo, c.hi = append(c.mean, st.Mean), append(c.lo, lo), append(c.hi, hi)
		}
		if len(c.x) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// point returns the k-th point of a run (k = 0 is the untrained model).
func point(run RunResult, k int, metric, x string) (float64, float64, bool) {
	if k == 0 {
		if run.Initial == nil {
			return 0, 0, false
		}
		y, ok := run.Initial[metric]
		return 0, y, ok
	}
	if k > len(run.History.Epochs) {
		return 0, 0, false
	}
	e := run.History.Epochs[k-1]
	y, ok := e.Metrics[metric]
	if metric == "loss" {
		y, ok = e.Loss, true
	}
	var xv float64
	switch x {
	case "epoch":
		xv = float64(e.Epoch)
	case "examples":
		xv = float64(e.Examples)
	case "grad_evals":
		xv = float64(e.GradEvals)
	case "seconds":
		xv = e.Elapsed.Seconds()
	}
	return xv, y, ok
}

// evalPoint returns the k-th point of a run's evaluations within epochs (k
// = 0 is the untrained model); x "epoch" is fractional, examples over the
// training rows.
func evalPoint(run RunResult, k int, metric, x string, rows int) (float64, float64, bool) {
	if k == 0 {
		return point(run, 0, metric, x)
	}
	if k > len(run.Evals) {
		return 0, 0, false
	}
	e := run.Evals[k-1]
	y, ok := e.Metrics[metric]
	var xv float64
	switch x {
	case "epoch":
		xv = float64(e.Examples) / float64(max(rows, 1))
	case "examples":
		xv = float64(e.Examples)
	case "grad_evals":
		xv = float64(e.GradEvals)
	case "seconds":
		xv = e.Seconds
	}
	return xv, y, ok
}

// span returns the smallest positive and the largest value.
func span(vals ...[]float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, vs := range vals {
		for _, v := range vs {
			if v > 0 {
				lo = math.Min(lo, v)
			}
			hi = math.Max(hi, v)
		}
	}
	return lo, hi
}

func (r *Results) figure(metric, x, title, xlabel, ylabel string, legendTop bool, band string) (*plot.Plot, error) {
	cs := r.curves(metric, x, band)
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.Top = legendTop
	p.Add(plotter.NewGrid())

	// The scale follows the means: a confidence band that reaches below
	// zero is cut at half the smallest mean on a log scale.
	var allY, allX [][]float64
	for _, c := range cs {
		allY = append(allY, c.mean)
		allX = append(allX, c.x)
	}
	ylo, yhi := span(allY...)
	logY := ylo > 0 && yhi/ylo >= logRatioThreshold && allPositive(allY...)
	if logY {
		for _, c := range cs {
			for k := range c.lo {
				c.lo[k] = math.Max(c.lo[k], ylo/2)
			}
		}
	}
	xlo, xhi := span(allX...)
	logX := x != "epoch" && xlo > 0 && xhi/xlo >= logRatioThreshold
	if logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.Y.Label.Text += ", log scale"
	}
	if logX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.X.Label.Text += ", log scale"
	}
	for i, c := range cs {
		var mean, band plotter.XYs
		var lower plotter.XYs
		for k := range c.x {
			if logX && c.x[k] <= 0 {
				continue
			}
			mean = append(mean, plotter.XY{X: c.x[k], Y: c.mean[k]})
			band = append(band, plotter.XY{X: c.x[k], Y: c.hi[k]})
			lower = append(lower, plotter.XY{X: c.x[k], Y: c.lo[k]})
		}
		if len(mean) == 0 {
			continue
		}
		col := plotutil.Color(i)
		if len(band) > 1 {
			slices.Reverse(lower)
			poly, err := plotter.NewPolygon(append(band, lower...))
			if err != nil {
				return nil, fmt.Errorf("study: plot: %w", err)
			}
			cr, cg, cb, _ := col.RGBA()
			poly.Color = color.NRGBA{R: uint8(cr >> 8), G: uint8(cg >> 8), B: uint8(cb >> 8), A: bandAlpha}
			poly.LineStyle.Width = 0
			p.Add(poly)
		}
		line, points, err := plotter.NewLinePoints(mean)
		if err != nil {
			return nil, fmt.Errorf("study: plot: %w", err)
		}
		line.Color, line.Width, line.Dashes = col, vg.Points(1.5), plotutil.Dashes(i)
		points.Color, points.Shape, points.Radius = col, plotutil.Shape(i), vg.Points(2)
		if len(mean) > 40 {
			points.Radius = 0
			points.Shape = draw.CircleGlyph{}
		}
		p.Add(line, points)
		p.Legend.Add(c.label, line, points)
	}
	// Leave room for the legend: 30% more height above the curves
	// (below them when the legend is at the bottom).
	const room = 0.3
	switch {
	case logY && legendTop:
		p.Y.Max *= math.Pow(p.Y.Max/p.Y.Min, room)
	case logY:
		p.Y.Min /= math.Pow(p.Y.Max/p.Y.Min, room)
	case legendTop:
		p.Y.Max += room * (p.Y.Max - p.Y.Min)
	default:
		p.Y.Min -= room * (p.Y.Max - p.Y.Min)
	}
	return p, nil
}

func allPositive(vals ...[]float64) bool {
	for _, vs := range vals {
		for _, v := range vs {
			if !(v > 0) {
				return false
			}
		}
	}
	return true
}
