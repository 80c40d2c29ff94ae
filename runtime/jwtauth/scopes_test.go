// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// TestScopesFrom: the scopes of an issuer are those of every claim it
// lists, in order, each once; a mapped claim grants the scopes of the
// values it maps and nothing for the others, which may be any string; a
// claim of the wrong shape is CLAIMS_INVALID, quoting nothing.
func TestScopesFrom(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss, jwtauth.CacheSize(0), jwtauth.ScopesFrom(
		jwtauth.Claim("scope"),
		jwtauth.Claim("roles"),
		jwtauth.Claim("realm_access", "roles").Map(map[string][]string{"librarian": {"library.write", "library.read"}}),
		jwtauth.Claim("https://library.example/groups").Map(map[string][]string{"Library Admins": {"library.admin"}}),
	))
	for _, c := range []struct {
		name   string
		claims map[string]any
		want   []string
	}{
		{"none", nil, nil},
		{"scope only", map[string]any{"scope": "library.read x"}, []string{"library.read", "x"}},
		{"union in order, each once", map[string]any{
			"scope":        "library.read",
			"roles":        []string{"b", "library.read", "a"},
			"realm_access": map[string]any{"roles": []string{"librarian", "guest"}},
		}, []string{"library.read", "b", "a", "library.write"}},
		{"a mapped string", map[string]any{"realm_access": map[string]any{"roles": "guest librarian"}}, []string{"library.write", "library.read"}},
		{"a mapped value with a space", map[string]any{"https://library.example/groups": []string{"Library Admins", "Everyone Else"}}, []string{"library.admin"}},
		{"unmapped values grant nothing", map[string]any{"https://library.example/groups": []string{"library.admin"}}, nil},
		{"a parent without the claim", map[string]any{"realm_access": map[string]any{}}, nil},
		{"scp is not listed", map[string]any{"scp": []string{"library.admin"}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := []authtest.TokenOption{authtest.Without("scope")}
			for k, v := range c.claims {
				opts = append(opts, authtest.Claim(k, v))
			}
			p := mustAccept(t, a, iss.Mint(opts...))
			if !slices.Equal(p.Scopes, c.want) {
				t.Errorf("scopes %q; want %q", p.Scopes, c.want)
			}
		})
	}
	// Each holds "zq", which no denial may quote.
	for name, claims := range map[string]map[string]any{
		"scope an array":             {"scope": []string{"zq"}},
		"roles a number":             {"roles": 7},
		"roles an object":            {"roles": map[string]any{"zq": true}},
		"roles member not a string":  {"roles": []any{"zq", 1}},
		"roles member two scopes":    {"roles": []string{"zq b"}},
		"roles malformed string":     {"roles": "zq  b"},
		"parent not an object":       {"realm_access": []string{"zq"}},
		"mapped member not a string": {"realm_access": map[string]any{"roles": []any{"librarian", 2}}},
		"mapped string malformed":    {"realm_access": map[string]any{"roles": " zq"}},
		"mapped claim null":          {"https://library.example/groups": nil},
	} {
		t.Run(name, func(t *testing.T) {
			opts := []authtest.TokenOption{authtest.Without("scope")}
			for k, v := range claims {
				if v == nil {
					opts = append(opts, rawNull(k))
					continue
				}
				opts = append(opts, authtest.Claim(k, v))
			}
			p, err := a.Authenticate(t.Context(), iss.Mint(opts...))
			e, ok := runtime.FromError(err)
			if p != nil || !ok || e.Reason != runtime.ReasonClaimsInvalid {
				t.Fatalf("got %v, %v; want CLAIMS_INVALID", p, err)
			}
			if strings.Contains(e.Message+e.Detail, "zq") {
				t.Errorf("the denial quotes the claim: %q %q", e.Message, e.Detail)
			}
		})
	}
}

// rawNull sets claim to JSON null (authtest.Claim with nil removes it).
func rawNull(claim string) authtest.TokenOption {
	return authtest.Claim(claim, (*struct{})(nil))
}

// TestRequireClaim: a required claim must be the string given, exactly.
func TestRequireClaim(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss, jwtauth.CacheSize(0), jwtauth.RequireClaim("token_use", "access"))
	mustAccept(t, a, iss.Mint(authtest.Claim("token_use", "access")))
	for _, v := range []any{"id", "Access", "access ", []string{"access"}, true} {
		mustDeny(t, a, iss.Mint(authtest.Claim("token_use", v)), runtime.ReasonClaimsInvalid)
	}
	mustDeny(t, a, iss.Mint(), runtime.ReasonClaimsInvalid)
}

// TestAudienceClaim: another claim than aud names the audience; aud itself
// is then not read.
func TestAudienceClaim(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss, jwtauth.CacheSize(0), jwtauth.AudienceClaim("client_id"))
	mustAccept(t, a, iss.Mint(authtest.Without("aud"), authtest.Claim("client_id", audience)))
	mustAccept(t, a, iss.Mint(authtest.Without("aud"), authtest.Claim("client_id", []string{"x", audience})))
	mustDeny(t, a, iss.Mint(), runtime.ReasonAudienceMismatch) // aud library, no client_id
	mustDeny(t, a, iss.Mint(authtest.Claim("client_id", "other")), runtime.ReasonAudienceMismatch)
	mustDeny(t, a, iss.Mint(authtest.Claim("client_id", 3)), runtime.ReasonClaimsInvalid)
	mustDeny(t, a, iss.Mint(authtest.Claim("client_id", []any{audience, 3})), runtime.ReasonClaimsInvalid)
}
