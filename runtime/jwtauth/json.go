// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of JSON arrays and objects, as go-jose's
// JSON bounds it.
const maxDepth = 10000

// decoder reads JSON from s as go-jose's JSON (a fork of encoding/json)
// reads it into interface values, and refuses what it refuses: objects as
// map[string]any with no member name twice (compared once unescaped),
// arrays as []any, numbers as float64 (one that overflows is refused),
// strings with invalid UTF-8 and lone surrogates replaced by U+FFFD. A
// string that needs no unescaping is a part of s, not a copy.
type decoder struct {
	s     string
	i     int
	depth int
}

// decodeObject decodes s, which must hold one JSON object.
func decodeObject(s string) (map[string]any, bool) {
	d := decoder{s: s}
	if !d.objectStart() {
		return nil, false
	}
	m, ok := d.object()
	return m, ok && d.end()
}

// peek skips white space and returns the next byte, 0 at the end.
func (d *decoder) peek() byte {
	for ; d.i < len(d.s); d.i++ {
		switch c := d.s[d.i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

func (d *decoder) objectStart() bool { return d.peek() == '{' }

// end reports whether only white space is left.
func (d *decoder) end() bool { return d.peek() == 0 && d.i == len(d.s) }

func (d *decoder) value() (any, bool) {
	switch d.peek() {
	case '{':
		m, ok := d.object()
		return m, ok
	case '[':
		return d.array()
	case '"':
		s, ok := d.str()
		return s, ok
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	}
	return d.number()
}

// stringOr reads a value: a string (isStr), or any other value v.
func (d *decoder) stringOr() (s string, isStr bool, v any, ok bool) {
	if d.peek() == '"' {
		s, ok = d.str()
		return s, true, nil, ok
	}
	v, ok = d.value()
	return "", false, v, ok
}

func (d *decoder) object() (map[string]any, bool) {
	m := map[string]any{}
	ok := d.members(func(name string) bool {
		v, ok := d.value()
		n := len(m)
		m[name] = v
		return ok && len(m) > n // not a name seen before
	})
	return m, ok
}

// members reads the object at d.i, calling f after each member's name and
// colon; f reads the value.
func (d *decoder) members(f func(name string) bool) bool {
	if d.depth++; d.depth > maxDepth {
		return false
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		d.depth--
		return true
	}
	for {
		if d.peek() != '"' {
			return false
		}
		name, ok := d.str()
		if !ok || d.peek() != ':' {
			return false
		}
		d.i++
		if !f(name) {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			return true
		default:
			return false
		}
	}
}

func (d *decoder) array() (any, bool) {
	if d.depth++; d.depth > maxDepth {
		return nil, false
	}
	d.i++
	a := []any{}
	if d.peek() == ']' {
		d.i++
		d.depth--
		return a, true
	}
	for {
		v, ok := d.value()
		if !ok {
			return nil, false
		}
		a = append(a, v)
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			d.depth--
			return a, true
		default:
			return nil, false
		}
	}
}

func (d *decoder) literal(lit string) bool {
	if !strings.HasPrefix(d.s[d.i:], lit) {
		return false
	}
	d.i += len(lit)
	return true
}

// number reads a JSON number (RFC 8259 §6) as a float64.
func (d *decoder) number() (any, bool) {
	s, i := d.s, d.i
	digits := func(i int) int {
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = digits(i)
	default:
		return nil, false
	}
	if i < len(s) && s[i] == '.' {
		if i = digits(i + 1); s[i-1] == '.' {
			return nil, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if j := digits(i); j > i {
			i = j
		} else {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(s[d.i:i], 64)
	if err != nil {
		return nil, false
	}
	d.i = i
	return f, true
}

// str reads the string at d.i.
func (d *decoder) str() (string, bool) {
	start := d.i + 1
	for i := start; i < len(d.s); {
		switch c := d.s[i]; {
		case c == '"':
			d.i = i + 1
			return d.s[start:i], true
		case c == '\\' || c < ' ':
			return d.unquote(start)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(d.s[i:])
			if r == utf8.RuneError && size == 1 {
				return d.unquote(start)
			}
			i += size
		}
	}
	return "", false
}

// unquote reads the string whose text starts at start, unescaping it.
func (d *decoder) unquote(start int) (string, bool) {
	s := d.s
	// As long as the string as sent (its unescaped text is about as long;
	// append grows it for the rest), not as the input left after it: a
	// buffer that long for each of many short strings would make a small
	// token allocate memory quadratic in its size.
	b := make([]byte, 0, quotedLen(s[start:]))
	for i := start; i < len(s); {
		switch c := s[i]; {
		case c == '"':
			d.i = i + 1
			return string(b), true
		case c < ' ':
			return "", false
		case c == '\\':
			if i+1 == len(s) {
				return "", false
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := hex4(s[i:])
				if r < 0 {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					// A pair is consumed whole; a lone half is U+FFFD.
					if pair := utf16.DecodeRune(r, hex4(s[i+6:])); pair != utf8.RuneError {
						r = pair
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
				i += 4
			default:
				return "", false
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r) // invalid UTF-8 is U+FFFD
			i += size
		}
	}
	return "", false
}

// quotedLen is the length of the text of the string that s starts inside:
// up to its closing quote, escapes skipped over, or all of s when none
// closes it.
func quotedLen(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			return i
		case '\\':
			i++
		}
	}
	return len(s)
}

// hex4 is the code unit of the \uXXXX escape s starts with, or -1.
func hex4(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	n, err := strconv.ParseUint(s[2:6], 16, 16)
	if err != nil {
		return -1
	}
	return rune(n)
}
