// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package authtest

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TokenOption shapes a minted token.
type TokenOption func(*tokenSpec)

type tokenSpec struct {
	kid    string
	alg    jose.SignatureAlgorithm
	typ    string
	claims map[string]any
	header map[jose.HeaderKey]any
}

// DefaultType is the typ header of minted tokens unless [Type] says
// otherwise: RFC 9068's JWT access token.
const DefaultType = "at+jwt"

// Subject sets sub (default "alice").
func Subject(sub string) TokenOption { return Claim("sub", sub) }

// Scopes sets the space-separated scope claim.
func Scopes(scopes ...string) TokenOption { return Claim("scope", strings.Join(scopes, " ")) }

// Audience sets aud: one value as a string, several as an array.
func Audience(aud ...string) TokenOption {
	if len(aud) == 1 {
		return Claim("aud", aud[0])
	}
	return Claim("aud", aud)
}

// ExpiresIn sets exp to the issuer's now plus d (default 5 minutes); a
// negative d makes an expired token.
func ExpiresIn(d time.Duration) TokenOption {
	return func(s *tokenSpec) { s.claims["exp"] = d }
}

// IssuedAt sets iat.
func IssuedAt(t time.Time) TokenOption { return Claim("iat", t.Unix()) }

// NotBefore sets nbf.
func NotBefore(t time.Time) TokenOption { return Claim("nbf", t.Unix()) }

// IssuerClaim overrides iss.
func IssuerClaim(iss string) TokenOption { return Claim("iss", iss) }

// Claim sets any claim; a nil value removes it.
func Claim(name string, value any) TokenOption {
	return func(s *tokenSpec) {
		if value == nil {
			delete(s.claims, name)
			return
		}
		s.claims[name] = value
	}
}

// Without removes claims, such as "exp" or "sub".
func Without(names ...string) TokenOption {
	return func(s *tokenSpec) {
		for _, n := range names {
			delete(s.claims, n)
		}
	}
}

// KeyID signs with the key kid and names it in the header.
func KeyID(kid string) TokenOption { return func(s *tokenSpec) { s.kid = kid } }

// Algorithm signs with the issuer's first key of alg, a JOSE name such as
// "ES256" (default "RS256").
func Algorithm(alg string) TokenOption {
	return func(s *tokenSpec) { s.alg = jose.SignatureAlgorithm(alg) }
}

// Type sets the typ header (default [DefaultType]); "" leaves it out, as
// an OIDC ID token or a plain JWT of some issuers would.
func Type(typ string) TokenOption { return func(s *tokenSpec) { s.typ = typ } }

// Header sets an extra protected header, such as "jku".
func Header(name string, value any) TokenOption {
	return func(s *tokenSpec) { s.header[jose.HeaderKey(name)] = value }
}

// Mint returns a signed token. By default: typ "at+jwt", iss the
// issuer's URL, sub "alice", aud the default audience, iat now, exp in 5
// minutes, RS256 with key "rs256-1". It panics when asked to sign with a key it does not have:
// that is a mistake in the test.
func (i *Issuer) Mint(opts ...TokenOption) string {
	tok, err := i.Token(opts...)
	if err != nil {
		panic(err)
	}
	return tok
}

// Token is Mint returning an error instead of panicking.
func (i *Issuer) Token(opts ...TokenOption) (string, error) {
	now := i.now()
	s := &tokenSpec{
		alg: jose.RS256,
		typ: DefaultType,
		claims: map[string]any{
			"iss": i.URL(),
			"sub": "alice",
			"aud": i.audience,
			"iat": now.Unix(),
			"exp": 5 * time.Minute,
		},
		header: map[jose.HeaderKey]any{},
	}
	for _, o := range opts {
		o(s)
	}
	if d, ok := s.claims["exp"].(time.Duration); ok {
		s.claims["exp"] = now.Add(d).Unix()
	}
	i.mu.Lock()
	var key *signingKey
	if s.kid != "" {
		key = i.keys[s.kid]
	} else {
		for _, kid := range i.order {
			if i.keys[kid].alg == s.alg {
				key = i.keys[kid]
				break
			}
		}
	}
	i.mu.Unlock()
	if key == nil {
		return "", fmt.Errorf("authtest: no key for kid %q / alg %q", s.kid, string(s.alg))
	}
	so := &jose.SignerOptions{}
	if s.typ != "" {
		so = so.WithType(jose.ContentType(s.typ))
	}
	for k, v := range s.header {
		so = so.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: key.alg, Key: jose.JSONWebKey{Key: key.signer, KeyID: key.kid}}, so)
	if err != nil {
		return "", fmt.Errorf("authtest: %w", err)
	}
	return jwt.Signed(signer).Claims(s.claims).Serialize()
}
