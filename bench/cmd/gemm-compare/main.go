// Command gemm-compare times the matrix products of an MNIST MLP training
// step (784-128-10) on descent's GEMM (graph/gemm) and on gonum's pure-Go
// BLAS, each with GOMAXPROCS 1 and 2, in interleaved rounds: within each
// round every candidate runs once at each setting, in an order rotated from
// round to round, so that a machine whose load changes during the run slows
// all of them alike. It prints, per shape,
// batch size, dtype and GOMAXPROCS (1 or 2), the median µs per call with
// the spread over rounds, GFLOP/s and allocations per call.
//
//	go run ./bench/cmd/gemm-compare [-dtype float32] [-batches 1,32,128,60000] [-rounds 3]
//
// The table in bench/README.md ("GEMM kernels (issue 13)") came from this
// program with one more candidate, github.com/viterin/vek, not kept here so
// that descent does not depend on a module used only for a comparison.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/descentlab/descent/graph/gemm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// shape is one product op(A)·op(B), op(A) m×k and op(B) k×n.
type shape struct {
	name    string
	tA, tB  bool
	m, n, k int
}

// shapes returns the five products of an MNIST MLP step at batch b.
func shapes(b int) []shape {
	return []shape{
		{"x·W1", false, false, b, 128, 784},
		{"h·W2", false, false, b, 10, 128},
		{"g2·W2ᵀ", false, true, b, 128, 10},
		{"hᵀ·g2", true, false, 128, 10, b},
		{"xᵀ·g1", true, false, 784, 128, b},
	}
}

func (s shape) lds() (lda, ldb int) {
	lda, ldb = s.k, s.n
	if s.tA {
		lda = s.m
	}
	if s.tB {
		ldb = s.k
	}
	return lda, ldb
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

func flags(s shape) string {
	f := func(t bool) string {
		if t {
			return "T"
		}
		return "N"
	}
	return f(s.tA) + f(s.tB)
}

// candidate runs one product with α = 1, β = 0 into c.
type candidate[T float32 | float64] struct {
	name string
	run  func(s shape, a, b, c []T) error
}

func candidates[T float32 | float64]() []candidate[T] {
	var impl gonum.Implementation
	var z T
	switch any(z).(type) {
	case float32:
		return any([]candidate[float32]{
			{"gonum", func(s shape, a, b, c []float32) error {
				lda, ldb := s.lds()
				impl.Sgemm(trans(s.tA), trans(s.tB), s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n)
				return nil
			}},
			{"descent", func(s shape, a, b, c []float32) error {
				lda, ldb := s.lds()
				return gemm.Sgemm(trans(s.tA), trans(s.tB), s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n)
			}},
		}).([]candidate[T])
	default:
		return any([]candidate[float64]{
			{"gonum", func(s shape, a, b, c []float64) error {
				lda, ldb := s.lds()
				impl.Dgemm(trans(s.tA), trans(s.tB), s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n)
				return nil
			}},
			{"descent", func(s shape, a, b, c []float64) error {
				lda, ldb := s.lds()
				return gemm.Dgemm(trans(s.tA), trans(s.tB), s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n)
			}},
		}).([]candidate[T])
	}
}

// measure calls c until minDur has passed (at least once) and returns the
// µs per call and the heap allocations per call.
func measure[T float32 | float64](c candidate[T], s shape, a, b, out []T, minDur time.Duration) (us, allocs float64, err error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	n := 0
	for n == 0 || time.Since(start) < minDur {
		if err := c.run(s, a, b, out); err != nil {
			return 0, 0, err
		}
		n++
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return float64(elapsed.Nanoseconds()) / 1e3 / float64(n), float64(after.Mallocs-before.Mallocs) / float64(n), nil
}

func run[T float32 | float64](dtype string, batches []int, rounds int, minDur time.Duration) error {
	rng := rand.New(rand.NewPCG(1, 2))
	cs := candidates[T]()
	for _, batch := range batches {
		size := 784 * max(batch, 128)
		fill := func() []T {
			s := make([]T, size)
			for i := range s {
				s[i] = T(rng.Float64() - 0.5)
			}
			return s
		}
		a, b, c := fill(), fill(), fill()
		for _, s := range shapes(batch) {
			// Every candidate at GOMAXPROCS 1 and 2 is one unit; each round
			// runs every unit once, in an order rotated from round to round.
			type unit struct{ cand, procs int }
			var units []unit
			for _, procs := range []int{1, 2} {
				for ci := range cs {
					units = append(units, unit{ci, procs})
				}
			}
			times := make([][]float64, len(units))
			allocs := make([]float64, len(units))
			for _, u := range units { // warm-up: workspaces, helper goroutines
				runtime.GOMAXPROCS(u.procs)
				if err := cs[u.cand].run(s, a, b, c); err != nil {
					return err
				}
			}
			for r := range rounds {
				for i := range units {
					ui := (i + r) % len(units)
					runtime.GOMAXPROCS(units[ui].procs)
					us, al, err := measure(cs[units[ui].cand], s, a, b, c, minDur)
					if err != nil {
						return err
					}
					times[ui] = append(times[ui], us)
					allocs[ui] = max(allocs[ui], al)
				}
			}
			flop := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			for _, procs := range []int{1, 2} {
				var parts []string
				for ui, u := range units {
					if u.procs != procs {
						continue
					}
					slices.Sort(times[ui])
					med := times[ui][len(times[ui])/2]
					parts = append(parts, fmt.Sprintf("%s %.1f µs [%.1f–%.1f] %.1f GF/s %.0f allocs",
						cs[u.cand].name, med, times[ui][0], times[ui][len(times[ui])-1], flop/med/1e3, allocs[ui]))
				}
				fmt.Printf("%s b=%d %s (%s m=%d n=%d k=%d) GOMAXPROCS=%d | %s\n",
					dtype, batch, s.name, flags(s), s.m, s.n, s.k, procs, strings.Join(parts, " | "))
			}
		}
	}
	return nil
}

func main() {
	dtype := flag.String("dtype", "float32", "float32 or float64")
	rounds := flag.Int("rounds", 3, "interleaved rounds (each candidate once per round)")
	batchList := flag.String("batches", "1,32,128,60000", "batch sizes, comma-separated")
	minDur := flag.Duration("min", 40*time.Millisecond, "minimum time per measurement")
	flag.Parse()
	var batches []int
	for _, f := range strings.Split(*batchList, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b <= 0 {
			fmt.Fprintf(os.Stderr, "gemm-compare: batch %q is not a positive integer\n", f)
			os.Exit(2)
		}
		batches = append(batches, b)
	}
	if *rounds < 1 {
		fmt.Fprintf(os.Stderr, "gemm-compare: rounds is %d, want at least 1\n", *rounds)
		os.Exit(2)
	}
	fmt.Printf("gemm-compare: descent kernel %q, CPUs %d\n", gemm.Kernel(), runtime.NumCPU())
	var err error
	switch *dtype {
	case "float32":
		err = run[float32](*dtype, batches, *rounds, *minDur)
	case "float64":
		err = run[float64](*dtype, batches, *rounds, *minDur)
	default:
		err = fmt.Errorf("dtype %q, want float32 or float64", *dtype)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gemm-compare:", err)
		os.Exit(1)
	}
}
