// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
)

// tenants is a Tenants service that counts handler runs.
type tenants struct {
	grpcauthtestv1.UnimplementedTenantsServer
	calls atomic.Int32
}

func (s *tenants) Get(_ context.Context, r *grpcauthtestv1.ShelfRequest) (*grpcauthtestv1.Shelf, error) {
	s.calls.Add(1)
	return &grpcauthtestv1.Shelf{Name: r.GetShelf()}, nil
}

func (s *tenants) Plain(_ context.Context, r *grpcauthtestv1.ShelfRequest) (*grpcauthtestv1.Shelf, error) {
	s.calls.Add(1)
	return &grpcauthtestv1.Shelf{Name: r.GetShelf()}, nil
}

func (s *tenants) Simple(_ context.Context, r *grpcauthtestv1.ShelfRequest) (*grpcauthtestv1.Shelf, error) {
	s.calls.Add(1)
	return &grpcauthtestv1.Shelf{Name: r.GetShelf()}, nil
}

func (s *tenants) Search(_ context.Context, _ *grpcauthtestv1.SearchRequest) (*grpcauthtestv1.Shelf, error) {
	s.calls.Add(1)
	return &grpcauthtestv1.Shelf{}, nil
}

func (s *tenants) Watch(r *grpcauthtestv1.ShelfRequest, stream grpc.ServerStreamingServer[grpcauthtestv1.Shelf]) error {
	s.calls.Add(1)
	return stream.Send(&grpcauthtestv1.Shelf{Name: r.GetShelf()})
}

func (s *tenants) Upload(stream grpc.ClientStreamingServer[grpcauthtestv1.Shelf, grpcauthtestv1.Shelf]) error {
	s.calls.Add(1)
	for {
		if _, err := stream.Recv(); errors.Is(err, io.EOF) {
			return stream.SendAndClose(&grpcauthtestv1.Shelf{})
		} else if err != nil {
			return err
		}
	}
}

type tenantsFixture struct {
	iss       *authtest.Issuer
	impl      *tenants
	client    grpcauthtestv1.TenantsClient
	decisions *decisionLog
}

func newTenantsFixture(t testing.TB, m mode) *tenantsFixture {
	t.Helper()
	f := &tenantsFixture{iss: authtest.NewIssuer(t, authtest.DefaultAudience("library")), impl: &tenants{}, decisions: &decisionLog{}}
	opts := []runtime.Option{runtime.WithJWT(mustJWT(t, f.iss)), runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), auditAll(f.decisions)}
	if m == modeInterceptor {
		opts = append(opts, runtime.WithRules(grpcauthtestv1.TenantsAuthRules))
	}
	enf, err := runtime.NewEnforcer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := authtest.NewCA("tenants CA")
	serverTLS, _ := ca.ServerTLS()
	serverOpts := []grpc.ServerOption{grpc.Creds(credentials.NewTLS(serverTLS))}
	if m == modeInterceptor {
		serverOpts = append(serverOpts, grpc.ChainUnaryInterceptor(enf.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(enf.StreamServerInterceptor()))
	}
	lis := serve(t, func(s *grpc.Server) {
		switch m {
		case modeRegister:
			grpcauthtestv1.RegisterTenantsServerWithAuth(s, f.impl, enf)
		case modeWrapper:
			grpcauthtestv1.RegisterTenantsServer(s, grpcauthtestv1.NewTenantsServerWithAuth(f.impl, enf))
		case modeInterceptor:
			grpcauthtestv1.RegisterTenantsServer(s, f.impl)
		}
	}, serverOpts...)
	f.client = grpcauthtestv1.NewTenantsClient(dial(t, lis, credentials.NewTLS(withServerName(ca.ClientTLS()))))
	return f
}

// TestConditions: allow, deny and evaluation errors on unary and
// server-streaming calls (decided on the request), and client-streaming
// calls (decided at open), through every way of enforcing.
func TestConditions(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			f := newTenantsFixture(t, m)
			acme := f.iss.Mint(authtest.Claim("tenant", "acme"))
			noTenant := f.iss.Mint()
			numericTenant := f.iss.Mint(authtest.Claim("tenant", 42))
			get := func(ctx context.Context, shelf string) error {
				_, err := f.client.Get(ctx, &grpcauthtestv1.ShelfRequest{Shelf: shelf})
				return err
			}
			watch := func(ctx context.Context, shelf string) error {
				s, err := f.client.Watch(ctx, &grpcauthtestv1.ShelfRequest{Shelf: shelf})
				if err != nil {
					return err
				}
				return recvAll(s.Recv)
			}
			for name, call := range map[string]func(context.Context, string) error{"unary": get, "server_streaming": watch} {
				t.Run(name, func(t *testing.T) {
					before := f.impl.calls.Load()
					if err := call(withToken(acme), "tenants/acme/shelves/1"); err != nil {
						t.Fatalf("own tenant: %v", err)
					}
					for _, c := range []struct {
						name, token, shelf string
					}{
						{"other_tenant", acme, "tenants/globex/shelves/1"},
						{"prefix_trick", acme, "tenants/acme-evil/shelves/1"},
						{"missing_claim", noTenant, "tenants/acme/shelves/1"},
						{"claim_of_wrong_type", numericTenant, "tenants/42/shelves/1"},
					} {
						wantDenied(t, call(withToken(c.token), c.shelf), codes.PermissionDenied, runtime.ReasonConditionFailed)
					}
					if n := f.impl.calls.Load() - before; n != 1 {
						t.Errorf("handler ran %d times; want 1 (the allowed call only)", n)
					}
				})
			}
			t.Run("client_streaming_at_open", func(t *testing.T) {
				upload := func(token string) error {
					s, err := f.client.Upload(withToken(token))
					if err != nil {
						return err
					}
					_ = s.Send(&grpcauthtestv1.Shelf{Name: "x"})
					_, err = s.CloseAndRecv()
					return err
				}
				before := f.impl.calls.Load()
				if err := upload(f.iss.Mint(authtest.Scopes("upload"))); err != nil {
					t.Fatalf("with scope upload: %v", err)
				}
				wantDenied(t, upload(acme), codes.PermissionDenied, runtime.ReasonConditionFailed)
				if n := f.impl.calls.Load() - before; n != 1 {
					t.Errorf("handler ran %d times; want 1", n)
				}
			})
			t.Run("cleared", func(t *testing.T) {
				if _, err := f.client.Plain(withToken(noTenant), &grpcauthtestv1.ShelfRequest{Shelf: "anything"}); err != nil {
					t.Errorf("a method whose condition is cleared: %v", err)
				}
			})
		})
	}
}

// TestConditionFieldTypes: a table over int, enum, repeated and nested
// request fields.
func TestConditionFieldTypes(t *testing.T) {
	f := newTenantsFixture(t, modeRegister)
	token := f.iss.Mint(authtest.Subject("alice"))
	ok := func() *grpcauthtestv1.SearchRequest {
		return &grpcauthtestv1.SearchRequest{Limit: 10, Order: grpcauthtestv1.Order_ORDER_ASC, Tags: []string{"a"}, Page: &grpcauthtestv1.Page{Size: 5, Token: "t"}}
	}
	for _, c := range []struct {
		name  string
		edit  func(*grpcauthtestv1.SearchRequest)
		allow bool
	}{
		{"all_good", func(*grpcauthtestv1.SearchRequest) {}, true},
		{"int_too_large", func(r *grpcauthtestv1.SearchRequest) { r.Limit = 101 }, false},
		{"int_at_limit", func(r *grpcauthtestv1.SearchRequest) { r.Limit = 100 }, true},
		{"enum_other", func(r *grpcauthtestv1.SearchRequest) { r.Order = grpcauthtestv1.Order_ORDER_DESC }, false},
		{"enum_unset", func(r *grpcauthtestv1.SearchRequest) { r.Order = grpcauthtestv1.Order_ORDER_UNSPECIFIED }, false},
		{"repeated_contains", func(r *grpcauthtestv1.SearchRequest) { r.Tags = []string{"a", "secret"} }, false},
		{"repeated_empty", func(r *grpcauthtestv1.SearchRequest) { r.Tags = nil }, true},
		{"nested_unset", func(r *grpcauthtestv1.SearchRequest) { r.Page = nil }, false},
		{"nested_string_equals_subject", func(r *grpcauthtestv1.SearchRequest) { r.Page.Token = "alice" }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := ok()
			c.edit(req)
			_, err := f.client.Search(withToken(token), req)
			if c.allow && err != nil {
				t.Fatalf("want allowed: %v", err)
			}
			if !c.allow {
				wantDenied(t, err, codes.PermissionDenied, runtime.ReasonConditionFailed)
			}
		})
	}
}

// TestConditionAudit: a call is reported once, allowed after its condition
// held, or denied with CONDITION_FAILED.
func TestConditionAudit(t *testing.T) {
	f := newTenantsFixture(t, modeRegister)
	acme := f.iss.Mint(authtest.Subject("alice"), authtest.Claim("tenant", "acme"))
	f.client.Get(withToken(acme), &grpcauthtestv1.ShelfRequest{Shelf: "tenants/acme/1"})
	f.client.Get(withToken(acme), &grpcauthtestv1.ShelfRequest{Shelf: "tenants/globex/1"})
	ds := f.decisions.all()
	if len(ds) != 2 || ds[0].Outcome != runtime.OutcomeAllow || (ds[1].Outcome == runtime.OutcomeAllow) || ds[1].Reason != runtime.ReasonConditionFailed || ds[1].Subject != "alice" {
		t.Fatalf("decisions = %+v; want one allowed, one CONDITION_FAILED for alice", ds)
	}
}
