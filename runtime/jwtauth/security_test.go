// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// ---------------------------------------------------------------------------
// Shared helpers.

const (
	audience     = "library"
	staticIssuer = "https://static.example"
	b64Alphabet  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

// clock is a settable time source shared by an issuer and an authenticator.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newIssuer(t *testing.T, opts ...authtest.IssuerOption) *authtest.Issuer {
	t.Helper()
	return authtest.NewIssuer(t, append([]authtest.IssuerOption{authtest.DefaultAudience(audience)}, opts...)...)
}

// newAuth returns an authenticator for iss; opts come last and so override
// the defaults.
func newAuth(t *testing.T, iss *authtest.Issuer, opts ...any) *jwtauth.Authenticator {
	t.Helper()
	auth, issuer := splitOpts(t, opts)
	base := []jwtauth.Option{
		jwtauth.HTTPClient(iss.HTTPClient()),
		jwtauth.Issuer(iss.URL(), append([]jwtauth.IssuerOption{jwtauth.JWKSURL(iss.JWKSURL()), jwtauth.Audience(audience)}, issuer...)...),
	}
	a, err := jwtauth.New(append(base, auth...)...)
	if err != nil {
		t.Fatalf("jwtauth.New: want no error, got %v", err)
	}
	return a
}

// newStaticAuth returns an authenticator of staticIssuer that trusts keys.
func newStaticAuth(t *testing.T, keys []jose.JSONWebKey, opts ...any) *jwtauth.Authenticator {
	t.Helper()
	auth, issuer := splitOpts(t, opts)
	base := []jwtauth.Option{
		jwtauth.Issuer(staticIssuer, append([]jwtauth.IssuerOption{jwtauth.StaticJWKS(jwksOf(t, keys...)), jwtauth.Audience(audience)}, issuer...)...),
	}
	a, err := jwtauth.New(append(base, auth...)...)
	if err != nil {
		t.Fatalf("jwtauth.New: want no error, got %v", err)
	}
	return a
}

// splitOpts sorts a test's options into the authenticator's and those of
// its one issuer.
func splitOpts(t testing.TB, opts []any) ([]jwtauth.Option, []jwtauth.IssuerOption) {
	t.Helper()
	var auth []jwtauth.Option
	var issuer []jwtauth.IssuerOption
	for _, o := range opts {
		switch o := o.(type) {
		case jwtauth.Option:
			auth = append(auth, o)
		case jwtauth.IssuerOption:
			issuer = append(issuer, o)
		case []jwtauth.Option:
			auth = append(auth, o...)
		case []jwtauth.IssuerOption:
			issuer = append(issuer, o...)
		default:
			t.Fatalf("not an option: %T", o)
		}
	}
	return auth, issuer
}

// jwksOf is the JWK Set document of keys.
func jwksOf(t *testing.T, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatalf("marshalling a JWK set: %v", err)
	}
	return b
}

// claimsFor returns the claims of a token issuer would have issued at now.
func claimsFor(issuer string, now time.Time) map[string]any {
	return map[string]any{
		"iss": issuer,
		"sub": "alice",
		"aud": audience,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// reasonOf returns the reason of the denial err, failing the test when err
// is nil or not a denial.
func reasonOf(t *testing.T, err error) runtime.Reason {
	t.Helper()
	if err == nil {
		t.Fatal("want a denial, got no error")
	}
	e, ok := runtime.FromError(err)
	if !ok {
		t.Fatalf("want a *runtime.Error, got %T: %v", err, err)
	}
	return e.Reason
}

func mustAccept(t *testing.T, a *jwtauth.Authenticator, token string) *runtime.Principal {
	t.Helper()
	p, err := a.Authenticate(t.Context(), token)
	if err != nil {
		t.Fatalf("want the token accepted, got %v", err)
	}
	if p == nil {
		t.Fatal("want a principal for an accepted token, got nil")
	}
	return p
}

// mustDeny asserts that token is refused with reason want and no principal.
func mustDeny(t *testing.T, a *jwtauth.Authenticator, token string, want runtime.Reason) {
	t.Helper()
	p, err := a.Authenticate(t.Context(), token)
	if p != nil {
		t.Fatalf("want no principal for a refused token, got %+v", p)
	}
	if got := reasonOf(t, err); got != want {
		t.Fatalf("want reason %s, got %s (%v)", want, got, err)
	}
}

// mustDeny16 asserts that token is refused with UNAUTHENTICATED and no
// principal, whatever the reason, and returns the reason.
func mustDeny16(t *testing.T, a *jwtauth.Authenticator, token string) runtime.Reason {
	t.Helper()
	r, err := deny16(t, a, token)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// deny16 is mustDeny16 reporting instead of failing, for loops over many
// tokens.
func deny16(t *testing.T, a *jwtauth.Authenticator, token string) (runtime.Reason, error) {
	p, err := a.Authenticate(t.Context(), token)
	if err == nil {
		return "", errors.New("want the token refused, got it accepted")
	}
	if p != nil {
		return "", errors.New("want no principal for a refused token, got one")
	}
	e, ok := runtime.FromError(err)
	if !ok {
		return "", errors.New("want a *runtime.Error, got " + err.Error())
	}
	if e.Code != codes.Unauthenticated {
		return e.Reason, errors.New("want code Unauthenticated (16), got " + e.Code.String() + " " + string(e.Reason))
	}
	return e.Reason, nil
}

func wantFetches(t *testing.T, iss *authtest.Issuer, a *jwtauth.Authenticator, want int64) {
	t.Helper()
	if got := iss.Fetches(); got != want {
		t.Fatalf("want %d JWKS fetches at the issuer, got %d", want, got)
	}
	if got := a.Fetches(); got != want {
		t.Fatalf("want %d JWKS fetches by the authenticator, got %d", want, got)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b64(b)
}

// handSign builds a compact JWS by hand: sign gets the signing input. The
// header gets typ "at+jwt" unless it has a typ member (nil for JSON null).
func handSign(t *testing.T, header map[string]any, claims any, sign func(input []byte) []byte) string {
	t.Helper()
	if _, ok := header["typ"]; !ok {
		header["typ"] = "at+jwt"
	}
	input := b64JSON(t, header) + "." + b64JSON(t, claims)
	return input + "." + b64(sign([]byte(input)))
}

func digest(h crypto.Hash, in []byte) []byte {
	d := h.New()
	d.Write(in)
	return d.Sum(nil)
}

func signPKCS1(t *testing.T, key *rsa.PrivateKey, h crypto.Hash) func([]byte) []byte {
	return func(in []byte) []byte {
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, digest(h, in))
		if err != nil {
			t.Fatalf("rsa.SignPKCS1v15: %v", err)
		}
		return sig
	}
}

func signPSS(t *testing.T, key *rsa.PrivateKey, h crypto.Hash, saltLen int) func([]byte) []byte {
	return func(in []byte) []byte {
		sig, err := rsa.SignPSS(rand.Reader, key, h, digest(h, in), &rsa.PSSOptions{SaltLength: saltLen})
		if err != nil {
			t.Fatalf("rsa.SignPSS: %v", err)
		}
		return sig
	}
}

// signP1363 signs with ECDSA in the JWS form r‖s, each as long as the
// key's curve, whatever hash h is.
func signP1363(t *testing.T, key *ecdsa.PrivateKey, h crypto.Hash) func([]byte) []byte {
	return func(in []byte) []byte {
		r, s, err := ecdsa.Sign(rand.Reader, key, digest(h, in))
		if err != nil {
			t.Fatalf("ecdsa.Sign: %v", err)
		}
		size := (key.Curve.Params().BitSize + 7) / 8
		sig := make([]byte, 2*size)
		r.FillBytes(sig[:size])
		s.FillBytes(sig[size:])
		return sig
	}
}

func signDER(t *testing.T, key *ecdsa.PrivateKey, h crypto.Hash) func([]byte) []byte {
	return func(in []byte) []byte {
		sig, err := ecdsa.SignASN1(rand.Reader, key, digest(h, in))
		if err != nil {
			t.Fatalf("ecdsa.SignASN1: %v", err)
		}
		return sig
	}
}

// joseSign signs claims with go-jose as an attacker holding key would.
func joseSign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims any, so *jose.SignerOptions) string {
	t.Helper()
	if so == nil {
		so = &jose.SignerOptions{}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, so.WithType("at+jwt"))
	if err != nil {
		t.Fatalf("jose.NewSigner(%s): %v", alg, err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("signing a token: %v", err)
	}
	return tok
}

// signHMAC signs with secret as the HMAC key: with go-jose when it accepts
// the key, by hand when the key is shorter than the hash (go-jose refuses).
func signHMAC(t *testing.T, alg jose.SignatureAlgorithm, secret []byte, kid string, claims any) string {
	t.Helper()
	h := map[jose.SignatureAlgorithm]crypto.Hash{jose.HS256: crypto.SHA256, jose.HS384: crypto.SHA384, jose.HS512: crypto.SHA512}[alg]
	if len(secret) >= h.Size() {
		return joseSign(t, alg, secret, kid, claims, nil)
	}
	return handSign(t, map[string]any{"alg": string(alg), "kid": kid, "typ": "at+jwt"}, claims, func(in []byte) []byte {
		m := hmac.New(h.New, secret)
		m.Write(in)
		return m.Sum(nil)
	})
}

// Keys generated once for the whole package: RSA key generation is slow.
var (
	attackerRSA = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	otherRSA    = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
)

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatalf("ecdsa.GenerateKey: %v", err)
	}
	return k
}

// settle waits for any JWKS refresh a has running: a token with an unknown
// kid (and otherwise valid claims) joins the running fetch, if any, and
// starts none while the rate limit holds.
func settle(t *testing.T, a *jwtauth.Authenticator, unknownKID string) {
	t.Helper()
	mustDeny(t, a, unknownKID, runtime.ReasonTokenInvalidSignature)
}

// unknownKIDToken is a token of iss, valid at now, naming a kid iss never
// published, signed by an attacker.
func unknownKIDToken(t *testing.T, iss *authtest.Issuer, now time.Time, kid string) string {
	t.Helper()
	return joseSign(t, jose.RS256, attackerRSA(), kid, claimsFor(iss.URL(), now), nil)
}

// waitGoroutines polls, for up to 2s, until at most baseline+2 goroutines
// run.
func waitGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := goruntime.NumGoroutine()
		if n <= baseline+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:goruntime.Stack(buf, true)]
			t.Fatalf("want at most %d goroutines once the authenticator is unused, got %d:\n%s", baseline+2, n, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// JWT.

func TestSecurity01_AlgNone(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss)
	real := iss.Mint()
	realSig := real[strings.LastIndexByte(real, '.')+1:]
	payload := b64JSON(t, claimsFor(iss.URL(), time.Now()))

	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		for _, kid := range []string{"", "rs256-1"} {
			hdr := map[string]any{"alg": alg, "typ": "at+jwt"}
			if kid != "" {
				hdr["kid"] = kid
			}
			h := b64JSON(t, hdr)
			for name, tok := range map[string]string{
				"no signature":        h + "." + payload + ".",
				"a real signature":    h + "." + payload + "." + realSig,
				"a made-up signature": h + "." + payload + "." + b64([]byte("signature")),
			} {
				t.Run(alg+"/kid="+kid+"/"+name, func(t *testing.T) {
					switch r := mustDeny16(t, a, tok); r {
					case runtime.ReasonCredentialsMalformed, runtime.ReasonTokenInvalidSignature:
					default:
						t.Fatalf("want CREDENTIALS_MALFORMED or TOKEN_INVALID_SIGNATURE, got %s", r)
					}
				})
			}
		}
	}
	wantFetches(t, iss, a, 0)
}

func TestSecurity02_HS256WithPublicKeyAsSecret(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss)
	all := newAuth(t, iss, jwtauth.Algorithms("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"))
	claims := claimsFor(iss.URL(), time.Now())

	secrets := map[string][]byte{}
	for _, kid := range []string{"rs256-1", "es256-1", "eddsa-1"} {
		pub := iss.PublicKey(kid)
		pkix, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatalf("x509.MarshalPKIXPublicKey: %v", err)
		}
		secrets[kid+"/PKIX DER"] = pkix
		secrets[kid+"/PKIX PEM"] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
		jwk, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: kid, Use: "sig"})
		if err != nil {
			t.Fatalf("marshalling the JWK: %v", err)
		}
		secrets[kid+"/JWK JSON"] = jwk
		if rsaPub, ok := pub.(*rsa.PublicKey); ok {
			pkcs1 := x509.MarshalPKCS1PublicKey(rsaPub)
			secrets[kid+"/PKCS1 DER"] = pkcs1
			secrets[kid+"/PKCS1 PEM"] = pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1})
			secrets[kid+"/modulus"] = rsaPub.N.Bytes()
		}
	}
	for name, secret := range secrets {
		kid := name[:strings.IndexByte(name, '/')]
		for _, alg := range []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512} {
			t.Run(name+"/"+string(alg), func(t *testing.T) {
				tok := signHMAC(t, alg, secret, kid, claims)
				mustDeny(t, a, tok, runtime.ReasonTokenInvalidSignature)
				mustDeny(t, all, tok, runtime.ReasonTokenInvalidSignature)
			})
		}
	}
	wantFetches(t, iss, a, 0)
	wantFetches(t, iss, all, 0)

	t.Run("HMAC cannot be configured", func(t *testing.T) {
		for _, alg := range []string{"HS256", "none", ""} {
			_, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience(audience), jwtauth.JWKSURL(iss.JWKSURL()), jwtauth.Algorithms(alg)))
			if !errors.Is(err, jwtauth.ErrInvalidOption) {
				t.Fatalf("Algorithms(%q): want an error wrapping ErrInvalidOption, got %v", alg, err)
			}
		}
	})
	t.Run("a symmetric static key is refused", func(t *testing.T) {
		set := jwksOf(t, jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Algorithm: "HS256"})
		_, err := jwtauth.New(jwtauth.Issuer(staticIssuer, jwtauth.Audience(audience), jwtauth.StaticJWKS(set)))
		if !errors.Is(err, jwtauth.ErrInvalidOption) {
			t.Fatalf("want an error wrapping ErrInvalidOption for an oct key, got %v", err)
		}
	})
}

func TestSecurity03_AlgNotAllowedOrNotTheKeys(t *testing.T) {
	t.Run("outside the allow-list", func(t *testing.T) {
		iss := newIssuer(t)
		for _, alg := range []string{"RS384", "ES384", "PS256"} {
			if _, err := iss.AddKey(alg); err != nil {
				t.Fatalf("AddKey(%s): %v", alg, err)
			}
		}
		a := newAuth(t, iss) // RS256, ES256, EdDSA
		for _, alg := range []string{"RS384", "ES384", "PS256"} {
			mustDeny(t, a, iss.Mint(authtest.Algorithm(alg)), runtime.ReasonTokenInvalidSignature)
		}
		hs := joseSign(t, jose.HS256, []byte("a secret of thirty-two bytes!!!!"), "rs256-1", claimsFor(iss.URL(), time.Now()), nil)
		mustDeny(t, a, hs, runtime.ReasonTokenInvalidSignature)

		rsOnly := newAuth(t, iss, jwtauth.Algorithms("RS256"))
		mustDeny(t, rsOnly, iss.Mint(authtest.Algorithm("ES256")), runtime.ReasonTokenInvalidSignature)
		mustDeny(t, rsOnly, iss.Mint(authtest.Algorithm("EdDSA")), runtime.ReasonTokenInvalidSignature)

		if n := iss.Fetches(); n != 0 {
			t.Fatalf("want no JWKS fetch for disallowed algorithms, got %d", n)
		}
	})

	claims := func() map[string]any { return claimsFor(staticIssuer, time.Now()) }

	t.Run("JWK alg RS384, token RS256", func(t *testing.T) {
		key := otherRSA()
		tok := handSign(t, map[string]any{"alg": "RS256", "kid": "k"}, claims(), signPKCS1(t, key, crypto.SHA256))
		both := jwtauth.Algorithms("RS256", "RS384") // a key whose alg is not accepted is refused by New
		a := newStaticAuth(t, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "RS384", Use: "sig"}}, both)
		mustDeny(t, a, tok, runtime.ReasonTokenInvalidSignature)
		// The same token verifies when the key says RS256: only alg differs.
		ok := newStaticAuth(t, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "RS256", Use: "sig"}}, both)
		mustAccept(t, ok, tok)
	})
	t.Run("JWK alg RS256, token PS256", func(t *testing.T) {
		key := otherRSA()
		tok := handSign(t, map[string]any{"alg": "PS256", "kid": "k"}, claims(), signPSS(t, key, crypto.SHA256, rsa.PSSSaltLengthEqualsHash))
		a := newStaticAuth(t, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "RS256"}}, jwtauth.Algorithms("RS256", "PS256"))
		mustDeny(t, a, tok, runtime.ReasonTokenInvalidSignature)
	})
	t.Run("ES256 token, P-384 key", func(t *testing.T) {
		key := mustEC(t, elliptic.P384())
		tok := handSign(t, map[string]any{"alg": "ES256", "kid": "k"}, claims(), signP1363(t, key, crypto.SHA256))
		a := newStaticAuth(t, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k"}})
		mustDeny(t, a, tok, runtime.ReasonTokenInvalidSignature)
	})
	t.Run("ES256 token, JWK alg ES384", func(t *testing.T) {
		key := mustEC(t, elliptic.P384())
		tok := handSign(t, map[string]any{"alg": "ES256", "kid": "k"}, claims(), signP1363(t, key, crypto.SHA256))
		a := newStaticAuth(t, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "ES384"}}, jwtauth.Algorithms("ES256", "ES384"))
		mustDeny(t, a, tok, runtime.ReasonTokenInvalidSignature)
		// A P-256 key that says ES384 is not a key at all (TestKeySetPolicy).
		p256 := mustEC(t, elliptic.P256())
		_, err := jwtauth.New(
			jwtauth.Issuer(staticIssuer, jwtauth.Audience(audience), jwtauth.Algorithms("ES256", "ES384"), jwtauth.StaticJWKS(jwksOf(t, jose.JSONWebKey{Key: &p256.PublicKey, KeyID: "k", Algorithm: "ES384"}))),
		)
		if !errors.Is(err, jwtauth.ErrInvalidOption) {
			t.Fatalf("want a P-256 key with alg ES384 refused with ErrInvalidOption, got %v", err)
		}
	})
	t.Run("EdDSA token, RSA key", func(t *testing.T) {
		key := otherRSA()
		tok := handSign(t, map[string]any{"alg": "EdDSA", "kid": "k"}, claims(), signPKCS1(t, key, crypto.SHA256))
		a := newStaticAuth(t, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k"}})
		mustDeny(t, a, tok, runtime.ReasonTokenInvalidSignature)
	})
	t.Run("RS256 token, Ed25519 key", func(t *testing.T) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tok := handSign(t, map[string]any{"alg": "RS256", "kid": "k"}, claims(), func(in []byte) []byte { return ed25519.Sign(priv, in) })
		a := newStaticAuth(t, []jose.JSONWebKey{{Key: pub, KeyID: "k"}})
		mustDeny(t, a, tok, runtime.ReasonTokenInvalidSignature)
	})
	t.Run("issuer key of another family", func(t *testing.T) {
		// The kid names the issuer's EC key; the header says RS256.
		iss := newIssuer(t)
		a := newAuth(t, iss)
		tok := handSign(t, map[string]any{"alg": "RS256", "kid": "es256-1"}, claimsFor(iss.URL(), time.Now()), signPKCS1(t, attackerRSA(), crypto.SHA256))
		mustDeny(t, a, tok, runtime.ReasonTokenInvalidSignature)
	})
}

func TestSecurity04_EmbeddedKeyHeadersIgnored(t *testing.T) {
	var hits atomic.Int64
	attacker := attackerRSA()
	attackerSet, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &attacker.PublicKey, KeyID: "attacker-1", Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	evil := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(attackerSet)
	}))
	defer evil.Close()

	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &attacker.PublicKey, attacker)
	if err != nil {
		t.Fatal(err)
	}
	attackerJWK := jose.JSONWebKey{Key: &attacker.PublicKey, KeyID: "rs256-1", Algorithm: "RS256", Use: "sig"}

	iss := newIssuer(t)
	// The evil server's certificate is trusted too: if a header were followed,
	// the fetch would succeed.
	a := newAuth(t, iss, jwtauth.HTTPClient(evil.Client()))
	claims := claimsFor(iss.URL(), time.Now())

	cases := []struct {
		name, kid string
		so        *jose.SignerOptions
	}{
		{"jwk, no kid", "", &jose.SignerOptions{EmbedJWK: true}},
		{"jwk with the issuer's kid", "rs256-1", (&jose.SignerOptions{}).WithHeader("jwk", attackerJWK)},
		{"jku, attacker kid", "attacker-1", (&jose.SignerOptions{}).WithHeader("jku", evil.URL+"/jwks.json")},
		{"jku, issuer kid", "rs256-1", (&jose.SignerOptions{}).WithHeader("jku", evil.URL+"/jwks.json")},
		{"x5u, attacker kid", "attacker-1", (&jose.SignerOptions{}).WithHeader("x5u", evil.URL+"/cert.pem")},
		{"x5c, attacker kid", "attacker-1", (&jose.SignerOptions{}).WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(certDER)})},
		{"x5c, issuer kid", "rs256-1", (&jose.SignerOptions{}).WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(certDER)})},
		{"all at once", "attacker-1", (&jose.SignerOptions{EmbedJWK: true}).WithHeader("jku", evil.URL+"/jwks.json").WithHeader("x5u", evil.URL+"/x").WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(certDER)})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := joseSign(t, jose.RS256, attacker, c.kid, claims, c.so)
			mustDeny(t, a, tok, runtime.ReasonTokenInvalidSignature)
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("want no request to the URLs the headers name, got %d", n)
	}
	if n := iss.Fetches(); n > 2 {
		t.Fatalf("want at most two fetches of the configured JWKS, got %d", n)
	}
}

func TestSecurity05_Structure(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss)
	big := newAuth(t, iss, jwtauth.MaxTokenSize(1<<20)) // past the size cap, to reach the shape check
	real := iss.Mint()
	tokens := map[string]string{
		"empty":                 "",
		"one segment":           "abc",
		"two segments":          "abc.def",
		"four segments":         "a.b.c.d",
		"five segments":         "a.b.c.d.e",
		"dot":                   ".",
		"two dots":              "..",
		"four dots":             "....",
		"real token plus part":  real + ".e30",
		"real token plus dot":   real + ".",
		"real token minus part": real[:strings.LastIndexByte(real, '.')],
		"5,000 dots":            strings.Repeat(".", 5000),
		"3,000 parts":           strings.Repeat("e30.", 3000),
		"100,000 dots":          strings.Repeat(".", 100_000),
	}
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			mustDeny(t, a, tok, runtime.ReasonCredentialsMalformed)
			mustDeny(t, big, tok, runtime.ReasonCredentialsMalformed)
		})
	}
	t.Run("300,000 chars in 100,000 parts", func(t *testing.T) {
		mustDeny(t, big, strings.Repeat("ab.", 100_000), runtime.ReasonCredentialsMalformed)
	})
	wantFetches(t, iss, a, 0)
	wantFetches(t, iss, big, 0)
}

func TestSecurity06_SizeCap(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss)
	pad := func(n int) string { return iss.Mint(authtest.Claim("pad", strings.Repeat("x", n))) }

	// The largest token at the cap is accepted; one more byte of claims is not.
	n := (jwtauth.DefaultMaxTokenSize-len(pad(0)))*3/4 - 8
	for len(pad(n+1)) <= jwtauth.DefaultMaxTokenSize {
		n++
	}
	atCap, over := pad(n), pad(n+1)
	if len(atCap) > jwtauth.DefaultMaxTokenSize || len(over) <= jwtauth.DefaultMaxTokenSize {
		t.Fatalf("test setup: want tokens around the cap, got %d and %d bytes", len(atCap), len(over))
	}
	mustDeny(t, a, over, runtime.ReasonCredentialsMalformed)
	mustDeny(t, a, pad(100_000), runtime.ReasonCredentialsMalformed)
	mustDeny(t, a, strings.Repeat("A", jwtauth.DefaultMaxTokenSize+1), runtime.ReasonCredentialsMalformed)
	wantFetches(t, iss, a, 0)
	mustAccept(t, a, atCap)

	small := newAuth(t, iss, jwtauth.MaxTokenSize(512))
	mustDeny(t, small, iss.Mint(), runtime.ReasonCredentialsMalformed) // an RS256 token is over 512 bytes
}

func TestSecurity08_MalformedHeader(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss)
	payload := b64JSON(t, claimsFor(iss.URL(), time.Now()))
	sig := b64([]byte("junk-signature"))
	withHeader := func(h string) string { return b64([]byte(h)) + "." + payload + "." + sig }

	malformed := map[string]string{
		"header not JSON":        withHeader("not json"),
		"header JSON array":      withHeader(`["RS256"]`),
		"header JSON string":     withHeader(`"RS256"`),
		"header null":            withHeader(`null`),
		"header empty":           withHeader(``),
		"header truncated":       withHeader(`{"alg":"RS256","kid":"rs256-1"`),
		"alg missing":            withHeader(`{"kid":"rs256-1"}`),
		"alg empty":              withHeader(`{"alg":"","kid":"rs256-1"}`),
		"alg null":               withHeader(`{"alg":null,"kid":"rs256-1"}`),
		"alg number":             withHeader(`{"alg":256,"kid":"rs256-1"}`),
		"alg array":              withHeader(`{"alg":["RS256"],"kid":"rs256-1"}`),
		"alg object":             withHeader(`{"alg":{"RS256":true},"kid":"rs256-1"}`),
		"alg unknown":            withHeader(`{"alg":"XS256","kid":"rs256-1"}`),
		"kid number":             withHeader(`{"alg":"RS256","kid":5}`),
		"kid array":              withHeader(`{"alg":"RS256","kid":["rs256-1"]}`),
		"kid object":             withHeader(`{"alg":"RS256","kid":{"id":"rs256-1"}}`),
		"header base64 std":      "eyJhbGciOiJSUzI1NiJ9+/." + payload + "." + sig,
		"header not base64":      "!!!." + payload + "." + sig,
		"payload not JSON":       b64([]byte(`{"alg":"RS256","kid":"rs256-1"}`)) + "." + b64([]byte("not json")) + "." + sig,
		"payload JSON array":     b64([]byte(`{"alg":"RS256","kid":"rs256-1"}`)) + "." + b64([]byte(`[]`)) + "." + sig,
		"payload JSON null":      b64([]byte(`{"alg":"RS256","kid":"rs256-1"}`)) + "." + b64([]byte(`null`)) + "." + sig,
		"payload JSON string":    b64([]byte(`{"alg":"RS256","kid":"rs256-1"}`)) + "." + b64([]byte(`"claims"`)) + "." + sig,
		"payload JSON number":    b64([]byte(`{"alg":"RS256","kid":"rs256-1"}`)) + "." + b64([]byte(`7`)) + "." + sig,
		"payload empty":          b64([]byte(`{"alg":"RS256","kid":"rs256-1"}`)) + ".." + sig,
		"payload not base64":     b64([]byte(`{"alg":"RS256","kid":"rs256-1"}`)) + ".!!!." + sig,
		"signature not base64":   b64([]byte(`{"alg":"RS256","kid":"rs256-1"}`)) + "." + payload + ".!!!",
		"leading space":          " " + iss.Mint(),
		"JWS JSON serialization": `{"payload":"` + payload + `","protected":"eyJhbGciOiJSUzI1NiJ9","signature":"` + sig + `"}`,
	}
	for name, tok := range malformed {
		t.Run(name, func(t *testing.T) {
			mustDeny(t, a, tok, runtime.ReasonCredentialsMalformed)
		})
	}
	wantFetches(t, iss, a, 0)
	// A crit header, known or not: TestCriticalHeader.
}

// tampered returns variants of tok that differ by one modified, inserted or
// removed character or by one flipped bit of a decoded part.
func tampered(t *testing.T, tok string) []string {
	t.Helper()
	seen := map[string]bool{tok: true}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	parts := strings.Split(tok, ".")
	start := 0
	for _, part := range parts {
		end := start + len(part)
		for i := start; i < end; i++ {
			pos := strings.IndexByte(b64Alphabet, tok[i])
			alts := []int{1, 32}
			if i == end-1 { // every other value of the last character, whose low bits may be padding
				alts = alts[:0]
				for d := 1; d < 64; d++ {
					alts = append(alts, d)
				}
			}
			for _, d := range alts {
				add(tok[:i] + string(b64Alphabet[(pos+d)%64]) + tok[i+1:])
			}
		}
		for _, ins := range []string{"\n", "\r", " ", "=", "==", "A", "+"} {
			add(tok[:end] + ins + tok[end:])
			add(tok[:start] + ins + tok[start:])
			add(tok[:start+len(part)/2] + ins + tok[start+len(part)/2:])
		}
		if len(part) > 0 {
			add(tok[:end-1] + tok[end:])
		}
		raw, err := base64.RawURLEncoding.DecodeString(part)
		if err != nil {
			t.Fatalf("test setup: decoding a part of a minted token: %v", err)
		}
		for j := range raw {
			for _, bit := range []byte{0x01, 0x80} {
				mod := append([]byte(nil), raw...)
				mod[j] ^= bit
				add(tok[:start] + b64(mod) + tok[end:])
			}
		}
		start = end + 1
	}
	add(tok + "\n")
	add(tok[:strings.LastIndexByte(tok, '.')+1])
	return out
}

func TestSecurity10_ModifiedByte(t *testing.T) {
	clk := newClock() // fixed: a flood of made-up kids must not cause refreshes
	iss := newIssuer(t, authtest.IssuerClock(clk.Now))
	a := newAuth(t, iss, jwtauth.Clock(clk.Now))
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			tok := iss.Mint(authtest.Algorithm(alg), authtest.Scopes("library.read"))
			mustAccept(t, a, tok)
			variants := tampered(t, tok)
			failures := 0
			for _, v := range variants {
				if _, err := deny16(t, a, v); err != nil {
					failures++
					if failures <= 5 {
						t.Errorf("%q: %v", v, err)
					}
				}
			}
			if failures > 0 {
				t.Fatalf("want all %d modified tokens refused, %d were not", len(variants), failures)
			}
			t.Logf("%d modified tokens refused", len(variants))
		})
	}
	wantFetches(t, iss, a, 1)
}

func TestSecurity11_KeyID(t *testing.T) {
	t.Run("unknown kid: at most one rate-limited refresh", func(t *testing.T) {
		clk := newClock()
		iss := newIssuer(t, authtest.IssuerClock(clk.Now))
		a := newAuth(t, iss, jwtauth.Clock(clk.Now), jwtauth.MinRefreshInterval(5*time.Second))
		mustAccept(t, a, iss.Mint())
		wantFetches(t, iss, a, 1)

		clk.Advance(6 * time.Second) // past MinRefreshInterval
		mustDeny(t, a, unknownKIDToken(t, iss, clk.Now(), "unknown-1"), runtime.ReasonTokenInvalidSignature)
		if n := iss.Fetches(); n > 2 {
			t.Fatalf("want at most one refresh for an unknown kid, got %d fetches in all", n)
		}
		after := iss.Fetches()
		for i := range 20 {
			mustDeny(t, a, unknownKIDToken(t, iss, clk.Now(), "unknown-"+string(rune('a'+i))), runtime.ReasonTokenInvalidSignature)
		}
		if n := iss.Fetches(); n != after {
			t.Fatalf("want no more fetches within MinRefreshInterval, got %d after %d", n, after)
		}
	})
	t.Run("unknown kid on a cold cache: one fetch", func(t *testing.T) {
		iss := newIssuer(t)
		a := newAuth(t, iss)
		mustDeny(t, a, unknownKIDToken(t, iss, time.Now(), "unknown"), runtime.ReasonTokenInvalidSignature)
		wantFetches(t, iss, a, 1)
	})
	t.Run("known kid, attacker's signature", func(t *testing.T) {
		iss := newIssuer(t)
		a := newAuth(t, iss)
		for _, kid := range []string{"rs256-1", "es256-1", "eddsa-1"} {
			mustDeny(t, a, unknownKIDToken(t, iss, time.Now(), kid), runtime.ReasonTokenInvalidSignature)
		}
	})
	t.Run("known kid, signature by another of the issuer's keys", func(t *testing.T) {
		iss := newIssuer(t)
		kid2, err := iss.AddKey("RS256")
		if err != nil {
			t.Fatal(err)
		}
		a := newAuth(t, iss)
		mustAccept(t, a, iss.Mint(authtest.KeyID(kid2)))
		// Signed by kid2, naming rs256-1: no fall-back to the key that would verify.
		mustDeny(t, a, iss.Mint(authtest.KeyID(kid2), authtest.Header("kid", "rs256-1")), runtime.ReasonTokenInvalidSignature)
	})
	t.Run("no kid, several keys", func(t *testing.T) {
		iss := newIssuer(t)
		a := newAuth(t, iss)
		mustDeny(t, a, iss.Mint(authtest.Header("kid", nil)), runtime.ReasonTokenInvalidSignature)
	})
	t.Run("static keys: no fall-back", func(t *testing.T) {
		k1, k2 := otherRSA(), attackerRSA()
		a := newStaticAuth(t, []jose.JSONWebKey{{Key: &k1.PublicKey, KeyID: "k1"}, {Key: &k2.PublicKey, KeyID: "k2"}})
		claims := claimsFor(staticIssuer, time.Now())
		mustAccept(t, a, joseSign(t, jose.RS256, k2, "k2", claims, nil))
		mustDeny(t, a, joseSign(t, jose.RS256, k2, "k1", claims, nil), runtime.ReasonTokenInvalidSignature)
		mustDeny(t, a, joseSign(t, jose.RS256, k2, "k3", claims, nil), runtime.ReasonTokenInvalidSignature)
	})
}

// ---------------------------------------------------------------------------
// Wycheproof.

const wycheproofModule = "github.com/c2sp/wycheproof@v0.0.0-20260902155932-3fa63dd0344a"

// wycheproofDir returns the vector directory of the Wycheproof module,
// downloading it into the module cache when needed.
func wycheproofDir(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not available: %v", err)
	}
	cmd := exec.Command(goTool, "mod", "download", "-json", wycheproofModule)
	cmd.Dir = t.TempDir() // outside any module: go.mod and go.sum stay untouched
	out, err := cmd.Output()
	var mod struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &mod); jerr != nil || err != nil || mod.Error != "" || mod.Dir == "" {
		t.Fatalf("go mod download %s: want the module directory, got %v %s %s", wycheproofModule, err, mod.Error, out)
	}
	return filepath.Join(mod.Dir, "testvectors_v1")
}

type wycheproofFile struct {
	NumberOfTests int `json:"numberOfTests"`
	TestGroups    []struct {
		PublicKeyDer string `json:"publicKeyDer"`
		SHA          string `json:"sha"`
		MGFSHA       string `json:"mgfSha"`
		SLen         *int   `json:"sLen"`
		Tests        []struct {
			TcID    int    `json:"tcId"`
			Comment string `json:"comment"`
			Msg     string `json:"msg"`
			Sig     string `json:"sig"`
			Result  string `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// verifyAsJWS verifies sig over msg as the authenticator verifies a JWS of
// alg with the key pub, which first goes through go-jose's JWK parsing. The
// checks mirror go-jose v4's verifyPayload (ECDSA: the curve, r‖s of exactly
// twice the curve size; Ed25519; RSA PKCS#1 v1.5) plus the authenticator's
// RFC 7518 rule that an RSA-PSS salt is as long as the hash.
func verifyAsJWS(t *testing.T, alg jose.SignatureAlgorithm, pub crypto.PublicKey, msg, sig []byte) bool {
	t.Helper()
	raw, err := json.Marshal(jose.JSONWebKey{Key: pub})
	if err != nil {
		t.Fatalf("marshalling the vector's key as a JWK: %v", err)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		t.Fatalf("go-jose refuses the vector's key: %v", err)
	}
	switch alg {
	case jose.ES256:
		k, ok := jwk.Key.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() || len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k, digest(crypto.SHA256, msg), r, s)
	case jose.EdDSA:
		k, ok := jwk.Key.(ed25519.PublicKey)
		return ok && ed25519.Verify(k, msg, sig)
	case jose.RS256:
		k, ok := jwk.Key.(*rsa.PublicKey)
		return ok && rsa.VerifyPKCS1v15(k, crypto.SHA256, digest(crypto.SHA256, msg), sig) == nil
	case jose.PS256:
		k, ok := jwk.Key.(*rsa.PublicKey)
		return ok && rsa.VerifyPSS(k, crypto.SHA256, digest(crypto.SHA256, msg), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	t.Fatalf("verifyAsJWS: unexpected algorithm %s", alg)
	return false
}

func TestSecurity12_Wycheproof(t *testing.T) {
	dir := wycheproofDir(t)
	files := []struct {
		name string
		alg  jose.SignatureAlgorithm
		// validRefused: the vectors Wycheproof calls valid, in an encoding or
		// with a salt JWS does not use, must be refused as a JWS of alg.
		validRefused bool
	}{
		{"ecdsa_secp256r1_sha256_p1363_test.json", jose.ES256, false},
		{"ed25519_test.json", jose.EdDSA, false},
		{"rsa_signature_2048_sha256_test.json", jose.RS256, false},
		{"rsa_pss_2048_sha256_mgf1_32_test.json", jose.PS256, false},
		// DER signatures are not JWS signatures.
		{"ecdsa_secp256r1_sha256_test.json", jose.ES256, true},
		// A PS256 salt is 32 bytes, never 0.
		{"rsa_pss_2048_sha256_mgf1_0_test.json", jose.PS256, true},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, f.name))
			if err != nil {
				t.Fatalf("reading the vectors: %v", err)
			}
			var vf wycheproofFile
			if err := json.Unmarshal(data, &vf); err != nil {
				t.Fatalf("parsing the vectors: %v", err)
			}
			ran, accepted := 0, 0
			for _, g := range vf.TestGroups {
				if g.SHA != "" && g.SHA != "SHA-256" || g.MGFSHA != "" && g.MGFSHA != "SHA-256" {
					t.Fatalf("want SHA-256 groups only, got sha %q mgfSha %q", g.SHA, g.MGFSHA)
				}
				der, err := hex.DecodeString(g.PublicKeyDer)
				if err != nil {
					t.Fatalf("decoding a group key: %v", err)
				}
				pub, err := x509.ParsePKIXPublicKey(der)
				if err != nil {
					t.Fatalf("parsing a group key: %v", err)
				}
				for _, tc := range g.Tests {
					msg, err1 := hex.DecodeString(tc.Msg)
					sig, err2 := hex.DecodeString(tc.Sig)
					if err1 != nil || err2 != nil {
						t.Fatalf("tcId %d: bad hex", tc.TcID)
					}
					got := verifyAsJWS(t, f.alg, pub, msg, sig)
					ran++
					if got {
						accepted++
					}
					switch {
					case f.validRefused && tc.Result == "valid" && got:
						t.Errorf("tcId %d (%s): want refused as %s, got accepted", tc.TcID, tc.Comment, f.alg)
					case f.validRefused:
					case tc.Result == "valid" && !got:
						t.Errorf("tcId %d (%s): want a valid signature accepted, got refused", tc.TcID, tc.Comment)
					case tc.Result == "invalid" && got:
						t.Errorf("tcId %d (%s): want an invalid signature refused, got accepted", tc.TcID, tc.Comment)
					}
				}
			}
			if ran == 0 {
				t.Fatal("want Wycheproof vectors run, got none")
			}
			t.Logf("%d vectors of %d run, %d accepted", ran, vf.NumberOfTests, accepted)
		})
	}

	// The same rules through Authenticate, with real tokens.
	claims := claimsFor(staticIssuer, time.Now())
	t.Run("ES256 token with a DER signature", func(t *testing.T) {
		key := mustEC(t, elliptic.P256())
		a := newStaticAuth(t, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k"}})
		hdr := map[string]any{"alg": "ES256", "kid": "k"}
		mustAccept(t, a, handSign(t, hdr, claims, signP1363(t, key, crypto.SHA256)))
		mustDeny(t, a, handSign(t, hdr, claims, signDER(t, key, crypto.SHA256)), runtime.ReasonTokenInvalidSignature)
	})
	t.Run("PS256 token salt length", func(t *testing.T) {
		key := otherRSA()
		a := newStaticAuth(t, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k"}}, jwtauth.Algorithms("PS256"))
		hdr := map[string]any{"alg": "PS256", "kid": "k"}
		mustAccept(t, a, handSign(t, hdr, claims, signPSS(t, key, crypto.SHA256, 32)))
		for _, salt := range []int{1, 20, 31, 33, 64, rsa.PSSSaltLengthAuto} {
			mustDeny(t, a, handSign(t, hdr, claims, signPSS(t, key, crypto.SHA256, salt)), runtime.ReasonTokenInvalidSignature)
		}
	})
	t.Run("RS256 key under 2048 bits", func(t *testing.T) {
		key, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		_, err = jwtauth.New(jwtauth.Issuer(staticIssuer, jwtauth.Audience(audience), jwtauth.StaticJWKS(jwksOf(t, jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k"}))))
		if !errors.Is(err, jwtauth.ErrInvalidOption) {
			t.Fatalf("want a 1024-bit RSA key refused with ErrInvalidOption, got %v", err)
		}
	})
}

func TestSecurity15_NoClaimsOnFailure(t *testing.T) {
	const marker = "MARKER-7f3a"
	iss := newIssuer(t)
	a := newAuth(t, iss)
	mustAccept(t, a, iss.Mint())

	evil := claimsFor(iss.URL(), time.Now())
	evil["sub"] = marker + "-sub"
	evil["scope"] = marker + "-admin"
	evil[marker] = marker + "-value"
	real := iss.Mint()
	parts := strings.Split(real, ".")

	tokens := map[string]string{
		"attacker signature, issuer kid":        joseSign(t, jose.RS256, attackerRSA(), "rs256-1", evil, nil),
		"attacker signature, own kid":           joseSign(t, jose.RS256, attackerRSA(), marker, evil, nil),
		"claims swapped under a real signature": parts[0] + "." + b64JSON(t, evil) + "." + parts[2],
		"expired":                               iss.Mint(authtest.Subject(marker+"-sub"), authtest.Claim(marker, marker), authtest.ExpiresIn(-time.Hour)),
		"wrong audience":                        iss.Mint(authtest.Subject(marker+"-sub"), authtest.Audience(marker+"-aud")),
		"untrusted issuer":                      iss.Mint(authtest.IssuerClaim("https://" + marker + ".example")),
		"exp not a number":                      iss.Mint(authtest.Claim("exp", marker)),
		"aud of an object":                      iss.Mint(authtest.Claim("aud", map[string]any{marker: marker})),
		"scope not a string":                    iss.Mint(authtest.Claim("scope", []string{marker})),
		"no signature, real claims":             parts[0] + "." + b64JSON(t, evil) + ".",
	}
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			p, err := a.Authenticate(t.Context(), tok)
			if p != nil {
				t.Fatalf("want no principal on failure, got %+v", p)
			}
			e, ok := runtime.FromError(err)
			if !ok || e.Code != codes.Unauthenticated {
				t.Fatalf("want an UNAUTHENTICATED denial, got %v", err)
			}
			seen := err.Error() + "\n" + e.Message + "\n" + e.Detail
			for k, v := range e.Metadata {
				seen += "\n" + k + "=" + v
			}
			if strings.Contains(seen, marker) {
				t.Fatalf("want nothing from the refused token in the error, got %q", seen)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Claims.

func TestSecurity17_Expiry(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss)
	mustDeny(t, a, iss.Mint(authtest.ExpiresIn(-time.Hour)), runtime.ReasonTokenExpired)
	mustDeny(t, a, iss.Mint(authtest.ExpiresIn(-jwtauth.DefaultLeeway-time.Second)), runtime.ReasonTokenExpired)
	mustDeny(t, a, iss.Mint(authtest.Without("exp")), runtime.ReasonClaimsInvalid)
	mustDeny(t, a, iss.Mint(authtest.Claim("exp", 0)), runtime.ReasonTokenExpired)
	mustDeny(t, a, iss.Mint(authtest.Claim("exp", -1)), runtime.ReasonTokenExpired)
	mustDeny16(t, a, iss.Mint(authtest.Claim("exp", "9999999999")))
	mustDeny16(t, a, iss.Mint(authtest.Claim("exp", 1e300)))
	mustDeny16(t, a, iss.Mint(authtest.Claim("exp", true)))
	wantFetches(t, iss, a, 0)
	mustAccept(t, a, iss.Mint(authtest.ExpiresIn(-jwtauth.DefaultLeeway/2))) // within the leeway
}

func TestSecurity18_NotBeforeAndIssuedAt(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, authtest.IssuerClock(clk.Now))
	a := newAuth(t, iss, jwtauth.Clock(clk.Now))
	now := clk.Now()
	beyond, within := now.Add(jwtauth.DefaultLeeway+time.Minute), now.Add(jwtauth.DefaultLeeway/2)

	mustDeny(t, a, iss.Mint(authtest.NotBefore(beyond)), runtime.ReasonTokenNotYetValid)
	mustDeny(t, a, iss.Mint(authtest.IssuedAt(beyond)), runtime.ReasonTokenNotYetValid)
	mustDeny(t, a, iss.Mint(authtest.NotBefore(now.Add(24*time.Hour)), authtest.ExpiresIn(48*time.Hour)), runtime.ReasonTokenNotYetValid)
	wantFetches(t, iss, a, 0)
	mustAccept(t, a, iss.Mint(authtest.NotBefore(within)))
	mustAccept(t, a, iss.Mint(authtest.IssuedAt(within)))
	mustAccept(t, a, iss.Mint(authtest.NotBefore(now), authtest.IssuedAt(now)))

	strict := newAuth(t, iss, jwtauth.Clock(clk.Now), jwtauth.Leeway(0))
	mustDeny(t, strict, iss.Mint(authtest.NotBefore(now.Add(2*time.Second))), runtime.ReasonTokenNotYetValid)

	for _, d := range []time.Duration{time.Hour, jwtauth.MaxLeeway + time.Second, -time.Second} {
		_, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience(audience), jwtauth.JWKSURL(iss.JWKSURL())), jwtauth.Leeway(d))
		if !errors.Is(err, jwtauth.ErrInvalidOption) {
			t.Fatalf("Leeway(%s): want an error wrapping ErrInvalidOption, got %v", d, err)
		}
	}
}

func TestSecurity20_MaxLifetime(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, authtest.IssuerClock(clk.Now))
	a := newAuth(t, iss, jwtauth.Clock(clk.Now), jwtauth.MaxLifetime(10*time.Minute))
	now := clk.Now()
	mustDeny(t, a, iss.Mint(authtest.ExpiresIn(time.Hour)), runtime.ReasonClaimsInvalid)
	mustDeny(t, a, iss.Mint(authtest.IssuedAt(now.Add(-2*time.Hour)), authtest.ExpiresIn(5*time.Minute)), runtime.ReasonClaimsInvalid)
	mustDeny(t, a, iss.Mint(authtest.Without("iat"), authtest.NotBefore(now), authtest.ExpiresIn(time.Hour)), runtime.ReasonClaimsInvalid)
	mustDeny(t, a, iss.Mint(authtest.Without("iat")), runtime.ReasonClaimsInvalid) // lifetime unknown
	wantFetches(t, iss, a, 0)
	mustAccept(t, a, iss.Mint(authtest.ExpiresIn(5*time.Minute)))
	mustAccept(t, a, iss.Mint(authtest.Without("iat"), authtest.NotBefore(now), authtest.ExpiresIn(10*time.Minute)))

	for _, d := range []time.Duration{0, -time.Minute} {
		_, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience(audience), jwtauth.JWKSURL(iss.JWKSURL()), jwtauth.MaxLifetime(d)))
		if !errors.Is(err, jwtauth.ErrInvalidOption) {
			t.Fatalf("MaxLifetime(%s): want an error wrapping ErrInvalidOption, got %v", d, err)
		}
	}
}

func TestSecurity21_NoFetchForKeylessFailures(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss)
	cases := []struct {
		name string
		tok  string
		want runtime.Reason
	}{
		{"unknown iss", iss.Mint(authtest.IssuerClaim("https://evil.example")), runtime.ReasonIssuerUntrusted},
		{"missing iss", iss.Mint(authtest.Without("iss")), runtime.ReasonIssuerUntrusted},
		{"empty iss", iss.Mint(authtest.IssuerClaim("")), runtime.ReasonIssuerUntrusted},
		{"iss with a trailing slash", iss.Mint(authtest.IssuerClaim(iss.URL() + "/")), runtime.ReasonIssuerUntrusted},
		{"iss in upper case", iss.Mint(authtest.IssuerClaim(strings.ToUpper(iss.URL()))), runtime.ReasonIssuerUntrusted},
		{"unknown iss, attacker key", joseSign(t, jose.RS256, attackerRSA(), "rs256-1", claimsFor("https://evil.example", time.Now()), nil), runtime.ReasonIssuerUntrusted},
		{"expired", iss.Mint(authtest.ExpiresIn(-time.Hour)), runtime.ReasonTokenExpired},
		{"wrong aud", iss.Mint(authtest.Audience("billing")), runtime.ReasonAudienceMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustDeny(t, a, c.tok, c.want)
			wantFetches(t, iss, a, 0)
		})
	}
	mustDeny16(t, a, iss.Mint(authtest.Claim("iss", []string{iss.URL()})))
	wantFetches(t, iss, a, 0)
}

func TestSecurity22_Audience(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss)
	for name, opt := range map[string]authtest.TokenOption{
		"missing":          authtest.Without("aud"),
		"empty array":      authtest.Claim("aud", []string{}),
		"empty string":     authtest.Claim("aud", ""),
		"array of empty":   authtest.Claim("aud", []string{""}),
		"other":            authtest.Audience("billing"),
		"others":           authtest.Audience("billing", "payroll"),
		"different case":   authtest.Audience("Library"),
		"trailing space":   authtest.Audience("library "),
		"prefix":           authtest.Audience("librar"),
		"longer":           authtest.Audience("library2"),
		"trailing NUL":     authtest.Audience("library\x00"),
		"space-separated":  authtest.Audience("billing library"),
		"array, near miss": authtest.Audience("Library", "library "),
	} {
		t.Run(name, func(t *testing.T) {
			mustDeny(t, a, iss.Mint(opt), runtime.ReasonAudienceMismatch)
		})
	}
	for name, v := range map[string]any{
		"number member": []any{1, "library"},
		"null member":   []any{nil, "library"},
		"array member":  []any{[]string{"library"}},
		"object":        map[string]any{"library": true},
		"number":        42,
		"boolean":       true,
	} {
		t.Run(name, func(t *testing.T) {
			// A claim of the wrong type in a well-formed JWS: CLAIMS_INVALID.
			mustDeny(t, a, iss.Mint(authtest.Claim("aud", v)), runtime.ReasonClaimsInvalid)
		})
	}
	wantFetches(t, iss, a, 0)

	mustAccept(t, a, iss.Mint(authtest.Audience("library")))
	mustAccept(t, a, iss.Mint(authtest.Audience("billing", "library")))
	mustAccept(t, a, iss.Mint(authtest.Audience("library", "billing", "payroll")))
	mustAccept(t, a, iss.Mint(authtest.Claim("aud", []string{"library"})))

	two := newAuth(t, iss, jwtauth.Audience("catalog"))
	mustAccept(t, two, iss.Mint(authtest.Audience("catalog")))
	mustAccept(t, two, iss.Mint(authtest.Audience("library")))
	mustDeny(t, two, iss.Mint(authtest.Audience("billing")), runtime.ReasonAudienceMismatch)
}

func TestSecurity23_SubjectConstraint(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss, jwtauth.Subject(regexp.MustCompile(`^user:[a-z]+$`)))
	mustAccept(t, a, iss.Mint(authtest.Subject("user:alice")))
	for _, sub := range []string{"alice", "admin", "user:", "user:ALICE", "user:alice\n", "user:alice ", "xuser:alice", "user:alice:admin", "user:al1ce"} {
		t.Run(sub, func(t *testing.T) {
			mustDeny(t, a, iss.Mint(authtest.Subject(sub)), runtime.ReasonClaimsInvalid)
		})
	}
	mustDeny(t, a, iss.Mint(authtest.Without("sub")), runtime.ReasonClaimsInvalid)
	mustDeny16(t, a, iss.Mint(authtest.Claim("sub", 42)))
	mustDeny16(t, a, iss.Mint(authtest.Claim("sub", []string{"user:alice"})))
	wantFetches(t, iss, a, 1) // only the accepted token needed keys

	_, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience(audience), jwtauth.JWKSURL(iss.JWKSURL()), jwtauth.Subject(nil)))
	if !errors.Is(err, jwtauth.ErrInvalidOption) {
		t.Fatalf("Subject(nil): want an error wrapping ErrInvalidOption, got %v", err)
	}
}

// ---------------------------------------------------------------------------
// JWKS.

func TestSecurity25_JWKSFailuresFailClosed(t *testing.T) {
	resetServer := func(t *testing.T) *httptest.Server {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			if tc, ok := conn.(*tls.Conn); ok {
				if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
					tcp.SetLinger(0) // a reset, not an orderly close
				}
			}
			conn.Close()
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, iss *authtest.Issuer) []any
	}{
		{"500", func(t *testing.T, iss *authtest.Issuer) []any { iss.FailJWKS(500); return nil }},
		{"503", func(t *testing.T, iss *authtest.Issuer) []any { iss.FailJWKS(503); return nil }},
		{"404", func(t *testing.T, iss *authtest.Issuer) []any { iss.FailJWKS(404); return nil }},
		{"401", func(t *testing.T, iss *authtest.Issuer) []any { iss.FailJWKS(401); return nil }},
		{"empty body", func(t *testing.T, iss *authtest.Issuer) []any { iss.ServeJWKSBody([]byte{}); return nil }},
		{"non-JSON body", func(t *testing.T, iss *authtest.Issuer) []any {
			iss.ServeJWKSBody([]byte("<html>maintenance</html>"))
			return nil
		}},
		{"JSON, not a key set", func(t *testing.T, iss *authtest.Issuer) []any {
			iss.ServeJWKSBody([]byte(`[1,2,3]`))
			return nil
		}},
		{"empty key set", func(t *testing.T, iss *authtest.Issuer) []any {
			iss.ServeJWKSBody([]byte(`{"keys":[]}`))
			return nil
		}},
		{"only a symmetric key", func(t *testing.T, iss *authtest.Issuer) []any {
			iss.ServeJWKSBody([]byte(`{"keys":[{"kty":"oct","kid":"rs256-1","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`))
			return nil
		}},
		{"connection reset", func(t *testing.T, iss *authtest.Issuer) []any {
			srv := resetServer(t)
			return []any{jwtauth.JWKSURL(srv.URL + authtest.JWKSPath), jwtauth.HTTPClient(srv.Client())}
		}},
		{"timeout", func(t *testing.T, iss *authtest.Issuer) []any {
			iss.DelayJWKS(10 * time.Second)
			return []any{jwtauth.FetchTimeout(200 * time.Millisecond)}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			iss := newIssuer(t)
			opts := c.setup(t, iss)
			tok := iss.Mint()
			baseline := goruntime.NumGoroutine()
			a := newAuth(t, iss, opts...)
			for range 3 {
				p, err := a.Authenticate(t.Context(), tok)
				if p != nil {
					t.Fatalf("want no principal when no key is known, got %+v", p)
				}
				if r := reasonOf(t, err); r != runtime.ReasonAuthBackendUnavailable {
					t.Fatalf("want reason AUTH_BACKEND_UNAVAILABLE, got %s (%v)", r, err)
				}
				if code := status.Convert(err).Code(); code != codes.Unavailable {
					t.Fatalf("want code Unavailable, got %s", code)
				}
			}
			if n := a.Fetches(); n != 1 {
				t.Fatalf("want one fetch (the next is rate-limited), got %d", n)
			}
			iss.HTTPClient().CloseIdleConnections()
			waitGoroutines(t, baseline)
		})
	}
}

func TestSecurity26_ConcurrentColdCache(t *testing.T) {
	run := func(t *testing.T, iss *authtest.Issuer, a *jwtauth.Authenticator) {
		t.Helper()
		tok := iss.Mint()
		start := make(chan struct{})
		errs := make(chan error, 10)
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				<-start
				_, err := a.Authenticate(t.Context(), tok)
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("want every concurrent call accepted, got %v", err)
			}
		}
	}
	t.Run("slow endpoint", func(t *testing.T) {
		iss := newIssuer(t)
		iss.DelayJWKS(50 * time.Millisecond) // every call arrives while the fetch runs
		a := newAuth(t, iss)
		run(t, iss, a)
		wantFetches(t, iss, a, 1)
	})
	t.Run("fast endpoint, many rounds", func(t *testing.T) {
		iss := newIssuer(t)
		for i := range 20 {
			a := newAuth(t, iss)
			run(t, iss, a)
			if n := a.Fetches(); n != 1 {
				t.Fatalf("round %d: want exactly one fetch, got %d", i, n)
			}
		}
		if n := iss.Fetches(); n != 20 {
			t.Fatalf("want 20 fetches for 20 cold caches, got %d", n)
		}
	})
	t.Run("a call that found the cache empty while another's fetch ended", func(t *testing.T) {
		// A deterministic interleaving: the clock blocks the first call at its
		// second reading, which follows its look at the (empty) cache, until a
		// second call has fetched and stored the keys.
		iss := newIssuer(t)
		tok := iss.Mint()
		now := time.Now()
		var reads atomic.Int32
		blocked, release := make(chan struct{}), make(chan struct{})
		a := newAuth(t, iss, jwtauth.Clock(func() time.Time {
			if reads.Add(1) == 2 {
				close(blocked)
				<-release
			}
			return now
		}))
		errc := make(chan error, 1)
		go func() {
			_, err := a.Authenticate(t.Context(), tok)
			errc <- err
		}()
		<-blocked
		// Another token of the same keys: a call with the same token would
		// wait for the first call's verification (Authenticate shares it),
		// not fetch the keys itself.
		mustAccept(t, a, iss.Mint(authtest.Subject("other")))
		close(release)
		if err := <-errc; err != nil {
			t.Fatalf("want the first call accepted with the keys the second fetched, got %v", err)
		}
		wantFetches(t, iss, a, 1)
	})
}

func TestSecurity27_KeyCacheExpiryAndStaleness(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, authtest.IssuerClock(clk.Now))
	a := newAuth(t, iss, jwtauth.Clock(clk.Now),
		jwtauth.RefreshInterval(time.Minute),
		jwtauth.MinRefreshInterval(time.Second),
		jwtauth.MaxStaleness(10*time.Minute))
	tok := iss.Mint(authtest.ExpiresIn(time.Hour))
	unknown := unknownKIDToken(t, iss, clk.Now(), "unknown")

	mustAccept(t, a, tok)
	wantFetches(t, iss, a, 1)
	clk.Advance(30 * time.Second)
	mustAccept(t, a, tok)
	wantFetches(t, iss, a, 1) // cached

	clk.Advance(31 * time.Second) // past RefreshInterval
	mustAccept(t, a, tok)
	settle(t, a, unknown)
	wantFetches(t, iss, a, 2) // the keys expired and were fetched again

	iss.FailJWKS(500)
	clk.Advance(61 * time.Second) // refresh due; it fails
	mustAccept(t, a, tok)
	settle(t, a, unknown)
	wantFetches(t, iss, a, 3)
	mustAccept(t, a, tok) // the last good keys, after a failed refresh

	clk.Advance(5 * time.Minute) // still within MaxStaleness
	mustAccept(t, a, tok)
	settle(t, a, unknown)
	if n := iss.Fetches(); n != 4 {
		t.Fatalf("want another (failed) refresh, got %d fetches", n)
	}

	clk.Advance(6 * time.Minute) // past MaxStaleness
	for range 2 {
		p, err := a.Authenticate(t.Context(), tok)
		if p != nil {
			t.Fatalf("want no principal with only stale keys, got %+v", p)
		}
		if r := reasonOf(t, err); r != runtime.ReasonAuthBackendUnavailable {
			t.Fatalf("want AUTH_BACKEND_UNAVAILABLE past MaxStaleness, got %s", r)
		}
		if code := status.Convert(err).Code(); code != codes.Unavailable {
			t.Fatalf("want code Unavailable, got %s", code)
		}
	}

	iss.FailJWKS(0)
	clk.Advance(2 * time.Second) // past MinRefreshInterval
	mustAccept(t, a, tok)
}

func TestSecurity28_Rotation(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, authtest.IssuerClock(clk.Now))
	a := newAuth(t, iss, jwtauth.Clock(clk.Now),
		jwtauth.RefreshInterval(time.Minute),
		jwtauth.MinRefreshInterval(time.Second))
	old := iss.Mint(authtest.ExpiresIn(time.Hour))
	mustAccept(t, a, old)
	wantFetches(t, iss, a, 1)

	kid2, err := iss.AddKey("RS256")
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second) // past MinRefreshInterval
	fresh := iss.Mint(authtest.KeyID(kid2), authtest.ExpiresIn(time.Hour))
	mustAccept(t, a, fresh)
	wantFetches(t, iss, a, 2) // one refresh for the new kid

	iss.RemoveKey("rs256-1")
	clk.Advance(61 * time.Second) // past RefreshInterval: the next call refreshes in the background
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := a.Authenticate(t.Context(), old)
		if err != nil {
			if r := reasonOf(t, err); r != runtime.ReasonTokenInvalidSignature {
				t.Fatalf("want TOKEN_INVALID_SIGNATURE for a removed key, got %s", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("want the removed key's token refused after the refresh, got it still accepted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustAccept(t, a, fresh)
	clk.Advance(2 * time.Second)
	mustDeny(t, a, old, runtime.ReasonTokenInvalidSignature) // and after another kid refresh
}

func TestSecurity31_JWKSURLPolicy(t *testing.T) {
	iss := newIssuer(t)
	t.Run("plain http refused", func(t *testing.T) {
		_, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience(audience), jwtauth.JWKSURL("http://issuer.example/jwks.json")))
		if !errors.Is(err, jwtauth.ErrInvalidOption) {
			t.Fatalf("want an http JWKS URL refused with ErrInvalidOption, got %v", err)
		}
		if _, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience(audience), jwtauth.JWKSURL("http://issuer.example/jwks.json")), jwtauth.AllowHTTP()); err != nil {
			t.Fatalf("want an http JWKS URL accepted with AllowHTTP, got %v", err)
		}
		for _, u := range []string{"ftp://issuer.example/jwks", "file:///etc/jwks.json", "/jwks.json", "https://"} {
			if _, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience(audience), jwtauth.JWKSURL(u)), jwtauth.AllowHTTP()); !errors.Is(err, jwtauth.ErrInvalidOption) {
				t.Fatalf("JWKSURL(%q): want ErrInvalidOption, got %v", u, err)
			}
		}
	})
	t.Run("no redirect to another host", func(t *testing.T) {
		var hits atomic.Int64
		redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Redirect(w, r, iss.JWKSURL(), http.StatusFound)
		}))
		defer redirector.Close()
		a := newAuth(t, iss, jwtauth.JWKSURL(redirector.URL+authtest.JWKSPath), jwtauth.HTTPClient(redirector.Client()))
		mustDeny(t, a, iss.Mint(), runtime.ReasonAuthBackendUnavailable)
		if hits.Load() != 1 || iss.Fetches() != 0 {
			t.Fatalf("want the redirect not followed, got %d redirector hits and %d issuer fetches", hits.Load(), iss.Fetches())
		}
	})
	t.Run("body size cap", func(t *testing.T) {
		iss := newIssuer(t)
		set := iss.JWKS()
		huge := append(set[:len(set)-1:len(set)-1], []byte(`,"pad":"`+strings.Repeat("x", jwtauth.DefaultMaxJWKSSize)+`"}`)...)
		iss.ServeJWKSBody(huge)
		a := newAuth(t, iss)
		mustDeny(t, a, iss.Mint(), runtime.ReasonAuthBackendUnavailable)
	})
}

// TestClockIsTheOption: Clock is nil on the system clock, which tells an
// enforcer that it may date the streams of these tokens by its coarse
// clock, and the clock set by the Clock option otherwise, which Now reads.
func TestClockIsTheOption(t *testing.T) {
	iss := authtest.NewIssuer(t, authtest.DefaultAudience(audience))
	if c := newAuth(t, iss).Clock(); c != nil {
		t.Error("Clock is not nil on the system clock")
	}
	at := time.Unix(1_700_000_000, 0)
	a := newAuth(t, iss, jwtauth.Clock(func() time.Time { return at }))
	if c := a.Clock(); c == nil || !c().Equal(at) || !a.Now().Equal(at) {
		t.Error("Clock is not the clock set by the Clock option")
	}
}
