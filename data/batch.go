package data

import (
	"fmt"
	"iter"
	"math/rand/v2"
)

// A Batcher cuts one epoch of a dataset of n rows into batches of row
// indices. Batching is the usual one; Replay feeds explicit index lists.
type Batcher interface {
	// Validate reports whether the batcher can serve a dataset of n rows.
	Validate(n int) error
	// Epoch fills order (length n) with the epoch's row order and yields the
	// epoch's batches as sub-slices of it. epoch counts from 1. The yielded
	// slices are valid until the next call; Epoch itself does not allocate
	// beyond the iterator.
	Epoch(epoch int, order []int, rng *rand.Rand) iter.Seq[[]int]
	// MaxBatch returns the largest batch the batcher yields for n rows.
	MaxBatch(n int) int
}

// Batching is the descent variant as data: how each epoch is cut into
// batches. The zero value is full-batch gradient descent, unshuffled being
// irrelevant there.
type Batching struct {
	// Size is the batch size. If zero, the whole dataset is one batch (full
	// batch); 1 is stochastic gradient descent; any other n is minibatch.
	Size int
	// NoShuffle keeps the dataset's order instead of drawing a new
	// permutation each epoch.
	NoShuffle bool
	// DropLast drops the ragged last batch of an epoch instead of training
	// on it.
	DropLast bool
}

// FullBatch returns the full-batch policy: one step per epoch on every row.
func FullBatch() Batching { return Batching{} }

// Stochastic returns stochastic gradient descent: one row per step, shuffled.
func Stochastic() Batching { return Batching{Size: 1} }

// Minibatch returns minibatches of n rows, shuffled, ragged last batch kept.
func Minibatch(n int) Batching { return Batching{Size: n} }

// String names the policy: "full", "stochastic" or "minibatch(32)".
func (b Batching) String() string {
	switch b.Size {
	case 0:
		return "full"
	case 1:
		return "stochastic"
	}
	return fmt.Sprintf("minibatch(%d)", b.Size)
}

// Validate implements Batcher.
func (b Batching) Validate(n int) error {
	if n <= 0 {
		return fmt.Errorf("data: batching %v over %d rows: %w", b, n, ErrEmpty)
	}
	if b.Size < 0 {
		return fmt.Errorf("data: batch size %d is negative", b.Size)
	}
	if b.DropLast && b.Size > n {
		return fmt.Errorf("data: batch size %d with DropLast leaves no batch of %d rows: %w", b.Size, n, ErrEmpty)
	}
	return nil
}

// BatchSize returns the nominal batch size for n rows.
func (b Batching) BatchSize(n int) int {
	if b.Size == 0 || b.Size > n {
		return n
	}
	return b.Size
}

// MaxBatch implements Batcher.
func (b Batching) MaxBatch(n int) int { return b.BatchSize(n) }

// Steps returns the number of batches per epoch for n rows:
// ceil(n/size), or floor(n/size) with DropLast.
func (b Batching) Steps(n int) int {
	s := b.BatchSize(n)
	if b.DropLast {
		return n / s
	}
	return (n + s - 1) / s
}

// Epoch implements Batcher. Unless NoShuffle is set, order is a fresh
// permutation drawn from rng (rng must not be nil then), except for the full
// batch (Size 0), which keeps the dataset's order and draws nothing from rng:
// shuffling it would change nothing but the order of rows inside the one
// batch. Batches are consecutive runs of order, each of BatchSize rows but
// the last, which is shorter (ragged) or, with DropLast, dropped.
func (b Batching) Epoch(_ int, order []int, rng *rand.Rand) iter.Seq[[]int] {
	for i := range order {
		order[i] = i
	}
	if !b.NoShuffle && b.Size != 0 {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	size := b.BatchSize(len(order))
	return func(yield func([]int) bool) {
		for lo := 0; lo < len(order); lo += size {
			hi := min(lo+size, len(order))
			if hi-lo < size && b.DropLast {
				return
			}
			if !yield(order[lo:hi]) {
				return
			}
		}
	}
}

// Replay feeds explicit batches: Replay[e][k] is the k-th batch of epoch
// e+1. Epochs beyond the list repeat the last one. It is how a trajectory
// recorded elsewhere (such as a PyTorch reference) is replayed exactly.
type Replay [][][]int

// Validate implements Batcher.
func (r Replay) Validate(n int) error {
	if len(r) == 0 {
		return fmt.Errorf("data: replay has no epochs: %w", ErrEmpty)
	}
	for e, epoch := range r {
		if len(epoch) == 0 {
			return fmt.Errorf("data: replay epoch %d has no batches: %w", e+1, ErrEmpty)
		}
		for k, batch := range epoch {
			if len(batch) == 0 {
				return fmt.Errorf("data: replay epoch %d batch %d is empty: %w", e+1, k+1, ErrEmpty)
			}
			for _, i := range batch {
				if i < 0 || i >= n {
					return fmt.Errorf("data: replay epoch %d batch %d has row %d, dataset has %d: %w", e+1, k+1, i, n, ErrShape)
				}
			}
		}
	}
	return nil
}

// MaxBatch implements Batcher.
func (r Replay) MaxBatch(int) int {
	m := 0
	for _, epoch := range r {
		for _, b := range epoch {
			m = max(m, len(b))
		}
	}
	return m
}

// Epoch implements Batcher. It ignores order and rng.
func (r Replay) Epoch(epoch int, _ []int, _ *rand.Rand) iter.Seq[[]int] {
	e := min(max(epoch, 1), len(r)) - 1
	return func(yield func([]int) bool) {
		for _, b := range r[e] {
			if !yield(b) {
				return
			}
		}
	}
}
