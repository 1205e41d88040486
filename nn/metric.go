package nn

import (
	"fmt"
	"sort"
	"strings"
)

// Metric measures a batch of predictions against targets, on the host. Epoch
// values are the mean of batch values weighted by batch size, as Keras
// reports them.
type Metric interface {
	// Name returns the name used in History and progress ("accuracy").
	Name() string
	// Compute returns the metric for a batch: pred and target are row-major
	// [rows, cols] (targets one-hot for classification).
	Compute(pred, target []float64, cols int) float64
}

// Accuracy is the fraction of rows classified correctly: with one output
// column, the prediction is class 1 when it is above 0.5 (binary accuracy,
// for a sigmoid output); with several, the class is the argmax of the row
// and is compared with the argmax of the target.
type Accuracy struct{}

// Name implements Metric.
func (Accuracy) Name() string { return "accuracy" }

// Compute implements Metric.
func (Accuracy) Compute(pred, target []float64, cols int) float64 {
	if cols <= 0 || len(pred) == 0 {
		return 0
	}
	rows := len(pred) / cols
	correct := 0
	for r := range rows {
		p, t := pred[r*cols:(r+1)*cols], target[r*cols:(r+1)*cols]
		if cols == 1 {
			if (p[0] > 0.5) == (t[0] > 0.5) {
				correct++
			}
			continue
		}
		if argmax(p) == argmax(t) {
			correct++
		}
	}
	return float64(correct) / float64(rows)
}

func argmax(s []float64) int {
	best := 0
	for i, v := range s {
		if v > s[best] {
			best = i
		}
	}
	return best
}

// MeanAbsoluteError is mean(|pred - target|) over every element.
type MeanAbsoluteError struct{}

// Name implements Metric.
func (MeanAbsoluteError) Name() string { return "mae" }

// Compute implements Metric.
func (MeanAbsoluteError) Compute(pred, target []float64, _ int) float64 {
	if len(pred) == 0 {
		return 0
	}
	var s float64
	for i, p := range pred {
		d := p - target[i]
		if d < 0 {
			d = -d
		}
		s += d
	}
	return s / float64(len(pred))
}

var metrics = map[string]Metric{"accuracy": Accuracy{}, "mae": MeanAbsoluteError{}}

var metricAliases = map[string]string{"acc": "accuracy", "mean_absolute_error": "mae"}

// MetricNames returns the metric names MetricByName accepts (aliases: acc,
// mean_absolute_error). The loss is always reported as "loss".
func MetricNames() []string {
	names := make([]string, 0, len(metrics))
	for n := range metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// MetricByName returns the metric with the given name.
func MetricByName(name string) (Metric, error) {
	key := strings.ToLower(name)
	if a, ok := metricAliases[key]; ok {
		key = a
	}
	if m, ok := metrics[key]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("nn: unknown metric %q (valid: %s): %w", name, strings.Join(MetricNames(), ", "), ErrUnknownName)
}
