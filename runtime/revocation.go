// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// RevocationStore holds revoked JWTs: by jti, and by subject ("every token
// of S issued before T"). Both kinds are keyed by issuer too, since a jti
// or a subject is unique only within its issuer. [WithRevocation] makes an
// enforcer ask it on every call that presents a BEARER_JWT. Implementations:
// runtime/revocation's Memory (in process, the default) and
// runtime/redisstore's Revocations (shared by replicas through Redis).
//
// Implementations must be safe for concurrent use.
type RevocationStore interface {
	// Revoked reports whether the token of issuer iss and subject sub,
	// with jti (empty when the token has none) issued at issuedAt (zero
	// when it has no iat), is revoked: its jti is, or its subject's tokens
	// issued before a time after issuedAt are. A token without iat counts
	// as issued before any such time.
	//
	// Revoked is called on the call path of every JWT call, verified-cache
	// hits and the re-checks of open streams included: it must not block
	// (no network round trip, no lock held across one) and should not
	// allocate. An error means the store cannot answer now; the enforcer
	// then fails the call closed with UNAVAILABLE AUTH_BACKEND_UNAVAILABLE.
	Revoked(iss, sub, jti string, issuedAt time.Time) (bool, error)

	// RevokeToken revokes the token of issuer iss with ID jti. until is
	// the token's exp: the entry is kept until then (plus a grace period
	// that covers the verifier's leeway) and dropped after.
	RevokeToken(ctx context.Context, iss, jti string, until time.Time) error

	// RevokeSubject revokes every token of issuer iss and subject sub
	// issued before before (by iat). The entry is kept for a bounded,
	// implementation-configured time after before, which should be at
	// least the longest lifetime of the issuer's tokens.
	RevokeSubject(ctx context.Context, iss, sub string, before time.Time) error
}

// WithRevocation checks every BEARER_JWT call against store, after the
// token is authenticated (verified-cache hits included) and before it is
// authorized: a revoked token is refused with UNAUTHENTICATED
// TOKEN_REVOKED, and a store that cannot answer fails the call closed with
// UNAVAILABLE AUTH_BACKEND_UNAVAILABLE. Streams are checked when they open
// and whenever the decision is made again while they run.
//
// Other kinds are not checked: opaque OAuth2 tokens are revoked at the
// authorization server, which introspection asks; an API key is revoked
// by removing it from the key store; a client certificate by the trust
// bundle. Without WithRevocation nothing is checked and the check costs
// nothing.
func WithRevocation(store RevocationStore) Option {
	return func(e *Enforcer) error {
		if store == nil {
			return fmt.Errorf("%w: WithRevocation: nil store", ErrInvalidOption)
		}
		e.revocation = store
		return nil
	}
}

// checkRevocation asks e's store whether p, a JWT's principal, is revoked.
// The status message names neither the token's jti nor its subject.
func (e *Enforcer) checkRevocation(p *Principal) *Error {
	jti, _ := p.Claims["jti"].(string)
	iat := claimTime(p.Claims["iat"])
	revoked, err := e.revocation.Revoked(p.Issuer, p.Subject, jti, iat)
	if err != nil {
		return NewError(ReasonAuthBackendUnavailable, "the credential's revocation status could not be checked; try again later").
			WithCause(err).WithDetail("revocation store: %v", err)
	}
	if !revoked {
		return nil
	}
	derr := NewError(ReasonTokenRevoked, "the token has been revoked")
	// Which entry matched, for the server's log: asked again without the
	// jti (only on this denial).
	if bySubject, err := e.revocation.Revoked(p.Issuer, p.Subject, "", iat); err == nil && bySubject {
		return derr.WithDetail("the subject's tokens issued before its iat are revoked")
	}
	return derr.WithDetail("the token's jti is revoked")
}

// claimTime reads a NumericDate claim as decoded from JSON (a float64, or
// a json.Number); anything else is the zero time.
func claimTime(v any) time.Time {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return time.Time{}
		}
	case int64:
		return time.Unix(n, 0)
	default:
		return time.Time{}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<53 {
		return time.Time{}
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}
