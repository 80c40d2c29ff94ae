// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// CertificateThumbprint returns the RFC 8705 §3.1 "x5t#S256" of cert: the
// unpadded base64url SHA-256 of its DER encoding.
func CertificateThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// PeerCertificateThumbprint returns the [CertificateThumbprint] of the
// call's client certificate: the one a trusted proxy forwarded
// (x-forwarded-client-cert, see [TrustedProxy]) while the enforcer
// authenticates the call, else the one the TLS connection presented (of
// the [Connection] an integration handed over, else of the gRPC peer), or
// "" when the call came without one. It is for authenticators of
// certificate-bound tokens; see [CheckCertificateBinding].
func PeerCertificateThumbprint(ctx context.Context) string {
	if c, ok := ctx.Value(forwardedCertKey{}).(*x509.Certificate); ok && c != nil {
		return CertificateThumbprint(c)
	}
	if hc, ok := ConnectionFrom(ctx); ok {
		if hc.TLS == nil || len(hc.TLS.PeerCertificates) == 0 || hc.TLS.PeerCertificates[0] == nil {
			return ""
		}
		return CertificateThumbprint(hc.TLS.PeerCertificates[0])
	}
	p, _ := peer.FromContext(ctx)
	if p == nil {
		return ""
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.PeerCertificates) == 0 || ti.State.PeerCertificates[0] == nil {
		return ""
	}
	return CertificateThumbprint(ti.State.PeerCertificates[0])
}

// forwardedCertKey keys, in the context the enforcer hands authenticators,
// the leaf certificate a trusted proxy forwarded for the call.
type forwardedCertKey struct{}

// CheckCertificateBinding checks a certificate-bound token (RFC 8705 §3): the
// call ctx must have come over a TLS connection whose client certificate has
// the thumbprint x5tS256, the token's "cnf" member "x5t#S256". A call
// without a client certificate, or with another one, is refused with
// CREDENTIALS_INVALID; nil means the binding holds.
//
// It is for authenticators. The binding belongs to the call, not to the
// token: an authenticator that caches what it learned about a token (a
// verified JWT, an introspection answer) shares it between connections,
// so it checks the binding on every call, cache hits included. It returns
// a new *Error on every call.
func CheckCertificateBinding(ctx context.Context, x5tS256 string) *Error {
	got := PeerCertificateThumbprint(ctx)
	if got == "" {
		return NewError(ReasonCredentialsInvalid, "the token is bound to a client certificate and the connection presented none")
	}
	if got != x5tS256 {
		return NewError(ReasonCredentialsInvalid, "the token is bound to another client certificate")
	}
	return nil
}
