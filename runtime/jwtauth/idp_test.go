// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// idpFixture is a file of testdata/idp.
type idpFixture struct {
	Header     map[string]any `json:"header"`
	Claims     map[string]any `json:"claims"`
	WantScopes []string       `json:"want_scopes"`
	Variants   []struct {
		Name   string         `json:"name"`
		Claims map[string]any `json:"claims"`
		Reason runtime.Reason `json:"reason"`
		Scopes []string       `json:"scopes"`
	} `json:"variants"`
}

func loadIDP(t *testing.T, name string) idpFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "idp", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f idpFixture
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	return f
}

// mint signs claims (with {{iss}} replaced by iss, and the header's typ,
// none when it has none) with iss's key; a nil claim is left out.
func (f idpFixture) mint(t *testing.T, signer *authtest.Issuer, iss string, override map[string]any) string {
	t.Helper()
	typ := ""
	if v, ok := f.Header["typ"].(string); ok {
		typ = v
	}
	opts := []authtest.TokenOption{authtest.Type(typ), authtest.Without("sub", "aud")}
	claims := map[string]any{}
	for k, v := range f.Claims {
		claims[k] = v
	}
	for k, v := range override {
		claims[k] = v
	}
	for k, v := range claims {
		opts = append(opts, authtest.Claim(k, replaceIss(v, iss)))
	}
	return signer.Mint(opts...)
}

// replaceIss puts iss for {{iss}} in strings, and in the strings of arrays.
func replaceIss(v any, iss string) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "{{iss}}", iss)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = replaceIss(e, iss)
		}
		return out
	}
	return v
}

// TestIdentityProviders: for each provider of the README's table, a token
// shaped after its documentation (testdata/idp), signed by a real issuer
// that serves keys and metadata over HTTPS at the place the provider's
// issuer would, is accepted by the configuration the README shows, with
// the scopes the rules name; its variants (an ID token of the same
// provider, a token for another audience) are decided as they must be.
func TestIdentityProviders(t *testing.T) {
	for _, c := range []struct {
		name   string
		path   string // the issuer's path, as the provider's
		config func(iss *authtest.Issuer) []jwtauth.Option
		iss    func(iss *authtest.Issuer) []string // the iss values to mint with
	}{
		{"auth0", "/", func(i *authtest.Issuer) []jwtauth.Option { return []jwtauth.Option{auth0(i.URL())} }, nil},
		{"okta", "/oauth2/default", func(i *authtest.Issuer) []jwtauth.Option { return []jwtauth.Option{okta(i.URL())} }, nil},
		{"entra", "/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0", func(i *authtest.Issuer) []jwtauth.Option { return []jwtauth.Option{entraID(i.URL())} }, nil},
		{"keycloak", "/realms/library", func(i *authtest.Issuer) []jwtauth.Option { return []jwtauth.Option{keycloak(i.URL())} }, nil},
		{"google", "", func(i *authtest.Issuer) []jwtauth.Option { return google(i.JWKSURL()) },
			func(*authtest.Issuer) []string { return []string{"https://accounts.google.com", "accounts.google.com"} }},
		{"cognito", "/eu-west-1_example", func(i *authtest.Issuer) []jwtauth.Option { return []jwtauth.Option{cognito(i.URL())} }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := loadIDP(t, c.name)
			var opts []authtest.IssuerOption
			if c.path != "" {
				opts = append(opts, authtest.IssuerPath(c.path))
			}
			signer := authtest.NewIssuer(t, opts...)
			a, err := jwtauth.New(append(c.config(signer), jwtauth.HTTPClient(signer.HTTPClient()))...)
			if err != nil {
				t.Fatal(err)
			}
			issuers := []string{signer.URL()}
			if c.iss != nil {
				issuers = c.iss(signer)
			}
			for _, iss := range issuers {
				p := mustAccept(t, a, f.mint(t, signer, iss, nil))
				if !slices.Equal(p.Scopes, f.WantScopes) {
					t.Errorf("iss %s: scopes %q; want %q", iss, p.Scopes, f.WantScopes)
				}
				if p.Issuer != iss {
					t.Errorf("issuer %q; want %q", p.Issuer, iss)
				}
				for _, v := range f.Variants {
					token := f.mint(t, signer, iss, v.Claims)
					if v.Reason != "" {
						mustDeny(t, a, token, v.Reason)
						continue
					}
					if p := mustAccept(t, a, token); !slices.Equal(p.Scopes, v.Scopes) {
						t.Errorf("%s: scopes %q; want %q", v.Name, p.Scopes, v.Scopes)
					}
				}
			}
			// A token of another typ (a security event token, say) is
			// refused whatever the provider sends.
			f.Header = map[string]any{"typ": "secevent+jwt"}
			mustDeny(t, a, f.mint(t, signer, issuers[0], nil), runtime.ReasonClaimsInvalid)
		})
	}
}
