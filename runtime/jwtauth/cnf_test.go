// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"testing"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// withPeerCert is a server-side call context whose TLS peer presented cert.
func withPeerCert(cert *x509.Certificate) context.Context {
	info := credentials.TLSInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
	if cert != nil {
		info.State = tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	}
	return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{}, AuthInfo: info})
}

func thumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestSecurity47_CertificateBoundToken: RFC 8705 cnf.x5t#S256 is checked
// against the connection's client certificate.
// bindingFixture is an authenticator of iss with static keys, two client
// certificates (mine, other), and a token bound to mine.
type bindingFixture struct {
	iss         *authtest.Issuer
	a           *jwtauth.Authenticator
	mine, other *x509.Certificate
	bound       string
}

func newBindingFixture(t *testing.T) *bindingFixture {
	t.Helper()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	a, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.StaticJWKS(iss.JWKS())))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := authtest.NewCA("cnf CA")
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := ca.Leaf(authtest.LeafOptions{CommonName: "mine", Client: true})
	other, _ := ca.Leaf(authtest.LeafOptions{CommonName: "other", Client: true})
	return &bindingFixture{iss: iss, a: a, mine: mine.Leaf, other: other.Leaf,
		bound: iss.Mint(authtest.Claim("cnf", map[string]any{"x5t#S256": thumbprint(mine.Leaf)}))}
}

func TestSecurity47_CertificateBoundToken(t *testing.T) {
	f := newBindingFixture(t)
	iss, a, bound := f.iss, f.a, f.bound
	mine, other := f.mine, f.other
	for _, c := range []struct {
		name   string
		token  string
		ctx    context.Context
		reason runtime.Reason // "" for OK
	}{
		{"bound_right_certificate", bound, withPeerCert(mine), ""},
		{"bound_other_certificate", bound, withPeerCert(other), runtime.ReasonCredentialsInvalid},
		{"bound_no_certificate", bound, withPeerCert(nil), runtime.ReasonCredentialsInvalid},
		{"bound_no_peer", bound, context.Background(), runtime.ReasonCredentialsInvalid},
		{"unbound_any_connection", iss.Mint(), withPeerCert(nil), ""},
		{"unsupported_method_jkt", iss.Mint(authtest.Claim("cnf", map[string]any{"jkt": "abc"})), withPeerCert(mine), runtime.ReasonCredentialsInvalid},
		{"x5t_and_jkt", iss.Mint(authtest.Claim("cnf", map[string]any{"x5t#S256": thumbprint(mine), "jkt": "abc"})), withPeerCert(mine), runtime.ReasonCredentialsInvalid},
		{"empty_cnf", iss.Mint(authtest.Claim("cnf", map[string]any{})), withPeerCert(mine), runtime.ReasonCredentialsInvalid},
		{"cnf_not_object", iss.Mint(authtest.Claim("cnf", "x")), withPeerCert(mine), runtime.ReasonClaimsInvalid},
		{"thumbprint_not_string", iss.Mint(authtest.Claim("cnf", map[string]any{"x5t#S256": 7})), withPeerCert(mine), runtime.ReasonCredentialsInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := a.Authenticate(c.ctx, c.token)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("want OK: %v", err)
				}
				return
			}
			e, ok := runtime.FromError(err)
			if !ok || e.Reason != c.reason || p != nil {
				t.Fatalf("got %v, %v; want %s and no principal", p, err, c.reason)
			}
		})
	}
}
