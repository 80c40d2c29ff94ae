// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

var (
	healthCheck = []string{"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/List", "/grpc.health.v1.Health/Watch"}
	reflectionV = []string{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"}
)

func methodsOf(rules *runtime.ServiceRules) []string {
	var out []string
	for _, r := range rules.Methods {
		out = append(out, r.FullMethod)
	}
	slices.Sort(out)
	return out
}

func sorted(parts ...[]string) []string {
	out := slices.Concat(parts...)
	slices.Sort(out)
	return out
}

func servedError(t *testing.T, err error) *runtime.ServedError {
	t.Helper()
	var se *runtime.ServedError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a *ServedError", err)
	}
	return se
}

// TestCheckServed: every way a method can be served, and what the startup
// check says of it (SECURITY-CASES 74).
func TestCheckServed(t *testing.T) {
	kinds := methodsOf(grpcauthtestv1.KindsAuthRules)
	library := methodsOf(libraryv1.LibraryServiceAuthRules)
	newEnf := func(t *testing.T, opts ...runtime.Option) (*runtime.Enforcer, *syncBuffer) {
		log := &syncBuffer{}
		enf, err := runtime.NewEnforcer(append([]runtime.Option{runtime.WithLogger(slog.New(slog.NewTextHandler(log, nil)))}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return enf, log
	}
	interceptors := func(enf *runtime.Enforcer) []grpc.ServerOption {
		return []grpc.ServerOption{grpc.ChainUnaryInterceptor(enf.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(enf.StreamServerInterceptor())}
	}

	t.Run("generated registration only", func(t *testing.T) {
		enf, _ := newEnf(t)
		s := grpc.NewServer()
		grpcauthtestv1.RegisterKindsServerWithAuth(s, &grpcauthtestv1.UnimplementedKindsServer{}, enf)
		if err := runtime.CheckServed(s, enf); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("raw registration without interceptors is unguarded", func(t *testing.T) {
		enf, _ := newEnf(t, runtime.WithRules(libraryv1.LibraryServiceAuthRules))
		s := grpc.NewServer()
		grpcauthtestv1.RegisterKindsServerWithAuth(s, &grpcauthtestv1.UnimplementedKindsServer{}, enf)
		libraryv1.RegisterLibraryServiceServer(s, &libraryv1.UnimplementedLibraryServiceServer{})
		healthpb.RegisterHealthServer(s, health.NewServer())
		se := servedError(t, runtime.CheckServed(s, enf))
		if want := sorted(library, healthCheck); !slices.Equal(se.Unguarded, want) {
			t.Errorf("Unguarded = %q, want %q", se.Unguarded, want)
		}
		if len(se.Undeclared)+len(se.Unserved) != 0 {
			t.Errorf("got %+v, want only unguarded methods", se)
		}
		msg := se.Error()
		if !strings.HasPrefix(msg, "grpcauth: "+strconv.Itoa(len(library)+3)+" methods are served with no enforcement (register with RegisterXxxServerWithAuth, or install the enforcer's interceptors and pass InterceptorsInstalled): /grpc.health.v1.Health/Check, ") {
			t.Errorf("message = %q", msg)
		}
	})

	t.Run("a typed wrapper registered raw is reported", func(t *testing.T) {
		enf, _ := newEnf(t)
		s := grpc.NewServer()
		grpcauthtestv1.RegisterKindsServer(s, grpcauthtestv1.NewKindsServerWithAuth(&grpcauthtestv1.UnimplementedKindsServer{}, enf))
		if se := servedError(t, runtime.CheckServed(s, enf)); !slices.Equal(se.Unguarded, kinds) {
			t.Errorf("Unguarded = %q, want %q", se.Unguarded, kinds)
		}
	})

	t.Run("registered with auth on another server", func(t *testing.T) {
		enf, _ := newEnf(t)
		other, s := grpc.NewServer(), grpc.NewServer()
		grpcauthtestv1.RegisterKindsServerWithAuth(other, &grpcauthtestv1.UnimplementedKindsServer{}, enf)
		grpcauthtestv1.RegisterKindsServer(s, &grpcauthtestv1.UnimplementedKindsServer{})
		if se := servedError(t, runtime.CheckServed(s, enf)); !slices.Equal(se.Unguarded, kinds) {
			t.Errorf("Unguarded = %q, want %q", se.Unguarded, kinds)
		}
		if err := runtime.CheckServed(other, enf); err != nil {
			t.Errorf("the other server: %v", err)
		}
	})

	t.Run("interceptors: health and reflection without exemptions", func(t *testing.T) {
		enf, _ := newEnf(t, runtime.WithRules(libraryv1.LibraryServiceAuthRules))
		s := grpc.NewServer(interceptors(enf)...)
		libraryv1.RegisterLibraryServiceServer(s, &libraryv1.UnimplementedLibraryServiceServer{})
		grpcauthtestv1.RegisterKindsServerWithAuth(s, &grpcauthtestv1.UnimplementedKindsServer{}, enf)
		healthpb.RegisterHealthServer(s, health.NewServer())
		reflection.Register(s)
		se := servedError(t, runtime.CheckServed(s, enf, runtime.InterceptorsInstalled()))
		if want := sorted(healthCheck, reflectionV); !slices.Equal(se.Undeclared, want) || len(se.Unguarded) != 0 {
			t.Errorf("got %+v, want undeclared %q", se, want)
		}
		if !strings.Contains(se.Error(), "5 methods have no rule, so every call is denied") {
			t.Errorf("message = %q", se.Error())
		}
	})

	t.Run("interceptors with exemptions, and reflection denied on purpose", func(t *testing.T) {
		enf, _ := newEnf(t, runtime.WithRules(libraryv1.LibraryServiceAuthRules), runtime.WithHealthExemption())
		s := grpc.NewServer(interceptors(enf)...)
		libraryv1.RegisterLibraryServiceServer(s, &libraryv1.UnimplementedLibraryServiceServer{})
		healthpb.RegisterHealthServer(s, health.NewServer())
		reflection.Register(s)
		if err := runtime.CheckServed(s, enf, runtime.InterceptorsInstalled(), runtime.DeniedOnPurpose("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("denied on purpose without interceptors is still open", func(t *testing.T) {
		enf, _ := newEnf(t)
		s := grpc.NewServer()
		reflection.Register(s)
		se := servedError(t, runtime.CheckServed(s, enf, runtime.DeniedOnPurpose("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection")))
		if !slices.Equal(se.Unguarded, reflectionV) {
			t.Errorf("Unguarded = %q, want %q", se.Unguarded, reflectionV)
		}
	})

	t.Run("interceptors claimed but never made", func(t *testing.T) {
		enf, _ := newEnf(t, runtime.WithRules(libraryv1.LibraryServiceAuthRules))
		s := grpc.NewServer()
		libraryv1.RegisterLibraryServiceServer(s, &libraryv1.UnimplementedLibraryServiceServer{})
		err := runtime.CheckServed(s, enf, runtime.InterceptorsInstalled())
		if err == nil || err.Error() != "grpcauth: invalid option: CheckServed: InterceptorsInstalled, but this enforcer never made its UnaryServerInterceptor and StreamServerInterceptor" {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("rules nobody serves: a warning, or an error when asked", func(t *testing.T) {
		enf, log := newEnf(t, runtime.WithRules(libraryv1.LibraryServiceAuthRules), runtime.WithHealthExemption())
		s := grpc.NewServer()
		grpcauthtestv1.RegisterKindsServerWithAuth(s, &grpcauthtestv1.UnimplementedKindsServer{}, enf)
		if err := runtime.CheckServed(s, enf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "grpcauth: rules for methods this server does not serve") || !strings.Contains(log.String(), "/library.v1.LibraryService/GetBook") {
			t.Errorf("no warning:\n%s", log.String())
		}
		if strings.Contains(log.String(), "grpc.health") {
			t.Errorf("an unserved exemption was reported:\n%s", log.String())
		}
		se := servedError(t, runtime.CheckServed(s, enf, runtime.AllRulesServed()))
		if !slices.Equal(se.Unserved, library) {
			t.Errorf("Unserved = %q, want %q", se.Unserved, library)
		}
	})

	t.Run("nil", func(t *testing.T) {
		enf, _ := newEnf(t)
		if err := runtime.CheckServed(nil, enf); err == nil {
			t.Error("nil server accepted")
		}
	})
}
