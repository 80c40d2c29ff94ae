// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package authtest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Introspector is an in-process RFC 7662 token introspection endpoint over
// HTTPS that issues opaque access tokens. It authenticates its client with
// client_secret_basic.
type Introspector struct {
	srv          *httptest.Server
	clientID     string
	clientSecret string
	issuer       string
	now          func() time.Time

	mu       sync.Mutex
	tokens   map[string]map[string]any // token → response
	failWith int
	requests atomic.Int64
}

// NewIntrospector starts an introspection endpoint for the test and stops
// it when the test ends. Its client is clientID with clientSecret.
func NewIntrospector(tb testing.TB, clientID, clientSecret string) *Introspector {
	tb.Helper()
	i := StartIntrospector(clientID, clientSecret)
	tb.Cleanup(i.Close)
	return i
}

// StartIntrospector starts an introspection endpoint; Close it when done.
func StartIntrospector(clientID, clientSecret string) *Introspector {
	i := &Introspector{clientID: clientID, clientSecret: clientSecret, now: time.Now, tokens: map[string]map[string]any{}}
	i.srv = httptest.NewUnstartedServer(http.HandlerFunc(i.serve))
	i.srv.StartTLS()
	i.issuer = i.srv.URL
	return i
}

// Close stops the endpoint.
func (i *Introspector) Close() { i.srv.Close() }

// URL is the introspection endpoint.
func (i *Introspector) URL() string { return i.srv.URL + "/introspect" }

// Issuer is the iss of the tokens it issues.
func (i *Introspector) Issuer() string { return i.issuer }

// Certificate is the certificate the endpoint serves, for clients that
// are given a CA file rather than an *http.Client.
func (i *Introspector) Certificate() *x509.Certificate { return i.srv.Certificate() }

// HTTPClient trusts the endpoint's certificate.
func (i *Introspector) HTTPClient() *http.Client { return i.srv.Client() }

// Requests counts introspection requests.
func (i *Introspector) Requests() int64 { return i.requests.Load() }

// FailWith makes the endpoint answer status (0 restores it).
func (i *Introspector) FailWith(status int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.failWith = status
}

// Issue returns a new opaque access token for subject with scopes and
// audience, active for ttl; extra fields are added to its introspection
// response (a nil value removes a field). A token bound to a client
// certificate (RFC 8705 §3.2) has the extra field
// "cnf": map[string]any{"x5t#S256": runtime.CertificateThumbprint(cert)}.
func (i *Introspector) Issue(subject string, scopes []string, audience string, ttl time.Duration, extra map[string]any) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	token := "opaque_" + base64.RawURLEncoding.EncodeToString(b)
	now := i.now()
	resp := map[string]any{
		"active":     true,
		"sub":        subject,
		"scope":      strings.Join(scopes, " "),
		"aud":        audience,
		"iss":        i.issuer,
		"client_id":  "demo-client",
		"token_type": "access_token",
		"iat":        now.Unix(),
		"exp":        now.Add(ttl).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(resp, k)
		} else {
			resp[k] = v
		}
	}
	i.mu.Lock()
	i.tokens[token] = resp
	i.mu.Unlock()
	return token
}

// Revoke makes token inactive.
func (i *Introspector) Revoke(token string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	delete(i.tokens, token)
}

func (i *Introspector) serve(w http.ResponseWriter, r *http.Request) {
	i.requests.Add(1)
	i.mu.Lock()
	fail := i.failWith
	i.mu.Unlock()
	switch {
	case fail != 0:
		http.Error(w, "failing on purpose", fail)
		return
	case r.URL.Path != "/introspect" || r.Method != http.MethodPost:
		http.NotFound(w, r)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != i.clientID || secret != i.clientSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="introspection"`)
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	i.mu.Lock()
	resp, found := i.tokens[r.PostForm.Get("token")]
	i.mu.Unlock()
	if !found {
		resp = map[string]any{"active": false}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp) // a failed write is the client's error to see
}
