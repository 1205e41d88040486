package bench

import (
	"strings"
	"testing"
)

func TestSummariseTakesMediansOverRounds(t *testing.T) {
	row := func(impl string, us, allocs float64) Result {
		return Result{Case: Case{Workload: W1, Impl: impl, DType: "float32", Batch: 4}, UsPerStep: us, AllocsPerStep: allocs, ExamplesPerSec: 4 / (us / 1e6)}
	}
	in := []Result{
		row(ImplDescent, 5, 3), row(ImplFloor, 2, 0),
		row(ImplDescent, 9, 3), row(ImplFloor, 3, 0),
		row(ImplDescent, 6, 4), row(ImplFloor, 2.5, 0),
	}
	out := Summarise(in)
	if len(out) != 2 {
		t.Fatalf("%d rows, want 2", len(out))
	}
	d := out[0]
	if d.Impl != ImplDescent || d.UsPerStep != 6 || d.UsPerStepMin != 5 || d.UsPerStepMax != 9 || d.Rounds != 3 || d.AllocsPerStep != 3 {
		t.Fatalf("descent row %+v: want median 6 µs (5..9) over 3 rounds, 3 allocs", d)
	}
	if got := d.spread(); got != "±33%" {
		t.Fatalf("spread %q, want ±33%%", got)
	}
	if f := out[1]; f.UsPerStep != 2.5 {
		t.Fatalf("floor median %v, want 2.5", f.UsPerStep)
	}
	rep := &Report{Rounds: 3, Results: out}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "rounds=3") || !strings.Contains(b.String(), "2.40") {
		t.Fatalf("table lacks the rounds or the ÷floor ratio 6/2.5:\n%s", b.String())
	}
}
