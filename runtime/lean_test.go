// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The modules of optional integrations: a grpc-go user never links them.
var integrations = []string{
	"connectrpc.com/",
	"github.com/grpc-ecosystem/grpc-gateway/",
	"buf.build/go/protovalidate",
	"github.com/envoyproxy/protoc-gen-validate",
}

// deps returns the packages pkgs link, by go list -deps.
func deps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).Output()
	if err != nil {
		t.Fatalf("go list -deps %v: %v", pkgs, err)
	}
	return strings.Fields(string(out))
}

func linked(list []string, prefix string) []string {
	var out []string
	for _, p := range list {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// TestLeanCore: the core and a grpc-go-only user (generated code, the
// runtime, the authenticators) link no integration (DESIGN §2, STYLE 24);
// the integrations do link theirs, which shows the check can fail.
func TestLeanCore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const mod = "github.com/grpcauth/protoc-gen-go-grpcauth/"
	grpcUser := []string{mod + "runtime", mod + "gen/library/v1", mod + "runtime/jwtauth", mod + "runtime/introspection",
		mod + "runtime/apikey", mod + "runtime/mtls", mod + "runtime/celcond"}
	for _, tc := range []struct {
		name string
		pkgs []string
		// also refused: the buf/validate options' Go package, which
		// gen/library/v1 links because library.proto carries
		// protovalidate constraints (descriptors only, no validator).
		noOptions bool
	}{
		{"runtime", []string{mod + "runtime"}, true},
		{"a grpc-go user of the example", grpcUser, false},
		{"a grpc-go user of a proto without constraints", []string{mod + "runtime", mod + "gen/grpcauthtest/v1"}, true},
	} {
		list := deps(t, tc.pkgs...)
		for _, m := range integrations {
			if got := linked(list, m); len(got) > 0 {
				t.Errorf("%s links %s: %v", tc.name, m, got)
			}
		}
		if got := linked(list, "buf.build/gen/go/bufbuild/protovalidate"); tc.noOptions && len(got) > 0 {
			t.Errorf("%s links the buf/validate options: %v", tc.name, got)
		}
	}
	for pkg, m := range map[string]string{"runtime/connectauth": "connectrpc.com/", "runtime/gatewayauth": "github.com/grpc-ecosystem/grpc-gateway/"} {
		if len(linked(deps(t, mod+pkg), m)) == 0 {
			t.Errorf("%s does not link %s: the check reads nothing", pkg, m)
		}
	}
}
