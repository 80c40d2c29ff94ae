// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// These tests configure jwtauth as a user does, without go-jose: keys of
// the standard library, JWKS documents as bytes, algorithms by name.

// newStatic returns an authenticator of iss with the static key options
// opts, or New's error.
func newStatic(iss *authtest.Issuer, opts ...jwtauth.IssuerOption) (*jwtauth.Authenticator, error) {
	return jwtauth.New(jwtauth.Issuer(iss.URL(), append([]jwtauth.IssuerOption{jwtauth.Audience(audience)}, opts...)...))
}

// wantOptionError checks that err wraps ErrInvalidOption and reads want.
func wantOptionError(t *testing.T, err error, want string) {
	t.Helper()
	if !errors.Is(err, jwtauth.ErrInvalidOption) {
		t.Fatalf("want an error wrapping ErrInvalidOption, got %v", err)
	}
	if err.Error() != want {
		t.Fatalf("error:\n got %q\nwant %q", err, want)
	}
}

// TestStaticKeyTypes: StaticKey takes each public key type of the
// standard library, for each algorithm it fits, and the key verifies the
// issuer's tokens; a token of another key of the issuer is refused.
func TestStaticKeyTypes(t *testing.T) {
	iss := newIssuer(t)
	all := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	for _, alg := range all {
		t.Run(alg, func(t *testing.T) {
			kid, err := iss.AddKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			pub := iss.PublicKey(kid)
			switch pub.(type) {
			case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			default:
				t.Fatalf("authtest gave a %T", pub)
			}
			a, err := newStatic(iss, jwtauth.StaticKey(kid, alg, pub), jwtauth.Algorithms(all...))
			if err != nil {
				t.Fatalf("StaticKey(%q, %q, %T): %v", kid, alg, pub, err)
			}
			p := mustAccept(t, a, iss.Mint(authtest.KeyID(kid)))
			if p.Subject != "alice" {
				t.Errorf("subject %q; want alice", p.Subject)
			}
			mustDeny(t, a, iss.Mint(authtest.KeyID("rs256-1")), runtime.ReasonTokenInvalidSignature)
		})
	}
	t.Run("several keys, and StaticJWKS beside them", func(t *testing.T) {
		other := authtest.NewIssuer(t, authtest.DefaultAudience(audience))
		a, err := newStatic(iss,
			jwtauth.StaticKey("es256-1", "ES256", iss.PublicKey("es256-1")),
			jwtauth.StaticKey("eddsa-1", "EdDSA", iss.PublicKey("eddsa-1")),
			jwtauth.StaticKey("es256-1", "ES256", iss.PublicKey("es256-1")), // the same key again: no error
			jwtauth.StaticJWKS(jwksWithout(t, other.JWKS(), "es256-1", "eddsa-1")),
		)
		if err != nil {
			t.Fatal(err)
		}
		mustAccept(t, a, iss.Mint(authtest.Algorithm("ES256")))
		mustAccept(t, a, iss.Mint(authtest.Algorithm("EdDSA")))
		// rs256-1 comes from the other issuer's document: its key, not iss's.
		mustDeny(t, a, iss.Mint(authtest.KeyID("rs256-1")), runtime.ReasonTokenInvalidSignature)
		mustAccept(t, a, other.Mint(authtest.IssuerClaim(iss.URL()), authtest.KeyID("rs256-1")))
		if n := iss.Fetches() + other.Fetches(); n != 0 {
			t.Errorf("want no JWKS fetch with static keys, got %d", n)
		}
	})
	t.Run("no kid", func(t *testing.T) {
		key := otherRSA()
		a, err := jwtauth.New(jwtauth.Issuer(staticIssuer, jwtauth.Audience(audience), jwtauth.StaticKey("", "RS256", &key.PublicKey)))
		if err != nil {
			t.Fatal(err)
		}
		mustAccept(t, a, joseSign(t, "RS256", key, "", claimsFor(staticIssuer, time.Now()), nil))
	})
}

// jwksWithout is the JWKS document jwks without the keys of kids.
func jwksWithout(t *testing.T, jwks []byte, kids ...string) []byte {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	set.Keys = slices.DeleteFunc(set.Keys, func(k map[string]any) bool { return slices.Contains(kids, k["kid"].(string)) })
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStaticKeyRefused: what StaticKey refuses, and the exact error.
func TestStaticKeyRefused(t *testing.T) {
	iss := newIssuer(t)
	rsaKey := otherRSA()
	ecKey := mustEC(t, elliptic.P256())
	p224 := mustEC(t, elliptic.P224())
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = `jwtauth: invalid option: Issuer "https://static.example": StaticKey: key "k": `
	for _, tc := range []struct {
		name string
		opts []jwtauth.IssuerOption
		want string
	}{
		{"nil key", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "RS256", nil)}, prefix + "nil key"},
		{"nil RSA key", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "RS256", (*rsa.PublicKey)(nil))}, prefix + "nil key"},
		{"nil ECDSA key", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "ES256", (*ecdsa.PublicKey)(nil))}, prefix + "nil key"},
		{"RSA private key", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "RS256", rsaKey)}, prefix + "*rsa.PrivateKey is a private key; give its public key"},
		{"ECDSA private key", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "ES256", ecKey)}, prefix + "*ecdsa.PrivateKey is a private key; give its public key"},
		{"Ed25519 private key", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "EdDSA", edKey)}, prefix + "ed25519.PrivateKey is a private key; give its public key"},
		{"X25519 private key", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "EdDSA", x25519)}, prefix + "*ecdh.PrivateKey is a private key; give its public key"},
		{"X25519 public key", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "EdDSA", x25519.PublicKey())}, prefix + "the key type *ecdh.PublicKey is not a public signature key this server verifies with"},
		{"a shared secret", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "HS256", []byte("a shared secret of 32 bytes!!!!!"))}, prefix + "the key type []uint8 is not a public signature key this server verifies with"},
		{"RSA key under 2048 bits", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "RS256", &weakRSA().PublicKey)}, prefix + "the RSA key of 1024 bits is under 2048"},
		{"P-224", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "ES256", &p224.PublicKey)}, prefix + "the EC key's curve is not P-256, P-384 or P-521"},
		{"short Ed25519 key", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "EdDSA", ed25519.PublicKey(make([]byte, 31)))}, prefix + "the Ed25519 key is 31 bytes, not 32"},
		{"empty alg", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "", &rsaKey.PublicKey)}, prefix + "empty alg"},
		{"HMAC alg", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "HS256", &rsaKey.PublicKey)}, prefix + `"HS256" is not an accepted asymmetric signature algorithm`},
		{"alg none", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "none", edKey.Public())}, prefix + `"none" is not an accepted asymmetric signature algorithm`},
		{"unknown alg", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "rs256", &rsaKey.PublicKey)}, prefix + `"rs256" is not an accepted asymmetric signature algorithm`},
		{"ECDSA alg on an RSA key", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "ES256", &rsaKey.PublicKey)}, prefix + `alg "ES256" does not fit an RSA key`},
		{"ES384 on P-256", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "ES384", &ecKey.PublicKey)}, prefix + `alg "ES384" does not fit an ECDSA P-256 key`},
		{"RSA alg on an Ed25519 key", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "RS256", edKey.Public())}, prefix + `alg "RS256" does not fit an Ed25519 key`},
		{"EdDSA on an ECDSA key", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "EdDSA", &ecKey.PublicKey)}, prefix + `alg "EdDSA" does not fit an ECDSA P-256 key`},
		{"alg not in Algorithms", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "PS256", &rsaKey.PublicKey)}, prefix + `the key's alg "PS256" is not one this server accepts`},
		{"alg not in Algorithms, given after", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "RS256", &rsaKey.PublicKey), jwtauth.Algorithms("ES256")}, prefix + `the key's alg "RS256" is not one this server accepts`},
		{"one kid, two keys", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "RS256", &rsaKey.PublicKey), jwtauth.StaticKey("k", "RS256", &attackerRSA().PublicKey)}, prefix + "the kid is already given to another key or alg"},
		{"one kid, two algs", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "RS256", &rsaKey.PublicKey), jwtauth.StaticKey("k", "PS256", &rsaKey.PublicKey), jwtauth.Algorithms("RS256", "PS256")}, prefix + "the kid is already given to another key or alg"},
		{"no kid, two keys", []jwtauth.IssuerOption{jwtauth.StaticKey("", "RS256", &rsaKey.PublicKey), jwtauth.StaticKey("", "ES256", &ecKey.PublicKey)}, `jwtauth: invalid option: Issuer "https://static.example": StaticKey: key "": the kid is already given to another key or alg`},
		{"one kid in StaticJWKS and StaticKey", []jwtauth.IssuerOption{jwtauth.StaticJWKS(iss.JWKS()), jwtauth.StaticKey("rs256-1", "RS256", &rsaKey.PublicKey)}, `jwtauth: invalid option: Issuer "https://static.example": StaticJWKS: key "rs256-1" (#0): the kid names more than one key; it is unusable`},
		{"StaticKey and JWKSURL", []jwtauth.IssuerOption{jwtauth.StaticKey("k", "RS256", &rsaKey.PublicKey), jwtauth.JWKSURL(iss.JWKSURL())}, `jwtauth: invalid option: Issuer "https://static.example": exactly one of JWKSURL, OIDCDiscovery, OAuthMetadata and static keys (StaticJWKS, StaticKey) is required`},
		{"no keys at all", nil, `jwtauth: invalid option: Issuer "https://static.example": exactly one of JWKSURL, OIDCDiscovery, OAuthMetadata and static keys (StaticJWKS, StaticKey) is required`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := jwtauth.New(jwtauth.Issuer(staticIssuer, append([]jwtauth.IssuerOption{jwtauth.Audience(audience)}, tc.opts...)...))
			if a != nil {
				t.Fatal("want no authenticator")
			}
			wantOptionError(t, err, tc.want)
		})
	}
}

// TestStaticJWKS: a JWKS document given as bytes goes through the key-set
// policy a fetched one does; a key the policy would skip is an error
// naming its kid and its place in the document.
func TestStaticJWKS(t *testing.T) {
	iss := newIssuer(t)
	t.Run("the issuer's document", func(t *testing.T) {
		a, err := newStatic(iss, jwtauth.StaticJWKS(iss.JWKS()))
		if err != nil {
			t.Fatal(err)
		}
		for _, alg := range jwtauth.DefaultAlgorithms {
			mustAccept(t, a, iss.Mint(authtest.Algorithm(alg)))
		}
		if n := iss.Fetches(); n != 0 {
			t.Errorf("want no JWKS fetch, got %d", n)
		}
	})

	k := newKeySetKeys(t)
	const prefix = `jwtauth: invalid option: Issuer "https://static.example": StaticJWKS: `
	for _, tc := range []struct {
		name string
		jwks []byte
		want string
	}{
		{"not JSON", []byte("keys"), prefix + "not a JWK set: invalid character 'k' looking for beginning of value"},
		{"keys not an array", []byte(`{"keys":{}}`), prefix + "not a JWK set: json: cannot unmarshal object into Go struct field .keys of type []json.RawMessage"},
		{"no keys", []byte(`{"keys":[]}`), prefix + "the set has no keys"},
		{"no keys member", []byte(`{}`), prefix + "the set has no keys"},
		{"a private key", jwksBody(t, k.goodJWK, privJWK(t, k.rsa, "k", "RS256")), prefix + `key "k" (#1): the key publishes private or symmetric key material; never trusted`},
		{"a symmetric key", jwksBody(t, map[string]any{"kty": "oct", "kid": "k", "k": b64(k.secret)}), prefix + `key "k" (#0): the key publishes private or symmetric key material; never trusted`},
		{"one kid, two keys", jwksBody(t, pubJWK(t, &k.rsa.PublicKey, "k", "RS256"), pubJWK(t, &k.rsa2.PublicKey, "k", "RS256")), prefix + `key "k" (#0): the kid names more than one key; it is unusable`},
		{"an encryption key", jwksBody(t, with(pubJWK(t, &k.rsa.PublicKey, "k", ""), "use", "enc")), prefix + `key "k" (#0): the key is not a signature key (use not sig, or key_ops without verify)`},
		{"alg not accepted", jwksBody(t, pubJWK(t, &k.rsa.PublicKey, "k", "PS256")), prefix + `key "k" (#0): the key's alg "PS256" is not one this server accepts`},
		{"RSA under 2048 bits", jwksBody(t, pubJWK(t, &k.weak.PublicKey, "k", "RS256")), prefix + `key "k" (#0): the RSA key of 1024 bits is under 2048`},
		{"two keys refused", jwksBody(t, pubJWK(t, &k.weak.PublicKey, "a", "RS256"), k.goodJWK, privJWK(t, k.ec, "b", "ES256")),
			prefix + `key "a" (#0): the RSA key of 1024 bits is under 2048` + "\n" + `StaticJWKS: key "b" (#2): the key publishes private or symmetric key material; never trusted`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := jwtauth.New(jwtauth.Issuer(staticIssuer, jwtauth.Audience(audience), jwtauth.StaticJWKS(tc.jwks)))
			if a != nil {
				t.Fatal("want no authenticator")
			}
			wantOptionError(t, err, tc.want)
			noKeyMaterial(t, err.Error(), k)
		})
	}
	t.Run("given twice", func(t *testing.T) {
		_, err := jwtauth.New(jwtauth.Issuer(staticIssuer, jwtauth.Audience(audience), jwtauth.StaticJWKS(iss.JWKS()), jwtauth.StaticJWKS(iss.JWKS())))
		wantOptionError(t, err, prefix+"given twice")
	})
	t.Run("a key without kid among others is kept, unused", func(t *testing.T) {
		// As in a fetched set: a note, not a refusal.
		a, err := jwtauth.New(
			jwtauth.Issuer(staticIssuer, jwtauth.Audience(audience), jwtauth.StaticJWKS(jwksBody(t, k.goodJWK, with(pubJWK(t, &k.rsa.PublicKey, "", "RS256"), "kid", nil)))),
		)
		if err != nil {
			t.Fatal(err)
		}
		mustAccept(t, a, joseSign(t, "ES256", k.good, "good", claimsFor(staticIssuer, time.Now()), nil))
		mustDeny(t, a, joseSign(t, "RS256", k.rsa, "", claimsFor(staticIssuer, time.Now()), nil), runtime.ReasonTokenInvalidSignature)
	})
}

// TestAlgorithmNames: Algorithms takes JOSE names, case-sensitively, and
// refuses unknown and symmetric ones, naming them.
func TestAlgorithmNames(t *testing.T) {
	iss := newIssuer(t)
	if want := []string{"RS256", "ES256", "EdDSA"}; !slices.Equal(jwtauth.DefaultAlgorithms, want) {
		t.Errorf("DefaultAlgorithms = %q; want %q", jwtauth.DefaultAlgorithms, want)
	}
	es := newAuth(t, iss, jwtauth.Algorithms("ES256"), jwtauth.Logger(nil))
	mustAccept(t, es, iss.Mint(authtest.Algorithm("ES256")))
	mustDeny(t, es, iss.Mint(authtest.Algorithm("RS256")), runtime.ReasonTokenInvalidSignature)

	prefix := fmt.Sprintf("jwtauth: invalid option: Issuer %q: Algorithms: ", iss.URL())
	for _, tc := range []struct {
		algs []string
		want string
	}{
		{nil, prefix + "none given"},
		{[]string{"HS256"}, prefix + `"HS256" is not an accepted asymmetric signature algorithm`},
		{[]string{"none"}, prefix + `"none" is not an accepted asymmetric signature algorithm`},
		{[]string{""}, prefix + `"" is not an accepted asymmetric signature algorithm`},
		{[]string{"rs256"}, prefix + `"rs256" is not an accepted asymmetric signature algorithm`},
		{[]string{"ES256K"}, prefix + `"ES256K" is not an accepted asymmetric signature algorithm`},
		{[]string{"RS256", "HS512", "Ed25519", "ES256"}, prefix + `"HS512", "Ed25519" are not accepted asymmetric signature algorithms`},
	} {
		_, err := newStatic(iss, jwtauth.JWKSURL(iss.JWKSURL()), jwtauth.Algorithms(tc.algs...))
		wantOptionError(t, err, tc.want)
	}
}
