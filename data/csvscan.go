package data

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// csvScanner splits CSV input into records and fields as encoding/csv does
// (RFC 4180: quoted fields with "" for a quote, newlines inside quotes,
// "\r\n" read as "\n", empty lines and comment lines skipped), but hands
// each field to a callback as bytes in a reused buffer instead of making a
// string of it: memory is the read buffer plus the longest field, which is
// at most maxField bytes.
type csvScanner struct {
	r        io.Reader
	buf      []byte // buf[pos:end] is read but not consumed
	pos, end int
	rerr     error // the error that ended reading, io.EOF at the end
	total    int64 // bytes read from r in all

	comma, comment []byte // comment is nil when there are no comments
	maxField       int
	maxFields      int
	src            string

	line    int       // the line of buf[pos], 1-based
	field   []byte    // the current field, when it spans refills or has quotes
	bom     bool      // a leading byte order mark has been looked for
	special [256]bool // the bytes that end an unquoted field's run
}

// scanBufSize is the read buffer's size.
const scanBufSize = 64 << 10

func newCSVScanner(r io.Reader, comma, comment rune, maxField, maxFields int, src string) *csvScanner {
	s := &csvScanner{
		r:         r,
		buf:       make([]byte, scanBufSize),
		comma:     utf8.AppendRune(nil, comma),
		maxField:  maxField,
		maxFields: maxFields,
		src:       src,
		line:      1,
	}
	if comment != 0 {
		s.comment = utf8.AppendRune(nil, comment)
	}
	s.special[s.comma[0]], s.special['\n'], s.special['"'] = true, true, true
	return s
}

// validDelim reports whether r may be a delimiter or comment character, as
// encoding/csv requires.
func validDelim(r rune) bool {
	return r != 0 && r != '"' && r != '\r' && r != '\n' && utf8.ValidRune(r) && r != utf8.RuneError
}

// fill makes at least n bytes available at buf[pos:], or as many as remain
// before the end of the input, and reports whether n are. n is at most 4,
// so that moving the unread bytes to the front copies at most 3.
func (s *csvScanner) fill(n int) bool {
	for empty := 0; s.end-s.pos < n && s.rerr == nil; {
		if s.pos > 0 {
			s.end = copy(s.buf, s.buf[s.pos:s.end])
			s.pos = 0
		}
		k, err := s.r.Read(s.buf[s.end:])
		s.end += k
		s.total += int64(k)
		switch {
		case err != nil:
			s.rerr = err
		case k > 0:
			empty = 0
		default:
			// io.Reader allows reading nothing without an error; give up,
			// as bufio does, after many such reads in a row.
			if empty++; empty == 100 {
				s.rerr = io.ErrNoProgress
			}
		}
	}
	return s.end-s.pos >= n
}

// reset rewinds the scanner for a second pass over r, now read from its
// start again.
func (s *csvScanner) reset() {
	s.pos, s.end, s.rerr, s.line, s.bom = 0, 0, nil, 1, false
}

// readErr returns the error that ended reading if it is not the end of
// the input.
func (s *csvScanner) readErr() error {
	if s.rerr != nil && s.rerr != io.EOF {
		return fmt.Errorf("data: %s: %w", s.src, s.rerr)
	}
	return nil
}

// hasPrefix reports whether the unread input starts with p.
func (s *csvScanner) hasPrefix(p []byte) bool {
	return s.fill(len(p)) && bytes.Equal(s.buf[s.pos:s.pos+len(p)], p)
}

// errAt returns a *ParseError at line and 1-based field col (0 for the
// whole record).
func (s *csvScanner) errAt(line, col int, err error) error {
	return &ParseError{Source: s.src, Line: line, Column: col, Err: err}
}

// skipLine consumes the input up to and including the next '\n'.
func (s *csvScanner) skipLine() {
	for s.fill(1) {
		if i := bytes.IndexByte(s.buf[s.pos:s.end], '\n'); i >= 0 {
			s.pos += i + 1
			s.line++
			return
		}
		s.pos = s.end
	}
}

// record reads the next record, calling field for each of its fields in
// order with the field's 0-based column, the line it starts on and its
// bytes (valid only during the call). It returns the record's first line
// and its number of fields, or io.EOF when no record is left.
func (s *csvScanner) record(field func(col, line int, b []byte) error) (line, fields int, err error) {
	if !s.bom {
		s.bom = true
		if s.hasPrefix([]byte("\uFEFF")) { // a UTF-8 byte order mark, as Excel writes
			s.pos += 3
		}
	}
	// Skip empty and comment lines.
	for {
		if !s.fill(1) {
			if err := s.readErr(); err != nil {
				return 0, 0, err
			}
			return 0, 0, io.EOF
		}
		switch {
		case s.comment != nil && s.hasPrefix(s.comment):
			s.skipLine()
			continue
		case s.buf[s.pos] == '\n':
			s.pos++
			s.line++
			continue
		case s.buf[s.pos] == '\r' && s.hasPrefix([]byte("\r\n")):
			s.pos += 2
			s.line++
			continue
		case s.buf[s.pos] == '\r' && s.end-s.pos == 1:
			// A lone "\r" at the end of the input (hasPrefix read ahead),
			// dropped as encoding/csv does.
			s.pos++
			continue
		}
		break
	}
	line = s.line
	for col := 0; ; col++ {
		if col >= s.maxFields {
			return line, col, s.errAt(line, 0, fmt.Errorf("more than %d fields, the limit CSVOptions.MaxFields sets; a line this long is usually a file whose line endings were not recognised, or not a table: %w", s.maxFields, ErrLimit))
		}
		fline := s.line
		var b []byte
		var last bool
		if s.fill(1) && s.buf[s.pos] == '"' {
			s.pos++
			b, last, err = s.quoted(col, fline)
		} else {
			b, last, err = s.unquoted(col, fline)
		}
		if err != nil {
			return line, col + 1, err
		}
		if err := field(col, fline, b); err != nil {
			return line, col + 1, err
		}
		if last {
			return line, col + 1, s.readErr()
		}
	}
}

// unquoted reads an unquoted field and the delimiter after it; last
// reports that the record ends there.
func (s *csvScanner) unquoted(col, line int) (b []byte, last bool, err error) {
	s.field = s.field[:0]
	c0 := s.comma[0]
scan:
	for {
		if !s.fill(1) {
			if err := s.readErr(); err != nil {
				return nil, false, err
			}
			return s.endField(s.field), true, nil // the end of the input
		}
		chunk := s.buf[s.pos:s.end]
		for i, c := range chunk {
			if !s.special[c] {
				continue
			}
			switch {
			case c == c0:
				if len(s.comma) > 1 {
					if i+len(s.comma) > len(chunk) && s.rerr == nil {
						// The delimiter may straddle the buffer's end:
						// keep what precedes it, read on, look again.
						if err := s.keep(i, col, line); err != nil {
							return nil, false, err
						}
						s.fill(len(s.comma))
						continue scan
					}
					if !bytes.HasPrefix(chunk[i:], s.comma) {
						continue
					}
				}
				if b, err = s.take(i, col, line); err != nil {
					return nil, false, err
				}
				s.pos += len(s.comma)
				return b, false, nil
			case c == '\n':
				if b, err = s.take(i, col, line); err != nil {
					return nil, false, err
				}
				s.pos++
				s.line++
				return s.endField(b), true, nil
			case c == '"':
				return nil, false, s.errAt(s.line, col+1, fmt.Errorf("%w", csv.ErrBareQuote))
			}
		}
		if err := s.keep(len(chunk), col, line); err != nil {
			return nil, false, err
		}
	}
}

// take returns the field made of s.field and buf[pos:pos+n], consuming the
// n bytes, without a copy when the field lies whole in the buffer.
func (s *csvScanner) take(n, col, line int) ([]byte, error) {
	if len(s.field) == 0 {
		if n > s.maxField {
			return nil, s.tooLong(s.buf[s.pos:s.pos+n], col, line)
		}
		b := s.buf[s.pos : s.pos+n]
		s.pos += n
		return b, nil
	}
	if err := s.keep(n, col, line); err != nil {
		return nil, err
	}
	return s.field, nil
}

// keep appends buf[pos:pos+n] to the current field, consuming it, unless
// the field would exceed maxField.
func (s *csvScanner) keep(n, col, line int) error {
	if len(s.field)+n > s.maxField {
		s.field = append(s.field, s.buf[s.pos:s.pos+min(n, s.maxField+1-len(s.field))]...)
		return s.tooLong(s.field, col, line)
	}
	s.field = append(s.field, s.buf[s.pos:s.pos+n]...)
	s.pos += n
	return nil
}

func (s *csvScanner) tooLong(start []byte, col, line int) error {
	return s.errAt(line, col+1, fmt.Errorf("field longer than %d bytes, the limit CSVOptions.MaxFieldBytes sets (it starts %s): %w", s.maxField, quoteField(start), ErrLimit))
}

// endField drops the '\r' of a "\r\n" line end.
func (s *csvScanner) endField(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// quoted reads a quoted field, its opening quote consumed, and the
// delimiter after it.
func (s *csvScanner) quoted(col, line int) (b []byte, last bool, err error) {
	s.field = s.field[:0]
	for {
		if !s.fill(1) {
			if err := s.readErr(); err != nil {
				return nil, false, err
			}
			return nil, false, s.errAt(line, col+1, fmt.Errorf("quoted field not closed before the end of the input: %w", csv.ErrQuote))
		}
		chunk := s.buf[s.pos:s.end]
		i := bytes.IndexAny(chunk, "\"\n")
		if i < 0 {
			if err := s.keep(len(chunk), col, line); err != nil {
				return nil, false, err
			}
			continue
		}
		if err := s.keep(i, col, line); err != nil {
			return nil, false, err
		}
		if chunk[i] == '\n' {
			// A line break inside quotes: "\r\n" becomes "\n".
			if n := len(s.field); n > 0 && s.field[n-1] == '\r' {
				s.field = s.field[:n-1]
			}
			s.field = append(s.field, '\n')
			s.pos++
			s.line++
			continue
		}
		s.pos++ // the quote
		switch {
		case s.hasPrefix([]byte{'"'}):
			if len(s.field) >= s.maxField {
				return nil, false, s.tooLong(s.field, col, line)
			}
			s.field = append(s.field, '"')
			s.pos++
		case s.hasPrefix(s.comma):
			s.pos += len(s.comma)
			return s.field, false, nil
		case s.hasPrefix([]byte{'\n'}):
			s.pos++
			s.line++
			return s.field, true, nil
		case s.hasPrefix([]byte("\r\n")):
			s.pos += 2
			s.line++
			return s.field, true, nil
		case !s.fill(1):
			if err := s.readErr(); err != nil {
				return nil, false, err
			}
			return s.field, true, nil
		case s.buf[s.pos] == '\r' && s.end-s.pos == 1:
			s.pos++ // "\r" at the end of the input, after hasPrefix read ahead
			return s.field, true, nil
		default:
			r, _ := utf8.DecodeRune(s.buf[s.pos:s.end])
			return nil, false, s.errAt(s.line, col+1, fmt.Errorf("%q after the closing quote: %w", r, csv.ErrQuote))
		}
	}
}

// quoteField returns b quoted for an error message, cut after 40 bytes (at
// a rune boundary, and marked with "..."), so that a huge field makes a
// short error.
func quoteField(b []byte) string {
	const most = 40
	if len(b) <= most {
		return strconv.Quote(string(b))
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return strconv.Quote(string(b[:cut])) + "..."
}
