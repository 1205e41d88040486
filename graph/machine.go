package graph

import (
	"fmt"
	"strings"
)

// Machine chooses what executes a compiled Program. Both run the same
// expression graph, forward nodes and the gradient nodes that gorgonia's
// symbolic differentiation added; they differ in how they hold values.
type Machine uint8

const (
	// DescentVM is descent's own implementation of gorgonia's VM interface,
	// and the default. At Compile it orders the graph's nodes, keeps only
	// those the loss, the gradients and the outputs need, folds constants,
	// turns reshapes into aliases and plans one buffer per live value,
	// reusing a buffer once its value is dead. Each Run then executes one
	// kernel per node over those buffers: no allocation, no goroutine.
	// Gradients are written straight into Param.Grad. Operations it has no
	// kernel for run through their own gorgonia Do method and are copied
	// into their buffer.
	DescentVM Machine = iota
	// TapeMachine is gorgonia's tape machine (gorgonia.NewTapeMachine). Every
	// Run resets it, so each step re-allocates every intermediate value and
	// gradient; it starts a goroutine per run. It is the reference descent's
	// VM is tested against, and a fallback.
	TapeMachine
)

// String returns "vm" or "tape".
func (m Machine) String() string {
	switch m {
	case DescentVM:
		return "vm"
	case TapeMachine:
		return "tape"
	}
	return fmt.Sprintf("Machine(%d)", uint8(m))
}

// ParseMachine parses "vm" (also "descent") or "tape".
func ParseMachine(s string) (Machine, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "vm", "descent", "descentvm", "":
		return DescentVM, nil
	case "tape", "tapemachine":
		return TapeMachine, nil
	}
	return 0, fmt.Errorf("graph: unknown machine %q (want vm or tape): %w", s, ErrUnknown)
}

// Check returns an error for a value that names no machine.
func (m Machine) Check() error {
	if m > TapeMachine {
		return fmt.Errorf("graph: unknown machine %d (want DescentVM or TapeMachine): %w", uint8(m), ErrUnknown)
	}
	return nil
}
