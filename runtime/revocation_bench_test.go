// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/internal/redistest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/redisstore"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/revocation"
)

// BenchmarkRevocation is the hot path (a JWT the server verified before,
// over TLS on bufconn) with revocation checking off, with the in-process
// store, and with the Redis store's mirror (which needs
// GRPCAUTH_REDIS_ADDR; skipped otherwise). Each store holds 1,000 revoked
// tokens of the issuer and one revoked subject, none of them the caller's.
// scripts/callgrind.sh counts its instructions per call.
func BenchmarkRevocation(b *testing.B) {
	iss := authtest.NewIssuer(b, authtest.DefaultAudience("library"))
	serverCreds, clientCreds := tlsPair(b, "bench CA")
	fill := func(s runtime.RevocationStore) {
		for i := 0; i < 1000; i++ {
			if err := s.RevokeToken(context.Background(), iss.URL(), fmt.Sprint("revoked-", i), time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.RevokeSubject(context.Background(), iss.URL(), "mallory", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	client := func(opts ...runtime.Option) libraryv1.LibraryServiceClient {
		enf, err := runtime.NewEnforcer(append([]runtime.Option{runtime.WithJWT(mustJWT(b, iss)), runtime.WithLogger(nil)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		lis := serve(b, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServerWithAuth(s, &recorder{}, enf) }, serverCreds)
		return libraryv1.NewLibraryServiceClient(dial(b, lis, clientCreds))
	}
	hot := withToken(iss.Mint(authtest.Scopes("library.read"), authtest.Claim("jti", "caller"), authtest.ExpiresIn(24*time.Hour)))
	req := &libraryv1.GetBookRequest{Name: "shelves/a/books/1"}
	unary := func(c libraryv1.LibraryServiceClient) func(*testing.B) {
		return func(b *testing.B) {
			if _, err := c.GetBook(hot, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.GetBook(hot, req); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("off", unary(client()))
	mem, err := revocation.NewMemory()
	if err != nil {
		b.Fatal(err)
	}
	fill(mem)
	b.Run("memory", unary(client(runtime.WithRevocation(mem))))
	b.Run("redis", func(b *testing.B) {
		addr := redistest.Addr(b)
		// Patient timeouts: callgrind runs this fifty times slower.
		rc := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second})
		b.Cleanup(func() { _ = rc.Close() })
		store, err := redisstore.NewRevocations(rc, redisstore.Prefix(redistest.Prefix(b, rc)), redisstore.Logger(slog.New(slog.DiscardHandler)),
			redisstore.HealthCheckInterval(30*time.Second), redisstore.Timeout(30*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = store.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := store.WaitSynced(ctx); err != nil {
			b.Fatal(err)
		}
		fill(store)
		unary(client(runtime.WithRevocation(store)))(b)
	})
}
