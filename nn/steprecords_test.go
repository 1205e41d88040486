package nn

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/optim"
	"gorgonia.org/tensor"
)

// TestStepRecordResolution checks the step-record policy: every step up to
// the limit, then steps 1, 1+e, 1+2e, ... with e a doubling power of two,
// and the latest step, never more than the limit and, once decimated, more
// than half of it; -1 keeps every step; epochs are all kept.
func TestStepRecordResolution(t *testing.T) {
	xor := data.XOR(tensor.Float64)
	for _, c := range []struct {
		limit, epochs int
		decimated     bool
	}{
		{limit: 0, epochs: 50},   // default 10000 > 200 steps
		{limit: -1, epochs: 50},  // every step
		{limit: 200, epochs: 50}, // exactly full
		{limit: 199, epochs: 50, decimated: true},
		{limit: 10, epochs: 50, decimated: true},
		{limit: 7, epochs: 30, decimated: true},
		{limit: 2, epochs: 5, decimated: true}, // step 1 and the latest
		{limit: 1, epochs: 5},                  // the latest only
	} {
		m := compiledXOR(t, 3, tensor.Float64)
		h, err := m.Fit(context.Background(), xor, FitConfig{Epochs: c.epochs, Batching: data.Stochastic(), MaxStepRecords: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		steps := 4 * c.epochs
		e := h.every()
		if len(h.Epochs) != c.epochs {
			t.Errorf("limit %d: %d epoch records, want %d", c.limit, len(h.Epochs), c.epochs)
		}
		if (e > 1) != c.decimated || e&(e-1) != 0 {
			t.Errorf("limit %d: StepEvery %d (decimated: want %v)", c.limit, h.StepEvery, c.decimated)
		}
		if c.limit > 0 && len(h.Steps) > c.limit {
			t.Errorf("limit %d: %d records", c.limit, len(h.Steps))
		}
		if c.decimated && c.limit > 2 && 2*len(h.Steps) <= c.limit {
			t.Errorf("limit %d: only %d records, want more than half the limit", c.limit, len(h.Steps))
		}
		var want []int
		for s := 1; s <= steps; s += e {
			want = append(want, s)
		}
		if want[len(want)-1] != steps {
			want = append(want, steps)
		}
		if c.limit == 1 {
			want = []int{steps}
		}
		var got []int
		for _, r := range h.Steps {
			got = append(got, r.Step)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("limit %d (every %d): records of steps %v, want %v", c.limit, e, got, want)
		}
	}
}

// TestStepRecordsResume checks that a run interrupted and resumed, with
// records decimated before and after the interruption, has the History of
// the uninterrupted run, bit for bit.
func TestStepRecordsResume(t *testing.T) {
	xor := data.XOR(tensor.Float64)
	cfg := FitConfig{Epochs: 30, Batching: data.Stochastic(), MaxStepRecords: 9}
	whole := compiledXOR(t, 5, tensor.Float64)
	hw, err := whole.Fit(context.Background(), xor, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := compiledXOR(t, 5, tensor.Float64)
	ctx, cancel := context.WithCancel(context.Background())
	stop := cfg
	stop.Callbacks = []Callback{StepFunc(func(_ *Training, rec StepRecord) error {
		if rec.Step == 43 {
			cancel()
		}
		return nil
	})}
	if _, err := m.Fit(ctx, xor, stop); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// Through TrainState and SetTrainState, as a checkpoint does.
	ts, err := m.TrainState()
	if err != nil {
		t.Fatal(err)
	}
	if ts.History.StepEvery < 2 {
		t.Fatalf("StepEvery %d after 43 steps with a limit of 9: the records were not decimated", ts.History.StepEvery)
	}
	if err := m.SetTrainState(ts); err != nil {
		t.Fatal(err)
	}
	resumed := cfg
	resumed.Resume = true
	h, err := m.Fit(context.Background(), xor, resumed)
	if err != nil {
		t.Fatal(err)
	}
	if h.StepEvery != hw.StepEvery || len(h.Steps) != len(hw.Steps) {
		t.Fatalf("resumed: every %d, %d records; whole: every %d, %d records", h.StepEvery, len(h.Steps), hw.StepEvery, len(hw.Steps))
	}
	for i := range hw.Steps {
		a, b := h.Steps[i], hw.Steps[i]
		a.Elapsed, b.Elapsed = 0, 0
		if a != b {
			t.Fatalf("record %d: resumed %+v, whole %+v", i, a, b)
		}
	}

	// A resumed run given a smaller limit halves the records it carries.
	m2 := compiledXOR(t, 5, tensor.Float64)
	if _, err := m2.Fit(context.Background(), xor, FitConfig{Epochs: 10, Batching: data.Stochastic(), MaxStepRecords: -1}); err != nil {
		t.Fatal(err)
	}
	h2, err := m2.Fit(context.Background(), xor, FitConfig{Epochs: 12, Batching: data.Stochastic(), MaxStepRecords: 5, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(h2.Steps) > 5 || h2.Steps[0].Step != 1 {
		t.Errorf("after resuming with limit 5: %d records from step %d", len(h2.Steps), h2.Steps[0].Step)
	}
}

// TestStepRecordsMemory is issue 15's case: 10^5 stochastic steps used to
// keep 10^5 records of 72 bytes (7.2 MB, and the slice reserved up front);
// with the default limit the History holds at most 10000 records (720
// kB). The heap is measured after a collection, with the History alive.
func TestStepRecordsMemory(t *testing.T) {
	const n = 100_000
	x := make([]float64, 2*n)
	y := make([]float64, n)
	for i := range y {
		a, b := i%2, i/2%2
		x[2*i], x[2*i+1], y[i] = float64(a), float64(b), float64(a^b)
	}
	d, err := data.New(must(data.FromFloat64s(x, tensor.Float64, n, 2)), must(data.FromFloat64s(y, tensor.Float64, n, 1)))
	if err != nil {
		t.Fatal(err)
	}
	m := NewSequential(&Dense{Units: 4, InputDim: 2, Activation: "tanh"}, &Dense{Units: 1, Activation: "sigmoid"})
	if err := m.Compile(CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewSGD(0.1), Seed: 1}); err != nil {
		t.Fatal(err)
	}
	// A first short run builds the graphs, so that what follows measures
	// the run itself.
	if _, err := m.Fit(context.Background(), d, FitConfig{Epochs: 1, Batching: data.Stochastic(), MaxSteps: 10}); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h, err := m.Fit(context.Background(), d, FitConfig{Epochs: 1, Batching: data.Stochastic()})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d steps: %d records (every %d), heap growth %d bytes", n, len(h.Steps), h.StepEvery, growth)
	if got := h.Steps[len(h.Steps)-1].Step; got != n {
		t.Errorf("the last record is of step %d, want the latest, %d", got, n)
	}
	// 720 kB of records, the shuffled order (800 kB) and small change;
	// the unbounded History took 7.2 MB more.
	const maxGrowth = 3 << 20
	if growth > maxGrowth {
		t.Errorf("heap grew by %d bytes over %d steps, want at most %d", growth, n, maxGrowth)
	}
	runtime.KeepAlive(h)
	runtime.KeepAlive(x)
	runtime.KeepAlive(y)
	runtime.KeepAlive(d)
}

// TestFitStepAllocations checks that recording steps, decimation included,
// adds no allocation to the training loop. A full-batch XOR epoch is one
// step and the epoch's end: the step allocates nothing, the epoch's end
// its record's map of metrics and the batcher's iterator (5 allocations
// per epoch measured; 10 before metrics were read without tensor's Data).
func TestFitStepAllocations(t *testing.T) {
	xor := data.XOR(tensor.Float64)
	for _, limit := range []int{0, 16} {
		m := compiledXOR(t, 1, tensor.Float64)
		fit := func(epochs int) uint64 {
			var a, b runtime.MemStats
			runtime.ReadMemStats(&a)
			if _, err := m.Fit(context.Background(), xor, FitConfig{Epochs: epochs, MaxStepRecords: limit}); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&b)
			return b.Mallocs - a.Mallocs
		}
		fit(5) // builds the graphs
		short, long := fit(100), fit(600)
		perStep := float64(long-short) / 500
		t.Logf("limit %d: %.2f allocations per step", limit, perStep)
		if perStep > 5.05 {
			t.Errorf("limit %d: %.2f allocations per step, want at most 5", limit, perStep)
		}
	}
}

// TestStepRecordsLatest checks that decimated step records still end with
// the latest step, which callbacks.Trajectory reads for its final snapshot.
func TestStepRecordsLatest(t *testing.T) {
	m := compiledXOR(t, 1, tensor.Float64)
	h, err := m.Fit(context.Background(), data.XOR(tensor.Float64), FitConfig{Epochs: 10, MaxStepRecords: 3})
	if err != nil {
		t.Fatal(err)
	}
	if last := h.Steps[len(h.Steps)-1].Step; last != 10 || len(h.Steps) > 3 {
		t.Fatalf("records of steps %v, want at most 3 ending with step 10", h.Steps)
	}
}
