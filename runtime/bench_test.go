// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// BenchmarkAuth is the cost of enforcement on a real gRPC call over TLS,
// on bufconn and on loopback TCP: the same LibraryService registered raw
// (noauth, the baseline) and with its generated rules (RegisterWithAuth,
// a JWT authenticator reading keys from a real JWKS endpoint).
//
//   - noauth_header: the baseline server called with the hot token in an
//     authorization header it ignores: what carrying the token costs gRPC,
//     apart from checking it;
//   - hot: a token the server has verified before (the common case: a
//     client reuses its token until it nears expiry);
//   - cold_<alg>: the verified-token cache off, so every call verifies
//     the signature (as a first-seen token does);
//   - parallel_*: the same with GOMAXPROCS callers;
//   - stream_*: a server-streaming call of one message.
//
// scripts/bench.sh runs it interleaved and prints each row's ratio to the
// noauth row of its transport.
func BenchmarkAuth(b *testing.B) {
	for _, transport := range []string{"bufconn", "tcp"} {
		b.Run(transport, func(b *testing.B) {
			e := newBenchEnv(b, transport)
			req := &libraryv1.GetBookRequest{Name: "shelves/a/books/1"}
			unary := func(c libraryv1.LibraryServiceClient, ctx context.Context) func(*testing.B) {
				return func(b *testing.B) {
					if _, err := c.GetBook(ctx, req); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, err := c.GetBook(ctx, req); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			parallel := func(c libraryv1.LibraryServiceClient, ctx context.Context) func(*testing.B) {
				return func(b *testing.B) {
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if _, err := c.GetBook(ctx, req); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
			}
			stream := func(c libraryv1.LibraryServiceClient, ctx context.Context) func(*testing.B) {
				return func(b *testing.B) {
					b.ReportAllocs()
					for i := 0; i < b.N; i++ {
						s, err := c.ExportShelf(ctx, &libraryv1.ExportShelfRequest{Shelf: "shelves/a"})
						if err != nil {
							b.Fatal(err)
						}
						if err := recvAll(s.Recv); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			bg := context.Background()
			hot := e.withToken(e.iss.Mint(authtest.Scopes("library.read", "library.export")))
			b.Run("noauth", unary(e.noauth, bg))
			b.Run("noauth_header", unary(e.noauth, hot))
			b.Run("hot", unary(e.auth, hot))
			for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
				b.Run("cold_"+alg, unary(e.uncached, e.withToken(e.iss.Mint(authtest.Algorithm(alg), authtest.Scopes("library.read")))))
			}
			b.Run("parallel_noauth", parallel(e.noauth, bg))
			b.Run("parallel_hot", parallel(e.auth, hot))
			b.Run("stream_noauth", stream(e.noauth, bg))
			b.Run("stream_hot", stream(e.auth, hot))
		})
	}
}

// benchServerOptions returns opts, and with GRPCAUTH_BENCH_WORKERS=n set
// (scripts/callgrind.sh sets it for its second table) grpc.NumStreamWorkers(n)
// too: calls then run on long-lived worker goroutines instead of a new
// goroutine each. A new goroutine starts on a small stack and grows it by
// copying, at a cost (up to 50,000 instructions a call here, a quarter of
// it) that depends on how deep the call's frames are when it overflows,
// not on the work: an interceptor's frames can move that point either way.
// The Go runtime sizes new stacks from the average it sees at each garbage
// collection, so a long-running server pays little of it; a count made
// with GOGC=off sees it in full, on whichever row it falls. Worker
// goroutines keep their grown stacks, which leaves the work alone in the
// count.
func benchServerOptions(opts ...grpc.ServerOption) []grpc.ServerOption {
	if n, err := strconv.Atoi(os.Getenv("GRPCAUTH_BENCH_WORKERS")); err == nil && n > 0 {
		opts = append(opts, grpc.NumStreamWorkers(uint32(n)))
	}
	return opts
}

// benchEnv is a raw server and two enforced ones (cache on, cache off) on
// one transport, all over TLS.
type benchEnv struct {
	iss                    *authtest.Issuer
	noauth, auth, uncached libraryv1.LibraryServiceClient
}

func (e *benchEnv) withToken(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
}

func newBenchEnv(b *testing.B, transport string) *benchEnv {
	e := &benchEnv{iss: authtest.NewIssuer(b, authtest.DefaultAudience("library"))}
	serverCreds, clientCreds := tlsPair(b, "bench CA")
	start := func(register func(*grpc.Server)) libraryv1.LibraryServiceClient {
		if transport == "bufconn" {
			return libraryv1.NewLibraryServiceClient(dial(b, serve(b, register, benchServerOptions(serverCreds)...), clientCreds))
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		s := grpc.NewServer(benchServerOptions(serverCreds)...)
		register(s)
		go s.Serve(lis)
		b.Cleanup(s.Stop)
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(clientCreds))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		return libraryv1.NewLibraryServiceClient(conn)
	}
	enforced := func(opts ...jwtauth.Option) func(*grpc.Server) {
		a, err := jwtauth.New(append([]jwtauth.Option{
			jwtauth.Issuer(e.iss.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(e.iss.JWKSURL())),
			jwtauth.HTTPClient(e.iss.HTTPClient()),
		}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		enf, err := runtime.NewEnforcer(runtime.WithJWT(a), runtime.WithLogger(nil))
		if err != nil {
			b.Fatal(err)
		}
		return func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServerWithAuth(s, &recorder{}, enf) }
	}
	e.noauth = start(func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServer(s, &recorder{}) })
	e.auth = start(enforced())
	e.uncached = start(enforced(jwtauth.CacheSize(0)))
	return e
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
	serverCreds, clientCreds := tlsPair(b, "bench CA")
	lis := serve(b, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServer(s, &recorder{}) }, serverCreds)
	conn := dial(b, lis, clientCreds)
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
	quiet := []runtime.Option{runtime.WithLogger(nil), runtime.WithAudit(runtime.AuditNone)}
	f := newKindsFixture(b, modeRegister, kindsOptions{enforcerOpts: quiet})
	uncached := newKindsFixture(b, modeRegister, kindsOptions{enforcerOpts: quiet, uncachedJWT: true})
	serverTLS, err := f.serverCA.ServerTLS()
	if err != nil {
		b.Fatal(err)
	}
	raw := serve(b, func(s *grpc.Server) { grpcauthtestv1.RegisterKindsServer(s, &kindsRecorder{}) }, grpc.Creds(credentials.NewTLS(serverTLS)))
	noauth := grpcauthtestv1.NewKindsClient(dial(b, raw, credentials.NewTLS(withServerName(f.serverCA.ClientTLS()))))
	jwt := f.iss.Mint(authtest.Algorithm("RS256"), authtest.Scopes("s"), authtest.ExpiresIn(time.Hour))
	opaque := f.in.Issue("bob", []string{"s"}, "library", time.Hour, nil)
	req := &grpcauthtestv1.Msg{Text: "hello"}
	for _, c := range []struct {
		name string
		call func(context.Context, *grpcauthtestv1.Msg, ...grpc.CallOption) (*grpcauthtestv1.Msg, error)
		ctx  context.Context
	}{
		{"noauth_tls", noauth.Any, context.Background()},
		{"jwt_rs256", f.client.Jwt, bearerMD(jwt)},
		{"jwt_rs256_uncached", uncached.client.Jwt, bearerMD(uncached.iss.Mint(authtest.Algorithm("RS256"), authtest.Scopes("s"), authtest.ExpiresIn(time.Hour)))},
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

// BenchmarkStreamMessage is the cost of one message each way on an open
// bidi stream (SyncShelf over bufconn and TLS): registered raw (noauth),
// enforced with the stream guard off (WithoutStreamExpiry and no rechecks:
// messages go straight to grpc-go), and enforced with the guard of a token
// that expires and is rechecked (the default), whose receives wait in a
// goroutine of their own.
func BenchmarkStreamMessage(b *testing.B) {
	iss := authtest.NewIssuer(b, authtest.DefaultAudience("library"))
	serverCreds, clientCreds := tlsPair(b, "bench CA")
	start := func(register func(*grpc.Server)) libraryv1.LibraryServiceClient {
		return libraryv1.NewLibraryServiceClient(dial(b, serve(b, register, benchServerOptions(serverCreds)...), clientCreds))
	}
	enforced := func(opts ...runtime.Option) libraryv1.LibraryServiceClient {
		a := mustJWT(b, iss)
		enf, err := runtime.NewEnforcer(append([]runtime.Option{runtime.WithJWT(a), runtime.WithLogger(nil)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		return start(func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServerWithAuth(s, &recorder{}, enf) })
	}
	token := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+iss.Mint(authtest.Scopes("library.read"), authtest.ExpiresIn(time.Hour)))
	for _, c := range []struct {
		name   string
		client libraryv1.LibraryServiceClient
	}{
		{"noauth", start(func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServer(s, &recorder{}) })},
		{"unguarded", enforced(runtime.WithoutStreamExpiry(), runtime.WithStreamRecheck(0))},
		{"guarded", enforced()},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(token)
			defer cancel()
			s, err := c.client.SyncShelf(ctx)
			if err != nil {
				b.Fatal(err)
			}
			req := &libraryv1.SyncShelfRequest{Book: &libraryv1.Book{Name: "shelves/a/books/1"}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.Send(req); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Recv(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMetadata is what reading the credential entries costs through
// grpc-go's metadata API, on the incoming context of a real call that
// carries a bearer token over TLS (bufconn): one, the authorization
// entry alone, as any bearer scheme reads it; strict, the five entries the
// enforcer reads on every call (authorization, x-api-key, their -bin
// forms, x-forwarded-client-cert), four of them absent. An absent key costs
// most: metadata.ValueFromIncomingContext then compares every entry
// case-insensitively, and grpc-go offers no look-up without that scan or
// a copy of the whole metadata. BENCHMARKS.md sets strict − one beside
// the hot path's cost over its baseline.
func BenchmarkMetadata(b *testing.B) {
	strictKeys := [...]string{"authorization-bin", "x-api-key-bin", "authorization", "x-api-key", "x-forwarded-client-cert"}
	serverCreds, clientCreds := tlsPair(b, "bench CA")
	var captured context.Context
	capture := grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		captured = ctx
		return h(ctx, req)
	})
	lis := serve(b, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServer(s, &recorder{}) }, serverCreds, capture)
	c := libraryv1.NewLibraryServiceClient(dial(b, lis, clientCreds))
	iss := authtest.NewIssuer(b, authtest.DefaultAudience("library"))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+iss.Mint())
	if _, err := c.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/a/books/1"}); err != nil {
		b.Fatal(err)
	}
	var n int
	b.Run("one", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			n += len(metadata.ValueFromIncomingContext(captured, "authorization"))
		}
	})
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for _, k := range strictKeys {
				n += len(metadata.ValueFromIncomingContext(captured, k))
			}
		}
	})
	b.Run("copy", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			md, _ := metadata.FromIncomingContext(captured)
			for _, k := range strictKeys {
				n += len(md[k])
			}
		}
	})
	if n == 0 {
		b.Fatal("no authorization entry read")
	}
}
