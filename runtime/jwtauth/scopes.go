// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"strings"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// ScopeClaim is a claim an issuer's tokens hold scopes in, for
// [ScopesFrom]: a top-level claim such as "scp", or a claim nested in
// objects such as Keycloak's realm_access.roles, and optionally a mapping
// of its values to the scopes the rules name. Build one with [Claim].
type ScopeClaim struct {
	path    []string
	mapping map[string][]string // nil: the values are the scopes
}

// Claim is the claim at path: one name for a top-level claim
// (Claim("scp"), Claim("cognito:groups")), one name per level for a nested
// one (Claim("realm_access", "roles"), Claim("resource_access", "library",
// "roles")). Names are taken as they are, dots and colons included, so
// that a namespaced claim of Auth0, Claim("https://library.example/roles"),
// is one name.
//
// Its value is a scope string (RFC 6749 §3.3, split strictly by
// runtime.ParseScope) or an array of strings, each one value; the claim
// "scope" at the top level must be a string (RFC 8693 §4.2). Without
// [ScopeClaim.Map] each value is a scope and must be a scope-token.
func Claim(path ...string) ScopeClaim {
	return ScopeClaim{path: append([]string(nil), path...)}
}

// Map maps the claim's values to scopes: a value in m grants the scopes m
// gives it, and a value not in m grants none (it is not a scope then, and
// may be any string: a group "Library Admins"). So only the values a
// server names count, whatever else the issuer puts in the claim:
//
//	jwtauth.Claim("cognito:groups").Map(map[string][]string{
//		"librarians": {"library.read", "library.write"},
//	})
func (c ScopeClaim) Map(m map[string][]string) ScopeClaim {
	c.mapping = make(map[string][]string, len(m))
	for k, v := range m {
		c.mapping[k] = append([]string(nil), v...)
	}
	return c
}

func (c ScopeClaim) String() string { return strings.Join(c.path, ".") }

// ScopesFrom sets the claims the issuer's tokens hold scopes in, replacing
// the default, Claim("scope") and Claim("scp"). A token's scopes are those
// of every listed claim it has, in order, each once; a listed claim it does
// not have gives none, and one of the wrong shape (a number, an object, a
// malformed scope string, an array member that is not a string, or without
// a mapping not a scope-token; a nested claim whose parent is not an
// object) is CLAIMS_INVALID, quoting nothing of it.
//
// Keycloak's realm roles and a client's roles beside its scopes:
//
//	jwtauth.ScopesFrom(
//		jwtauth.Claim("scope"),
//		jwtauth.Claim("realm_access", "roles").Map(map[string][]string{"librarian": {"library.write"}}),
//		jwtauth.Claim("resource_access", "library", "roles"),
//	)
func ScopesFrom(claims ...ScopeClaim) IssuerOption {
	return func(c *issuerConfig) error {
		if len(claims) == 0 {
			return issuerErrorf("ScopesFrom: no claim given")
		}
		var out []ScopeClaim
		for _, sc := range claims {
			if len(sc.path) == 0 {
				return issuerErrorf("ScopesFrom: a Claim without a name")
			}
			for _, name := range sc.path {
				if name == "" {
					return issuerErrorf("ScopesFrom: claim %q: an empty name", sc)
				}
			}
			for value, scopes := range sc.mapping {
				if value == "" {
					return issuerErrorf("ScopesFrom: claim %q: Map of an empty value", sc)
				}
				for _, s := range scopes {
					if !scopeToken(s) {
						return issuerErrorf("ScopesFrom: claim %q: Map(%q): %q is not a scope-token", sc, value, s)
					}
				}
			}
			out = append(out, sc)
		}
		c.scopeClaims = out
		return nil
	}
}

// defaultScopeClaims are read unless ScopesFrom says otherwise.
var defaultScopeClaims = []ScopeClaim{{path: []string{"scope"}}, {path: []string{"scp"}}}

// AudienceClaim sets the claim the issuer's tokens name their audience in,
// compared with [Audience] as aud is (default "aud"): a string or an array
// of strings. For an issuer whose access tokens have no aud but name the
// client they were issued to, as AWS Cognito's do in client_id:
//
//	jwtauth.AudienceClaim("client_id"), jwtauth.Audience("<app client id>")
func AudienceClaim(name string) IssuerOption {
	return func(c *issuerConfig) error {
		if name == "" {
			return issuerErrorf("AudienceClaim: empty")
		}
		c.audClaim = name
		return nil
	}
}

// requiredClaim is a claim a token must have, with a value.
type requiredClaim struct{ name, value string }

// RequireClaim refuses the issuer's tokens whose top-level claim name is
// not the string value, exactly: for an issuer whose access and ID tokens
// differ by a claim rather than by typ, as AWS Cognito's token_use
// ("access") and Keycloak's typ claim ("Bearer"). Given once per claim.
func RequireClaim(name, value string) IssuerOption {
	return func(c *issuerConfig) error {
		if name == "" {
			return issuerErrorf("RequireClaim: empty name")
		}
		for _, r := range c.required {
			if r.name == name {
				return issuerErrorf("RequireClaim: %q given twice", name)
			}
		}
		c.required = append(c.required, requiredClaim{name, value})
		return nil
	}
}

// checkRequired checks the issuer's required claims.
func (c *issuerConfig) checkRequired(claims map[string]any) *runtime.Error {
	for _, r := range c.required {
		if v, ok := claims[r.name].(string); !ok || v != r.value {
			return deny(runtime.ReasonClaimsInvalid, "the token lacks a claim value this server requires of its issuer's access tokens")
		}
	}
	return nil
}

// smallScopes is how many scopes scopesOf dedupes by comparing each with
// those before it; past that, by a map.
const smallScopes = 16

// scopesOf reads the issuer's scopes from claims: the scopes of every
// scope claim the token has, each once, in order.
func (c *issuerConfig) scopesOf(claims map[string]any) ([]string, *runtime.Error) {
	sources := c.scopeClaims
	if sources == nil {
		sources = defaultScopeClaims
	}
	// The scopes, each once: the few a token has are compared with those
	// before them; past smallScopes they are kept in a map too, since the
	// claims are read before the signature is checked, and a caller's
	// thousands of distinct scopes must not take quadratic time.
	var out []string
	var seen map[string]struct{}
	add := func(s string) {
		if seen != nil {
			if _, dup := seen[s]; !dup {
				seen[s] = struct{}{}
				out = append(out, s)
			}
			return
		}
		for _, have := range out {
			if have == s {
				return
			}
		}
		out = append(out, s)
		if len(out) > smallScopes {
			seen = make(map[string]struct{}, 2*len(out))
			for _, have := range out {
				seen[have] = struct{}{}
			}
		}
	}
	for _, sc := range sources {
		v, present, ok := lookupClaim(claims, sc.path)
		if !ok {
			return nil, badScopeClaim(sc)
		}
		if !present {
			continue
		}
		values, ok := claimValues(v, sc, sc.mapping == nil)
		if !ok {
			return nil, badScopeClaim(sc)
		}
		for _, value := range values {
			if sc.mapping == nil {
				add(value)
				continue
			}
			for _, s := range sc.mapping[value] {
				add(s)
			}
		}
	}
	return out, nil
}

func badScopeClaim(sc ScopeClaim) *runtime.Error {
	// The claim's name is this server's configuration, not the caller's:
	// a top-level one is named, as before; a nested path is not.
	name := "scope"
	if len(sc.path) == 1 && (sc.path[0] == "scope" || sc.path[0] == "scp") {
		name = sc.path[0]
	}
	return deny(runtime.ReasonClaimsInvalid, "the token's "+name+" claim is not a scope string or an array of scope-tokens")
}

// lookupClaim finds the claim at path. present is false when it (or an
// object on its way) is absent; ok is false when something on its way is
// not an object.
func lookupClaim(claims map[string]any, path []string) (v any, present, ok bool) {
	var cur any = claims
	for _, name := range path {
		obj, isObj := cur.(map[string]any)
		if !isObj {
			return nil, false, false
		}
		if cur, present = obj[name]; !present {
			return nil, false, true
		}
	}
	return cur, true, true
}

// claimValues returns the values of a scope claim: a scope string split by
// runtime.ParseScope, or an array's strings (each a scope-token when
// tokens is set). The claim "scope" at the top level is a string only.
func claimValues(v any, sc ScopeClaim, tokens bool) ([]string, bool) {
	switch v := v.(type) {
	case string:
		out, err := runtime.ParseScope(v)
		return out, err == nil
	case []any:
		if len(sc.path) == 1 && sc.path[0] == "scope" {
			return nil, false
		}
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok || tokens && !scopeToken(s) {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}
