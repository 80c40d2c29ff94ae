// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// staticKey is one key of a static set: a JWK of the document given to
// StaticJWKS, or one made from the key given to StaticKey.
type staticKey struct {
	raw   json.RawMessage
	index int              // position in the StaticJWKS document; -1 for StaticKey
	kid   string           // StaticKey only
	pub   crypto.PublicKey // StaticKey only
	alg   string           // StaticKey only
}

// where names the option a static key came from, for an error of New.
func (k staticKey) where(kid string) string {
	if k.index < 0 {
		return fmt.Sprintf("StaticKey: key %q", kid)
	}
	return fmt.Sprintf("StaticJWKS: key %q (#%d)", kid, k.index)
}

// StaticJWKS sets a fixed key set instead of a JWKS URL: jwks is a JWK Set
// document (RFC 7517 §5), as an issuer serves it at its JWKS URL. The
// key-set policy of the package doc applies as to a fetched set, but a key
// it would leave out — a private or symmetric key among them — is an error
// of [New] naming its kid rather than a key skipped. It may be given once,
// and combined with [StaticKey].
func StaticJWKS(jwks []byte) IssuerOption {
	return func(c *issuerConfig) error {
		if c.staticJWKS {
			return issuerErrorf("StaticJWKS: given twice")
		}
		raws, err := parseJWKS(jwks)
		if err != nil {
			return issuerErrorf("StaticJWKS: %w", err)
		}
		if len(raws) == 0 {
			return issuerErrorf("StaticJWKS: the set has no keys")
		}
		for i, raw := range raws {
			c.staticKeys = append(c.staticKeys, staticKey{raw: raw, index: i})
		}
		c.staticJWKS = true
		return nil
	}
}

// parseJWKS returns the members of the keys array of a JWK Set document.
func parseJWKS(body []byte) ([]json.RawMessage, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("not a JWK set: %w", err)
	}
	return set.Keys, nil
}

// StaticKey adds a fixed key instead of a JWKS URL: a token whose kid is
// kid and whose alg is alg is verified with key. key is a public key of
// the standard library: an *rsa.PublicKey of at least 2048 bits, an
// *ecdsa.PublicKey on P-256, P-384 or P-521, or an ed25519.PublicKey. alg
// is its JOSE name, one of those [Algorithms] takes, and must fit the key
// (RS* and PS* an RSA key; ES256 P-256, ES384 P-384, ES512 P-521; EdDSA
// Ed25519) and be accepted by Algorithms. kid may be empty only for the
// one key of a set, which then verifies tokens without a kid.
//
// StaticKey may be given once per key and combined with [StaticJWKS]; the
// key is put through the same key-set policy as the keys of a JWKS. A
// private key, another key type, a key that does not fit alg, and a kid
// given twice with different keys are errors of [New].
func StaticKey(kid, alg string, key crypto.PublicKey) IssuerOption {
	return func(c *issuerConfig) error {
		jwk, err := checkStaticKey(kid, alg, key)
		if err != nil {
			return issuerErrorf("StaticKey: key %q: %w", kid, err)
		}
		for _, k := range c.staticKeys {
			if k.index >= 0 || k.kid != kid {
				continue
			}
			pk, ok := k.pub.(interface{ Equal(crypto.PublicKey) bool })
			if ok && pk.Equal(key) && k.alg == alg {
				return nil // the same key again
			}
			return issuerErrorf("StaticKey: key %q: the kid is already given to another key or alg", kid)
		}
		raw, err := jwk.MarshalJSON()
		if err != nil {
			return issuerErrorf("StaticKey: key %q: %w", kid, err)
		}
		c.staticKeys = append(c.staticKeys, staticKey{raw: raw, index: -1, kid: kid, pub: key, alg: alg})
		return nil
	}
}

// checkStaticKey returns the JWK of a key given to StaticKey, or why it
// cannot be one.
func checkStaticKey(kid, alg string, key crypto.PublicKey) (*jose.JSONWebKey, error) {
	switch k := key.(type) {
	case nil:
		return nil, errors.New("nil key")
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return nil, errors.New("nil key")
		}
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return nil, errors.New("nil key")
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("the Ed25519 key is %d bytes, not %d", len(k), ed25519.PublicKeySize)
		}
	case interface{ Public() crypto.PublicKey }:
		return nil, fmt.Errorf("%T is a private key; give its public key", key)
	}
	jwk := &jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg}
	if err := usableKey(jwk); err != nil {
		return nil, err
	}
	switch {
	case alg == "":
		return nil, errors.New("empty alg")
	case !asymmetric[jose.SignatureAlgorithm(alg)]:
		return nil, fmt.Errorf("%q is not an accepted asymmetric signature algorithm", alg)
	case !keyFitsAlg(jwk, alg):
		return nil, fmt.Errorf("alg %q does not fit %s", alg, describeKey(key))
	}
	return jwk, nil
}

// describeKey names the type of a usable key, and its curve.
func describeKey(key crypto.PublicKey) string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return "an RSA key"
	case *ecdsa.PublicKey:
		return "an ECDSA " + k.Curve.Params().Name + " key"
	case ed25519.PublicKey:
		return "an Ed25519 key"
	}
	return fmt.Sprintf("a %T key", key)
}

// staticKeyMap applies the key-set policy to the static keys; a key it
// would leave out is a configuration error.
func staticKeyMap(cfg *issuerConfig) (*keyMap, error) {
	raws := make([]json.RawMessage, len(cfg.staticKeys))
	for i, k := range cfg.staticKeys {
		raws[i] = k.raw
	}
	km, skipped, _ := buildKeyMap(raws, cfg.algorithms)
	var errs []error
	for _, s := range skipped {
		if !s.note {
			errs = append(errs, fmt.Errorf("%s: %s", cfg.staticKeys[s.index].where(s.kid), s.why))
		}
	}
	if len(errs) > 0 {
		return nil, errorf("Issuer %q: %w", cfg.issuer, errors.Join(errs...))
	}
	if len(km.byKID)+len(km.noKID) == 0 {
		return nil, errorf("Issuer %q: no static keys", cfg.issuer)
	}
	return km, nil
}
