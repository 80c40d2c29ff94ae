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

// TestToken68EveryByte checks the table against RFC 7235's token68 grammar
// for every byte, alone, before padding and after it.
func TestToken68EveryByte(t *testing.T) {
	const grammar = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
	for c := range 256 {
		b := string([]byte{byte(c)})
		want := strings.Contains(grammar, b)
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
