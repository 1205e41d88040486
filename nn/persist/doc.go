// Package persist saves and loads nn models: weights, whole models
// (architecture and weights) and checkpoints of a training run, written
// atomically as safetensors files, or as Keras 2's HDF5 files when the path
// ends in .h5 or .hdf5; and the Checkpoint callback that writes
// checkpoints during Fit. It is built on the model's exported accessors
// (Layers, Params, Widths, TrainState, ...) and on nn/keras for the
// architecture, so a user-defined layer saves and loads like a built-in
// one (give Options a keras.LayerRegistry that knows it).
//
//	err := persist.Save("xor.safetensors", model)            // architecture + weights
//	loaded, err := persist.Load("xor.safetensors")           // built, ready to Predict
//	err = persist.SaveCheckpoint("ckpt.safetensors", model, cfg)
//	info, err := persist.LoadCheckpoint("ckpt.safetensors", fresh) // then Fit with Resume
//
// The last step of the Keras tutorial, in Go: the architecture as Keras
// JSON, the weights as Keras's save_weights writes them, both read back
// (and by Keras: model_from_json, load_weights):
//
//	js, err := keras.ToJSON(model)                     // model.to_json()
//	err = persist.SaveWeights("basic_weights.h5", model) // model.save_weights(...)
//	again, err := keras.FromJSON(js)                   // model_from_json(...)
//	err = again.Build(nn.BuildConfig{})
//	err = persist.LoadWeights("basic_weights.h5", again) // load_weights(...)
//
// Loading picks the reader by the file's content (safetensors, or HDF5 by
// its signature: Keras's save_weights and model.save files), validates
// everything first and touches the model last, so a failed load leaves it
// as it was; errors list every problem (*LoadError) and wrap nn's
// sentinels (ErrFormat, ErrMismatch, ErrNotFinite, ErrUnsupported,
// ErrLimit).
//
// Files from strangers cost little: sizes are checked against the file's
// size and the readers' limits before anything is allocated (a header of
// at most 100 MB and 65536 tensors, an architecture text of at most 4 MiB,
// a model of at most Options.MaxParams parameters, an HDF5 stream of at
// most 256 MiB); streams are read through those limits, never trusting
// what they announce; an architecture is compared with the file's own
// weights before the model is built. Refusing a bad file takes at most a
// few megabytes beyond twice its size.
//
// May import: nn, nn/callbacks, nn/keras, nn/internal/hdf5, nn/internal/kerash5, graph, optim, data.
package persist
