// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package otelauth_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreLinksNoOpenTelemetry: the core and the authenticators do not
// depend on OpenTelemetry; only this package does (STYLE 24).
func TestCoreLinksNoOpenTelemetry(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	const mod = "github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	pkgs := []string{mod, mod + "/jwtauth", mod + "/introspection", mod + "/apikey", mod + "/mtls", mod + "/celcond",
		"github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"}
	out, err := exec.Command(goTool, append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "go.opentelemetry.io/") {
			t.Errorf("the core links %s", dep)
		}
	}
	out, err = exec.Command(goTool, "list", "-deps", mod+"/otelauth").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "go.opentelemetry.io/otel/metric") {
		t.Errorf("otelauth does not link otel/metric: the check above would not notice a change: %v", err)
	}
}
