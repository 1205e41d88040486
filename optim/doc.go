// Package optim owns descent's optimizers, learning-rate schedules and
// gradient clipping. Optimizers are written here on tensor values (never
// gorgonia's solvers, several of which are wrong in v0.9.18) and follow
// torch.optim's update rules unless a field selects Keras's convention.
//
// optim imports graph (for parameters) and nothing above it.
//
// An Optimizer updates parameters in place from the gradients a program
// wrote into graph.Param.Grad, at a learning rate the trainer passes each
// step, so schedules stay pure functions of the step.
package optim
