// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package jwtauth verifies BEARER_JWT credentials: signed JWTs of one
// issuer, with keys from a JWKS URL or a static set, through go-jose.
//
//	a, err := jwtauth.New(
//		jwtauth.Issuer("https://issuer.example"),
//		jwtauth.Audience("library"),
//		jwtauth.JWKSURL("https://issuer.example/.well-known/jwks.json"),
//	)
//	enf, err := runtime.NewEnforcer(runtime.WithJWT(a))
//
// What it accepts: a compact JWS of at most 8 KiB, in canonical base64url,
// whose typ header is one of [Types] (default "at+jwt", RFC 9068: an OIDC
// ID token, typ "JWT" or none, is not an access token; a typ not accepted
// is CLAIMS_INVALID, before any key lookup),
// signed with an algorithm of the allow-list (RS256, ES256 and EdDSA by
// default; never HMAC or none; RSA-PSS only with a salt as long as the hash)
// by the key its kid names, whose own alg and curve must match; iss equal to
// the issuer; exp present and not past; nbf and iat not in the future (both
// within the leeway); aud containing one of the audiences exactly; a sub.
// Headers that point at other keys (jwk, jku, x5u, x5c) are never used.
// No JWS extension is implemented (RFC 7515 §4.1.11): a header with a crit
// member of any value (an empty list and ["b64"] included) or a b64 member
// (RFC 7797) is CREDENTIALS_MALFORMED, before any key lookup.
//
// A token that cannot be read as a compact JWS (its parts, their
// base64url, the header's JSON, a payload that is not a JSON object) is
// CREDENTIALS_MALFORMED. A registered claim of the wrong type (iss, sub or
// jti not a string, aud not a string or an array of strings, exp, nbf or
// iat not a number in range) is CLAIMS_INVALID.
//
// Claims that need no key are checked before the key lookup, so an expired
// token, a wrong audience or an unknown issuer never causes a JWKS fetch.
// Key fetches are singleflight; an unknown kid triggers at most one refresh
// per [MinRefreshInterval]; the last good keys serve for [MaxStaleness]
// while the endpoint fails, and then calls fail closed with UNAVAILABLE
// AUTH_BACKEND_UNAVAILABLE.
//
// Scopes come from the "scope" claim or else "scp". A scope string (scope,
// or scp as a string) is split by [runtime.ParseScope], strictly as RFC 6749
// §3.3 writes it: scope-tokens separated by exactly one space. An array
// scp holds one scope-token per member. A doubled, leading or trailing
// space, a tab, a member holding a space, a quote, a backslash or a
// character outside printable ASCII is CLAIMS_INVALID: never split
// leniently, so that no token holds a scope that another reader of the
// same claim would not see. All verified claims are in Principal.Claims.
package jwtauth
