// Package persist saves and loads nn models: weights, whole models
// (architecture and weights) and checkpoints of a training run, each one
// safetensors file, written atomically; and the Checkpoint callback that
// writes checkpoints during Fit. It is built on the model's exported
// accessors (Layers, Params, Widths, TrainState, ...) and on nn/keras for
// the architecture, so a user-defined layer saves and loads like a
// built-in one (give Options a LayerRegistry that knows it).
//
//	err := persist.Save("xor.safetensors", model)            // architecture + weights
//	loaded, err := persist.Load("xor.safetensors")           // built, ready to Predict
//	err = persist.SaveCheckpoint("ckpt.safetensors", model, cfg)
//	info, err := persist.LoadCheckpoint("ckpt.safetensors", fresh) // then Fit with Resume
//
// Loading picks the reader by the file's content (safetensors today; an
// HDF5 file is recognised and refused), validates everything first and
// touches the model last, so a failed load leaves it as it was; errors
// list every problem (*LoadError) and wrap nn's sentinels (ErrFormat,
// ErrMismatch, ErrNotFinite).
//
// May import: nn, nn/keras, graph, optim, data.
package persist
