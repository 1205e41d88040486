package hdf5

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// expectedFile is what testdata/gen.py recorded with h5py for one file.
type expectedFile struct {
	Datasets map[string]struct {
		Shape []int     `json:"shape"`
		DType string    `json:"dtype"`
		Data  []float64 `json:"data"`
	} `json:"datasets"`
	Attrs map[string]map[string]struct {
		Strings []string  `json:"strings"`
		Floats  []float64 `json:"floats"`
		Shape   []int     `json:"shape"`
	} `json:"attrs"`
	Errors map[string]string   `json:"errors"`
	Links  map[string][]string `json:"links"`
}

func loadExpected(t testing.TB) map[string]expectedFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]expectedFile
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	return exp
}

// openBytes opens an in-memory file.
func openBytes(t testing.TB, name string, b []byte) *Group {
	t.Helper()
	f, err := Open(bytes.NewReader(b), int64(len(b)), Options{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	root, err := f.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func openTestdata(t testing.TB, name string) (*Group, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return openBytes(t, name, b), b
}

// sameValues checks values read against values h5py wrote. The JSON holds
// each value as the float64 h5py gave, exactly (float32 values widen
// exactly), so the comparison is bitwise: no tolerance.
func sameValues(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Errorf("%s[%d] = %v, want %v", what, i, got[i], want[i])
			return
		}
	}
}

// TestReadH5py reads every file gen.py made and checks every dataset,
// attribute, link list and unsupported feature it recorded.
func TestReadH5py(t *testing.T) {
	for name, exp := range loadExpected(t) {
		t.Run(name, func(t *testing.T) {
			root, _ := openTestdata(t, name)
			for path, want := range exp.Datasets {
				d, err := root.Dataset(path)
				if err != nil {
					t.Errorf("%s: %v", path, err)
					continue
				}
				if !slices.Equal(d.Shape(), want.Shape) {
					t.Errorf("%s: shape %v, want %v", path, d.Shape(), want.Shape)
				}
				if d.Type().String() != want.DType {
					t.Errorf("%s: dtype %v, want %s", path, d.Type(), want.DType)
				}
				got, err := d.Float64s()
				if err != nil {
					t.Errorf("%s: %v", path, err)
					continue
				}
				sameValues(t, path, got, want.Data)
			}
			for path, attrs := range exp.Attrs {
				obj, err := root.Open(path)
				if err != nil {
					t.Errorf("%s: %v", path, err)
					continue
				}
				for an, want := range attrs {
					a, err := obj.Attr(an)
					if err != nil {
						t.Errorf("%s: %v", path, err)
						continue
					}
					if !slices.Equal(a.Shape(), want.Shape) {
						t.Errorf("%s@%s: shape %v, want %v", path, an, a.Shape(), want.Shape)
					}
					if want.Strings != nil {
						got, err := a.Strings()
						if err != nil || !slices.Equal(got, want.Strings) {
							t.Errorf("%s@%s = %q, %v; want %q", path, an, got, err, want.Strings)
						}
						continue
					}
					got, err := a.Float64s()
					if err != nil {
						t.Errorf("%s@%s: %v", path, an, err)
						continue
					}
					sameValues(t, path+"@"+an, got, want.Floats)
				}
			}
			for path, msg := range exp.Errors {
				err := readAll(root, path)
				if err == nil || !strings.Contains(err.Error(), msg) || !errors.Is(err, ErrUnsupported) {
					t.Errorf("%s: err = %v, want ErrUnsupported with %q", path, err, msg)
				}
				if err != nil && !strings.Contains(err.Error(), name) {
					t.Errorf("%s: error %q does not name the file", path, err)
				}
			}
			// Walk reaches every dataset h5py recorded, passing soft and
			// external links by.
			walked := map[string]bool{}
			if err := root.Walk(func(o Object) error { walked[o.Path()] = true; return nil }); err != nil {
				t.Errorf("walk: %v", err)
			}
			for path := range exp.Datasets {
				if !walked[path] && !strings.HasPrefix(path, "/many/") && path != "/hard" {
					t.Errorf("walk did not reach %s", path)
				}
			}
			for path, want := range exp.Links {
				g, err := root.Group(path)
				if err != nil {
					t.Errorf("%s: %v", path, err)
					continue
				}
				got, err := g.Names()
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("%s: names %d %v, want %d", path, len(got), err, len(want))
				}
			}
		})
	}
}

// readAll opens the object at path and reads its data and attributes.
func readAll(root *Group, path string) error {
	obj, err := root.Open(path)
	if err != nil {
		return err
	}
	attrs, err := obj.Attrs()
	if err != nil {
		return err
	}
	for _, a := range attrs {
		if a.Type.IsString() {
			_, err = a.Strings()
		} else {
			_, err = a.Float64s()
		}
		if err != nil {
			return err
		}
	}
	switch o := obj.(type) {
	case *Dataset:
		_, err = o.ReadRaw()
	case *Group:
		_, err = o.Names()
	}
	return err
}
