package study

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// decode decodes the JSON object b into v, rejecting unknown fields and
// trailing data. Its errors are *ConfigErrors naming source, the line and
// column, and the field by its JSON path ("budget.epochs"), in words rather
// than Go types: "budget.epochs: a string, want an integer".
func decode(b []byte, source string, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return &ConfigError{Source: source, Err: errors.New("empty file")}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if rest := bytes.TrimSpace(b[dec.InputOffset():]); len(rest) > 0 {
			line, col := lineCol(b, int64(len(b)-len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n"))))
			return &ConfigError{Source: source, Line: line, Column: col, Err: errors.New("data after the object")}
		}
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := lineCol(b, se.Offset)
		return &ConfigError{Source: source, Line: line, Column: col, Err: errors.New(se.Error())}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ConfigError{Source: source, Err: errors.New("the file ends inside the object")}
	case errors.As(err, &te):
		line, col := lineCol(b, valueStart(b, te.Offset))
		return &ConfigError{Source: source, Line: line, Column: col, Field: te.Field,
			Err: fmt.Errorf("%s, want %s", jsonValue(te.Value), wantKind(te.Type))}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		var generic any
		if json.Unmarshal(b, &generic) == nil {
			if path, valid, found := unknownField(generic, reflect.TypeOf(v), "", strings.Trim(name, `"`)); found {
				return &ConfigError{Source: source, Field: path, Err: fmt.Errorf("unknown field (valid: %s)", strings.Join(valid, ", "))}
			}
		}
		return &ConfigError{Source: source, Err: fmt.Errorf("unknown field %s", name)}
	}
	return &ConfigError{Source: source, Err: err}
}

// lineCol converts a byte offset into b to a 1-based line and column.
func lineCol(b []byte, off int64) (line, col int) {
	line, col = 1, 1
	for _, c := range b[:min(int(max(off, 0)), len(b))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// valueStart returns the offset of the start of the JSON value that ends at
// end: encoding/json reports type errors at the end of the value.
func valueStart(b []byte, end int64) int64 {
	end = min(end, int64(len(b)))
	dec := json.NewDecoder(bytes.NewReader(b))
	last := int64(0)
	for {
		before := dec.InputOffset()
		if _, err := dec.Token(); err != nil || dec.InputOffset() >= end {
			// The value starts after the separators that precede it.
			for before < end && strings.ContainsRune(" \t\r\n:,", rune(b[before])) {
				before++
			}
			if err != nil {
				return last
			}
			return before
		}
		last = before
	}
}

// jsonValue names the kind of a JSON value as encoding/json describes it
// ("string", "number -5", "array").
func jsonValue(v string) string {
	switch {
	case v == "string":
		return "a string"
	case v == "bool":
		return "true or false"
	case v == "array":
		return "a list"
	case v == "object":
		return "an object"
	case v == "number":
		return "a number"
	case strings.HasPrefix(v, "number "):
		return "the number " + strings.TrimPrefix(v, "number ")
	}
	return v
}

// wantKind names what a Go type reads from JSON.
func wantKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return wantKind(t.Elem())
	}
	return t.String()
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

// unknownField finds the object key name that type t does not have in the
// decoded JSON value v, and returns its path and the names t accepts there.
func unknownField(v any, t reflect.Type, path, name string) (string, []string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return "", nil, false
		}
		names, types := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			i := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, k) })
			if i < 0 {
				if k == name {
					return join(k), names, true
				}
				continue
			}
			if p, valid, ok := unknownField(obj[k], types[i], join(k), name); ok {
				return p, valid, true
			}
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok || t == rawMessage {
			return "", nil, false
		}
		for i, e := range arr {
			if p, valid, ok := unknownField(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), name); ok {
				return p, valid, true
			}
		}
	}
	return "", nil, false
}

// jsonFields returns the JSON names of a struct's fields and their types.
func jsonFields(t reflect.Type) ([]string, []reflect.Type) {
	var names []string
	var types []reflect.Type
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch tag {
		case "-":
			continue
		case "":
			tag = f.Name
		}
		names, types = append(names, tag), append(types, f.Type)
	}
	return names, types
}
