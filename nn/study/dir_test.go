package study

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/descentlab/descent/nn"
)

// runShard runs a shard of s into a new directory and returns it.
func runShard(t *testing.T, s *Study, sh Shard) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shard")
	res, err := s.Run(context.Background(), Options{Workers: 2, Shard: sh, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if f := res.Failed(); len(f) > 0 {
		t.Fatalf("run %s failed: %s", f[0].ID(), f[0].Err)
	}
	return dir
}

func readManifestJSON(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "study.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// editManifest rewrites dir's study.json after edit, keeping the text of
// the fields it does not touch (a round trip through float64 would change
// the model's numbers, and so the study).
func editManifest(t *testing.T, dir string, edit func(top, study map[string]json.RawMessage)) {
	t.Helper()
	path := filepath.Join(dir, "study.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top, st map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(top["study"], &st); err != nil {
		t.Fatal(err)
	}
	edit(top, st)
	if top["study"], err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if b, err = json.Marshal(top); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func runIDs(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "runs", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range files {
		ids = append(ids, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	return ids
}

func TestManifest(t *testing.T) {
	s := tinyStudy(t, nil)
	dir := runShard(t, s, Shard{Index: 1, Count: 3})
	m := readManifestJSON(t, dir)
	fp, err := s.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	if m["format"] != 1.0 || m["study_hash"] != fp || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(fp) {
		t.Errorf("format %v, study_hash %v; want 1 and the study's fingerprint %s", m["format"], m["study_hash"], fp)
	}
	if sh, _ := json.Marshal(m["shard"]); string(sh) != `{"count":3,"index":1}` {
		t.Errorf("shard %s, want index 1 and count 3", sh)
	}
	var listed []string
	for _, id := range m["runs"].([]any) {
		listed = append(listed, id.(string))
	}
	// Runs 1, 4 and 7 of 8: shard 1 of 3.
	want := []string{"001_full_sgd_lr0.3_seed2", "004_full_adam_lr0.05_seed1", "007_minibatch8_adam_lr0.05_seed2"}
	if !slices.Equal(listed, want) || !slices.Equal(runIDs(t, dir), want) {
		t.Errorf("runs listed %v, files %v; want %v", listed, runIDs(t, dir), want)
	}
	st := m["study"].(map[string]any)
	for _, k := range []string{"name", "data", "data_hash", "model", "configs", "seeds", "budget", "target", "total_runs"} {
		if _, ok := st[k]; !ok {
			t.Errorf("study.json's study has no %q", k)
		}
	}
}

// TestFingerprint checks that what changes a study's results changes its
// fingerprint, and what does not (the shard, the workers) does not.
func TestFingerprint(t *testing.T) {
	base, err := tinyStudy(t, nil).Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := tinyStudy(t, nil).Fingerprint()
	if again != base {
		t.Errorf("the same study has fingerprints %s and %s", base, again)
	}
	for name, edit := range map[string]func(*File){
		"model width": func(f *File) { f.Model.Hidden = []int{5} },
		"activation":  func(f *File) { f.Model.Activation = "relu" },
		"data seed":   func(f *File) { f.Data.Seed = 4 },
		"noise":       func(f *File) { v := 0.3; f.Data.Noise = &v },
		"epochs":      func(f *File) { f.Budget.Epochs = 2 },
		"seeds":       func(f *File) { f.Grid.Seeds = []uint64{1, 3} },
		"hyper":       func(f *File) { f.Grid.Optimizers[0].Hyper = map[string]any{"momentum": 0.9} },
		"target":      func(f *File) { f.Target = &TargetSpec{Metric: "val_accuracy", Value: 0.9} },
	} {
		fp, err := tinyStudy(t, edit).Fingerprint()
		if err != nil {
			t.Fatal(err)
		}
		if fp == base {
			t.Errorf("%s: the fingerprint did not change", name)
		}
	}
}

func TestWriteRefusesOtherResults(t *testing.T) {
	a := tinyStudy(t, nil)
	b := tinyStudy(t, func(f *File) { f.Budget.Epochs = 2 })
	dir := runShard(t, a, Shard{})

	// Another study is refused before training, by Plan, Run and Write.
	var trained atomic.Int32
	b.Callbacks = func(Run) []nn.Callback { trained.Add(1); return nil }
	if _, err := b.Plan(Options{Dir: dir}); !errors.Is(err, ErrDirInUse) || !strings.Contains(err.Error(), "differs in budget") {
		t.Errorf("Plan into another study's directory: got %v, want ErrDirInUse naming the budget", err)
	}
	if _, err := b.Run(context.Background(), Options{Dir: dir}); !errors.Is(err, ErrDirInUse) {
		t.Errorf("Run into another study's directory: got %v, want ErrDirInUse", err)
	}
	if n := trained.Load(); n != 0 {
		t.Errorf("%d runs trained before the refusal", n)
	}
	resB, err := b.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := resB.Write(dir); !errors.Is(err, ErrDirInUse) {
		t.Errorf("Write into another study's directory: got %v, want ErrDirInUse", err)
	}
	// Another shard of the same study is refused too.
	if _, err := a.Plan(Options{Dir: dir, Shard: Shard{0, 2}}); !errors.Is(err, ErrDirInUse) || !strings.Contains(err.Error(), "holds shard all of this study, not 0/2") {
		t.Errorf("Plan of shard 0/2 into the whole study's directory: got %v", err)
	}

	// After ClearDir the other study writes, and nothing of the first is left.
	if err := ClearDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := resB.Write(dir); err != nil {
		t.Fatal(err)
	}
	res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Runs {
		if n := len(r.History.Epochs); n != 2 {
			t.Errorf("run %s has %d epochs, want 2", r.ID(), n)
		}
	}

	// The same study and shard again replaces its runs: none is left over.
	resB.Runs = resB.Runs[:3]
	if err := resB.Write(dir); err != nil {
		t.Fatal(err)
	}
	if ids := runIDs(t, dir); len(ids) != 3 {
		t.Errorf("after rewriting 3 runs the directory holds %v", ids)
	}
}

func TestForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := tinyStudy(t, nil)
	if _, err := s.Run(context.Background(), Options{Dir: dir}); !errors.Is(err, ErrDirInUse) || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("Run into a directory of other files: got %v, want ErrDirInUse naming notes.txt", err)
	}
	if err := ClearDir(dir); !errors.Is(err, ErrDirInUse) {
		t.Errorf("ClearDir of a directory of other files: got %v, want ErrDirInUse", err)
	}
	if _, err := os.Stat(notes); err != nil {
		t.Errorf("notes.txt: %v", err)
	}
	// A file is not a directory: the error names the field "dir".
	var ce *ConfigError
	if _, err := s.Plan(Options{Dir: notes}); !errors.As(err, &ce) || ce.Field != "dir" {
		t.Errorf("Plan into a file: got %v, want a ConfigError for dir", err)
	}
}

func TestLoadRefuses(t *testing.T) {
	s := tinyStudy(t, nil)
	var shards []string
	for i := range 3 {
		shards = append(shards, runShard(t, s, Shard{i, 3}))
	}
	copyDir := func(src string) string {
		dst := filepath.Join(t.TempDir(), "copy")
		if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	other := runShard(t, tinyStudy(t, func(f *File) { f.Model.Hidden = []int{5} }), Shard{1, 3})
	split4 := runShard(t, s, Shard{3, 4})
	whole := runShard(t, s, Shard{})

	unlisted := copyDir(shards[0]) // holds a run of shard 1 it does not list
	run1 := filepath.Join(shards[1], "runs", "001_full_sgd_lr0.3_seed2.json")
	b, _ := os.ReadFile(run1)
	os.WriteFile(filepath.Join(unlisted, "runs", filepath.Base(run1)), b, 0o644)

	foreign := copyDir(shards[0]) // lists a run of shard 1
	os.WriteFile(filepath.Join(foreign, "runs", filepath.Base(run1)), b, 0o644)
	editManifest(t, foreign, func(top, _ map[string]json.RawMessage) {
		var runs []string
		json.Unmarshal(top["runs"], &runs)
		top["runs"], _ = json.Marshal(append(runs, "001_full_sgd_lr0.3_seed2"))
	})

	lost := copyDir(shards[0]) // lists a run whose file is gone
	ids := runIDs(t, lost)
	if err := os.Remove(filepath.Join(lost, "runs", ids[1]+".json")); err != nil {
		t.Fatal(err)
	}

	edited := copyDir(shards[0]) // the study edited by hand
	editManifest(t, edited, func(_, st map[string]json.RawMessage) { st["name"] = json.RawMessage(`"renamed"`) })

	outOfRange := copyDir(shards[0])
	editManifest(t, outOfRange, func(top, _ map[string]json.RawMessage) { top["shard"] = json.RawMessage(`{"index": 5, "count": 3}`) })

	old := copyDir(shards[0]) // written before study.json had a format
	editManifest(t, old, func(top, _ map[string]json.RawMessage) { delete(top, "format") })

	tests := []struct {
		name string
		dirs []string
		want string
	}{
		{"same directory twice", []string{shards[0], shards[0], shards[1]}, "given twice"},
		{"same shard twice", []string{shards[0], copyDir(shards[0])}, "are both shard 0/3"},
		{"different studies", []string{shards[0], other}, "hold different studies (they differ in model)"},
		{"different splits", []string{shards[0], shards[1], split4}, "holds shard 0/3 but"},
		{"whole and shard", []string{whole, shards[0]}, "holds the whole study but"},
		{"unlisted run file", []string{unlisted, shards[1]}, "is not listed in"},
		{"run of another shard", []string{foreign}, "does not belong to shard 0/3"},
		{"run file missing", []string{lost}, "is missing"},
		{"edited study", []string{edited}, "does not match its study_hash"},
		{"shard out of range", []string{outOfRange}, "shard 5/3 is out of range"},
		{"another format", []string{old}, "format 0, want 1"},
		{"not a results directory", []string{t.TempDir()}, "not a results directory"},
	}
	for _, tc := range tests {
		_, err := Load(tc.dirs...)
		if !errors.Is(err, ErrMerge) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrMerge containing %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	s := tinyStudy(t, nil)
	a, c := runShard(t, s, Shard{0, 3}), runShard(t, s, Shard{2, 3})
	res, err := Load(a, c)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Shard{{1, 3}}; !slices.Equal(res.MissingShards, want) {
		t.Errorf("missing shards %v, want %v", res.MissingShards, want)
	}
	if want := []int{1, 4, 7}; !slices.Equal(res.Missing, want) {
		t.Errorf("missing runs %v, want %v", res.Missing, want)
	}
	if s := res.Summary(); s.Runs != 5 || s.TotalRuns != 8 {
		t.Errorf("summary of %d runs of %d, want 5 of 8", s.Runs, s.TotalRuns)
	}
}

// TestRunWritesAsItGoes cancels a study after its first run: the directory
// lists the runs finished, and Load reports the others missing.
func TestRunWritesAsItGoes(t *testing.T) {
	s := tinyStudy(t, nil)
	dir := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := s.Run(ctx, Options{Workers: 1, Dir: dir, Progress: writerFunc(func([]byte) { cancel() })})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Runs) != len(res.Runs) || len(loaded.Runs) == 0 || len(loaded.Missing) == 0 ||
		len(loaded.Runs)+len(loaded.Missing) != 8 || loaded.Runs[0].Err != "" {
		t.Errorf("loaded %d runs (first error %q) and %d missing; Run returned %d", len(loaded.Runs), loaded.Runs[0].Err, len(loaded.Missing), len(res.Runs))
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

func TestPlanOptions(t *testing.T) {
	s := tinyStudy(t, nil) // 8 runs
	tests := []struct {
		opt         Options
		field, want string
	}{
		{Options{Workers: -1}, "workers", "-1 must not be negative"},
		{Options{Shard: Shard{3, 2}}, "shard", "3/2, want i/n with 0 <= i < n"},
		{Options{Shard: Shard{9, 10}}, "shard", "9/10 would be empty: the study has 8 runs, so at most 8 shards"},
		{Options{Shard: Shard{1, 10}}, "shard", "10 shards would leave shards 8 to 9 empty"},
	}
	for _, tc := range tests {
		_, err := s.Plan(tc.opt)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: got %v, want a ConfigError for %s containing %q", tc.opt, err, tc.field, tc.want)
		}
	}
	runs, err := s.Plan(Options{Shard: Shard{7, 8}})
	if err != nil || len(runs) != 1 || runs[0].Index != 7 {
		t.Errorf("shard 7/8: %v, %v; want run 7", runs, err)
	}
}

func TestFailedRuns(t *testing.T) {
	s := tinyStudy(t, nil)
	build := s.Model
	var calls atomic.Int32
	s.Model = func() (*nn.Sequential, error) {
		// The 2 first calls are Validate's trial and the architecture; the
		// fourth is the second run's.
		if calls.Add(1) == 4 {
			return nil, errors.New("out of disk")
		}
		return build()
	}
	res, err := s.Run(context.Background(), Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Failed()
	if len(f) != 1 || f[0].Index != 1 || !strings.Contains(f[0].Err, "out of disk") {
		t.Errorf("failed runs %+v, want run 1 with its error", f)
	}
}
