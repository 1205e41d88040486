package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/descentlab/descent/graph"
)

// Report is what the descent-bench command prints as JSON.
type Report struct {
	Date       string   `json:"date"`
	GoVersion  string   `json:"go_version"`
	CPU        string   `json:"cpu"`
	GOMAXPROCS int      `json:"gomaxprocs"`
	BLAS       string   `json:"blas"`
	Data       string   `json:"data"`
	Quick      bool     `json:"quick"`
	Rounds     int      `json:"rounds"`
	Torch      string   `json:"torch"` // version, or why it did not run
	Results    []Result `json:"results"`
}

// NewReport returns a report with the machine line filled in.
func NewReport(quick bool) *Report {
	return &Report{
		Date:       time.Now().UTC().Format(time.RFC3339),
		GoVersion:  runtime.Version(),
		CPU:        CPUModel(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		BLAS:       graph.BLAS(),
		Quick:      quick,
	}
}

// RunInProcess runs every Go implementation and dtype of o in this
// process (peak RSS is then the whole run's) and returns the report. It is
// the command's quick mode without subprocesses or torch, for tests.
func RunInProcess(o Options) (*Report, error) {
	rep := NewReport(o.Quick)
	for _, impl := range o.impls() {
		for _, dt := range o.dtypes() {
			res, src, err := Run(o, impl, dt)
			if err != nil {
				return nil, err
			}
			rep.Data = src
			rep.Results = append(rep.Results, res...)
		}
	}
	return rep, nil
}

// Summarise replaces results measured in several interleaved rounds by
// one row per case: the median of every figure, with the fastest and
// slowest round's time per step. Rows keep the order of their first
// appearance.
func Summarise(results []Result) []Result {
	type caseKey struct {
		w, impl, threads, dt string
		batch                int
	}
	groups := map[caseKey][]Result{}
	var order []caseKey
	for _, r := range results {
		k := caseKey{r.Workload, r.Impl, r.Threads, r.DType, r.Batch}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	out := make([]Result, 0, len(order))
	for _, k := range order {
		g := groups[k]
		med := func(f func(Result) float64) float64 {
			v := make([]float64, len(g))
			for i, r := range g {
				v[i] = f(r)
			}
			sort.Float64s(v)
			if len(v)%2 == 1 {
				return v[len(v)/2]
			}
			return (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		r := g[0]
		r.UsPerStep = med(func(r Result) float64 { return r.UsPerStep })
		r.ExamplesPerSec = med(func(r Result) float64 { return r.ExamplesPerSec })
		r.MsPerEpoch = med(func(r Result) float64 { return r.MsPerEpoch })
		r.AllocsPerStep = med(func(r Result) float64 { return r.AllocsPerStep })
		r.BytesPerStep = med(func(r Result) float64 { return r.BytesPerStep })
		r.PeakRSSMB = med(func(r Result) float64 { return r.PeakRSSMB })
		r.Rounds = len(g)
		r.UsPerStepMin, r.UsPerStepMax = g[0].UsPerStep, g[0].UsPerStep
		for _, x := range g {
			r.UsPerStepMin = min(r.UsPerStepMin, x.UsPerStep)
			r.UsPerStepMax = max(r.UsPerStepMax, x.UsPerStep)
		}
		out = append(out, r)
	}
	return out
}

// spread is a row's half range over its rounds in percent of its median,
// or "" for a single run.
func (x Result) spread() string {
	if x.Rounds < 2 || x.UsPerStep <= 0 {
		return ""
	}
	return fmt.Sprintf("±%.0f%%", 50*(x.UsPerStepMax-x.UsPerStepMin)/x.UsPerStep)
}

// key identifies a row across implementations.
type key struct {
	w, dt string
	batch int
}

func (r *Report) best(impl string) map[key]Result {
	m := map[key]Result{}
	for _, x := range r.Results {
		if x.Impl != impl {
			continue
		}
		k := key{x.Workload, x.DType, x.Batch}
		if old, ok := m[k]; !ok || x.UsPerStep < old.UsPerStep {
			m[k] = x
		}
	}
	return m
}

// WriteTable prints the report as an aligned table: one line per case of
// descent and the floor, the best torch setting beside them, and the
// ratios: "÷floor" is descent's time over the floor's (1.5 or less is the
// target), "torch÷" is torch's time over descent's (above 1: descent is
// faster).
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "descent-bench %s  go %s  %s  GOMAXPROCS=%d  GEMM: %s  data: %s  torch: %s  quick=%v  rounds=%d\n",
		r.Date, r.GoVersion, r.CPU, r.GOMAXPROCS, r.BLAS, r.Data, r.Torch, r.Quick, max(1, r.Rounds))
	floor, torch := r.best(ImplFloor), r.best(ImplTorch)
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tdtype\tbatch\timpl\texamples/s\tms/epoch\tµs/step\tspread\tallocs/step\tB/step\tpeak MiB\t÷floor\ttorch÷\t")
	rows := append([]Result(nil), r.Results...)
	order := map[string]int{ImplDescent: 0, ImplFloor: 1, ImplTorch: 2}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Workload != b.Workload {
			return a.Workload < b.Workload
		}
		if a.DType != b.DType {
			return a.DType < b.DType
		}
		if a.Batch != b.Batch {
			return a.Batch < b.Batch
		}
		return order[a.Impl] < order[b.Impl]
	})
	for _, x := range rows {
		k := key{x.Workload, x.DType, x.Batch}
		ratioF, ratioT := "", ""
		if f, ok := floor[k]; ok && x.Impl != ImplFloor && f.UsPerStep > 0 {
			ratioF = fmt.Sprintf("%.2f", x.UsPerStep/f.UsPerStep)
		}
		if t, ok := torch[k]; ok && x.Impl != ImplTorch && x.UsPerStep > 0 {
			ratioT = fmt.Sprintf("%.2f", t.UsPerStep/x.UsPerStep)
		}
		impl := x.Impl
		if x.Threads != "" {
			impl += "(" + x.Threads + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.0f\t%.1f\t%.1f\t%s\t%.1f\t%.0f\t%.0f\t%s\t%s\t\n",
			x.Workload, x.DType, x.Batch, impl, x.ExamplesPerSec, x.MsPerEpoch, x.UsPerStep, x.spread(),
			x.AllocsPerStep, x.BytesPerStep, x.PeakRSSMB, ratioF, ratioT)
	}
	return tw.Flush()
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// TorchScript returns the path of torch_bench.py: next to this source file
// when it exists (go run, go test), else bench/torch_bench.py under the
// working directory.
func TorchScript() string {
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(file), "torch_bench.py")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join("bench", "torch_bench.py")
}

// TorchHelp says how to get PyTorch when it is missing.
const TorchHelp = "PyTorch not found: install it with `apt-get install -y python3-torch` (Debian) " +
	"or `pip install torch`, then run descent-bench again (it uses /usr/bin/python3 or -python)"

// TorchVersion returns torch's version through python, or an error.
func TorchVersion(python string) (string, error) {
	out, err := exec.Command(python, "-c", "import torch; print(torch.__version__)").Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// TorchSettings are the thread settings tried for torch; the best per case
// is compared. Torch's default of one thread per core spin-waits against
// OpenBLAS's threads on small batches.
var TorchSettings = []struct {
	Name string
	Env  []string
	Args []string
}{
	{"1 thread", []string{"OMP_NUM_THREADS=1"}, []string{"--threads", "1"}},
	{"2 threads, passive", []string{"OMP_WAIT_POLICY=PASSIVE"}, []string{"--threads", "2"}},
}

// RunTorch runs torch_bench.py for one dtype and thread setting with the
// given initial weights file and data, returning its results.
func RunTorch(python, script string, args []string, env []string) ([]Result, error) {
	cmd := exec.Command(python, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	var res []Result
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("bench: %s printed invalid JSON: %w", script, err)
	}
	return res, nil
}

// WriteWeights writes the initial weights of the MNIST and XOR models (seed
// Seed, float64) as little-endian float64 files mnist.bin and xor.bin in
// dir, parameters in order (W1 [in, hidden], b1, W2, b2), for the torch
// peer.
func WriteWeights(dir string) error {
	for name, mk := range map[string]func() ([][]float64, error){
		"mnist.bin": func() ([][]float64, error) {
			m, err := NewMNISTModel(graphFloat64)
			if err != nil {
				return nil, err
			}
			return Weights(m), nil
		},
		"xor.bin": func() ([][]float64, error) {
			m, err := NewXORModel(graphFloat64)
			if err != nil {
				return nil, err
			}
			return Weights(m), nil
		},
	} {
		w, err := mk()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		for _, p := range w {
			for _, v := range p {
				var b [8]byte
				putFloat64(b[:], v)
				buf.Write(b[:])
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
