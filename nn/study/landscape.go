package study

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/descentlab/descent/nn/callbacks"
)

// LandscapeConfig turns on a study's landscapes: for a seed, whose runs
// all start from the same initial weights, the training loss on a plane
// of weight space through the runs' paths, each path projected onto it
// (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets"), and
// the loss along the straight line from the initial to each run's final
// weights (Goodfellow et al. 2015, "Qualitatively Characterizing Neural
// Network Optimization Problems").
//
// When it is set, Study.Run keeps snapshots of the weights of the runs
// of the pictured seeds (RunResult.Trajectory); Study.Landscapes then
// computes the landscapes and Landscape.Report draws them. In a study file
// it is the "landscape" object, with the JSON names below.
type LandscapeConfig struct {
	// Seeds are the seeds pictured, one landscape each; each must be one of
	// the grid's seeds. If empty, the grid's first seed.
	Seeds []uint64 `json:"seeds,omitempty"`
	// Every is the number of optimizer steps between snapshots of a run's
	// weights (callbacks.Trajectory.Every). If zero, 1: every step, decimated to
	// the budget.
	Every int `json:"every,omitempty"`
	// Snapshots is the most snapshots held per run (callbacks.Trajectory.Max); a
	// long run keeps between half and all of them, evenly spaced. Each
	// takes 8 bytes per parameter. If zero, 50.
	Snapshots int `json:"snapshots,omitempty"`
	// Directions is "pca" (the default): the two principal directions of
	// all the seed's snapshots about the centre (PCAPlane); or "random":
	// Li et al.'s filter-normalised random directions (FilterNormalPlane),
	// drawn from a stream of the seed.
	Directions string `json:"directions,omitempty"`
	// Centre is the plane's origin: "best" (the default), the final weights
	// of the run with the lowest final training loss; "initial", the
	// seed's initial weights; or "mean", the mean of all snapshots.
	Centre string `json:"centre,omitempty"`
	// Points is the number of grid points along each axis; at least 3. If
	// zero, 41 (41 x 41 = 1,681 loss evaluations).
	Points int `json:"points,omitempty"`
	// Margin widens the grid beyond the box holding the centre and the
	// projected paths by this fraction of the box on each side. If zero,
	// 0.15. The grid always has a point at the centre when the box holds
	// it.
	Margin float64 `json:"margin,omitempty"`
	// Extent, if set, is the grid's box instead.
	Extent *Rect `json:"extent,omitempty"`
	// Rows, if positive, computes every loss on the first Rows training
	// rows (and validation rows) only; if zero, on all of them.
	Rows int `json:"rows,omitempty"`
	// Validation also computes the validation loss on the grid, at the
	// snapshots and along the lines, which nearly doubles the cost (the
	// study needs validation data).
	Validation bool `json:"validation,omitempty"`
	// LineSteps is the number of intervals of the straight line between the
	// initial weights (α = 0) and a run's final weights (α = 1); the line
	// goes on for a quarter of them beyond each end. If zero, 40 (61 points
	// from α = -0.25 to 1.25).
	LineSteps int `json:"line_steps,omitempty"`
	// Batch is the number of rows per forward pass when computing a loss
	// (nn.Sequential.PredictBatchSize). If zero, 1000.
	Batch int `json:"batch,omitempty"`
}

// Rect is a box of the plane: a from AMin to AMax, b from BMin to BMax.
type Rect struct {
	AMin float64 `json:"a_min"`
	AMax float64 `json:"a_max"`
	BMin float64 `json:"b_min"`
	BMax float64 `json:"b_max"`
}

// Defaults of LandscapeConfig.
const (
	DefaultLandscapePoints    = 41
	DefaultLandscapeSnapshots = 50
	DefaultLandscapeMargin    = 0.15
	DefaultLandscapeLineSteps = 40
	DefaultLandscapeBatch     = 1000
)

// landscapeStream is the stream of a seed that draws random directions.
const landscapeStream = 0x4c69_3230_3138 // "Li2018"

func (c *LandscapeConfig) points() int    { return cmpOr(c.Points, DefaultLandscapePoints) }
func (c *LandscapeConfig) snapshots() int { return cmpOr(c.Snapshots, DefaultLandscapeSnapshots) }
func (c *LandscapeConfig) every() int     { return cmpOr(c.Every, 1) }
func (c *LandscapeConfig) lineSteps() int { return cmpOr(c.LineSteps, DefaultLandscapeLineSteps) }
func (c *LandscapeConfig) batch() int     { return cmpOr(c.Batch, DefaultLandscapeBatch) }
func (c *LandscapeConfig) directions() string {
	return cmpOr(strings.ToLower(c.Directions), "pca")
}
func (c *LandscapeConfig) centre() string { return cmpOr(strings.ToLower(c.Centre), "best") }
func (c *LandscapeConfig) margin() float64 {
	if c.Margin == 0 {
		return DefaultLandscapeMargin
	}
	return c.Margin
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// seeds returns the pictured seeds of a study.
func (c *LandscapeConfig) seeds(grid []uint64) []uint64 {
	if len(c.Seeds) > 0 {
		return c.Seeds
	}
	if len(grid) > 0 {
		return grid[:1]
	}
	return nil
}

// validate reports the first problem, naming the field as a study file
// spells it.
func (c *LandscapeConfig) validate(s *Study) error {
	if c == nil {
		return nil
	}
	for i, seed := range c.Seeds {
		if !slices.Contains(s.Grid.Seeds, seed) {
			return fieldErr(fmt.Sprintf("landscape.seeds[%d]", i), "seed %d is not one of the grid's seeds %v", seed, s.Grid.Seeds)
		}
	}
	if i, dup := firstDup(c.Seeds); dup {
		return fieldErr(fmt.Sprintf("landscape.seeds[%d]", i), "seed %d repeats", c.Seeds[i])
	}
	switch {
	case c.Every < 0:
		return fieldErr("landscape.every", "%d must not be negative", c.Every)
	case c.Snapshots != 0 && c.Snapshots < 2:
		return fieldErr("landscape.snapshots", "%d, want at least 2 (the initial and final weights)", c.Snapshots)
	case !slices.Contains([]string{"pca", "random"}, c.directions()):
		return fieldErr("landscape.directions", "%q, want pca or random", c.Directions)
	case !slices.Contains([]string{"best", "initial", "mean"}, c.centre()):
		return fieldErr("landscape.centre", "%q, want best, initial or mean", c.Centre)
	case c.Points != 0 && c.Points < 3:
		return fieldErr("landscape.points", "%d, want at least 3", c.Points)
	case c.Margin < 0 || math.IsNaN(c.Margin) || math.IsInf(c.Margin, 0):
		return fieldErr("landscape.margin", "%v must be finite and not negative", c.Margin)
	case c.Rows < 0:
		return fieldErr("landscape.rows", "%d must not be negative", c.Rows)
	case c.LineSteps < 0:
		return fieldErr("landscape.line_steps", "%d must not be negative", c.LineSteps)
	case c.Batch < 0:
		return fieldErr("landscape.batch", "%d must not be negative", c.Batch)
	case c.Validation && s.Validation == nil:
		return fieldErr("landscape.validation", "the study has no validation data")
	}
	if e := c.Extent; e != nil {
		for _, v := range []float64{e.AMin, e.AMax, e.BMin, e.BMax} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fieldErr("landscape.extent", "%v is not finite", v)
			}
		}
		if !(e.AMin < e.AMax) || !(e.BMin < e.BMax) {
			return fieldErr("landscape.extent", "a from %v to %v, b from %v to %v: want min < max", e.AMin, e.AMax, e.BMin, e.BMax)
		}
	}
	return nil
}

// trajectory returns the callback that records a run's snapshots, or nil
// when the run's seed is not pictured.
func (s *Study) trajectory(r Run) *callbacks.Trajectory {
	c := s.Landscape
	if c == nil || !slices.Contains(c.seeds(s.Grid.Seeds), r.Seed) {
		return nil
	}
	return &callbacks.Trajectory{Every: c.every(), Max: c.snapshots()}
}

// Landscape is the loss surface around the paths of one seed's runs.
// Coordinates (a, b) are those of Plane: the weights Plane.Centre +
// a·Plane.X + b·Plane.Y.
type Landscape struct {
	// Name and Data name the study and its dataset; Seed is the seed.
	Name, Data string
	Seed       uint64
	// Loss is the loss's name; Rows and ValRows are the number of training
	// and validation rows every loss is computed on (ValRows is 0 without
	// LandscapeConfig.Validation); TrainRows is the study's training rows.
	Loss                     string
	Rows, ValRows, TrainRows int
	// Plane is the plane of the picture.
	Plane *Plane
	// Centre is how the centre was chosen: "best", "initial" or "mean";
	// CentreRun is the index in Paths of the run whose final weights it
	// is ("best"), -1 otherwise.
	Centre    string
	CentreRun int
	// Surface is the loss on the grid.
	Surface Surface
	// Paths are the seed's runs, in index order.
	Paths []Path
	// Evaluations is the number of points at which the training loss was
	// computed, each over Rows rows (with validation, all but the
	// projections also over ValRows rows); Seconds is the time they, the
	// plane and the projections took.
	Evaluations int
	Seconds     float64
}

// Surface is the loss on a grid of the plane.
type Surface struct {
	// A and B are the grid's coordinates along the plane's X and Y, in
	// increasing order.
	A, B []float64
	// Loss[j*len(A)+i] is the training loss at (A[i], B[j]); ValLoss the
	// validation loss, nil unless computed.
	Loss, ValLoss []float64
}

// At returns the training loss at grid point (A[i], B[j]).
func (s *Surface) At(i, j int) float64 { return s.Loss[j*len(s.A)+i] }

// Path is one run's path through the plane.
type Path struct {
	Run Run
	// Err is the error that ended the run, if any.
	Err string
	// Points are the run's snapshots, in step order.
	Points []PathPoint
	// Line is the loss along the straight line from the path's first
	// snapshot (α = 0, the initial weights) to its last (α = 1, the final
	// weights), at α = (k - LineSteps/4)/LineSteps.
	Line []LinePoint
}

// PathPoint is one snapshot of a path.
type PathPoint struct {
	Step     int
	Epoch    int
	Examples int64
	// A and B are the snapshot's coordinates in the plane (its orthogonal
	// projection onto it).
	A, B float64
	// OffPlane is the snapshot's distance from the plane, the length of
	// what the projection leaves out (Dist the snapshot's distance from
	// the centre, for scale).
	OffPlane, Dist float64
	// Loss and ValLoss are the losses at the snapshot's own weights;
	// ValLoss is NaN unless computed. PlaneLoss is the training loss at
	// its projection, Centre + A·X + B·Y, which is what the surface shows
	// under it: the two differ as much as the snapshot lies off the plane.
	Loss, ValLoss, PlaneLoss float64
}

// LinePoint is one point of a straight line between two weight vectors.
type LinePoint struct {
	Alpha         float64
	Loss, ValLoss float64
}

// Landscapes computes the landscape of each pictured seed (see
// LandscapeConfig) from the runs in res, which Run must have trained with
// s.Landscape set, and all of whose runs must be there (not one shard).
// The losses are computed on opt.Workers goroutines, each with its own
// model, through public APIs (graph.SetParamVector on the model's
// Params, Sequential.Evaluate); the results are bit for bit the same whatever the
// number of workers. opt.Progress, if set, gets a line per landscape;
// opt.Shard is ignored. For a tuned study, res is what its Run returned:
// the final stage's runs, with the tuning stage's in Results.Tuning.
func (s *Study) Landscapes(ctx context.Context, res *Results, opt Options) ([]*Landscape, error) {
	c := s.Landscape
	if c == nil {
		return nil, errorf(ErrConfig, "landscapes: Study.Landscape is not set")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if res == nil {
		return nil, fmt.Errorf("study: landscapes: no results: %w", errNoRuns)
	}
	if s.Tune != nil && res.Tuning != nil {
		// A tuned study's runs are those of its final stage.
		final, err := s.FinalStage(res.Tuning)
		if err != nil {
			return nil, err
		}
		s = final
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var out []*Landscape
	for _, seed := range c.seeds(s.Grid.Seeds) {
		var runs []RunResult
		for _, r := range res.Runs {
			if r.Seed == seed {
				runs = append(runs, r)
			}
		}
		if want := len(s.Configs()); len(runs) != want {
			return out, errorf(ErrConfig, "landscape of seed %d: %d of its %d runs are in the results; a landscape needs them all (the whole study, not a shard)", seed, len(runs), want)
		}
		for _, r := range runs {
			if len(r.Trajectory) == 0 {
				return out, errorf(ErrConfig, "landscape of seed %d: run %s has no trajectory (set Study.Landscape before Run)", seed, r.ID())
			}
		}
		l, err := s.landscape(ctx, seed, runs, workers)
		if err != nil {
			return out, err
		}
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "landscape of seed %d: %s; %d loss evaluations on %d rows in %.1fs\n",
				seed, l.planeLabel(), l.Evaluations, l.Rows, l.Seconds)
		}
		out = append(out, l)
	}
	return out, nil
}

// landscape computes one seed's landscape.
func (s *Study) landscape(ctx context.Context, seed uint64, runs []RunResult, workers int) (*Landscape, error) {
	begin := time.Now()
	c := s.Landscape
	ev, err := s.newEvaluator(seed, workers)
	if err != nil {
		return nil, err
	}
	defer ev.close()
	l := &Landscape{Name: s.Name, Data: s.Data, Seed: seed, Loss: s.Loss, Rows: ev.train.Len(), TrainRows: s.Train.Len(), Centre: c.centre(), CentreRun: -1}
	if ev.val != nil {
		l.ValRows = ev.val.Len()
	}
	nparams := len(ev.bufs[0])
	var snaps [][]float64
	for _, r := range runs {
		p := Path{Run: r.Run, Err: r.Err}
		for _, sn := range r.Trajectory {
			if len(sn.Params) != nparams {
				return nil, errorf(ErrConfig, "landscape of seed %d: run %s: a snapshot has %d values, the model %d parameters", seed, r.ID(), len(sn.Params), nparams)
			}
			p.Points = append(p.Points, PathPoint{Step: sn.Step, Epoch: sn.Epoch, Examples: sn.Examples, ValLoss: math.NaN()})
			snaps = append(snaps, sn.Params)
		}
		l.Paths = append(l.Paths, p)
	}
	fail := func(err error) (*Landscape, error) {
		return nil, fmt.Errorf("study: landscape of seed %d: %w", seed, err)
	}

	// The loss at every snapshot; the best final weights need them.
	tr, va, err := ev.eval(ctx, len(snaps), len(snaps), func(k int, _ []float64) []float64 { return snaps[k] })
	if err != nil {
		return fail(err)
	}
	k := 0
	for i := range l.Paths {
		for j := range l.Paths[i].Points {
			l.Paths[i].Points[j].Loss = tr[k]
			if va != nil {
				l.Paths[i].Points[j].ValLoss = va[k]
			}
			k++
		}
	}
	l.Evaluations += len(snaps)

	var centre []float64
	switch l.Centre {
	case "best":
		best := math.Inf(1)
		for i, p := range l.Paths {
			if v := p.Points[len(p.Points)-1].Loss; v < best {
				best, l.CentreRun = v, i
			}
		}
		if l.CentreRun < 0 {
			return nil, errorf(ErrConfig, "landscape of seed %d: no run ended with a finite training loss, so there are no best final weights (use centre initial or mean)", seed)
		}
		t := runs[l.CentreRun].Trajectory
		centre = t[len(t)-1].Params
	case "initial":
		centre = runs[0].Trajectory[0].Params
	case "mean":
		centre = make([]float64, nparams)
		for _, sn := range snaps {
			for i, v := range sn {
				centre[i] += v
			}
		}
		for i := range centre {
			centre[i] /= float64(len(snaps))
		}
	}

	switch c.directions() {
	case "pca":
		l.Plane, err = PCAPlane(centre, snaps)
	case "random":
		l.Plane, err = FilterNormalPlane(centre, ev.shapes, rand.New(rand.NewPCG(seed, landscapeStream)))
		if err == nil {
			l.Plane.Capture(snaps)
		}
	}
	if err != nil {
		return fail(err)
	}
	k = 0
	var pts []*PathPoint
	for i := range l.Paths {
		for j := range l.Paths[i].Points {
			pt := &l.Paths[i].Points[j]
			pt.A, pt.B = l.Plane.Project(snaps[k])
			pt.OffPlane, pt.Dist = l.Plane.distances(snaps[k], pt.A, pt.B)
			pts = append(pts, pt)
			k++
		}
	}

	// The grid and the lines, in one pass.
	box := c.Extent
	if box == nil {
		b := l.fitBox(c.margin(), c.directions() == "random")
		box = &b
	}
	n := c.points()
	l.Surface.A, l.Surface.B = gridAxis(box.AMin, box.AMax, n), gridAxis(box.BMin, box.BMax, n)
	steps := c.lineSteps()
	alphas := make([]float64, steps+steps/4*2+1)
	for i := range alphas {
		alphas[i] = float64(i-steps/4) / float64(steps)
	}
	cells := n * n
	lines := cells + len(runs)*len(alphas)
	total := lines + len(pts)
	// The validation loss is not needed at the projections.
	tr, va, err = ev.eval(ctx, total, lines, func(k int, buf []float64) []float64 {
		if k < cells {
			return l.Plane.Point(l.Surface.A[k%n], l.Surface.B[k/n], buf)
		}
		if k >= lines {
			pt := pts[k-lines]
			return l.Plane.Point(pt.A, pt.B, buf)
		}
		k -= cells
		t := runs[k/len(alphas)].Trajectory
		w0, w1, a := t[0].Params, t[len(t)-1].Params, alphas[k%len(alphas)]
		for i := range buf {
			buf[i] = (1-a)*w0[i] + a*w1[i]
		}
		return buf
	})
	if err != nil {
		return fail(err)
	}
	l.Evaluations += total
	l.Surface.Loss = tr[:cells]
	if va != nil {
		l.Surface.ValLoss = va[:cells]
	}
	for i := range l.Paths {
		for j, a := range alphas {
			k := cells + i*len(alphas) + j
			lp := LinePoint{Alpha: a, Loss: tr[k], ValLoss: math.NaN()}
			if va != nil {
				lp.ValLoss = va[k]
			}
			l.Paths[i].Line = append(l.Paths[i].Line, lp)
		}
	}
	for k, pt := range pts {
		pt.PlaneLoss = tr[lines+k]
	}
	l.Seconds = time.Since(begin).Seconds()
	return l, nil
}

// fitBox returns the box holding the centre and every projected snapshot,
// widened by margin on each side (and, for random directions, holding
// [-1, 1]², the range Li et al. draw). An axis along which everything is
// at 0 gets the other axis's half-width, or 1.
func (l *Landscape) fitBox(margin float64, random bool) Rect {
	r := Rect{}
	for _, p := range l.Paths {
		for _, pt := range p.Points {
			if !math.IsNaN(pt.A) && !math.IsNaN(pt.B) {
				r.AMin, r.AMax = min(r.AMin, pt.A), max(r.AMax, pt.A)
				r.BMin, r.BMax = min(r.BMin, pt.B), max(r.BMax, pt.B)
			}
		}
	}
	wa, wb := r.AMax-r.AMin, r.BMax-r.BMin
	r.AMin, r.AMax = r.AMin-margin*wa, r.AMax+margin*wa
	r.BMin, r.BMax = r.BMin-margin*wb, r.BMax+margin*wb
	if random {
		r.AMin, r.AMax, r.BMin, r.BMax = min(r.AMin, -1), max(r.AMax, 1), min(r.BMin, -1), max(r.BMax, 1)
	}
	half := func(w float64) float64 { return cmpOr(w/2, 1) }
	if r.AMin == r.AMax {
		h := half(r.BMax - r.BMin)
		r.AMin, r.AMax = -h, h
	}
	if r.BMin == r.BMax {
		h := half(r.AMax - r.AMin)
		r.BMin, r.BMax = -h, h
	}
	return r
}

// gridAxis returns n increasing coordinates covering [lo, hi]. When the
// interval holds 0, 0 is one of them exactly: the spacing is
// h = (hi-lo)/(n-2) and the coordinates are (i-m)·h, m = ⌈-lo/h⌉, which
// cover lo to at least hi. Otherwise they are evenly spaced from lo to
// hi.
func gridAxis(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	if lo > 0 || hi < 0 {
		for i := range out {
			out[i] = lo + (hi-lo)*float64(i)/float64(n-1)
		}
		return out
	}
	h := (hi - lo) / float64(n-2)
	m := min(max(int(math.Ceil(-lo/h)), 0), n-1)
	for i := range out {
		out[i] = float64(i-m) * h
	}
	return out
}

// planeLabel describes the plane in a few words.
func (l *Landscape) planeLabel() string {
	p := l.Plane
	if p.Method == "pca" {
		return fmt.Sprintf("PCA plane, %.1f%% + %.1f%% of the variance", 100*p.Explained[0], 100*p.Explained[1])
	}
	return fmt.Sprintf("filter-normalised random plane, holding %.1f%% of the paths' squared distance", 100*p.Captured)
}

// centreLabel describes the centre.
func (l *Landscape) centreLabel() string {
	switch l.Centre {
	case "best":
		return "end of " + l.Paths[l.CentreRun].Run.Config.String()
	case "initial":
		return "the initial weights"
	}
	return "the mean of the snapshots"
}
