// Package callbacks has training callbacks for nn's trainer: Keras's
// standard ones (EarlyStopping, TerminateOnNaN, LearningRateScheduler,
// ReduceLROnPlateau and CSVLogger); GradientNoiseScale, which estimates
// McCandlish et al.'s gradient noise scale during training; and
// Trajectory, which keeps snapshots of the weights for pictures of the
// path training took (nn/study's landscapes). Each is a small struct
// configured by its exported fields (zero values documented) and reset
// when training begins, so one value can be passed to several Fit calls in
// turn, but not to two running at once. Monitor, the watched quantity and
// its direction, is shared by EarlyStopping, ReduceLROnPlateau and
// nn/persist's Checkpoint callback. The callback interfaces are nn's; the
// Checkpoint callback is nn/persist's, with the files it writes.
//
// May import: nn, graph, optim, data.
package callbacks
