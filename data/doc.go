// Package data owns datasets and the batch policies of the three descent
// variants: a Dataset holds X and Y tensors whose rows are examples, and a
// Batching says how one epoch is cut into batches (full batch, stochastic,
// minibatch of n; shuffled or not; ragged last batch kept or dropped).
//
// data sits at the bottom of descent with graph: it imports neither graph,
// nn nor optim. Randomness always comes from a *rand.Rand the caller passes,
// so that one seed can drive a whole run.
package data
