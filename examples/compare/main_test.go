package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tiny are the flags of a study that trains in well under a second: two
// moons, 60 rows, one epoch, one seed, four configurations, untuned.
var tiny = []string{"-quick", "-q", "-tune=false", "-noise=false", "-n", "60", "-epochs", "1", "-seeds", "1", "-lrs", "0.3", "-opt", "sgd", "-opt", "adam:lr=0.01,on=minibatch(32)"}

// compare runs the command with args and returns its stdout, stderr and
// error.
func compare(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = run(args, &o, &e)
	return o.String(), e.String(), err
}

// mustCompare runs the command and fails the test if it fails.
func mustCompare(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	o, e, err := compare(t, args...)
	if err != nil {
		t.Fatalf("compare %s: %v\nstderr:\n%s", strings.Join(args, " "), err, e)
	}
	return o, e
}

func with(extra ...string) []string { return append(slices.Clone(tiny), extra...) }

// TestRefusedBeforeTraining checks that a wrong flag is an error naming the
// flag, given before anything is trained or written.
func TestRefusedBeforeTraining(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"activation", with("-activation", "wobble"), `-activation: unknown activation "wobble"`},
		{"max time", with("-max-time", "-1s"), "-max-time: -1s must not be negative"},
		{"workers", with("-workers", "-1"), "-workers: -1 must not be negative"},
		{"epochs", with("-epochs", "0"), "-epochs: 0 must be positive"},
		{"seeds", with("-seeds", "1,-2"), `-seeds: "-2" is not a non-negative integer`},
		{"duplicate seed", with("-seeds", "1,1"), "-seeds[1]: seed 1 repeats"},
		{"lrs", with("-lrs", "0.1,-1"), "-lrs[1]: learning rate -1 must be positive and finite"},
		{"target metric", with("-target-metric", "val_acuracy"), `-target-metric: "val_acuracy" is not recorded (valid: loss, accuracy, val_loss, val_accuracy)`},
		{"target", with("-target", "NaN"), "-target: NaN is not finite"},
		{"variant", with("-variants", "tiny"), `-variants[0]: "tiny" is not a variant`},
		{"optimizer", with("-opt", "sgdx"), `-opt[2].name: optim: unknown optimizer "sgdx"`},
		{"hidden", with("-hidden", "8,0"), "-hidden[1]: width 0 must be positive"},
		{"dataset", with("-data", "iris"), `-data: unknown dataset "iris"`},
		{"dtype", with("-dtype", "float16"), `-dtype: "float16", want float32 or float64`},
		{"shard syntax", with("-shard", "3/3"), `-shard: "3/3", want i/n with 0 <= i < n`},
		{"empty shard", with("-shard", "5/6"), "-shard: 5/6 would be empty: the study has 4 runs, so at most 4 shards"},
		{"out not a directory", with("-out", filepath.Join(notDir, "sub")), "not a directory"},
		{"flag ignored by -study", []string{"-study", "studies/tiny.json", "-epochs", "3"}, "-epochs has no effect with -study"},
		{"flag ignored by -merge", []string{"-merge", "-epochs", "3", "x"}, "-epochs has no effect with -merge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"-out", out}, tc.args...)
			stdout, _, err := compare(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("compare %s: got error %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
			}
			if strings.Contains(stdout, "trained") {
				t.Errorf("it trained before failing:\n%s", stdout)
			}
			if _, err := os.Stat(filepath.Join(out, "runs")); err == nil {
				t.Errorf("it wrote runs before failing")
			}
		})
	}
}

// TestErrorsSayEachThingOnce checks messages that used to repeat
// themselves or show Go internals.
func TestErrorsSayEachThingOnce(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		args []string
		want string
	}{
		{with("-variants", "tiny"), `compare: -variants[0]: "tiny" is not a variant: want full, stochastic or minibatch(n) with n >= 1`},
		{[]string{"-study", file("empty.json", " \n")}, "study: empty.json: empty study file"},
		{[]string{"-study", file("type.json", `{"budget": {"epochs": "3"}}`)}, `study: type.json:1:23: budget.epochs: a string, want an integer`},
		{[]string{"-study", file("unknown.json", `{"budget": {"epochz": 3}}`)}, `study: unknown.json: budget.epochz: unknown field (valid: epochs, max_examples, max_grad_evals, max_time)`},
	}
	for _, tc := range tests {
		_, _, err := compare(t, tc.args...)
		if err == nil {
			t.Errorf("%v: no error", tc.args)
			continue
		}
		msg := "compare: " + err.Error()
		if !strings.Contains(msg, tc.want) {
			t.Errorf("%v:\ngot  %s\nwant %s", tc.args, msg, tc.want)
		}
		for _, bad := range []string{"invalid study", "Go struct", "EOF", "study: study:"} {
			if strings.Contains(msg, bad) {
				t.Errorf("%v: %q in %s", tc.args, bad, msg)
			}
		}
		if n := strings.Count(msg, "study:"); n > 1 {
			t.Errorf("%v: %d times study: in %s", tc.args, n, msg)
		}
	}
}

// TestShardsAndMerge runs a study whole and in three shards, and checks
// what merge accepts, refuses and reports.
func TestShardsAndMerge(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	study := with("-seeds", "1,2,3") // 12 runs
	mustCompare(t, append(study, "-out", p("whole"))...)
	for i := range 3 {
		mustCompare(t, append(study, "-shard", []string{"0/3", "1/3", "2/3"}[i], "-out", p("A"+string(rune('0'+i))))...)
	}
	mustCompare(t, "-merge", "-q", "-out", p("merged"), p("A0"), p("A1"), p("A2"))
	for _, f := range []string{"summary.md", "summary.json"} {
		if a, b := untimed(t, p("whole/"+f)), untimed(t, p("merged/"+f)); a != b {
			t.Errorf("%s: merged differs from whole:\n%s\n%s", f, a, b)
		}
	}

	// The same shard twice, a duplicate shard index, a shard of another
	// split (a stale directory from a larger array) and an input as the
	// output are refused, and the inputs are left as they were.
	mustCompare(t, append(study, "-shard", "0/3", "-out", p("B0"))...)
	mustCompare(t, append(with("-seeds", "1,2,3", "-shard", "3/4"), "-out", p("A3"))...)
	before := listing(t, dir)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{p("A0"), p("A0"), p("A1"), p("A2")}, "given twice"},
		{[]string{p("A0"), p("B0"), p("A1"), p("A2")}, "both shard 0/3"},
		{[]string{p("A0"), p("A1"), p("A2"), p("A3")}, "shard 3/4"},
		{[]string{"-out", p("A0"), p("A0"), p("A1")}, "is also an input"},
		{[]string{"-clear", "-out", p("A0"), p("A0"), p("A1")}, "is also an input"},
	} {
		args := append([]string{"-merge", "-q"}, tc.args...)
		if !slices.Contains(args, "-out") {
			args = append([]string{"-out", p("m2")}, args...)
		}
		if _, _, err := compare(t, args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("compare %v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	if after := listing(t, dir); after != before {
		t.Errorf("a refused merge changed the directories:\nbefore\n%s\nafter\n%s", before, after)
	}

	// A missing shard is reported.
	_, stderr := mustCompare(t, "-merge", "-q", "-out", p("part"), p("A0"), p("A2"))
	if !strings.Contains(stderr, "missing shard 1/3 (4 runs)") {
		t.Errorf("merging shards 0 and 2 of 3: stderr %q does not report shard 1/3", stderr)
	}
}

// TestStaleOutput checks that -out holding another study's results is
// refused, and replaced with -clear.
func TestStaleOutput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	mustCompare(t, append(with("-epochs", "2"), "-out", out)...)
	// The same study again overwrites its own results.
	mustCompare(t, append(with("-epochs", "2"), "-out", out)...)
	_, _, err := compare(t, append(with("-epochs", "1"), "-out", out)...)
	if err == nil || !strings.Contains(err.Error(), "holds the results of another study") {
		t.Fatalf("another study into the same -out: got %v, want a refusal", err)
	}
	mustCompare(t, append(with("-epochs", "1", "-clear"), "-out", out)...)
	runs, err := filepath.Glob(filepath.Join(out, "runs", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 {
		t.Fatalf("%d runs after -clear, want 4", len(runs))
	}
	for _, r := range runs {
		b, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		var run struct{ Epochs []json.RawMessage }
		if err := json.Unmarshal(b, &run); err != nil {
			t.Fatal(err)
		}
		if len(run.Epochs) != 1 {
			t.Errorf("%s: %d epochs, want 1 (a stale run)", filepath.Base(r), len(run.Epochs))
		}
	}
	// A directory of other files is never taken, even with -clear.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{"-clear=false", "-clear"} {
		if _, _, err := compare(t, append(with(clear), "-out", other)...); err == nil || !strings.Contains(err.Error(), "not study results") {
			t.Errorf("%s into a directory of other files: got %v, want a refusal", clear, err)
		}
	}
}

// TestFailedRunsExitNonZero checks that a merge of results holding a failed
// run fails, naming the run and its error.
func TestFailedRunsExitNonZero(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	mustCompare(t, append(tiny, "-out", a)...)
	runs, _ := filepath.Glob(filepath.Join(a, "runs", "*.json"))
	b, err := os.ReadFile(runs[1])
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	v["error"] = "nn: fit: the disk caught fire"
	if b, err = json.Marshal(v); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(runs[1], b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := compare(t, "-merge", "-q", "-out", filepath.Join(dir, "m"), a)
	if err == nil || !strings.Contains(err.Error(), "1 of 4 runs failed") {
		t.Errorf("merge with a failed run: got %v, want an error", err)
	}
	id := strings.TrimSuffix(filepath.Base(runs[1]), ".json")
	if want := "run " + id + ": nn: fit: the disk caught fire"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not contain %q", stderr, want)
	}
}

// TestStudyFiles checks that the shipped study files load, and that
// studies/mnist.json is the default study of the flags.
func TestStudyFiles(t *testing.T) {
	files, err := filepath.Glob("studies/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("study files %v, %v", files, err)
	}
	for _, f := range files {
		if _, _, err := compare(t, "-dry-run", "-study", f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	dflt, _, err := compare(t, "-dry-run")
	if err != nil {
		t.Fatal(err)
	}
	file, _, err := compare(t, "-dry-run", "-study", "studies/mnist.json")
	if err != nil {
		t.Fatal(err)
	}
	if dflt != file {
		t.Errorf("studies/mnist.json is not the default study:\nflags: %s\nfile:  %s", dflt, file)
	}
	dflt, _, err = compare(t, "-dry-run", "-batch-sweep")
	if err != nil {
		t.Fatal(err)
	}
	file, _, err = compare(t, "-dry-run", "-study", "studies/mnist-sweep.json")
	if err != nil {
		t.Fatal(err)
	}
	if dflt != file {
		t.Errorf("studies/mnist-sweep.json is not the default batch sweep:\nflags: %s\nfile:  %s", dflt, file)
	}
}

// untimed returns a summary file without its timing columns or fields.
func untimed(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".json") {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		var strip func(any)
		strip = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					if k == "seconds" || k == "seconds_to_target" || k == "examples_per_second" {
						delete(x, k)
						continue
					}
					strip(e)
				}
			case []any:
				for _, e := range x {
					strip(e)
				}
			}
		}
		strip(v)
		out, _ := json.Marshal(v)
		return string(out)
	}
	// Markdown: drop the last two columns (seconds to target, examples/s).
	var sb strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 3 {
			line = strings.Join(cells[:len(cells)-3], "|")
		}
		sb.WriteString(line + "\n")
	}
	return sb.String()
}

// listing lists the files under dir with their sizes and times.
func listing(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if !d.IsDir() {
			sb.WriteString(rel + " " + info.ModTime().String() + "\n")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// TestTunedStagesSharded runs the quick tuned study whole, then its tuning
// stage in three shards, merged, and its final stage in two shards from
// the merged tuning, merged: the same choices and the same table.
func TestTunedStagesSharded(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	quick := []string{"-quick", "-q", "-noise=false"}
	mustCompare(t, append(quick, "-out", p("whole"))...)
	for i := range 3 {
		mustCompare(t, append(quick, "-stage", "tune", "-shard", []string{"0/3", "1/3", "2/3"}[i], "-out", p("tune"+string(rune('0'+i))))...)
	}
	mustCompare(t, "-merge", "-q", "-out", p("tuning"), p("tune0"), p("tune1"), p("tune2"))
	for i := range 2 {
		mustCompare(t, append(quick, "-tuning", p("tuning"), "-shard", []string{"0/2", "1/2"}[i], "-out", p("final"+string(rune('0'+i))))...)
	}
	mustCompare(t, "-merge", "-q", "-out", p("final"), p("final0"), p("final1"))
	for _, f := range []string{"summary.md", "summary.json"} {
		if a, b := untimed(t, p("whole/"+f)), untimed(t, p("final/"+f)); a != b {
			t.Errorf("%s: sharded stages differ from the whole:\n%s\n%s", f, a, b)
		}
	}
	if a, b := untimed(t, p("whole/tuning/summary.json")), untimed(t, p("tuning/summary.json")); a != b {
		t.Errorf("tuning summaries differ:\n%s\n%s", a, b)
	}
	// A tuned study cannot be sharded whole, the final stage needs every
	// tuning shard, and the stages apply to tuned studies only.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(quick, "-shard", "0/2"), "two stages"},
		{append(quick, "-tuning", p("tune0"), "-shard", "0/2"), "merge all its shards first"},
		{append(quick, "-tune=false", "-stage", "tune"), "apply to a tuned study"},
		{append(quick, "-stage", "final"), `-stage "final", want tune`},
		{append(quick, "-baseline", "wobble"), `-baseline: "wobble" is not a configuration`},
	} {
		if _, _, err := compare(t, append(tc.args, "-out", p("x"))...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("compare %v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// TestBatchSweepQuick runs the quick batch sweep and checks its outputs.
func TestBatchSweepQuick(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sweep")
	stdout, _ := mustCompare(t, "-quick", "-batch-sweep", "-q", "-out", out)
	for _, s := range []string{"## Batch-size scaling", "| batch size | lr (tuned) |", "region"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, stdout)
		}
	}
	for _, f := range []string{"sweep.md", "steps_vs_batch.png", "examples_vs_batch.png", "sensitivity.png"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
}
