package study

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/descentlab/descent/nn"
)

// Stat summarises one quantity over the seeds of a configuration. Std is
// the sample standard deviation (0 for one value). A non-finite value (a
// diverged run) makes Mean and Std NaN.
type Stat struct {
	N                   int
	Mean, Std, Min, Max float64
	Values              []float64
}

func newStat(vals []float64) Stat {
	s := Stat{N: len(vals), Values: vals}
	if len(vals) == 0 {
		s.Mean, s.Std, s.Min, s.Max = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		return s
	}
	s.Min, s.Max = math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		s.Mean += v
		s.Min, s.Max = math.Min(s.Min, v), math.Max(s.Max, v)
	}
	s.Mean /= float64(len(vals))
	if len(vals) > 1 {
		var ss float64
		for _, v := range vals {
			ss += (v - s.Mean) * (v - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(len(vals)-1))
	}
	return s
}

// Reach summarises how soon the runs of a configuration reached the
// target: Reached of Of runs did, and Stat is over those.
type Reach struct {
	Reached, Of int
	Stat
}

// Row is one configuration of the summary.
type Row struct {
	Config Config
	// Seeds are the seeds of the runs found; Diverged counts those whose
	// final loss is not finite and Failed those that ended with an error.
	Seeds            []uint64
	Diverged, Failed int
	// Final values (last epoch) and the best validation accuracy over
	// epochs.
	FinalLoss, FinalValLoss, FinalAccuracy, FinalValAccuracy, BestValAccuracy Stat
	// Epochs, examples, gradient evaluations and training seconds until the
	// target was first reached (epoch 0, the untrained model, counts).
	Epochs, Examples, GradEvals, Seconds Reach
	// ExamplesPerSecond is the training throughput: examples over training
	// time, validation included.
	ExamplesPerSecond Stat
}

// Summary is the table of a study: one row per configuration, in the
// study's order, over the runs present.
type Summary struct {
	Name, Data         string
	TrainRows, ValRows int
	Target             Target
	// Runs is the number of runs summarised, of TotalRuns in the study.
	Runs, TotalRuns int
	Rows            []Row
}

// Summary summarises the results per configuration.
func (r *Results) Summary() *Summary {
	m := r.Meta
	s := &Summary{Name: m.Name, Data: m.Data, TrainRows: m.TrainRows, ValRows: m.ValRows, Target: m.Target,
		Runs: len(r.Runs), TotalRuns: m.TotalRuns}
	byConfig := make([][]RunResult, len(m.Configs))
	for _, run := range r.Runs {
		byConfig[run.ConfigIndex] = append(byConfig[run.ConfigIndex], run)
	}
	up := strings.Contains(m.Target.Metric, "acc")
	for ci, runs := range byConfig {
		if len(runs) == 0 {
			continue
		}
		row := Row{Config: m.Configs[ci]}
		var fl, fvl, fa, fva, bva, eps []float64
		var te, tx, tg, ts []float64
		for _, run := range runs {
			row.Seeds = append(row.Seeds, run.Seed)
			if run.Err != "" {
				row.Failed++
			}
			h := run.History
			if len(h.Epochs) == 0 {
				continue
			}
			last := h.Last()
			if math.IsNaN(last.Loss) || math.IsInf(last.Loss, 0) {
				row.Diverged++
			}
			fl = append(fl, last.Loss)
			appendIf(&fvl, last.Metrics, "val_loss")
			appendIf(&fa, last.Metrics, "accuracy")
			appendIf(&fva, last.Metrics, "val_accuracy")
			if va := h.Metric("val_accuracy"); va != nil {
				best := math.Inf(-1)
				for _, v := range va {
					best = math.Max(best, v)
				}
				bva = append(bva, best)
			}
			if secs := last.Elapsed.Seconds(); secs > 0 {
				eps = append(eps, float64(last.Examples)/secs)
			}
			if m.Target.Value != 0 {
				if e, ok := reached(run, m.Target, up); ok {
					te = append(te, float64(e.Epoch))
					tx = append(tx, float64(e.Examples))
					tg = append(tg, float64(e.GradEvals))
					ts = append(ts, e.Elapsed.Seconds())
				}
			}
		}
		row.FinalLoss, row.FinalValLoss = newStat(fl), newStat(fvl)
		row.FinalAccuracy, row.FinalValAccuracy, row.BestValAccuracy = newStat(fa), newStat(fva), newStat(bva)
		row.ExamplesPerSecond = newStat(eps)
		n := len(runs)
		row.Epochs = Reach{len(te), n, newStat(te)}
		row.Examples = Reach{len(tx), n, newStat(tx)}
		row.GradEvals = Reach{len(tg), n, newStat(tg)}
		row.Seconds = Reach{len(ts), n, newStat(ts)}
		s.Rows = append(s.Rows, row)
	}
	return s
}

func appendIf(dst *[]float64, m map[string]float64, k string) {
	if v, ok := m[k]; ok {
		*dst = append(*dst, v)
	}
}

// reached returns the first epoch record (epoch 0 being the untrained
// model) at which the target is met.
func reached(run RunResult, t Target, up bool) (nn.EpochRecord, bool) {
	value := func(loss float64, m map[string]float64) (float64, bool) {
		if t.Metric == "loss" {
			return loss, true
		}
		v, ok := m[t.Metric]
		return v, ok
	}
	meets := func(v float64) bool {
		if up {
			return v >= t.Value
		}
		return v <= t.Value
	}
	if run.Initial != nil {
		if v, ok := value(run.Initial["loss"], run.Initial); ok && meets(v) {
			return nn.EpochRecord{}, true
		}
	}
	for _, e := range run.History.Epochs {
		if v, ok := value(e.Loss, e.Metrics); ok && meets(v) {
			return e, true
		}
	}
	return nn.EpochRecord{}, false
}

// Formatting of the Markdown table.

func fmtStat(s Stat, f func(float64) string) string {
	switch {
	case s.N == 0:
		return "–"
	case s.N == 1:
		return f(s.Mean)
	}
	return f(s.Mean) + " ± " + f(s.Std)
}

func fmtReach(r Reach, f func(float64) string) string {
	switch {
	case r.Of == 0:
		return "–"
	case r.Reached == 0:
		return "not reached"
	case r.Reached < r.Of:
		return fmtStat(r.Stat, f) + fmt.Sprintf(" (%d/%d)", r.Reached, r.Of)
	}
	return fmtStat(r.Stat, f)
}

func g4(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func g3(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }

func count(v float64) string {
	if math.Abs(v) >= 1e7 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func epochs(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func (s *Summary) targetText() string {
	if s.Target.Value == 0 {
		return ""
	}
	op := "≤"
	if strings.Contains(s.Target.Metric, "acc") {
		op = "≥"
	}
	return fmt.Sprintf("%s %s %s", s.Target.Metric, op, strconv.FormatFloat(s.Target.Value, 'g', -1, 64))
}

// WriteMarkdown writes the table in Markdown: a heading, a note on what the
// numbers are, and one row per configuration. Values are mean ± sample
// standard deviation over seeds, to 4 significant digits (3 for spreads
// and seconds); "–" marks a quantity that was not recorded.
func (s *Summary) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	title := s.Name
	if s.Data != "" && s.Data != s.Name {
		title += ": " + s.Data
	}
	fmt.Fprintf(&b, "## %s, %d training and %d validation rows\n\n", title, s.TrainRows, s.ValRows)
	fmt.Fprintf(&b, "Mean ± std over seeds of %d runs", s.Runs)
	if s.Runs != s.TotalRuns {
		fmt.Fprintf(&b, " (of %d in the study)", s.TotalRuns)
	}
	b.WriteString(". Final values are those of the last epoch")
	if t := s.targetText(); t != "" {
		fmt.Fprintf(&b, "; \"to target\" is the first epoch where %s", t)
	}
	b.WriteString(".\n\n")
	head := []string{"configuration", "seeds", "train loss", "val loss", "train acc", "val acc", "best val acc"}
	if s.Target.Value != 0 {
		head = append(head, "epochs to target", "examples to target", "grad evals to target", "seconds to target")
	}
	head = append(head, "examples/s")
	b.WriteString("| " + strings.Join(head, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(head)) + "\n")
	pm := func(st Stat, f func(float64) string) string {
		if st.N > 1 {
			return f(st.Mean) + " ± " + g3(st.Std)
		}
		return fmtStat(st, f)
	}
	for _, r := range s.Rows {
		seeds := strconv.Itoa(len(r.Seeds))
		var notes []string
		if r.Diverged > 0 {
			notes = append(notes, fmt.Sprintf("%d diverged", r.Diverged))
		}
		if r.Failed > 0 {
			notes = append(notes, fmt.Sprintf("%d failed", r.Failed))
		}
		if len(notes) > 0 {
			seeds += " (" + strings.Join(notes, ", ") + ")"
		}
		cells := []string{r.Config.String(), seeds, pm(r.FinalLoss, g4), pm(r.FinalValLoss, g4), pm(r.FinalAccuracy, g4),
			pm(r.FinalValAccuracy, g4), pm(r.BestValAccuracy, g4)}
		if s.Target.Value != 0 {
			cells = append(cells, fmtReach(r.Epochs, epochs), fmtReach(r.Examples, count), fmtReach(r.GradEvals, count), fmtReach(r.Seconds, g3))
		}
		cells = append(cells, fmtStat(r.ExamplesPerSecond, count))
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCSV writes the table as CSV, one row per configuration, with the
// mean, std, min and max of every quantity (and, for the "to target"
// quantities, how many runs reached it). Timing columns are
// seconds_to_target_* and examples_per_second_*.
func (s *Summary) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	stats := []string{"final_loss", "final_val_loss", "final_accuracy", "final_val_accuracy", "best_val_accuracy"}
	reaches := []string{"epochs_to_target", "examples_to_target", "grad_evals_to_target", "seconds_to_target"}
	head := []string{"configuration", "variant", "optimizer", "hyper", "lr", "seeds", "diverged", "failed"}
	for _, n := range stats {
		head = append(head, n+"_mean", n+"_std", n+"_min", n+"_max")
	}
	for _, n := range reaches {
		head = append(head, n+"_reached", n+"_mean", n+"_std", n+"_min", n+"_max")
	}
	head = append(head, "examples_per_second_mean", "examples_per_second_std", "examples_per_second_min", "examples_per_second_max")
	cw.Write(head)
	f := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	four := func(st Stat) []string { return []string{f(st.Mean), f(st.Std), f(st.Min), f(st.Max)} }
	for _, r := range s.Rows {
		hyper := ""
		if len(r.Config.Hyper) > 0 {
			b, _ := json.Marshal(r.Config.Hyper)
			hyper = string(b)
		}
		rec := []string{r.Config.String(), VariantName(r.Config.Variant), r.Config.Optimizer, hyper, f(r.Config.LR),
			strconv.Itoa(len(r.Seeds)), strconv.Itoa(r.Diverged), strconv.Itoa(r.Failed)}
		for _, st := range []Stat{r.FinalLoss, r.FinalValLoss, r.FinalAccuracy, r.FinalValAccuracy, r.BestValAccuracy} {
			rec = append(rec, four(st)...)
		}
		for _, re := range []Reach{r.Epochs, r.Examples, r.GradEvals, r.Seconds} {
			rec = append(rec, strconv.Itoa(re.Reached))
			rec = append(rec, four(re.Stat)...)
		}
		rec = append(rec, four(r.ExamplesPerSecond)...)
		cw.Write(rec)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("study: %w", err)
	}
	return nil
}

type statJSON struct {
	N      int     `json:"n"`
	Mean   Float   `json:"mean"`
	Std    Float   `json:"std"`
	Min    Float   `json:"min"`
	Max    Float   `json:"max"`
	Values []Float `json:"values"`
}

func (s Stat) toJSON() statJSON {
	j := statJSON{N: s.N, Mean: Float(s.Mean), Std: Float(s.Std), Min: Float(s.Min), Max: Float(s.Max), Values: []Float{}}
	for _, v := range s.Values {
		j.Values = append(j.Values, Float(v))
	}
	return j
}

type reachJSON struct {
	Reached int `json:"reached"`
	Of      int `json:"of"`
	statJSON
}

type rowJSON struct {
	Config            configJSON `json:"config"`
	Seeds             []uint64   `json:"seeds"`
	Diverged          int        `json:"diverged"`
	Failed            int        `json:"failed"`
	FinalLoss         statJSON   `json:"final_loss"`
	FinalValLoss      statJSON   `json:"final_val_loss"`
	FinalAccuracy     statJSON   `json:"final_accuracy"`
	FinalValAccuracy  statJSON   `json:"final_val_accuracy"`
	BestValAccuracy   statJSON   `json:"best_val_accuracy"`
	EpochsToTarget    reachJSON  `json:"epochs_to_target"`
	ExamplesToTarget  reachJSON  `json:"examples_to_target"`
	GradEvalsToTarget reachJSON  `json:"grad_evals_to_target"`
	SecondsToTarget   reachJSON  `json:"seconds_to_target"`
	ExamplesPerSecond statJSON   `json:"examples_per_second"`
}

type summaryJSON struct {
	Name      string     `json:"name"`
	Data      string     `json:"data"`
	TrainRows int        `json:"train_rows"`
	ValRows   int        `json:"val_rows"`
	Target    TargetSpec `json:"target"`
	Runs      int        `json:"runs"`
	TotalRuns int        `json:"total_runs"`
	Rows      []rowJSON  `json:"rows"`
}

// WriteJSON writes the summary as indented JSON with every value per seed,
// enough to redraw the table (NaN and ±Inf as strings, see Float).
func (s *Summary) WriteJSON(w io.Writer) error {
	j := summaryJSON{Name: s.Name, Data: s.Data, TrainRows: s.TrainRows, ValRows: s.ValRows, Target: TargetSpec(s.Target),
		Runs: s.Runs, TotalRuns: s.TotalRuns, Rows: []rowJSON{}}
	rj := func(r Reach) reachJSON { return reachJSON{r.Reached, r.Of, r.Stat.toJSON()} }
	for _, r := range s.Rows {
		j.Rows = append(j.Rows, rowJSON{Config: r.Config.toJSON(), Seeds: r.Seeds, Diverged: r.Diverged, Failed: r.Failed,
			FinalLoss: r.FinalLoss.toJSON(), FinalValLoss: r.FinalValLoss.toJSON(), FinalAccuracy: r.FinalAccuracy.toJSON(),
			FinalValAccuracy: r.FinalValAccuracy.toJSON(), BestValAccuracy: r.BestValAccuracy.toJSON(),
			EpochsToTarget: rj(r.Epochs), ExamplesToTarget: rj(r.Examples), GradEvalsToTarget: rj(r.GradEvals), SecondsToTarget: rj(r.Seconds),
			ExamplesPerSecond: r.ExamplesPerSecond.toJSON()})
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("study: summary: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
