package study

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// ReportOptions configures Results.Report: the plots, and the summary's
// comparisons.
type ReportOptions struct {
	PlotOptions
	Summary SummaryOptions
}

// Report writes the summary (summary.md, summary.csv, summary.json), for a
// batch sweep its analysis (sweep.md, see BatchSweep), and the plots (see
// Plot) into dir, created if needed, and returns the paths written. An
// unknown baseline or comparison metric is an error before anything is
// written.
func (r *Results) Report(dir string, opt ReportOptions) ([]string, error) {
	s, err := r.SummaryWith(opt.Summary)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("study: %w", err)
	}
	files := []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"summary.md", func(b *bytes.Buffer) error { return s.WriteMarkdown(b) }},
		{"summary.csv", func(b *bytes.Buffer) error { return s.WriteCSV(b) }},
		{"summary.json", func(b *bytes.Buffer) error { return s.WriteJSON(b) }},
	}
	if r.Meta.Kind == KindBatchSweep && len(r.Runs) > 0 {
		sw, err := r.Sweep()
		if err != nil {
			return nil, err
		}
		files = append(files, struct {
			name  string
			write func(*bytes.Buffer) error
		}{"sweep.md", func(b *bytes.Buffer) error { return sw.WriteMarkdown(b) }})
	}
	var paths []string
	for _, f := range files {
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
	plots, err := r.Plot(dir, opt.PlotOptions)
	return append(paths, plots...), err
}
