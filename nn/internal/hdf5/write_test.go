package hdf5

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"
)

func f32bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func f64bytes(v ...float64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// TestWriteRoundTrip writes groups, datasets and attributes and reads them
// back bit for bit, with enough links in one group to need several symbol
// table nodes and two B-tree levels.
func TestWriteRoundTrip(t *testing.T) {
	for _, nlinks := range []int{0, 1, 8, 9, 300} {
		t.Run(fmt.Sprint(nlinks), func(t *testing.T) {
			w := NewWriter()
			root := w.Root()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(root.SetStringsAttr("layer_names", []string{"dense_1", "activation_1", ""}, 0))
			must(root.SetStringAttr("backend", "tensorflow"))
			must(root.SetFloat64sAttr("empty", nil))
			must(root.SetFloat64sAttr("floats", []float64{1.5, math.Inf(-1), -0}))
			g, err := root.CreateGroup("dense_1")
			must(err)
			must(g.SetStringsAttr("weight_names", []string{"dense_1/kernel:0", "dense_1/bias:0"}, 0))
			must(g.SetStringsAttr("padded", []string{"ab", ""}, 5))
			kernel := f32bytes(1.5, -2, float32(math.NaN()), 3e-38, 0, 1)
			must(g.CreateDataset("dense_1/kernel:0", Float32, []int{2, 3}, kernel))
			must(g.CreateDataset("dense_1/bias:0", Float64, []int{3}, f64bytes(0.1, -0.2, math.MaxFloat64)))
			must(root.CreateDataset("scalar", Float64, nil, f64bytes(-0.125)))
			must(root.CreateDataset("empty", Float32, []int{0, 4}, nil))
			many, err := root.CreateGroup("many")
			must(err)
			for i := range nlinks {
				_, err := many.CreateGroup(fmt.Sprintf("g%04d", nlinks-i))
				must(err)
			}
			var buf bytes.Buffer
			n, err := w.WriteTo(&buf)
			must(err)
			if n != int64(buf.Len()) {
				t.Errorf("WriteTo returned %d, wrote %d", n, buf.Len())
			}
			back := openBytes(t, "roundtrip.h5", buf.Bytes())
			checkStrings := func(o Object, name string, want ...string) {
				t.Helper()
				a, err := o.Attr(name)
				must(err)
				got, err := a.Strings()
				must(err)
				if !slices.Equal(got, want) {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			checkStrings(back, "layer_names", "dense_1", "activation_1", "")
			checkStrings(back, "backend", "tensorflow")
			a, err := back.Attr("empty")
			must(err)
			if v, err := a.Float64s(); err != nil || len(v) != 0 || !slices.Equal(a.Shape(), []int{0}) {
				t.Errorf("empty = %v %v, shape %v", v, err, a.Shape())
			}
			a, err = back.Attr("floats")
			must(err)
			if v, err := a.Float64s(); err != nil || !bytes.Equal(f64bytes(v...), f64bytes(1.5, math.Inf(-1), -0)) {
				t.Errorf("floats = %v %v", v, err)
			}
			bg, err := back.Group("dense_1")
			must(err)
			checkStrings(bg, "weight_names", "dense_1/kernel:0", "dense_1/bias:0")
			checkStrings(bg, "padded", "ab", "")
			if a, err := bg.Attr("padded"); err != nil || a.Type.Size != 5 {
				t.Errorf("padded: %v, %v", a, err)
			}
			for path, want := range map[string][]byte{
				"dense_1/dense_1/kernel:0": kernel,
				"/dense_1/dense_1/bias:0":  f64bytes(0.1, -0.2, math.MaxFloat64),
				"scalar":                   f64bytes(-0.125),
				"empty":                    {},
			} {
				d, err := back.Dataset(path)
				must(err)
				got, err := d.ReadRaw()
				must(err)
				if !bytes.Equal(got, want) {
					t.Errorf("%s: %x, want %x", path, got, want)
				}
			}
			d, err := back.Dataset("dense_1/dense_1/kernel:0")
			must(err)
			if !slices.Equal(d.Shape(), []int{2, 3}) || d.Type() != Float32 || d.Layout() != "contiguous" {
				t.Errorf("kernel: shape %v type %v layout %s", d.Shape(), d.Type(), d.Layout())
			}
			mg, err := back.Group("many")
			must(err)
			names, err := mg.Names()
			must(err)
			if len(names) != nlinks || !slices.IsSorted(names) {
				t.Errorf("many: %d names (sorted %v), want %d", len(names), slices.IsSorted(names), nlinks)
			}
			objects := 0
			must(back.Walk(func(Object) error { objects++; return nil }))
			if want := 8 + nlinks; objects != want {
				t.Errorf("walk visited %d objects, want %d", objects, want)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	w := NewWriter()
	root := w.Root()
	if _, err := root.CreateGroup("a"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"group exists":     func() error { _, err := root.CreateGroup("a"); return err }(),
		"empty name":       func() error { _, err := root.CreateGroup("a//b"); return err }(),
		"short data":       root.CreateDataset("x", Float32, []int{2}, make([]byte, 7)),
		"negative shape":   root.CreateDataset("x", Float32, []int{-1}, nil),
		"string dataset":   root.CreateDataset("x", Datatype{Class: ClassString, Size: 3}, []int{1}, make([]byte, 3)),
		"nul in attr name": root.SetStringAttr("a\x00b", "x"),
		"attr too large":   root.SetStringsAttr("big", []string{string(make([]byte, 70000))}, 0),
		"dataset in a path": func() error {
			root.CreateDataset("d", Float32, nil, make([]byte, 4))
			return root.CreateDataset("d/x", Float32, nil, make([]byte, 4))
		}(),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
