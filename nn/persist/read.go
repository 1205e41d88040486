package persist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/nn/internal/hdf5"
	"github.com/descentlab/descent/nn/internal/kerash5"
	"github.com/nlpodyssey/safetensors"
)

// Reading. Every reader bounds what it allocates by what it has read and
// checked:
//
//   - a safetensors file's header length is checked against the file's
//     size and maxHeader before the header is read, and the header (its
//     grammar, limits and data offsets, see parseHeader) against the
//     file's size before the data is read: nothing larger than the file
//     is allocated;
//   - a stream has no size, so it is read through limits: the header
//     length against maxHeader, then the header and the data the header
//     describes in blocks of blockSize, growing with the bytes that
//     actually arrive, never with what the stream announces (a stream
//     announcing a 100 MB header and sending 10 bytes costs 10 bytes);
//   - an HDF5 file is read in place (package hdf5 reads what it needs,
//     within a budget of 16 MiB + 2 × the file's size); an HDF5 stream is
//     read whole first, as above, up to the length its superblock
//     announces and at most maxH5Stream, since HDF5 needs random access.
//
// A stream is read to its end: bytes after what the header describes are
// an error.

// maxHeader is the largest safetensors header accepted: the reference
// implementation's limit (100 MB).
const maxHeader = 100_000_000

// firstBlock and blockSize are the units in which a stream's bytes are
// read and kept until they are all there.
const (
	firstBlock = 16 << 10
	blockSize  = 1 << 20
)

// maxH5Stream is the largest HDF5 stream read: HDF5 needs random access,
// so a stream is held in memory whole before it can be checked against
// the model. A file is read in place, without this limit.
const maxH5Stream = 256 << 20

// hdf5Magic begins every HDF5 file (Keras's .h5 format).
const hdf5Magic = "\x89HDF\r\n\x1a\n"

// stFile is a loaded file, safetensors or HDF5.
type stFile struct {
	op, name string
	// meta holds a safetensors file's metadata; for an HDF5 file, the
	// model's JSON under metaModel when it is a model.save file.
	meta map[string]string
	// tensors are a safetensors file's tensors by name.
	tensors map[string]*tensorEntry
	// format is descent's format of a safetensors file ("weights",
	// "model", "checkpoint"), "" for a foreign one.
	format string
	// h5 is an HDF5 file's content (Keras's layout), nil for safetensors.
	h5 *kerash5.File
	// stream holds a safetensors stream's tensor data until load reads
	// it; nil once read, and for files.
	stream io.Reader
}

// kind describes the file for messages.
func (f *stFile) kind() string {
	switch {
	case f.h5 != nil && f.h5.ModelConfig != "":
		return "Keras model.save HDF5"
	case f.h5 != nil:
		return "Keras save_weights HDF5"
	case f.format == "":
		return "plain safetensors"
	}
	return f.format
}

// readFile reads a weights, model or checkpoint file, choosing the format
// by its content.
func readFile(op, path string) (*stFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("persist: %s: %w", op, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("persist: %s: %w", op, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, formatError(op, path, "not a regular file")
	}
	size := fi.Size()
	if size < 8 {
		return nil, formatError(op, path, "file is %d bytes, shorter than the 8-byte header length of a safetensors file and the signature of an HDF5 file (truncated, or neither)", size)
	}
	var head [8]byte
	if _, err := io.ReadFull(fh, head[:]); err != nil {
		return nil, fmt.Errorf("persist: %s %s: %w", op, path, err)
	}
	if string(head[:]) == hdf5Magic {
		return readH5(op, path, fh, size, 0)
	}
	n := binary.LittleEndian.Uint64(head[:])
	if msg := checkHeaderLength(n, uint64(size)); msg != "" {
		return nil, headerLengthError(op, path, n, msg)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(fh, hdr); err != nil {
		return nil, formatError(op, path, "file shrank while reading: %v", err)
	}
	h, err := parseHeader(hdr)
	if err != nil {
		return nil, formatError(op, path, "%v", err)
	}
	if avail := uint64(size) - 8 - n; h.dataLen != avail {
		if h.dataLen > avail {
			return nil, formatError(op, path, "the header describes %d bytes of tensor data, the file holds %d (truncated?)", h.dataLen, avail)
		}
		return nil, formatError(op, path, "%d bytes of unexpected data follow the tensors", avail-h.dataLen)
	}
	data := make([]byte, h.dataLen)
	if _, err := io.ReadFull(fh, data); err != nil {
		return nil, formatError(op, path, "file shrank while reading: %v", err)
	}
	return newSTFile(op, path, h, data)
}

// readStream reads a weights, model or checkpoint stream, choosing the
// format by its content.
func readStream(op string, r io.Reader) (*stFile, error) {
	name := "<reader>"
	if r == nil {
		return nil, formatError(op, name, "nil reader")
	}
	if n, ok := r.(interface{ Name() string }); ok {
		name = n.Name()
	}
	var head [8]byte
	if k, err := io.ReadFull(r, head[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, formatError(op, name, "stream of %d bytes, shorter than the 8-byte header length of a safetensors file and the signature of an HDF5 file", k)
		}
		return nil, fmt.Errorf("persist: %s %s: %w", op, name, err)
	}
	if string(head[:]) == hdf5Magic {
		return readH5Stream(op, name, head, r)
	}
	n := binary.LittleEndian.Uint64(head[:])
	switch {
	case n > maxHeader:
		return nil, headerLengthError(op, name, n, fmt.Sprintf("header length %d exceeds the format's limit of %d bytes", n, maxHeader))
	case n < 2:
		return nil, formatError(op, name, "header length %d is too short for a JSON object (not a safetensors file)", n)
	}
	hdr, err := readN(r, n)
	if err != nil {
		return nil, streamError(op, name, err, "the header", n)
	}
	h, err := parseHeader(hdr)
	if err != nil {
		return nil, formatError(op, name, "%v", err)
	}
	f := &stFile{op: op, name: name, meta: h.meta, tensors: h.tensors, stream: r}
	if err := f.checkFormat(); err != nil {
		return nil, err
	}
	return f, nil
}

// load reads a stream's tensor data, once the header has been checked
// against what the file is loaded into: the tensors keep accepts (all if
// nil) are kept, each read through readN, the others read and dropped, so
// that a stream's data costs no more than the weights the model has room
// for (and a checkpoint's state). A file's data is in memory already.
func (f *stFile) load(keep func(name string) bool) error {
	if f.stream == nil {
		return nil
	}
	r := f.stream
	f.stream = nil
	names := f.sortedNames()
	slices.SortFunc(names, func(a, b string) int { return cmpU64(f.tensors[a].offsets[0], f.tensors[b].offsets[0]) })
	var at uint64
	for _, n := range names {
		t := f.tensors[n]
		size := t.offsets[1] - t.offsets[0]
		if keep == nil || keep(n) {
			b, err := readN(r, size)
			if err != nil {
				return streamError(f.op, f.name, err, "tensor "+n+" at data offset "+strconv.FormatUint(at, 10), size)
			}
			t.data = b
		} else if k, err := io.CopyN(io.Discard, r, int64(min(size, 1<<62))); err != nil {
			if err == io.EOF {
				err = &shortRead{uint64(k)}
			}
			return streamError(f.op, f.name, err, "tensor "+n+" at data offset "+strconv.FormatUint(at, 10), size)
		}
		at += size
	}
	var one [1]byte
	if k, _ := io.ReadFull(r, one[:]); k > 0 {
		return formatError(f.op, f.name, "unexpected data follows the tensors")
	}
	return nil
}

// shortRead reports a stream that ended early.
type shortRead struct{ got uint64 }

func (e *shortRead) Error() string { return fmt.Sprintf("the stream ended after %d bytes", e.got) }

func streamError(op, name string, err error, what string, want uint64) error {
	var sr *shortRead
	if errors.As(err, &sr) {
		return formatError(op, name, "the stream ended after %d of the %d bytes of %s (truncated?)", sr.got, want, what)
	}
	return fmt.Errorf("persist: %s %s: reading %s: %w", op, name, what, err)
}

// readN reads exactly n bytes, in blocks that double from firstBlock to
// blockSize, so that memory grows with the bytes that arrive: at most
// twice what was read, plus firstBlock, whatever n says.
func readN(r io.Reader, n uint64) ([]byte, error) {
	if n <= firstBlock {
		b := make([]byte, n)
		k, err := io.ReadFull(r, b)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, &shortRead{uint64(k)}
		}
		return b, err
	}
	var blocks [][]byte
	var got uint64
	for bs := uint64(firstBlock); got < n; bs = min(2*bs, blockSize) {
		b := make([]byte, min(n-got, bs))
		k, err := io.ReadFull(r, b)
		got += uint64(k)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, &shortRead{got}
		}
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, b)
	}
	return slices.Concat(blocks...), nil
}

// readH5Stream reads an HDF5 stream whose first 8 bytes (the signature)
// were read: the superblock's end-of-file address says how long the file
// is, and the stream is read up to it through readN, then parsed in
// memory.
func readH5Stream(op, name string, head [8]byte, r io.Reader) (*stFile, error) {
	// Superblock versions 0 and 1 put the end-of-file address at bytes 40
	// and 44, versions 2 and 3 at byte 28, each after a base address that
	// must be 0 (package hdf5 checks the rest).
	sb := make([]byte, 52)
	copy(sb, head[:])
	if k, err := io.ReadFull(r, sb[8:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, formatError(op, name, "HDF5 stream of %d bytes, too short for a superblock (truncated)", 8+k)
		}
		return nil, fmt.Errorf("persist: %s %s: %w", op, name, err)
	}
	var eofAt int
	switch sb[8] {
	case 0:
		eofAt = 40
	case 1:
		eofAt = 44
	case 2, 3:
		eofAt = 28
	default:
		return nil, h5Error(op, name, &hdf5.Error{File: name, Offset: 8, Msg: fmt.Sprintf("superblock version %d is not supported (versions 0 to 3 are)", sb[8]), Err: hdf5.ErrUnsupported})
	}
	eof := binary.LittleEndian.Uint64(sb[eofAt:])
	switch {
	case eof == ^uint64(0):
		return nil, formatError(op, name, "the HDF5 superblock gives no end-of-file address, so the stream's length is unknown (read it from a file)")
	case eof < uint64(len(sb)):
		return nil, formatError(op, name, "the HDF5 superblock's end-of-file address %d is inside the superblock", eof)
	case eof > maxH5Stream:
		e := &LoadError{Op: op, File: name}
		e.add(nn.ErrLimit, "an HDF5 stream of %d bytes (its superblock's end-of-file address) is over the limit of %d for streams: load it from a file (LoadWeights, Load), which is read in place", eof, maxH5Stream)
		return nil, e
	}
	rest, err := readN(r, eof-uint64(len(sb)))
	if sr := (*shortRead)(nil); errors.As(err, &sr) {
		sr.got += uint64(len(sb))
	}
	if err != nil {
		return nil, streamError(op, name, err, "the HDF5 file its superblock announces", eof)
	}
	var one [1]byte
	if k, _ := io.ReadFull(r, one[:]); k > 0 {
		return nil, formatError(op, name, "unexpected data follows the HDF5 end-of-file address %d", eof)
	}
	all := append(sb, rest...)
	// The stream's bytes are in memory already: package hdf5 gets a
	// budget of 16 MiB + 1 × its size (enough to read every weight of an
	// uncompressed file once), not its default of twice the size.
	return readH5(op, name, bytes.NewReader(all), int64(len(all)), 16<<20+int64(len(all)))
}

// checkHeaderLength returns why a header length n is impossible in a file
// of size bytes, or "".
func checkHeaderLength(n, size uint64) string {
	switch {
	case n > maxHeader:
		return fmt.Sprintf("header length %d exceeds the format's limit of %d bytes", n, maxHeader)
	case n > size-8:
		return fmt.Sprintf("header length %d exceeds the %d bytes that follow it (truncated, or not a safetensors file)", n, size-8)
	case n < 2:
		return fmt.Sprintf("header length %d is too short for a JSON object (not a safetensors file)", n)
	}
	return ""
}

// headerLengthError reports an impossible header length, as a limit when
// it is over maxHeader.
func headerLengthError(op, name string, n uint64, msg string) *LoadError {
	e := formatError(op, name, "%s", msg)
	if n > maxHeader {
		e.kinds = append(e.kinds, nn.ErrLimit)
	}
	return e
}

// newSTFile makes a loaded safetensors file of a checked header and its
// data.
func newSTFile(op, name string, h *header, data []byte) (*stFile, error) {
	for _, t := range h.tensors {
		t.data = data[t.offsets[0]:t.offsets[1]:t.offsets[1]]
	}
	f := &stFile{op: op, name: name, meta: h.meta, tensors: h.tensors}
	if err := f.checkFormat(); err != nil {
		return nil, err
	}
	return f, nil
}

// readH5 reads a Keras HDF5 file (save_weights or model.save layout) of
// size bytes from r, with a read budget (0 for package hdf5's default).
func readH5(op, name string, r io.ReaderAt, size, budget int64) (*stFile, error) {
	kf, err := kerash5.Read(r, size, hdf5.Options{Name: name, MaxReadBytes: budget})
	if err != nil {
		return nil, h5Error(op, name, err)
	}
	f := &stFile{op: op, name: name, meta: map[string]string{}, h5: kf}
	if kf.ModelConfig != "" {
		f.meta[metaModel] = kf.ModelConfig
	}
	return f, nil
}

// h5Error turns an error of packages hdf5 and kerash5 into a *LoadError
// wrapping nn's sentinels: ErrFormat for a damaged file or one not in
// Keras's layout, ErrUnsupported for HDF5 features Keras files do not use,
// ErrLimit for a file beyond the reader's limits. I/O errors are wrapped
// as they are.
func h5Error(op, name string, err error) error {
	var he *hdf5.Error
	msg := err.Error()
	if errors.As(err, &he) {
		msg = he.Msg
		if he.Object != "" {
			msg = he.Object + ": " + msg
		}
		if he.Offset >= 0 {
			msg += fmt.Sprintf(" (at byte %d)", he.Offset)
		}
	} else {
		msg = strings.TrimPrefix(msg, "kerash5: "+name+": ")
		msg = strings.TrimPrefix(msg, "kerash5: ")
		msg = strings.TrimSuffix(msg, ": "+kerash5.ErrLayout.Error())
		if errors.Is(err, kerash5.ErrLayout) {
			msg += " (not in Keras's save_weights or model.save layout)"
		}
	}
	e := &LoadError{Op: op, File: name}
	switch {
	case errors.Is(err, hdf5.ErrUnsupported):
		e.add(nn.ErrUnsupported, "%s", msg)
	case errors.Is(err, hdf5.ErrLimit):
		e.add(nn.ErrLimit, "%s", msg)
	case errors.Is(err, hdf5.ErrFormat), errors.Is(err, hdf5.ErrNotFound), errors.Is(err, kerash5.ErrLayout):
		e.add(nn.ErrFormat, "%s", msg)
	default:
		return fmt.Errorf("persist: %s %s: %w", op, name, err)
	}
	return e
}

// checkFormat checks descent's format and version keys when present.
func (f *stFile) checkFormat() error {
	format, hasFormat := f.meta[metaFormat]
	version, hasVersion := f.meta[metaVersion]
	if !hasFormat && !hasVersion {
		return nil // a foreign file: weights only
	}
	if !hasVersion {
		return formatError(f.op, f.name, "%s %q without %s", metaFormat, format, metaVersion)
	}
	if version != formatVersion {
		return formatError(f.op, f.name, "format version %q is not supported (this descent reads version %s)", version, formatVersion)
	}
	switch format {
	case formatWeights, formatModel, formatCheckpoint:
	default:
		return formatError(f.op, f.name, "unknown %s %q (want %s, %s or %s)", metaFormat, format, formatWeights, formatModel, formatCheckpoint)
	}
	f.format = format
	return nil
}

// isWeight reports whether a tensor of the file is a model weight (and not
// optimizer or history state of a checkpoint).
func (f *stFile) isWeight(name string) bool {
	return f.format != formatCheckpoint || !isStateTensor(name)
}

// tensor returns a safetensors tensor and its bytes (nil for a stream's
// tensor before load).
func (f *stFile) tensor(name string) (*tensorEntry, []byte, bool) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, nil, false
	}
	return t, t.data, true
}

// sortedNames returns the file's tensor names, sorted.
func (f *stFile) sortedNames() []string {
	names := make([]string, 0, len(f.tensors))
	for n := range f.tensors {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// weightInfo is a weight of the file as the architecture check sees it.
type weightInfo struct {
	name  string
	shape []uint64
}

// layerWeights returns the file's weights of a layer: the tensors named
// "<layer>/..." of a safetensors file, the layer's group of an HDF5 file.
func (f *stFile) layerWeights(layer string) []weightInfo {
	var out []weightInfo
	if f.h5 != nil {
		if l, ok := f.h5.Layer(layer); ok {
			for _, w := range l.Weights {
				out = append(out, weightInfo{w.Name, h5Shape(w.Shape)})
			}
		}
		return out
	}
	for _, n := range f.sortedNames() {
		if strings.HasPrefix(n, layer+"/") && f.isWeight(n) {
			out = append(out, weightInfo{n, f.tensors[n].Shape})
		}
	}
	return out
}

func h5Shape(s []int) []uint64 {
	out := make([]uint64, len(s))
	for i, d := range s {
		out[i] = uint64(d)
	}
	return out
}

// weightDType returns the dtype of the file's weights: the first weight's
// (in name order), or ok false when it has none.
func (f *stFile) weightDType() (dt safetensors.DType, ok bool) {
	if f.h5 != nil {
		for _, l := range f.h5.Layers {
			for _, w := range l.Weights {
				return h5DType(w.DType), true
			}
		}
		return 0, false
	}
	for _, name := range f.sortedNames() {
		if f.isWeight(name) {
			return f.tensors[name].DType, true
		}
	}
	return 0, false
}
