package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/nn"
	"gorgonia.org/tensor"
)

// Tolerances: float64 descent and the floor differ only in the order of
// sums, about 1e-16 relative per operation over sums of at most 784 terms;
// float32 has about 7 significant digits.
const (
	tol64 = 1e-9
	tol32 = 1e-4
)

func close(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// lossesAgree checks the loss before and after one SGD step on the same
// batch, so that the gradients and the update are compared too.
func lossesAgree[T interface{ ~float32 | ~float64 }](t *testing.T, m *nn.Sequential, d *data.Dataset, s FloorSpec, lr, tol float64) {
	t.Helper()
	f, err := floorFor[T](m, s)
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, d.Len())
	for i := range idx {
		idx[i] = i
	}
	if err := f.Gather(d.X, d.Y, idx); err != nil {
		t.Fatal(err)
	}
	for step := 0; step < 3; step++ {
		ev, err := m.Evaluate(d)
		if err != nil {
			t.Fatal(err)
		}
		got, want := ev["loss"], f.ComputeLoss()
		if !close(got, want, tol) {
			t.Errorf("%s after %d steps: descent loss %.15g, floor %.15g", m.DType(), step, got, want)
		}
		if _, err := m.Fit(context.Background(), d, nn.FitConfig{Epochs: 1}); err != nil {
			t.Fatal(err)
		}
		f.Step(lr)
		if err := f.Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFloorMatchesDescent(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		tol := tol64
		if dt == tensor.Float32 {
			tol = tol32
		}
		d, err := Synthetic(16, false, 7, dt)
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewMNISTModel(dt)
		if err != nil {
			t.Fatal(err)
		}
		s := FloorSpec{In: Pixels, Hidden: Hidden, Out: Classes, Act: "relu", OutAct: "softmax", Batch: 16}
		x, err := NewXORModel(dt)
		if err != nil {
			t.Fatal(err)
		}
		xs := FloorSpec{In: 2, Hidden: 10, Out: 1, Act: "tanh", OutAct: "sigmoid", Batch: 4}
		if dt == tensor.Float32 {
			lossesAgree[float32](t, m, d, s, MNISTLR, tol)
			lossesAgree[float32](t, x, data.XOR(dt), xs, XORLR, tol)
		} else {
			lossesAgree[float64](t, m, d, s, MNISTLR, tol)
			lossesAgree[float64](t, x, data.XOR(dt), xs, XORLR, tol)
		}
	}
}

func TestQuickReportJSON(t *testing.T) {
	rep, err := RunInProcess(Options{Tiny: true, TrainRows: 256, TestRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	b, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	// 2 implementations x 2 dtypes x 6 cases.
	if got, want := len(back.Results), 24; got != want {
		t.Fatalf("got %d results, want %d", got, want)
	}
	if back.GoVersion == "" || back.BLAS == "" || back.GOMAXPROCS <= 0 || back.Data != "synthetic" {
		t.Errorf("machine line incomplete: %+v", back)
	}
	for _, r := range back.Results {
		if !(r.UsPerStep > 0) || !(r.ExamplesPerSec > 0) || !(r.MsPerEpoch > 0) || !(r.PeakRSSMB > 0) {
			t.Errorf("%+v: a figure is not positive", r)
		}
		if r.Workload != W3 && !(r.FirstLoss > 0) {
			t.Errorf("%+v: no loss", r)
		}
	}
	var tab bytes.Buffer
	if err := back.WriteTable(&tab); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tab.String(), "÷floor") {
		t.Errorf("table has no ratio column:\n%s", tab.String())
	}
}
