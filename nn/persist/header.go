package persist

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/nlpodyssey/safetensors"
)

// The safetensors header is read by a parser of its own rather than the
// codec's: the codec decodes it into maps of interfaces (tens of bytes of
// memory per byte of header) and reports a negative dimension as Go's
// %#v of its values. This parser accepts exactly the header's grammar, a
// JSON object mapping "__metadata__" to an object of strings and every
// other key to {"dtype", "shape", "data_offsets"}, keeps nothing but the
// strings and numbers it returns, and says what is wrong and where (byte
// offset in the header, tensor, field).

// Limits of the header beyond its length (maxHeader).
const (
	// maxTensors bounds the tensors of a file: descent writes at most six
	// per Dense layer (weights and two optimizer buffers each).
	maxTensors = 1 << 16
	// maxRank bounds a tensor's dimensions: descent's are at most 2.
	maxRank = 16
)

// tensorEntry is one tensor of a loaded file: its dtype, shape and
// little-endian bytes, row major.
type tensorEntry struct {
	DType safetensors.DType
	Shape []uint64
	// offsets are the data offsets the header gives (safetensors only).
	offsets [2]uint64
	data    []byte
}

// header is a parsed safetensors header.
type header struct {
	meta    map[string]string
	tensors map[string]*tensorEntry
	dataLen uint64 // bytes of tensor data the header describes
}

// headerError is a problem at a byte offset of the header.
type headerError struct {
	off int
	msg string
}

func (e *headerError) Error() string { return fmt.Sprintf("header byte %d: %s", e.off, e.msg) }

// hscan is the header's scanner.
type hscan struct {
	b   []byte
	pos int
}

func (s *hscan) fail(format string, args ...any) error {
	return &headerError{off: s.pos, msg: fmt.Sprintf(format, args...)}
}

func (s *hscan) space() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (s *hscan) peek() byte {
	s.space()
	if s.pos >= len(s.b) {
		return 0
	}
	return s.b[s.pos]
}

func (s *hscan) expect(c byte, what string) error {
	got := s.peek()
	if got != c {
		return s.fail("want %q %s, got %s", c, what, s.describe())
	}
	s.pos++
	return nil
}

// describe names what is at the scanner's position, for errors.
func (s *hscan) describe() string {
	if s.pos >= len(s.b) {
		return "the end of the header"
	}
	end := min(s.pos+16, len(s.b))
	return strconv.Quote(string(s.b[s.pos:end]))
}

// str reads a JSON string.
func (s *hscan) str(what string) (string, error) {
	if s.peek() != '"' {
		return "", s.fail("want a string for %s, got %s", what, s.describe())
	}
	start := s.pos
	escaped := false
	for i := start + 1; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '\\':
			escaped = true
			i++
		case c < 0x20:
			return "", s.fail("control character in the string for %s", what)
		case c == '"':
			raw := s.b[start : i+1]
			s.pos = i + 1
			if !escaped {
				if !utf8.Valid(raw) {
					return "", &headerError{off: start, msg: fmt.Sprintf("the string for %s is not UTF-8", what)}
				}
				return string(raw[1 : len(raw)-1]), nil
			}
			var out string
			if err := json.Unmarshal(raw, &out); err != nil {
				return "", &headerError{off: start, msg: fmt.Sprintf("the string for %s: %v", what, err)}
			}
			return out, nil
		}
	}
	return "", s.fail("unterminated string for %s", what)
}

// natural reads a JSON number that must be a natural number.
func (s *hscan) natural(what string) (uint64, error) {
	s.space()
	start := s.pos
	for s.pos < len(s.b) && (s.b[s.pos] == '-' || s.b[s.pos] == '+' || s.b[s.pos] == '.' || s.b[s.pos] == 'e' || s.b[s.pos] == 'E' || s.b[s.pos] >= '0' && s.b[s.pos] <= '9') {
		s.pos++
	}
	tok := string(s.b[start:s.pos])
	if tok == "" {
		s.pos = start
		return 0, s.fail("%s is %s, want a natural number", what, s.describe())
	}
	v, err := strconv.ParseUint(tok, 10, 64)
	if err == nil && (tok[0] != '0' || tok == "0") {
		return v, nil
	}
	s.pos = start
	switch f, ferr := strconv.ParseFloat(tok, 64); {
	case ferr == nil && f < 0:
		return 0, s.fail("%s is %s: a negative size", what, tok)
	case ferr == nil && f >= 1<<64:
		return 0, s.fail("%s is %s, beyond 2^64", what, tok)
	case ferr == nil && f != float64(uint64(f)):
		return 0, s.fail("%s is %s, not a whole number", what, tok)
	}
	return 0, s.fail("%s is %q, want a natural number", what, tok)
}

// object reads an object, calling field for each key; keys must be unique.
func (s *hscan) object(what string, field func(key string) error) error {
	if err := s.expect('{', "to open "+what); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		key, err := s.str("a key of " + what)
		if err != nil {
			return err
		}
		if err := s.expect(':', "after the key "+strconv.Quote(key)); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.fail("want ',' or '}' in %s, got %s", what, s.describe())
		}
	}
}

// naturals reads an array of natural numbers, at most max of them.
func (s *hscan) naturals(what string, max int) ([]uint64, error) {
	if err := s.expect('[', "to open "+what); err != nil {
		return nil, err
	}
	var out []uint64
	if s.peek() == ']' {
		s.pos++
		return []uint64{}, nil
	}
	for {
		if len(out) == max {
			return nil, s.fail("%s has more than %d values", what, max)
		}
		v, err := s.natural(fmt.Sprintf("%s[%d]", what, len(out)))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return out, nil
		default:
			return nil, s.fail("want ',' or ']' in %s, got %s", what, s.describe())
		}
	}
}

// parseHeader parses and checks a safetensors header: its grammar, its
// limits (maxTensors, maxRank), each tensor's dtype, and its data offsets,
// which must tile the data section from 0 without gap or overlap, each
// tensor's span holding exactly its shape's elements.
func parseHeader(b []byte) (*header, error) {
	s := &hscan{b: b}
	h := &header{meta: map[string]string{}, tensors: map[string]*tensorEntry{}}
	seenMeta := false
	err := s.object("the header", func(key string) error {
		if key == "__metadata__" {
			if seenMeta {
				return s.fail("__metadata__ appears twice")
			}
			seenMeta = true
			return s.object("__metadata__", func(k string) error {
				if _, dup := h.meta[k]; dup {
					return s.fail("__metadata__ key %q appears twice", k)
				}
				v, err := s.str(fmt.Sprintf("__metadata__ %q (metadata values are strings)", k))
				if err != nil {
					return err
				}
				h.meta[k] = v
				return nil
			})
		}
		if _, dup := h.tensors[key]; dup {
			return s.fail("tensor %q appears twice", key)
		}
		if len(h.tensors) == maxTensors {
			return s.fail("more than %d tensors", maxTensors)
		}
		t, err := s.tensor(key)
		if err != nil {
			return err
		}
		h.tensors[key] = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.peek() != 0 {
		return nil, s.fail("unexpected %s after the header's object", s.describe())
	}
	if h.dataLen, err = h.checkOffsets(); err != nil {
		return nil, err
	}
	return h, nil
}

// tensor reads one tensor's description.
func (s *hscan) tensor(name string) (*tensorEntry, error) {
	t := &tensorEntry{}
	var seen [3]bool
	at := s.pos
	what := fmt.Sprintf("tensor %q", name)
	err := s.object(what, func(key string) error {
		i := slices.Index([]string{"dtype", "shape", "data_offsets"}, key)
		if i < 0 {
			return s.fail("%s: unknown field %q (want dtype, shape and data_offsets)", what, key)
		}
		if seen[i] {
			return s.fail("%s: %s appears twice", what, key)
		}
		seen[i] = true
		switch key {
		case "dtype":
			v, err := s.str(what + " dtype")
			if err != nil {
				return err
			}
			dt, err := safetensors.ParseDType(v)
			if err != nil {
				return s.fail("%s: unknown dtype %q", what, v)
			}
			t.DType = dt
		case "shape":
			shape, err := s.naturals(what+" shape", maxRank)
			if err != nil {
				return err
			}
			t.Shape = shape
		case "data_offsets":
			offs, err := s.naturals(what+" data_offsets", 2)
			if err != nil {
				return err
			}
			if len(offs) != 2 || offs[0] > offs[1] {
				return s.fail("%s: data_offsets %v, want [begin, end] with begin <= end", what, offs)
			}
			t.offsets = [2]uint64{offs[0], offs[1]}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, k := range []string{"dtype", "shape", "data_offsets"} {
		if !seen[i] {
			return nil, &headerError{off: at, msg: fmt.Sprintf("%s has no %s", what, k)}
		}
	}
	return t, nil
}

// checkOffsets checks that the tensors tile the data section and returns
// its length.
func (h *header) checkOffsets() (uint64, error) {
	names := make([]string, 0, len(h.tensors))
	for n := range h.tensors {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		x, y := h.tensors[a].offsets, h.tensors[b].offsets
		if x[0] != y[0] {
			return cmpU64(x[0], y[0])
		}
		return cmpU64(x[1], y[1])
	})
	var end uint64
	for _, n := range names {
		t := h.tensors[n]
		if t.offsets[0] != end {
			if t.offsets[0] < end {
				return 0, fmt.Errorf("tensor %q at data offsets %v overlaps the tensor before it, which ends at %d", n, t.offsets, end)
			}
			return 0, fmt.Errorf("tensor %q starts at data offset %d, but the tensors before it end at %d (a gap)", n, t.offsets[0], end)
		}
		want, ok := byteSize(t.DType, t.Shape)
		if !ok {
			return 0, fmt.Errorf("tensor %q of shape %s holds more than 2^64 bytes", n, stShapeString(t.Shape))
		}
		if got := t.offsets[1] - t.offsets[0]; got != want {
			return 0, fmt.Errorf("tensor %q: %v of shape %s takes %d bytes, its data offsets %v span %d", n, t.DType, stShapeString(t.Shape), want, t.offsets, got)
		}
		end = t.offsets[1]
	}
	return end, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// byteSize returns the bytes of a tensor, and false on overflow.
func byteSize(dt safetensors.DType, shape []uint64) (uint64, bool) {
	n := dt.Size()
	for _, d := range shape {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 {
			return 0, false
		}
		n = lo
	}
	return n, true
}

// elements returns the number of elements of a shape (saturating).
func elements(shape []uint64) uint64 {
	n := uint64(1)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 {
			return ^uint64(0)
		}
		n = lo
	}
	return n
}
