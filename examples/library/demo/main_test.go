// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"regexp"
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
		"ImportBooks (stream, dry-run)", "imported 1 book(s)", "call would be denied (dry-run; it proceeds)",
		"grpcauth: dry-run: would-be denials are reported, calls proceed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	// Every decision id the table shows is in the server's log.
	ids := regexp.MustCompile(`\b[0-9a-f]{12}-[0-9a-f]{8,}\b`).FindAllString(out.String(), -1)
	table, log, _ := strings.Cut(out.String(), "Server log")
	if n := len(regexp.MustCompile(`\b[0-9a-f]{12}-[0-9a-f]{8,}\b`).FindAllString(table, -1)); n < 10 {
		t.Errorf("the table shows %d decision ids; want one per server denial", n)
	}
	for _, id := range ids {
		if !strings.Contains(log, "decision_id="+id) {
			t.Errorf("decision id %s is not in the server log", id)
		}
	}
	if !strings.Contains(log, "reason=SCOPE_INSUFFICIENT kind=BEARER_JWT decision_id=") || !strings.Contains(log, "method=/library.v1.LibraryService/ImportBooks") {
		t.Errorf("the server log lacks the dry-run line of ImportBooks:\n%s", log)
	}
	for _, secret := range []string{"eyJ", "gak_", "opaque_"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("demo output contains %q, the start of a token or key:\n%s", secret, out.String())
		}
	}
}
