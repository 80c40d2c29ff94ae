// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/grpcauth/protoc-gen-go-grpcauth/internal/redistest"
)

// TestDemo runs the README's demo as a fresh machine runs it (the
// replicas share an in-process revocation store): every call must end as
// its row expects, and the server log must not carry a token.
func TestDemo(t *testing.T) {
	t.Setenv(redistest.EnvAddr, "")
	out := runDemo(t)
	if !strings.Contains(out, "Revocations: one in-process store shared by replicas A and B") {
		t.Errorf("the demo does not say which revocation store it uses:\n%s", out)
	}
}

// TestDemoRedis runs the demo with the replicas sharing revocations
// through Redis, each with its own store.
func TestDemoRedis(t *testing.T) {
	addr := redistest.Addr(t)
	t.Setenv(redistest.EnvAddr, addr)
	out := runDemo(t)
	if !strings.Contains(out, "Revocations: Redis at "+addr) {
		t.Errorf("the demo does not say it uses Redis:\n%s", out)
	}
	if !strings.Contains(out, "revocations in sync with Redis") {
		t.Errorf("the stores' state is not logged:\n%s", out)
	}
	c := redistest.Client(t, addr)
	if keys := redistest.Keys(t, c, "grpcauth-demo:"); len(keys) != 0 {
		t.Errorf("the demo left keys in Redis: %q", keys)
	}
}

func runDemo(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	if err := run(&buf); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, buf.String())
	}
	out := buf.String()
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
		"ImportBooks (stream, dry-run)", "imported 1 book(s)", "call would be denied (dry-run; it proceeds)",
		"grpcauth: dry-run: would-be denials are reported, calls proceed",
		// Revocation across replicas: the JWT allowed on B, revoked on
		// A, refused on B; the subject's older token refused, the newer
		// one allowed.
		"handler saw henry (BEARER_JWT)", "henry's token (by jti): revoked on replica A, refused on replica B after",
		"ivan's tokens issued before T (by subject): revoked on replica A, refused on replica B after",
		"handler saw ivan (BEARER_JWT)", `subject=henry detail="the token's jti is revoked"`,
		"handler saw anonymous", "3 book(s); handler saw alice (BEARER_JWT)",
		"lent by spiffe://demo.test/desk to alice", "lent by lending-desk to alice", "the end user lacks a required scope: library.borrow",
		"workload_subject=spiffe://demo.test/desk", "the token lacks a claim value this server requires",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// Every decision id the table shows is in the server's log.
	ids := regexp.MustCompile(`\b[0-9a-f]{12}-[0-9a-f]{8,}\b`).FindAllString(out, -1)
	table, log, _ := strings.Cut(out, "Server log")
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
	for _, secret := range []string{"eyJ", "gak_", "opaque_", "henry-laptop-1"} {
		if strings.Contains(out, secret) {
			t.Errorf("demo output contains %q, the start of a token or key, or a jti:\n%s", secret, out)
		}
	}
	return out
}
