// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"crypto"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// TestCriticalHeader: RFC 7515 §4.1.11 — a crit header lists extensions
// the recipient must understand, and this server implements none (go-jose
// alone would accept an empty list and "b64"). Any crit header, whatever
// its value, and any b64 header (RFC 7797, which needs crit) is
// CREDENTIALS_MALFORMED, before any key is fetched, even when the issuer's
// key really signed the token.
func TestCriticalHeader(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss)
	for name, opts := range map[string][]authtest.TokenOption{
		"empty list":              {authtest.Header("crit", []string{})},
		"b64 true":                {authtest.Header("crit", []string{"b64"}), authtest.Header("b64", true)},
		"b64 listed, not present": {authtest.Header("crit", []string{"b64"})},
		"unknown extension":       {authtest.Header("crit", []string{"x-policy"}), authtest.Header("x-policy", "anything")},
		"registered header":       {authtest.Header("crit", []string{"kid"})},
		"string":                  {authtest.Header("crit", "b64"), authtest.Header("b64", true)},
		"number":                  {authtest.Header("crit", 1)},
		"object":                  {authtest.Header("crit", map[string]any{"b64": true})},
		"array of a number":       {authtest.Header("crit", []any{1})},
		"b64 true, no crit":       {authtest.Header("b64", true)},
		"b64 false, no crit":      {authtest.Header("b64", false)},
	} {
		t.Run(name, func(t *testing.T) {
			mustDeny(t, a, iss.Mint(opts...), runtime.ReasonCredentialsMalformed)
		})
	}
	wantFetches(t, iss, a, 0)

	t.Run("null", func(t *testing.T) {
		// go-jose drops header members that are JSON null, so this needs
		// a token signed by hand: with a static key.
		key := otherRSA()
		s := newStaticAuth(t, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "RS256", Use: "sig"}})
		claims := claimsFor(staticIssuer, time.Now())
		ok := handSign(t, map[string]any{"alg": "RS256", "kid": "k", "typ": "at+jwt"}, claims, signPKCS1(t, key, crypto.SHA256))
		mustAccept(t, s, ok)
		for _, h := range []string{"crit", "b64"} {
			tok := handSign(t, map[string]any{"alg": "RS256", "kid": "k", "typ": "at+jwt", h: nil}, claims, signPKCS1(t, key, crypto.SHA256))
			mustDeny(t, s, tok, runtime.ReasonCredentialsMalformed)
		}
	})
	t.Run("b64 false, really unencoded", func(t *testing.T) {
		// The signature covers the raw payload, as RFC 7797 says; go-jose
		// would verify it.
		key := otherRSA()
		s := newStaticAuth(t, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "RS256", Use: "sig"}})
		hdr := b64JSON(t, map[string]any{"alg": "RS256", "kid": "k", "typ": "at+jwt", "b64": false, "crit": []string{"b64"}})
		raw, err := json.Marshal(claimsFor(staticIssuer, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		sig := signPKCS1(t, key, crypto.SHA256)([]byte(hdr + "." + string(raw)))
		mustDeny(t, s, hdr+"."+b64(raw)+"."+b64(sig), runtime.ReasonCredentialsMalformed)
	})
}

// TestExplicitTyping: RFC 9068 §4 and RFC 8725 §3.11 — only a token whose
// typ is one of Types (default at+jwt) is an access token here, compared
// case-insensitively with or without "application/" (RFC 7515 §4.1.9).
// An OIDC ID token for this audience (typ JWT), a token without typ, or a
// typ that is not a string is CLAIMS_INVALID, before any key is fetched.
func TestExplicitTyping(t *testing.T) {
	iss := newIssuer(t)
	typ := authtest.Type
	t.Run("default", func(t *testing.T) {
		a := newAuth(t, iss)
		for _, ok := range []string{"at+jwt", "AT+JWT", "At+Jwt", "application/at+jwt", "Application/AT+JWT", "APPLICATION/at+jwt"} {
			mustAccept(t, a, iss.Mint(typ(ok)))
		}
		fetches := iss.Fetches()
		idToken := iss.Mint(typ("JWT"), authtest.Claim("nonce", "n-0S6_WzA2Mj"), authtest.Claim("azp", "library"), authtest.Claim("auth_time", time.Now().Unix()))
		mustDeny(t, a, idToken, runtime.ReasonClaimsInvalid)
		for name, opts := range map[string][]authtest.TokenOption{
			"missing":            {typ("")},
			"JWT":                {typ("JWT")},
			"jwt":                {typ("jwt")},
			"application/jwt":    {typ("application/jwt")},
			"at+jwt, space":      {typ("at+jwt ")},
			"space, at+jwt":      {typ(" at+jwt")},
			"text/at+jwt":        {typ("text/at+jwt")},
			"application twice":  {typ("application/application/at+jwt")},
			"at+jwt; parameter":  {typ("at+jwt; charset=utf-8")},
			"application/ alone": {typ("application/")},
			"empty string":       {typ(""), authtest.Header("typ", "")},
			"number":             {typ(""), authtest.Header("typ", 1)},
			"array":              {typ(""), authtest.Header("typ", []string{"at+jwt"})},
			"object":             {typ(""), authtest.Header("typ", map[string]any{"at+jwt": true})},
			"bool":               {typ(""), authtest.Header("typ", true)},
			"id token":           {typ("JWT"), authtest.Claim("nonce", "n")},
			"secevent":           {typ("secevent+jwt")},
			"logout":             {typ("logout+jwt")},
		} {
			t.Run(name, func(t *testing.T) {
				mustDeny(t, a, iss.Mint(opts...), runtime.ReasonClaimsInvalid)
			})
		}
		t.Run("null", func(t *testing.T) {
			key := otherRSA()
			s := newStaticAuth(t, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "RS256", Use: "sig"}})
			tok := handSign(t, map[string]any{"alg": "RS256", "kid": "k", "typ": nil}, claimsFor(staticIssuer, time.Now()), signPKCS1(t, key, crypto.SHA256))
			mustDeny(t, s, tok, runtime.ReasonClaimsInvalid)
		})
		if n := iss.Fetches(); n != fetches {
			t.Errorf("%d JWKS fetches for refused types; want none (typ is checked before any key)", n-fetches)
		}
	})
	t.Run("plain JWT too", func(t *testing.T) {
		a := newAuth(t, iss, jwtauth.Types("at+jwt", "JWT"))
		for _, ok := range []string{"at+jwt", "JWT", "jwt", "application/JWT", "application/at+jwt"} {
			mustAccept(t, a, iss.Mint(typ(ok)))
		}
		mustDeny(t, a, iss.Mint(typ("")), runtime.ReasonClaimsInvalid)
		mustDeny(t, a, iss.Mint(typ("secevent+jwt")), runtime.ReasonClaimsInvalid)
	})
	t.Run("configured with the prefix", func(t *testing.T) {
		a := newAuth(t, iss, jwtauth.Types("application/AT+JWT"))
		mustAccept(t, a, iss.Mint(typ("at+jwt")))
		mustAccept(t, a, iss.Mint(typ("application/at+jwt")))
		mustDeny(t, a, iss.Mint(typ("JWT")), runtime.ReasonClaimsInvalid)
	})
	t.Run("missing allowed when listed", func(t *testing.T) {
		a := newAuth(t, iss, jwtauth.Types("at+jwt", ""))
		mustAccept(t, a, iss.Mint(typ("")))
		mustAccept(t, a, iss.Mint(typ("at+jwt")))
		mustDeny(t, a, iss.Mint(typ("JWT")), runtime.ReasonClaimsInvalid)
		// Present but empty is not missing.
		mustDeny(t, a, iss.Mint(typ(""), authtest.Header("typ", "")), runtime.ReasonClaimsInvalid)
	})
	t.Run("configuration", func(t *testing.T) {
		for _, types := range [][]string{nil, {"application/"}, {"at+jwt", "a b"}, {"at+jwt\n"}, {"\u00e9"}, {"at+jwt", "APPLICATION/"}} {
			_, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience(audience), jwtauth.JWKSURL(iss.JWKSURL()), jwtauth.Types(types...)))
			if !errors.Is(err, jwtauth.ErrInvalidOption) {
				t.Errorf("Types(%q): want an error wrapping ErrInvalidOption, got %v", types, err)
			}
		}
	})
}
