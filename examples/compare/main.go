// Command compare is descent's main experiment: it compares gradient-descent
// variants (full batch, stochastic, minibatch) and optimizers on one model
// and dataset over several seeds, each with its learning rate tuned on
// validation data, prints a summary table and writes CSV, JSON and plots.
// See README.md.
//
// With no flags it trains a 784-32-10 MLP on all of MNIST (54,000 training
// images, the last 6,000 training images for validation and tuning, the
// 10,000 test images for the final report) for 2 epochs with full-batch,
// stochastic and minibatch(32) SGD and minibatch(32) Adam: a tuning stage
// tries four rates per configuration with seed 1, then the chosen rate
// trains with seeds 1, 2 and 3 (studies/mnist.json), into ./out/compare.
// -batch-sweep measures the steps to a target against the batch size
// instead (studies/mnist-sweep.json).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn/study"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// optFlags collects repeated -opt flags.
type optFlags []string

func (o *optFlags) String() string     { return strings.Join(*o, " ") }
func (o *optFlags) Set(s string) error { *o = append(*o, s); return nil }

// The default study's optimizers: each variant's rates, four per decade
// and a half around where they are best (the table says when a choice is at
// an end of its grid).
var defaultOpts = []string{
	"sgd:lr=0.1/0.316/1/3.16,on=full",
	"sgd:lr=0.001/0.00316/0.01/0.0316,on=stochastic",
	"sgd:lr=0.0316/0.1/0.316/1,on=minibatch(32)",
	"adam:lr=0.000316/0.001/0.00316/0.01,on=minibatch(32)",
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		dataName   = fs.String("data", "mnist", "dataset: mnist, xor, moons, spirals, circles, blobs, or a CSV file (header, target in the last column or -target-col)")
		trainN     = fs.Int("train", 0, "MNIST: training images, the first of the 60,000 (default all but -val)")
		valN       = fs.Int("val", 0, "MNIST: validation images, the last of the 60,000 training images (default 6000; 2000 with -batch-sweep)")
		testN      = fs.Int("test", 0, "MNIST: test images, the first of the 10,000 (default all)")
		rows       = fs.Int("n", 400, "generated problems and CSV: rows before the 25% validation split")
		targetCol  = fs.String("target-col", "", "CSV: name of the target column (default the last); -class reads it as class labels")
		class      = fs.Bool("class", false, "CSV: the target column holds class labels")
		hidden     = fs.String("hidden", "", "hidden layer widths of the MLP, comma-separated (default 32 for mnist, 16,16 otherwise; xor uses the 2-10-1 network)")
		activation = fs.String("activation", "", "hidden activation (default relu for mnist, tanh otherwise)")
		variants   = fs.String("variants", "full,stochastic,minibatch(32)", "descent variants: full, stochastic, minibatch(n) or mbN, comma-separated (a batch sweep: 1, 2, 4, ... and full)")
		lrs        = fs.String("lrs", "", "learning rates of optimizers without their own, comma-separated (the tuning grid)")
		seeds      = fs.String("seeds", "1,2,3", "seeds, comma-separated")
		epochs     = fs.Int("epochs", 2, "epochs per run")
		maxEx      = fs.Int64("max-examples", 0, "stop each run after this many examples (0: no limit)")
		maxGE      = fs.Int64("max-grad-evals", 0, "stop each run after this many gradient evaluations (0: no limit)")
		maxTime    = fs.Duration("max-time", 0, "stop each run after this much training time (0: no limit)")
		target     = fs.Float64("target", 0.2, "target value of -target-metric for the \"to target\" columns (0: none)")
		targetM    = fs.String("target-metric", "val_loss", "metric of the target: val_loss, loss, val_accuracy, ...")
		tune       = fs.Bool("tune", true, "tune each configuration's learning rate over its rates on the validation data, then train it with every seed")
		tuneMetric = fs.String("tune-metric", "", "what ranks the rates: val_loss, val_accuracy or steps_to_target (default val_loss; steps_to_target for -batch-sweep)")
		tuneSeeds  = fs.String("tune-seeds", "", "seeds of the tuning runs, comma-separated (default the first of -seeds)")
		tuneEpochs = fs.Int("tune-epochs", 0, "epochs of each tuning run (default -epochs, with the same limits)")
		noise      = fs.Bool("noise", true, "estimate the gradient noise scale B_simple during the (final) runs")
		evals      = fs.Int("evals-per-doubling", 2, "also evaluate the validation data within epochs, this many times each time the steps double (0: at epoch ends only)")
		sweep      = fs.Bool("batch-sweep", false, "sweep the batch size of minibatch SGD (1, 2, 4, ..., full) with tuned rates; report steps and examples to the target, the critical batch size and the noise scale")
		stage      = fs.String("stage", "", "of a tuned study, run only this stage: tune (shardable; merge it, then run -tuning)")
		tuningDir  = fs.String("tuning", "", "run a tuned study's final stage (shardable) with the rates chosen from these merged tuning results")
		baseline   = fs.String("baseline", "", "configuration the others are compared with, paired by seed (default the first), e.g. \"minibatch(32) sgd\"")
		cmpMetric  = fs.String("compare-metric", "", "final quantity of the paired comparisons (default test_accuracy, else val_accuracy, ...)")
		band       = fs.String("band", "ci95", "band around the curves: ci95 (95% confidence interval over seeds), minmax or none")
		dtype      = fs.String("dtype", "", "float32 or float64 (default float32 for mnist, float64 otherwise)")
		workers    = fs.Int("workers", 0, "runs trained at once (default GOMAXPROCS)")
		shard      = fs.String("shard", "", "run only shard i/n of the grid (run i goes to shard i mod n)")
		out        = fs.String("out", "out/compare", "output directory (created; refused if it holds other results, see -clear)")
		clear      = fs.Bool("clear", false, "first remove the results -out holds (study.json, runs/, tuning/, summaries, plots; nothing else)")
		studyFile  = fs.String("study", "", "read the study from this JSON file instead of the flags above")
		merge      = fs.Bool("merge", false, "merge the result directories given as arguments into -out, without training")
		dryRun     = fs.Bool("dry-run", false, "check the study, the shard and -out, print the runs, and stop without training or writing")
		quick      = fs.Bool("quick", false, "tiny settings for CI: moons, 120 rows, 3 epochs, 2 seeds")
		quiet      = fs.Bool("q", false, "no per-run progress")
		landscape  = fs.Bool("landscape", false, "also draw the loss landscape around the first seed's runs into -out (a study file's \"landscape\" object sets it too)")
		opts       optFlags
	)
	fs.Var(&opts, "opt", "optimizer, repeatable: name[:key=value,...]; keys lr (rates separated by /), on (variants separated by /) and the optimizer's hyperparameters, e.g. -opt sgd:momentum=0.9 -opt adam:lr=0.001,on=mb32 (default: each variant's own rates, see the README)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: compare [flags]\n       compare -study file.json [-stage tune | -tuning dir] [-shard i/n] [-workers n] [-out dir] [-clear] [-dry-run]\n       compare -merge [-out dir] [-clear] dir...\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	progress := stderr
	if *quiet {
		progress = nil
	}
	ropt := study.ReportOptions{PlotOptions: study.PlotOptions{Band: *band}, Summary: study.SummaryOptions{Baseline: *baseline, Metric: *cmpMetric}}
	if *merge {
		if err := onlyFlags(set, "-merge", "merge", "out", "clear", "q", "baseline", "compare-metric", "band"); err != nil {
			return err
		}
		return mergeDirs(fs.Args(), *out, *clear, ropt, stdout, stderr)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (did you mean -merge?)", fs.Args())
	}

	var s *study.Study
	var err error
	if *studyFile != "" {
		if err := onlyFlags(set, "-study", "study", "workers", "shard", "out", "clear", "dry-run", "q", "stage", "tuning", "baseline", "compare-metric", "band", "landscape"); err != nil {
			return err
		}
		if s, err = study.ReadFile(*studyFile); err != nil {
			return err
		}
	} else {
		v := flagValues{
			data: *dataName, train: *trainN, val: *valN, test: *testN, rows: *rows, targetCol: *targetCol, class: *class,
			hidden: *hidden, activation: *activation, variants: *variants, lrs: *lrs, seeds: *seeds, opts: opts,
			epochs: *epochs, maxEx: *maxEx, maxGE: *maxGE, maxTime: *maxTime, target: *target, targetMetric: *targetM, dtype: *dtype,
			tune: *tune, tuneMetric: *tuneMetric, tuneSeeds: *tuneSeeds, tuneEpochs: *tuneEpochs, noise: *noise, sweep: *sweep,
			evals: *evals,
		}
		defaults(&v, set, *quick)
		f, err := fileFromFlags(v)
		if err != nil {
			return err
		}
		if s, err = f.Study(); err != nil {
			return flagError(err)
		}
	}
	switch {
	case *stage != "" && *stage != "tune":
		return fmt.Errorf("-stage %q, want tune (the final stage runs with -tuning)", *stage)
	case *stage != "" && *tuningDir != "":
		return fmt.Errorf("-stage tune and -tuning: run the tuning stage, merge it, then the final stage")
	case (*stage != "" || *tuningDir != "") && s.Tune == nil:
		return fmt.Errorf("-stage and -tuning apply to a tuned study, and this one is not (-tune=false, or no \"tune\" in the study file)")
	case *stage == "tune" && *landscape:
		return fmt.Errorf("-landscape pictures the final stage's runs, not the tuning stage's")
	case *stage == "tune":
		if s, err = s.TuningStage(); err != nil {
			return flagError(err)
		}
	case *tuningDir != "":
		tres, err := study.Load(*tuningDir)
		if err != nil {
			return err
		}
		if s, err = s.FinalStage(tres); err != nil {
			return err
		}
	}
	opt := study.Options{Workers: *workers, Progress: progress}
	if *shard != "" {
		if opt.Shard, err = study.ParseShard(*shard); err != nil {
			return flagError(err)
		}
	}
	if *landscape && s.Landscape == nil {
		s.Landscape = &study.LandscapeConfig{}
		if s.Train.Len() > landscapeRows {
			// Full MNIST: the losses of the pictures on a subset, at the
			// cost the README measures.
			s.Landscape.Rows = landscapeRows
		}
	}
	if s.Landscape != nil && opt.Shard.Count > 1 {
		// A landscape needs all the runs of its seed, in one process.
		if *landscape {
			return fmt.Errorf("-landscape needs all the runs of its seed: run it without -shard")
		}
		fmt.Fprintln(stderr, "compare: the study file's landscape is skipped in a shard: it needs all the runs of its seed")
		s.Landscape = nil
	}
	if *clear {
		// Everything else is checked first, so that nothing is cleared for
		// a study that would not run.
		if _, err := s.Plan(opt); err != nil {
			return flagError(err)
		}
		if !*dryRun {
			if err := study.ClearDir(*out); err != nil {
				return err
			}
		}
	}
	if !*clear || !*dryRun {
		opt.Dir = *out
	}
	runs, err := s.Plan(opt)
	if err != nil {
		return flagError(err)
	}
	if err := checkBaseline(s, *baseline); err != nil {
		return err
	}
	if s.Tune != nil {
		ts, _ := s.TuningStage()
		fmt.Fprintf(stdout, "study %s: %s, %d training, %d validation and %d test rows; tuning stage: %d rates x %d seeds = %d runs; final stage: %d configurations x %d seeds = %d runs\n",
			s.Name, s.Data, s.Train.Len(), dataLen(s.Validation), dataLen(s.Test), len(ts.Configs()), len(ts.Grid.Seeds), len(runs),
			len(configNames(s)), len(s.Grid.Seeds), len(configNames(s))*len(s.Grid.Seeds))
	} else {
		fmt.Fprintf(stdout, "study %s: %s, %d training, %d validation and %d test rows, %d configurations x %d seeds = %d runs",
			s.Name, s.Data, s.Train.Len(), dataLen(s.Validation), dataLen(s.Test), len(s.Configs()), len(s.Grid.Seeds), len(s.Configs())*len(s.Grid.Seeds))
		if opt.Shard.Count > 1 {
			fmt.Fprintf(stdout, ", shard %s: %d runs", opt.Shard, len(runs))
		}
		fmt.Fprintln(stdout)
	}
	if *dryRun {
		fp, err := s.Fingerprint()
		if err != nil {
			return err
		}
		what := ""
		if s.Tune != nil {
			what = " (the tuning stage; then the final stage with the chosen rates)"
		}
		fmt.Fprintf(stdout, "fingerprint %s\ndry run: would train into %s%s:\n", fp, *out, what)
		for _, r := range runs {
			fmt.Fprintf(stdout, "  %s\n", r.ID())
		}
		return nil
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	res, err := s.Run(ctx, opt)
	if err != nil && res == nil {
		return flagError(err)
	}
	trained := len(res.Runs)
	if res.Tuning != nil {
		trained += len(res.Tuning.Runs)
	}
	fmt.Fprintf(stdout, "trained %d runs in %s\n\n", trained, time.Since(start).Round(100*time.Millisecond))
	if res.Tuning != nil {
		if _, rerr := res.Tuning.Report(filepath.Join(*out, study.TuningDir), study.ReportOptions{PlotOptions: ropt.PlotOptions}); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	if rerr := report(res, *out, ropt, stdout); rerr != nil {
		return errors.Join(err, rerr)
	}
	if ferr := failures(res, *out, stderr); ferr != nil {
		return errors.Join(err, ferr)
	}
	if err == nil && s.Landscape != nil {
		err = drawLandscapes(ctx, s, res, *out, *workers, progress, stdout)
	}
	return err
}

// checkBaseline refuses, before training, a -baseline that names no
// configuration.
func checkBaseline(s *study.Study, name string) error {
	if name == "" {
		return nil
	}
	names := configNames(s)
	for _, c := range s.Configs() {
		if strings.EqualFold(name, c.Name()) || strings.EqualFold(name, c.String()) {
			return nil
		}
	}
	return fmt.Errorf("-baseline: %q is not a configuration (valid: %s)", name, strings.Join(names, "; "))
}

// configNames lists a study's configurations without their rates.
func configNames(s *study.Study) []string {
	var names []string
	for _, c := range s.Configs() {
		if !slices.Contains(names, c.Name()) {
			names = append(names, c.Name())
		}
	}
	return names
}

// defaults fills in the flags not set: the default MNIST study, the batch
// sweep's, and -quick's small versions of both.
func defaults(v *flagValues, set map[string]bool, quick bool) {
	str := func(name string, p *string, val string) {
		if !set[name] {
			*p = val
		}
	}
	num := func(name string, p *int, val int) {
		if !set[name] {
			*p = val
		}
	}
	switch {
	case quick && v.sweep:
		str("data", &v.data, "moons")
		num("n", &v.rows, 160)
		num("epochs", &v.epochs, 40)
		str("seeds", &v.seeds, "1,2")
		str("lrs", &v.lrs, "0.3,1,3")
		if !set["max-grad-evals"] {
			v.maxGE = 400
		}
		if !set["target"] {
			v.target = 0.4
		}
	case quick:
		num("evals-per-doubling", &v.evals, 0)
		str("data", &v.data, "moons")
		num("n", &v.rows, 120)
		num("epochs", &v.epochs, 3)
		str("seeds", &v.seeds, "1,2")
		str("lrs", &v.lrs, "0.1,0.3,1,3")
		if !set["opt"] {
			v.opts = []string{"sgd", "adam:lr=0.003/0.01/0.03/0.1,on=minibatch(32)"}
		}
		if !set["target"] {
			v.target = 0.4
		}
	case v.sweep:
		num("train", &v.train, 8192)
		num("val", &v.val, 2000)
		num("epochs", &v.epochs, 60)
		str("lrs", &v.lrs, "0.003,0.01,0.03,0.1,0.3,1,3")
		if !set["max-grad-evals"] {
			v.maxGE = 4000
		}
		if !set["target"] {
			v.target = 0.5
		}
	}
	if v.sweep {
		if !set["opt"] {
			v.opts = []string{"sgd"}
		}
		if !set["variants"] {
			v.variants = ""
		}
		return
	}
	if !set["opt"] && !set["lrs"] && !set["variants"] && !quick {
		v.opts = defaultOpts
	}
	if v.lrs == "" && len(v.opts) == 0 {
		v.lrs = "0.01,0.0316,0.1,0.316,1"
	}
	if !set["opt"] && len(v.opts) == 0 {
		v.opts = []string{"sgd", "adam:lr=0.000316/0.001/0.00316/0.01,on=minibatch(32)"}
	}
}

// landscapeRows bounds the rows -landscape computes each loss on.
const landscapeRows = 5000

// drawLandscapes computes and draws the study's landscapes into dir.
func drawLandscapes(ctx context.Context, s *study.Study, res *study.Results, dir string, workers int, progress, stdout io.Writer) error {
	start := time.Now()
	ls, err := s.Landscapes(ctx, res, study.Options{Workers: workers, Progress: progress})
	if err != nil {
		return err
	}
	for _, l := range ls {
		paths, err := l.Report(dir, study.PlotOptions{})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "landscape of seed %d (%d loss evaluations on %d rows):", l.Seed, l.Evaluations, l.Rows)
		for _, p := range paths {
			fmt.Fprintf(stdout, " %s", filepath.Base(p))
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "drew %d landscape(s) in %s\n", len(ls), time.Since(start).Round(100*time.Millisecond))
	return nil
}

// onlyFlags refuses the flags set that mode does not use.
func onlyFlags(set map[string]bool, mode string, allowed ...string) error {
	var extra []string
	for name := range set {
		if !slices.Contains(allowed, name) {
			extra = append(extra, "-"+name)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	slices.Sort(extra)
	what := "the study file sets it"
	if mode == "-merge" {
		what = "merge only reads results"
	}
	return fmt.Errorf("%s has no effect with %s (%s)", strings.Join(extra, ", "), mode, what)
}

// fieldFlags maps the fields of a study, as errors name them, to the flags
// that set them.
var fieldFlags = []struct{ field, flag string }{
	{"grid.variants", "-variants"}, {"grid.lrs", "-lrs"}, {"grid.seeds", "-seeds"}, {"grid.optimizers", "-opt"},
	{"budget.epochs", "-epochs"}, {"budget.max_examples", "-max-examples"}, {"budget.max_grad_evals", "-max-grad-evals"},
	{"budget.max_time", "-max-time"}, {"target.metric", "-target-metric"}, {"target.value", "-target"},
	{"model.hidden", "-hidden"}, {"model.activation", "-activation"}, {"data.name", "-data"}, {"data.path", "-data"},
	{"data.target", "-target-col"}, {"data.train", "-train"}, {"data.val", "-val"}, {"data.test", "-test"}, {"data.n", "-n"}, {"dtype", "-dtype"},
	{"workers", "-workers"}, {"shard", "-shard"}, {"dir", "-out"}, {"tune.metric", "-tune-metric"}, {"tune.seeds", "-tune-seeds"},
	{"tune.budget.epochs", "-tune-epochs"}, {"tune", "-tune"}, {"noise_scale", "-noise"}, {"baseline", "-baseline"},
	{"compare_metric", "-compare-metric"}, {"band", "-band"}, {"kind", "-batch-sweep"}, {"evals_per_doubling", "-evals-per-doubling"},
}

// flagError renames the field of a study error made from the flags to the
// flag that set it: "-lrs[1]: learning rate -1 must be positive and finite".
func flagError(err error) error {
	var ce *study.ConfigError
	if !errors.As(err, &ce) || ce.Source != "" {
		return err
	}
	for _, ff := range fieldFlags {
		if rest, ok := strings.CutPrefix(ce.Field, ff.field); ok && (rest == "" || rest[0] == '[' || rest[0] == '.') {
			return fmt.Errorf("%s%s: %w", ff.flag, rest, ce.Err)
		}
	}
	return err
}

// mergeDirs merges result directories into out, never one of them.
func mergeDirs(dirs []string, out string, clear bool, ropt study.ReportOptions, stdout, stderr io.Writer) error {
	if len(dirs) == 0 {
		return fmt.Errorf("-merge needs result directories as arguments")
	}
	for _, d := range dirs {
		if sameDir(out, d) {
			return fmt.Errorf("-out %s is also an input: merge into another directory", out)
		}
	}
	res, err := study.Load(dirs...)
	if err != nil {
		return err
	}
	if clear {
		if err := study.ClearDir(out); err != nil {
			return err
		}
	}
	if _, err := res.SummaryWith(ropt.Summary); err != nil {
		return flagError(err)
	}
	if err := res.Write(out); err != nil {
		return err
	}
	if err := report(res, out, ropt, stdout); err != nil {
		return err
	}
	if len(res.MissingShards) > 0 {
		var parts []string
		for _, sh := range res.MissingShards {
			n := 0
			for _, i := range res.Missing {
				if i%sh.Count == sh.Index {
					n++
				}
			}
			parts = append(parts, fmt.Sprintf("missing shard %s (%d runs)", sh, n))
		}
		fmt.Fprintf(stderr, "compare: merged %d of %d shards: %s\n", len(dirs), res.MissingShards[0].Count, strings.Join(parts, "; "))
	} else if len(res.Missing) > 0 {
		fmt.Fprintf(stderr, "compare: %d of the study's %d runs are missing (runs %s)\n", len(res.Missing), res.Meta.TotalRuns, ints2str(res.Missing))
	}
	return failures(res, out, stderr)
}

// sameDir reports whether a and b name the same existing directory.
func sameDir(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// failures prints each failed run with its reason and returns an error if
// there is one.
func failures(res *study.Results, dir string, stderr io.Writer) error {
	failed := res.Failed()
	if len(failed) == 0 {
		return nil
	}
	for _, r := range failed {
		fmt.Fprintf(stderr, "compare: run %s: %s\n", r.ID(), r.Err)
	}
	return fmt.Errorf("%d of %d runs failed (each with its reason above; their records are in %s/runs)", len(failed), len(res.Runs), dir)
}

func ints2str(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

func dataLen(d *data.Dataset) int {
	if d == nil {
		return 0
	}
	return d.Len()
}

func pick(isSet bool, cur, quick string) string {
	if isSet {
		return cur
	}
	return quick
}

func pickInt(isSet bool, cur, quick int) int {
	if isSet {
		return cur
	}
	return quick
}

// report writes the table and plots next to the results in dir and prints
// the table (and a batch sweep's analysis).
func report(res *study.Results, dir string, ropt study.ReportOptions, stdout io.Writer) error {
	paths, err := res.Report(dir, ropt)
	if err != nil {
		return flagError(err)
	}
	sum, err := res.SummaryWith(ropt.Summary)
	if err != nil {
		return flagError(err)
	}
	if err := sum.WriteMarkdown(stdout); err != nil {
		return err
	}
	if res.Meta.Kind == study.KindBatchSweep && len(res.Runs) > 0 {
		sw, err := res.Sweep()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		if err := sw.WriteMarkdown(stdout); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\nwrote %s: study.json, runs/ (%d runs, CSV and JSON),", dir, len(res.Runs))
	if res.Tuning != nil {
		fmt.Fprintf(stdout, " %s/ (the tuning stage's %d runs and report),", study.TuningDir, len(res.Tuning.Runs))
	}
	for _, p := range paths {
		fmt.Fprintf(stdout, " %s", filepath.Base(p))
	}
	fmt.Fprintln(stdout)
	return nil
}

type flagValues struct {
	data                   string
	train, val, test, rows int
	targetCol              string
	class                  bool
	hidden, activation     string
	variants, lrs, seeds   string
	opts                   []string
	epochs                 int
	maxEx, maxGE           int64
	maxTime                time.Duration
	target                 float64
	targetMetric, dtype    string
	tune                   bool
	tuneMetric             string
	tuneSeeds              string
	tuneEpochs             int
	noise, sweep           bool
	evals                  int
}

// fileFromFlags turns the flags into a study file, so that flags and files
// are checked by the same code.
func fileFromFlags(v flagValues) (*study.File, error) {
	f := &study.File{DType: v.dtype}
	f.Budget.Epochs, f.Budget.MaxExamples, f.Budget.MaxGradEvals = v.epochs, v.maxEx, v.maxGE
	if v.maxTime != 0 {
		f.Budget.MaxTime = v.maxTime.String()
	}
	name := strings.ToLower(v.data)
	switch {
	case strings.HasSuffix(name, ".csv"):
		f.Data = study.DataSpec{Name: "csv", Path: v.data, Target: v.targetCol, Class: v.class}
		name = strings.TrimSuffix(filepath.Base(v.data), filepath.Ext(v.data))
	case name == "mnist":
		f.Data = study.DataSpec{Name: "mnist", Train: v.train, Val: v.val, Test: v.test}
	default:
		f.Data = study.DataSpec{Name: name, N: v.rows}
	}
	f.Name = name
	switch {
	case name == "xor" && v.hidden == "":
		f.Model = study.ModelSpec{Builtin: "xor-2-10-1", Activation: v.activation}
	default:
		hid, act := v.hidden, v.activation
		if hid == "" {
			hid = "16,16"
			if name == "mnist" {
				hid = "32"
			}
		}
		if act == "" {
			act = "tanh"
			if name == "mnist" {
				act = "relu"
			}
		}
		widths, err := ints("-hidden", hid)
		if err != nil {
			return nil, err
		}
		f.Model = study.ModelSpec{Builtin: "mlp", Hidden: widths, Activation: act}
	}
	if v.target != 0 {
		f.Target = &study.TargetSpec{Metric: v.targetMetric, Value: v.target}
	}
	f.Grid.Variants = splitVariants(v.variants)
	var err error
	if v.lrs != "" {
		if f.Grid.LRs, err = floats("-lrs", v.lrs, ","); err != nil {
			return nil, err
		}
	}
	if v.sweep {
		f.Kind = string(study.KindBatchSweep)
	}
	if v.noise {
		f.NoiseScale = &study.NoiseScaleSpec{}
	}
	if !v.sweep {
		f.EvalsPerDoubling = v.evals
	}
	if v.tune {
		f.Tune = &study.TuneSpec{Metric: v.tuneMetric}
		if v.tuneEpochs != 0 {
			f.Tune.Budget = &study.BudgetSpec{Epochs: v.tuneEpochs, MaxExamples: v.maxEx, MaxGradEvals: v.maxGE}
			if v.maxTime != 0 {
				f.Tune.Budget.MaxTime = v.maxTime.String()
			}
		}
		if v.tuneSeeds != "" {
			for _, p := range strings.Split(v.tuneSeeds, ",") {
				seed, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("-tune-seeds: %q is not a non-negative integer", p)
				}
				f.Tune.Seeds = append(f.Tune.Seeds, seed)
			}
		}
	} else if v.tuneMetric != "" || v.tuneSeeds != "" || v.tuneEpochs != 0 {
		return nil, fmt.Errorf("-tune-metric, -tune-seeds and -tune-epochs need -tune")
	}
	for _, p := range strings.Split(v.seeds, ",") {
		seed, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("-seeds: %q is not a non-negative integer", p)
		}
		f.Grid.Seeds = append(f.Grid.Seeds, seed)
	}
	for _, o := range v.opts {
		spec, err := parseOpt(o)
		if err != nil {
			return nil, err
		}
		f.Grid.Optimizers = append(f.Grid.Optimizers, spec)
	}
	return f, nil
}

// splitVariants splits a comma-separated list of variants, keeping the
// options noshuffle and droplast with their variant.
func splitVariants(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if (p == "noshuffle" || p == "droplast") && len(out) > 0 {
			out[len(out)-1] += "," + p
			continue
		}
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseOpt reads name[:key=value,...].
func parseOpt(s string) (study.OptimizerSpec, error) {
	name, rest, _ := strings.Cut(s, ":")
	spec := study.OptimizerSpec{Name: strings.TrimSpace(name)}
	if rest == "" {
		return spec, nil
	}
	for _, kv := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return spec, fmt.Errorf("-opt %q: %q is not key=value", s, kv)
		}
		k, val = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(val)
		switch k {
		case "lr", "lrs":
			lrs, err := floats("-opt "+s+": lr", val, "/")
			if err != nil {
				return spec, err
			}
			spec.LRs = lrs
		case "on":
			spec.Variants = strings.Split(val, "/")
		default:
			if spec.Hyper == nil {
				spec.Hyper = map[string]any{}
			}
			if b, err := strconv.ParseBool(val); err == nil {
				spec.Hyper[k] = b
			} else if x, err := strconv.ParseFloat(val, 64); err == nil {
				spec.Hyper[k] = x
			} else {
				spec.Hyper[k] = val
			}
		}
	}
	return spec, nil
}

func floats(flag, s, sep string) ([]float64, error) {
	var out []float64
	for _, p := range strings.Split(s, sep) {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", flag, p)
		}
		out = append(out, x)
	}
	return out, nil
}

func ints(flag, s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		x, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not an integer", flag, p)
		}
		out = append(out, x)
	}
	return out, nil
}
