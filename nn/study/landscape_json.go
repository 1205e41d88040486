package study

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
)

type landscapeJSON struct {
	Name        string            `json:"name"`
	Data        string            `json:"data"`
	Seed        uint64            `json:"seed"`
	Loss        string            `json:"loss"`
	Rows        int               `json:"rows"`
	ValRows     int               `json:"val_rows"`
	TrainRows   int               `json:"train_rows"`
	Plane       planeJSON         `json:"plane"`
	Centre      string            `json:"centre"`
	CentreRun   *int              `json:"centre_run,omitempty"`
	Surface     surfaceJSON       `json:"surface"`
	Paths       []landscapePathJS `json:"paths"`
	Evaluations int               `json:"evaluations"`
	Seconds     float64           `json:"seconds"`
}

type planeJSON struct {
	Method     string   `json:"method"`
	Parameters int      `json:"parameters"`
	Explained  [2]Float `json:"explained"`
	Captured   Float    `json:"captured"`
}

type surfaceJSON struct {
	A       []Float `json:"a"`
	B       []Float `json:"b"`
	Loss    []Float `json:"loss"`
	ValLoss []Float `json:"val_loss,omitempty"`
}

type landscapePathJS struct {
	Index  int             `json:"index"`
	Config string          `json:"config"`
	Seed   uint64          `json:"seed"`
	Error  string          `json:"error,omitempty"`
	Points []pathPointJSON `json:"points"`
	Line   []linePointJSON `json:"line"`
}

type pathPointJSON struct {
	Step      int   `json:"step"`
	Epoch     int   `json:"epoch"`
	Examples  int64 `json:"examples"`
	A         Float `json:"a"`
	B         Float `json:"b"`
	OffPlane  Float `json:"off_plane"`
	Dist      Float `json:"dist"`
	Loss      Float `json:"loss"`
	ValLoss   Float `json:"val_loss"`
	PlaneLoss Float `json:"plane_loss"`
}

type linePointJSON struct {
	Alpha   Float `json:"alpha"`
	Loss    Float `json:"loss"`
	ValLoss Float `json:"val_loss"`
}

func floatSlice(v []float64) []Float {
	if v == nil {
		return nil
	}
	out := make([]Float, len(v))
	for i, x := range v {
		out[i] = Float(x)
	}
	return out
}

// WriteJSON writes the landscape as indented JSON: the study, seed, loss
// and rows; the plane's method, parameter count and shares (not its
// vectors); the centre (and the index in paths of the run it ends); the
// grid's coordinates a and b and its losses, row by row
// (loss[j*len(a)+i] at a[i], b[j]); and each path's run, snapshots (step,
// epoch, examples, a, b, off_plane, dist, loss, val_loss, plane_loss) and
// line (alpha, loss, val_loss).
// NaN and infinities are written as strings (see Float).
func (l *Landscape) WriteJSON(w io.Writer) error {
	j := landscapeJSON{Name: l.Name, Data: l.Data, Seed: l.Seed, Loss: l.Loss, Rows: l.Rows, ValRows: l.ValRows, TrainRows: l.TrainRows,
		Centre: l.Centre, Evaluations: l.Evaluations, Seconds: l.Seconds, Paths: []landscapePathJS{},
		Surface: surfaceJSON{A: floatSlice(l.Surface.A), B: floatSlice(l.Surface.B), Loss: floatSlice(l.Surface.Loss), ValLoss: floatSlice(l.Surface.ValLoss)}}
	if l.Plane != nil {
		j.Plane = planeJSON{Method: l.Plane.Method, Parameters: len(l.Plane.Centre),
			Explained: [2]Float{Float(l.Plane.Explained[0]), Float(l.Plane.Explained[1])}, Captured: Float(l.Plane.Captured)}
	}
	if l.CentreRun >= 0 {
		j.CentreRun = &l.CentreRun
	}
	for _, p := range l.Paths {
		pj := landscapePathJS{Index: p.Run.Index, Config: p.Run.Config.String(), Seed: p.Run.Seed, Error: p.Err}
		for _, pt := range p.Points {
			pj.Points = append(pj.Points, pathPointJSON{Step: pt.Step, Epoch: pt.Epoch, Examples: pt.Examples,
				A: Float(pt.A), B: Float(pt.B), OffPlane: Float(pt.OffPlane), Dist: Float(pt.Dist),
				Loss: Float(pt.Loss), ValLoss: Float(pt.ValLoss), PlaneLoss: Float(pt.PlaneLoss)})
		}
		for _, lp := range p.Line {
			pj.Line = append(pj.Line, linePointJSON{Alpha: Float(lp.Alpha), Loss: Float(lp.Loss), ValLoss: Float(lp.ValLoss)})
		}
		j.Paths = append(j.Paths, pj)
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("study: landscape json: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("study: %w", err)
	}
	return nil
}

// landscapeFiles lists the files of every seed that Landscape.Report may
// have written into dir, for ClearDir.
func landscapeFiles(dir string) ([]string, error) {
	pats := []string{"landscape_seed*.json"}
	for _, f := range []string{FigLandscapeSurface, FigLandscapeValSurface, FigLandscapeLine, FigLandscapePath} {
		for _, ext := range []string{"png", "svg", "pdf", "eps"} {
			pats = append(pats, f+"_seed*."+ext)
		}
	}
	var out []string
	for _, pat := range pats {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, fmt.Errorf("study: %w", err)
		}
		out = append(out, m...)
	}
	return out, nil
}
