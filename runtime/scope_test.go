// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"library.read library.write", []string{"library.read", "library.write"}},
		{"a b c", []string{"a", "b", "c"}},
		{"!#[]~", []string{"!#[]~"}},
		{"urn:x:y https://api.example.com/read", []string{"urn:x:y", "https://api.example.com/read"}},
	} {
		got, err := ParseScope(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseScope(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		" ", "a ", " a", "a  b", "a\tb", "\ta", "a\n", "a\rb", "a\x00b", "a\"b", `a\b`, "a\x7fb", "é", "a\u00a0b", "a\v", " a b ",
	} {
		if got, err := ParseScope(in); !errors.Is(err, ErrMalformedScope) {
			t.Errorf("ParseScope(%q) = %q, %v; want ErrMalformedScope", in, got, err)
		}
	}
}

// TestParseScopeGrammar checks every byte value alone, between two tokens
// and as a separator against RFC 6749's grammar written out plainly.
func TestParseScopeGrammar(t *testing.T) {
	tokenChar := func(c byte) bool { return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) }
	for b := 0; b < 256; b++ {
		c := byte(b)
		for _, in := range []string{string(c), "a" + string(c) + "b", "a " + string(c)} {
			got, err := ParseScope(in)
			var want []string
			valid := tokenChar(c)
			if c == ' ' && in == "a b" {
				valid = true
			}
			if valid {
				want = strings.Split(in, " ")
			}
			if valid != (err == nil) || !slices.Equal(got, want) {
				t.Errorf("ParseScope(%q) = %q, %v; want %q (valid %v)", in, got, err, want, valid)
			}
		}
	}
}
