// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
)

// startAdmin starts the command with an admin listener and a plaintext
// service listener.
func startAdmin(t *testing.T) (adminAddr, plainAddr string) {
	t.Helper()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	dir := t.TempDir()
	o, err := parse([]string{
		"-issuer", iss.URL(), "-jwks-url", iss.JWKSURL(),
		"-ca-file", writePEM(t, dir, "endpoints.pem", certPEM(iss.Certificate())),
		"-plain-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0",
	}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r, err := start(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r.AdminAddr, r.PlainAddr
}

func dialPlain(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// reflect sends one reflection request on conn and returns the answer.
func reflect(t *testing.T, conn *grpc.ClientConn, req *reflectionpb.ServerReflectionRequest) (*reflectionpb.ServerReflectionResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	_ = s.Send(req)
	return s.Recv()
}

// TestAdminListener: the admin listener serves reflection — the services,
// and google.rpc.ErrorInfo's descriptor — and health, without credentials;
// the service listener still denies reflection for having no rule.
func TestAdminListener(t *testing.T) {
	adminAddr, plainAddr := startAdmin(t)
	if !strings.HasPrefix(adminAddr, "127.0.0.1:") {
		t.Errorf("admin listener on %s", adminAddr)
	}
	admin := dialPlain(t, adminAddr)
	resp, err := reflect(t, admin, &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, "library.v1.LibraryService") {
		t.Errorf("admin reflection lists %v; want library.v1.LibraryService", names)
	}
	resp, err = reflect(t, admin, &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "google.rpc.ErrorInfo"}})
	if err != nil || len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("admin reflection of google.rpc.ErrorInfo: %v, %v", resp, err)
	}
	if hr, err := healthpb.NewHealthClient(admin).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("admin health: %v, %v", hr, err)
	}
	_, err = reflect(t, dialPlain(t, plainAddr), &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	if e, ok := runtime.FromError(err); !ok || e.Reason != runtime.ReasonMethodNotDeclared {
		t.Errorf("reflection on the service listener: %v; want METHOD_NOT_DECLARED", err)
	}
}

// grpcurlPath finds grpcurl: $GRPCURL, PATH, or the repository's .bin.
func grpcurlPath() string {
	if p := os.Getenv("GRPCURL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("grpcurl"); err == nil {
		return p
	}
	if p, err := filepath.Abs("../../../../.bin/grpcurl"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// TestGrpcurl runs the troubleshooting guide's grpcurl invocation: save
// the descriptors from the admin listener, then call the service with them;
// the denial's ErrorInfo prints decoded, reason and decision id included.
// Skipped where grpcurl is not installed (scripts/tools.sh installs it).
func TestGrpcurl(t *testing.T) {
	bin := grpcurlPath()
	if bin == "" {
		t.Skip("grpcurl not installed (scripts/tools.sh installs it into .bin)")
	}
	adminAddr, plainAddr := startAdmin(t)
	dir := t.TempDir()
	protoset, errors := filepath.Join(dir, "library.protoset"), filepath.Join(dir, "errors.protoset")
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("-plaintext", "-protoset-out", protoset, adminAddr, "describe", "library.v1.LibraryService"); err != nil {
		t.Fatalf("grpcurl describe: %v\n%s", err, out)
	}
	if out, err := run("-plaintext", "-protoset-out", errors, adminAddr, "describe", "google.rpc.ErrorInfo"); err != nil {
		t.Fatalf("grpcurl describe: %v\n%s", err, out)
	}
	if out, err := run("-plaintext", adminAddr, "list"); err != nil || !strings.Contains(out, "library.v1.LibraryService") {
		t.Errorf("grpcurl list on the admin listener: %v\n%s", err, out)
	}
	out, _ := run("-plaintext", "-protoset", protoset, "-protoset", errors, "-d", `{"name":"shelves/public/books/1"}`, plainAddr, "library.v1.LibraryService/GetBook")
	t.Logf("grpcurl:\n%s", out)
	for _, want := range []string{"Code: Unauthenticated", `"@type": "type.googleapis.com/google.rpc.ErrorInfo"`, `"reason": "CREDENTIALS_MISSING"`, `"domain": "grpcauth.v1"`, `"decision_id": "`} {
		if !strings.Contains(out, want) {
			t.Errorf("grpcurl output lacks %q:\n%s", want, out)
		}
	}
	// Without the descriptors, what the issue reported.
	out, _ = run("-plaintext", plainAddr, "list")
	if !strings.Contains(out, "PermissionDenied") && !strings.Contains(out, "PERMISSION_DENIED") && !strings.Contains(out, "Code: PermissionDenied") {
		t.Logf("grpcurl list on the service listener: %s", out)
	}
}
