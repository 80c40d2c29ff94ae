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
	for _, want := range []string{
		"CREDENTIALS_MISSING", "TOKEN_EXPIRED", "AUDIENCE_MISMATCH", "SCOPE_INSUFFICIENT", "TRANSPORT_INSECURE",
		"CONDITION_FAILED", "TOKEN_REVOKED", "CREDENTIALS_INVALID", "CREDENTIAL_KIND_NOT_ACCEPTED", "METHOD_NOT_DECLARED",
		"handler saw erin (OAUTH2_TOKEN)", "handler saw spiffe://demo.test/reader (MTLS)", "refused by the client before sending",
		"2 token fetches", "ListPublicShelves",
		// The other paths: grpc-gateway in process and Connect, and
		// validation after the decision.
		"(gateway)", "HTTP 401: this method needs a credential", "HTTP 403: the method's condition does not hold",
		"HTTP 200 \"The Go Programming Language\"; handler saw alice (BEARER_JWT)", "CREDENTIALS_MALFORMED",
		"GetBook (Connect)", "(Connect, gRPC-Web)", "(Connect, gRPC)", "handler saw bob (BEARER_JWT)",
		"InvalidArgument", "HTTP 400: validation error",
		"GetBook via the proxy socket", "x-forwarded-client-cert is accepted only from a trusted proxy",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	for _, secret := range []string{"eyJ", "gak_", "opaque_"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("demo output contains %q, the start of a token or key:\n%s", secret, out.String())
		}
	}
}
