// Package nn is descent's Keras-like facade: the layer contract and the
// built-in layers (Dense, Activation, Dropout), activations, weight
// regularizers, losses, metrics, the Sequential model and its one trainer
// (Fit, Evaluate, TrainStep, the callback interfaces and History).
//
// A model is declared in a few lines, compiled with a loss and an optimizer,
// and trained with Fit by full-batch, stochastic or minibatch gradient
// descent; the descent variant is a data.Batching value, not a type:
//
//	m := nn.NewSequential(
//		&nn.Dense{Units: 10, InputDim: 2},
//		&nn.Activation{Fn: "tanh"},
//		&nn.Dense{Units: 1},
//		&nn.Activation{Fn: "sigmoid"},
//	)
//	err := m.Compile(nn.CompileConfig{Loss: "binary_crossentropy", Optimizer: optim.NewSGD(0.1), Metrics: []string{"accuracy"}})
//	hist, err := m.Fit(ctx, data.XOR(tensor.Float64), nn.FitConfig{Epochs: 1000})
//
// Every network is a set of gorgonia expression graphs built through package
// graph, one per batch shape (the training batch, the ragged last batch,
// evaluation, prediction), all sharing the model's parameter tensors.
// Gradients come from gorgonia's symbolic differentiation: regularization
// penalties are part of the differentiated loss, and Dropout multiplies by
// a mask that is a per-step input of the training graph.
//
// Around nn, its subpackages: nn/keras writes and reads the architecture as
// Keras JSON and holds all of descent's Keras vocabulary (the layer
// registry and decoders, the Keras forms of initialisers and
// regularizers); nn/persist saves and loads weights, models and
// checkpoints; nn/callbacks has Keras's standard callbacks and descent's
// own (weight trajectories, the gradient noise scale); nn/study runs
// comparison studies. nn imports none of them.
//
// # Guarantees
//
// Bad input (mismatched rows, wrong widths, NaN or Inf, empty data, unknown
// names, non-positive epochs or batch sizes, wrong dtypes, use before build,
// settings that cannot apply) returns an error naming what was wrong and
// where; nothing panics across the API. The same seed and configuration give
// bit-identical weights and History: one seed fans out into independent
// streams for initialisation, shuffling and dropout, so changing the batch
// size never changes the initial weights.
//
// May import: graph, optim, data.
package nn
