// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"testing"
	"time"

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
	for _, c := range tokens {
		for _, k := range withStreams(callJwt) {
			t.Run(c.name+"/"+k.name, func(t *testing.T) {
				f.wantDenied(t, k, bearerMD(c.token), f.client, codes.Unauthenticated, c.reason)
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
