package nn

// Config is a layer's configuration in Keras's form: the keys its
// get_config() returns after the ones every layer has (name, trainable and,
// on a first layer, batch_input_shape and dtype), in the order Keras writes
// them. Values are JSON values (nil, bool, int, float64, string, []any,
// []int or a nested Config), or a graph.Initializer or a Regularizer, which
// nn/keras writes in Keras's {"class_name", "config"} form. Package
// nn/keras writes and reads a Config as Keras JSON text, and decodes it
// back into a layer through a keras.LayerRegistry; a layer never sees JSON.
type Config []Field

// Field is one key of a Config.
type Field struct {
	Key   string
	Value any
}

// Lookup returns the value of key and whether it is present.
func (c Config) Lookup(key string) (any, bool) {
	for _, f := range c {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}
