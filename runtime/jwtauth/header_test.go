// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"crypto"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
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
