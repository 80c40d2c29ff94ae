// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
)

// TestNoEndpointURLInErrors: a network failure is reported without the
// endpoint's URL (net/http's *url.Error quotes it, and its path or query
// may hold a secret), in the denial's text, its detail and every error it
// wraps.
func TestNoEndpointURLInErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	const secretPath, secretQuery = "SECRET-PATH-7", "SECRET-QUERY-8"
	a, err := introspection.New(
		introspection.Endpoint("https://"+addr+"/"+secretPath+"/introspect?key="+secretQuery),
		introspection.ClientSecret("grpc-server", "s3cret"),
	)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Authenticate(context.Background(), randomToken(t))
	e, ok := runtime.FromError(err)
	if !ok || e.Reason != runtime.ReasonAuthBackendUnavailable {
		t.Fatalf("error = %v; want AUTH_BACKEND_UNAVAILABLE", err)
	}
	texts := map[string]string{"Error()": err.Error(), "Detail": e.Detail, "Message": e.Message, "%+v": fmt.Sprintf("%+v", err)}
	for i, c := 0, errors.Unwrap(err); c != nil; i, c = i+1, errors.Unwrap(c) {
		texts[fmt.Sprintf("cause %d", i)] = c.Error()
	}
	for where, text := range texts {
		if strings.Contains(text, "SECRET") {
			t.Errorf("%s holds the endpoint URL: %q", where, text)
		}
	}
	if !strings.Contains(e.Detail, "connection refused") {
		t.Errorf("detail %q does not say what failed", e.Detail)
	}
}
