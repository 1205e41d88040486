// Package optim owns descent's optimizers, learning-rate schedules and
// gradient clipping. Optimizers are written here on tensor values (never
// gorgonia's solvers, several of which are wrong in v0.9.18) and follow
// torch.optim 1.13's update rules unless a Convention field selects
// Keras's. Each optimizer's doc comment writes out its rule.
//
// optim imports graph (for parameters) and nothing above it.
//
// An Optimizer updates parameters in place from the gradients a program
// wrote into graph.Param.Grad, at a learning rate the trainer passes each
// step, so schedules stay pure functions of the step. The trainer's order
// is: run the program, Clipper.Clip, then
// Optimizer.Step(schedule.Rate(opt.LearningRate(), t), params).
//
// Optimizers keep per-parameter buffers keyed by parameter name, allocated
// on the first step; later steps do not allocate. State and SetState
// (Stateful) save and restore them for checkpoints. New and ScheduleByName
// build optimizers and schedules from names and torch-named
// hyperparameters, for command-line flags and experiment files.
//
// May import: graph, graph/gemm.
package optim
