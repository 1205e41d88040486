package nn

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress prints Keras-style training progress.
type progress struct {
	w       io.Writer
	verbose int
	tty     bool
	epochs  int
	rows    int
	names   []string // after the loss: metrics, then val_loss and val_ metrics
	last    time.Time
	started time.Time
	buf     strings.Builder
}

func newProgress(w io.Writer, verbose, epochs, rows int, names []string) *progress {
	p := &progress{w: w, verbose: verbose, epochs: epochs, rows: rows, names: names}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) epochBegin(epoch int) {
	p.started = time.Now()
	if p.verbose == 1 {
		fmt.Fprintf(p.w, "Epoch %d/%d\n", epoch, p.epochs)
	}
}

// bar draws a 30-character Keras bar for seen of total rows.
func bar(seen, total int) string {
	const width = 30
	if total <= 0 {
		total = 1
	}
	done := min(width*seen/total, width)
	if done >= width {
		return "[" + strings.Repeat("=", width) + "]"
	}
	s := strings.Repeat("=", done)
	if done > 0 {
		s = s[:len(s)-1] + ">"
	}
	return "[" + s + strings.Repeat(".", width-done) + "]"
}

// step redraws the bar in place, on a terminal only, at most every 100 ms.
func (p *progress) step(rows int64, lossSum float64, metricSums []float64) {
	if p.verbose != 1 || !p.tty || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.buf.Reset()
	fmt.Fprintf(&p.buf, "\r%d/%d %s - loss: %.4f", rows, p.rows, bar(int(rows), p.rows), lossSum/float64(rows))
	for i, sum := range metricSums { // the training metrics, names' prefix
		fmt.Fprintf(&p.buf, " - %s: %.4f", p.names[i], sum/float64(rows))
	}
	io.WriteString(p.w, p.buf.String())
}

func (p *progress) values(rec *EpochRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, " - loss: %.4f", rec.Loss)
	for _, n := range p.names {
		fmt.Fprintf(&b, " - %s: %.4f", n, rec.Metrics[n])
	}
	return b.String()
}

func (p *progress) epochEnd(rec *EpochRecord, took time.Duration) {
	if p.verbose == 0 {
		return
	}
	secs := fmt.Sprintf("%.0fs", took.Seconds())
	switch p.verbose {
	case 1:
		prefix := ""
		if p.tty {
			prefix = "\r\033[K"
		}
		fmt.Fprintf(p.w, "%s%d/%d %s - %s%s\n", prefix, p.rows, p.rows, bar(1, 1), secs, p.values(rec))
	case 2:
		fmt.Fprintf(p.w, "Epoch %d/%d - %s%s\n", rec.Epoch, p.epochs, secs, p.values(rec))
	}
}
