// Package study runs comparisons of gradient-descent variants: one model
// definition, one dataset with validation data, and a grid over the descent
// variant (full batch, stochastic, minibatch sizes), the optimizer and its
// hyperparameters, the learning rate and the seed.
//
// A Study expands its Grid into Runs in a fixed order. Run executes them on
// a worker pool, each run owning its model and graphs, and returns Results
// that do not depend on the number of workers (only timings differ). Every
// run of a seed starts from the same initial weights, whatever else varies,
// because nn derives initialisation and shuffling from the seed through
// independent streams.
//
// Results are written to a directory (Results.Write): each run's History
// as CSV and JSON, a summary table in Markdown and CSV, a JSON file with
// everything needed to redraw the table, and plots in PNG and SVG. A study
// can run one shard of its grid (Options.Shard), each shard writing its own
// directory; Load merges any set of them.
//
// A study can be written in Go or described in a JSON file (see File).
//
// study imports nn, data, optim and graph; nothing in descent imports it.
//
// May import: nn, nn/keras, nn/callbacks, data, optim, graph.
package study
