// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"context"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

var _ runtime.KnownTokens = (*Authenticator)(nil)

// AuthenticateKnown serves token from the verified-token cache: the
// principal [Authenticator.Authenticate] returned for it, and true, when
// the byte-identical token was verified before and its entry may still be
// used on this call (not expired, its key still in a usable key set, a
// certificate binding held by this call's connection). Otherwise it
// returns false, and Authenticate decides. The enforcer calls it before it
// checks the token's syntax ([runtime.KnownTokens]): every token the cache
// holds is canonical base64url, which the full verification requires.
//
// It serves only when as, the authenticator the enforcer was given, is a
// itself: a type that embeds a to add checks to Authenticate gets this
// method promoted, and its calls go to its own Authenticate.
func (a *Authenticator) AuthenticateKnown(ctx context.Context, as runtime.TokenAuthenticator, token string) (*runtime.Principal, bool) {
	if as != runtime.TokenAuthenticator(a) || a.cache == nil || len(token) > a.cfg.maxTokenSize {
		return nil, false
	}
	e, _ := a.cache.get(token)
	if e == nil {
		return nil, false
	}
	p := a.hit(ctx, token, e)
	if p == nil {
		return nil, false
	}
	a.cache.hit()
	return p, true
}
