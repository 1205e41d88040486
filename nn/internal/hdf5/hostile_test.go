package hdf5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	rtmetrics "runtime/metrics"
	"strings"
	"testing"
)

// readEverything opens a file and reads everything in it: every object's
// attributes (strings or floats) and every dataset's data. Unsupported
// features are skipped, as a caller skips what it does not need; any other
// error is returned.
func readEverything(name string, b []byte, opt Options) error {
	opt.Name = name
	f, err := Open(bytes.NewReader(b), int64(len(b)), opt)
	if err != nil {
		return err
	}
	root, err := f.Root()
	if err != nil {
		return err
	}
	skip := func(err error) error {
		if errors.Is(err, ErrUnsupported) {
			return nil
		}
		return err
	}
	return root.Walk(func(o Object) error {
		attrs, err := o.Attrs()
		if err != nil {
			return skip(err)
		}
		for _, a := range attrs {
			if a.Type.IsString() {
				_, err = a.Strings()
			} else {
				_, err = a.Float64s()
			}
			if err := skip(err); err != nil {
				return err
			}
		}
		if d, ok := o.(*Dataset); ok {
			if _, err := d.Float64s(); skip(err) != nil {
				return err
			}
		}
		return nil
	})
}

// measure returns the bytes allocated on the heap while fn runs.
func measure(fn func()) uint64 {
	s := []rtmetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	rtmetrics.Read(s)
	before := s[0].Value.Uint64()
	fn()
	rtmetrics.Read(s)
	return s[0].Value.Uint64() - before
}

// smallBudget is the read budget the sweeps and the fuzz test give the
// reader, and allocBudget what a read may then allocate: the budget (every
// byte read or decoded and a charge per parsed item are taken from it)
// twice over, the inflater's state, and fixed costs. A reader that
// trusted a size or count in the file would allocate far more for some
// inputs.
func smallBudget(n int) int64 { return 64<<10 + 4*int64(n) }

func allocBudget(n int) uint64 { return 1<<20 + 2*uint64(smallBudget(n)) }

// checkHostile reads a damaged file and checks the outcome: no panic, an
// error that names the file and wraps a sentinel, allocations within the
// budget.
func checkHostile(t *testing.T, what, name string, b []byte) {
	t.Helper()
	var err error
	alloc := measure(func() { err = readEverything(name, b, Options{MaxReadBytes: smallBudget(len(b))}) })
	if alloc > allocBudget(len(b)) {
		t.Errorf("%s: reading %d bytes allocated %d (budget %d)", what, len(b), alloc, allocBudget(len(b)))
	}
	if err == nil {
		return
	}
	if !strings.Contains(err.Error(), name) {
		t.Errorf("%s: error %q does not name the file", what, err)
	}
	if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrLimit) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnsupported) {
		t.Errorf("%s: error %q wraps no sentinel", what, err)
	}
}

// testFiles returns the testdata files and one the Writer made.
func testFiles(t testing.TB) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.h5"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = b
	}
	w := NewWriter()
	g, _ := w.Root().CreateGroup("dense_1")
	if err := g.SetStringsAttr("weight_names", []string{"dense_1/kernel:0"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := g.CreateDataset("dense_1/kernel:0", Float32, []int{2, 2}, f32bytes(1, 2, 3, 4)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	files["written.h5"] = buf.Bytes()
	if len(files) < 8 {
		t.Fatalf("only %d test files", len(files))
	}
	return files
}

// positions returns the offsets a sweep visits in a file of n bytes: all
// of the first 512 (superblock and root structures), then about 600 more
// spread over the rest.
func positions(n int) []int {
	var out []int
	for i := 0; i < n; i++ {
		if i < 512 || i%max(1, (n-512)/600) == 0 {
			out = append(out, i)
		}
	}
	return out
}

// patchEOF sets a superblock's end-of-file address to n, recomputing the
// checksum of a version 2 or 3 superblock, so that a truncated file reaches
// the structures past the superblock.
func patchEOF(b []byte, n int) {
	if len(b) < 48 {
		return
	}
	switch b[8] {
	case 0:
		binary.LittleEndian.PutUint64(b[40:], uint64(n))
	case 2, 3:
		binary.LittleEndian.PutUint64(b[28:], uint64(n))
		binary.LittleEndian.PutUint32(b[44:], lookup3(b[:44]))
	}
}

// TestTruncated reads every test file cut short at many offsets: an error
// (the superblock's end-of-file address exceeds the size), and with that
// address patched to match, no panic and bounded allocations.
func TestTruncated(t *testing.T) {
	for name, good := range testFiles(t) {
		t.Run(name, func(t *testing.T) {
			for _, n := range positions(len(good)) {
				b := bytes.Clone(good[:n])
				if err := readEverything(name, b, Options{}); err == nil || !errors.Is(err, ErrFormat) {
					t.Errorf("cut at %d of %d: err = %v, want ErrFormat", n, len(good), err)
				}
				checkHostile(t, fmt.Sprintf("cut at %d", n), name, b)
				// With the end of file patched to match, the reader gets
				// past the superblock; what was cut off may not be needed.
				patchEOF(b, n)
				checkHostile(t, fmt.Sprintf("cut at %d, EOF patched", n), name, b)
			}
		})
	}
}

// TestByteFlips reads every test file with one byte inverted, at many
// offsets, with checksums checked and (to reach past them) not.
func TestByteFlips(t *testing.T) {
	for name, good := range testFiles(t) {
		t.Run(name, func(t *testing.T) {
			for _, i := range positions(len(good)) {
				b := bytes.Clone(good)
				b[i] ^= 0xff
				checkHostile(t, fmt.Sprintf("byte %d flipped", i), name, b)
				var err error
				alloc := measure(func() {
					err = readEverything(name, b, Options{MaxReadBytes: smallBudget(len(b)), lenient: true})
				})
				if alloc > allocBudget(len(b)) {
					t.Errorf("byte %d flipped, checksums skipped: allocated %d (budget %d), err %v", i, alloc, allocBudget(len(b)), err)
				}
			}
		})
	}
}

// crafted returns a file the Writer made: /a/b (a group), /a/d (a float32
// [2 2] dataset), and its parsed root, group a and dataset d.
func crafted(t *testing.T) ([]byte, *Group, *Group, *Dataset) {
	t.Helper()
	w := NewWriter()
	a, err := w.Root().CreateGroup("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateGroup("b"); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateDataset("d", Float32, []int{2, 2}, f32bytes(1, 2, 3, 4)); err != nil {
		t.Fatal(err)
	}
	if err := a.SetStringsAttr("names", []string{"x", "y"}, 0); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	root := openBytes(t, "crafted.h5", buf.Bytes())
	ga, err := root.Group("a")
	if err != nil {
		t.Fatal(err)
	}
	d, err := root.Dataset("a/d")
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), root, ga, d
}

// symbolTable returns the B-tree and local heap addresses of a group.
func symbolTable(t *testing.T, g *Group) (btree, heap uint64) {
	t.Helper()
	m := g.hdr.find(msgSymbolTable)
	if len(m) != 1 {
		t.Fatalf("%s has %d symbol table messages", g.path, len(m))
	}
	return binary.LittleEndian.Uint64(m[0].data), binary.LittleEndian.Uint64(m[0].data[8:])
}

// TestHostileCrafted checks files built to trick a reader: cycles, loops
// and sizes far beyond the file.
func TestHostileCrafted(t *testing.T) {
	le := binary.LittleEndian
	cases := []struct {
		name  string
		patch func(b []byte, root, a *Group, d *Dataset)
		want  string // in the error
		kind  error
	}{
		{"group linking to its ancestor", func(b []byte, root, a *Group, d *Dataset) {
			bt, _ := symbolTable(t, a)
			snod := le.Uint64(b[bt+24+8:])            // the B-tree's first child
			le.PutUint64(b[snod+8+8:], root.hdr.addr) // first entry (b) -> the root
		}, "links back to its ancestor", ErrFormat},
		{"B-tree node that is its own child", func(b []byte, root, a *Group, d *Dataset) {
			bt, _ := symbolTable(t, a)
			b[bt+5] = 1                   // level 1: its children are nodes
			le.PutUint64(b[bt+24+8:], bt) // child 0 is itself
		}, "is reached twice", ErrFormat},
		{"header continuation looping to itself", func(b []byte, root, a *Group, d *Dataset) {
			at := a.hdr.addr
			le.PutUint16(b[at+16:], msgContinuation) // the symbol table message becomes a continuation
			le.PutUint64(b[at+24:], at+16)           // to the message block it is in
			le.PutUint64(b[at+32:], le.Uint64(b[at+8:])&0xffffffff)
		}, "loops back", ErrFormat},
		{"symbol table node claiming 65535 entries", func(b []byte, root, a *Group, d *Dataset) {
			bt, _ := symbolTable(t, a)
			snod := le.Uint64(b[bt+24+8:])
			le.PutUint16(b[snod+6:], 0xffff)
		}, "runs past the end", ErrFormat},
		{"local heap of a terabyte", func(b []byte, root, a *Group, d *Dataset) {
			_, heap := symbolTable(t, a)
			le.PutUint64(b[heap+8:], 1<<40)
		}, "runs past the end", ErrFormat},
		{"dataset of 2^62 bytes in 16", func(b []byte, root, a *Group, d *Dataset) {
			ds := d.hdr.find(msgDataspace)[0].off
			le.PutUint64(b[ds+8:], 1<<30)
			le.PutUint64(b[ds+16:], 1<<30)
		}, "contiguous storage of 16 bytes for 1152921504606846976 elements", ErrFormat},
		{"dataset of 4 GiB never written", func(b []byte, root, a *Group, d *Dataset) {
			ds := d.hdr.find(msgDataspace)[0].off
			le.PutUint64(b[ds+8:], 1<<15)
			le.PutUint64(b[ds+16:], 1<<15)
			lay := d.hdr.find(msgLayout)[0].off
			le.PutUint64(b[lay+2:], undef) // no storage: the fill value
		}, "exceeds the reader's remaining budget", ErrLimit},
		{"attribute of 2^30 strings", func(b []byte, root, a *Group, d *Dataset) {
			m := a.hdr.find(msgAttribute)[0]
			le.PutUint64(b[m.off+8+8+8+8:], 1<<30) // name, datatype, then the dataspace's first dimension
		}, "do not fit", ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			good, root, a, d := crafted(t)
			b := bytes.Clone(good)
			c.patch(b, root, a, d)
			var err error
			alloc := measure(func() { err = readEverything("crafted.h5", b, Options{}) })
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.kind) {
				t.Errorf("err = %v, want %v with %q", err, c.kind, c.want)
			}
			// The default budget: 16 MiB plus twice the file.
			if limit := uint64(32 << 20); alloc > limit {
				t.Errorf("allocated %d bytes, more than %d", alloc, limit)
			}
			t.Log(err)
		})
	}
}

// TestInflateBomb feeds the inflater a stream that decompresses to far
// more than the chunk holds: an error after at most a chunk's worth.
func TestInflateBomb(t *testing.T) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	if _, err := zw.Write(make([]byte, 64<<20)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	cr := &chunkReader{d: &Dataset{object: object{f: &File{name: "bomb.h5"}}}, chunkBytes: 24}
	var err error
	alloc := measure(func() { _, err = cr.inflate(z.Bytes()) })
	if !errors.Is(err, errTooLong) {
		t.Errorf("err = %v, want errTooLong", err)
	}
	if alloc > 1<<20 {
		t.Errorf("inflating %d bytes (64 MiB of zeros) allocated %d", z.Len(), alloc)
	}
}
