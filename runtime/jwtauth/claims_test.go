// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	a, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.StaticJWKS(iss.JWKS())), jwtauth.CacheSize(0))
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

// TestNilOption: a nil option is an ErrInvalidOption error, not a panic.
func TestNilOption(t *testing.T) {
	_, err := jwtauth.New(jwtauth.Issuer("https://i.example", jwtauth.Audience("a")), nil)
	if !errors.Is(err, jwtauth.ErrInvalidOption) {
		t.Fatalf("New(nil option) = %v; want an error wrapping ErrInvalidOption", err)
	}
	if want := "jwtauth: invalid option: nil option"; err.Error() != want {
		t.Errorf("New(nil option) = %q; want %q", err, want)
	}
}

// TestScopeClaims: "scope" and a string "scp" are split by
// runtime.ParseScope (RFC 6749 §3.3, strictly); each member of an array
// "scp" is one scope-token. Anything else is CLAIMS_INVALID, never split
// leniently into scopes another reader of the claim would not see.
func TestScopeClaims(t *testing.T) {
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	a, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.StaticJWKS(iss.JWKS())), jwtauth.CacheSize(0))
	if err != nil {
		t.Fatal(err)
	}
	// Each holds "zq", which no denial may quote.
	malformed := []string{"zq  b", " zq", "zq ", "zq\tb", "zq\nb", "\tzq", " zq ", `zq"b`, `zq\b`, "zq\u00e9", "zq\x00", "zq\x7f"}
	type tc struct {
		name   string
		claim  string
		value  any
		ok     bool
		scopes []string // when ok
	}
	cases := []tc{
		{"scope_two", "scope", "a b", true, []string{"a", "b"}},
		{"scope_empty", "scope", "", true, nil},
		{"scope_every_allowed_char", "scope", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~", true, []string{"!#$%&'()*+,-./:;<=>?@[]^_`{|}~"}},
		{"scp_string", "scp", "a b", true, []string{"a", "b"}},
		{"scp_array", "scp", []string{"a", "b"}, true, []string{"a", "b"}},
		{"scp_empty_array", "scp", []string{}, true, nil},
	}
	for i, m := range malformed {
		cases = append(cases,
			tc{name: fmt.Sprintf("scope_malformed_%d", i), claim: "scope", value: m},
			tc{name: fmt.Sprintf("scp_string_malformed_%d", i), claim: "scp", value: m},
			tc{name: fmt.Sprintf("scp_member_malformed_%d", i), claim: "scp", value: []string{"a", m}},
		)
	}
	cases = append(cases,
		tc{name: "scp_member_two_scopes", claim: "scp", value: []string{"a b"}},
		tc{name: "scp_member_empty", claim: "scp", value: []string{""}},
		tc{name: "scp_member_number", claim: "scp", value: []any{"a", 1}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), iss.Mint(authtest.Claim(c.claim, c.value)))
			if !c.ok {
				e, ok := runtime.FromError(err)
				if !ok || e.Reason != runtime.ReasonClaimsInvalid || p != nil {
					t.Fatalf("%s %q: got %v, %v; want CLAIMS_INVALID and no principal", c.claim, c.value, p, err)
				}
				if strings.Contains(e.Message+e.Detail, "zq") {
					t.Errorf("the denial quotes the claim: %q / %q", e.Message, e.Detail)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s %q: want OK, got %v", c.claim, c.value, err)
			}
			if !slices.Equal(p.Scopes, c.scopes) {
				t.Fatalf("%s %q: scopes %q; want %q", c.claim, c.value, p.Scopes, c.scopes)
			}
		})
	}
}
