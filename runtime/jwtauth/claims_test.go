// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// TestRegisteredClaimTypes: the registered claims are read with RFC 7519's
// types from the one decode of the claims; a claim of another type is
// CLAIMS_INVALID (the token is a well-formed JWS whose claims are wrong),
// never CREDENTIALS_MALFORMED, which is for what is not a JWS at all.
func TestRegisteredClaimTypes(t *testing.T) {
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	a, err := jwtauth.New(jwtauth.Issuer(iss.URL()), jwtauth.Audience("library"), jwtauth.StaticKeys(iss.KeySet()), jwtauth.CacheSize(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		opts   []authtest.TokenOption
		reason runtime.Reason // "" for OK
	}{
		{"valid", nil, ""},
		{"aud_array", []authtest.TokenOption{authtest.Claim("aud", []string{"x", "library"})}, ""},
		{"aud_null", []authtest.TokenOption{authtest.Claim("aud", []any{nil})}, runtime.ReasonClaimsInvalid},
		{"aud_number", []authtest.TokenOption{authtest.Claim("aud", 7)}, runtime.ReasonClaimsInvalid},
		{"aud_object", []authtest.TokenOption{authtest.Claim("aud", map[string]any{"a": "library"})}, runtime.ReasonClaimsInvalid},
		{"iss_number", []authtest.TokenOption{authtest.Claim("iss", 1)}, runtime.ReasonClaimsInvalid},
		{"sub_array", []authtest.TokenOption{authtest.Claim("sub", []string{"alice"})}, runtime.ReasonClaimsInvalid},
		{"jti_number", []authtest.TokenOption{authtest.Claim("jti", 1)}, runtime.ReasonClaimsInvalid},
		{"exp_string", []authtest.TokenOption{authtest.Claim("exp", "4102444800")}, runtime.ReasonClaimsInvalid},
		{"exp_huge", []authtest.TokenOption{authtest.Claim("exp", 1e19)}, runtime.ReasonClaimsInvalid},
		{"nbf_negative_huge", []authtest.TokenOption{authtest.Claim("nbf", -1e19)}, runtime.ReasonClaimsInvalid},
		{"iat_bool", []authtest.TokenOption{authtest.Claim("iat", true)}, runtime.ReasonClaimsInvalid},
		{"exp_fraction", []authtest.TokenOption{authtest.Claim("exp", 4102444800.5)}, ""},
		{"aud_bool", []authtest.TokenOption{authtest.Claim("aud", true)}, runtime.ReasonClaimsInvalid},
		{"nbf_string", []authtest.TokenOption{authtest.Claim("nbf", "0")}, runtime.ReasonClaimsInvalid},
		{"iss_array_of_null", []authtest.TokenOption{authtest.Claim("iss", []any{nil})}, runtime.ReasonClaimsInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Authenticate(context.Background(), iss.Mint(c.opts...))
			got := runtime.Reason("")
			if e, ok := runtime.FromError(err); ok {
				got = e.Reason
			} else if err != nil {
				t.Fatalf("untyped error %v", err)
			}
			if got != c.reason {
				t.Errorf("reason %q; want %q", got, c.reason)
			}
		})
	}
}

// TestNilOption: a nil option is a configuration error, not a panic.
func TestNilOption(t *testing.T) {
	_, err := jwtauth.New(jwtauth.Issuer("https://i.example"), nil, jwtauth.Audience("a"))
	if !errors.Is(err, jwtauth.ErrInvalidConfig) {
		t.Fatalf("New(nil option) = %v; want an error wrapping ErrInvalidConfig", err)
	}
}
