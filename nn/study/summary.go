package study

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Stat summarises one quantity over the seeds of a configuration. Std is
// the sample standard deviation (0 for one value) and CI the half-width of
// the Confidence (95%) interval of the mean, Student's t with N−1 degrees
// of freedom (NaN for one value). A non-finite value (a diverged run)
// makes Mean, Std and CI NaN.
type Stat struct {
	N                       int
	Mean, Std, CI, Min, Max float64
	Values                  []float64
}

func newStat(vals []float64) Stat {
	s := Stat{N: len(vals), Values: vals, CI: math.NaN()}
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
		s.CI = tHalfWidth(s.N, s.Std)
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
	// TestLoss and TestAccuracy are the trained models' on the test set.
	TestLoss, TestAccuracy Stat
	// Epochs, examples, gradient evaluations and training seconds until the
	// target was first reached (epoch 0, the untrained model, counts; to
	// the step when the study stops at its target).
	Epochs, Examples, GradEvals, Seconds Reach
	// ExamplesPerSecond is the training throughput: examples over training
	// time, validation included.
	ExamplesPerSecond Stat
	// NoiseScale holds each run's B_simple at its last epoch, when
	// estimated; NoisePooled is the ratio of the seeds' mean estimates of
	// tr(Σ) and |G|² there, steadier than the mean of the ratios.
	NoiseScale  Stat
	NoisePooled float64
	// Tuning is how the configuration's rate was chosen, in a final stage.
	Tuning *Choice
}

// Summary is the table of a study: one row per configuration, in the
// study's order, over the runs present.
type Summary struct {
	Name, Data                   string
	TrainRows, ValRows, TestRows int
	Target                       Target
	// Runs is the number of runs summarised, of TotalRuns in the study.
	Runs, TotalRuns int
	Rows            []Row
	// Tuning is the final stage's tuning record (nil if untuned).
	Tuning *TuningRecord
	// EvalsPerDoubling is the study's (see Study.EvalsPerDoubling).
	EvalsPerDoubling int
	// Comparisons compare every row with the Baseline row on Metric.
	Baseline, Metric string
	Comparisons      []Comparison
}

// Comparison is a paired comparison of a configuration with the baseline
// (see PairedTest): the differences are the configuration's values less
// the baseline's, seed by seed.
type Comparison struct {
	Config Config
	Paired
	// Better is +1 when the configuration is significantly better than the
	// baseline (paired t, two-sided p < 0.05; lower is better for losses,
	// higher for accuracies), −1 when significantly worse, 0 otherwise.
	Better int
}

// SummaryOptions configures Results.SummaryWith.
type SummaryOptions struct {
	// Baseline names the configuration the others are compared with, as
	// Config.Name ("minibatch(32) sgd") or Config.String spells it. If
	// empty, the first configuration.
	Baseline string
	// Metric is the final quantity compared: "loss", "val_loss",
	// "accuracy", "val_accuracy", "test_loss", "test_accuracy" (or any
	// recorded metric, "test_" ones from the test set). If empty,
	// test_accuracy, else val_accuracy, else test_loss, else val_loss,
	// else loss, the first one recorded.
	Metric string
}

// Summary summarises the results per configuration, comparing each with
// the first configuration on the default metric (see SummaryOptions).
func (r *Results) Summary() *Summary {
	s, err := r.SummaryWith(SummaryOptions{})
	if err != nil {
		// The defaults always exist; keep the table without comparisons.
		s.Comparisons = nil
	}
	return s
}

// SummaryWith summarises the results per configuration and compares each
// configuration with opt.Baseline. An unknown baseline or metric is a
// *ConfigError for the field "baseline" or "compare_metric", returned with
// the summary (without comparisons).
func (r *Results) SummaryWith(opt SummaryOptions) (*Summary, error) {
	m := r.Meta
	s := &Summary{Name: m.Name, Data: m.Data, TrainRows: m.TrainRows, ValRows: m.ValRows, TestRows: m.TestRows, Target: m.Target,
		Runs: len(r.Runs), TotalRuns: m.TotalRuns}
	if m.Stage == StageFinal {
		s.Tuning = m.Tuning
	}
	s.EvalsPerDoubling = m.EvalsPerDoubling
	byConfig := r.byConfig()
	up := strings.Contains(m.Target.Metric, "acc")
	for ci, runs := range byConfig {
		if len(runs) == 0 {
			continue
		}
		row := Row{Config: m.Configs[ci]}
		if s.Tuning != nil && ci < len(s.Tuning.Choices) {
			row.Tuning = &s.Tuning.Choices[ci]
		}
		var fl, fvl, fa, fva, bva, eps, tl, ta, ns []float64
		var gsSum, trSum float64
		var te, tx, tg, ts []float64
		for _, run := range runs {
			row.Seeds = append(row.Seeds, run.Seed)
			if run.Err != "" {
				row.Failed++
			}
			if run.Test != nil {
				appendIf(&tl, run.Test, "loss")
				appendIf(&ta, run.Test, "accuracy")
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
			if last.Noise.Probes > 0 {
				ns = append(ns, last.Noise.Simple)
				gsSum += last.Noise.GradSq
				trSum += last.Noise.TraceCov
			}
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
				if c, ok := reached(run, m.Target, up); ok {
					te = append(te, float64(c.Epoch))
					tx = append(tx, float64(c.Examples))
					tg = append(tg, float64(c.GradEvals))
					ts = append(ts, c.Seconds)
				}
			}
		}
		row.FinalLoss, row.FinalValLoss = newStat(fl), newStat(fvl)
		row.FinalAccuracy, row.FinalValAccuracy, row.BestValAccuracy = newStat(fa), newStat(fva), newStat(bva)
		row.TestLoss, row.TestAccuracy = newStat(tl), newStat(ta)
		row.ExamplesPerSecond, row.NoiseScale = newStat(eps), newStat(ns)
		row.NoisePooled = math.NaN()
		if len(ns) > 0 {
			row.NoisePooled = trSum / gsSum
		}
		n := len(runs)
		row.Epochs = Reach{len(te), n, newStat(te)}
		row.Examples = Reach{len(tx), n, newStat(tx)}
		row.GradEvals = Reach{len(tg), n, newStat(tg)}
		row.Seconds = Reach{len(ts), n, newStat(ts)}
		s.Rows = append(s.Rows, row)
	}
	return s, s.compare(r, opt)
}

// byConfig groups the runs by configuration index.
func (r *Results) byConfig() [][]RunResult {
	out := make([][]RunResult, len(r.Meta.Configs))
	for _, run := range r.Runs {
		if run.ConfigIndex >= 0 && run.ConfigIndex < len(out) {
			out[run.ConfigIndex] = append(out[run.ConfigIndex], run)
		}
	}
	return out
}

// compare fills the comparisons with the baseline.
func (s *Summary) compare(r *Results, opt SummaryOptions) error {
	if len(s.Rows) == 0 {
		return nil
	}
	base := 0
	if opt.Baseline != "" {
		base = -1
		var names []string
		for i, row := range s.Rows {
			names = append(names, row.Config.Name())
			if strings.EqualFold(opt.Baseline, row.Config.Name()) || strings.EqualFold(opt.Baseline, row.Config.String()) {
				base = i
			}
		}
		if base < 0 {
			return fieldErr("baseline", "%q is not a configuration (valid: %s)", opt.Baseline, strings.Join(names, "; "))
		}
	}
	values := func(row Row, metric string) map[uint64]float64 {
		out := map[uint64]float64{}
		for _, run := range r.Runs {
			if run.Config.String() != row.Config.String() || run.Err != "" {
				continue
			}
			if v, ok := runQuantity(run, metric); ok {
				out[run.Seed] = v
			}
		}
		return out
	}
	metric := opt.Metric
	if metric == "" {
		for _, m := range []string{"test_accuracy", "val_accuracy", "test_loss", "val_loss", "loss"} {
			if len(values(s.Rows[base], m)) > 0 {
				metric = m
				break
			}
		}
	}
	baseVals := values(s.Rows[base], metric)
	if len(baseVals) == 0 {
		var have []string
		for _, m := range []string{"loss", "val_loss", "accuracy", "val_accuracy", "test_loss", "test_accuracy"} {
			if len(values(s.Rows[base], m)) > 0 {
				have = append(have, m)
			}
		}
		return fieldErr("compare_metric", "%q is not recorded (valid: %s)", metric, strings.Join(have, ", "))
	}
	s.Baseline, s.Metric = s.Rows[base].Config.String(), metric
	up := strings.Contains(metric, "acc")
	for i, row := range s.Rows {
		if i == base {
			continue
		}
		vals := values(row, metric)
		var a, b []float64
		for _, seed := range row.Seeds {
			va, ok1 := vals[seed]
			vb, ok2 := baseVals[seed]
			if ok1 && ok2 {
				a, b = append(a, va), append(b, vb)
			}
		}
		c := Comparison{Config: row.Config, Paired: PairedTest(a, b)}
		if c.PT < 0.05 {
			c.Better = 1
			if (c.MeanDiff < 0) == up {
				c.Better = -1
			}
		}
		s.Comparisons = append(s.Comparisons, c)
	}
	return nil
}

// runQuantity returns a run's final value of a quantity: "test_" ones
// from the test set, the others from the last epoch.
func runQuantity(run RunResult, name string) (float64, bool) {
	if t, ok := strings.CutPrefix(name, "test_"); ok {
		v, ok := run.Test[t]
		return v, ok
	}
	if len(run.History.Epochs) == 0 {
		return 0, false
	}
	last := run.History.Last()
	if name == "loss" {
		return last.Loss, true
	}
	v, ok := last.Metrics[name]
	return v, ok
}

func appendIf(dst *[]float64, m map[string]float64, k string) {
	if v, ok := m[k]; ok {
		*dst = append(*dst, v)
	}
}

// reached returns when the run first reached the target: its Crossing
// when measured to the step, else the first epoch record (epoch 0 being
// the untrained model) at which the target is met.
func reached(run RunResult, t Target, up bool) (Crossing, bool) {
	if t.Stop {
		if run.Reached != nil {
			return *run.Reached, true
		}
	}
	if strings.HasPrefix(t.Metric, "val_") && len(run.Evals) > 0 && run.Evals[0].Metrics[t.Metric] != 0 {
		// Evaluations within epochs place the crossing between epoch ends.
		if run.Initial != nil {
			if v, ok := run.Initial[t.Metric]; ok && (up && v >= t.Value || !up && v <= t.Value) {
				return Crossing{Value: v}, true
			}
		}
		for _, e := range run.Evals {
			if v, ok := e.Metrics[t.Metric]; ok && (up && v >= t.Value || !up && v <= t.Value) {
				return Crossing{Epoch: e.Epoch, GradEvals: e.GradEvals, Examples: e.Examples, Seconds: e.Seconds, Value: v}, true
			}
		}
		return Crossing{}, false
	}
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
			return Crossing{Value: v}, true
		}
	}
	for _, e := range run.History.Epochs {
		if v, ok := value(e.Loss, e.Metrics); ok && meets(v) {
			return Crossing{Epoch: e.Epoch, GradEvals: e.GradEvals, Examples: e.Examples, Seconds: e.Elapsed.Seconds(), Value: v}, true
		}
	}
	return Crossing{}, false
}

// Formatting of the Markdown table.

func fmtStat(s Stat, f func(float64) string) string {
	switch {
	case s.N == 0:
		return "–"
	case s.N == 1 || math.IsNaN(s.CI):
		return f(s.Mean)
	}
	return f(s.Mean) + " ± " + g3(s.CI)
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

func pvalue(p float64) string {
	switch {
	case math.IsNaN(p):
		return "–"
	case p < 1e-4:
		return "< 0.0001"
	}
	return strconv.FormatFloat(p, 'g', 2, 64)
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

// has reports whether any row has the quantity.
func (s *Summary) has(f func(Row) Stat) bool {
	for _, r := range s.Rows {
		if f(r).N > 0 {
			return true
		}
	}
	return false
}

// WriteMarkdown writes the table in Markdown: a heading, a note on what the
// numbers are, and one row per configuration; then, for a final stage, the
// learning rates tried and chosen; then the paired comparisons with the
// baseline. Values are the mean over seeds ± the half-width of its 95%
// confidence interval (Student t), to 4 significant digits (3 for
// intervals and seconds); "–" marks a quantity that was not recorded. Test
// columns appear when there is test data, B_simple when the noise scale
// was estimated.
func (s *Summary) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	title := s.Name
	if s.Data != "" && s.Data != s.Name {
		title += ": " + s.Data
	}
	fmt.Fprintf(&b, "## %s, %d training, %d validation and %d test rows\n\n", title, s.TrainRows, s.ValRows, s.TestRows)
	fmt.Fprintf(&b, "Mean ± half-width of the 95%% confidence interval (Student t) over the seeds of %d runs", s.Runs)
	if s.Runs != s.TotalRuns {
		fmt.Fprintf(&b, " (of %d in the study)", s.TotalRuns)
	}
	b.WriteString(". Final values are those of the last epoch")
	test := s.has(func(r Row) Stat { return r.TestLoss })
	if test {
		b.WriteString("; test values those of the trained models on the test set, which neither training nor tuning used")
	}
	if t := s.targetText(); t != "" {
		switch {
		case s.Target.Stop:
			fmt.Fprintf(&b, "; \"to target\" is the first evaluation where %s (runs stop there; evaluated every 9%% more steps)", t)
		case s.EvalsPerDoubling > 0 && strings.HasPrefix(s.Target.Metric, "val_"):
			fmt.Fprintf(&b, "; \"to target\" is the first evaluation where %s (evaluated %d times per doubling of the steps, and at epoch ends)", t, s.EvalsPerDoubling)
		default:
			fmt.Fprintf(&b, "; \"to target\" is the first epoch where %s", t)
		}
	}
	b.WriteString(".\n\n")
	noise := s.has(func(r Row) Stat { return r.NoiseScale })
	head := []string{"configuration", "lr", "seeds", "train loss", "val loss", "val acc"}
	if test {
		head = append(head, "test loss", "test acc")
	}
	if s.Target.Value != 0 {
		head = append(head, "epochs to target", "examples to target", "grad evals to target", "seconds to target")
	}
	head = append(head, "examples/s")
	if noise {
		head = append(head, "B_simple (last epoch, pooled)")
	}
	b.WriteString("| " + strings.Join(head, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(head)) + "\n")
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
		lr := strconv.FormatFloat(r.Config.LR, 'g', -1, 64)
		if c := r.Tuning; c != nil {
			lr += " (tuned"
			if c.AtEdge() {
				lr += ", edge"
			}
			lr += ")"
		}
		cells := []string{r.Config.Name(), lr, seeds, fmtStat(r.FinalLoss, g4), fmtStat(r.FinalValLoss, g4), fmtStat(r.FinalValAccuracy, g4)}
		if test {
			cells = append(cells, fmtStat(r.TestLoss, g4), fmtStat(r.TestAccuracy, g4))
		}
		if s.Target.Value != 0 {
			cells = append(cells, fmtReach(r.Epochs, epochs), fmtReach(r.Examples, count), fmtReach(r.GradEvals, count), fmtReach(r.Seconds, g3))
		}
		cells = append(cells, fmtStat(r.ExamplesPerSecond, count))
		if noise {
			cells = append(cells, fmtStat(Stat{N: 1, Mean: r.NoisePooled}, g3))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	if t := s.Tuning; t != nil && len(t.Choices) > 0 {
		s.writeTuning(&b)
	}
	if len(s.Comparisons) > 0 {
		s.writeComparisons(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (s *Summary) writeTuning(b *strings.Builder) {
	t := s.Tuning
	what := t.Metric + " on the validation data at the last epoch"
	if t.Metric == TuneStepsToTarget {
		what = "steps to " + s.targetText() + " (∞: not reached)"
	}
	seeds := make([]string, len(t.Seeds))
	for i, x := range t.Seeds {
		seeds[i] = strconv.FormatUint(x, 10)
	}
	fmt.Fprintf(b, "\n### Learning rates\n\nEach configuration's rate was tuned on %s, mean over tuning seed(s) %s with a budget of %s; the chosen rate in bold. \"edge\" marks a choice at an end of the grid, beyond which a better rate may lie.\n\n",
		what, strings.Join(seeds, ", "), t.Budget.String())
	b.WriteString("| configuration | rate: score |\n|---|---|\n")
	for _, c := range t.Choices {
		var parts []string
		for i, lr := range c.LRs {
			v := rankValue(c.Scores[i], false)
			p := strconv.FormatFloat(lr, 'g', -1, 64) + ": " + g4(v)
			if i == c.Best {
				p = "**" + p + "**"
			}
			parts = append(parts, p)
		}
		name := c.Config.Name()
		if c.AtEdge() {
			name += " (edge)"
		}
		b.WriteString("| " + name + " | " + strings.Join(parts, ", ") + " |\n")
	}
}

func (s *Summary) writeComparisons(b *strings.Builder) {
	wil := false
	for _, c := range s.Comparisons {
		if !math.IsNaN(c.PW) {
			wil = true
		}
	}
	fmt.Fprintf(b, "\n### Paired comparisons with %s on %s\n\n", s.Baseline, s.Metric)
	b.WriteString("Seed by seed, since every run of a seed starts from the same weights: the difference is the configuration's value less the baseline's, its mean with a 95% confidence interval; two-sided p-values of the paired t test")
	if wil {
		b.WriteString(" and of the Wilcoxon signed-rank test")
	}
	b.WriteString("; \"better\" or \"worse\" when the paired t test's p < 0.05, \"no significant difference\" otherwise.\n\n")
	head := "| configuration | pairs | difference [95% CI] | p (paired t) |"
	if wil {
		head += " p (Wilcoxon) |"
	}
	b.WriteString(head + " verdict |\n|---|---|---|---|" + map[bool]string{true: "---|", false: ""}[wil] + "---|\n")
	for _, c := range s.Comparisons {
		diff := "–"
		if !math.IsNaN(c.MeanDiff) {
			diff = fmt.Sprintf("%+.4g", c.MeanDiff)
			if !math.IsNaN(c.CILo) {
				diff += fmt.Sprintf(" [%.3g, %.3g]", c.CILo, c.CIHi)
			}
		}
		verdict := "no significant difference"
		switch c.Better {
		case 1:
			verdict = "better"
		case -1:
			verdict = "worse"
		}
		if math.IsNaN(c.PT) {
			verdict = "too few pairs"
		}
		cells := []string{c.Config.String(), strconv.Itoa(c.N), diff, pvalue(c.PT)}
		if wil {
			cells = append(cells, pvalue(c.PW))
		}
		cells = append(cells, verdict)
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
}

// WriteCSV writes the table as CSV, one row per configuration, with the
// mean, std, 95% confidence half-width (ci95), min and max of every
// quantity (and, for the "to target" quantities, how many runs reached
// it), and tuned (true in a final stage). Timing columns are
// seconds_to_target_* and examples_per_second_*.
func (s *Summary) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	stats := []string{"final_loss", "final_val_loss", "final_accuracy", "final_val_accuracy", "best_val_accuracy", "test_loss", "test_accuracy", "noise_scale"}
	reaches := []string{"epochs_to_target", "examples_to_target", "grad_evals_to_target", "seconds_to_target"}
	head := []string{"configuration", "variant", "optimizer", "hyper", "lr", "tuned", "seeds", "diverged", "failed"}
	five := func(n string) []string { return []string{n + "_mean", n + "_std", n + "_ci95", n + "_min", n + "_max"} }
	for _, n := range stats {
		head = append(head, five(n)...)
	}
	for _, n := range reaches {
		head = append(head, n+"_reached")
		head = append(head, five(n)...)
	}
	head = append(head, five("examples_per_second")...)
	cw.Write(head)
	f := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	four := func(st Stat) []string { return []string{f(st.Mean), f(st.Std), f(st.CI), f(st.Min), f(st.Max)} }
	for _, r := range s.Rows {
		hyper := ""
		if len(r.Config.Hyper) > 0 {
			b, _ := json.Marshal(r.Config.Hyper)
			hyper = string(b)
		}
		rec := []string{r.Config.String(), VariantName(r.Config.Variant), r.Config.Optimizer, hyper, f(r.Config.LR),
			strconv.FormatBool(r.Tuning != nil), strconv.Itoa(len(r.Seeds)), strconv.Itoa(r.Diverged), strconv.Itoa(r.Failed)}
		for _, st := range []Stat{r.FinalLoss, r.FinalValLoss, r.FinalAccuracy, r.FinalValAccuracy, r.BestValAccuracy, r.TestLoss, r.TestAccuracy, r.NoiseScale} {
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
	CI95   Float   `json:"ci95"`
	Min    Float   `json:"min"`
	Max    Float   `json:"max"`
	Values []Float `json:"values"`
}

func (s Stat) toJSON() statJSON {
	j := statJSON{N: s.N, Mean: Float(s.Mean), Std: Float(s.Std), CI95: Float(s.CI), Min: Float(s.Min), Max: Float(s.Max), Values: []Float{}}
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
	Config            configJSON  `json:"config"`
	Seeds             []uint64    `json:"seeds"`
	Diverged          int         `json:"diverged"`
	Failed            int         `json:"failed"`
	FinalLoss         statJSON    `json:"final_loss"`
	FinalValLoss      statJSON    `json:"final_val_loss"`
	FinalAccuracy     statJSON    `json:"final_accuracy"`
	FinalValAccuracy  statJSON    `json:"final_val_accuracy"`
	BestValAccuracy   statJSON    `json:"best_val_accuracy"`
	EpochsToTarget    reachJSON   `json:"epochs_to_target"`
	ExamplesToTarget  reachJSON   `json:"examples_to_target"`
	GradEvalsToTarget reachJSON   `json:"grad_evals_to_target"`
	SecondsToTarget   reachJSON   `json:"seconds_to_target"`
	ExamplesPerSecond statJSON    `json:"examples_per_second"`
	TestLoss          statJSON    `json:"test_loss"`
	TestAccuracy      statJSON    `json:"test_accuracy"`
	NoiseScale        statJSON    `json:"noise_scale"`
	NoisePooled       Float       `json:"noise_scale_pooled"`
	Tuning            *choiceJSON `json:"tuning,omitempty"`
}

type comparisonJSON struct {
	Config   configJSON `json:"config"`
	N        int        `json:"pairs"`
	MeanDiff Float      `json:"mean_diff"`
	CILo     Float      `json:"ci95_lo"`
	CIHi     Float      `json:"ci95_hi"`
	T        Float      `json:"t"`
	PT       Float      `json:"p_t"`
	W        Float      `json:"wilcoxon_w"`
	PW       Float      `json:"p_wilcoxon"`
	Better   int        `json:"better"`
}

type summaryJSON struct {
	Name        string           `json:"name"`
	Data        string           `json:"data"`
	TrainRows   int              `json:"train_rows"`
	ValRows     int              `json:"val_rows"`
	Target      TargetSpec       `json:"target"`
	Runs        int              `json:"runs"`
	TotalRuns   int              `json:"total_runs"`
	TestRows    int              `json:"test_rows"`
	Rows        []rowJSON        `json:"rows"`
	TuneMetric  string           `json:"tune_metric,omitempty"`
	Baseline    string           `json:"baseline,omitempty"`
	Metric      string           `json:"compare_metric,omitempty"`
	Comparisons []comparisonJSON `json:"comparisons,omitempty"`
}

// WriteJSON writes the summary as indented JSON with every value per seed,
// enough to redraw the table (NaN and ±Inf as strings, see Float).
func (s *Summary) WriteJSON(w io.Writer) error {
	j := summaryJSON{Name: s.Name, Data: s.Data, TrainRows: s.TrainRows, ValRows: s.ValRows, Target: TargetSpec(s.Target),
		Runs: s.Runs, TotalRuns: s.TotalRuns, TestRows: s.TestRows, Rows: []rowJSON{}, Baseline: s.Baseline, Metric: s.Metric}
	if s.Tuning != nil {
		j.TuneMetric = s.Tuning.Metric
	}
	for _, c := range s.Comparisons {
		j.Comparisons = append(j.Comparisons, comparisonJSON{Config: c.Config.toJSON(), N: c.N, MeanDiff: Float(c.MeanDiff), CILo: Float(c.CILo),
			CIHi: Float(c.CIHi), T: Float(c.T), PT: Float(c.PT), W: Float(c.W), PW: Float(c.PW), Better: c.Better})
	}
	rj := func(r Reach) reachJSON { return reachJSON{r.Reached, r.Of, r.Stat.toJSON()} }
	for _, r := range s.Rows {
		j.Rows = append(j.Rows, rowJSON{Config: r.Config.toJSON(), Seeds: r.Seeds, Diverged: r.Diverged, Failed: r.Failed,
			FinalLoss: r.FinalLoss.toJSON(), FinalValLoss: r.FinalValLoss.toJSON(), FinalAccuracy: r.FinalAccuracy.toJSON(),
			FinalValAccuracy: r.FinalValAccuracy.toJSON(), BestValAccuracy: r.BestValAccuracy.toJSON(),
			EpochsToTarget: rj(r.Epochs), ExamplesToTarget: rj(r.Examples), GradEvalsToTarget: rj(r.GradEvals), SecondsToTarget: rj(r.Seconds),
			ExamplesPerSecond: r.ExamplesPerSecond.toJSON(), TestLoss: r.TestLoss.toJSON(), TestAccuracy: r.TestAccuracy.toJSON(),
			NoiseScale: r.NoiseScale.toJSON(), NoisePooled: Float(r.NoisePooled)})
		if c := r.Tuning; c != nil {
			j.Rows[len(j.Rows)-1].Tuning = &choiceJSON{Config: c.Config.toJSON(), LRs: c.LRs, Scores: floats2(c.Scores), ValLoss: floats2(c.ValLoss), Best: c.Best}
		}
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("study: summary: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
