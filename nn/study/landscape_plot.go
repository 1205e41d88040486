package study

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Landscape figure names, without the seed suffix ("_seed1") and the
// extension.
const (
	FigLandscapeSurface    = "landscape_surface"
	FigLandscapeValSurface = "landscape_val_surface"
	FigLandscapeLine       = "landscape_line"
	FigLandscapePath       = "landscape_path"
)

// Report writes the landscape's numbers (landscape_seedN.json, see
// WriteJSON) and figures (see Plot) into dir, created if needed, and
// returns the paths written.
func (l *Landscape) Report(dir string, opt PlotOptions) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("study: %w", err)
	}
	path := filepath.Join(dir, "landscape_seed"+strconv.FormatUint(l.Seed, 10)+".json")
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("study: %w", err)
	}
	err = l.WriteJSON(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("study: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	plots, err := l.Plot(dir, opt)
	return append([]string{path}, plots...), err
}

// Plot draws the landscape's figures into dir and returns the paths
// written, each in every format of opt (PNG and SVG by default):
//
//   - landscape_surface_seedN: the training loss on the grid as a heat
//     map with contour lines (both on a log scale when the loss spans a
//     factor of 20 or more), each run's path projected onto the plane, its
//     start (the shared initial weights) and its end marked, and the
//     centre; a legend per run. landscape_val_surface_seedN is the same
//     for the validation loss, when computed.
//   - landscape_line_seedN: the loss along the straight line from the
//     initial weights (α = 0) to each run's final weights (α = 1),
//     Goodfellow et al.'s picture; validation dashed.
//   - landscape_path_seedN: the loss at each snapshot of each path against
//     the epochs of data seen (examples / training rows); validation
//     dashed; dotted, the loss on the plane under the projected path (what
//     the surface shows there, which differs as much as the path lies off
//     the plane).
//
// opt.Loss is ignored; opt.Width and opt.Height default to 8 inches by
// 5.6 plus a fifth for each line of the legend for the surface, 8 by 5
// for the others.
func (l *Landscape) Plot(dir string, opt PlotOptions) ([]string, error) {
	formats := opt.Formats
	if formats == nil {
		formats = []string{"png", "svg"}
	}
	w := cmpOr(opt.Width, 8*vg.Inch)
	suffix := "_seed" + strconv.FormatUint(l.Seed, 10)
	type fig struct {
		name string
		h    vg.Length
		draw func(draw.Canvas) error
	}
	// The surface: 5.6 inches and a line of legend per path and mark.
	surfaceH := cmpOr(opt.Height, 5.6*vg.Inch+vg.Length(len(l.Paths)+3)*vg.Inch/5)
	figs := []fig{{FigLandscapeSurface, surfaceH, func(c draw.Canvas) error { return l.drawSurface(c, false) }}}
	if l.Surface.ValLoss != nil {
		figs = append(figs, fig{FigLandscapeValSurface, surfaceH, func(c draw.Canvas) error { return l.drawSurface(c, true) }})
	}
	figs = append(figs,
		fig{FigLandscapeLine, cmpOr(opt.Height, 5*vg.Inch), func(c draw.Canvas) error { return l.drawCurves(c, true) }},
		fig{FigLandscapePath, cmpOr(opt.Height, 5*vg.Inch), func(c draw.Canvas) error { return l.drawCurves(c, false) }},
	)
	var paths []string
	for _, f := range figs {
		for _, ext := range formats {
			path := filepath.Join(dir, f.name+suffix+"."+ext)
			if err := saveFigure(path, ext, w, f.h, f.draw); err != nil {
				return paths, err
			}
			paths = append(paths, path)
		}
	}
	return paths, nil
}

// saveFigure draws a figure on a canvas of the format and writes it. A
// panic inside gonum/plot (it panics on some inputs, such as a colour map
// whose range is empty) is returned as an error.
func saveFigure(path, ext string, w, h vg.Length, fn func(draw.Canvas) error) (err error) {
	c, err := draw.NewFormattedCanvas(w, h, ext)
	if err != nil {
		return fmt.Errorf("study: plot %s: %w", path, err)
	}
	paint := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("gonum/plot panicked: %v", r)
			}
		}()
		return fn(draw.New(c))
	}
	if err := paint(); err != nil {
		return fmt.Errorf("study: plot %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("study: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("study: %w", cerr)
		}
	}()
	if _, err := c.WriteTo(f); err != nil {
		return fmt.Errorf("study: plot %s: %w", path, err)
	}
	return nil
}

// pathColors are the paths' colours: dark and saturated, away from the
// yellow-to-red of the surface.
var pathColors = []color.Color{
	color.NRGBA{R: 0, G: 80, B: 200, A: 255},    // blue
	color.NRGBA{R: 0, G: 0, B: 0, A: 255},       // black
	color.NRGBA{R: 0, G: 140, B: 60, A: 255},    // green
	color.NRGBA{R: 140, G: 40, B: 180, A: 255},  // purple
	color.NRGBA{R: 0, G: 160, B: 190, A: 255},   // teal
	color.NRGBA{R: 110, G: 70, B: 20, A: 255},   // brown
	color.NRGBA{R: 120, G: 120, B: 120, A: 255}, // grey
}

// pathGlyphs mark the paths' ends: filled shapes first, then outlines.
var pathGlyphs = []draw.GlyphDrawer{
	draw.PyramidGlyph{}, draw.BoxGlyph{}, draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.RingGlyph{}, draw.CrossGlyph{},
}

func pathColor(i int) color.Color      { return pathColors[i%len(pathColors)] }
func pathGlyph(i int) draw.GlyphDrawer { return pathGlyphs[i%len(pathGlyphs)] }

// surfacePalette interpolates ColorBrewer's YlOrRd (light yellow for low
// loss to dark red for high) over 128 colours.
func surfacePalette() palette.Palette {
	anchors := []color.NRGBA{
		{0xff, 0xff, 0xcc, 0xff}, {0xff, 0xed, 0xa0, 0xff}, {0xfe, 0xd9, 0x76, 0xff}, {0xfe, 0xb2, 0x4c, 0xff},
		{0xfd, 0x8d, 0x3c, 0xff}, {0xfc, 0x4e, 0x2a, 0xff}, {0xe3, 0x1a, 0x1c, 0xff}, {0xbd, 0x00, 0x26, 0xff}, {0x80, 0x00, 0x26, 0xff},
	}
	const n = 128
	cols := make([]color.Color, n)
	for i := range cols {
		x := float64(i) / (n - 1) * float64(len(anchors)-1)
		k := min(int(x), len(anchors)-2)
		t := x - float64(k)
		a, b := anchors[k], anchors[k+1]
		mix := func(u, v uint8) uint8 { return uint8(math.Round(float64(u) + t*(float64(v)-float64(u)))) }
		cols[i] = color.NRGBA{R: mix(a.R, b.R), G: mix(a.G, b.G), B: mix(a.B, b.B), A: 255}
	}
	return fixedPalette(cols)
}

type fixedPalette []color.Color

func (p fixedPalette) Colors() []color.Color { return p }

// zGrid is a surface as gonum's GridXYZ, with values already transformed
// (log10 when logarithmic) and non-finite ones as NaN.
type zGrid struct {
	a, b []float64
	z    []float64
}

func (g zGrid) Dims() (c, r int)   { return len(g.a), len(g.b) }
func (g zGrid) Z(c, r int) float64 { return g.z[r*len(g.a)+c] }
func (g zGrid) X(c int) float64    { return g.a[c] }
func (g zGrid) Y(r int) float64    { return g.b[r] }
func (g zGrid) Min() (m float64)   { m, _ = finiteRange(g.z); return m }
func (g zGrid) Max() (m float64)   { _, m = finiteRange(g.z); return m }
func (g zGrid) valid() (ok bool)   { lo, hi := finiteRange(g.z); return lo <= hi }
func (g zGrid) flat() (ok bool)    { lo, hi := finiteRange(g.z); return lo == hi }

// ifLog returns log10(v) when log is true, else v.
func ifLog(log bool, v float64) float64 {
	if log {
		return math.Log10(v)
	}
	return v
}

func isFinite(v float64) bool      { return !math.IsNaN(v) && !math.IsInf(v, 0) }
func logRange(lo, hi float64) bool { return lo > 0 && hi/lo >= logRatioThreshold }
func lossLabel(val bool) string {
	return map[bool]string{false: "training loss", true: "validation loss"}[val]
}
func ifThen(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

// finiteRange returns the smallest and largest finite values (+Inf, -Inf
// if there are none).
func finiteRange(vs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		if isFinite(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	return lo, hi
}

// logTicks labels an axis of log10 values with the values themselves, at
// 1, 2 and 5 times powers of ten (every power of ten when that is too
// many).
func logTicks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	mults := []float64{1, 2, 5}
	if hi-lo > 3 {
		mults = []float64{1}
	}
	for e := math.Floor(lo); e <= math.Ceil(hi); e++ {
		for _, m := range mults {
			v := math.Log10(m) + e
			if v >= lo-1e-9 && v <= hi+1e-9 {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(m*math.Pow(10, e), 'g', 3, 64)})
			}
		}
	}
	if len(ticks) < 2 { // a narrow range: fall back to gonum's ticks, labelled in loss
		for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
			if t.Label != "" {
				t.Label = strconv.FormatFloat(math.Pow(10, t.Value), 'g', 3, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// drawSurface draws the surface figure: the heat map and contours with
// the paths (left), the colour bar (right), the legends (below).
func (l *Landscape) drawSurface(c draw.Canvas, val bool) error {
	vals := l.Surface.Loss
	if val {
		vals = l.Surface.ValLoss
	}
	lo, hi := finiteRange(vals)
	logZ := logRange(lo, hi)
	z := make([]float64, len(vals))
	for i, v := range vals {
		switch {
		case !isFinite(v):
			z[i] = math.NaN()
		case logZ:
			z[i] = math.Log10(v)
		default:
			z[i] = v
		}
	}
	g := zGrid{a: l.Surface.A, b: l.Surface.B, z: z}
	if !g.valid() {
		return fmt.Errorf("the %s is not finite anywhere on the grid", lossLabel(val))
	}
	zmin, zmax := g.Min(), g.Max()
	if zmin == zmax {
		zmin, zmax = zmin-0.5, zmax+0.5
	}
	pal := surfacePalette()

	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s, seed %d: %s around the paths", cmpOr(l.Name, l.Data), l.Seed, lossLabel(val))
	p.X.Label.Text, p.Y.Label.Text = l.axisLabel(0), l.axisLabel(1)
	hm := plotter.NewHeatMap(g, pal)
	hm.Min, hm.Max = zmin, zmax
	hm.NaN = color.NRGBA{R: 200, G: 200, B: 200, A: 255}
	hm.Rasterized = true
	p.Add(hm)
	if !g.flat() {
		const nLevels = 12
		levels := make([]float64, nLevels)
		for i := range levels {
			levels[i] = zmin + (zmax-zmin)*float64(i+1)/(nLevels+1)
		}
		ct := plotter.NewContour(g, levels, fixedPalette{color.NRGBA{R: 60, G: 30, B: 0, A: 110}})
		ct.LineStyles = []draw.LineStyle{{Width: vg.Points(0.6)}}
		ct.Min, ct.Max = zmin, zmax
		p.Add(ct)
	}
	var variants, marks plot.Legend
	variants, marks = plot.NewLegend(), plot.NewLegend()
	for _, lg := range []*plot.Legend{&variants, &marks} {
		lg.Left, lg.Top = true, true
		lg.TextStyle.Font.Size = vg.Points(10)
		lg.ThumbnailWidth = vg.Points(24)
	}
	startSty := draw.GlyphStyle{Color: color.White, Shape: draw.CircleGlyph{}, Radius: vg.Points(5)}
	startRing := draw.GlyphStyle{Color: color.Black, Shape: draw.RingGlyph{}, Radius: vg.Points(5)}
	for i, path := range l.Paths {
		pts := make(plotter.XYs, 0, len(path.Points))
		for _, pt := range path.Points {
			if !math.IsNaN(pt.A) && !math.IsNaN(pt.B) {
				pts = append(pts, plotter.XY{X: pt.A, Y: pt.B})
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color, line.Width = pathColor(i), vg.Points(1.6)
		dots, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		dots.GlyphStyle = draw.GlyphStyle{Color: pathColor(i), Shape: draw.CircleGlyph{}, Radius: vg.Points(1.3)}
		end, err := plotter.NewScatter(pts[len(pts)-1:])
		if err != nil {
			return err
		}
		end.GlyphStyle = draw.GlyphStyle{Color: pathColor(i), Shape: pathGlyph(i), Radius: vg.Points(5)}
		p.Add(line, dots, end)
		last := path.Points[len(path.Points)-1]
		label := fmt.Sprintf("%s: %d snapshots, final loss %.3g, %.3g on the plane", path.Run.Config, len(path.Points), last.Loss, last.PlaneLoss)
		if val {
			label = fmt.Sprintf("%s: %d snapshots, final validation loss %.3g", path.Run.Config, len(path.Points), last.ValLoss)
		}
		variants.Add(label, line, end)
	}
	if len(l.Paths) > 0 && len(l.Paths[0].Points) > 0 {
		s := l.Paths[0].Points[0]
		start, err := plotter.NewScatter(plotter.XYs{{X: s.A, Y: s.B}})
		if err != nil {
			return err
		}
		start.GlyphStyle = startSty
		ring, _ := plotter.NewScatter(plotter.XYs{{X: s.A, Y: s.B}})
		ring.GlyphStyle = startRing
		p.Add(start, ring)
		marks.Add("start: the shared initial weights", start, ring)
	}
	centre, _ := plotter.NewScatter(plotter.XYs{{X: 0, Y: 0}})
	centre.GlyphStyle = draw.GlyphStyle{Color: color.Black, Shape: draw.CrossGlyph{}, Radius: vg.Points(6)}
	p.Add(centre)
	marks.Add("centre (0, 0): "+l.centreLabel(), centre)
	marks.Add(ifThen(logZ, "contours: even steps of log loss", "contours: even steps of loss"))
	p.X.Min, p.X.Max = l.Surface.A[0], l.Surface.A[len(l.Surface.A)-1]
	p.Y.Min, p.Y.Max = l.Surface.B[0], l.Surface.B[len(l.Surface.B)-1]
	// Half a cell more on each side: the heat map's cells are centred on
	// the grid points.
	da := (p.X.Max - p.X.Min) / float64(2*(len(l.Surface.A)-1))
	db := (p.Y.Max - p.Y.Min) / float64(2*(len(l.Surface.B)-1))
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = p.X.Min-da, p.X.Max+da, p.Y.Min-db, p.Y.Max+db

	// The colour bar: a one-column heat map of the same palette.
	bar := plot.New()
	const barN = 128
	bz := make([]float64, barN)
	bb := make([]float64, barN)
	for i := range bz {
		bz[i] = zmin + (zmax-zmin)*float64(i)/(barN-1)
		bb[i] = bz[i]
	}
	bhm := plotter.NewHeatMap(zGrid{a: []float64{0}, b: bb, z: bz}, pal)
	bhm.Min, bhm.Max, bhm.Rasterized = zmin, zmax, true
	bar.Add(bhm)
	bar.HideX()
	bar.Y.Min, bar.Y.Max = zmin, zmax
	bar.Y.Label.Text = lossLabel(val) + " (" + l.Loss + ")"
	if logZ {
		bar.Y.Label.Text += ", log scale"
		bar.Y.Tick.Marker = plot.TickerFunc(logTicks)
	}

	// Layout: the legends at the bottom, one above the other, the colour bar
	// at the right, its bar as tall as the main plot's data area.
	pad := vg.Points(6)
	// gonum's legend rows are as tall as their tallest text, then Padding.
	row := variants.TextStyle.Rectangle("Xg()").Size().Y + vg.Points(3)
	variants.Padding, marks.Padding = vg.Points(3), vg.Points(3)
	legendH := vg.Length(len(l.Paths)+3)*row + 2*pad
	main := c
	main.Min.Y += legendH
	main.Max.X -= vg.Inch * 1.25
	barC := c
	barC.Min.X, barC.Max.X = main.Max.X+pad, c.Max.X-pad
	dc := p.DataCanvas(main)
	bdc := bar.DataCanvas(barC)
	barC.Min.Y = dc.Min.Y - (bdc.Min.Y - barC.Min.Y)
	barC.Max.Y = dc.Max.Y + (barC.Max.Y - bdc.Max.Y)
	p.Draw(main)
	bar.Draw(barC)
	leg := c
	leg.Max.Y = c.Min.Y + legendH - pad
	leg.Min.X += pad
	variants.Draw(leg)
	leg.Max.Y -= vg.Length(len(l.Paths)) * row
	marks.Draw(leg)
	return nil
}

// axisLabel labels the plane's direction k (0 for X, 1 for Y).
func (l *Landscape) axisLabel(k int) string {
	p := l.Plane
	if p.Method == "pca" {
		return fmt.Sprintf("%s PCA direction (%.1f%% of the variance)", ifThen(k == 0, "first", "second"), 100*p.Explained[k])
	}
	return fmt.Sprintf("filter-normalised random direction %d", k+1)
}

// drawCurves draws the line figure (line true) or the path figure.
func (l *Landscape) drawCurves(c draw.Canvas, line bool) error {
	p := plot.New()
	name := cmpOr(l.Name, l.Data)
	if line {
		p.Title.Text = fmt.Sprintf("%s, seed %d: loss on the straight line from the initial (α = 0) to the final weights (α = 1)", name, l.Seed)
		p.X.Label.Text = "α: the weights (1-α)·initial + α·final"
		p.X.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
			var ts []plot.Tick
			for v := math.Ceil(lo*4) / 4; v <= hi+1e-9; v += 0.25 {
				ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
			return ts
		})
	} else {
		p.Title.Text = fmt.Sprintf("%s, seed %d: loss at each snapshot along the path", name, l.Seed)
		p.X.Label.Text = "epochs of data seen (examples / training rows)"
	}
	p.Title.TextStyle.Font.Size = vg.Points(11)
	hasVal := l.ValRows > 0
	notes := ifThen(hasVal, "; validation dashed", "") + ifThen(line, "", "; dotted: on the plane")
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Add(plotter.NewGrid())
	var all []float64
	// Per path: the training loss, the validation loss (dashed) and, on the
	// path figure, the loss on the plane under the path (dotted).
	type curve struct{ x, y []float64 }
	curves := make([][3]curve, len(l.Paths))
	for i, path := range l.Paths {
		var tr, va, pl curve
		if line {
			for _, lp := range path.Line {
				tr.x, tr.y = append(tr.x, lp.Alpha), append(tr.y, lp.Loss)
				va.x, va.y = append(va.x, lp.Alpha), append(va.y, lp.ValLoss)
			}
		} else {
			for _, pt := range path.Points {
				x := float64(pt.Examples) / float64(max(l.TrainRows, 1))
				tr.x, tr.y = append(tr.x, x), append(tr.y, pt.Loss)
				va.x, va.y = append(va.x, x), append(va.y, pt.ValLoss)
				pl.x, pl.y = append(pl.x, x), append(pl.y, pt.PlaneLoss)
			}
		}
		curves[i] = [3]curve{tr, va, pl}
		all = append(all, tr.y...)
		all = append(all, pl.y...)
		if hasVal {
			all = append(all, va.y...)
		}
	}
	lo, hi := finiteRange(all)
	if lo > hi {
		return fmt.Errorf("no finite loss to draw")
	}
	logY := logRange(lo, hi) && lo > 0
	if logY {
		// log10 of the loss on a linear axis, labelled with the loss:
		// gonum pads a log axis as if its label sat at the middle of the
		// data range, not of the axis.
		p.Y.Tick.Marker = plot.TickerFunc(logTicks)
		p.Y.Label.Text = ", log scale"
	}
	p.Y.Label.Text = "loss (" + l.Loss + ")" + p.Y.Label.Text + notes
	for i, path := range l.Paths {
		for k, cv := range curves[i] {
			if (k == 1 && !hasVal) || len(cv.x) == 0 {
				continue
			}
			var xy plotter.XYs
			for j := range cv.x {
				if y := cv.y[j]; isFinite(y) && (!logY || y > 0) {
					xy = append(xy, plotter.XY{X: cv.x[j], Y: ifLog(logY, y)})
				}
			}
			if len(xy) == 0 {
				continue
			}
			ln, err := plotter.NewLine(xy)
			if err != nil {
				return err
			}
			ln.Color, ln.Width = pathColor(i), vg.Points(1.5)
			switch k {
			case 1:
				ln.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			case 2:
				ln.Width, ln.Dashes = vg.Points(1), []vg.Length{vg.Points(1), vg.Points(2)}
			}
			p.Add(ln)
			if k == 0 {
				end, err := plotter.NewScatter(xy[len(xy)-1:])
				if err != nil {
					return err
				}
				end.GlyphStyle = draw.GlyphStyle{Color: pathColor(i), Shape: pathGlyph(i), Radius: vg.Points(4)}
				if line { // mark α = 1, the final weights, not the line's end
					for _, lp := range path.Line {
						if lp.Alpha == 1 && isFinite(lp.Loss) && (!logY || lp.Loss > 0) {
							end.XYs = plotter.XYs{{X: 1, Y: ifLog(logY, lp.Loss)}}
						}
					}
				}
				p.Add(end)
				p.Legend.Add(path.Run.Config.String(), ln, end)
			}
		}
	}
	if line {
		for _, a := range []float64{0, 1} {
			vl, err := plotter.NewLine(plotter.XYs{{X: a, Y: ifLog(logY, lo)}, {X: a, Y: ifLog(logY, hi)}})
			if err != nil {
				return err
			}
			vl.Color, vl.Width, vl.Dashes = color.Gray{Y: 120}, vg.Points(0.8), []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(vl)
		}
	}
	// Room for the legend above the curves.
	room := min(0.07*float64(len(l.Paths)+1), 0.6)
	p.Y.Max += room * (p.Y.Max - p.Y.Min)
	p.Draw(c)
	return nil
}
