// Package nn is descent's Keras-like facade: layers (Dense, Activation),
// activations, losses, metrics, the Sequential model and its one trainer.
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
// prediction), all sharing the model's parameter tensors. Gradients come
// from gorgonia's symbolic differentiation and run on its tape machine.
//
// # Guarantees
//
// Bad input (mismatched rows, wrong widths, NaN or Inf, empty data, unknown
// names, non-positive epochs or batch sizes, wrong dtypes, use before build)
// returns an error naming what was wrong and where; nothing panics across
// the API. The same seed and configuration give bit-identical weights and
// History: one seed fans out into independent streams for initialisation
// and shuffling, so changing the batch size never changes the initial
// weights.
//
// nn imports graph, optim and data; none of them imports nn.
package nn
