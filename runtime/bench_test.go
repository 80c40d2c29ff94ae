// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
)

// BenchmarkUnary is a unary call over bufconn: no auth at all (the
// baseline), then enforced through the generated registration with a
// valid JWT of each algorithm, verified on every call. scripts/bench.sh
// runs it and prints each row's ratio to the baseline.
func BenchmarkUnary(b *testing.B) {
	req := &libraryv1.GetBookRequest{Name: "shelves/a/books/1"}
	b.Run("noauth", func(b *testing.B) {
		lis := serve(b, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServer(s, &recorder{}) })
		c := libraryv1.NewLibraryServiceClient(dial(b, lis, insecure.NewCredentials()))
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := c.GetBook(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA} {
		b.Run("jwt_"+string(alg), func(b *testing.B) {
			f := newFixture(b, fixtureOptions{mode: modeRegister, enforcerOpts: []runtime.Option{runtime.WithLogger(nil), runtime.WithAuditHook(nil)}})
			token := f.iss.Mint(authtest.Algorithm(alg), authtest.Scopes("library.read"))
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
			if _, err := f.client.GetBook(ctx, req); err != nil { // warm the key cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.client.GetBook(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRuleLookup is the interceptors' rule lookup.
func BenchmarkRuleLookup(b *testing.B) {
	enf, err := runtime.NewEnforcer(runtime.WithRules(libraryv1.LibraryServiceAuthRules))
	if err != nil {
		b.Fatal(err)
	}
	name := libraryv1.LibraryService_SyncShelf_FullMethodName
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if enf.Rule(name) == nil {
			b.Fatal("no rule")
		}
	}
}

// BenchmarkClient compares the generated auth client (credential attached
// per call from a cached token) with the plain generated client sending the
// same header from a prepared context, both against a server without auth,
// so the difference is the client path alone.
func BenchmarkClient(b *testing.B) {
	ca, err := authtest.NewCA("bench CA")
	if err != nil {
		b.Fatal(err)
	}
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		b.Fatal(err)
	}
	lis := serve(b, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServer(s, &recorder{}) }, grpc.Creds(credentials.NewTLS(serverTLS)))
	conn := dial(b, lis, credentials.NewTLS(withServerName(ca.ClientTLS())))
	req := &libraryv1.GetBookRequest{Name: "shelves/a/books/1"}
	token := "header.payload.signature"
	b.Run("plain_client", func(b *testing.B) {
		c := libraryv1.NewLibraryServiceClient(conn)
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := c.GetBook(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("auth_client", func(b *testing.B) {
		src := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, Expiry: time.Now().Add(time.Hour)})
		c := libraryv1.NewLibraryServiceAuthClient(conn, &runtime.ClientCredentials{TokenSource: src})
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := c.GetBook(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClientAttach is the attach step alone: what the auth client adds
// to a call before gRPC sends it.
func BenchmarkClientAttach(b *testing.B) {
	src := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "header.payload.signature", Expiry: time.Now().Add(time.Hour)})
	creds := &runtime.ClientCredentials{TokenSource: src, AllowPlaintext: true}
	m := creds.ForMethod(libraryv1.LibraryServiceAuthRules.Lookup(libraryv1.LibraryService_GetBook_FullMethodName))
	call := func(ctx context.Context, opts ...grpc.CallOption) (*libraryv1.Book, error) {
		for _, o := range opts {
			if pc, ok := o.(grpc.PerRPCCredsCallOption); ok {
				if _, err := pc.Creds.GetRequestMetadata(ctx); err != nil {
					return nil, err
				}
			}
		}
		return nil, nil
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := runtime.Unary(ctx, m, nil, call); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCondition is the same JWT-authenticated unary call without a
// condition, with a condition on the request alone, and with the tenant
// condition that reads a claim.
func BenchmarkCondition(b *testing.B) {
	f := newTenantsFixture(b, modeRegister)
	token := f.iss.Mint(authtest.Claim("tenant", "acme"))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	req := &grpcauthtestv1.ShelfRequest{Shelf: "tenants/acme/shelves/1"}
	for _, c := range []struct {
		name string
		call func(context.Context, *grpcauthtestv1.ShelfRequest, ...grpc.CallOption) (*grpcauthtestv1.Shelf, error)
	}{
		{"none", f.client.Plain},
		{"simple", f.client.Simple},
		{"tenant_claim", f.client.Get},
	} {
		b.Run(c.name, func(b *testing.B) {
			if _, err := c.call(ctx, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.call(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkKinds is a unary Kinds call over TLS on bufconn for each kind of
// credential, enforced through the generated registration, beside the same
// call to the service registered raw with no enforcer (the baseline): a
// JWT (RS256) served from jwtauth's verified-token cache (the default) and
// verified on every call (cache off), an opaque token whose introspection
// is cached (the first call fills the cache), an API key, and a client
// certificate with no metadata, checked against the trust bundle on every
// call.
func BenchmarkKinds(b *testing.B) {
	quiet := []runtime.Option{runtime.WithLogger(nil), runtime.WithAuditHook(nil)}
	f := newKindsFixture(b, modeRegister, kindsOptions{enforcerOpts: quiet})
	uncached := newKindsFixture(b, modeRegister, kindsOptions{enforcerOpts: quiet, uncachedJWT: true})
	serverTLS, err := f.serverCA.ServerTLS()
	if err != nil {
		b.Fatal(err)
	}
	raw := serve(b, func(s *grpc.Server) { grpcauthtestv1.RegisterKindsServer(s, &kindsRecorder{}) }, grpc.Creds(credentials.NewTLS(serverTLS)))
	noauth := grpcauthtestv1.NewKindsClient(dial(b, raw, credentials.NewTLS(withServerName(f.serverCA.ClientTLS()))))
	jwt := f.iss.Mint(authtest.Algorithm(jose.RS256), authtest.Scopes("s"), authtest.ExpiresIn(time.Hour))
	opaque := f.in.Issue("bob", []string{"s"}, "library", time.Hour, nil)
	req := &grpcauthtestv1.Msg{Text: "hello"}
	for _, c := range []struct {
		name string
		call func(context.Context, *grpcauthtestv1.Msg, ...grpc.CallOption) (*grpcauthtestv1.Msg, error)
		ctx  context.Context
	}{
		{"noauth_tls", noauth.Any, context.Background()},
		{"jwt_rs256", f.client.Jwt, bearerMD(jwt)},
		{"jwt_rs256_uncached", uncached.client.Jwt, bearerMD(uncached.iss.Mint(authtest.Algorithm(jose.RS256), authtest.Scopes("s"), authtest.ExpiresIn(time.Hour)))},
		{"oauth2_introspection", f.client.OAuth2, bearerMD(opaque)},
		{"api_key", f.client.ApiKey, apiKeyMD(f.exporterKey)},
		{"mtls", f.clientA.Mtls, context.Background()},
	} {
		b.Run(c.name, func(b *testing.B) {
			if _, err := c.call(c.ctx, req); err != nil { // warm the connection, keys and cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.call(c.ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
