// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"google.golang.org/grpc/codes"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
)

// hostileToken is a token the JWT authenticator must refuse, and the
// reason it must give.
type hostileToken struct {
	name   string
	token  string
	reason runtime.Reason
}

// wantTokensDenied sends each token on the unary JWT method and on the
// three streaming methods (server-, client- and bidi-streaming) and
// asserts that each call is 16 with the token's reason and that no handler
// ran.
func (f *kindsFixture) wantTokensDenied(t *testing.T, tokens []hostileToken) {
	t.Helper()
	f.wantTokensDeniedWith(t, codes.Unauthenticated, tokens)
}

// wantTokensDeniedWith is wantTokensDenied for a denial with code.
func (f *kindsFixture) wantTokensDeniedWith(t *testing.T, code codes.Code, tokens []hostileToken) {
	t.Helper()
	for _, c := range tokens {
		for _, k := range withStreams(callJwt) {
			t.Run(c.name+"/"+k.name, func(t *testing.T) {
				f.wantDenied(t, k, bearerMD(c.token), f.client, code, c.reason)
			})
		}
	}
	f.noneAllowed(t)
}

// TestJWTClaimOfTheWrongType: a signed token whose registered claim has
// the wrong JSON type is CLAIMS_INVALID, on unary and streaming calls.
func TestJWTClaimOfTheWrongType(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		s := authtest.Scopes("s")
		f.wantTokensDenied(t, []hostileToken{
			{"aud_number", f.iss.Mint(s, authtest.Claim("aud", 7)), runtime.ReasonClaimsInvalid},
			{"aud_null_member", f.iss.Mint(s, authtest.Claim("aud", []any{nil, "library"})), runtime.ReasonClaimsInvalid},
			{"exp_string", f.iss.Mint(s, authtest.Claim("exp", "4102444800")), runtime.ReasonClaimsInvalid},
			{"sub_array", f.iss.Mint(s, authtest.Claim("sub", []string{"alice"})), runtime.ReasonClaimsInvalid},
			{"iss_number", f.iss.Mint(s, authtest.Claim("iss", 1)), runtime.ReasonClaimsInvalid},
		})
	})
}

// TestScopeStringsStrict: a scope string that is not RFC 6749 §3.3's
// grammar is 16 CLAIMS_INVALID, for a JWT's scope and scp claims and for
// an introspection answer's scope, on unary and streaming calls; a lenient
// split would have found the method's scope "s" in each.
func TestScopeStringsStrict(t *testing.T) {
	malformed := []string{"s  t", " s", "s ", "s\tt", "t\ns", "s\u00a0t"}
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		var tokens []hostileToken
		for _, sc := range malformed {
			tokens = append(tokens,
				hostileToken{"scope/" + sc, f.iss.Mint(authtest.Claim("scope", sc)), runtime.ReasonClaimsInvalid},
				hostileToken{"scp_string/" + sc, f.iss.Mint(authtest.Claim("scp", sc)), runtime.ReasonClaimsInvalid},
				hostileToken{"scp_member/" + sc, f.iss.Mint(authtest.Claim("scp", []string{"s", sc})), runtime.ReasonClaimsInvalid},
			)
		}
		tokens = append(tokens, hostileToken{"scp_member_two_scopes", f.iss.Mint(authtest.Claim("scp", []string{"t s"})), runtime.ReasonClaimsInvalid})
		f.wantTokensDenied(t, tokens)

		for _, sc := range malformed {
			token := f.in.Issue("bob", nil, "library", time.Hour, map[string]any{"scope": sc})
			for _, k := range withStreams(callOAuth2) {
				t.Run("introspection/"+sc+"/"+k.name, func(t *testing.T) {
					f.wantDenied(t, k, bearerMD(token), f.client, codes.Unauthenticated, runtime.ReasonClaimsInvalid)
				})
			}
		}
		f.noneAllowed(t)

		// Well-formed strings still work.
		f.wantAllowed(t, callJwt, bearerMD(f.iss.Mint(authtest.Claim("scope", "t s"))), f.client, runtime.BearerJWT, "alice")
		f.wantAllowed(t, kindsStreams[2], bearerMD(f.iss.Mint(authtest.Claim("scp", []string{"t", "s"}))), f.client, runtime.BearerJWT, "alice")
		f.wantAllowed(t, kindsStreams[0], bearerMD(f.in.Issue("bob", []string{"t", "s"}, "library", time.Hour, nil)), f.client, runtime.OAuth2Token, "bob")
	})
}

// TestJWTCriticalHeader: a token signed by the issuer's own key whose
// header has crit (any value) or b64 is 16 CREDENTIALS_MALFORMED on unary
// and streaming calls, and causes no key fetch.
func TestJWTCriticalHeader(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		s := authtest.Scopes("s")
		f.wantTokensDenied(t, []hostileToken{
			{"crit_empty", f.iss.Mint(s, authtest.Header("crit", []string{})), runtime.ReasonCredentialsMalformed},
			{"crit_b64", f.iss.Mint(s, authtest.Header("crit", []string{"b64"}), authtest.Header("b64", true)), runtime.ReasonCredentialsMalformed},
			{"crit_unknown", f.iss.Mint(s, authtest.Header("crit", []string{"x-policy"}), authtest.Header("x-policy", "v")), runtime.ReasonCredentialsMalformed},
			{"crit_string", f.iss.Mint(s, authtest.Header("crit", "b64")), runtime.ReasonCredentialsMalformed},
			{"b64_false", f.iss.Mint(s, authtest.Header("b64", false)), runtime.ReasonCredentialsMalformed},
		})
		if n := f.iss.Fetches(); n != 0 {
			t.Errorf("%d JWKS fetches; want 0 (the header is checked before any key)", n)
		}
	})
}

// TestJWTExplicitTyping: an OIDC ID token of the trusted issuer for this
// audience (typ JWT), and tokens without typ or with another type, are 16
// CLAIMS_INVALID on unary and streaming calls, without a key fetch; an
// access token (typ at+jwt) passes.
func TestJWTExplicitTyping(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		s := authtest.Scopes("s")
		f.wantTokensDenied(t, []hostileToken{
			{"id_token", f.iss.Mint(s, authtest.Type("JWT"), authtest.Claim("nonce", "n-0S6"), authtest.Claim("azp", "library")), runtime.ReasonClaimsInvalid},
			{"no_typ", f.iss.Mint(s, authtest.Type("")), runtime.ReasonClaimsInvalid},
			{"secevent", f.iss.Mint(s, authtest.Type("secevent+jwt")), runtime.ReasonClaimsInvalid},
			{"typ_number", f.iss.Mint(s, authtest.Header("typ", 9068)), runtime.ReasonClaimsInvalid},
		})
		if n := f.iss.Fetches(); n != 0 {
			t.Errorf("%d JWKS fetches; want 0 (typ is checked before any key)", n)
		}
		for _, k := range withStreams(callJwt) {
			f.wantAllowed(t, k, bearerMD(f.iss.Mint(s, authtest.Type("application/at+jwt"))), f.client, runtime.BearerJWT, "alice")
		}
	})
}

// signedBy is a token of issuer signed with key under kid, valid now,
// with scope "s".
func signedBy(t *testing.T, issuer string, alg jose.SignatureAlgorithm, key any, kid string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": issuer, "sub": "alice", "aud": "library", "scope": "s", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// jwks is the JSON key set of keys, written by go-jose (private members
// included).
func jwks(t *testing.T, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestJWKSPolicy: a JWKS that publishes private keys or names two keys
// by one kid is served to the server's authenticator. The leaked keys and
// the ambiguous kid never verify a token, on unary and streaming calls,
// while the set's good key does; a set left with no usable key fails
// closed with 14 AUTH_BACKEND_UNAVAILABLE.
func TestJWKSPolicy(t *testing.T) {
	good, leakedEC, dup1, dup2 := ecKey(t), ecKey(t), ecKey(t), ecKey(t)
	_, leakedEd, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kindsModes(t, func(t *testing.T, m mode) {
		t.Run("mixed_set", func(t *testing.T) {
			f := newKindsFixture(t, m, kindsOptions{uncachedJWT: true})
			f.iss.ServeJWKSBody(jwks(t,
				jose.JSONWebKey{Key: &good.PublicKey, KeyID: "good", Algorithm: "ES256", Use: "sig"},
				jose.JSONWebKey{Key: leakedEC, KeyID: "leaked-ec", Algorithm: "ES256", Use: "sig"},
				jose.JSONWebKey{Key: leakedEd, KeyID: "leaked-ed", Algorithm: "EdDSA", Use: "sig"},
				jose.JSONWebKey{Key: &leakedEC.PublicKey, KeyID: "twin", Algorithm: "ES256", Use: "sig"},
				jose.JSONWebKey{Key: []byte("a shared secret of 32 bytes!!!!!"), KeyID: "oct", Algorithm: "HS256", Use: "sig"},
				jose.JSONWebKey{Key: &dup1.PublicKey, KeyID: "dup", Algorithm: "ES256", Use: "sig"},
				jose.JSONWebKey{Key: &dup2.PublicKey, KeyID: "dup", Algorithm: "ES256", Use: "sig"},
			))
			f.wantTokensDenied(t, []hostileToken{
				{name: "leaked_ec", token: signedBy(t, f.iss.URL(), jose.ES256, leakedEC, "leaked-ec"), reason: runtime.ReasonTokenInvalidSignature},
				{name: "leaked_ed25519", token: signedBy(t, f.iss.URL(), jose.EdDSA, leakedEd, "leaked-ed"), reason: runtime.ReasonTokenInvalidSignature},
				{name: "public_twin_of_leaked", token: signedBy(t, f.iss.URL(), jose.ES256, leakedEC, "twin"), reason: runtime.ReasonTokenInvalidSignature},
				{name: "kid_twice_first", token: signedBy(t, f.iss.URL(), jose.ES256, dup1, "dup"), reason: runtime.ReasonTokenInvalidSignature},
				{name: "kid_twice_second", token: signedBy(t, f.iss.URL(), jose.ES256, dup2, "dup"), reason: runtime.ReasonTokenInvalidSignature},
			})
			for _, k := range withStreams(callJwt) {
				f.wantAllowed(t, k, bearerMD(signedBy(t, f.iss.URL(), jose.ES256, good, "good")), f.client, runtime.BearerJWT, "alice")
			}
			for _, kid := range []string{"leaked-ec", "leaked-ed", "twin", "oct", "dup"} {
				if n := strings.Count(f.log.String(), "kid="+kid+" "); n != 1 {
					t.Errorf("the log names kid %s %d times; want once (one fetch):\n%s", kid, n, f.log)
				}
			}
			f.noSecrets(t, base64.RawURLEncoding.EncodeToString(must(leakedEC.Bytes())), base64.RawURLEncoding.EncodeToString(leakedEd.Seed()))
		})
		t.Run("only_private", func(t *testing.T) {
			f := newKindsFixture(t, m, kindsOptions{uncachedJWT: true})
			f.iss.ServeJWKSBody(jwks(t, jose.JSONWebKey{Key: leakedEC, KeyID: "leaked-ec", Algorithm: "ES256", Use: "sig"}))
			f.wantTokensDeniedWith(t, codes.Unavailable, []hostileToken{
				{"leaked", signedBy(t, f.iss.URL(), jose.ES256, leakedEC, "leaked-ec"), runtime.ReasonAuthBackendUnavailable},
			})
		})
	})
}
