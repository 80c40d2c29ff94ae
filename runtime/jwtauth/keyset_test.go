// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// logBuffer collects log output written from any goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the log lines of level (e.g. "WARN") that name kid.
func (l *logBuffer) lines(level, kid string) []string {
	re := regexp.MustCompile(`(^| )kid=(` + regexp.QuoteMeta(kid) + `|` + regexp.QuoteMeta(strconv.Quote(kid)) + `)( |$)`)
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, "level="+level) && re.MatchString(line) {
			out = append(out, line)
		}
	}
	return out
}

// jwkMap is the JSON object of k as go-jose writes it (private members
// included), to be edited by the test.
func jwkMap(t *testing.T, k jose.JSONWebKey) map[string]any {
	t.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatalf("marshalling a JWK: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func pubJWK(t *testing.T, key crypto.PublicKey, kid, alg string) map[string]any {
	t.Helper()
	return jwkMap(t, jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"})
}

func privJWK(t *testing.T, key crypto.Signer, kid, alg string) map[string]any {
	t.Helper()
	return jwkMap(t, jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"})
}

// with returns a copy of m with the members kv (name, value, name, value…)
// set; a nil value deletes the member.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func jwksBody(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bigB64(n *big.Int) string { return b64(n.Bytes()) }

// ecScalar is the private scalar of k, as a JWK's d holds it.
func ecScalar(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	d, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// keySetKeys are the keys the key-set tests sign with.
type keySetKeys struct {
	good    *ecdsa.PrivateKey // published as "good", ES256
	rsa     *rsa.PrivateKey   // the key a case publishes, or leaks
	rsa2    *rsa.PrivateKey   // another RSA key
	weak    *rsa.PrivateKey   // 1024 bits
	ec      *ecdsa.PrivateKey // P-256
	ec384   *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	secret  []byte
	goodJWK map[string]any
}

var weakRSA = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	return k
})

func newKeySetKeys(t *testing.T) *keySetKeys {
	t.Helper()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &keySetKeys{
		good: mustEC(t, elliptic.P256()), rsa: otherRSA(), rsa2: attackerRSA(), weak: weakRSA(),
		ec: mustEC(t, elliptic.P256()), ec384: mustEC(t, elliptic.P384()), ed: ed,
		secret: []byte("a shared secret of 32 bytes!!!!!"),
	}
	k.goodJWK = pubJWK(t, &k.good.PublicKey, "good", "ES256")
	return k
}

// keySetAuth is an authenticator whose JWKS endpoint serves body, logging
// to the returned buffer.
func keySetAuth(t *testing.T, body []byte, opts ...any) (*jwtauth.Authenticator, *logBuffer, func(string) map[string]any) {
	t.Helper()
	iss := newIssuer(t)
	iss.ServeJWKSBody(body)
	logs := &logBuffer{}
	a := newAuth(t, iss, append([]any{jwtauth.Logger(slog.New(slog.NewTextHandler(logs, nil))), jwtauth.CacheSize(0)}, opts...)...)
	return a, logs, func(string) map[string]any { return claimsFor(iss.URL(), time.Now()) }
}

// TestKeySetPolicy: what a fetched JWKS may hold. Private key material
// (any of d, p, q, dp, dq, qi, oth, priv; any symmetric key) is never
// trusted, nor is the public key whose private half the set publishes; a
// kid that names two different keys is unusable for both; use, key_ops,
// alg, curve and size must fit a signature key this server accepts. Each
// key left out is named at WARN (or INFO when it is merely not for
// signatures here) by its kid only.
func TestKeySetPolicy(t *testing.T) {
	k := newKeySetKeys(t)
	rsaPub := pubJWK(t, &k.rsa.PublicKey, "k", "RS256")
	type signed struct {
		alg jose.SignatureAlgorithm
		key any
		kid string
	}
	rsaK := signed{jose.RS256, k.rsa, "k"}
	oth := []map[string]any{{"r": bigB64(k.rsa.Primes[0]), "d": bigB64(k.rsa.Precomputed.Dp), "t": bigB64(k.rsa.Precomputed.Qinv)}}
	for _, c := range []struct {
		name   string
		keys   []map[string]any
		tokens []signed
		reason runtime.Reason // "" for OK
		warn   []string       // kids named at WARN
		info   []string       // kids named at INFO
	}{
		{"rsa private", []map[string]any{privJWK(t, k.rsa, "k", "RS256")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"rsa private, no alg", []map[string]any{privJWK(t, k.rsa, "k", "")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"ec private", []map[string]any{privJWK(t, k.ec, "k", "ES256")}, []signed{{jose.ES256, k.ec, "k"}}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"ed25519 private", []map[string]any{privJWK(t, k.ed, "k", "EdDSA")}, []signed{{jose.EdDSA, k.ed, "k"}}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"oct", []map[string]any{{"kty": "oct", "kid": "k", "k": b64(k.secret), "alg": "HS256"}}, nil, "", []string{"k"}, nil},
		{"oct, no alg, use sig", []map[string]any{{"kty": "oct", "kid": "k", "k": b64(k.secret), "use": "sig"}}, nil, "", []string{"k"}, nil},
		{"rsa public plus d", []map[string]any{with(rsaPub, "d", bigB64(k.rsa.D))}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"rsa public plus p", []map[string]any{with(rsaPub, "p", bigB64(k.rsa.Primes[0]))}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"rsa public plus q", []map[string]any{with(rsaPub, "q", bigB64(k.rsa.Primes[1]))}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"rsa public plus dp", []map[string]any{with(rsaPub, "dp", bigB64(k.rsa.Precomputed.Dp))}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"rsa public plus dq", []map[string]any{with(rsaPub, "dq", bigB64(k.rsa.Precomputed.Dq))}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"rsa public plus qi", []map[string]any{with(rsaPub, "qi", bigB64(k.rsa.Precomputed.Qinv))}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"rsa public plus oth", []map[string]any{with(rsaPub, "oth", oth)}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"rsa public plus D (upper case)", []map[string]any{with(rsaPub, "D", bigB64(k.rsa.D))}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"ec public plus d", []map[string]any{with(pubJWK(t, &k.ec.PublicKey, "k", "ES256"), "d", b64(ecScalar(t, k.ec)))}, []signed{{jose.ES256, k.ec, "k"}}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"okp public plus d", []map[string]any{with(pubJWK(t, k.ed.Public(), "k", "EdDSA"), "d", b64(k.ed.Seed()))}, []signed{{jose.EdDSA, k.ed, "k"}}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"public twin of a leaked key", []map[string]any{rsaPub, privJWK(t, k.rsa, "leak", "RS256")}, []signed{rsaK, {jose.RS256, k.rsa, "leak"}}, runtime.ReasonTokenInvalidSignature, []string{"k", "leak"}, nil},
		{"keyless public twin of a leaked key", []map[string]any{with(rsaPub, "kid", nil), privJWK(t, k.rsa, "leak", "RS256")}, []signed{{jose.RS256, k.rsa, ""}}, runtime.ReasonTokenInvalidSignature, []string{"leak"}, nil},

		{"two keys, one kid", []map[string]any{rsaPub, pubJWK(t, &k.rsa2.PublicKey, "k", "RS256")}, []signed{rsaK, {jose.RS256, k.rsa2, "k"}}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"two families, one kid", []map[string]any{rsaPub, pubJWK(t, &k.ec.PublicKey, "k", "ES256")}, []signed{rsaK, {jose.ES256, k.ec, "k"}}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"one key twice, identical", []map[string]any{rsaPub, rsaPub}, []signed{rsaK}, "", nil, nil},
		{"one key twice, members reordered", []map[string]any{rsaPub, with(rsaPub)}, []signed{rsaK}, "", nil, nil},
		{"one key twice, alg differs", []map[string]any{rsaPub, with(rsaPub, "alg", nil)}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"kid shared with a weak key", []map[string]any{rsaPub, pubJWK(t, &k.weak.PublicKey, "k", "RS256")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"kid shared with a private key", []map[string]any{rsaPub, privJWK(t, k.rsa2, "k", "RS256")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"kid shared with an unreadable key", []map[string]any{rsaPub, {"kty": "RSA", "kid": "k", "n": "!!", "e": "AQAB"}}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"kid shared with an encryption key", []map[string]any{rsaPub, with(pubJWK(t, &k.rsa2.PublicKey, "k", "RSA-OAEP"), "use", "enc")}, []signed{rsaK}, "", nil, []string{"k"}},

		{"use enc", []map[string]any{with(rsaPub, "use", "enc")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, nil, []string{"k"}},
		{"use SIG", []map[string]any{with(rsaPub, "use", "SIG")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, nil, []string{"k"}},
		{"use absent", []map[string]any{with(rsaPub, "use", nil)}, []signed{rsaK}, "", nil, nil},
		{"key_ops verify", []map[string]any{with(rsaPub, "use", nil, "key_ops", []string{"verify"})}, []signed{rsaK}, "", nil, nil},
		{"key_ops encrypt", []map[string]any{with(rsaPub, "use", nil, "key_ops", []string{"encrypt"})}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, nil, []string{"k"}},
		{"key_ops empty", []map[string]any{with(rsaPub, "use", nil, "key_ops", []string{})}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, nil, []string{"k"}},
		{"key_ops a string", []map[string]any{with(rsaPub, "use", nil, "key_ops", "verify")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"alg ES256 on an RSA key", []map[string]any{with(rsaPub, "alg", "ES256")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"alg EdDSA on an RSA key", []map[string]any{with(rsaPub, "alg", "EdDSA")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"alg ES256 on a P-384 key", []map[string]any{pubJWK(t, &k.ec384.PublicKey, "k", "ES256")}, nil, "", []string{"k"}, nil},
		{"alg RS256 on a P-256 key", []map[string]any{pubJWK(t, &k.ec.PublicKey, "k", "RS256")}, []signed{{jose.ES256, k.ec, "k"}}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"alg ES256 on an Ed25519 key", []map[string]any{pubJWK(t, k.ed.Public(), "k", "ES256")}, []signed{{jose.EdDSA, k.ed, "k"}}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"alg HS256 on an RSA key", []map[string]any{with(rsaPub, "alg", "HS256")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"alg none", []map[string]any{with(rsaPub, "alg", "none")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"alg RS384, not accepted here", []map[string]any{with(rsaPub, "alg", "RS384")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, nil, []string{"k"}},
		{"rsa over 4096 bits (go-jose's bound)", []map[string]any{with(rsaPub, "n", b64(append([]byte{0xc0}, bytes.Repeat([]byte{0xff}, 512)...)))}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"rsa 1024 bits", []map[string]any{pubJWK(t, &k.weak.PublicKey, "k", "RS256")}, []signed{{jose.RS256, k.weak, "k"}}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"member name in the wrong case", []map[string]any{with(rsaPub, "KID", "k2")}, []signed{rsaK}, runtime.ReasonTokenInvalidSignature, []string{"k"}, nil},
		{"keyless, alone", []map[string]any{with(rsaPub, "kid", nil)}, []signed{{jose.RS256, k.rsa, ""}}, "", nil, nil},
		{"keyless, among others", []map[string]any{with(rsaPub, "kid", nil)}, []signed{{jose.RS256, k.rsa, ""}}, runtime.ReasonTokenInvalidSignature, nil, []string{""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The good key is always there too, so that the set is never
			// refused as a whole; only the keyless case alone is alone.
			keys := append([]map[string]any{k.goodJWK}, c.keys...)
			if c.name == "keyless, alone" {
				keys = c.keys
			}
			a, logs, claims := keySetAuth(t, jwksBody(t, keys...))
			if c.name != "keyless, alone" {
				mustAccept(t, a, joseSign(t, jose.ES256, k.good, "good", claims(""), nil))
			}
			for _, s := range c.tokens {
				tok := joseSign(t, s.alg, s.key, s.kid, claims(""), nil)
				if c.reason == "" {
					mustAccept(t, a, tok)
				} else {
					mustDeny(t, a, tok, c.reason)
				}
			}
			for _, kid := range c.warn {
				if n := len(logs.lines("WARN", kid)); n != 1 {
					t.Errorf("want one WARN line naming kid %q, got %d:\n%s", kid, n, logs)
				}
			}
			for _, kid := range c.info {
				if n := len(logs.lines("INFO", kid)); n != 1 {
					t.Errorf("want one INFO line naming kid %q, got %d:\n%s", kid, n, logs)
				}
			}
			if len(c.warn) == 0 && strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("want no WARN line, got:\n%s", logs)
			}
			noKeyMaterial(t, logs.String(), k)
		})
	}
}

// noKeyMaterial fails when log holds a private or secret value of k, or a
// JWK member that carries one.
func noKeyMaterial(t *testing.T, log string, k *keySetKeys) {
	t.Helper()
	for _, v := range []string{bigB64(k.rsa.D), bigB64(k.rsa.Primes[0]), bigB64(k.rsa2.D), b64(k.secret), b64(k.ed.Seed()), b64(ecScalar(t, k.ec)), bigB64(k.rsa.N)} {
		if strings.Contains(log, v) || strings.Contains(log, v[:16]) {
			t.Fatalf("the log holds key material:\n%s", log)
		}
	}
	if regexp.MustCompile(`"(d|p|q|dp|dq|qi|k|n)"\s*:`).MatchString(log) {
		t.Fatalf("the log holds a JWK member:\n%s", log)
	}
}

// TestKeySetRefused: a set left with no usable key fails closed exactly
// as an empty set does: UNAVAILABLE AUTH_BACKEND_UNAVAILABLE, never OK.
func TestKeySetRefused(t *testing.T) {
	k := newKeySetKeys(t)
	for name, keys := range map[string][]map[string]any{
		"empty":                 {},
		"only private":          {privJWK(t, k.rsa, "k", "RS256")},
		"only oct":              {{"kty": "oct", "kid": "k", "k": b64(k.secret)}},
		"only a kid used twice": {pubJWK(t, &k.rsa.PublicKey, "k", "RS256"), pubJWK(t, &k.rsa2.PublicKey, "k", "RS256")},
		"only a leaked twin":    {pubJWK(t, &k.rsa.PublicKey, "k", "RS256"), privJWK(t, k.rsa, "leak", "RS256")},
	} {
		t.Run(name, func(t *testing.T) {
			a, _, claims := keySetAuth(t, jwksBody(t, keys...))
			for _, tok := range []string{joseSign(t, jose.RS256, k.rsa, "k", claims(""), nil), joseSign(t, jose.RS256, k.rsa, "leak", claims(""), nil)} {
				p, err := a.Authenticate(t.Context(), tok)
				if p != nil || reasonOf(t, err) != runtime.ReasonAuthBackendUnavailable || status.Convert(err).Code() != codes.Unavailable {
					t.Fatalf("want UNAVAILABLE AUTH_BACKEND_UNAVAILABLE and no principal, got %v, %v", p, err)
				}
			}
		})
	}
}

// TestKeySetWarnsOncePerChange: a key left out is logged once per key set
// it is in, however often that set is fetched again, and again when the
// set changes.
func TestKeySetWarnsOncePerChange(t *testing.T) {
	k := newKeySetKeys(t)
	iss := newIssuer(t)
	iss.ServeJWKSBody(jwksBody(t, k.goodJWK, privJWK(t, k.rsa, "leak", "RS256")))
	logs := &logBuffer{}
	a := newAuth(t, iss, jwtauth.Logger(slog.New(slog.NewTextHandler(logs, nil))), jwtauth.MinRefreshInterval(0))
	claims := claimsFor(iss.URL(), time.Now())
	for i := range 4 { // each unknown kid refreshes the set
		mustDeny(t, a, joseSign(t, jose.RS256, k.rsa, "leak", claims, nil), runtime.ReasonTokenInvalidSignature)
		if i == 0 {
			mustAccept(t, a, joseSign(t, jose.ES256, k.good, "good", claims, nil))
		}
	}
	if n := iss.Fetches(); n < 4 {
		t.Fatalf("test setup: want at least 4 fetches, got %d", n)
	}
	if n := len(logs.lines("WARN", "leak")); n != 1 {
		t.Fatalf("want one WARN line for kid leak over %d fetches of one set, got %d:\n%s", iss.Fetches(), n, logs)
	}
	iss.ServeJWKSBody(jwksBody(t, k.goodJWK, privJWK(t, k.rsa, "leak", "RS256"), pubJWK(t, &k.rsa2.PublicKey, "new", "RS256")))
	mustDeny(t, a, joseSign(t, jose.RS256, k.rsa, "leak", claims, nil), runtime.ReasonTokenInvalidSignature)
	mustDeny(t, a, joseSign(t, jose.RS256, k.rsa, "leak", claims, nil), runtime.ReasonTokenInvalidSignature)
	if n := len(logs.lines("WARN", "leak")); n != 2 {
		t.Fatalf("want a second WARN line for kid leak once the set changed, got %d:\n%s", n, logs)
	}
	noKeyMaterial(t, logs.String(), k)
}

// TestKeyLeakedAfterUse: a key trusted before is dropped, cached
// verifications included, once the set publishes its private half, even
// when that leaves no usable key (the last good keys are not kept then).
func TestKeyLeakedAfterUse(t *testing.T) {
	k := newKeySetKeys(t)
	for name, leaked := range map[string][]map[string]any{
		"with another key": {k.goodJWK, privJWK(t, k.rsa, "k", "RS256")},
		"alone":            {privJWK(t, k.rsa, "k", "RS256")},
		"under a new kid":  {pubJWK(t, &k.rsa.PublicKey, "k", "RS256"), privJWK(t, k.rsa, "k2", "RS256")},
	} {
		t.Run(name, func(t *testing.T) {
			iss := newIssuer(t)
			iss.ServeJWKSBody(jwksBody(t, pubJWK(t, &k.rsa.PublicKey, "k", "RS256")))
			a := newAuth(t, iss, jwtauth.Logger(slog.New(slog.DiscardHandler)), jwtauth.MinRefreshInterval(0))
			claims := claimsFor(iss.URL(), time.Now())
			tok := joseSign(t, jose.RS256, k.rsa, "k", claims, nil)
			mustAccept(t, a, tok)
			mustAccept(t, a, tok) // and cached

			iss.ServeJWKSBody(jwksBody(t, leaked...))
			settle := joseSign(t, jose.RS256, k.rsa2, "unknown", claims, nil)
			_, _ = a.Authenticate(t.Context(), settle) // an unknown kid: one refresh
			p, err := a.Authenticate(t.Context(), tok)
			if p != nil {
				t.Fatalf("want the leaked key's token refused, got %+v", p)
			}
			switch r := reasonOf(t, err); r {
			case runtime.ReasonTokenInvalidSignature, runtime.ReasonAuthBackendUnavailable:
			default:
				t.Fatalf("want TOKEN_INVALID_SIGNATURE or AUTH_BACKEND_UNAVAILABLE, got %s", r)
			}
		})
	}
}

// TestStaticKeyPolicy: StaticJWKS is configuration: a key the policy
// would leave out of a fetched set is an error of New, naming the kid and
// never the key.
func TestStaticKeyPolicy(t *testing.T) {
	k := newKeySetKeys(t)
	for name, keys := range map[string][]jose.JSONWebKey{
		"rsa private":     {{Key: k.rsa, KeyID: "k", Algorithm: "RS256"}},
		"ec private":      {{Key: k.ec, KeyID: "k", Algorithm: "ES256"}},
		"ed25519 private": {{Key: k.ed, KeyID: "k", Algorithm: "EdDSA"}},
		"oct":             {{Key: k.secret, KeyID: "k"}},
		"two keys one kid": {
			{Key: &k.rsa.PublicKey, KeyID: "k", Algorithm: "RS256"},
			{Key: &k.rsa2.PublicKey, KeyID: "k", Algorithm: "RS256"},
		},
		"alg and key disagree": {{Key: &k.ec384.PublicKey, KeyID: "k", Algorithm: "ES256"}},
		"alg not accepted":     {{Key: &k.rsa.PublicKey, KeyID: "k", Algorithm: "RS384"}},
		"use enc":              {{Key: &k.rsa.PublicKey, KeyID: "k", Use: "enc"}},
		"weak":                 {{Key: &k.weak.PublicKey, KeyID: "k"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jwtauth.New(jwtauth.Issuer(staticIssuer, jwtauth.Audience(audience), jwtauth.StaticJWKS(jwksOf(t, keys...))))
			if !errors.Is(err, jwtauth.ErrInvalidOption) {
				t.Fatalf("want an error wrapping ErrInvalidOption, got %v", err)
			}
			if !strings.Contains(err.Error(), `"k"`) {
				t.Errorf("want the error to name kid \"k\", got %v", err)
			}
			noKeyMaterial(t, err.Error(), k)
		})
	}
	t.Run("one key twice", func(t *testing.T) {
		pub := jose.JSONWebKey{Key: &k.rsa.PublicKey, KeyID: "k", Algorithm: "RS256", Use: "sig"}
		a := newStaticAuth(t, []jose.JSONWebKey{pub, pub})
		mustAccept(t, a, joseSign(t, jose.RS256, k.rsa, "k", claimsFor(staticIssuer, time.Now()), nil))
	})
}
