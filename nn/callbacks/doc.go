// Package callbacks has Keras's standard training callbacks for nn's
// trainer: EarlyStopping, TerminateOnNaN, LearningRateScheduler,
// ReduceLROnPlateau and CSVLogger; and GradientNoiseScale, which
// estimates McCandlish et al.'s gradient noise scale during training.
// Each is a small struct configured by its exported fields (zero values
// documented) and reset when training begins, so one value can be passed
// to several Fit calls in turn, but not to two running at once. The
// callback interfaces and Monitor are nn's; the Checkpoint callback is
// nn/persist's, with the files it writes.
//
// May import: nn, optim, data.
package callbacks
