package study

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"gonum.org/v1/gonum/floats/scalar"
)

func TestGridAxis(t *testing.T) {
	tests := []struct {
		lo, hi float64
		n      int
		zero   bool
	}{
		{-11.3, 1.7, 41, true},
		{-1, 1, 3, true},
		{0, 5, 9, true},
		{-5, 0, 9, true},
		{-0.001, 100, 21, true},
		{2, 3, 5, false},
		{-3, -2, 5, false},
	}
	for _, tc := range tests {
		g := gridAxis(tc.lo, tc.hi, tc.n)
		if len(g) != tc.n {
			t.Errorf("[%v, %v]: %d points, want %d", tc.lo, tc.hi, len(g), tc.n)
			continue
		}
		if g[0] > tc.lo || g[len(g)-1] < tc.hi-1e-12*math.Abs(tc.hi) {
			t.Errorf("[%v, %v]: the grid %v..%v does not cover it", tc.lo, tc.hi, g[0], g[len(g)-1])
		}
		if !slices.IsSorted(g) {
			t.Errorf("[%v, %v]: not increasing: %v", tc.lo, tc.hi, g)
		}
		if got := slices.Contains(g, 0); got != tc.zero {
			t.Errorf("[%v, %v]: holds 0 exactly: %v, want %v", tc.lo, tc.hi, got, tc.zero)
		}
	}
}

// landscapeStudy is a fast study with landscapes: two moons, 40 training
// rows, an 8-unit MLP, full batch and minibatch(8) SGD, seeds 1 and 2,
// 6 epochs, a 9 x 9 grid and 9-point lines.
func landscapeStudy(t *testing.T, lc LandscapeConfig) *Study {
	t.Helper()
	f := &File{
		Name:  "moons-landscape",
		Model: ModelSpec{Builtin: "mlp", Hidden: []int{8}, Activation: "tanh"},
		Data:  DataSpec{Name: "moons", N: 54, Seed: 3},
		Grid: GridSpec{
			Variants:   []string{"full", "minibatch(8)"},
			Optimizers: []OptimizerSpec{{Name: "sgd"}},
			LRs:        []float64{0.5},
			Seeds:      []uint64{1, 2},
		},
		Budget: BudgetSpec{Epochs: 6},
	}
	if lc.Points == 0 {
		lc.Points = 9
	}
	if lc.LineSteps == 0 {
		lc.LineSteps = 4
	}
	f.Landscape = &lc
	s, err := f.Study()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runLandscapes(t *testing.T, s *Study, workers int) (*Results, []*Landscape) {
	t.Helper()
	res, err := s.Run(context.Background(), Options{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := s.Landscapes(context.Background(), res, Options{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	return res, ls
}

// lossAt evaluates the study's loss at weights w with a fresh model.
func lossAt(t *testing.T, s *Study, w []float64, batch int) float64 {
	t.Helper()
	m, err := s.Model()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Compile(nn.CompileConfig{Loss: s.Loss, Optimizer: "sgd", DType: s.Train.DType()}); err != nil {
		t.Fatal(err)
	}
	m.PredictBatchSize = batch
	if err := graph.SetParamVector(m.Params(), w); err != nil {
		t.Fatal(err)
	}
	ev, err := m.Evaluate(s.Train)
	if err != nil {
		t.Fatal(err)
	}
	return ev["loss"]
}

// TestLandscapeCentre: for each centre, the grid point (0, 0) holds the
// loss at the centre, the same bits as a fresh model gives there; the
// lines' ends hold the losses of the paths' ends; the run that ends at the
// centre projects there.
func TestLandscapeCentre(t *testing.T) {
	for _, centre := range []string{"best", "initial", "mean"} {
		t.Run(centre, func(t *testing.T) {
			s := landscapeStudy(t, LandscapeConfig{Centre: centre})
			res, ls := runLandscapes(t, s, 2)
			if len(ls) != 1 || ls[0].Seed != 1 {
				t.Fatalf("%d landscapes, want one of seed 1", len(ls))
			}
			l := ls[0]
			i0, j0 := slices.Index(l.Surface.A, 0), slices.Index(l.Surface.B, 0)
			if i0 < 0 || j0 < 0 {
				t.Fatalf("the grid %v x %v has no point at the centre", l.Surface.A, l.Surface.B)
			}
			// The same computation on the same weights: exactly equal.
			want := lossAt(t, s, l.Plane.Centre, DefaultLandscapeBatch)
			if got := l.Surface.At(i0, j0); got != want {
				t.Errorf("surface at (0, 0) = %v, loss at the centre %v", got, want)
			}
			for _, p := range l.Paths {
				for _, pt := range p.Points {
					// Pythagoras: the projection and the rest are orthogonal
					// (PCA directions are orthonormal; random ones are
					// projected onto by least squares). Rounding: 1e-9 of
					// the squared distance.
					if l.Plane.Method == "pca" {
						if d2 := pt.A*pt.A + pt.B*pt.B + pt.OffPlane*pt.OffPlane; !scalar.EqualWithinAbsOrRel(d2, pt.Dist*pt.Dist, 1e-9, 1e-9) {
							t.Errorf("%s step %d: a² + b² + off² = %v, dist² = %v", p.Run.Config, pt.Step, d2, pt.Dist*pt.Dist)
						}
					}
				}
				first, last := p.Points[0], p.Points[len(p.Points)-1]
				k0 := slices.IndexFunc(p.Line, func(lp LinePoint) bool { return lp.Alpha == 0 })
				k1 := slices.IndexFunc(p.Line, func(lp LinePoint) bool { return lp.Alpha == 1 })
				if k0 < 0 || k1 < 0 {
					t.Fatalf("%s: the line has no α = 0 or 1: %v", p.Run.Config, p.Line)
				}
				if p.Line[k0].Loss != first.Loss || p.Line[k1].Loss != last.Loss {
					t.Errorf("%s: line at 0 and 1: %v, %v; path ends %v, %v", p.Run.Config, p.Line[k0].Loss, p.Line[k1].Loss, first.Loss, last.Loss)
				}
			}
			first := res.Runs[0] // configuration 0, seed 1 (the seed varies fastest)
			switch centre {
			case "best":
				c := l.Paths[l.CentreRun]
				// It is the centre: its coordinates and distance from the
				// plane are sums of products of the directions with zeros.
				if last := c.Points[len(c.Points)-1]; last.A != 0 || last.B != 0 || last.OffPlane != 0 || last.PlaneLoss != last.Loss {
					t.Errorf("the best run's end projects to (%v, %v) at %v from the plane, loss %v there, %v at the snapshot; want (0, 0), 0 and equal losses",
						last.A, last.B, last.OffPlane, last.PlaneLoss, last.Loss)
				}
				for _, p := range l.Paths {
					if p.Points[len(p.Points)-1].Loss < c.Points[len(c.Points)-1].Loss {
						t.Errorf("%s ends lower than the centre run %s", p.Run.Config, c.Run.Config)
					}
				}
			case "initial":
				if !slices.Equal(l.Plane.Centre, first.Trajectory[0].Params) {
					t.Error("the centre is not the initial weights")
				}
			}
		})
	}
}

func landscapeBits(l *Landscape) []uint64 {
	var out []uint64
	add := func(vs ...float64) {
		for _, v := range vs {
			out = append(out, math.Float64bits(v))
		}
	}
	add(l.Surface.A...)
	add(l.Surface.B...)
	add(l.Surface.Loss...)
	add(l.Surface.ValLoss...)
	add(l.Plane.Explained[0], l.Plane.Explained[1], l.Plane.Captured)
	for _, p := range l.Paths {
		for _, pt := range p.Points {
			add(pt.A, pt.B, pt.Loss, pt.ValLoss)
		}
		for _, lp := range p.Line {
			add(lp.Alpha, lp.Loss, lp.ValLoss)
		}
	}
	return out
}

// TestLandscapeDeterministic: the same seed gives bit-identical surfaces,
// paths and lines, whatever the number of workers, for both kinds of
// directions and with the validation loss.
func TestLandscapeDeterministic(t *testing.T) {
	for _, dir := range []string{"pca", "random"} {
		t.Run(dir, func(t *testing.T) {
			cfg := LandscapeConfig{Directions: dir, Validation: true, Seeds: []uint64{2}}
			_, l1 := runLandscapes(t, landscapeStudy(t, cfg), 1)
			_, l3 := runLandscapes(t, landscapeStudy(t, cfg), 3)
			a, b := landscapeBits(l1[0]), landscapeBits(l3[0])
			if !slices.Equal(a, b) {
				t.Errorf("1 and 3 workers give different landscapes (%d and %d numbers)", len(a), len(b))
			}
			var j1, j3 bytes.Buffer
			l1[0].Seconds, l3[0].Seconds = 0, 0
			if err := l1[0].WriteJSON(&j1); err != nil {
				t.Fatal(err)
			}
			if err := l3[0].WriteJSON(&j3); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(j1.Bytes(), j3.Bytes()) {
				t.Error("the JSON of 1 and 3 workers differ")
			}
			if c := l1[0].Plane.Captured; !(c > 0 && c <= 1+1e-12) {
				t.Errorf("captured share %v, want in (0, 1]", c)
			}
		})
	}
}

// TestLandscapeBudget: runs of pictured seeds keep at most Snapshots
// snapshots, the others none.
func TestLandscapeBudget(t *testing.T) {
	s := landscapeStudy(t, LandscapeConfig{Snapshots: 4, Seeds: []uint64{2}})
	s.Budget.Epochs = 10 // minibatch(8): 50 steps
	res, err := s.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Runs {
		steps := int(r.History.Last().GradEvals)
		switch {
		case r.Seed == 1 && r.Trajectory != nil:
			t.Errorf("run %s of an unpictured seed kept %d snapshots", r.ID(), len(r.Trajectory))
		case r.Seed == 2 && (len(r.Trajectory) < 2 || len(r.Trajectory) > 4):
			t.Errorf("run %s kept %d snapshots, want 2 to 4", r.ID(), len(r.Trajectory))
		case r.Seed == 2 && (r.Trajectory[0].Step != 0 || r.Trajectory[len(r.Trajectory)-1].Step != steps):
			t.Errorf("run %s: snapshots from step %d to %d, want 0 to %d", r.ID(), r.Trajectory[0].Step, r.Trajectory[len(r.Trajectory)-1].Step, steps)
		}
	}
}

func TestLandscapeConfigErrors(t *testing.T) {
	tests := []struct {
		field string
		cfg   LandscapeConfig
	}{
		{"landscape.seeds[0]", LandscapeConfig{Seeds: []uint64{9}}},
		{"landscape.seeds[1]", LandscapeConfig{Seeds: []uint64{1, 1}}},
		{"landscape.every", LandscapeConfig{Every: -1}},
		{"landscape.snapshots", LandscapeConfig{Snapshots: 1}},
		{"landscape.directions", LandscapeConfig{Directions: "hessian"}},
		{"landscape.centre", LandscapeConfig{Centre: "worst"}},
		{"landscape.points", LandscapeConfig{Points: 2}},
		{"landscape.margin", LandscapeConfig{Margin: math.Inf(1)}},
		{"landscape.rows", LandscapeConfig{Rows: -1}},
		{"landscape.line_steps", LandscapeConfig{LineSteps: -2}},
		{"landscape.batch", LandscapeConfig{Batch: -1}},
		{"landscape.extent", LandscapeConfig{Extent: &Rect{AMin: 1, AMax: -1, BMin: 0, BMax: 1}}},
	}
	for _, tc := range tests {
		s := landscapeStudy(t, LandscapeConfig{})
		s.Landscape = &tc.cfg
		err := s.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(fmtErr(err), tc.field+":") {
			t.Errorf("%s: error %v, want one naming %s", tc.field, err, tc.field)
		}
	}
	s := landscapeStudy(t, LandscapeConfig{})
	s.Validation = nil
	s.Landscape = &LandscapeConfig{Validation: true}
	if err := s.Validate(); !errors.Is(err, ErrConfig) || !strings.Contains(fmtErr(err), "landscape.validation") {
		t.Errorf("validation without data: error %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestLandscapesNeedTrajectories: a landscape needs every run of the
// seed, each with its trajectory.
func TestLandscapesNeedTrajectories(t *testing.T) {
	s := landscapeStudy(t, LandscapeConfig{})
	ctx := context.Background()
	// Shard 0/3 holds runs 0 and 3: seed 1 of the first configuration and
	// seed 2 of the second.
	shard, err := s.Run(ctx, Options{Shard: Shard{Index: 0, Count: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Landscapes(ctx, shard, Options{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "not a shard") {
		t.Errorf("a shard: error %v, want one about the missing runs", err)
	}
	lc := s.Landscape
	s.Landscape = nil
	res, err := s.Run(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Landscapes(ctx, res, Options{}); !errors.Is(err, ErrConfig) {
		t.Errorf("no Landscape: error %v, want ErrConfig", err)
	}
	s.Landscape = lc
	if _, err := s.Landscapes(ctx, res, Options{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "no trajectory") {
		t.Errorf("runs without trajectories: error %v", err)
	}
}

// TestLandscapeStudyFile reads the landscape object of a study file.
func TestLandscapeStudyFile(t *testing.T) {
	src := `{"name": "x", "model": {"builtin": "xor-2-10-1"}, "data": {"name": "xor"},
	  "grid": {"variants": ["full"], "optimizers": [{"name": "sgd"}], "lrs": [0.1], "seeds": [4, 5]},
	  "budget": {"epochs": 2},
	  "landscape": {"seeds": [5], "points": 11, "directions": "random", "extent": {"a_min": -2, "a_max": 2, "b_min": -1, "b_max": 1}}}`
	f, err := Parse(strings.NewReader(src), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.Study()
	if err != nil {
		t.Fatal(err)
	}
	_, ls := runLandscapes(t, s, 2)
	l := ls[0]
	if l.Seed != 5 || len(l.Surface.A) != 11 || l.Plane.Method != "random" {
		t.Fatalf("seed %d, %d points, %s directions; want 5, 11, random", l.Seed, len(l.Surface.A), l.Plane.Method)
	}
	if a := l.Surface.A; a[0] > -2 || a[len(a)-1] < 2 || !slices.Contains(a, 0) {
		t.Errorf("a axis %v does not cover [-2, 2] with 0", a)
	}
	if _, err := Parse(strings.NewReader(strings.Replace(src, `"points"`, `"pionts"`, 1)), "test.json"); !errors.Is(err, ErrConfig) {
		t.Errorf("misspelt field: error %v, want ErrConfig", err)
	}
}
