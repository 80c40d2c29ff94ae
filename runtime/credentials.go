// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"strconv"

	"google.golang.org/grpc/metadata"
)

// DefaultMaxCredentialSize is the default cap, in bytes, on a credential's
// metadata value, whatever grpc-go's header-list limit is.
const DefaultMaxCredentialSize = 8 << 10

// The metadata keys credentials are read from.
const (
	// AuthorizationKey carries "Bearer <token>".
	AuthorizationKey    = "authorization"
	authorizationBinKey = AuthorizationKey + "-bin"
)

// credential is what the caller presented, before authentication.
type credential struct {
	kind  CredentialKind // NoCredential when none was sent
	token string         // bearer token, never logged
}

// extract reads the caller's credential from the incoming metadata. It
// reads only the entries it needs.
func (e *Enforcer) extract(ctx context.Context) (credential, *Error) {
	if len(metadata.ValueFromIncomingContext(ctx, authorizationBinKey)) > 0 {
		return credential{}, NewError(ReasonCredentialsMalformed, "authorization-bin is not a credential; send the token in authorization")
	}
	vals := metadata.ValueFromIncomingContext(ctx, AuthorizationKey)
	switch len(vals) {
	case 0:
		return credential{}, nil
	case 1:
	default:
		return credential{}, NewError(ReasonCredentialsMalformed, "more than one authorization entry; send exactly one")
	}
	v := vals[0]
	if len(v) > e.maxCredentialSize {
		return credential{}, NewError(ReasonCredentialsMalformed, "authorization is longer than "+strconv.Itoa(e.maxCredentialSize)+" bytes")
	}
	token, ok := parseBearer(v)
	if !ok {
		return credential{}, NewError(ReasonCredentialsMalformed, `authorization must be "Bearer " followed by a token`)
	}
	return credential{kind: BearerJWT, token: token}, nil
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
// "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
