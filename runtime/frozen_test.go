// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
)

// loosen changes every rule of the exported table in ways that would open a
// method: in place, through the slices it holds, and, with fields, in its
// fields too. The table is put back when the test ends.
func loosen(t *testing.T, table *runtime.ServiceRules, fields bool) {
	t.Helper()
	saved := make([]runtime.Rule, len(table.Methods))
	var savedReqs [][]runtime.Requirement
	for i, r := range table.Methods {
		saved[i] = *r
		var reqs []runtime.Requirement
		for _, q := range r.Requirements {
			reqs = append(reqs, runtime.Requirement{
				Credentials: append([]runtime.CredentialKind(nil), q.Credentials...),
				Scopes:      append([]string(nil), q.Scopes...),
			})
		}
		savedReqs = append(savedReqs, reqs)
	}
	t.Cleanup(func() {
		for i, r := range table.Methods {
			*r = saved[i]
			for j := range r.Requirements {
				copy(r.Requirements[j].Credentials, savedReqs[i][j].Credentials)
				copy(r.Requirements[j].Scopes, savedReqs[i][j].Scopes)
			}
		}
	})
	for _, r := range table.Methods {
		// In place first, through the slices the enforcer might share...
		for j := range r.Requirements {
			for k := range r.Requirements[j].Scopes {
				r.Requirements[j].Scopes[k] = "library.read"
			}
			for k := range r.Requirements[j].Credentials {
				r.Requirements[j].Credentials[k] = runtime.BearerJWT
			}
		}
		if !fields {
			continue
		}
		// ...then the fields themselves.
		r.Public = true
		r.PublicReason = "opened after registration"
		r.Transport = runtime.AnyTransport
		r.Condition = ""
		r.Evaluator = nil
		r.Undeclared = false
		r.FullMethod = libraryv1.LibraryService_ListPublicShelves_FullMethodName
	}
}

// TestRulesFrozenAtRegistration changes the exported rule table after the
// service was registered, on every enforcement path, and checks that no
// decision changes: the enforcer decides from its own copy (issue: code
// holding LibraryServiceAuthRules could set Public = true on a running
// server).
func TestRulesFrozenAtRegistration(t *testing.T) {
	for _, m := range modes {
		for _, fields := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fields=%v", m, fields), func(t *testing.T) {
				testRulesFrozen(t, m, fields)
			})
		}
	}
}

func testRulesFrozen(t *testing.T, m mode, fields bool) {
	{
		{
			f := newFixture(t, fixtureOptions{mode: m})
			loosen(t, libraryv1.LibraryServiceAuthRules, fields)
			readOnly := f.iss.Mint(authtest.Scopes("library.read"))

			// No credential: still needed, on every kind of call.
			for _, k := range rpcKinds {
				wantDenied(t, k.call(context.Background(), f.client), codes.Unauthenticated, runtime.ReasonCredentialsMissing)
			}
			// The scope a requirement needs: still needed.
			for _, k := range rpcKinds {
				if k.scope == "library.read" {
					continue
				}
				wantDenied(t, k.call(withToken(readOnly), f.client), codes.PermissionDenied, runtime.ReasonScopeInsufficient)
			}
			_, err := f.client.DeleteBook(withToken(readOnly), &libraryv1.DeleteBookRequest{Name: "shelves/a/books/1"})
			wantDenied(t, err, codes.PermissionDenied, runtime.ReasonScopeInsufficient)
			// TLS_REQUIRED and the condition: still there.
			admin := f.iss.Mint(authtest.Scopes("library.write", "library.admin"), authtest.Claim("tenant", "acme"))
			_, err = f.plainClient.DeleteBook(withToken(admin), &libraryv1.DeleteBookRequest{Name: "tenants/acme/shelves/a/books/1"})
			wantDenied(t, err, codes.Unauthenticated, runtime.ReasonTransportInsecure)
			_, err = f.client.DeleteBook(withToken(admin), &libraryv1.DeleteBookRequest{Name: "tenants/other/shelves/a/books/1", Shelf: "tenants/other/shelves/a"})
			wantDenied(t, err, codes.PermissionDenied, runtime.ReasonConditionFailed)
			if _, err := f.client.DeleteBook(withToken(admin), &libraryv1.DeleteBookRequest{Name: "tenants/acme/shelves/a/books/1", Shelf: "tenants/acme/shelves/a"}); err != nil {
				t.Fatalf("allowed call: %v", err)
			}
			if f.impl.calls.Load() != 1 {
				t.Fatalf("handlers ran %d times; want once", f.impl.calls.Load())
			}
			wantDenied(t, rpcKinds[0].call(context.Background(), f.client), codes.Unauthenticated, runtime.ReasonCredentialsMissing)
		}
	}
}
