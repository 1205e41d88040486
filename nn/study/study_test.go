package study

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/keras"
)

// smallStudy is a fast study on two moons: 8 runs of 3 epochs on 60
// training rows.
func smallStudy(t testing.TB) *Study {
	t.Helper()
	f := &File{
		Name:  "moons-test",
		Model: ModelSpec{Builtin: "mlp", Hidden: []int{8}, Activation: "tanh"},
		Data:  DataSpec{Name: "moons", N: 80, Seed: 7},
		Grid: GridSpec{
			Variants:   []string{"full", "stochastic", "minibatch(16)"},
			Optimizers: []OptimizerSpec{{Name: "sgd"}, {Name: "adam", LRs: []float64{0.05}, Variants: []string{"minibatch(16)"}}},
			LRs:        []float64{0.5},
			Seeds:      []uint64{1, 2},
		},
		Budget: BudgetSpec{Epochs: 3},
		Target: &TargetSpec{Metric: "val_loss", Value: 0.6},
	}
	s, err := f.Study()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runInto(t *testing.T, s *Study, opt Options, dir string) *Results {
	t.Helper()
	res, err := s.Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Runs {
		if r.Err != "" {
			t.Fatalf("run %s: %s", r.ID(), r.Err)
		}
	}
	if err := res.Write(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := res.Report(dir, ReportOptions{PlotOptions: PlotOptions{Formats: []string{}}}); err != nil {
		t.Fatal(err)
	}
	return res
}

// untimed returns a results file with its timing fields removed: the
// "seconds" of JSON objects, the seconds and examples-per-second columns
// of CSV files.
func untimed(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch filepath.Ext(path) {
	case ".json":
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
	case ".csv":
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var keep []int
		for i, h := range recs[0] {
			if !strings.HasPrefix(h, "seconds") && !strings.HasPrefix(h, "examples_per_second") {
				keep = append(keep, i)
			}
		}
		var sb strings.Builder
		for _, r := range recs {
			for _, i := range keep {
				sb.WriteString(r[i] + ",")
			}
			sb.WriteString("\n")
		}
		return sb.String()
	}
	return string(b)
}

// results lists the results files of a directory, relative to it.
func resultFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"*.json", "*.csv", "runs/*.json", "runs/*.csv"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
	}
	slices.Sort(out)
	return out
}

func sameResults(t *testing.T, a, b string) {
	t.Helper()
	fa, fb := resultFiles(t, a), resultFiles(t, b)
	if !slices.Equal(fa, fb) {
		t.Fatalf("files differ:\n%v\n%v", fa, fb)
	}
	for _, f := range fa {
		if f == "study.json" {
			continue // the shard differs
		}
		if x, y := untimed(t, filepath.Join(a, f)), untimed(t, filepath.Join(b, f)); x != y {
			t.Errorf("%s differs:\n%s\n%s", f, x, y)
		}
	}
}

func TestDeterministicAcrossWorkers(t *testing.T) {
	s := smallStudy(t)
	d1, d4 := t.TempDir(), t.TempDir()
	r1 := runInto(t, s, Options{Workers: 1}, d1)
	runInto(t, s, Options{Workers: 4}, d4)
	if len(r1.Runs) != 8 {
		t.Fatalf("%d runs, want 8", len(r1.Runs))
	}
	sameResults(t, d1, d4)
}

func TestInitialWeights(t *testing.T) {
	s := smallStudy(t)
	s.Budget.Epochs = 1
	res, err := s.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	bySeed := map[uint64]string{}
	for _, r := range res.Runs {
		if r.InitHash == "" {
			t.Fatalf("run %s has no initial fingerprint", r.ID())
		}
		if h, ok := bySeed[r.Seed]; ok && h != r.InitHash {
			t.Errorf("seed %d: run %s starts from %s, another from %s", r.Seed, r.ID(), r.InitHash, h)
		}
		bySeed[r.Seed] = r.InitHash
	}
	if bySeed[1] == bySeed[2] {
		t.Errorf("seeds 1 and 2 start from the same weights %s", bySeed[1])
	}
}

func TestShardMerge(t *testing.T) {
	s := smallStudy(t)
	whole := t.TempDir()
	runInto(t, s, Options{Workers: 2}, whole)
	var dirs []string
	for i := range 3 {
		d := t.TempDir()
		r := runInto(t, s, Options{Shard: Shard{Index: i, Count: 3}}, d)
		for _, run := range r.Runs {
			if run.Index%3 != i {
				t.Errorf("shard %d ran run %d", i, run.Index)
			}
		}
		dirs = append(dirs, d)
	}
	res, err := Load(dirs...)
	if err != nil {
		t.Fatal(err)
	}
	merged := t.TempDir()
	if err := res.Write(merged); err != nil {
		t.Fatal(err)
	}
	if _, err := res.Report(merged, ReportOptions{PlotOptions: PlotOptions{Formats: []string{}}}); err != nil {
		t.Fatal(err)
	}
	sameResults(t, whole, merged)

	// A different study does not merge.
	other := smallStudy(t)
	other.Budget.Epochs = 1
	od := t.TempDir()
	runInto(t, other, Options{Shard: Shard{0, 4}}, od)
	if _, err := Load(dirs[0], od); !errors.Is(err, ErrMerge) || !strings.Contains(err.Error(), "differ in budget") {
		t.Errorf("merging different studies: got %v, want ErrMerge naming the budget", err)
	}
}

func TestPlots(t *testing.T) {
	s := smallStudy(t)
	res, err := s.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, err := res.Report(dir, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"summary.md", "summary.csv", "summary.json"}
	for _, f := range []string{FigLossEpochs, FigLossExamples, FigLossGradEvals, FigLossTime, FigValAccuracy} {
		want = append(want, f+".png", f+".svg")
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
		if len(b) == 0 {
			t.Errorf("%s is empty", p)
		}
		switch filepath.Ext(p) {
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
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Errorf("%s: %v", p, err)
					break
				}
				if se, ok := tok.(xml.StartElement); ok && root == "" {
					root = se.Name.Local
				}
			}
			if root != "svg" {
				t.Errorf("%s: root element %q, want svg", p, root)
			}
		}
	}
}

// syntheticResults builds results by hand, with fixed timings, for the
// golden table.
func syntheticResults() *Results {
	cfgs := []Config{
		{Variant: data.FullBatch(), Optimizer: "sgd", LR: 0.1},
		{Variant: data.Minibatch(32), Optimizer: "adam", Hyper: map[string]any{"amsgrad": true}, LR: 0.001},
	}
	res := &Results{Meta: Meta{Name: "golden", Data: "moons", TrainRows: 64, ValRows: 16, Loss: "binary_crossentropy",
		Configs: cfgs, Seeds: []uint64{1, 2}, Budget: Budget{Epochs: 2}, Target: Target{Metric: "val_loss", Value: 0.5}, TotalRuns: 4}}
	ep := func(e int, loss, vl, acc, va float64, ex, ge int64, secs float64) nn.EpochRecord {
		return nn.EpochRecord{Epoch: e, Loss: loss, Metrics: map[string]float64{"accuracy": acc, "val_loss": vl, "val_accuracy": va},
			LR: 0.1, Examples: ex, GradEvals: ge, Elapsed: time.Duration(secs * float64(time.Second))}
	}
	init := map[string]float64{"loss": 0.7, "accuracy": 0.5, "val_loss": 0.71, "val_accuracy": 0.5}
	res.Runs = []RunResult{
		{Run: Run{0, 0, cfgs[0], 1}, Initial: init, History: &nn.History{Epochs: []nn.EpochRecord{
			ep(1, 0.6, 0.62, 0.7, 0.6875, 64, 1, 0.5), ep(2, 0.5, 0.45, 0.8, 0.8125, 128, 2, 1)}}},
		{Run: Run{1, 0, cfgs[0], 2}, Initial: init, History: &nn.History{Epochs: []nn.EpochRecord{
			ep(1, 0.65, 0.66, 0.6, 0.625, 64, 1, 0.5), ep(2, 0.55, 0.56, 0.75, 0.75, 128, 2, 1)}}},
		{Run: Run{2, 1, cfgs[1], 1}, Initial: init, History: &nn.History{Epochs: []nn.EpochRecord{
			ep(1, 0.4, 0.41, 0.9, 0.875, 64, 2, 0.25), ep(2, 0.3, 0.33, 0.95, 0.9375, 128, 4, 0.5)}}},
	}
	return res
}

// syntheticTested is syntheticResults with all four runs and test values:
// adam beats sgd by 0.1 and 0.2 in test accuracy on seeds 1 and 2.
func syntheticTested() *Results {
	res := syntheticResults()
	res.Meta.TestRows = 20
	cfgs := res.Meta.Configs
	res.Runs = append(res.Runs, RunResult{Run: Run{3, 1, cfgs[1], 2}, Initial: res.Runs[2].Initial, History: &nn.History{Epochs: []nn.EpochRecord{
		{Epoch: 1, Loss: 0.35, Metrics: map[string]float64{"accuracy": 0.9, "val_loss": 0.36, "val_accuracy": 0.9}, LR: 0.001, Examples: 64, GradEvals: 2, Elapsed: time.Second / 4},
		{Epoch: 2, Loss: 0.25, Metrics: map[string]float64{"accuracy": 0.95, "val_loss": 0.3, "val_accuracy": 0.95}, LR: 0.001, Examples: 128, GradEvals: 4, Elapsed: time.Second / 2}}}})
	for i, acc := range []float64{0.7, 0.75, 0.8, 0.95} {
		res.Runs[i].Test = map[string]float64{"loss": 1 - acc, "accuracy": acc}
	}
	return res
}

func TestSummaryMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	if err := syntheticTested().Summary().WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	// The intervals were checked by hand: test accuracy 0.8 and 0.95 have
	// std 0.106 and half-width t(0.975, 1)·0.106/√2 = 12.71·0.075 = 0.953;
	// the differences 0.1 and 0.2 give t = 3 on 1 degree of freedom, p =
	// 0.205.
	want := `## golden: moons, 64 training, 16 validation and 20 test rows

Mean ± half-width of the 95% confidence interval (Student t) over the seeds of 4 runs. Final values are those of the last epoch; test values those of the trained models on the test set, which neither training nor tuning used; "to target" is the first epoch where val_loss ≤ 0.5.

| configuration | lr | seeds | train loss | val loss | val acc | test loss | test acc | epochs to target | examples to target | grad evals to target | seconds to target | examples/s |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
| full sgd | 0.1 | 2 | 0.525 ± 0.318 | 0.505 ± 0.699 | 0.7812 ± 0.397 | 0.275 ± 0.318 | 0.725 ± 0.318 | 2 (1/2) | 128 (1/2) | 2 (1/2) | 1 (1/2) | 128 ± 0 |
| minibatch(32) adam(amsgrad=true) | 0.001 | 2 | 0.275 ± 0.318 | 0.315 ± 0.191 | 0.9437 ± 0.0794 | 0.125 ± 0.953 | 0.875 ± 0.953 | 1 ± 0 | 64 ± 0 | 2 ± 0 | 0.25 ± 0 | 256 ± 0 |

### Paired comparisons with full sgd lr=0.1 on test_accuracy

Seed by seed, since every run of a seed starts from the same weights: the difference is the configuration's value less the baseline's, its mean with a 95% confidence interval; two-sided p-values of the paired t test; "better" or "worse" when the paired t test's p < 0.05, "no significant difference" otherwise.

| configuration | pairs | difference [95% CI] | p (paired t) | verdict |
|---|---|---|---|---|
| minibatch(32) adam(amsgrad=true) lr=0.001 | 2 | +0.15 [-0.485, 0.785] | 0.2 | no significant difference |
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	// A baseline by name, another metric; unknown ones name their field.
	s, err := syntheticTested().SummaryWith(SummaryOptions{Baseline: "minibatch(32) adam(amsgrad=true)", Metric: "val_loss"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Comparisons) != 1 || s.Comparisons[0].Config.Optimizer != "sgd" || s.Metric != "val_loss" {
		t.Errorf("comparisons %+v on %q, want sgd against adam on val_loss", s.Comparisons, s.Metric)
	}
	for _, c := range []struct {
		opt   SummaryOptions
		field string
	}{{SummaryOptions{Baseline: "wobble"}, "baseline"}, {SummaryOptions{Metric: "test_wobble"}, "compare_metric"}} {
		var ce *ConfigError
		if _, err := syntheticTested().SummaryWith(c.opt); !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("%+v: %v, want an error for %s", c.opt, err, c.field)
		}
	}
}

func TestBadStudyFiles(t *testing.T) {
	good := `{
  "model": {"builtin": "xor-2-10-1"},
  "data": {"name": "xor"},
  "grid": {"variants": ["full"], "optimizers": [{"name": "sgd"}], "lrs": [0.5], "seeds": [1]},
  "budget": {"epochs": 2}
}`
	if f, err := Parse(strings.NewReader(good), "good.json"); err != nil {
		t.Fatal(err)
	} else if _, err := f.Study(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		old, new, want string
	}{
		{`"name": "sgd"`, `"name": "sgdx"`, `grid.optimizers[0].name: optim: unknown optimizer "sgdx"`},
		{`"name": "sgd"`, `"name": "sgd", "hyper": {"momentum": -1}`, "grid.optimizers[0].hyper"},
		{`"lrs": [0.5]`, `"lrs": [-0.5]`, "grid.lrs[0]: learning rate -0.5 must be positive"},
		{`"lrs": [0.5]`, `"lrs": []`, "grid.lrs: empty grid"},
		{`"seeds": [1]`, `"seeds": []`, "grid.seeds: empty grid"},
		{`"optimizers": [{"name": "sgd"}]`, `"optimizers": []`, "grid.optimizers: empty grid"},
		{`"variants": ["full"]`, `"variants": ["tiny"]`, `grid.variants[0]: "tiny" is not a variant`},
		{`"name": "xor"`, `"name": "iris"`, `data.name: unknown dataset "iris"`},
		{`"epochs": 2`, `"epochz": 2`, `budget.epochz: unknown field`},
		{`"epochs": 2`, `"epochs": 0`, "budget.epochs: 0 must be positive"},
		{`"epochs": 2`, `"epochs": 2, "max_time": "soon"`, "budget.max_time"},
		{`"builtin": "xor-2-10-1"`, `"builtin": "resnet"`, `model.builtin: unknown model "resnet"`},
		{`"lrs": [0.5]`, `"lrs": ["fast"]`, "grid.lrs"},
		{`"budget"`, `"budget" "x"`, "bad.json:5:"},
	}
	for _, tc := range tests {
		text := strings.Replace(good, tc.old, tc.new, 1)
		f, err := Parse(strings.NewReader(text), "bad.json")
		if err == nil {
			_, err = f.Study()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrConfig) {
			t.Errorf("%s -> %s: got error %v, want one containing %q wrapping ErrConfig", tc.old, tc.new, err, tc.want)
		}
	}
}

func TestStudyFileKeras(t *testing.T) {
	m, err := XORModel()
	if err != nil {
		t.Fatal(err)
	}
	k, err := keras.ToJSON(m)
	if err != nil {
		t.Skipf("keras.ToJSON: %v", err)
	}
	text := `{"model": {"keras": ` + string(k) + `}, "data": {"name": "xor"},
	  "grid": {"variants": ["full", "stochastic"], "optimizers": [{"name": "sgd"}], "lrs": [0.5], "seeds": [1]},
	  "budget": {"epochs": 2}}`
	path := filepath.Join(t.TempDir(), "xor.json")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 2 || res.Runs[0].InitHash != res.Runs[1].InitHash || res.Runs[0].Err != "" {
		t.Errorf("runs %+v, want 2 from the same weights", res.Runs)
	}
}

func TestBudgetsInStudy(t *testing.T) {
	s := smallStudy(t)
	s.Budget = Budget{Epochs: 100, MaxExamples: 100}
	s.Grid.Seeds = []uint64{1}
	res, err := s.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Runs {
		last := r.History.Last()
		// The budget is checked after each step: at most one batch over.
		if last.Examples < 100 || last.Examples >= 100+int64(r.Config.Variant.BatchSize(s.Train.Len())) {
			t.Errorf("%s: %d examples, want just over 100", r.ID(), last.Examples)
		}
	}
}

func TestParseVariantAndShard(t *testing.T) {
	for in, want := range map[string]data.Batching{
		"full": data.FullBatch(), "stochastic": data.Stochastic(), "minibatch(32)": data.Minibatch(32),
		"mb8": data.Minibatch(8), "minibatch:4,noshuffle": {Size: 4, NoShuffle: true}, "16": data.Minibatch(16),
	} {
		got, err := ParseVariant(in)
		if err != nil || got != want {
			t.Errorf("ParseVariant(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, _ := ParseVariant(VariantName(got)); back != got {
			t.Errorf("VariantName(%v) = %q does not read back", got, VariantName(got))
		}
	}
	for _, bad := range []string{"", "minibatch(0)", "big", "full,fast"} {
		if _, err := ParseVariant(bad); err == nil {
			t.Errorf("ParseVariant(%q): no error", bad)
		}
	}
	if sh, err := ParseShard("2/5"); err != nil || sh != (Shard{2, 5}) {
		t.Errorf("ParseShard(2/5) = %v, %v", sh, err)
	}
	for _, bad := range []string{"5/5", "-1/2", "1", "a/b", "0/0"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q): no error", bad)
		}
	}
}

func TestFloatJSON(t *testing.T) {
	for _, v := range []float64{1.5, 0} {
		b, _ := json.Marshal(Float(v))
		var f Float
		if err := json.Unmarshal(b, &f); err != nil || float64(f) != v {
			t.Errorf("%v: round trip %s -> %v, %v", v, b, f, err)
		}
	}
	var f Float
	if err := json.Unmarshal([]byte(`"NaN"`), &f); err != nil || f == f {
		t.Errorf("NaN: got %v, %v", f, err)
	}
}

// tinyFile is a study of 8 one-epoch runs on 40 rows of two moons.
func tinyFile() *File {
	return &File{
		Name:  "tiny",
		Model: ModelSpec{Builtin: "mlp", Hidden: []int{4}, Activation: "tanh"},
		Data:  DataSpec{Name: "moons", N: 40, Seed: 3},
		Grid: GridSpec{
			Variants:   []string{"full", "minibatch(8)"},
			Optimizers: []OptimizerSpec{{Name: "sgd"}, {Name: "adam", LRs: []float64{0.05}}},
			LRs:        []float64{0.3},
			Seeds:      []uint64{1, 2},
		},
		Budget: BudgetSpec{Epochs: 1},
	}
}

func tinyStudy(t *testing.T, edit func(*File)) *Study {
	t.Helper()
	f := tinyFile()
	if edit != nil {
		edit(f)
	}
	s, err := f.Study()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestValidateTrainsNothingWrong checks what Validate finds by building a
// model: mistakes that used to fail every run.
func TestValidateTrainsNothingWrong(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(*Study)
		field, want string
		is          error
	}{
		{"activation", func(s *Study) {
			s.Model = func() (*nn.Sequential, error) { return MLP(2, []int{4}, "wobble", 1, "sigmoid"), nil }
		}, "model", `unknown activation "wobble"`, nn.ErrUnknownName},
		{"input width", func(s *Study) {
			s.Model = func() (*nn.Sequential, error) { return MLP(3, []int{4}, "tanh", 1, "sigmoid"), nil }
		}, "model", "", nil},
		{"model error", func(s *Study) {
			s.Model = func() (*nn.Sequential, error) { return nil, errors.New("no such file") }
		}, "model", "no such file", nil},
		{"target metric", func(s *Study) { s.Target = Target{Metric: "val_acc", Value: 0.9} },
			"target.metric", `"val_acc" is not recorded (valid: loss, accuracy, val_loss, val_accuracy)`, nil},
		{"hyperparameter JSON cannot hold", func(s *Study) { s.Grid.Optimizers[0].Hyper = map[string]any{"momentum": func() {}} },
			"grid.optimizers[0].hyper", "", nil},
		{"duplicate rate", func(s *Study) { s.Grid.LRs = []float64{0.1, 0.2, 0.1} }, "grid.lrs[2]", "learning rate 0.1 repeats", nil},
	}
	for _, tc := range tests {
		s := tinyStudy(t, nil)
		tc.edit(s)
		err := s.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a ConfigError for %s containing %q", tc.name, err, tc.field, tc.want)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: %v does not match %v", tc.name, err, tc.is)
		}
	}
}

// TestErrorsOnce checks that errors say each thing once and name fields as
// a study file does.
func TestErrorsOnce(t *testing.T) {
	parse := func(text string) error {
		f, err := Parse(strings.NewReader(text), "s.json")
		if err == nil {
			_, err = f.Study()
		}
		return err
	}
	tests := []struct {
		err       error
		want      string
		line, col int
		field     string
		alsoIs    error
	}{
		{parse(""), "study: s.json: empty study file", 0, 0, "", nil},
		{parse(" \n\t"), "study: s.json: empty study file", 0, 0, "", nil},
		{parse(`{"budget": {"epochs": "3"}}`), "study: s.json:1:23: budget.epochs: a string, want an integer", 1, 23, "budget.epochs", nil},
		{parse("{\n  \"grid\": {\"seeds\": [-1]}}"), "study: s.json:2:22: grid.seeds: the number -1, want a non-negative integer", 2, 22, "grid.seeds", nil},
		{parse(`{"grid": {"optimizers": [{"name": "sgd", "hyperz": {}}]}}`), "study: s.json: grid.optimizers[0].hyperz: unknown field (valid: name, hyper, lrs, lr_range, variants)", 0, 0, "grid.optimizers[0].hyperz", nil},
		{parse(`{"budget": {"epochs": 3}} {}`), "study: s.json:1:27: data after the object", 1, 27, "", nil},
		{parse(`{"budget": {"epochs": 3}`), "study: s.json: the file ends inside the object", 0, 0, "", nil},
		{func() error { _, err := ParseVariant("mb0"); return err }(), `study: "mb0" is not a variant: want full, stochastic or minibatch(n) with n >= 1`, 0, 0, "", nil},
		{func() error { _, err := ParseShard("2/2"); return err }(), `study: shard: "2/2", want i/n with 0 <= i < n`, 0, 0, "shard", nil},
		{func() error {
			f := tinyFile()
			f.Grid.Optimizers[0].Name = "sgdx"
			_, err := f.Study()
			return err
		}(), `study: grid.optimizers[0].name: optim: unknown optimizer "sgdx"`, 0, 0, "grid.optimizers[0].name", graph.ErrUnknown},
	}
	for _, tc := range tests {
		err := tc.err
		var ce *ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) {
			t.Errorf("%v: not a ConfigError matching ErrConfig", err)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, tc.want) || ce.Line != tc.line || ce.Column != tc.col || ce.Field != tc.field {
			t.Errorf("got %q (line %d, column %d, field %q)\nwant %q (line %d, column %d, field %q)", msg, ce.Line, ce.Column, ce.Field, tc.want, tc.line, tc.col, tc.field)
		}
		if tc.alsoIs != nil && !errors.Is(err, tc.alsoIs) {
			t.Errorf("%v does not match %v", err, tc.alsoIs)
		}
		if strings.Count(msg, "study:") != 1 || strings.Contains(msg, "invalid study") || strings.Contains(msg, "Go struct") || strings.Contains(msg, "EOF") {
			t.Errorf("%q repeats itself or shows Go internals", msg)
		}
	}
}
