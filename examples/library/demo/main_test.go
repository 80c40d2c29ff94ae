// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestDemo runs the README's demo: every call must end as its row expects,
// and the server log must not carry a token.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{"CREDENTIALS_MISSING", "TOKEN_EXPIRED", "AUDIENCE_MISMATCH", "SCOPE_INSUFFICIENT", "TRANSPORT_INSECURE", "ListPublicShelves"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "eyJ") {
		t.Errorf("demo output contains something that looks like a JWT:\n%s", out.String())
	}
}
