package persist

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"

	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/callbacks"
	"github.com/descentlab/descent/nn/keras"
)

// The compiler checks the callback against the interfaces it serves.
var (
	_ nn.TrainBeginCallback = (*Checkpoint)(nil)
	_ nn.Callback           = (*Checkpoint)(nil)
)

// Checkpoint is a callback that saves checkpoints during Fit, as Keras's
// ModelCheckpoint: every EveryEpochs epochs, or only when a monitored value
// improves, keeping the last KeepLast files. Each file is a full checkpoint
// (see SaveCheckpoint) written atomically at the end of an epoch, from
// which LoadCheckpoint and Fit with Resume continue the run bit for bit.
//
// Put it last in FitConfig.Callbacks: a callback after it that changes the
// training state at the same epoch end (such as a learning-rate reduction)
// would not be in the file. Use it by pointer; it keeps the best value and
// the files it wrote.
type Checkpoint struct {
	// Path is the file to write. "{epoch}" is replaced by the epoch number
	// and "{name}" by the epoch's value of "loss" or a metric ("accuracy",
	// "val_loss"), each with an optional Python-style format as in Keras:
	// "ckpt-{epoch:03d}-{val_loss:.4f}.safetensors". A path without
	// placeholders is overwritten by each save. Required.
	Path string
	// EveryEpochs saves at epochs EveryEpochs, 2·EveryEpochs, ... If zero, 1.
	EveryEpochs int
	// SaveBest saves only when Monitor improves on the best value so far
	// (checked every EveryEpochs epochs); NaN never improves.
	SaveBest bool
	// Monitor names the value SaveBest compares: "loss" or a metric. If
	// empty, "val_loss".
	Monitor string
	// Mode is "min" or "max": whether lower or higher values of Monitor are
	// better. If empty or "auto", "max" when Monitor contains "acc", "min"
	// otherwise.
	Mode string
	// KeepLast, if positive, keeps only the KeepLast most recent files this
	// callback wrote, deleting the older ones; files it did not write are
	// never deleted.
	KeepLast int

	best    float64
	hasBest bool
	files   []string
}

var placeholderRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}`)
var formatSpecRE = regexp.MustCompile(`^(0?)([0-9]*)(?:\.([0-9]+))?([dfeg%]?)$`)

func (c *Checkpoint) validate() error {
	if c.Path == "" {
		return fmt.Errorf("persist: checkpoint: Path is empty: %w", nn.ErrConfig)
	}
	if c.EveryEpochs < 0 || c.KeepLast < 0 {
		return fmt.Errorf("persist: checkpoint: EveryEpochs %d and KeepLast %d must not be negative: %w", c.EveryEpochs, c.KeepLast, nn.ErrConfig)
	}
	if _, err := c.monitor().Max(); err != nil {
		return fmt.Errorf("persist: checkpoint: %w", err)
	}
	for _, sm := range placeholderRE.FindAllStringSubmatch(c.Path, -1) {
		spec := formatSpecRE.FindStringSubmatch(sm[2])
		if spec == nil || (sm[1] == "epoch" && spec[4] != "" && spec[4] != "d") || (sm[1] != "epoch" && spec[4] == "d") {
			return fmt.Errorf("persist: checkpoint: path %q: placeholder %s has an unsupported format (use {epoch:03d} or {val_loss:.4f}): %w", c.Path, sm[0], nn.ErrConfig)
		}
	}
	return nil
}

func (c *Checkpoint) monitor() callbacks.Monitor {
	return callbacks.Monitor{Name: c.Monitor, Mode: c.Mode}
}

// fileName expands the path pattern for an epoch.
func (c *Checkpoint) fileName(rec *nn.EpochRecord) (string, error) {
	var ferr error
	out := placeholderRE.ReplaceAllStringFunc(c.Path, func(ph string) string {
		sm := placeholderRE.FindStringSubmatch(ph)
		spec := formatSpecRE.FindStringSubmatch(sm[2])
		verb := spec[1] + spec[2]
		if spec[3] != "" {
			verb += "." + spec[3]
		}
		if sm[1] == "epoch" {
			return fmt.Sprintf("%"+verb+"d", rec.Epoch)
		}
		v, err := callbacks.Monitor{Name: sm[1]}.Value(rec)
		if err != nil {
			ferr = fmt.Errorf("persist: checkpoint: path %q: %w", c.Path, err)
			return ""
		}
		switch spec[4] {
		case "":
			if verb == "" {
				return keras.FormatFloat(v)
			}
			return fmt.Sprintf("%"+verb+"g", v)
		case "%":
			return fmt.Sprintf("%"+verb+"f%%", 100*v)
		}
		return fmt.Sprintf("%"+verb+spec[4], v)
	})
	return out, ferr
}

// OnTrainBegin implements nn.TrainBeginCallback: it checks the settings
// and takes the best monitored value from the History of a resumed run.
func (c *Checkpoint) OnTrainBegin(t *nn.Training) error {
	if err := c.validate(); err != nil {
		return err
	}
	c.hasBest = false
	if c.SaveBest && t.History != nil {
		for i := range t.History.Epochs {
			if v, err := c.monitor().Value(&t.History.Epochs[i]); err == nil {
				c.improve(v)
			}
		}
	}
	return nil
}

// improve records v if it is better than the best so far.
func (c *Checkpoint) improve(v float64) bool {
	best := math.NaN()
	if c.hasBest {
		best = c.best
	}
	if !c.monitor().Improves(v, best, 0) {
		return false
	}
	c.best, c.hasBest = v, true
	return true
}

// OnEpochEnd implements nn.Callback.
func (c *Checkpoint) OnEpochEnd(t *nn.Training, rec *nn.EpochRecord) error {
	if err := c.validate(); err != nil {
		return err
	}
	every := max(c.EveryEpochs, 1)
	if rec.Epoch%every != 0 {
		return nil
	}
	if c.SaveBest {
		v, err := c.monitor().Value(rec)
		if err != nil {
			return fmt.Errorf("persist: checkpoint: %w", err)
		}
		if !c.improve(v) {
			return nil
		}
	}
	path, err := c.fileName(rec)
	if err != nil {
		return err
	}
	if err := SaveCheckpoint(path, t.Model, t.Config); err != nil {
		return err
	}
	c.files = slices.DeleteFunc(c.files, func(s string) bool { return s == path })
	c.files = append(c.files, path)
	if c.KeepLast > 0 {
		for len(c.files) > c.KeepLast {
			if err := os.Remove(c.files[0]); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("persist: checkpoint: removing an old checkpoint: %w", err)
			}
			c.files = c.files[1:]
		}
	}
	return nil
}

// Files returns the checkpoint files this callback wrote and kept, oldest
// first.
func (c *Checkpoint) Files() []string { return slices.Clone(c.files) }

// Best returns the best monitored value so far and whether there is one
// (SaveBest only).
func (c *Checkpoint) Best() (float64, bool) { return c.best, c.hasBest }
