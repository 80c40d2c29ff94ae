// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// Decide calls against a generated rule without a server: what the
// generated code does on every call.
func ExampleEnforcer_Authorize() {
	iss, err := authtest.StartIssuer(authtest.DefaultAudience("library"))
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	a, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.StaticKey("rs256-1", "RS256", iss.PublicKey("rs256-1"))))
	if err != nil {
		panic(err)
	}
	// This example decides without a connection, so it has no TLS: allow
	// plaintext credentials here only.
	enf, err := runtime.NewEnforcer(runtime.WithJWT(a), runtime.WithLogger(nil), runtime.WithPlaintextCredentials())
	if err != nil {
		panic(err)
	}
	rule := libraryv1.LibraryServiceAuthRules.Lookup(libraryv1.LibraryService_GetBook_FullMethodName)
	for _, token := range []string{
		iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read")),
		iss.Mint(authtest.Subject("bob"), authtest.Scopes("library.write")),
	} {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token))
		ctx, err := enf.Authorize(ctx, rule)
		if e, ok := runtime.FromError(err); ok {
			fmt.Println("denied:", e.Code, e.Reason, e.Metadata["missing_scopes"])
			continue
		}
		p, _ := runtime.PrincipalFrom(ctx)
		fmt.Println("allowed:", p.Subject, p.Scopes)
	}
	// Output:
	// allowed: alice [library.read]
	// denied: PermissionDenied SCOPE_INSUFFICIENT library.read
}

// A client switches on the reason instead of parsing the message.
func ExampleFromError() {
	// What a client receives when a server denies a call.
	sent := runtime.NewError(runtime.ReasonTokenExpired, "the token has expired")
	received := status.ErrorProto(sent.GRPCStatus().Proto())

	if e, ok := runtime.FromError(received); ok {
		switch e.Reason {
		case runtime.ReasonTokenExpired:
			fmt.Println(e.Code, "- refresh the token and retry once")
		default:
			fmt.Println(e.Code, e.Reason)
		}
	}
	// Output: Unauthenticated - refresh the token and retry once
}
