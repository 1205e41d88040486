package study

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg/draw"
)

// TestLandscapeReport checks the files: JSON that parses and holds the
// grid, PNGs that decode, SVGs whose root is svg.
func TestLandscapeReport(t *testing.T) {
	s := landscapeStudy(t, LandscapeConfig{Validation: true, Rows: 20})
	_, ls := runLandscapes(t, s, 2)
	l := ls[0]
	if l.Rows != 20 || l.ValRows != 14 || l.TrainRows != 40 {
		t.Errorf("rows %d, validation rows %d, training rows %d; want 20, 14 (all), 40", l.Rows, l.ValRows, l.TrainRows)
	}
	dir := t.TempDir()
	paths, err := l.Report(dir, PlotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"landscape_seed1.json"}
	for _, f := range []string{FigLandscapeSurface, FigLandscapeValSurface, FigLandscapeLine, FigLandscapePath} {
		want = append(want, f+"_seed1.png", f+"_seed1.svg")
	}
	var got []string
	for _, p := range paths {
		got = append(got, filepath.Base(p))
	}
	if !slices.Equal(got, want) {
		t.Errorf("wrote %v, want %v", got, want)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(p) {
		case ".json":
			var j landscapeJSON
			if err := json.Unmarshal(b, &j); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if len(j.Surface.Loss) != 81 || len(j.Surface.ValLoss) != 81 || len(j.Paths) != 2 {
				t.Errorf("%s: %d losses, %d validation losses, %d paths; want 81, 81, 2", p, len(j.Surface.Loss), len(j.Surface.ValLoss), len(j.Paths))
			}
		case ".png":
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Errorf("%s: %v", p, err)
			} else if sz := img.Bounds().Size(); sz.X < 500 || sz.Y < 300 {
				t.Errorf("%s is %v pixels, want at least 500x300", p, sz)
			}
		case ".svg":
			dec := xml.NewDecoder(bytes.NewReader(b))
			root := ""
			for root == "" {
				tok, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if se, ok := tok.(xml.StartElement); ok {
					root = se.Name.Local
				}
			}
			if root != "svg" {
				t.Errorf("%s: root element %q, want svg", p, root)
			}
		}
	}
}

// A panic inside the drawing comes back as an error.
func TestSaveFigureRecovers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.png")
	err := saveFigure(path, "png", 100, 100, func(draw.Canvas) error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error %v, want one carrying the panic", err)
	}
}

// A surface with no finite value is an error, not a picture.
func TestPlotNonFiniteSurface(t *testing.T) {
	s := landscapeStudy(t, LandscapeConfig{})
	_, ls := runLandscapes(t, s, 2)
	l := ls[0]
	for i := range l.Surface.Loss {
		l.Surface.Loss[i] = math.NaN()
	}
	if _, err := l.Plot(t.TempDir(), PlotOptions{Formats: []string{"png"}}); err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Errorf("error %v, want one saying the loss is not finite", err)
	}
}

// ClearDir removes the landscape files with the other results, and
// nothing else.
func TestClearDirRemovesLandscapes(t *testing.T) {
	s := landscapeStudy(t, LandscapeConfig{Points: 5})
	dir := t.TempDir()
	res, err := s.Run(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := s.Landscapes(context.Background(), res, Options{})
	if err != nil {
		t.Fatal(err)
	}
	paths, err := ls[0].Report(dir, PlotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(dir, "landscape_notes.txt")
	if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ClearDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s survived ClearDir", filepath.Base(p))
		}
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("ClearDir removed a file that is not a result: %v", err)
	}
}
