// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"strings"
	"testing"
)

func TestParseBearer(t *testing.T) {
	for _, c := range []struct {
		in    string
		token string
		ok    bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER a.b.c", "a.b.c", true},
		{"Bearer a-b_c~d+e/f==", "a-b_c~d+e/f==", true},
		{"Bearer ", "", false},
		{"Bearer", "", false},
		{"", "", false},
		{"Bearer  abc", "", false},
		{"Bearer\tabc", "", false},
		{"Bearer abc ", "", false},
		{"Bearer a bc", "", false},
		{"Bearer =abc", "", false},
		{"Bearer ab=c", "", false},
		{"Bearer-x abc", "", false},
		{"Basic abc", "", false},
		{"Bearerabc", "", false},
		{"Bearer abc\x00", "", false},
		{"Bearer ab\"c", "", false},
		{"Bearer é", "", false},
	} {
		token, ok := parseBearer(c.in)
		if token != c.token || ok != c.ok {
			t.Errorf("parseBearer(%q) = %q, %v; want %q, %v", c.in, token, ok, c.token, c.ok)
		}
	}
}

// token68Grammar is the characters of a token68 before its padding.
const token68Grammar = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"

// TestToken68EveryByte checks the table against RFC 7235's token68 grammar
// for every byte, alone, before padding and after it.
func TestToken68EveryByte(t *testing.T) {
	for c := range 256 {
		b := string([]byte{byte(c)})
		want := strings.Contains(token68Grammar, b)
		if got := isToken68(b); got != want {
			t.Errorf("isToken68(%q) = %v, want %v", b, got, want)
		}
		if got := isToken68("a" + b + "=="); got != (want || c == '=') {
			t.Errorf("isToken68(%q) = %v, want %v", "a"+b+"==", got, want || c == '=')
		}
		if got := isToken68("a==" + b); got != (c == '=') {
			t.Errorf("isToken68(%q) = %v, want %v", "a=="+b, got, c == '=')
		}
	}
}

// FuzzToken68 compares isToken68 with the grammar read plainly: padding
// trimmed from the end, something left, all of it from the alphabet.
func FuzzToken68(f *testing.F) {
	for _, s := range []string{"", "=", "a", "a=", "a==b", "abcdefgh", "abcdefg=", "ab\x00cdefgh", "abcdefghi\xff", "a.b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		body := strings.TrimRight(s, "=")
		want := body != "" && strings.Trim(body, token68Grammar) == ""
		if got := isToken68(s); got != want {
			t.Fatalf("isToken68(%q) = %v, want %v", s, got, want)
		}
	})
}

// FuzzParseBearer: the parser never panics, and what it accepts is a
// token68 that the input ends with.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer ", "Basic x", "Bearer a==", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		token, ok := parseBearer(in)
		if !ok {
			if token != "" {
				t.Fatalf("rejected input returned token %q", token)
			}
			return
		}
		if !strings.HasSuffix(in, token) || len(in) != len("Bearer ")+len(token) || !isToken68(token) {
			t.Fatalf("parseBearer(%q) accepted %q", in, token)
		}
		if strings.ContainsAny(token, " \t\r\n") {
			t.Fatalf("accepted whitespace in %q", token)
		}
	})
}
