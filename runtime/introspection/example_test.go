// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
)

func Example() {
	// A stand-in for the authorization server's introspection endpoint.
	as := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "library-api" || secret != "s3cret" {
			http.Error(w, "invalid_client", http.StatusUnauthorized)
			return
		}
		if r.PostFormValue("token") != "2YotnFZFEjr1zCsicMWpAA" {
			io.WriteString(w, `{"active":false}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"active":true,"sub":"alice","scope":"books.read books.write","iss":"https://as.example","aud":"library"}`)
	}))
	defer as.Close()

	a, err := introspection.New(
		introspection.Endpoint(as.URL+"/introspect"),
		introspection.HTTPClient(as.Client()), // trusts the test server's certificate
		introspection.ClientSecret("library-api", "s3cret"),
		introspection.Issuer("https://as.example"),
		introspection.Audience("library"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := a.Authenticate(context.Background(), "2YotnFZFEjr1zCsicMWpAA")
	fmt.Println(p.Kind, p.Subject, p.Scopes, err)

	_, err = a.Authenticate(context.Background(), "revoked-token")
	fmt.Println(err)
	// Output:
	// OAUTH2_TOKEN alice [books.read books.write] <nil>
	// TOKEN_REVOKED: the token is not active
}
