// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package library

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/apikey"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/mtls"
)

// TestAuthMatrix drives the generated auth matrix of LibraryService
// (gen/library/v1/library_grpcauth_matrix.pb.go) through the example
// server as Start serves it, with every credential kind from real issuers:
// each method's allowed calls reach the handler and its denied calls are
// denied with the matrix's reason.
func TestAuthMatrix(t *testing.T) {
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	in := authtest.NewIntrospector(t, "library-server", "matrix-secret")
	ca, err := authtest.NewCA("library matrix CA")
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(iss.JWKSURL())), jwtauth.HTTPClient(iss.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	oauth2, err := introspection.New(introspection.Endpoint(in.URL()), introspection.ClientSecret("library-server", "matrix-secret"),
		introspection.HTTPClient(in.HTTPClient()), introspection.Issuer(in.Issuer()), introspection.Audience("library"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := apikey.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// A workload's scopes are the segments of its SPIFFE ID after /scopes.
	const prefix = "spiffe://matrix.test/scopes"
	workloads, err := mtls.New(mtls.SPIFFE("matrix.test"), mtls.Bundle(ca.Pool()), mtls.ScopeFunc(func(id string) []string {
		return strings.FieldsFunc(strings.TrimPrefix(id, prefix), func(r rune) bool { return r == '/' })
	}))
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Start(Config{JWT: jwt, OAuth2: oauth2, APIKeys: keys, MTLS: workloads, TLS: serverTLS,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	dial := func(addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	var mu sync.Mutex
	var clients []apikey.Client

	authtest.RunMatrix(t, libraryv1.LibraryServiceAuthMatrix, authtest.MatrixTarget{
		TLS:       dial(srv.TLSAddr, credentials.NewTLS(ca.ClientTLS())),
		Plaintext: dial(srv.PlainAddr, insecure.NewCredentials()),
		JWT: func(scopes []string) (string, error) {
			return iss.Mint(authtest.Subject("matrix"), authtest.Scopes(scopes...)), nil
		},
		OAuth2: func(scopes []string) (string, error) {
			return in.Issue("matrix", scopes, "library", time.Hour, nil), nil
		},
		APIKey: func(scopes []string) (string, error) {
			key, err := apikey.NewKey()
			if err != nil {
				return "", err
			}
			mu.Lock()
			defer mu.Unlock()
			clients = append(clients, apikey.Client{Name: fmt.Sprintf("matrix-%d", len(clients)), Scopes: scopes, KeySHA256: []string{apikey.Hash(key)}})
			return key, keys.Replace(clients)
		},
		MTLS: func(scopes []string) (grpc.ClientConnInterface, error) {
			id := prefix
			for _, s := range scopes {
				id += "/" + s
			}
			cert, err := ca.Leaf(authtest.LeafOptions{URIs: []string{id}, Client: true})
			if err != nil {
				return nil, err
			}
			cfg := ca.ClientTLS()
			cfg.Certificates = []tls.Certificate{cert}
			return dial(srv.TLSAddr, credentials.NewTLS(cfg)), nil
		},
	})
}
