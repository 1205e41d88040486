package study

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/descentlab/descent/nn"
)

// Sentinel errors wrapped by this package's errors; test with errors.Is.
// Their text is not repeated in the messages, which say what is wrong.
var (
	// ErrConfig reports an invalid study or invalid options; the error is a
	// *ConfigError naming the field. It is nn.ErrConfig (and optim's), so
	// errors.Is holds whichever package found the problem.
	ErrConfig = nn.ErrConfig
	// ErrDirInUse reports a results directory that holds the results of
	// another study or shard, or files that are not study results.
	ErrDirInUse = errors.New("results directory in use")
	// ErrMerge reports result directories that cannot be merged: different
	// studies, the same shard twice, shards of different splits, files that
	// their study.json does not list.
	ErrMerge = errors.New("results do not merge")
)

// ConfigError is an invalid study: what is wrong with one field. It
// matches ErrConfig and, when another package found the problem (an
// unknown optimizer, an invalid layer), that package's error too.
type ConfigError struct {
	// Source is the study file, if the study came from one; Line and Column
	// locate a syntax or type error in it (zero otherwise).
	Source       string
	Line, Column int
	// Field names the field as a study file spells it: "grid.lrs[1]",
	// "budget.max_time", "model.activation". Empty for a problem with the
	// whole file.
	Field string
	// Err says what is wrong.
	Err error
}

// Error returns "study: source:line:column: field: what is wrong", leaving
// out the parts that are not set.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("study: ")
	if e.Source != "" {
		b.WriteString(e.Source)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Column))
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns ErrConfig and the cause.
func (e *ConfigError) Unwrap() []error { return []error{ErrConfig, e.Err} }

// fieldErr returns a *ConfigError for field; format and args say what is
// wrong, %w wrapping a cause.
func fieldErr(field, format string, args ...any) error {
	return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
}

// inFile returns err with its source set to the study file, when err is a
// *ConfigError without one.
func inFile(err error, source string) error {
	if ce, ok := err.(*ConfigError); ok && ce.Source == "" {
		c := *ce
		c.Source = source
		return &c
	}
	return err
}

// kindError is an error that matches a sentinel without repeating its text.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// errorf returns "study: " and the formatted message, matching kind (and
// any error wrapped with %w) with errors.Is.
func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf("study: "+format, args...)}
}

// inField prefixes the field of a *ConfigError with prefix ("tune.").
func inField(err error, prefix string) error {
	if ce, ok := err.(*ConfigError); ok && ce.Field != "" {
		c := *ce
		c.Field = prefix + c.Field
		return &c
	}
	return err
}
