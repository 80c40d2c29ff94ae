// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"testing"

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
