// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

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
)

// TestCertificateBinding: the thumbprint is RFC 8705's x5t#S256 of the
// call's TLS client certificate, and the binding holds only on a
// connection that presented that certificate.
func TestCertificateBinding(t *testing.T) {
	ca := newTestCA(t, "binding CA")
	mine, other := clientLeaf(t, ca, authtest.LeafOptions{CommonName: "mine"}), clientLeaf(t, ca, authtest.LeafOptions{CommonName: "other"})
	sum := sha256.Sum256(mine.Leaf.Raw)
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	if got := runtime.CertificateThumbprint(mine.Leaf); got != want {
		t.Fatalf("CertificateThumbprint = %q; want %q", got, want)
	}
	withPeer := func(info credentials.AuthInfo) context.Context {
		return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{}, AuthInfo: info})
	}
	withCert := func(c *x509.Certificate) context.Context {
		info := credentials.TLSInfo{}
		if c != nil {
			info.State = tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}
		}
		return withPeer(info)
	}
	for _, c := range []struct {
		name  string
		ctx   context.Context
		thumb string
		ok    bool
	}{
		{"same_certificate", withCert(mine.Leaf), want, true},
		{"other_certificate", withCert(other.Leaf), runtime.CertificateThumbprint(other.Leaf), false},
		{"tls_without_certificate", withCert(nil), "", false},
		{"nil_certificate", withPeer(credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{nil}}}), "", false},
		{"plaintext", withPeer(plaintextInfo{}), "", false},
		{"no_peer", context.Background(), "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := runtime.PeerCertificateThumbprint(c.ctx); got != c.thumb {
				t.Errorf("PeerCertificateThumbprint = %q; want %q", got, c.thumb)
			}
			err := runtime.CheckCertificateBinding(c.ctx, want)
			switch {
			case c.ok && err != nil:
				t.Errorf("CheckCertificateBinding: %v; want nil", err)
			case !c.ok && (err == nil || err.Reason != runtime.ReasonCredentialsInvalid):
				t.Errorf("CheckCertificateBinding = %v; want CREDENTIALS_INVALID", err)
			}
		})
	}
}

// plaintextInfo is the AuthInfo of a connection without TLS.
type plaintextInfo struct{}

func (plaintextInfo) AuthType() string { return "insecure" }
