// Command compare is descent's main experiment: it compares gradient-descent
// variants (full batch, stochastic, minibatch) and optimizers on one model
// and dataset over several seeds, prints a summary table and writes CSV,
// JSON and plots. See README.md.
//
// With no flags it trains a 784-64-10 MLP on 5,000 MNIST training images
// (validated on 2,000 test images) for 10 epochs with full-batch, stochastic
// and minibatch(32) SGD (lr 0.05) and minibatch(32) Adam (lr 0.001), 3 seeds
// each, and writes ./out/compare.
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

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		dataName   = fs.String("data", "mnist", "dataset: mnist, xor, moons, spirals, circles, blobs, or a CSV file (header, target in the last column or -target-col)")
		trainN     = fs.Int("train", 5000, "MNIST: training images (the first ones)")
		valN       = fs.Int("val", 2000, "MNIST: validation images (the first test images)")
		rows       = fs.Int("n", 400, "generated problems and CSV: rows before the 25% validation split")
		targetCol  = fs.String("target-col", "", "CSV: name of the target column (default the last); -class reads it as class labels")
		class      = fs.Bool("class", false, "CSV: the target column holds class labels")
		hidden     = fs.String("hidden", "", "hidden layer widths of the MLP, comma-separated (default 64 for mnist, 16,16 otherwise; xor uses the 2-10-1 network)")
		activation = fs.String("activation", "", "hidden activation (default relu for mnist, tanh otherwise)")
		variants   = fs.String("variants", "full,stochastic,minibatch(32)", "descent variants: full, stochastic, minibatch(n) or mbN, comma-separated")
		lrs        = fs.String("lrs", "0.05", "learning rates of optimizers without their own, comma-separated")
		seeds      = fs.String("seeds", "1,2,3", "seeds, comma-separated")
		epochs     = fs.Int("epochs", 10, "epochs per run")
		maxEx      = fs.Int64("max-examples", 0, "stop each run after this many examples (0: no limit)")
		maxGE      = fs.Int64("max-grad-evals", 0, "stop each run after this many gradient evaluations (0: no limit)")
		maxTime    = fs.Duration("max-time", 0, "stop each run after this much training time (0: no limit)")
		target     = fs.Float64("target", 0.5, "target value of -target-metric for the \"to target\" columns (0: none)")
		targetM    = fs.String("target-metric", "val_loss", "metric of the target: val_loss, loss, val_accuracy, ...")
		dtype      = fs.String("dtype", "", "float32 or float64 (default float32 for mnist, float64 otherwise)")
		workers    = fs.Int("workers", 0, "runs trained at once (default GOMAXPROCS)")
		shard      = fs.String("shard", "", "run only shard i/n of the grid (run i goes to shard i mod n)")
		out        = fs.String("out", "out/compare", "output directory (created; refused if it holds other results, see -clear)")
		clear      = fs.Bool("clear", false, "first remove the results -out holds (study.json, runs/, summaries, plots; nothing else)")
		studyFile  = fs.String("study", "", "read the study from this JSON file instead of the flags above")
		merge      = fs.Bool("merge", false, "merge the result directories given as arguments into -out, without training")
		dryRun     = fs.Bool("dry-run", false, "check the study, the shard and -out, print the runs, and stop without training or writing")
		quick      = fs.Bool("quick", false, "tiny settings for CI: moons, 120 rows, 3 epochs, 2 seeds")
		quiet      = fs.Bool("q", false, "no per-run progress")
		landscape  = fs.Bool("landscape", false, "also draw the loss landscape around the first seed's runs into -out (a study file's \"landscape\" object sets it too)")
		opts       optFlags
	)
	fs.Var(&opts, "opt", "optimizer, repeatable: name[:key=value,...]; keys lr (rates separated by /), on (variants separated by /) and the optimizer's hyperparameters, e.g. -opt sgd:momentum=0.9 -opt adam:lr=0.001,on=mb32 (default sgd, and adam:lr=0.001,on=minibatch(32))")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: compare [flags]\n       compare -study file.json [-shard i/n] [-workers n] [-out dir] [-clear] [-dry-run]\n       compare -merge [-out dir] [-clear] dir...\n\n")
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
	if *merge {
		if err := onlyFlags(set, "-merge", "merge", "out", "clear", "q"); err != nil {
			return err
		}
		return mergeDirs(fs.Args(), *out, *clear, stdout, stderr)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (did you mean -merge?)", fs.Args())
	}

	var s *study.Study
	var err error
	if *studyFile != "" {
		if err := onlyFlags(set, "-study", "study", "workers", "shard", "out", "clear", "dry-run", "q", "landscape"); err != nil {
			return err
		}
		if s, err = study.ReadFile(*studyFile); err != nil {
			return err
		}
	} else {
		if *quick {
			*dataName, *rows = pick(set["data"], *dataName, "moons"), pickInt(set["n"], *rows, 120)
			*epochs = pickInt(set["epochs"], *epochs, 3)
			*seeds = pick(set["seeds"], *seeds, "1,2")
			*lrs = pick(set["lrs"], *lrs, "0.3")
			if !set["opt"] {
				opts = optFlags{"sgd", "adam:lr=0.01,on=minibatch(32)"}
			}
		}
		f, err := fileFromFlags(flagValues{
			data: *dataName, train: *trainN, val: *valN, rows: *rows, targetCol: *targetCol, class: *class,
			hidden: *hidden, activation: *activation, variants: *variants, lrs: *lrs, seeds: *seeds, opts: opts,
			epochs: *epochs, maxEx: *maxEx, maxGE: *maxGE, maxTime: *maxTime, target: *target, targetMetric: *targetM, dtype: *dtype,
		})
		if err != nil {
			return err
		}
		if s, err = f.Study(); err != nil {
			return flagError(err)
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
	fmt.Fprintf(stdout, "study %s: %s, %d training and %d validation rows, %d configurations x %d seeds = %d runs",
		s.Name, s.Data, s.Train.Len(), valLen(s), len(s.Configs()), len(s.Grid.Seeds), len(s.Configs())*len(s.Grid.Seeds))
	if opt.Shard.Count > 1 {
		fmt.Fprintf(stdout, ", shard %s: %d runs", opt.Shard, len(runs))
	}
	fmt.Fprintln(stdout)
	if *dryRun {
		fp, err := s.Fingerprint()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "fingerprint %s\ndry run: would train into %s:\n", fp, *out)
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
	fmt.Fprintf(stdout, "trained %d runs in %s\n\n", len(res.Runs), time.Since(start).Round(100*time.Millisecond))
	if rerr := report(res, *out, stdout); rerr != nil {
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
	{"data.target", "-target-col"}, {"data.train", "-train"}, {"data.val", "-val"}, {"data.n", "-n"}, {"dtype", "-dtype"},
	{"workers", "-workers"}, {"shard", "-shard"}, {"dir", "-out"},
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
func mergeDirs(dirs []string, out string, clear bool, stdout, stderr io.Writer) error {
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
	if err := res.Write(out); err != nil {
		return err
	}
	if err := report(res, out, stdout); err != nil {
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

func valLen(s *study.Study) int {
	if s.Validation == nil {
		return 0
	}
	return s.Validation.Len()
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
// the table.
func report(res *study.Results, dir string, stdout io.Writer) error {
	paths, err := res.Report(dir, study.PlotOptions{})
	if err != nil {
		return err
	}
	if err := res.Summary().WriteMarkdown(stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s: study.json, runs/ (%d runs, CSV and JSON),", dir, len(res.Runs))
	for _, p := range paths {
		fmt.Fprintf(stdout, " %s", filepath.Base(p))
	}
	fmt.Fprintln(stdout)
	return nil
}

type flagValues struct {
	data                 string
	train, val, rows     int
	targetCol            string
	class                bool
	hidden, activation   string
	variants, lrs, seeds string
	opts                 []string
	epochs               int
	maxEx, maxGE         int64
	maxTime              time.Duration
	target               float64
	targetMetric, dtype  string
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
		f.Data = study.DataSpec{Name: "mnist", Train: v.train, Val: v.val}
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
				hid = "64"
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
	if f.Grid.LRs, err = floats("-lrs", v.lrs, ","); err != nil {
		return nil, err
	}
	for _, p := range strings.Split(v.seeds, ",") {
		seed, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("-seeds: %q is not a non-negative integer", p)
		}
		f.Grid.Seeds = append(f.Grid.Seeds, seed)
	}
	opts := v.opts
	if len(opts) == 0 {
		opts = []string{"sgd", "adam:lr=0.001,on=minibatch(32)"}
	}
	for _, o := range opts {
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
