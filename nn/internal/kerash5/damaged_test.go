package kerash5

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/descentlab/descent/nn/internal/hdf5"
)

// TestReadLayoutErrors builds HDF5 files that are not quite Keras weights
// files and checks the error names the file, the object and the problem.
func TestReadLayoutErrors(t *testing.T) {
	f32 := []byte{0, 0, 128, 63}
	cases := []struct {
		name  string
		build func(root *hdf5.GroupWriter) error
		want  string
		kind  error
	}{
		{"no layer_names", func(root *hdf5.GroupWriter) error {
			return root.SetStringAttr("backend", "tensorflow")
		}, "no layer_names attribute and no model_weights group", ErrLayout},
		{"layer_names of floats", func(root *hdf5.GroupWriter) error {
			return root.SetFloat64sAttr("layer_names", []float64{1})
		}, "attribute layer_names holds float64 of shape [1], want a list of strings", ErrLayout},
		{"listed layer missing", func(root *hdf5.GroupWriter) error {
			return root.SetStringsAttr("layer_names", []string{"dense_1"}, 0)
		}, `group /: no member "dense_1"`, hdf5.ErrNotFound},
		{"layer listed twice", func(root *hdf5.GroupWriter) error {
			if _, err := root.CreateGroup("d"); err != nil {
				return err
			}
			return root.SetStringsAttr("layer_names", []string{"d", "d"}, 0)
		}, `layer "d" is listed twice`, ErrLayout},
		{"listed weight missing", func(root *hdf5.GroupWriter) error {
			g, err := root.CreateGroup("d")
			if err != nil {
				return err
			}
			if err := g.SetStringsAttr("weight_names", []string{"d/kernel:0"}, 0); err != nil {
				return err
			}
			return root.SetStringsAttr("layer_names", []string{"d"}, 0)
		}, `group /d: no member "d"`, hdf5.ErrNotFound},
		{"weight is a group", func(root *hdf5.GroupWriter) error {
			g, err := root.CreateGroup("d")
			if err != nil {
				return err
			}
			if _, err := g.CreateGroup("d/kernel:0"); err != nil {
				return err
			}
			if err := g.SetStringsAttr("weight_names", []string{"d/kernel:0"}, 0); err != nil {
				return err
			}
			return root.SetStringsAttr("layer_names", []string{"d"}, 0)
		}, "group /d/d/kernel:0: is a group, want a dataset", hdf5.ErrFormat},
		{"backend not a string", func(root *hdf5.GroupWriter) error {
			if err := root.SetFloat64sAttr("backend", []float64{1, 2}); err != nil {
				return err
			}
			return root.SetStringsAttr("layer_names", []string{}, 0)
		}, "attribute backend holds 2 values of float64, want one string", ErrLayout},
		{"model.save layer that is a dataset", func(root *hdf5.GroupWriter) error {
			g, err := root.CreateGroup("model_weights")
			if err != nil {
				return err
			}
			if err := g.CreateDataset("x", hdf5.Float32, nil, f32); err != nil {
				return err
			}
			return g.SetStringsAttr("layer_names", []string{"x"}, 0)
		}, "dataset /model_weights/x: is a dataset, want a group", hdf5.ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := hdf5.NewWriter()
			if err := c.build(w.Root()); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := w.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			_, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), hdf5.Options{Name: "bad.h5"})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.h5") || !errors.Is(err, c.kind) {
				t.Errorf("err = %v, want %v naming bad.h5 with %q", err, c.kind, c.want)
			}
		})
	}
}

// TestReadDamaged cuts and flips bytes of Keras files: every read ends in
// an error naming the file or in weights that fit their shapes, never a
// panic, within the allocation budget.
func TestReadDamaged(t *testing.T) {
	for _, name := range []string{"keras_xor_weights.h5", "xor_model.h5", "deep_weights_latest.h5", "mlp_weights_latest_gzip.h5", "golden_xor_weights.h5"} {
		good, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		step := max(1, len(good)/400)
		for i := 0; i < len(good); i += step {
			for _, b := range [][]byte{good[:i], flip(good, i)} {
				var got *File
				var err error
				alloc := measure(func() {
					got, err = Read(bytes.NewReader(b), int64(len(b)), hdf5.Options{Name: name, MaxReadBytes: budget(len(b))})
				})
				if alloc > allocBudget(len(b)) {
					t.Errorf("%s, byte %d: allocated %d for %d bytes", name, i, alloc, len(b))
				}
				if err != nil {
					if !strings.Contains(err.Error(), name) {
						t.Errorf("%s, byte %d: error %q does not name the file", name, i, err)
					}
					continue
				}
				if len(b) < len(good) {
					t.Errorf("%s cut at %d: no error", name, i)
				}
				for _, l := range got.Layers {
					for _, w := range l.Weights {
						n := w.DType.size()
						for _, d := range w.Shape {
							n *= d
						}
						if n != len(w.Data) {
							t.Errorf("%s, byte %d: %s: %d bytes", name, i, w.Name, len(w.Data))
						}
					}
				}
			}
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}
