package bench

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
	"gorgonia.org/tensor"
)

// Workload names.
const (
	W1 = "W1 xor 2-10-1"       // full batch of 4: per-step overhead
	W2 = "W2 mnist 784-128-10" // one epoch of SGD at a batch size
	W3 = "W3 mnist predict"    // the test set in batches of 1,000
)

// Implementations compared.
const (
	ImplDescent = "descent"
	ImplFloor   = "floor"
	ImplTorch   = "torch"
)

// Case is one measurement: a workload, an implementation, a dtype, a batch
// size and how many steps to time (after warm-up steps that are not).
type Case struct {
	Workload string `json:"workload"`
	Impl     string `json:"impl"`
	DType    string `json:"dtype"`
	Batch    int    `json:"batch"`
	Steps    int    `json:"steps"`
}

// Result is one row of the table.
type Result struct {
	Case
	// ExamplesPerSec is rows processed per second of timed steps.
	ExamplesPerSec float64 `json:"examples_per_s"`
	// MsPerEpoch is the time of one pass over the training set (60,000
	// rows; for W3 the 10,000 test rows; for W1 one full-batch step),
	// extrapolated from the timed steps.
	MsPerEpoch float64 `json:"ms_per_epoch"`
	// UsPerStep is the time of one step (one batch; for W3 one batch of
	// 1,000 predictions).
	UsPerStep float64 `json:"us_per_step"`
	// AllocsPerStep and BytesPerStep are Go heap allocations per step
	// (runtime.MemStats; 0 for torch).
	AllocsPerStep float64 `json:"allocs_per_step"`
	BytesPerStep  float64 `json:"bytes_per_step"`
	// PeakRSSMB is the process's peak resident set so far (VmHWM), in
	// MiB: cases run from the smallest to the largest in one process per
	// implementation and dtype, so it includes the dataset.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// FirstLoss and LastLoss are the losses of the first and last timed
	// steps (0 for W3).
	FirstLoss float64 `json:"first_loss"`
	LastLoss  float64 `json:"last_loss"`
	// Threads is torch's thread setting (torch only).
	Threads string `json:"threads,omitempty"`
	// Rounds is the number of interleaved rounds this row summarises (0
	// or 1: a single run). Every figure above is then the median over the
	// rounds, and UsPerStepMin and UsPerStepMax the fastest and slowest
	// round's time per step.
	Rounds       int     `json:"rounds,omitempty"`
	UsPerStepMin float64 `json:"us_per_step_min,omitempty"`
	UsPerStepMax float64 `json:"us_per_step_max,omitempty"`
}

// Options sets what a suite runs.
type Options struct {
	// Quick uses fewer steps (the whole suite in well under a minute).
	Quick bool
	// Tiny uses a handful of steps and TrainRows rows: for tests.
	Tiny bool
	// TrainRows, if positive, cuts the training set to that many rows (the
	// full batch is then this size). TestRows likewise cuts the test set to
	// a multiple of 1,000.
	TrainRows, TestRows int
	// Synthetic uses synthetic data even when the MNIST files are present.
	Synthetic bool
	// DTypes lists the dtypes to run; if empty, float32 and float64.
	DTypes []string
	// Impls lists the Go implementations to run; if empty, descent and floor.
	Impls []string
}

func (o Options) dtypes() []string {
	if len(o.DTypes) > 0 {
		return o.DTypes
	}
	return []string{"float32", "float64"}
}

func (o Options) impls() []string {
	if len(o.Impls) > 0 {
		return o.Impls
	}
	return []string{ImplDescent, ImplFloor}
}

// Cases lists the cases of one implementation and dtype, smallest first.
func Cases(o Options, impl, dtype string, trainRows int) []Case {
	type wl struct {
		w            string
		batch        int
		full, q, tny int
	}
	list := []wl{
		{W1, 4, 20000, 1000, 5},
		{W3, 1000, 100, 10, 1},
		{W2, 1, 10000, 500, 5},
		{W2, 32, 1875, 100, 3},
		{W2, 128, 468, 50, 2},
		{W2, trainRows, 5, 1, 1},
	}
	var cs []Case
	for _, l := range list {
		n := l.full
		switch {
		case o.Tiny:
			n = l.tny
		case o.Quick:
			n = l.q
		}
		cs = append(cs, Case{Workload: l.w, Impl: impl, DType: dtype, Batch: l.batch, Steps: n})
	}
	return cs
}

// Run runs every case of one implementation and dtype in this process,
// smallest first, and returns their results.
func Run(o Options, impl, dtype string) ([]Result, string, error) {
	dt, err := graph.ParseDType(dtype)
	if err != nil {
		return nil, "", err
	}
	d, err := LoadData(dt, o.Synthetic || o.Tiny, o.TrainRows, o.TestRows)
	if err != nil {
		return nil, "", err
	}
	if o.TrainRows > 0 && o.TrainRows < d.Train.Len() {
		if d.Train, err = d.Train.Slice(0, o.TrainRows); err != nil {
			return nil, "", err
		}
	}
	if o.TestRows > 0 && o.TestRows < d.Test.Len() {
		if d.Test, err = d.Test.Slice(0, o.TestRows); err != nil {
			return nil, "", err
		}
	}
	var res []Result
	for _, c := range Cases(o, impl, dtype, d.Train.Len()) {
		r, err := RunCase(c, d)
		if err != nil {
			return res, d.Source, fmt.Errorf("bench: %s %s %s batch %d: %w", c.Workload, c.Impl, c.DType, c.Batch, err)
		}
		res = append(res, r)
	}
	return res, d.Source, nil
}

// RunCase runs one case on d and measures it.
func RunCase(c Case, d *MNIST) (Result, error) {
	dt, err := graph.ParseDType(c.DType)
	if err != nil {
		return Result{}, err
	}
	var r Result
	switch c.Impl {
	case ImplDescent:
		r, err = runDescent(c, dt, d)
	case ImplFloor:
		if dt == tensor.Float32 {
			r, err = runFloor[float32](c, dt, d)
		} else {
			r, err = runFloor[float64](c, dt, d)
		}
	default:
		return Result{}, fmt.Errorf("bench: unknown implementation %q", c.Impl)
	}
	if err != nil {
		return r, err
	}
	r.Case = c
	r.PeakRSSMB = PeakRSSMB()
	return r, nil
}

// meter measures time and allocations between two points.
type meter struct {
	t0             time.Time
	ms0, ms1       runtime.MemStats
	dur            time.Duration
	allocs, nbytes uint64
}

func (m *meter) start() {
	runtime.GC()
	runtime.ReadMemStats(&m.ms0)
	m.t0 = time.Now()
}

func (m *meter) stop() {
	m.dur = time.Since(m.t0)
	runtime.ReadMemStats(&m.ms1)
	m.allocs = m.ms1.Mallocs - m.ms0.Mallocs
	m.nbytes = m.ms1.TotalAlloc - m.ms0.TotalAlloc
}

// OnTrainBegin, OnTrainEnd and OnEpochEnd make the meter an nn callback,
// so that Fit's own setup (data validation) is outside the timing.
func (m *meter) OnTrainBegin(*nn.Training) error { m.start(); return nil }
func (m *meter) OnTrainEnd(*nn.Training) error   { m.stop(); return nil }
func (m *meter) OnEpochEnd(*nn.Training, *nn.EpochRecord) error {
	return nil
}

// fill sets the per-step figures of r from the meter: steps of batch rows,
// epoch of epochRows rows.
func (m *meter) fill(r *Result, steps, batch, epochRows int) {
	us := float64(m.dur.Microseconds()) / float64(steps)
	if m.dur < time.Millisecond {
		us = float64(m.dur.Nanoseconds()) / 1e3 / float64(steps)
	}
	r.UsPerStep = us
	r.ExamplesPerSec = float64(batch) / (us / 1e6)
	r.MsPerEpoch = us / 1e3 * float64(epochRows) / float64(batch)
	r.AllocsPerStep = float64(m.allocs) / float64(steps)
	r.BytesPerStep = float64(m.nbytes) / float64(steps)
}

func runDescent(c Case, dt tensor.Dtype, d *MNIST) (Result, error) {
	var r Result
	switch c.Workload {
	case W1:
		m, err := NewXORModel(dt)
		if err != nil {
			return r, err
		}
		xor := data.XOR(dt)
		if _, err := m.Fit(context.Background(), xor, nn.FitConfig{Epochs: 3}); err != nil {
			return r, err
		}
		mt := &meter{}
		h, err := m.Fit(context.Background(), xor, nn.FitConfig{Epochs: c.Steps, Callbacks: []nn.Callback{mt}})
		if err != nil {
			return r, err
		}
		mt.fill(&r, c.Steps, 4, 4)
		r.FirstLoss, r.LastLoss = h.Steps[0].Loss, h.Steps[len(h.Steps)-1].Loss
	case W2:
		m, err := NewMNISTModel(dt)
		if err != nil {
			return r, err
		}
		batching := data.Minibatch(c.Batch)
		if c.Batch >= d.Train.Len() {
			batching = data.FullBatch()
		}
		if _, err := m.Fit(context.Background(), d.Train, nn.FitConfig{Epochs: 1, Batching: batching, MaxSteps: int64(min(c.Steps, 3))}); err != nil {
			return r, err
		}
		mt := &meter{}
		// Fit preallocates step records for every epoch asked for, so ask
		// for no more epochs than the steps need.
		perEpoch := batching.Steps(d.Train.Len())
		epochs := (c.Steps + perEpoch - 1) / perEpoch
		h, err := m.Fit(context.Background(), d.Train, nn.FitConfig{Epochs: epochs, Batching: batching, MaxSteps: int64(c.Steps), Callbacks: []nn.Callback{mt}})
		if err != nil {
			return r, err
		}
		mt.fill(&r, c.Steps, c.Batch, d.Train.Len())
		r.FirstLoss, r.LastLoss = h.Steps[0].Loss, h.Steps[len(h.Steps)-1].Loss
	case W3:
		m, err := NewMNISTModel(dt)
		if err != nil {
			return r, err
		}
		m.PredictBatchSize = c.Batch
		if _, err := m.Predict(d.Test.X); err != nil {
			return r, err
		}
		passes := max(1, c.Steps*c.Batch/d.Test.Len())
		mt := &meter{}
		mt.start()
		for range passes {
			if _, err := m.Predict(d.Test.X); err != nil {
				return r, err
			}
		}
		mt.stop()
		steps := passes * d.Test.Len() / c.Batch
		mt.fill(&r, steps, c.Batch, d.Test.Len())
	default:
		return r, fmt.Errorf("unknown workload %q", c.Workload)
	}
	return r, nil
}

func runFloor[T interface{ ~float32 | ~float64 }](c Case, dt tensor.Dtype, d *MNIST) (Result, error) {
	var r Result
	switch c.Workload {
	case W1:
		m, err := NewXORModel(dt)
		if err != nil {
			return r, err
		}
		f, err := floorFor[T](m, FloorSpec{In: 2, Hidden: 10, Out: 1, Act: "tanh", OutAct: "sigmoid", Batch: 4})
		if err != nil {
			return r, err
		}
		xor := data.XOR(dt)
		idx := []int{0, 1, 2, 3}
		step := func() error {
			if err := f.Gather(xor.X, xor.Y, idx); err != nil {
				return err
			}
			f.Step(XORLR)
			return f.Err()
		}
		if err := timeSteps(&r, step, f.Loss, 3, c.Steps, 4, 4); err != nil {
			return r, err
		}
	case W2:
		m, err := NewMNISTModel(dt)
		if err != nil {
			return r, err
		}
		n := d.Train.Len()
		f, err := floorFor[T](m, FloorSpec{In: Pixels, Hidden: Hidden, Out: Classes, Act: "relu", OutAct: "softmax", Batch: c.Batch})
		if err != nil {
			return r, err
		}
		rng := rand.New(rand.NewPCG(Seed, 2))
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		pos := n
		step := func() error {
			if pos+c.Batch > n {
				if c.Batch < n {
					rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
				}
				pos = 0
			}
			idx := order[pos : pos+c.Batch]
			pos += c.Batch
			if c.Batch == n { // the full batch reads the dataset in place
				if err := f.Bind(d.Train.X, d.Train.Y); err != nil {
					return err
				}
			} else if err := f.Gather(d.Train.X, d.Train.Y, idx); err != nil {
				return err
			}
			f.Step(MNISTLR)
			return f.Err()
		}
		if err := timeSteps(&r, step, f.Loss, min(c.Steps, 3), c.Steps, c.Batch, n); err != nil {
			return r, err
		}
	case W3:
		m, err := NewMNISTModel(dt)
		if err != nil {
			return r, err
		}
		f, err := floorFor[T](m, FloorSpec{In: Pixels, Hidden: Hidden, Out: Classes, Act: "relu", OutAct: "softmax", Batch: c.Batch})
		if err != nil {
			return r, err
		}
		rows := d.Test.Len() / c.Batch * c.Batch
		x := d.Test.X
		if rows != d.Test.Len() {
			if x, err = sliceX(d.Test, rows); err != nil {
				return r, err
			}
		}
		out := make([]T, rows*Classes)
		if err := f.Predict(x, out); err != nil {
			return r, err
		}
		passes := max(1, c.Steps*c.Batch/rows)
		mt := &meter{}
		mt.start()
		for range passes {
			if err := f.Predict(x, out); err != nil {
				return r, err
			}
		}
		mt.stop()
		mt.fill(&r, passes*rows/c.Batch, c.Batch, rows)
	default:
		return r, fmt.Errorf("unknown workload %q", c.Workload)
	}
	return r, nil
}

// timeSteps runs step warm times untimed, then steps times under a meter,
// recording the loss after the first and the last timed step.
func timeSteps(r *Result, step func() error, loss func() float64, warm, steps, batch, epochRows int) error {
	for range warm {
		if err := step(); err != nil {
			return err
		}
	}
	mt := &meter{}
	mt.start()
	for i := range steps {
		if err := step(); err != nil {
			return err
		}
		if i == 0 {
			r.FirstLoss = loss()
		}
	}
	mt.stop()
	r.LastLoss = loss()
	mt.fill(r, steps, batch, epochRows)
	return nil
}

func sliceX(d *data.Dataset, rows int) (*tensor.Dense, error) {
	s, err := d.Slice(0, rows)
	if err != nil {
		return nil, err
	}
	return s.X, nil
}

// PeakRSSMB returns the process's peak resident set size in MiB, from
// /proc/self/status's VmHWM, or getrusage's ru_maxrss where that is absent.
func PeakRSSMB() float64 {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		return float64(ru.Maxrss) / 1024
	}
	return 0
}

// CPUModel returns the CPU's model name from /proc/cpuinfo, or GOARCH.
func CPUModel() string {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}
