// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"strconv"
	"strings"

	"google.golang.org/grpc/metadata"
)

// DefaultMaxCredentialSize is the default cap, in bytes, on a credential's
// metadata value, whatever grpc-go's header-list limit is.
const DefaultMaxCredentialSize = 8 << 10

// The metadata keys credentials are read from.
const (
	// AuthorizationKey carries "Bearer <token>".
	AuthorizationKey = "authorization"
	// APIKeyKey carries an API key.
	APIKeyKey = "x-api-key"

	authorizationBinKey = AuthorizationKey + "-bin"
	apiKeyBinKey        = APIKeyKey + "-bin"
)

// credential is what the caller presented in metadata, before
// authentication. The connection's client certificate is not in it: it is
// used only when no metadata credential is sent, or as the workload's
// credential beside an end user's bearer token.
type credential struct {
	scheme credScheme
	secret string // bearer token or API key; never logged
	// workloadKey is the x-api-key sent beside a bearer token (scheme
	// schemeBearer) to a method with an on_behalf_of requirement that takes
	// API keys; never logged.
	workloadKey string
}

type credScheme uint8

const (
	schemeNone credScheme = iota
	schemeBearer
	schemeAPIKey
)

// extract reads the caller's metadata credential. It reads only the
// entries it needs. Two credentials at once, a -bin variant of a credential
// entry, or a value of the wrong shape is malformed: never "first one wins",
// never re-read as another kind. The one pair it takes is pairOK's: one
// authorization and one x-api-key, for a method with an on_behalf_of
// requirement whose workload sends an API key; two entries of one key stay
// malformed there too.
func (e *Enforcer) extract(ctx context.Context, pairOK bool) (credential, *Error) {
	if len(metadata.ValueFromIncomingContext(ctx, authorizationBinKey)) > 0 ||
		len(metadata.ValueFromIncomingContext(ctx, apiKeyBinKey)) > 0 {
		return credential{}, NewError(ReasonCredentialsMalformed, "binary (-bin) credential entries are not credentials; send authorization or x-api-key")
	}
	auth := metadata.ValueFromIncomingContext(ctx, AuthorizationKey)
	keys := metadata.ValueFromIncomingContext(ctx, APIKeyKey)
	switch n := len(auth) + len(keys); {
	case n == 0:
		return credential{}, nil
	case n == 2 && len(auth) == 1 && pairOK:
		// A workload's API key and the end user's token it calls for.
		key, derr := e.apiKey(keys[0])
		if derr != nil {
			return credential{}, derr
		}
		cred, derr := e.bearer(auth[0])
		cred.workloadKey = key
		return cred, derr
	case n > 1:
		return credential{}, NewError(ReasonCredentialsMalformed, "more than one credential in metadata; send exactly one authorization or x-api-key entry")
	}
	if len(keys) == 1 {
		k, derr := e.apiKey(keys[0])
		if derr != nil {
			return credential{}, derr
		}
		return credential{scheme: schemeAPIKey, secret: k}, nil
	}
	return e.bearer(auth[0])
}

// apiKey checks the value of an x-api-key entry.
func (e *Enforcer) apiKey(k string) (string, *Error) {
	if len(k) > e.maxCredentialSize {
		return "", NewError(ReasonCredentialsMalformed, "x-api-key is longer than "+strconv.Itoa(e.maxCredentialSize)+" bytes")
	}
	if !isAPIKey(k) {
		return "", NewError(ReasonCredentialsMalformed, "x-api-key must be a non-empty run of visible ASCII characters")
	}
	return k, nil
}

// bearer parses the value of an authorization entry.
func (e *Enforcer) bearer(v string) (credential, *Error) {
	if len(v) > e.maxCredentialSize {
		return credential{}, NewError(ReasonCredentialsMalformed, "authorization is longer than "+strconv.Itoa(e.maxCredentialSize)+" bytes")
	}
	token, ok := parseBearer(v)
	if !ok {
		return credential{}, NewError(ReasonCredentialsMalformed, `authorization must be "Bearer " followed by a token`)
	}
	return credential{scheme: schemeBearer, secret: token}, nil
}

// isAPIKey reports whether k is a non-empty run of visible ASCII.
func isAPIKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}

// looksLikeJWT reports whether a bearer token has the shape of a compact
// JWS (three dot-separated parts). It decides nothing about validity.
func looksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2
}

// parseBearer parses "Bearer <token68>" (RFC 6750 §2.1): the scheme in any
// case, exactly one space, a non-empty token68 with no other whitespace.
func parseBearer(v string) (string, bool) {
	const scheme = "bearer "
	if len(v) <= len(scheme) {
		return "", false
	}
	for i := 0; i < len(scheme); i++ {
		c := v[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != scheme[i] {
			return "", false
		}
	}
	token := v[len(scheme):]
	if !isToken68(token) {
		return "", false
	}
	return token, true
}

// isToken68 reports whether s is a token68: 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=". It runs over the whole token on every call
// that carries one, so it reads a table, four bytes a step, without a
// branch per byte.
func isToken68(s string) bool {
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if end == 0 {
		return false
	}
	ok := byte(1)
	i := 0
	for ; i+4 <= end; i += 4 {
		ok &= token68Chars[s[i]] & token68Chars[s[i+1]] & token68Chars[s[i+2]] & token68Chars[s[i+3]]
	}
	for ; i < end; i++ {
		ok &= token68Chars[s[i]]
	}
	return ok == 1
}

// token68Chars is 1 for the characters of a token68 before its padding
// ('=' is not one of them, so padding is only allowed at the end).
var token68Chars = func() (t [256]byte) {
	for c := range 256 {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			t[c] = 1
		}
	}
	return t
}()
