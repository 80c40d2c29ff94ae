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

// lines is an audit sink that keeps a line per event; AsyncAuditSink
// calls it from one goroutine.
type lines struct{ l []string }

func (s *lines) Audit(ev runtime.AuditEvent) {
	s.l = append(s.l, fmt.Sprint(ev.Outcome, " ", ev.FullMethod, " ", ev.Reason, " ", ev.Subject, " dry-run=", ev.DryRun))
}

// Audit denials to several sinks, a slow one behind a bounded queue; roll
// a rule out in dry-run; find a denial by its decision id.
func ExampleWithAudit() {
	iss, err := authtest.StartIssuer(authtest.DefaultAudience("library"))
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	a, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.StaticJWKS(iss.JWKS())))
	if err != nil {
		panic(err)
	}
	kept := &lines{}
	slow := runtime.AsyncAuditSink(kept, 1024) // drops (and counts) rather than block a call
	enf, err := runtime.NewEnforcer(runtime.WithJWT(a), runtime.WithLogger(nil), runtime.WithPlaintextCredentials(),
		runtime.WithAudit(runtime.AuditOnDeny, slow),
		runtime.WithDryRun(libraryv1.LibraryService_ExportShelf_FullMethodName))
	if err != nil {
		panic(err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization",
		"Bearer "+iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"))))
	// Denied: ImportBooks needs library.write.
	_, err = enf.Authorize(ctx, libraryv1.LibraryServiceAuthRules.Lookup(libraryv1.LibraryService_ImportBooks_FullMethodName))
	if e, ok := runtime.FromError(err); ok {
		fmt.Println(e.Reason, "with a decision id:", e.DecisionID() != "")
	}
	// Dry-run: ExportShelf would deny alice, and lets her through.
	_, err = enf.Authorize(ctx, libraryv1.LibraryServiceAuthRules.Lookup(libraryv1.LibraryService_ExportShelf_FullMethodName))
	fmt.Println("ExportShelf:", err)
	slow.Close() // delivers what is queued
	for _, l := range kept.l {
		fmt.Println(l)
	}
	// Output:
	// SCOPE_INSUFFICIENT with a decision id: true
	// ExportShelf: <nil>
	// deny /library.v1.LibraryService/ImportBooks SCOPE_INSUFFICIENT alice dry-run=false
	// would_deny /library.v1.LibraryService/ExportShelf SCOPE_INSUFFICIENT alice dry-run=true
}
