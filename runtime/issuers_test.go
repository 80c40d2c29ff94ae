// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// TestIssuers_EndToEnd: an enforcer whose JWT authenticator trusts two
// issuers — the kinds fixture's (JWKS URL, at+jwt, scopes in scope) and a
// staff realm found by OpenID Connect Discovery (typ JWT, scopes from a
// mapped realm role) — decides unary and streaming calls of generated
// code by the issuer each token names: each with its own settings, an
// unknown issuer refused without any fetch, a token naming one issuer but
// signed with the other's key refused without a fetch of the other's keys.
func TestIssuers_EndToEnd(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		staff := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.IssuerPath("/realms/staff"), authtest.KeyIDPrefix("staff-"))
		f := newKindsFixture(t, m, kindsOptions{jwtOpts: []jwtauth.Option{
			jwtauth.Issuer(staff.URL(),
				jwtauth.Audience("library"),
				jwtauth.OIDCDiscovery(),
				jwtauth.Types("at+jwt", "JWT"),
				jwtauth.ScopesFrom(jwtauth.Claim("realm_access", "roles").Map(map[string][]string{"library-user": {"s"}}))),
		}})
		role := func(roles ...string) authtest.TokenOption {
			return authtest.Claim("realm_access", map[string]any{"roles": roles})
		}
		for _, k := range anyCalls {
			f.wantAllowed(t, k, bearerMD(f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s"))), f.client, runtime.BearerJWT, "alice")
			f.wantAllowed(t, k, bearerMD(staff.Mint(authtest.Subject("sam"), authtest.Type("JWT"), role("library-user", "offline_access"))), f.client, runtime.BearerJWT, "sam")
		}
		stranger := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
		before, staffBefore := f.iss.Fetches(), staff.Fetches()
		for _, k := range anyCalls {
			for _, c := range []struct {
				name   string
				token  string
				code   codes.Code
				reason runtime.Reason
			}{
				{"staff without the role", staff.Mint(authtest.Type("JWT"), role("offline_access")), codes.PermissionDenied, runtime.ReasonScopeInsufficient},
				{"staff's scope claim is not read", staff.Mint(authtest.Type("JWT"), authtest.Scopes("s")), codes.PermissionDenied, runtime.ReasonScopeInsufficient},
				{"typ JWT is staff's, not the other's", f.iss.Mint(authtest.Type("JWT"), authtest.Scopes("s")), codes.Unauthenticated, runtime.ReasonClaimsInvalid},
				{"an untrusted issuer", stranger.Mint(authtest.Scopes("s")), codes.Unauthenticated, runtime.ReasonIssuerUntrusted},
				{"staff's kid under the other's iss", staff.Mint(authtest.IssuerClaim(f.iss.URL()), authtest.KeyID("staff-rs256-1"), authtest.Scopes("s")), codes.Unauthenticated, runtime.ReasonTokenInvalidSignature},
			} {
				t.Run(k.name+"/"+c.name, func(t *testing.T) {
					f.wantDenied(t, k, bearerMD(c.token), f.client, c.code, c.reason)
				})
			}
		}
		if staff.Fetches() != staffBefore {
			t.Errorf("staff's JWKS was fetched %d more times for tokens it did not sign under its name", staff.Fetches()-staffBefore)
		}
		if stranger.Fetches() != 0 || stranger.MetadataFetches() != 0 {
			t.Error("the untrusted issuer was asked for keys")
		}
		if n := f.iss.Fetches() - before; n > 1 {
			t.Errorf("the fixture's issuer was asked %d more times; want at most one refresh for the unknown kid", n)
		}
		if staff.MetadataFetches() != 1 {
			t.Errorf("staff's metadata fetched %d times; want once", staff.MetadataFetches())
		}
	})
}
