// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

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
