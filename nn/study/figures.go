package study

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// choices returns the tuning choices the results show: a final stage's
// record, or those a complete tuning stage's results make.
func (r *Results) choices() []Choice {
	switch {
	case r.Meta.Stage == StageFinal && r.Meta.Tuning != nil:
		return r.Meta.Tuning.Choices
	case r.Meta.Stage == StageTuning && len(r.Missing) == 0 && len(r.Runs) > 0:
		return choose(r)
	}
	return nil
}

// sensitivityPlot draws, per configuration, the final validation loss of
// the tuning runs (their steps to the target, when that ranks the rates)
// against the learning rate, the chosen rate ringed; nil for untuned
// results.
func (r *Results) sensitivityPlot(name string) (*plot.Plot, error) {
	cs := r.choices()
	if len(cs) == 0 {
		return nil, nil
	}
	metric := "val_loss"
	if r.Meta.Tuning != nil && r.Meta.Tuning.Metric != "" {
		metric = r.Meta.Tuning.Metric
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: sensitivity to the learning rate (tuning stage; rates ranked by %s; ringed: chosen)", name, metric)
	p.X.Label.Text = "learning rate, log scale"
	p.Y.Label.Text = "final validation loss, mean over tuning seeds"
	steps := metric == TuneStepsToTarget
	if steps {
		p.Y.Label.Text = "steps to the target, mean over tuning seeds (rates that never reach it left out)"
	}
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	var all []float64
	type line struct {
		label  string
		pts    plotter.XYs
		chosen plotter.XYs
	}
	var lines []line
	for _, c := range cs {
		l := line{label: c.Config.Name()}
		for i, lr := range c.LRs {
			v := rankValue(c.ValLoss[i], false)
			if steps {
				v = rankValue(c.Scores[i], false)
			}
			if math.IsInf(v, 0) || math.IsNaN(v) || lr <= 0 {
				continue // diverged: off the chart
			}
			l.pts = append(l.pts, plotter.XY{X: lr, Y: v})
			all = append(all, v)
			if i == c.Best {
				l.chosen = append(l.chosen, plotter.XY{X: lr, Y: v})
			}
		}
		lines = append(lines, l)
	}
	if len(all) == 0 {
		return nil, nil
	}
	lo, hi := span(all)
	if lo > 0 && hi/lo >= logRatioThreshold {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.Y.Label.Text += ", log scale"
	}
	var xs []float64
	for _, l := range lines {
		for _, q := range l.pts {
			xs = append(xs, q.X)
		}
	}
	xlo, xhi := span(xs)
	padLogAxis(&p.X, xlo, xhi)
	for i, l := range lines {
		if len(l.pts) == 0 {
			continue
		}
		col := plotutil.Color(i)
		ln, pts, err := plotter.NewLinePoints(l.pts)
		if err != nil {
			return nil, fmt.Errorf("study: plot: %w", err)
		}
		ln.Color, ln.Width, ln.Dashes = col, vg.Points(1.5), plotutil.Dashes(i)
		pts.Color, pts.Shape, pts.Radius = col, plotutil.Shape(i), vg.Points(3)
		p.Add(ln, pts)
		p.Legend.Add(l.label, ln, pts)
		if len(l.chosen) > 0 {
			ring, err := plotter.NewScatter(l.chosen)
			if err != nil {
				return nil, fmt.Errorf("study: plot: %w", err)
			}
			ring.Color, ring.Shape, ring.Radius = col, draw.RingGlyph{}, vg.Points(9)
			p.Add(ring)
		}
	}
	p.Legend.Top = true
	return p, nil
}

// noisePlot draws B_simple against epochs, per configuration: the ratio of
// the mean tr(Σ) to the mean |G|² over seeds (a ratio of means, as each
// record is); nil when the noise scale was not estimated.
func (r *Results) noisePlot(name string) (*plot.Plot, error) {
	byConfig := r.byConfig()
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: gradient noise scale B_simple = tr(Σ)/|G|² (McCandlish et al. 2018), ratio of means over seeds", name)
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = "B_simple (examples), log scale"
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	drawn := 0
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for ci, runs := range byConfig {
		var pts plotter.XYs
		for k := 0; ; k++ {
			var gs, tr float64
			n, found := 0, false
			for _, run := range runs {
				if k < len(run.History.Epochs) {
					found = true
					if e := run.History.Epochs[k]; e.Noise.Probes > 0 {
						gs += e.Noise.GradSq
						tr += e.Noise.TraceCov
						n++
					}
				}
			}
			if !found {
				break
			}
			if n > 0 && gs > 0 && tr > 0 {
				pts = append(pts, plotter.XY{X: float64(k + 1), Y: tr / gs})
				ylo, yhi = math.Min(ylo, tr/gs), math.Max(yhi, tr/gs)
			}
		}
		if len(pts) == 0 {
			continue
		}
		ln, ps, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("study: plot: %w", err)
		}
		col := plotutil.Color(ci)
		ln.Color, ln.Width, ln.Dashes = col, vg.Points(1.5), plotutil.Dashes(ci)
		ps.Color, ps.Shape, ps.Radius = col, plotutil.Shape(ci), vg.Points(2.5)
		p.Add(ln, ps)
		p.Legend.Add(r.Meta.Configs[ci].Name(), ln, ps)
		drawn++
	}
	if drawn == 0 {
		return nil, nil
	}
	padLogAxis(&p.Y, ylo, yhi)
	p.Legend.Top = true
	return p, nil
}

// rates formats learning rates for labels.
func rates(lrs []float64) string {
	s := make([]string, len(lrs))
	for i, v := range lrs {
		s[i] = strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strings.Join(s, ", ")
}
