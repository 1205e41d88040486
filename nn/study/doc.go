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
// Results are written to a directory (Options.Dir, as each run finishes,
// or Results.Write): each run's History as CSV and JSON and a study.json
// that records the study (with a fingerprint of its data and model), the
// shard and the runs the directory holds; Results.Report adds a summary
// table in Markdown and CSV, a JSON file with everything needed to redraw
// it, and plots in PNG and SVG. A study can run one shard of its grid
// (Options.Shard), each shard writing its own directory; Load merges them,
// refusing directories that do not belong together (another study, the same
// shard twice, shards of another split, run files not listed) and listing
// the shards and runs missing. A directory holding other results is never
// written into (ClearDir clears one).
//
// A study can tune each configuration's learning rate the way published
// comparisons do (Study.Tune, Tuning): a tuning stage trains every rate of
// the configuration's grid with fewer seeds, ranks the rates on the
// validation data only (a validation metric, or the steps to a target),
// and a final stage trains the chosen rate with every seed and evaluates
// the test set (Study.Test) once at the end. The stages are studies of
// their own (TuningStage, FinalStage), so each can be sharded and merged;
// a merged tuning stage chooses exactly what one machine would.
//
// Tables give the mean over seeds with its 95% confidence interval
// (Student t) and compare each configuration with a baseline by paired
// tests over seeds (paired t; Wilcoxon signed-rank from 6 seeds): every
// run of a seed starts from the same weights. A batch sweep (KindBatchSweep,
// BatchSweep) measures the steps and examples to a target against the
// batch size, fits McCandlish et al.'s model for the critical batch size
// and marks Shallue et al.'s regions; the gradient noise scale B_simple
// can be estimated during every run (Study.NoiseScale).
//
// Everything that can be checked is checked before training (Plan): the
// fields, a trial model built and evaluated on one row, the options and the
// output directory. Errors are *ConfigError values naming the field as a
// study file spells it.
//
// With Study.Landscape set, Run also keeps snapshots of the weights of the
// pictured seeds' runs, and Study.Landscapes computes, for each such seed,
// the loss on a plane through their paths (principal or filter-normalised
// random directions) and along the straight lines from the initial to the
// final weights; Landscape.Report draws them (see LandscapeConfig).
//
// A study can be written in Go or described in a JSON file (see File).
//
// study imports nn, nn/keras, nn/callbacks, data, optim and graph, and
// gonum's stat and plot; nothing in descent imports it.
//
// May import: nn, nn/keras, nn/callbacks, data, optim, graph.
package study
