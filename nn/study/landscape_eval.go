package study

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/nn"
)

// evaluator computes losses at many weight vectors on a pool of workers,
// each with its own model. Every loss is computed by the same calls
// whatever the worker that takes it (set the weights, Evaluate), so the
// results do not depend on the number of workers.
type evaluator struct {
	models     []*nn.Sequential
	params     [][]*graph.Param
	bufs       [][]float64
	shapes     [][]int
	train, val *data.Dataset
}

// newEvaluator builds one model per worker, compiled with the study's loss
// and no metric.
func (s *Study) newEvaluator(seed uint64, workers int) (*evaluator, error) {
	c := s.Landscape
	ev := &evaluator{train: s.Train}
	if c.Validation {
		ev.val = s.Validation
	}
	if c.Rows > 0 {
		var err error
		if ev.train, err = s.Train.Slice(0, min(c.Rows, s.Train.Len())); err != nil {
			return nil, fmt.Errorf("study: landscape: %w", err)
		}
		if ev.val != nil {
			if ev.val, err = s.Validation.Slice(0, min(c.Rows, s.Validation.Len())); err != nil {
				return nil, fmt.Errorf("study: landscape: %w", err)
			}
		}
	}
	for range max(workers, 1) {
		m, err := s.Model()
		if err != nil {
			return nil, fmt.Errorf("study: landscape: model: %w", err)
		}
		if m == nil {
			return nil, fieldErr("model", "Model returned nil")
		}
		// The optimizer is never used; Compile needs one.
		if err := m.Compile(nn.CompileConfig{Loss: s.Loss, Optimizer: "sgd", Seed: seed, DType: s.dtype()}); err != nil {
			return nil, fmt.Errorf("study: landscape: %w", err)
		}
		m.PredictBatchSize = c.batch()
		ps := m.Params()
		ev.models = append(ev.models, m)
		ev.params = append(ev.params, ps)
		ev.bufs = append(ev.bufs, graph.ParamVector(ps, nil))
	}
	for _, p := range ev.params[0] {
		ev.shapes = append(ev.shapes, p.Shape())
	}
	return ev, nil
}

// eval returns the training loss at n weight vectors, and the validation
// loss at the first valN of them (val is nil without validation data; its
// other values are NaN): at(k, buf) returns the k-th vector, either buf
// (the worker's own, of the right length) filled in or a vector it must
// not modify.
func (e *evaluator) eval(ctx context.Context, n, valN int, at func(k int, buf []float64) []float64) (train, val []float64, err error) {
	train = make([]float64, n)
	if e.val != nil {
		val = make([]float64, n)
		for k := valN; k < n; k++ {
			val[k] = math.NaN()
		}
	}
	var next atomic.Int64
	errs := make([]error, len(e.models))
	var wg sync.WaitGroup
	for w, m := range e.models {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				if err := graph.SetParamVector(e.params[w], at(k, e.bufs[w])); err != nil {
					errs[w] = fmt.Errorf("point %d: %w", k, err)
					return
				}
				r, err := m.Evaluate(e.train)
				if err != nil {
					errs[w] = fmt.Errorf("point %d: %w", k, err)
					return
				}
				train[k] = r["loss"]
				if e.val != nil && k < valN {
					if r, err = m.Evaluate(e.val); err != nil {
						errs[w] = fmt.Errorf("point %d: validation: %w", k, err)
						return
					}
					val[k] = r["loss"]
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return train, val, nil
}

// close releases the workers' graphs.
func (e *evaluator) close() {
	for _, m := range e.models {
		m.Close()
	}
}
