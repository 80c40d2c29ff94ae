// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package mtls_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/mtls"
)

const td = "example.org"

// ---- fixtures ----

func newCA(t testing.TB, name string) *authtest.CA {
	t.Helper()
	ca, err := authtest.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// clientLeaf mints a client certificate of ca.
func clientLeaf(t testing.TB, ca *authtest.CA, o authtest.LeafOptions) *tls.Certificate {
	t.Helper()
	o.Client = true
	c, err := ca.Leaf(o)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

func workload(t testing.TB, ca *authtest.CA, uris ...string) *tls.Certificate {
	t.Helper()
	return clientLeaf(t, ca, authtest.LeafOptions{CommonName: "workload", URIs: uris})
}

// serverBase is the server's own TLS config (its certificate is of
// serverCA, which clients trust).
func serverBase(t testing.TB, serverCA *authtest.CA) *tls.Config {
	t.Helper()
	cfg, err := serverCA.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type handshakeResult struct {
	state     tls.ConnectionState // the server's view
	serverErr error
	clientErr error
}

// handshake runs a real TLS handshake over loopback TCP between a server
// configured by serverCfg and a client that trusts serverCA and presents
// cert (none if nil). The client always sends its certificate, even if the
// server's list of acceptable CAs does not name its issuer, so a foreign
// certificate reaches the server's verification.
func handshake(t testing.TB, serverCfg *tls.Config, serverCA *authtest.CA, cert *tls.Certificate) handshakeResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Deadlines only guard against a hung test; nothing asserts on time.
	deadline := time.Now().Add(30 * time.Second)
	type srvResult struct {
		state tls.ConnectionState
		err   error
	}
	ch := make(chan srvResult, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- srvResult{err: err}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(deadline)
		s := tls.Server(c, serverCfg)
		err = s.Handshake()
		if err == nil {
			// One byte tells the client the server accepted it (a TLS 1.3
			// client finishes its handshake before the server verifies).
			_, err = s.Write([]byte{1})
		}
		ch <- srvResult{s.ConnectionState(), err}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.SetDeadline(deadline)
	cl := tls.Client(raw, &tls.Config{
		RootCAs:    serverCA.Pool(),
		ServerName: "localhost",
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if cert == nil {
				return &tls.Certificate{}, nil
			}
			return cert, nil
		},
	})
	clientErr := cl.Handshake()
	if clientErr == nil {
		_, clientErr = cl.Read(make([]byte, 1))
	}
	cl.Close()
	r := <-ch
	return handshakeResult{state: r.state, serverErr: r.err, clientErr: clientErr}
}

// connect runs a handshake that must succeed and returns the TLSInfo the
// server's gRPC transport would see.
func connect(t testing.TB, serverCfg *tls.Config, serverCA *authtest.CA, cert *tls.Certificate) credentials.TLSInfo {
	t.Helper()
	r := handshake(t, serverCfg, serverCA, cert)
	if r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("handshake failed: server: %v; client: %v", r.serverErr, r.clientErr)
	}
	return credentials.TLSInfo{State: r.state, CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
}

// mustFailHandshake asserts the server refused the handshake.
func mustFailHandshake(t testing.TB, serverCfg *tls.Config, serverCA *authtest.CA, cert *tls.Certificate, wantInErr string) {
	t.Helper()
	r := handshake(t, serverCfg, serverCA, cert)
	if r.serverErr == nil {
		t.Fatalf("server accepted the handshake; want it refused (%s)", wantInErr)
	}
	if !strings.Contains(r.serverErr.Error(), wantInErr) {
		t.Errorf("server handshake error = %v; want it to mention %q", r.serverErr, wantInErr)
	}
	if r.clientErr == nil {
		t.Errorf("client saw no error; want the server's alert")
	}
}

func newAuth(t testing.TB, opts ...mtls.Option) *mtls.Authenticator {
	t.Helper()
	a, err := mtls.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// wantDenied asserts err is a denial with reason want and code
// UNAUTHENTICATED, and p is nil.
func wantDenied(t testing.TB, p *runtime.Principal, err error, want runtime.Reason) *runtime.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("authenticated as %q; want %s", p.Subject, want)
	}
	if p != nil {
		t.Errorf("principal %+v returned with an error", p)
	}
	var e *runtime.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *runtime.Error", err, err)
	}
	if e.Reason != want {
		t.Fatalf("reason = %s (%q); want %s", e.Reason, e.Message, want)
	}
	if e.Code != codes.Unauthenticated {
		t.Errorf("code = %s; want Unauthenticated", e.Code)
	}
	return e
}

func wantOK(t testing.TB, p *runtime.Principal, err error, subject string) {
	t.Helper()
	if err != nil {
		t.Fatalf("AuthenticatePeer: %v", err)
	}
	if p == nil || p.Subject != subject || p.Kind != runtime.MTLS {
		t.Fatalf("principal = %+v; want kind MTLS, subject %q", p, subject)
	}
}

// clock is a settable time source.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time      { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) set(d time.Duration) { c.off.Store(int64(d)) }

func writeBundle(t testing.TB, path string, cas ...*authtest.CA) {
	t.Helper()
	var b []byte
	for _, ca := range cas {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Certificate().Raw})...)
	}
	writeFile(t, path, b)
}

// writeFile replaces path atomically, as a deployment would.
func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// ---- tests ----

func TestSecurity42_NoClientCertificate(t *testing.T) {
	ca, srvCA := newCA(t, "workloads"), newCA(t, "server")
	a := newAuth(t, mtls.SPIFFE(td), mtls.Bundle(ca.Pool()))
	cfg := a.ServerTLSConfig(serverBase(t, srvCA))

	// VerifyClientCertIfGiven: the handshake succeeds without a
	// certificate, and the method that needs one refuses the call.
	info := connect(t, cfg, srvCA, nil)
	if len(info.State.PeerCertificates) != 0 {
		t.Fatalf("client sent %d certificates; want none", len(info.State.PeerCertificates))
	}
	p, err := a.AuthenticatePeer(context.Background(), info)
	e := wantDenied(t, p, err, runtime.ReasonCredentialsMissing)
	if e.Message != "this method needs a verified client certificate" {
		t.Errorf("message = %q", e.Message)
	}
	if got := e.GRPCStatus().Code(); got != codes.Unauthenticated {
		t.Errorf("status code = %s; want Unauthenticated (16)", got)
	}

	// A zero TLSInfo (no TLS state at all) is the same.
	p, err = a.AuthenticatePeer(context.Background(), credentials.TLSInfo{})
	wantDenied(t, p, err, runtime.ReasonCredentialsMissing)
}

func TestSecurity43_WorkloadCertificates(t *testing.T) {
	ca, srvCA := newCA(t, "workloads"), newCA(t, "server")
	clk := &clock{}
	a := newAuth(t, mtls.SPIFFE(td), mtls.Bundle(ca.Pool()), mtls.Clock(clk.now))
	cfg := a.ServerTLSConfig(serverBase(t, srvCA))
	ctx := context.Background()

	t.Run("valid", func(t *testing.T) {
		const id = "spiffe://example.org/ns/prod/sa/frontend"
		info := connect(t, cfg, srvCA, workload(t, ca, id))
		p, err := a.AuthenticatePeer(ctx, info)
		wantOK(t, p, err, id)
		leaf := info.State.PeerCertificates[0]
		if p.Certificate != leaf {
			t.Errorf("Certificate is not the peer's leaf")
		}
		if !p.ExpiresAt.Equal(leaf.NotAfter) {
			t.Errorf("ExpiresAt = %s; want %s", p.ExpiresAt, leaf.NotAfter)
		}
	})

	t.Run("no URI SAN", func(t *testing.T) {
		info := connect(t, cfg, srvCA, workload(t, ca))
		p, err := a.AuthenticatePeer(ctx, info)
		e := wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
		if !strings.Contains(e.Message, "no URI SAN") {
			t.Errorf("message = %q", e.Message)
		}
	})

	t.Run("two URI SANs", func(t *testing.T) {
		info := connect(t, cfg, srvCA, workload(t, ca, "spiffe://example.org/a", "spiffe://example.org/b"))
		p, err := a.AuthenticatePeer(ctx, info)
		e := wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
		if !strings.Contains(e.Message, "2 URI SANs") {
			t.Errorf("message = %q", e.Message)
		}
	})

	t.Run("CA=true", func(t *testing.T) {
		cert := clientLeaf(t, ca, authtest.LeafOptions{URIs: []string{"spiffe://example.org/ns/prod/sa/ca"}, IsCA: true})
		info := connect(t, cfg, srvCA, cert)
		if !info.State.PeerCertificates[0].IsCA {
			t.Fatal("fixture: leaf is not a CA")
		}
		p, err := a.AuthenticatePeer(ctx, info)
		e := wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
		if !strings.Contains(e.Message, "CA certificate") {
			t.Errorf("message = %q", e.Message)
		}
	})

	t.Run("expired at handshake", func(t *testing.T) {
		cert := clientLeaf(t, ca, authtest.LeafOptions{
			URIs:      []string{"spiffe://example.org/ns/prod/sa/old"},
			NotBefore: time.Now().Add(-3 * time.Hour),
			NotAfter:  time.Now().Add(-2 * time.Hour),
		})
		mustFailHandshake(t, cfg, srvCA, cert, "expired")
	})

	t.Run("expires after handshake", func(t *testing.T) {
		const id = "spiffe://example.org/ns/prod/sa/short"
		cert := clientLeaf(t, ca, authtest.LeafOptions{URIs: []string{id}, NotAfter: time.Now().Add(time.Hour)})
		info := connect(t, cfg, srvCA, cert)
		p, err := a.AuthenticatePeer(ctx, info)
		wantOK(t, p, err, id)

		clk.set(2 * time.Hour) // the connection outlives the certificate
		defer clk.set(0)
		p, err = a.AuthenticatePeer(ctx, info)
		wantDenied(t, p, err, runtime.ReasonTokenExpired)
	})

	t.Run("not yet valid by the clock", func(t *testing.T) {
		info := connect(t, cfg, srvCA, workload(t, ca, "spiffe://example.org/ns/prod/sa/early"))
		clk.set(-2 * time.Hour) // authtest leaves start an hour ago
		defer clk.set(0)
		p, err := a.AuthenticatePeer(ctx, info)
		wantDenied(t, p, err, runtime.ReasonTokenNotYetValid)
	})

	t.Run("wrong trust domain", func(t *testing.T) {
		const id = "spiffe://other.org/ns/prod/sa/frontend"
		info := connect(t, cfg, srvCA, workload(t, ca, id))
		p, err := a.AuthenticatePeer(ctx, info)
		e := wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
		if !strings.Contains(e.Message, `"`+id+`"`) || strings.Contains(e.Message, td) {
			t.Errorf("message = %q; want the caller's ID quoted and not the server's trust domain", e.Message)
		}
	})

	t.Run("other CA fails the handshake", func(t *testing.T) {
		other := newCA(t, "intruder")
		mustFailHandshake(t, cfg, srvCA, workload(t, other, "spiffe://example.org/ns/prod/sa/frontend"), "certificate signed by unknown authority")
	})

	malformed := []struct{ name, uri string }{
		{"uppercase trust domain", "spiffe://Example.org/ns/prod/sa/x"},
		{"query", "spiffe://example.org/ns/prod/sa/x?admin=1"},
		{"fragment", "spiffe://example.org/ns/prod/sa/x#frag"},
		{"port", "spiffe://example.org:8443/ns/prod/sa/x"},
		{"userinfo", "spiffe://admin@example.org/ns/prod/sa/x"},
		{"empty path segment", "spiffe://example.org/ns//sa/x"},
		{"trailing slash", "spiffe://example.org/ns/prod/sa/x/"},
		{"dot segment", "spiffe://example.org/ns/./sa/x"},
		{"dot-dot segment", "spiffe://example.org/ns/../sa/x"},
		{"percent-encoding", "spiffe://example.org/ns/prod/sa/a%20b"},
		{"other scheme", "https://example.org/ns/prod/sa/x"},
		{"no trust domain", "spiffe:///ns/prod/sa/x"},
		{"trust domain only", "spiffe://example.org"},
		{"trust domain with root path", "spiffe://example.org/"},
	}
	for _, tc := range malformed {
		t.Run("malformed/"+tc.name, func(t *testing.T) {
			info := connect(t, cfg, srvCA, workload(t, ca, tc.uri))
			p, err := a.AuthenticatePeer(ctx, info)
			e := wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
			if !strings.Contains(e.Message, "SPIFFE ID") {
				t.Errorf("message = %q", e.Message)
			}
		})
	}
}

func TestSecurity46_NoCertificateIdentity(t *testing.T) {
	ca, srvCA := newCA(t, "workloads"), newCA(t, "server")
	a := newAuth(t, mtls.SPIFFE(td), mtls.Bundle(ca.Pool()))
	ctx := context.Background()
	cert := workload(t, ca, "spiffe://example.org/ns/prod/sa/frontend")
	good := connect(t, a.ServerTLSConfig(serverBase(t, srvCA)), srvCA, cert)

	t.Run("verified chains stripped", func(t *testing.T) {
		info := good
		info.State.VerifiedChains = nil
		p, err := a.AuthenticatePeer(ctx, info)
		wantDenied(t, p, err, runtime.ReasonCredentialsMissing)
	})

	t.Run("server that does not verify client certificates", func(t *testing.T) {
		// A TLS config that asks for a certificate without verifying it
		// gives PeerCertificates and no VerifiedChains: no identity.
		base := serverBase(t, srvCA)
		base.ClientAuth = tls.RequireAnyClientCert
		info := connect(t, base, srvCA, cert)
		if len(info.State.PeerCertificates) == 0 || len(info.State.VerifiedChains) != 0 {
			t.Fatalf("fixture: %d peer certificates, %d verified chains", len(info.State.PeerCertificates), len(info.State.VerifiedChains))
		}
		p, err := a.AuthenticatePeer(ctx, info)
		wantDenied(t, p, err, runtime.ReasonCredentialsMissing)
	})

	t.Run("unverified certificate of an unknown CA", func(t *testing.T) {
		base := serverBase(t, srvCA)
		base.ClientAuth = tls.RequireAnyClientCert
		info := connect(t, base, srvCA, foreignCert(t, "spiffe://example.org/ns/prod/sa/frontend"))
		p, err := a.AuthenticatePeer(ctx, info)
		wantDenied(t, p, err, runtime.ReasonCredentialsMissing)

		// Even with a verified chain borrowed from another connection.
		info.State.VerifiedChains = good.State.VerifiedChains
		p, err = a.AuthenticatePeer(ctx, info)
		wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
	})
}

func TestSANModes(t *testing.T) {
	ca, srvCA := newCA(t, "pki"), newCA(t, "server")
	ctx := context.Background()
	tests := []struct {
		name string
		kind mtls.SANKind
		leaf authtest.LeafOptions
		want string // empty: rejected
	}{
		{"DNSName", mtls.DNSName, authtest.LeafOptions{CommonName: "ignored", DNSNames: []string{"billing.internal"}}, "billing.internal"},
		{"DNSName/two", mtls.DNSName, authtest.LeafOptions{DNSNames: []string{"a.internal", "b.internal"}}, ""},
		{"DNSName/none", mtls.DNSName, authtest.LeafOptions{CommonName: "billing.internal", Emails: []string{"x@example.com"}}, ""},
		{"Email", mtls.Email, authtest.LeafOptions{Emails: []string{"ops@example.com"}, DNSNames: []string{"ignored.internal"}}, "ops@example.com"},
		{"Email/two", mtls.Email, authtest.LeafOptions{Emails: []string{"a@example.com", "b@example.com"}}, ""},
		{"Email/none", mtls.Email, authtest.LeafOptions{CommonName: "ops@example.com"}, ""},
		{"URI", mtls.URI, authtest.LeafOptions{URIs: []string{"urn:example:billing"}}, "urn:example:billing"},
		{"URI/SPIFFE ID as written", mtls.URI, authtest.LeafOptions{URIs: []string{"spiffe://example.org/ns/x"}}, "spiffe://example.org/ns/x"},
		{"URI/two", mtls.URI, authtest.LeafOptions{URIs: []string{"urn:example:a", "urn:example:b"}}, ""},
		{"URI/none", mtls.URI, authtest.LeafOptions{DNSNames: []string{"a.internal"}}, ""},
		{"CommonName", mtls.CommonName, authtest.LeafOptions{CommonName: "billing", DNSNames: []string{"ignored.internal"}}, "billing"},
		{"CommonName/none", mtls.CommonName, authtest.LeafOptions{DNSNames: []string{"billing.internal"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuth(t, mtls.SAN(tc.kind), mtls.Bundle(ca.Pool()))
			info := connect(t, a.ServerTLSConfig(serverBase(t, srvCA)), srvCA, clientLeaf(t, ca, tc.leaf))
			p, err := a.AuthenticatePeer(ctx, info)
			if tc.want == "" {
				wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
				return
			}
			wantOK(t, p, err, tc.want)
		})
	}

	t.Run("CommonName/two", func(t *testing.T) {
		// authtest cannot mint two CNs; a CA of this test can.
		own := newOwnCA(t)
		a := newAuth(t, mtls.SAN(mtls.CommonName), mtls.Bundle(own.pool()))
		cert := own.leaf(t, pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "alice"},
			{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "admin"},
		}})
		info := connect(t, a.ServerTLSConfig(serverBase(t, srvCA)), srvCA, cert)
		if n := len(info.State.PeerCertificates[0].Subject.Names); n != 2 {
			t.Fatalf("fixture: subject has %d attributes; want 2", n)
		}
		p, err := a.AuthenticatePeer(ctx, info)
		wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
	})
}

func TestScopesMapping(t *testing.T) {
	ca, srvCA := newCA(t, "workloads"), newCA(t, "server")
	ctx := context.Background()
	const (
		reader   = "spiffe://example.org/ns/prod/sa/reader"
		writer   = "spiffe://example.org/ns/prod/sa/writer"
		stranger = "spiffe://example.org/ns/prod/sa/stranger"
	)
	m := map[string][]string{
		reader: {"library.read"},
		writer: {"library.read", "library.write"},
	}
	a := newAuth(t, mtls.SPIFFE(td), mtls.Bundle(ca.Pool()), mtls.Scopes(m))
	m[reader] = append(m[reader], "library.admin") // the option copied the map
	cfg := a.ServerTLSConfig(serverBase(t, srvCA))

	infos := map[string]credentials.TLSInfo{}
	for _, id := range []string{reader, writer, stranger} {
		infos[id] = connect(t, cfg, srvCA, workload(t, ca, id))
	}
	want := map[string][]string{
		reader:   {"library.read"},
		writer:   {"library.read", "library.write"},
		stranger: nil,
	}
	for id, scopes := range want {
		p, err := a.AuthenticatePeer(ctx, infos[id])
		wantOK(t, p, err, id)
		if strings.Join(p.Scopes, " ") != strings.Join(scopes, " ") {
			t.Errorf("%s: scopes = %q; want %q", id, p.Scopes, scopes)
		}
		// A connection's principal is verified once and shared by its
		// calls (principals are read-only).
		again, err := a.AuthenticatePeer(ctx, infos[id])
		wantOK(t, again, err, id)
		if again != p {
			t.Errorf("%s: a second call on the same connection built a new principal", id)
		}
		if len(p.Scopes) > 0 {
			p.Scopes[0] = "tampered" // must not reach the configuration
		}
	}
	p, err := a.AuthenticatePeer(ctx, connect(t, cfg, srvCA, workload(t, ca, writer)))
	wantOK(t, p, err, writer)
	if !p.HasScope("library.read") || !p.HasScope("library.write") || p.HasScope("tampered") {
		t.Errorf("scopes = %q on a new connection after a principal was modified", p.Scopes)
	}

	t.Run("ScopeFunc", func(t *testing.T) {
		var calls atomic.Int32
		a := newAuth(t, mtls.SPIFFE(td), mtls.Bundle(ca.Pool()), mtls.ScopeFunc(func(id string) []string {
			calls.Add(1)
			if strings.HasSuffix(id, "/writer") {
				return []string{"library.write"}
			}
			return nil
		}))
		p, err := a.AuthenticatePeer(ctx, infos[writer])
		wantOK(t, p, err, writer)
		if !p.HasScope("library.write") || len(p.Scopes) != 1 {
			t.Errorf("scopes = %q", p.Scopes)
		}
		p, err = a.AuthenticatePeer(ctx, infos[reader])
		wantOK(t, p, err, reader)
		if len(p.Scopes) != 0 {
			t.Errorf("scopes = %q; want none", p.Scopes)
		}
		if calls.Load() != 2 {
			t.Errorf("ScopeFunc called %d times; want 2", calls.Load())
		}
	})
}

// TestForgetScopes: a connection's principal, ScopeFunc's answer
// included, is kept for the connection's later calls, so a changed answer
// is not seen on it until ForgetScopes, and is seen on its next call
// after; a bundle reload drops it too.
func TestForgetScopes(t *testing.T) {
	ca, srvCA := newCA(t, "workloads"), newCA(t, "server")
	ctx := context.Background()
	const id = "spiffe://example.org/ns/prod/sa/reader"
	var current atomic.Pointer[[]string]
	current.Store(&[]string{"library.read"})
	var calls atomic.Int32
	path := filepath.Join(t.TempDir(), "bundle.pem")
	writeBundle(t, path, ca)
	a := newAuth(t, mtls.SPIFFE(td), mtls.BundleFile(path), mtls.ScopeFunc(func(string) []string {
		calls.Add(1)
		return *current.Load()
	}))
	conn := connect(t, a.ServerTLSConfig(serverBase(t, srvCA)), srvCA, workload(t, ca, id))
	scopes := func() string {
		t.Helper()
		p, err := a.AuthenticatePeer(ctx, conn)
		wantOK(t, p, err, id)
		return strings.Join(p.Scopes, " ")
	}

	if got := scopes(); got != "library.read" {
		t.Fatalf("scopes = %q; want library.read", got)
	}
	current.Store(&[]string{"library.write"})
	if got := scopes(); got != "library.read" {
		t.Errorf("before ForgetScopes: scopes = %q; want the connection's remembered library.read", got)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("before ForgetScopes: ScopeFunc called %d times; want 1", n)
	}

	a.ForgetScopes()
	if got := scopes(); got != "library.write" {
		t.Errorf("after ForgetScopes: scopes = %q; want library.write", got)
	}
	if got := scopes(); got != "library.write" {
		t.Errorf("second call after ForgetScopes: scopes = %q; want library.write", got)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("after ForgetScopes: ScopeFunc called %d times in all; want 2 (once again, then remembered)", n)
	}

	current.Store(&[]string{"library.admin"})
	if err := a.ReloadBundle(); err != nil {
		t.Fatal(err)
	}
	if got := scopes(); got != "library.admin" {
		t.Errorf("after ReloadBundle: scopes = %q; want library.admin", got)
	}
}

func TestBundleReload(t *testing.T) {
	ca1, ca2, srvCA := newCA(t, "ca1"), newCA(t, "ca2"), newCA(t, "server")
	const id1, id2 = "spiffe://example.org/ns/a/sa/one", "spiffe://example.org/ns/b/sa/two"
	cert1, cert2 := workload(t, ca1, id1), workload(t, ca2, id2)
	ctx := context.Background()

	t.Run("ReloadBundle", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bundle.pem")
		writeBundle(t, path, ca1)
		a := newAuth(t, mtls.SPIFFE(td), mtls.BundleFile(path))
		cfg := a.ServerTLSConfig(serverBase(t, srvCA)) // built once, like a running server

		old1 := connect(t, cfg, srvCA, cert1)
		p, err := a.AuthenticatePeer(ctx, old1)
		wantOK(t, p, err, id1)
		mustFailHandshake(t, cfg, srvCA, cert2, "unknown authority")

		writeBundle(t, path, ca2)
		if err := a.ReloadBundle(); err != nil {
			t.Fatalf("ReloadBundle: %v", err)
		}
		info2 := connect(t, cfg, srvCA, cert2)
		p, err = a.AuthenticatePeer(ctx, info2)
		wantOK(t, p, err, id2)
		// CA1 left the bundle: its connection opened before the reload is
		// refused, and it cannot connect again.
		p, err = a.AuthenticatePeer(ctx, old1)
		e := wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
		if e.Message != "the client certificate is not trusted" {
			t.Errorf("message = %q", e.Message)
		}
		mustFailHandshake(t, cfg, srvCA, cert1, "unknown authority")

		bad := map[string][]byte{
			"broken PEM":      []byte("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"),
			"garbage":         []byte("this is not a bundle"),
			"empty":           nil,
			"trailing junk":   append(pemOf(ca2.Certificate()), "junk"...),
			"private key":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
			"bad DER":         pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}),
			"not a CA":        pemOf(cert2.Leaf),
			"one bad of many": append(pemOf(ca2.Certificate()), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})...),
		}
		for name, content := range bad {
			writeFile(t, path, content)
			err := a.ReloadBundle()
			if !errors.Is(err, mtls.ErrInvalidOption) {
				t.Errorf("%s: ReloadBundle = %v; want an error wrapping ErrInvalidOption", name, err)
			}
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := a.ReloadBundle(); !errors.Is(err, mtls.ErrInvalidOption) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing file: ReloadBundle = %v; want ErrInvalidOption and ErrNotExist", err)
		}

		// The last good bundle, {CA2}, is still in force.
		p, err = a.AuthenticatePeer(ctx, info2)
		wantOK(t, p, err, id2)
		connect(t, cfg, srvCA, cert2)
		mustFailHandshake(t, cfg, srvCA, cert1, "unknown authority")
	})

	t.Run("Watch", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bundle.pem")
		writeBundle(t, path, ca1)
		a := newAuth(t, mtls.SPIFFE(td), mtls.BundleFile(path))
		cfg := a.ServerTLSConfig(serverBase(t, srvCA))
		old1 := connect(t, cfg, srvCA, cert1)
		mustFailHandshake(t, cfg, srvCA, cert2, "unknown authority")

		ctx, cancel := context.WithCancel(ctx)
		errs := make(chan error, 100)
		done := make(chan error, 1)
		go func() {
			done <- a.Watch(ctx, 5*time.Millisecond, func(err error) {
				select {
				case errs <- err:
				default:
				}
			})
		}()

		writeBundle(t, path, ca2)
		// Wait for the swap, seen as CA1's old connection being refused.
		waitFor(t, func() bool {
			_, err := a.AuthenticatePeer(ctx, old1)
			return err != nil
		})
		p, err := a.AuthenticatePeer(ctx, old1)
		wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
		info2 := connect(t, cfg, srvCA, cert2)
		p, err = a.AuthenticatePeer(ctx, info2)
		wantOK(t, p, err, id2)

		writeFile(t, path, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"))
		select {
		case err := <-errs:
			if !errors.Is(err, mtls.ErrInvalidOption) {
				t.Errorf("onError got %v; want an error wrapping ErrInvalidOption", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("onError was not called for a broken bundle")
		}
		p, err = a.AuthenticatePeer(ctx, info2) // last good bundle kept
		wantOK(t, p, err, id2)
		connect(t, cfg, srvCA, cert2)

		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v; want context.Canceled", err)
		}
	})

	t.Run("Watch and ReloadBundle need a BundleFile", func(t *testing.T) {
		a := newAuth(t, mtls.SPIFFE(td), mtls.Bundle(ca1.Pool()))
		if err := a.ReloadBundle(); !errors.Is(err, mtls.ErrInvalidOption) {
			t.Errorf("ReloadBundle = %v", err)
		}
		if err := a.Watch(ctx, time.Second, nil); !errors.Is(err, mtls.ErrInvalidOption) {
			t.Errorf("Watch = %v", err)
		}
	})
}

// waitFor polls cond until it holds; the long limit only stops a hung test.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	limit := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(limit) {
			t.Fatal("condition never held")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReloadUnderLoad(t *testing.T) {
	ca1, ca2, srvCA := newCA(t, "ca1"), newCA(t, "ca2"), newCA(t, "server")
	const id1, id2 = "spiffe://example.org/ns/a/sa/one", "spiffe://example.org/ns/b/sa/two"
	path := filepath.Join(t.TempDir(), "bundle.pem")
	writeBundle(t, path, ca1, ca2)
	a := newAuth(t, mtls.SPIFFE(td), mtls.BundleFile(path))
	cfg := a.ServerTLSConfig(serverBase(t, srvCA))
	ctx := context.Background()

	var infos1, infos2 []credentials.TLSInfo
	for range 3 {
		infos1 = append(infos1, connect(t, cfg, srvCA, workload(t, ca1, id1)))
		infos2 = append(infos2, connect(t, cfg, srvCA, workload(t, ca2, id2)))
	}

	// Each swap closes the current tick channel: a worker authenticates
	// once per swap it sees, so the swaps are not starved of CPU, and its
	// calls overlap the next swap.
	var tick atomic.Pointer[chan struct{}]
	first := make(chan struct{})
	tick.Store(&first)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok2, denied2 atomic.Int64
	failures := make(chan string, 100)
	for g := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				next := *tick.Load()
				p, err := a.AuthenticatePeer(ctx, infos1[(g+i)%len(infos1)])
				if err != nil || p.Subject != id1 {
					select {
					case failures <- "CA1 client refused: " + errString(err):
					default:
					}
					return
				}
				p, err = a.AuthenticatePeer(ctx, infos2[(g+i)%len(infos2)])
				switch e, _ := runtime.FromError(err); {
				case err == nil && p.Subject == id2:
					ok2.Add(1)
				case e != nil && e.Reason == runtime.ReasonCredentialsInvalid:
					denied2.Add(1)
				default:
					select {
					case failures <- "CA2 client: unexpected result: " + errString(err):
					default:
					}
					return
				}
				select {
				case <-next:
				case <-stop:
					return
				}
			}
		}()
	}

	for i := range 200 {
		if i%2 == 0 {
			writeBundle(t, path, ca1)
		} else {
			writeBundle(t, path, ca1, ca2)
		}
		if err := a.ReloadBundle(); err != nil {
			t.Errorf("ReloadBundle %d: %v", i, err)
		}
		next := make(chan struct{})
		close(*tick.Swap(&next))
	}
	close(stop)
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	t.Logf("CA2 client: %d accepted, %d refused during the swaps", ok2.Load(), denied2.Load())

	// The last swap left {CA1, CA2}; one more leaves {CA1}.
	p, err := a.AuthenticatePeer(ctx, infos2[0])
	wantOK(t, p, err, id2)
	writeBundle(t, path, ca1)
	if err := a.ReloadBundle(); err != nil {
		t.Fatal(err)
	}
	p, err = a.AuthenticatePeer(ctx, infos2[0])
	wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
	p, err = a.AuthenticatePeer(ctx, infos1[0])
	wantOK(t, p, err, id1)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestNewConfigErrors(t *testing.T) {
	ca := newCA(t, "ca")
	pool := ca.Pool()
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := map[string][]mtls.Option{
		"no mode":                   {mtls.Bundle(pool)},
		"two modes":                 {mtls.SPIFFE(td), mtls.SAN(mtls.DNSName), mtls.Bundle(pool)},
		"empty trust domain":        {mtls.SPIFFE(""), mtls.Bundle(pool)},
		"uppercase trust domain":    {mtls.SPIFFE("Example.org"), mtls.Bundle(pool)},
		"workload ID as domain":     {mtls.SPIFFE("spiffe://example.org/ns/x"), mtls.Bundle(pool)},
		"trust domain with port":    {mtls.SPIFFE("example.org:443"), mtls.Bundle(pool)},
		"unknown SAN kind":          {mtls.SAN(0), mtls.Bundle(pool)},
		"no bundle":                 {mtls.SPIFFE(td)},
		"nil pool":                  {mtls.SPIFFE(td), mtls.Bundle(nil)},
		"two bundles":               {mtls.SPIFFE(td), mtls.Bundle(pool), mtls.BundleFile(missing)},
		"missing bundle file":       {mtls.SPIFFE(td), mtls.BundleFile(missing)},
		"empty bundle path":         {mtls.SPIFFE(td), mtls.BundleFile("")},
		"nil clock":                 {mtls.SPIFFE(td), mtls.Bundle(pool), mtls.Clock(nil)},
		"nil scopes":                {mtls.SPIFFE(td), mtls.Bundle(pool), mtls.Scopes(nil)},
		"nil scope func":            {mtls.SPIFFE(td), mtls.Bundle(pool), mtls.ScopeFunc(nil)},
		"Scopes and ScopeFunc":      {mtls.SPIFFE(td), mtls.Bundle(pool), mtls.Scopes(map[string][]string{}), mtls.ScopeFunc(func(string) []string { return nil })},
		"empty scope":               {mtls.SPIFFE(td), mtls.Bundle(pool), mtls.Scopes(map[string][]string{"x": {""}})},
		"nil option":                {mtls.SPIFFE(td), mtls.Bundle(pool), nil},
		"SPIFFE ID of trust domain": {mtls.SPIFFE("spiffe://example.org/"), mtls.Bundle(pool)},
	}
	for name, opts := range tests {
		_, err := mtls.New(opts...)
		if !errors.Is(err, mtls.ErrInvalidOption) {
			t.Errorf("%s: New = %v; want an error wrapping ErrInvalidOption", name, err)
		} else if !strings.HasPrefix(err.Error(), "mtls: invalid option: ") {
			t.Errorf("%s: error %q does not start with the package's sentinel text", name, err)
		}
	}
	for _, good := range []string{"example.org", "spiffe://example.org"} {
		if _, err := mtls.New(mtls.SPIFFE(good), mtls.Bundle(pool)); err != nil {
			t.Errorf("SPIFFE(%q): %v", good, err)
		}
	}
}

func TestServerTLSConfigKeepsBase(t *testing.T) {
	ca, srvCA := newCA(t, "workloads"), newCA(t, "server")
	a := newAuth(t, mtls.SPIFFE(td), mtls.Bundle(ca.Pool()))
	base := serverBase(t, srvCA)
	base.ClientAuth = tls.NoClientCert
	var inner atomic.Int32
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		inner.Add(1)
		return nil, nil
	}
	cfg := a.ServerTLSConfig(base)
	if base.ClientAuth != tls.NoClientCert || base.ClientCAs != nil {
		t.Error("ServerTLSConfig modified base")
	}
	if cfg.ClientAuth != tls.VerifyClientCertIfGiven {
		t.Errorf("ClientAuth = %s", cfg.ClientAuth)
	}
	info := connect(t, cfg, srvCA, workload(t, ca, "spiffe://example.org/ns/x"))
	if inner.Load() != 1 {
		t.Errorf("base GetConfigForClient called %d times; want 1", inner.Load())
	}
	p, err := a.AuthenticatePeer(context.Background(), info)
	wantOK(t, p, err, "spiffe://example.org/ns/x")

	// A base that requires a certificate keeps requiring one, verified.
	strict := serverBase(t, srvCA)
	strict.ClientAuth = tls.RequireAnyClientCert
	cfg = a.ServerTLSConfig(strict)
	mustFailHandshake(t, cfg, srvCA, nil, "client didn't provide a certificate")
	mustFailHandshake(t, cfg, srvCA, foreignCert(t, "spiffe://example.org/ns/x"), "unknown authority")
	connect(t, cfg, srvCA, workload(t, ca, "spiffe://example.org/ns/x"))
}

func FuzzSPIFFEIdentity(f *testing.F) {
	for _, s := range []string{
		"spiffe://example.org/ns/prod/sa/frontend",
		"spiffe://example.org/a",
		"spiffe://example.org",
		"spiffe://example.org/",
		"spiffe://Example.org/a",
		"SPIFFE://example.org/a",
		"spiffe://example.org:443/a",
		"spiffe://u@example.org/a",
		"spiffe://example.org/a?b",
		"spiffe://example.org/a#b",
		"spiffe://example.org//a",
		"spiffe://example.org/a/./b",
		"spiffe://example.org/a%2Fb",
		"spiffe://other.org/a",
		"spiffe://example.org.evil/a",
		"",
		"\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if id, err := mtls.ParseSPIFFE(s, td); err == nil {
			parsed, err := spiffeid.FromString(id)
			if err != nil {
				t.Fatalf("accepted %q, which spiffeid.FromString refuses: %v", s, err)
			}
			if parsed.String() != id || id != s {
				t.Fatalf("accepted %q as %q; FromString gives %q", s, id, parsed.String())
			}
			if parsed.TrustDomain().Name() != td || parsed.Path() == "" {
				t.Fatalf("accepted %q: trust domain %q, path %q", s, parsed.TrustDomain().Name(), parsed.Path())
			}
		}

		// The raw SAN reader returns the URI as written ...
		der, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true,
			Bytes: mustMarshal(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(s)})})
		if err != nil {
			t.Fatal(err)
		}
		uris, err := mtls.URISANsFromExtension(der)
		if err != nil || len(uris) != 1 || uris[0] != s {
			t.Fatalf("URI SAN %q read back as %q, %v", s, uris, err)
		}
		// ... and never panics on arbitrary bytes.
		_, _ = mtls.URISANsFromExtension([]byte(s))
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemOf(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// foreignCert is a client certificate of a CA outside every bundle.
func foreignCert(t testing.TB, uri string) *tls.Certificate {
	t.Helper()
	return newOwnCA(t).leaf(t, pkix.Name{CommonName: "foreign"}, uri)
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// ownCA is a CA of this test, for certificates authtest does not mint.
type ownCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newOwnCA(t testing.TB) *ownCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "own CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ownCA{cert: cert, key: key}
}

func (o *ownCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(o.cert)
	return p
}

func (o *ownCA) leaf(t testing.TB, subject pkix.Name, uris ...string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	for _, u := range uris {
		tmpl.URIs = append(tmpl.URIs, mustURL(t, u))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, o.cert, &key.PublicKey, o.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestAuthenticateChain: a forwarded chain is checked as a handshake's
// certificate is: the same reasons and messages, with the verification
// against the bundle done here.
func TestAuthenticateChain(t *testing.T) {
	ca, srvCA, foreign := newCA(t, "workloads"), newCA(t, "server"), newCA(t, "foreign")
	clk := &clock{}
	a := newAuth(t, mtls.SPIFFE(td), mtls.Bundle(ca.Pool()), mtls.Clock(clk.now), mtls.Scopes(map[string][]string{"spiffe://example.org/a": {"s"}}))
	cfg := a.ServerTLSConfig(serverBase(t, srvCA))
	ctx := context.Background()
	same := func(t *testing.T, cert *tls.Certificate) {
		t.Helper()
		info := connect(t, cfg, srvCA, cert)
		p1, err1 := a.AuthenticatePeer(ctx, info)
		p2, err2 := a.AuthenticateChain(ctx, info.State.PeerCertificates)
		if errString(err1) != errString(err2) {
			t.Fatalf("AuthenticatePeer: %v; AuthenticateChain: %v", err1, err2)
		}
		if err1 == nil && (p1.Subject != p2.Subject || !slices.Equal(p1.Scopes, p2.Scopes) || p2.Kind != runtime.MTLS || !p2.ExpiresAt.Equal(p1.ExpiresAt)) {
			t.Fatalf("principals differ: %+v and %+v", p1, p2)
		}
	}
	t.Run("valid", func(t *testing.T) {
		cert := workload(t, ca, "spiffe://example.org/a")
		same(t, cert)
		p, err := a.AuthenticateChain(ctx, []*x509.Certificate{cert.Leaf})
		wantOK(t, p, err, "spiffe://example.org/a")
	})
	t.Run("no URI SAN", func(t *testing.T) { same(t, workload(t, ca)) })
	t.Run("CA=true", func(t *testing.T) {
		same(t, clientLeaf(t, ca, authtest.LeafOptions{URIs: []string{"spiffe://example.org/ca"}, IsCA: true}))
	})
	t.Run("expired since", func(t *testing.T) {
		cert := clientLeaf(t, ca, authtest.LeafOptions{URIs: []string{"spiffe://example.org/a"}, NotAfter: time.Now().Add(time.Hour)})
		clk.set(2 * time.Hour)
		defer clk.set(0)
		p, err := a.AuthenticateChain(ctx, []*x509.Certificate{cert.Leaf})
		wantDenied(t, p, err, runtime.ReasonTokenExpired)
	})
	t.Run("not yet valid", func(t *testing.T) {
		cert := clientLeaf(t, ca, authtest.LeafOptions{URIs: []string{"spiffe://example.org/a"}, NotBefore: time.Now().Add(time.Hour)})
		p, err := a.AuthenticateChain(ctx, []*x509.Certificate{cert.Leaf})
		wantDenied(t, p, err, runtime.ReasonTokenNotYetValid)
	})
	t.Run("another CA", func(t *testing.T) {
		cert := workload(t, foreign, "spiffe://example.org/a")
		p, err := a.AuthenticateChain(ctx, []*x509.Certificate{cert.Leaf})
		e := wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
		if e.Message != "the client certificate is not trusted" {
			t.Errorf("message = %q", e.Message)
		}
	})
	t.Run("a server certificate", func(t *testing.T) {
		srv, err := ca.Leaf(authtest.LeafOptions{URIs: []string{"spiffe://example.org/a"}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := a.AuthenticateChain(ctx, []*x509.Certificate{srv.Leaf})
		wantDenied(t, p, err, runtime.ReasonCredentialsInvalid)
	})
	t.Run("empty", func(t *testing.T) {
		p, err := a.AuthenticateChain(ctx, nil)
		wantDenied(t, p, err, runtime.ReasonCredentialsMissing)
		p, err = a.AuthenticateChain(ctx, []*x509.Certificate{nil})
		wantDenied(t, p, err, runtime.ReasonCredentialsMissing)
	})
}

// TestClockIsTheOption: Clock is nil on the system clock, which tells an
// enforcer that it may date the streams of these certificates by its
// coarse clock, and the clock set by the Clock option otherwise.
func TestClockIsTheOption(t *testing.T) {
	ca := newCA(t, "workloads")
	if c := newAuth(t, mtls.SPIFFE(td), mtls.Bundle(ca.Pool())).Clock(); c != nil {
		t.Error("Clock is not nil on the system clock")
	}
	at := time.Unix(1_700_000_000, 0)
	a := newAuth(t, mtls.SPIFFE(td), mtls.Bundle(ca.Pool()), mtls.Clock(func() time.Time { return at }))
	if c := a.Clock(); c == nil || !c().Equal(at) || !a.Now().Equal(at) {
		t.Error("Clock is not the clock set by the Clock option")
	}
}
