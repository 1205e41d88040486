// Package keras writes and reads the architecture of an nn.Sequential as
// Keras JSON, the text of Keras 2.2.4's model.to_json().
//
// ToJSON writes it byte for byte as Keras 2.2.4 does: the same key order,
// Python's json.dumps separators (", " and ": "), Python's float repr and
// ASCII-only strings. FromJSON reads that format (and the small variations
// of later Keras 2 releases) back. Each layer writes its own config
// through the nn.Layer contract (its Config method) and is read back by
// the LayerDecoder of its class in a LayerRegistry (BuiltinLayers, to
// which a program adds its own layers), so a user-defined layer
// round-trips like a built-in one; this package adds what every layer has
// (name, trainable, and on the first layer batch_input_shape and dtype)
// and Keras's InputLayer.
//
// The package is descent's whole Keras vocabulary: ConfigReader, with
// which a decoder reads a config and which reports the keys nobody read
// as unsupported options; the Keras forms of initialisers
// (InitializerConfig, ConfigReader.Initializer) and regularizers
// (ConfigReader.Regularizer); and the decoders of the built-in layers.
//
// Layers map as follows:
//
//	descent                        Keras 2.2.4
//	Dense                          Dense (activation inside, as Keras allows)
//	Dense regularizers             kernel_regularizer, bias_regularizer: L1L2
//	Activation{Fn: f}              Activation{activation: f}
//	Activation{Fn: "leaky_relu"}   LeakyReLU{alpha}
//	Activation{Fn: "elu", α ≠ 1}   ELU{alpha}
//	Dropout                        Dropout{rate, noise_shape, seed: null}
//	(first layer's input width)    batch_input_shape [null, in]
//
// Keras 2.2.4 has no leaky_relu activation function and no alpha on an
// activation name, so a Dense layer with Activation "leaky_relu" (or "elu"
// with an alpha other than 1) writes the slope under the descent-specific
// config key "descent_alpha"; such a file, like one using the "step"
// activation or a user-defined layer, loads in descent but not in Keras.
// Everything else ToJSON writes loads in Keras 2.2.4.
//
// The "dtype" Keras writes on the first layer is Keras's floatx, the dtype
// of the input placeholder, which Keras 2.2.4 needs to equal its weights'
// dtype: ToJSON always writes "float32", and FromJSON accepts float16, 32
// and 64 and ignores it. descent's dtype is a build option
// (nn.BuildConfig); nn/persist keeps it next to the JSON.
//
// A stranger's text costs little: FromJSON refuses a text longer than
// Options.MaxBytes (4 MiB) and a model of more parameters than
// Options.MaxParams (nn.DefaultMaxParams, 10^8) before anything is built,
// with an error wrapping nn.ErrLimit that names the layer, its units and
// the bytes its weights would take. ModelConfig gives the text model.save
// stores in an HDF5 file (see nn/persist).
//
// May import: nn, graph, data.
package keras
