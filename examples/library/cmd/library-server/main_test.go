// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/apikey"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
)

// TestServerAllKinds starts the command from its flags alone — files for
// the server certificate, the endpoints' CA, the API keys and the client CA
// bundle, the introspection secret in the environment — against a real
// issuer (JWKS over HTTPS) and introspection endpoint, and calls it over TLS
// with each kind of credential.
func TestServerAllKinds(t *testing.T) {
	dir := t.TempDir()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	in := authtest.NewIntrospector(t, "library-server", "s3cret")
	endpoints := writePEM(t, dir, "endpoints.pem", certPEM(iss.Certificate()))

	serverCA, err := authtest.NewCA("server CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := serverCA.Leaf(authtest.LeafOptions{CommonName: "library", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile := writePEM(t, dir, "server.pem", certPEM(leaf.Leaf))
	keyFile := writePEM(t, dir, "server-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}))

	workloads, err := authtest.NewCA("workload CA")
	if err != nil {
		t.Fatal(err)
	}
	clientCA := writePEM(t, dir, "clients.pem", certPEM(workloads.Certificate()))
	reader, err := workloads.Leaf(authtest.LeafOptions{URIs: []string{"spiffe://demo.test/reader"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}

	exportKey, err := apikey.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keysJSON, err := json.Marshal(map[string]any{"clients": []map[string]any{
		{"name": "exporter", "scopes": []string{"export"}, "key_sha256": []string{apikey.Hash(exportKey)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	keyFileAPI := writePEM(t, dir, "keys.json", keysJSON)

	o, err := parse([]string{
		"-issuer", iss.URL(), "-jwks-url", iss.JWKSURL(), "-audience", "library", "-jwt-types", "at+jwt,JWT",
		"-plain-addr", "127.0.0.1:0", "-tls-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0", "-admin-addr", "",
		"-tls-cert", certFile, "-tls-key", keyFile, "-ca-file", endpoints,
		"-introspection-url", in.URL(), "-introspection-client-id", "library-server",
		"-api-keys", keyFileAPI,
		"-client-ca", clientCA, "-spiffe-trust-domain", "demo.test",
		"-mtls-scope", "spiffe://demo.test/reader=library.read",
	}, func(k string) string {
		if k == secretEnv {
			return "s3cret"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r, err := start(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		grace, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Shutdown(grace)
	})

	dial := func(cert *tls.Certificate) libraryv1.LibraryServiceClient {
		cfg := &tls.Config{RootCAs: serverCA.Pool(), MinVersion: tls.VersionTLS12}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		conn, err := grpc.NewClient(r.TLSAddr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return libraryv1.NewLibraryServiceClient(conn)
	}
	withMD := func(k, v string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), k, v)
	}
	tlsOnly, withCert := dial(nil), dial(&reader)
	getBook := func(c libraryv1.LibraryServiceClient, ctx context.Context) error {
		_, err := c.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/public/books/1"})
		return err
	}
	export := func(c libraryv1.LibraryServiceClient, ctx context.Context) error {
		s, err := c.ExportShelf(ctx, &libraryv1.ExportShelfRequest{Shelf: "shelves/public"})
		if err != nil {
			return err
		}
		for {
			if _, err := s.Recv(); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
		}
	}
	for _, c := range []struct {
		name string
		call func() error
		want runtime.Reason // "" for allowed
	}{
		{"jwt", func() error {
			return getBook(tlsOnly, withMD("authorization", "Bearer "+iss.Mint(authtest.Scopes("library.read"))))
		}, ""},
		{"jwt_typ_JWT", func() error {
			return getBook(tlsOnly, withMD("authorization", "Bearer "+iss.Mint(authtest.Scopes("library.read"), authtest.Type("JWT"))))
		}, ""},
		{"jwt_no_typ", func() error {
			return getBook(tlsOnly, withMD("authorization", "Bearer "+iss.Mint(authtest.Scopes("library.read"), authtest.Type(""))))
		}, runtime.ReasonClaimsInvalid},
		{"oauth2", func() error {
			return getBook(tlsOnly, withMD("authorization", "Bearer "+in.Issue("erin", []string{"library.read"}, "library", time.Hour, nil)))
		}, ""},
		{"api_key", func() error { return export(tlsOnly, withMD("x-api-key", exportKey)) }, ""},
		{"mtls", func() error { return getBook(withCert, context.Background()) }, ""},
		{"none", func() error { return getBook(tlsOnly, context.Background()) }, runtime.ReasonCredentialsMissing},
		{"revoked_opaque", func() error {
			tok := in.Issue("erin", []string{"library.read"}, "library", time.Hour, nil)
			in.Revoke(tok)
			return getBook(tlsOnly, withMD("authorization", "Bearer "+tok))
		}, runtime.ReasonTokenRevoked},
		{"unknown_api_key", func() error { return export(tlsOnly, withMD("x-api-key", "not-a-key")) }, runtime.ReasonCredentialsInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if c.want == "" {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				return
			}
			if e, ok := runtime.FromError(err); !ok || e.Reason != c.want {
				t.Fatalf("err = %v, want reason %s", err, c.want)
			}
		})
	}
}

// TestServerDiscoversKeys: without -jwks-url the issuer's keys are found
// by OpenID Connect Discovery, over HTTPS, from -issuer alone.
func TestServerDiscoversKeys(t *testing.T) {
	dir := t.TempDir()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.IssuerPath("/realms/library"))
	endpoints := writePEM(t, dir, "endpoints.pem", certPEM(iss.Certificate()))
	serverCA, err := authtest.NewCA("server CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := serverCA.Leaf(authtest.LeafOptions{CommonName: "library", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	o, err := parse([]string{
		"-issuer", iss.URL(), "-ca-file", endpoints,
		"-plain-addr", "127.0.0.1:0", "-tls-addr", "127.0.0.1:0",
		"-tls-cert", writePEM(t, dir, "server.pem", certPEM(leaf.Leaf)),
		"-tls-key", writePEM(t, dir, "server-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})),
	}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	r, err := start(t.Context(), o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	conn, err := grpc.NewClient(r.TLSAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: serverCA.Pool(), MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+iss.Mint(authtest.Scopes("library.read")))
	if _, err := libraryv1.NewLibraryServiceClient(conn).GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/public/books/1"}); err != nil {
		t.Fatal(err)
	}
	if got := iss.MetadataPaths(); len(got) != 1 || got[0] != "/realms/library/.well-known/openid-configuration" || iss.Fetches() != 1 {
		t.Errorf("metadata asked at %q, JWKS %d times; want the realm's metadata once, then its keys", got, iss.Fetches())
	}
}

// TestParse: flag combinations that cannot work are refused before
// anything starts, each with a message naming the flags.
func TestParse(t *testing.T) {
	base := []string{"-issuer", "https://i.example", "-jwks-url", "https://i.example/jwks"}
	noEnv := func(string) string { return "" }
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-tls-cert", "c.pem"}, "-tls-cert and -tls-key go together"},
		{[]string{"-introspection-url", "https://as.example/introspect"}, "needs -introspection-client-id"},
		{[]string{"-introspection-url", "https://as.example/introspect", "-introspection-client-id", "x"}, "$" + secretEnv},
		{[]string{"-client-ca", "ca.pem"}, "needs -spiffe-trust-domain"},
		{[]string{"-client-ca", "ca.pem", "-spiffe-trust-domain", "d.test"}, "needs -tls-cert"},
		{[]string{"-mtls-scope", "spiffe://d.test/x=a"}, "-mtls-scope needs -client-ca"},
		{[]string{"-mtls-scope", "nonsense"}, "want ID=SCOPE"},
		{[]string{"-spiffe-trust-domain", "d.test"}, "-spiffe-trust-domain needs -client-ca"},
		{[]string{"stray"}, "unexpected arguments"},
		{[]string{"-jwt-types", "at+jwt,"}, "-jwt-types: an empty type"},
		{[]string{"-jwt-types", ""}, "-jwt-types: an empty type"},
	} {
		_, err := parse(append(append([]string{}, base...), c.args...), noEnv)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parse(%q) = %v, want an error containing %q", c.args, err, c.want)
		}
	}
	o, err := parse(append(base, "-mtls-scope", "spiffe://d.test/x=a,b", "-mtls-scope", "spiffe://d.test/x=c", "-client-ca", "ca.pem", "-spiffe-trust-domain", "d.test", "-tls-cert", "c", "-tls-key", "k"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.mtlsScopes["spiffe://d.test/x"], ","); got != "a,b,c" {
		t.Errorf("mtls scopes = %q, want a,b,c", got)
	}
	if got := strings.Join(o.jwtTypes, ","); got != "at+jwt" {
		t.Errorf("JWT types = %q by default, want at+jwt", got)
	}
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func writePEM(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
