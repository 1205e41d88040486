package nn

import (
	"errors"

	"github.com/descentlab/descent/data"
	"github.com/descentlab/descent/graph"
	"github.com/descentlab/descent/optim"
)

// Sentinel errors wrapped by this package's errors; test with errors.Is.
// The kinds that lower packages detect too are their values re-exported, so
// errors.Is(err, nn.ErrShape) holds whichever package found the problem:
// ErrShape, ErrDType, ErrNotFinite and ErrUnknownName are graph's (which
// match data's sentinels of the same kind), ErrEmpty is data's and ErrConfig
// is optim's.
var (
	// ErrNotBuilt reports use of a model before Build or Compile.
	ErrNotBuilt = errors.New("model is not built")
	// ErrNotCompiled reports Fit or Evaluate before Compile.
	ErrNotCompiled = errors.New("model is not compiled")
	// ErrUnknownName reports an unknown activation, loss, metric, optimizer
	// or initialiser name.
	ErrUnknownName = graph.ErrUnknown
	// ErrShape reports data whose shape does not fit the model.
	ErrShape = graph.ErrShape
	// ErrDType reports data or a tensor whose dtype is not the model's.
	ErrDType = graph.ErrDType
	// ErrEmpty reports a dataset with no rows or no columns.
	ErrEmpty = data.ErrEmpty
	// ErrConfig reports an invalid layer, compile or fit setting.
	ErrConfig = optim.ErrConfig
	// ErrNotFinite reports a NaN or infinite loss or value.
	ErrNotFinite = graph.ErrNotFinite
	// ErrNoGradient reports a model that cannot be trained by gradient
	// descent because a layer has no gradient (the step activation).
	ErrNoGradient = graph.ErrNoGradient
	// ErrStopped is returned by a callback to stop training early without
	// error; Fit returns nil in that case.
	ErrStopped = errors.New("training stopped")
	// Errors of loading and saving.
	// ErrFormat reports a file or JSON text that is not what it should be:
	// truncated, a wrong header length, a malformed header, an unknown
	// format version.
	ErrFormat = errors.New("invalid file format")
	// ErrMismatch reports a file whose tensors or architecture differ from
	// the model's (names, shapes, dtypes, layers, optimizer).
	ErrMismatch = errors.New("does not match the model")
	// ErrUnsupported reports a Keras layer, option or initialiser that
	// descent does not have.
	ErrUnsupported = errors.New("not supported by descent")
	// ErrLimit reports a model or a file larger than a limit set to bound
	// what a stranger's file can make descent allocate: more parameters
	// than BuildConfig.MaxParams, a header or an architecture larger than a
	// reader accepts. The error names the limit and how to raise it.
	ErrLimit = errors.New("exceeds a limit")
)
