package study

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// Report writes the summary (summary.md, summary.csv, summary.json) and
// the plots (see Plot) into dir, created if needed, and returns the paths
// written.
func (r *Results) Report(dir string, opt PlotOptions) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("study: %w", err)
	}
	s := r.Summary()
	var paths []string
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"summary.md", func(b *bytes.Buffer) error { return s.WriteMarkdown(b) }},
		{"summary.csv", func(b *bytes.Buffer) error { return s.WriteCSV(b) }},
		{"summary.json", func(b *bytes.Buffer) error { return s.WriteJSON(b) }},
	} {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return paths, err
		}
		path := filepath.Join(dir, f.name)
		if err := writeFileAtomic(path, b.Bytes()); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	if len(r.Runs) == 0 {
		return paths, nil
	}
	plots, err := r.Plot(dir, opt)
	return append(paths, plots...), err
}
