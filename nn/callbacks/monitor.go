package callbacks

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/descentlab/descent/nn"
)

// Monitor is a quantity of the epoch records that a callback watches, and
// which way is better: Keras's monitor and mode arguments, shared by
// EarlyStopping, ReduceLROnPlateau and nn/persist's Checkpoint callback.
type Monitor struct {
	// Name is "loss" or a metric name ("accuracy", "val_loss"). If empty,
	// "val_loss".
	Name string
	// Mode is "min", "max" or "auto" (the zero value): "max" when Name
	// contains "acc", "min" otherwise.
	Mode string
}

// Quantity returns Name, or "val_loss" if it is empty.
func (m Monitor) Quantity() string {
	if m.Name == "" {
		return "val_loss"
	}
	return m.Name
}

// Max reports whether higher values are better, resolving "auto" as Keras
// does; an unknown mode is an error wrapping nn.ErrConfig.
func (m Monitor) Max() (bool, error) {
	switch m.Mode {
	case "min":
		return false, nil
	case "max":
		return true, nil
	case "", "auto":
		return strings.Contains(m.Quantity(), "acc"), nil
	}
	return false, fmt.Errorf("mode %q, want min, max or auto: %w", m.Mode, nn.ErrConfig)
}

// Value returns the quantity in an epoch record; a name that is not
// recorded is an error listing those that are.
func (m Monitor) Value(rec *nn.EpochRecord) (float64, error) {
	name := m.Quantity()
	if name == "loss" {
		return rec.Loss, nil
	}
	if v, ok := rec.Metrics[name]; ok {
		return v, nil
	}
	have := []string{"loss"}
	for k := range rec.Metrics {
		have = append(have, k)
	}
	slices.Sort(have)
	return 0, fmt.Errorf("monitor %q is not recorded (have %s; val_ names need validation data) at epoch %d: %w", name, strings.Join(have, ", "), rec.Epoch, nn.ErrConfig)
}

// Improves reports whether v is better than best by more than minDelta
// (lower in "min" mode, higher in "max"); NaN never improves, and
// anything but NaN improves on a NaN best (no value yet).
func (m Monitor) Improves(v, best, minDelta float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if math.IsNaN(best) {
		return true
	}
	if up, _ := m.Max(); up {
		return v > best+minDelta
	}
	return v < best-minDelta
}
