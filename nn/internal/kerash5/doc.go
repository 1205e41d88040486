// Package kerash5 reads and writes Keras 2's HDF5 weights files, on top of
// package hdf5.
//
// Read accepts both layouts of Keras 2.2.4's keras/engine/saving.py:
//
//   - save_weights: root attributes layer_names (the layers in model
//     order, Activation layers included), backend and keras_version; a
//     group per layer whose attribute weight_names lists its weights (an
//     empty float64 array for a layer without weights); one dataset per
//     weight at <layer>/<weight name>, so "dense_1/kernel:0" is the
//     dataset /dense_1/dense_1/kernel:0.
//   - model.save: root attributes keras_version, backend, model_config
//     (the model's JSON) and, for a compiled model, training_config; the
//     same weights layout under the group model_weights (optimizer_weights
//     is ignored).
//
// Attributes too large for an object header are split by Keras into
// layer_names0, layer_names1, ...; both forms are read, and Write splits as
// Keras does. Strings may be fixed-length (h5py 2) or variable-length
// (h5py 3).
//
// Write produces the save_weights layout exactly as Keras 2.2.4 with h5py
// 2 writes it (superblock 0, symbol-table groups, contiguous datasets,
// fixed-length string attributes), or, with a ModelConfig, the model.save
// layout around it. Matching layers to a model (by position or by name, as
// Keras's load_weights(by_name=...)) is the caller's job: Read returns the
// file's layers in order, each with its weights.
//
// kerash5 imports only package hdf5 and the standard library.
//
// May import: nn/internal/hdf5.
package kerash5
