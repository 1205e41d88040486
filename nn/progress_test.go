package nn

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/descentlab/descent/data"
	"gorgonia.org/tensor"
)

func TestProgressOutput(t *testing.T) {
	for _, tc := range []struct {
		verbose int
		want    []string
	}{
		{0, nil},
		{1, []string{"Epoch 1/2\n4/4 [==============================] - 0s - loss: ", " - accuracy: ", "Epoch 2/2\n"}},
		{2, []string{"Epoch 1/2 - 0s - loss: ", "Epoch 2/2 - 0s - loss: "}},
	} {
		var b bytes.Buffer
		m := compiledXOR(t, 1, tensor.Float64)
		if _, err := m.Fit(context.Background(), data.XOR(tensor.Float64), FitConfig{Epochs: 2, Verbose: tc.verbose, Output: &b}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if tc.verbose == 0 && out != "" {
			t.Errorf("verbose 0 printed %q", out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("verbose %d output %q lacks %q", tc.verbose, out, w)
			}
		}
		if strings.ContainsAny(out, "\r\x1b") {
			t.Errorf("verbose %d wrote control characters into a buffer: %q", tc.verbose, out)
		}
		if n := strings.Count(out, "\n"); tc.verbose > 0 && n != 2*(3-tc.verbose) {
			t.Errorf("verbose %d wrote %d lines, want %d", tc.verbose, n, 2*(3-tc.verbose))
		}
	}
}
