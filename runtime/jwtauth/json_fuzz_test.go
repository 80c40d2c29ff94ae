// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"reflect"
	"testing"

	josejson "github.com/go-jose/go-jose/v4/json"
)

// FuzzJSONObject compares the JSON decoder with go-jose's, which it
// replaced, on the JSON alone (FuzzDifferential reaches it only through
// signed tokens, a few thousand a second): whatever object decodeObject
// accepts, go-jose's json.Unmarshal accepts too, with the same value.
func FuzzJSONObject(f *testing.F) {
	for _, s := range []string{
		diffClaims,
		`{}`, ` {"a" : [ 1 , -0.5e-3 , true , false , null , {} , [] ] } `,
		`{"a":"\u00e9\ud800\udc00\ud800x\\\/\b\f\n\r\t"}`,
		"{\"\xff\":\"\xed\xa0\x80\"}",
		`{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"\u0061":1,"a":2}`,
		`{"a":1e400}`, `{"a":01}`, `{"a":+1}`, `{"a":1.}`, `{"a":.5}`,
		"\ufeff{}", `{} x`, `{"a":"\u0000"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ours, ok := decodeObject(s)
		if !ok {
			return
		}
		var ref map[string]any
		if err := josejson.Unmarshal([]byte(s), &ref); err != nil {
			t.Fatalf("decodeObject accepts what go-jose's JSON refuses (%v): %q", err, s)
		}
		if !reflect.DeepEqual(ours, ref) {
			t.Fatalf("decodeObject and go-jose's JSON read %q differently:\n%#v\n%#v", s, ours, ref)
		}
	})
}
