package persist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/keras"
	"github.com/nlpodyssey/safetensors"
	"gorgonia.org/tensor"
)

// endless is a lazy stream: prefix, then fill bytes without end. It
// allocates nothing however much is read from it, and counts what was
// read.
type endless struct {
	prefix []byte
	fill   byte
	read   int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := copy(p, e.prefix)
	e.prefix = e.prefix[n:]
	for i := n; i < len(p); i++ {
		p[i] = e.fill
	}
	e.read += int64(len(p))
	return len(p), nil
}

func headerLen(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

// stHeader returns a safetensors file's first bytes: the header length
// and the header, padded.
func stHeader(header string) []byte {
	for len(header)%8 != 0 {
		header += " "
	}
	return append(headerLen(uint64(len(header))), header...)
}

// TestHostileStreams is issue 15's case: a stream announcing a huge header
// (or huge tensors) followed by endless bytes used to be read whole
// (io.ReadAll) before anything was checked, and died of memory at 3.6 GB.
// Now sizes are checked before anything is read or allocated, and what is
// read is read through limits.
func TestHostileStreams(t *testing.T) {
	js, err := keras.ToJSON(xorModel())
	if err != nil {
		t.Fatal(err)
	}
	modelMeta := func(js string) string {
		b, _ := jsonString(js)
		return `"__metadata__":{"descent.format":"model","descent.version":"1","model_json":` + b + `}`
	}
	huge := strings.Replace(string(js), `"units": 10`, `"units": 1000000000`, 1)
	cases := []struct {
		name  string
		pre   []byte
		fill  byte
		want  string
		limit uint64 // most allocated
	}{
		{"1<<62 header", headerLen(1 << 62), 'x', "exceeds the format's limit of 100000000", 1 << 20},
		{"150 MB header", headerLen(150_000_000), 'x', "exceeds the format's limit of 100000000", 1 << 20},
		// Read up to the header's length, within the limit, then refused:
		// memory in proportion to what arrived.
		{"20 MB header of junk", headerLen(20 << 20), 'x', `header byte 0: want '{'`, 1<<20 + 2*(20<<20)},
		{"20 MB header, endless JSON string", append(headerLen(20<<20), `{"__metadata__":{"a":"`...), 'x', "unterminated string", 1<<20 + 2*(20<<20)},
		// A valid header describing a terabyte of data: checked against
		// the model before the data is read.
		{"a terabyte of tensors", stHeader(`{"dense_1/kernel:0":{"dtype":"F64","shape":[2,68719476736],"data_offsets":[0,1099511627776]}}`), 0,
			"dense_1/kernel:0 has shape [2 68719476736], the model's dense_1/kernel has [2 10]", 1 << 20},
		{"10^9 units claimed by the architecture and the tensors", stHeader(`{` + modelMeta(huge) + `,"dense_1/kernel:0":{"dtype":"F64","shape":[2,1000000000],"data_offsets":[0,16000000000]},` +
			`"dense_1/bias:0":{"dtype":"F64","shape":[1000000000],"data_offsets":[16000000000,24000000000]},` +
			`"dense_2/kernel:0":{"dtype":"F64","shape":[1000000000,1],"data_offsets":[24000000000,32000000000]},` +
			`"dense_2/bias:0":{"dtype":"F64","shape":[1],"data_offsets":[32000000000,32000000008]}}`), 0,
			"over the limit of 100000000 parameters", 1 << 20},
	}
	for _, c := range cases {
		for _, op := range []string{"ReadWeights", "ReadModel", "ReadCheckpoint"} {
			t.Run(c.name+"/"+op, func(t *testing.T) {
				if op == "ReadWeights" && strings.HasPrefix(c.name, "10^9") {
					t.Skip("a model file; ReadWeights of it is the terabyte case")
				}
				r := &endless{prefix: c.pre, fill: c.fill}
				var err error
				start := time.Now()
				alloc := measure(func() {
					switch op {
					case "ReadWeights":
						err = ReadWeights(r, builtXOR(t, 1, tensor.Float64))
					case "ReadModel":
						_, err = ReadModel(r)
					case "ReadCheckpoint":
						_, err = ReadCheckpoint(r, compiledXOR(t, tensor.Float64))
					}
				})
				t.Logf("read %d bytes, allocated %d, in %v: %v", r.read, alloc, time.Since(start).Round(time.Millisecond), err)
				if err == nil {
					t.Fatal("no error")
				}
				want := c.want
				switch {
				case op == "ReadModel" && strings.HasPrefix(c.name, "a terabyte"):
					want = "no architecture in the file"
				case op == "ReadCheckpoint" && strings.HasPrefix(c.name, "a terabyte"):
					want = "a plain safetensors file, not a checkpoint"
				case op == "ReadCheckpoint" && strings.HasPrefix(c.name, "10^9"):
					want = "a model file, not a checkpoint"
				}
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
				if !errors.Is(err, nn.ErrFormat) && !errors.Is(err, nn.ErrMismatch) && !errors.Is(err, nn.ErrLimit) {
					t.Errorf("error %q wraps none of nn.ErrFormat, ErrMismatch, ErrLimit", err)
				}
				if alloc > c.limit {
					t.Errorf("allocated %d bytes, want at most %d", alloc, c.limit)
				}
			})
		}
	}
}

// jsonString quotes s as a JSON string.
func jsonString(s string) (string, error) {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return `"` + b.String() + `"`, nil
}

// TestArchitectureClaims is issue 15's case: a model file whose
// architecture claims 10^9 units for tensors of 2×10 made Load allocate 16
// GB before comparing anything (and 5·10^7 units took 2.8 s and 2.7 GB).
// The architecture is now compared with the tensors first.
func TestArchitectureClaims(t *testing.T) {
	m := builtXOR(t, 1, tensor.Float64)
	var buf bytes.Buffer
	if err := WriteModel(&buf, m); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name, from, to string
		want           []string
	}{
		{"1e9 units", `\"units\": 10`, `\"units\": 1000000000`, []string{"layer 1 (dense_1)", "3000000000 parameters (1000000000 units on an input of width 2)", "30 (dense_1/bias:0 [10], dense_1/kernel:0 [2 10])", "layer 3 (dense_2)"}},
		{"5e7 units", `\"units\": 1,`, `\"units\": 50000000,`, []string{"layer 3 (dense_2)", "550000000 parameters (50000000 units on an input of width 10)", "11 (dense_2/bias:0 [1], dense_2/kernel:0 [10 1])"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := rewriteHeader(t, buf.Bytes(), c.from, c.to)
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".safetensors")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			var err error
			start := time.Now()
			alloc := measure(func() { _, err = Load(path) })
			took := time.Since(start)
			if !errors.Is(err, nn.ErrMismatch) {
				t.Fatalf("err = %v, want nn.ErrMismatch", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			t.Logf("%v, %d bytes allocated: %v", took, alloc, err)
			if alloc > allocBudget(len(b)) || took > time.Second {
				t.Errorf("took %v and %d bytes (budget %d)", took, alloc, allocBudget(len(b)))
			}
			if _, err := ReadModel(bytes.NewReader(b)); !errors.Is(err, nn.ErrMismatch) {
				t.Errorf("ReadModel: err = %v", err)
			}
		})
	}
	// An architecture consistent with its tensors but over the limit.
	path := filepath.Join(dir, "xor.safetensors")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (Options{MaxParams: 40}).Load(path); !errors.Is(err, nn.ErrLimit) || !strings.Contains(err.Error(), "persist.Options.MaxParams") {
		t.Errorf("a model over the limit: err = %v", err)
	}
	if _, err := (Options{MaxParams: 41}).Load(path); err != nil {
		t.Errorf("a model at the limit: %v", err)
	}
}

// rewriteHeader returns a safetensors file with from replaced by to in its
// header, the header length adjusted.
func rewriteHeader(t *testing.T, file []byte, from, to string) []byte {
	t.Helper()
	n := binary.LittleEndian.Uint64(file)
	hdr := string(file[8 : 8+n])
	if !strings.Contains(hdr, from) {
		t.Fatalf("header lacks %s", from)
	}
	hdr = strings.TrimRight(strings.Replace(hdr, from, to, 1), " ")
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	return append(append(headerLen(uint64(len(hdr))), hdr...), file[8+n:]...)
}

// TestHeaderErrors checks that a header's mistakes are named plainly,
// with the tensor, the field and the byte of the header.
func TestHeaderErrors(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{`{"x":{"dtype":"F64","shape":[-2,10],"data_offsets":[0,8]}}`, `header byte 29: tensor "x" shape[0] is -2: a negative size`},
		{`{"x":{"dtype":"F64","shape":[2.5],"data_offsets":[0,8]}}`, `tensor "x" shape[0] is 2.5, not a whole number`},
		{`{"x":{"dtype":"F64","shape":[1e30],"data_offsets":[0,8]}}`, `tensor "x" shape[0] is 1e30, beyond 2^64`},
		{`{"x":{"dtype":"F64","shape":["1"],"data_offsets":[0,8]}}`, `tensor "x" shape[0] is "\"1\"]`},
		{`{"x":{"dtype":"F64","shape":[1],"data_offsets":[8,0]}}`, `data_offsets [8 0], want [begin, end] with begin <= end`},
		{`{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8],"extra":1}}`, `tensor "x": unknown field "extra"`},
		{`{"x":{"dtype":"F64","shape":[1]}}`, `tensor "x" has no data_offsets`},
		{`{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"x":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}`, `tensor "x" appears twice`},
		{`{"x":{"dtype":"F64","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data_offsets":[0,8]}}`, `shape has more than 16 values`},
		{`{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, `tensor "x": F64 of shape [2] takes 16 bytes, its data offsets [0 8] span 8`},
		{`{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}} junk`, `unexpected "junk`},
		{`{"__metadata__":{"a":"b","a":"c"},"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, `__metadata__ key "a" appears twice`},
	} {
		b := append(stHeader(c.header), make([]byte, 8)...)
		err := ReadWeights(bytes.NewReader(b), builtXOR(t, 1, tensor.Float64))
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, nn.ErrFormat) {
			t.Errorf("%s:\n got %v\nwant %q", c.header, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "strconv") || strings.Contains(err.Error(), "interface")) {
			t.Errorf("%s: error %q shows Go internals", c.header, err)
		}
	}
	// Many tensors: refused past maxTensors, at the byte where the limit
	// is crossed.
	var h strings.Builder
	h.WriteString("{")
	for i := range maxTensors + 1 {
		fmt.Fprintf(&h, `"t%d":{"dtype":"F64","shape":[],"data_offsets":[%d,%d]},`, i, 8*i, 8*i+8)
	}
	s := strings.TrimSuffix(h.String(), ",") + "}"
	if _, err := parseHeader([]byte(s)); err == nil || !strings.Contains(err.Error(), "more than 65536 tensors") {
		t.Errorf("%d tensors: err = %v", maxTensors+1, err)
	}
}

// TestLoadWeightsArchitecture is issue 15's case: LoadWeights given a
// whole-model or checkpoint file took its tensors and ignored its
// architecture, even invalid. It now checks the architecture against the
// model and the metadata for validity.
func TestLoadWeightsArchitecture(t *testing.T) {
	m := builtXOR(t, 1, tensor.Float64)
	var buf bytes.Buffer
	if err := WriteModel(&buf, m); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The same architecture: the weights load.
	same := builtXOR(t, 2, tensor.Float64)
	if err := LoadWeights(write("same.safetensors", good), same); err != nil {
		t.Fatal(err)
	}
	sameBits(t, "weights", paramBits(same), paramBits(m))

	relu := nn.NewSequential(&nn.Dense{Units: 10, InputDim: 2}, &nn.Activation{Fn: "relu"}, &nn.Dense{Units: 1}, &nn.Activation{Fn: "sigmoid"})
	if err := relu.Build(nn.BuildConfig{Seed: 3}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		file   []byte
		into   *nn.Sequential
		is     error
		wanted string
	}{
		{"another architecture", good, relu, nn.ErrMismatch, `layer 2 (activation_1): activation: the file "tanh", the model "relu"`},
		{"invalid model_json", rewriteHeader(t, good, `\"class_name\": \"Sequential\"`, `\"class_name\": [`), builtXOR(t, 2, tensor.Float64), nn.ErrFormat, "the architecture in the file: keras: line 1"},
		{"invalid dtype", rewriteHeader(t, good, `"descent.dtype":"float64"`, `"descent.dtype":"float65"`), builtXOR(t, 2, tensor.Float64), nn.ErrFormat, `descent.dtype "float65"`},
		{"dtype contradicting the tensors", rewriteHeader(t, good, `"descent.dtype":"float64"`, `"descent.dtype":"float32"`), builtXOR(t, 2, tensor.Float64), nn.ErrFormat, "descent.dtype is float32, but the weights are F64"},
		{"invalid seed", rewriteHeader(t, good, `"descent.seed":"1"`, `"descent.seed":"-1"`), builtXOR(t, 2, tensor.Float64), nn.ErrFormat, `descent.seed "-1" is not a seed`},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := paramBits(c.into)
			path := write(strings.ReplaceAll(c.name, " ", "_")+".safetensors", c.file)
			err := LoadWeights(path, c.into)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.wanted) {
				t.Errorf("err = %v, want %v saying %q", err, c.is, c.wanted)
			}
			sameBits(t, "weights after a failed load", paramBits(c.into), before)
			if err := ReadWeights(bytes.NewReader(c.file), c.into); !errors.Is(err, c.is) {
				t.Errorf("ReadWeights: err = %v", err)
			}
		})
	}

	// A checkpoint: its weights load into the same architecture, and its
	// architecture is checked.
	ckpt := trainedCheckpoint(t)
	cm := resumeCases()[2].model(t, 1)
	if err := LoadWeights(write("ckpt.safetensors", ckpt), cm); err != nil {
		t.Fatal(err)
	}
	before := paramBits(relu)
	if err := LoadWeights(write("ckpt.safetensors", ckpt), relu); !errors.Is(err, nn.ErrMismatch) || !strings.Contains(err.Error(), "the checkpoint") {
		t.Errorf("a checkpoint of another architecture: err = %v", err)
	}
	sameBits(t, "weights after a failed load", paramBits(relu), before)
}

// TestCheckpointEpochRecords checks that a checkpoint's epoch records are
// decoded one at a time and must be complete, so that a training state of
// empty records ({}, 3 bytes each, 80 bytes decoded) is refused at the
// first one instead of taking 27 times its size.
func TestCheckpointEpochRecords(t *testing.T) {
	good := trainedCheckpoint(t)
	n := binary.LittleEndian.Uint64(good)
	hdr := string(good[8 : 8+n])
	i := strings.Index(hdr, `\"epochs\":[`)
	if i < 0 {
		t.Fatal("no epochs in the training state")
	}
	j := i + strings.Index(hdr[i:], `]`)
	for _, c := range []struct{ name, epochs, want string }{
		{"empty records", strings.Repeat("{},", 200_000) + "{}", "epoch record 1 lacks a field"},
		{"unknown metric", `{\"epoch\":1,\"loss\":0.5,\"metrics\":{\"zzz\":1},\"lr\":0.1,\"steps\":1,\"examples\":4,\"grad_evals\":1,\"elapsed_ns\":5}`, `metric "zzz" the model does not compute`},
		{"misnumbered", `{\"epoch\":2,\"loss\":0.5,\"metrics\":{},\"lr\":0.1,\"steps\":1,\"examples\":4,\"grad_evals\":1,\"elapsed_ns\":5}`, "epoch record 1 is of epoch 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := hdr[:i] + `\"epochs\":[` + c.epochs + hdr[j:]
			h = strings.TrimRight(h, " ")
			for len(h)%8 != 0 {
				h += " "
			}
			b := append(append(headerLen(uint64(len(h))), h...), good[8+n:]...)
			m := resumeCases()[2].model(t, 1)
			var err error
			alloc := measure(func() { _, err = ReadCheckpoint(bytes.NewReader(b), m) })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			// The stream in blocks and joined (2×), the header's strings
			// (1×), the training state's JSON and its epochs' raw copy
			// (2×), scanning; decoding 200,000 empty records into
			// structs, as before, took 27 times their text.
			if alloc > 1<<20+8*uint64(len(b)) {
				t.Errorf("refusing %d bytes allocated %d", len(b), alloc)
			}
		})
	}
}

// FuzzReadModel reads any input as a whole model from a stream: no panic,
// allocations bounded by a small multiple of the input (what a header
// claims, an architecture of 10^9 units included, is never allocated),
// and on success a model that predicts.
func FuzzReadModel(f *testing.F) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		var buf bytes.Buffer
		if err := WriteModel(&buf, builtXOR(f, 1, dt)); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
		for _, b := range badFiles(f, buf.Bytes()) {
			if len(b) < 1<<16 {
				f.Add(b)
			}
		}
	}
	for _, p := range []string{"keras_mlp_model.h5", "keras_xor_weights.h5"} {
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m *nn.Sequential
		var err error
		alloc := measure(func() { m, err = Options{MaxParams: fuzzParams}.ReadModel(bytes.NewReader(b)) })
		if alloc > fuzzBudget(len(b)) {
			t.Fatalf("reading %d bytes allocated %d (budget %d)", len(b), alloc, fuzzBudget(len(b)))
		}
		if err != nil {
			return
		}
		x := make([]float64, 2*m.InputDim())
		if _, err := m.PredictRows(matrixDT(x, m.DType(), 2, m.InputDim())); err != nil {
			t.Fatalf("a model read without error does not predict: %v", err)
		}
	})
}

// FuzzLoadH5 reads any input as Keras HDF5 weights through the persist
// API, from a stream and from a file: no panic, errors that wrap nn's
// sentinels, allocations bounded, and the model unchanged by a failed
// load.
func FuzzLoadH5(f *testing.F) {
	for _, p := range []string{"keras_xor_weights.h5", "keras_mlp_weights.h5", "keras_mlp_model.h5"} {
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	var buf bytes.Buffer
	if err := writeH5(&buf, builtXOR(f, 1, tensor.Float64), true); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	m := builtXOR(f, 2, tensor.Float32)
	path := filepath.Join(f.TempDir(), "fuzz.h5")
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 8 || string(b[:8]) != hdf5Magic {
			return // the safetensors path has FuzzLoadWeights
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, how := range []string{"stream", "file"} {
			before := paramBits(m)
			var err error
			alloc := measure(func() {
				if how == "stream" {
					err = ReadWeights(bytes.NewReader(b), m)
				} else {
					err = LoadWeights(path, m)
				}
			})
			if alloc > h5AllocBudget(len(b)) {
				t.Fatalf("%s: reading %d bytes allocated %d (budget %d)", how, len(b), alloc, h5AllocBudget(len(b)))
			}
			if err == nil {
				continue
			}
			sameBits(t, how+": weights after a failed load", paramBits(m), before)
			if !errors.Is(err, nn.ErrFormat) && !errors.Is(err, nn.ErrMismatch) && !errors.Is(err, nn.ErrUnsupported) && !errors.Is(err, nn.ErrLimit) && !errors.Is(err, nn.ErrNotFinite) {
				var pe *os.PathError
				if !errors.As(err, &pe) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("%s: error %q wraps no sentinel of nn", how, err)
				}
			}
		}
	})
}

// fuzzParams bounds the models the fuzz tests build.
const fuzzParams = 100_000

// fuzzBudget is what reading n bytes as a model may allocate: the stream
// read in blocks (2n), the header's strings (n), Keras JSON parsed (about
// 100 bytes per byte, garbage but counted), a model of fuzzParams and
// fixed costs.
func fuzzBudget(n int) uint64 { return 2<<20 + 8*fuzzParams + 128*uint64(n) }

var _ = safetensors.F64
