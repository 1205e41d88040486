package data

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// sizes returns the lengths of the batches of one epoch.
func sizes(b Batcher, epoch, n int, rng *rand.Rand) []int {
	var got []int
	for batch := range b.Epoch(epoch, make([]int, n), rng) {
		got = append(got, len(batch))
	}
	return got
}

func TestBatchingSizes(t *testing.T) {
	for _, tc := range []struct {
		b     Batching
		n     int
		want  []int
		name  string
		steps int
	}{
		{Minibatch(4), 10, []int{4, 4, 2}, "minibatch(4)", 3},
		{Batching{Size: 4, DropLast: true}, 10, []int{4, 4}, "minibatch(4)", 2},
		{Batching{Size: 5, DropLast: true}, 10, []int{5, 5}, "minibatch(5)", 2},
		{FullBatch(), 10, []int{10}, "full", 1},
		{Stochastic(), 3, []int{1, 1, 1}, "stochastic", 3},
		{Minibatch(32), 10, []int{10}, "minibatch(32)", 1},
		{Batching{Size: 4, NoShuffle: true}, 8, []int{4, 4}, "minibatch(4)", 2},
	} {
		t.Run(fmt.Sprintf("%v/drop=%v/n=%d", tc.b, tc.b.DropLast, tc.n), func(t *testing.T) {
			if err := tc.b.Validate(tc.n); err != nil {
				t.Fatalf("Validate(%d) = %v", tc.n, err)
			}
			got := sizes(tc.b, 1, tc.n, rand.New(rand.NewPCG(1, 2)))
			if !slices.Equal(got, tc.want) {
				t.Errorf("batch sizes = %v, want %v", got, tc.want)
			}
			if s := tc.b.Steps(tc.n); s != tc.steps {
				t.Errorf("Steps(%d) = %d, want %d", tc.n, s, tc.steps)
			}
			if m := tc.b.MaxBatch(tc.n); m != tc.want[0] {
				t.Errorf("MaxBatch(%d) = %d, want %d", tc.n, m, tc.want[0])
			}
			if s := tc.b.String(); s != tc.name {
				t.Errorf("String() = %q, want %q", s, tc.name)
			}
		})
	}
}

func TestBatchingValidate(t *testing.T) {
	for _, tc := range []struct {
		b    Batching
		n    int
		want error // nil for valid; ErrEmpty, or errAny for an unwrapped error
	}{
		{FullBatch(), 1, nil},
		{Minibatch(4), 4, nil},
		{Batching{Size: 4, DropLast: true}, 4, nil},
		{FullBatch(), 0, ErrEmpty},
		{Minibatch(-1), 10, errAny},
		{Batching{Size: 11, DropLast: true}, 10, ErrEmpty},
	} {
		err := tc.b.Validate(tc.n)
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%+v.Validate(%d) = %v, want nil", tc.b, tc.n, err)
		case tc.want != nil && err == nil:
			t.Errorf("%+v.Validate(%d) = nil, want an error", tc.b, tc.n)
		case tc.want != nil && tc.want != errAny && !errors.Is(err, tc.want):
			t.Errorf("%+v.Validate(%d) = %v, want %v", tc.b, tc.n, err, tc.want)
		}
	}
}

// errAny stands for "some error" in tables.
var errAny = errors.New("any error")

func TestEpochEachRowOnce(t *testing.T) {
	const n = 103
	for _, b := range []Batching{FullBatch(), Stochastic(), Minibatch(4), Minibatch(10), Minibatch(200), {Size: 7, NoShuffle: true}} {
		rng := rand.New(rand.NewPCG(3, 4))
		order := make([]int, n)
		for epoch := 1; epoch <= 3; epoch++ {
			seen := make([]int, n)
			for batch := range b.Epoch(epoch, order, rng) {
				for _, i := range batch {
					seen[i]++
				}
			}
			for i, c := range seen {
				if c != 1 {
					t.Fatalf("%v epoch %d: row %d seen %d times, want 1", b, epoch, i, c)
				}
			}
		}
	}
}

// epochOrder returns the concatenated batches of one epoch.
func epochOrder(b Batcher, epoch, n int, rng *rand.Rand) []int {
	var got []int
	for batch := range b.Epoch(epoch, make([]int, n), rng) {
		got = append(got, batch...)
	}
	return got
}

func TestEpochShuffling(t *testing.T) {
	const n = 50
	b := Minibatch(8)
	rng := rand.New(rand.NewPCG(5, 6))
	e1, e2 := epochOrder(b, 1, n, rng), epochOrder(b, 2, n, rng)
	if slices.Equal(e1, e2) {
		t.Errorf("epochs 1 and 2 have the same order %v, want different permutations", e1)
	}
	same := rand.New(rand.NewPCG(5, 6))
	if r1 := epochOrder(b, 1, n, same); !slices.Equal(r1, e1) {
		t.Errorf("same seed: epoch 1 order %v, want %v", r1, e1)
	}
	if r2 := epochOrder(b, 2, n, same); !slices.Equal(r2, e2) {
		t.Errorf("same seed: epoch 2 order %v, want %v", r2, e2)
	}
	identity := make([]int, n)
	for i := range identity {
		identity[i] = i
	}
	if got := epochOrder(Batching{Size: 8, NoShuffle: true}, 1, n, nil); !slices.Equal(got, identity) {
		t.Errorf("NoShuffle order = %v, want the identity", got)
	}
	if got := epochOrder(FullBatch(), 1, n, nil); !slices.Equal(got, identity) {
		t.Errorf("full batch order = %v, want the identity (full batch is not shuffled)", got)
	}
}

func TestEpochStopsEarly(t *testing.T) {
	k := 0
	for range Minibatch(2).Epoch(1, make([]int, 10), rand.New(rand.NewPCG(1, 1))) {
		k++
		if k == 2 {
			break
		}
	}
	if k != 2 {
		t.Errorf("got %d batches after break, want 2", k)
	}
}

// runEpoch iterates one epoch, gathering each batch into the reused buffers
// xb and yb, as a trainer does.
func runEpoch(b Batcher, epoch int, order []int, rng *rand.Rand, d *Dataset, xb, yb *tensor.Dense) int {
	steps := 0
	for batch := range b.Epoch(epoch, order, rng) {
		if err := Gather(xb, d.X, batch); err != nil {
			panic(err)
		}
		if err := Gather(yb, d.Y, batch); err != nil {
			panic(err)
		}
		steps++
	}
	return steps
}

func TestEpochAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	// Epoch itself allocates only the iterator closure.
	order := make([]int, 100)
	b := Minibatch(4)
	if allocs := testing.AllocsPerRun(20, func() { b.Epoch(1, order, rng) }); allocs > 1 {
		t.Errorf("Epoch: %v allocations, want at most 1 (the iterator closure)", allocs)
	}
	// Iterating an epoch and gathering every batch into reused buffers
	// allocates nothing per batch: the count for 1000 batches equals the
	// count for 10. What remains per epoch (the iterator, and the loop
	// body closure and its state which range-over-func moves to the heap
	// when the iterator is not inlined) is a constant.
	perEpoch := func(n int, policy Batcher) float64 {
		d, err := Spirals(n, 0.1, tensor.Float32, rng)
		if err != nil {
			t.Fatal(err)
		}
		m := policy.MaxBatch(n)
		xb := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(m, d.Features()))
		yb := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(m, d.Targets()))
		order := make([]int, n)
		epoch := 0
		return testing.AllocsPerRun(20, func() {
			epoch++
			runEpoch(policy, epoch, order, rng, d, xb, yb)
		})
	}
	for _, policy := range []Batching{Stochastic(), Minibatch(4), {Size: 3, DropLast: true}, {Size: 1, NoShuffle: true}} {
		small, large := perEpoch(10*policy.Size, policy), perEpoch(1000*policy.Size, policy)
		if small != large || large > 5 {
			t.Errorf("%v: %v allocations per epoch of 10 batches and %v per epoch of 1000, want the same small constant", policy, small, large)
		}
	}
}

// BenchmarkBatch times one batch (cutting it from the epoch and gathering
// it into reused buffers) per op: allocs/op must read 0, the few
// allocations of each epoch being spread over its many batches.
func BenchmarkBatch(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	d, err := Spirals(10000, 0.1, tensor.Float32, rng)
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1, 32, 256} {
		b.Run(fmt.Sprintf("batch=%d/float32", size), func(b *testing.B) {
			policy := Minibatch(size)
			xb := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(size, d.Features()))
			yb := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(size, d.Targets()))
			order := make([]int, d.Len())
			b.ReportAllocs()
			for epoch := 1; ; epoch++ {
				for batch := range policy.Epoch(epoch, order, rng) {
					if !b.Loop() {
						b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "examples/s")
						return
					}
					if err := Gather(xb, d.X, batch); err != nil {
						b.Fatal(err)
					}
					if err := Gather(yb, d.Y, batch); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func TestReplay(t *testing.T) {
	r := Replay{{{0, 1}, {2}}, {{2, 1, 0}}}
	if err := r.Validate(3); err != nil {
		t.Fatalf("Validate(3) = %v", err)
	}
	if m := r.MaxBatch(3); m != 3 {
		t.Errorf("MaxBatch = %d, want 3", m)
	}
	for _, tc := range []struct {
		epoch int
		want  []int
	}{{1, []int{2, 1}}, {2, []int{3}}, {3, []int{3}}} {
		if got := sizes(r, tc.epoch, 3, nil); !slices.Equal(got, tc.want) {
			t.Errorf("epoch %d sizes = %v, want %v", tc.epoch, got, tc.want)
		}
	}
	for _, bad := range []Replay{nil, {{}}, {{{}}}, {{{0, 3}}}, {{{-1}}}} {
		if err := bad.Validate(3); err == nil {
			t.Errorf("%v.Validate(3) = nil, want an error", bad)
		}
	}
}
