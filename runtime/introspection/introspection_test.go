// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
)

// ---- test clock ----

// fakeClock is a clock tests move by hand; safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *fakeClock) Unix(d time.Duration) int64 {
	return c.Now().Add(d).Unix()
}

// ---- a real introspection endpoint ----

const (
	clientID     = "library api:1" // a space and a colon: both must be form-encoded
	clientSecret = "s3cr:t+/é %"
)

// answer handles an authenticated introspection request for token.
type answer func(w http.ResponseWriter, r *http.Request, token string)

// reply answers 200 with body.
func reply(body string) answer {
	return func(w http.ResponseWriter, _ *http.Request, _ string) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}
}

// replyStatus answers code with a JSON body that would pass if read.
func replyStatus(code int) answer {
	return func(w http.ResponseWriter, _ *http.Request, _ string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, `{"active":true,"sub":"alice"}`)
	}
}

// asServer is an HTTPS RFC 7662 endpoint that checks the client's
// authentication (client_secret_basic, or private_key_jwt against pub),
// counts requests and answers with a configurable handler.
type asServer struct {
	t        *testing.T
	srv      *httptest.Server
	clock    *fakeClock
	requests atomic.Int64

	basicID, basicSecret string           // client_secret_basic, when pub is nil
	pub                  crypto.PublicKey // private_key_jwt

	mu         sync.Mutex
	answer     answer
	jtis       map[string]bool
	assertions []jwt.Claims
	kids       []string
}

func newServer(t *testing.T, clock *fakeClock, a answer) *asServer {
	t.Helper()
	s := &asServer{t: t, clock: clock, answer: a, basicID: clientID, basicSecret: clientSecret, jtis: map[string]bool{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Close cuts connections still in their TLS handshake; that is noise.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *asServer) endpoint() string { return s.srv.URL + "/introspect" }

func (s *asServer) setAnswer(a answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = a
}

func (s *asServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/introspect" ||
		r.Header.Get("Accept") != "application/json" ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, "bad request shape", http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil || len(r.URL.Query()) != 0 {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("token_type_hint") != "access_token" || len(r.PostForm["token"]) != 1 {
		http.Error(w, "bad parameters", http.StatusBadRequest)
		return
	}
	if err := s.clientAuth(r); err != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="introspection"`)
		http.Error(w, "invalid_client", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	a := s.answer
	s.mu.Unlock()
	a(w, r, r.PostForm.Get("token"))
}

// setClient sets the client credentials the server accepts.
func (s *asServer) setClient(secret string, pub crypto.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.basicSecret, s.pub = secret, pub
}

func (s *asServer) clientAuth(r *http.Request) error {
	s.mu.Lock()
	basicID, basicSecret, pub := s.basicID, s.basicSecret, s.pub
	s.mu.Unlock()
	if pub == nil {
		id, secret, ok := r.BasicAuth()
		if !ok {
			return errors.New("no basic auth")
		}
		id, err1 := url.QueryUnescape(id)
		secret, err2 := url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || id != basicID || secret != basicSecret {
			return errors.New("wrong client credentials")
		}
		return nil
	}
	if r.Header.Get("Authorization") != "" {
		return errors.New("two client authentication methods")
	}
	if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return errors.New("wrong client_assertion_type")
	}
	tok, err := jwt.ParseSigned(r.PostForm.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.PS256})
	if err != nil {
		return err
	}
	var c jwt.Claims
	if err := tok.Claims(pub, &c); err != nil {
		return err
	}
	now := s.clock.Now()
	if err := c.ValidateWithLeeway(jwt.Expected{
		Issuer: clientID, Subject: clientID, AnyAudience: jwt.Audience{s.endpoint()}, Time: now,
	}, 0); err != nil {
		return err
	}
	if c.Expiry == nil || !c.Expiry.Time().After(now) || c.ID == "" {
		return errors.New("assertion without a future exp or a jti")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jtis[c.ID] {
		return errors.New("assertion replayed")
	}
	s.jtis[c.ID] = true
	s.assertions = append(s.assertions, c)
	s.kids = append(s.kids, tok.Headers[0].KeyID)
	return nil
}

// newAuth returns an authenticator for s with client_secret_basic unless
// opts give another client authentication.
func newAuth(t *testing.T, s *asServer, opts ...introspection.Option) *introspection.Authenticator {
	t.Helper()
	base := []introspection.Option{
		introspection.Endpoint(s.endpoint()),
		introspection.HTTPClient(s.srv.Client()),
		introspection.Clock(s.clock.Now),
	}
	s.mu.Lock()
	pub := s.pub
	s.mu.Unlock()
	if pub == nil {
		base = append(base, introspection.ClientSecret(clientID, clientSecret))
	}
	a, err := introspection.New(append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// wantDenial checks that err is a denial with reason r and r's status code.
func wantDenial(t *testing.T, err error, r runtime.Reason) *runtime.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", r)
	}
	e, ok := runtime.FromError(err)
	if !ok {
		t.Fatalf("got %v (%T), want a *runtime.Error with reason %s", err, err, r)
	}
	if e.Reason != r {
		t.Fatalf("reason = %s, want %s (err %v, detail %q)", e.Reason, r, err, e.Detail)
	}
	if got := status.Convert(err).Code(); got != r.Code() || got == codes.OK {
		t.Fatalf("status code = %v, want %v", got, r.Code())
	}
	return e
}

func mustOK(t *testing.T, a *introspection.Authenticator, token string) *runtime.Principal {
	t.Helper()
	p, err := a.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatalf("Authenticate(%q): %v", token, err)
	}
	return p
}

func wantRequests(t *testing.T, s *asServer, n int64) {
	t.Helper()
	if got := s.requests.Load(); got != n {
		t.Fatalf("the endpoint got %d requests, want %d", got, n)
	}
}

func randomToken(t testing.TB) string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "tok-" + hex.EncodeToString(b[:])
}

// ---- SECURITY-CASES 32 ----

func TestSecurity32_Inactive(t *testing.T) {
	for name, body := range map[string]string{
		"active false":          `{"active":false,"sub":"alice","scope":"read"}`,
		"active absent":         `{"sub":"alice","scope":"read"}`,
		"empty object":          `{}`,
		"active null":           `{"active":null,"sub":"alice"}`,
		"active false with exp": `{"active":false,"sub":"alice","exp":4102444800}`,
	} {
		t.Run(name, func(t *testing.T) {
			clock := newClock()
			s := newServer(t, clock, reply(body))
			a := newAuth(t, s)
			for i := 1; i <= 2; i++ {
				_, err := a.Authenticate(context.Background(), "tok-1")
				e := wantDenial(t, err, runtime.ReasonTokenRevoked)
				if e.Message != "the token is not active" {
					t.Errorf("message = %q", e.Message)
				}
				wantRequests(t, s, int64(i)) // never cached
			}
			if n := introspection.CacheLen(a); n != 0 {
				t.Errorf("cache holds %d entries after inactive tokens, want 0", n)
			}
		})
	}
}

// ---- SECURITY-CASES 33 ----

func TestSecurity33_ExpiredAlsoFromCache(t *testing.T) {
	t.Run("past exp", func(t *testing.T) {
		clock := newClock()
		s := newServer(t, clock, reply(fmt.Sprintf(`{"active":true,"sub":"alice","exp":%d}`, clock.Unix(-10*time.Second))))
		a := newAuth(t, s)
		_, err := a.Authenticate(context.Background(), "tok-1")
		wantDenial(t, err, runtime.ReasonTokenExpired)
		_, err = a.Authenticate(context.Background(), "tok-1")
		wantDenial(t, err, runtime.ReasonTokenExpired)
		wantRequests(t, s, 2)
	})
	t.Run("exp equal to now", func(t *testing.T) {
		clock := newClock()
		s := newServer(t, clock, reply(fmt.Sprintf(`{"active":true,"sub":"alice","exp":%d}`, clock.Unix(0))))
		_, err := newAuth(t, s).Authenticate(context.Background(), "tok-1")
		wantDenial(t, err, runtime.ReasonTokenExpired)
	})
	t.Run("expires while cached", func(t *testing.T) {
		clock := newClock()
		exp := clock.Now().Add(30 * time.Second).Truncate(time.Second)
		s := newServer(t, clock, reply(fmt.Sprintf(`{"active":true,"sub":"alice","exp":%d}`, exp.Unix())))
		a := newAuth(t, s, introspection.CacheTTL(time.Hour))
		if p := mustOK(t, a, "tok-1"); !p.ExpiresAt.Equal(exp) {
			t.Fatalf("ExpiresAt = %v, want %v", p.ExpiresAt, exp)
		}
		clock.Advance(10 * time.Second)
		mustOK(t, a, "tok-1")
		wantRequests(t, s, 1) // served from the cache

		// The endpoint now goes down: rejecting the expired entry must not
		// need it.
		s.setAnswer(replyStatus(http.StatusServiceUnavailable))
		clock.ns.Store(exp.UnixNano())
		_, err := a.Authenticate(context.Background(), "tok-1")
		wantDenial(t, err, runtime.ReasonTokenExpired)
		wantRequests(t, s, 1)
	})
	t.Run("nbf in the future", func(t *testing.T) {
		clock := newClock()
		s := newServer(t, clock, reply(fmt.Sprintf(`{"active":true,"sub":"alice","nbf":%d}`, clock.Unix(time.Minute))))
		_, err := newAuth(t, s).Authenticate(context.Background(), "tok-1")
		wantDenial(t, err, runtime.ReasonTokenNotYetValid)
	})
}

// ---- SECURITY-CASES 34 ----

func TestSecurity34_IssuerAudienceRefresh(t *testing.T) {
	const iss = "https://as.example"
	for _, tc := range []struct {
		name string
		body string
		want runtime.Reason // "" for success
	}{
		{"trusted", `{"active":true,"sub":"alice","iss":"https://as.example","aud":"library"}`, ""},
		{"aud array", `{"active":true,"sub":"alice","iss":"https://as.example","aud":["other","library"]}`, ""},
		{"untrusted iss", `{"active":true,"sub":"alice","iss":"https://evil.example","aud":"library"}`, runtime.ReasonIssuerUntrusted},
		{"iss with trailing slash", `{"active":true,"sub":"alice","iss":"https://as.example/","aud":"library"}`, runtime.ReasonIssuerUntrusted},
		{"iss absent", `{"active":true,"sub":"alice","aud":"library"}`, runtime.ReasonIssuerUntrusted},
		{"wrong aud", `{"active":true,"sub":"alice","iss":"https://as.example","aud":"billing"}`, runtime.ReasonAudienceMismatch},
		{"aud prefix", `{"active":true,"sub":"alice","iss":"https://as.example","aud":"librar"}`, runtime.ReasonAudienceMismatch},
		{"aud case", `{"active":true,"sub":"alice","iss":"https://as.example","aud":"Library"}`, runtime.ReasonAudienceMismatch},
		{"wrong aud array", `{"active":true,"sub":"alice","iss":"https://as.example","aud":["a","b"]}`, runtime.ReasonAudienceMismatch},
		{"aud absent", `{"active":true,"sub":"alice","iss":"https://as.example"}`, runtime.ReasonAudienceMismatch},
		{"aud empty array", `{"active":true,"sub":"alice","iss":"https://as.example","aud":[]}`, runtime.ReasonAudienceMismatch},
		{"refresh token", `{"active":true,"sub":"alice","iss":"https://as.example","aud":"library","token_type":"refresh_token"}`, runtime.ReasonCredentialKindNotAccepted},
		{"refresh token any case", `{"active":true,"sub":"alice","iss":"https://as.example","aud":"library","token_type":"Refresh_Token"}`, runtime.ReasonCredentialKindNotAccepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			s := newServer(t, clock, reply(tc.body))
			a := newAuth(t, s, introspection.Issuer(iss), introspection.Audience("library", "library-admin"))
			for i := 1; i <= 2; i++ {
				_, err := a.Authenticate(context.Background(), "tok-1")
				if tc.want == "" {
					if err != nil {
						t.Fatalf("Authenticate: %v", err)
					}
					wantRequests(t, s, 1) // cached
					continue
				}
				e := wantDenial(t, err, tc.want)
				if status.Code(err) != codes.Unauthenticated {
					t.Fatalf("code = %v, want UNAUTHENTICATED", status.Code(err))
				}
				if tc.want == runtime.ReasonCredentialKindNotAccepted && e.Message != "refresh tokens are not accepted" {
					t.Errorf("message = %q", e.Message)
				}
				wantRequests(t, s, int64(i)) // denials are never cached
			}
		})
	}
}

// ---- SECURITY-CASES 36 ----

// failure is an endpoint that fails, and the detail it must produce.
type failure struct {
	name    string
	answer  answer
	opts    []introspection.Option
	detail  string
	badAuth bool // the authenticator's client secret is wrong
}

func failures() []failure {
	bigBody := `{"active":true,"sub":"alice","pad":"` + strings.Repeat("a", introspection.MaxResponseSize) + `"}`
	return []failure{
		{name: "500", answer: replyStatus(http.StatusInternalServerError), detail: "status 500"},
		{name: "401", answer: replyStatus(http.StatusUnauthorized), detail: "status 401"},
		{name: "wrong client secret", answer: reply(`{"active":true,"sub":"alice"}`), detail: "status 401", badAuth: true},
		{name: "redirect", answer: func(w http.ResponseWriter, r *http.Request, _ string) {
			http.Redirect(w, r, "https://elsewhere.example/introspect", http.StatusTemporaryRedirect)
		}, detail: "status 307"},
		{name: "malformed JSON", answer: reply(`{"active":true,"sub":"alice"`), detail: "malformed JSON"},
		{name: "not an object", answer: reply(`[{"active":true}]`), detail: "malformed JSON"},
		{name: "null", answer: reply(`null`), detail: "malformed JSON"},
		{name: "trailing data", answer: reply(`{"active":true,"sub":"alice"} {"active":false}`), detail: "malformed JSON"},
		{name: "active is a string", answer: reply(`{"active":"true","sub":"alice"}`), detail: "malformed JSON"},
		{name: "exp is a string", answer: reply(`{"active":true,"sub":"alice","exp":"4102444800"}`), detail: "malformed JSON"},
		{name: "aud is a number", answer: reply(`{"active":true,"sub":"alice","aud":7}`), detail: "malformed JSON"},
		{name: "empty body", answer: reply(``), detail: "malformed JSON"},
		{name: "oversize body", answer: reply(bigBody), detail: "larger than"},
		{name: "timeout", answer: func(w http.ResponseWriter, r *http.Request, _ string) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			// Returning would send 200 with an empty body; never answer.
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		}, opts: []introspection.Option{introspection.Timeout(200 * time.Millisecond)}, detail: "timeout"},
		{name: "timeout mid-body", answer: func(w http.ResponseWriter, r *http.Request, _ string) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"active":true,`)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, opts: []introspection.Option{introspection.Timeout(200 * time.Millisecond)}, detail: "timeout"},
		{name: "connection closed", answer: func(w http.ResponseWriter, _ *http.Request, _ string) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			conn.Close()
		}, detail: "request failed"},
		{name: "connection closed mid-body", answer: func(w http.ResponseWriter, _ *http.Request, _ string) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"active\":true,")
			buf.Flush()
			conn.Close()
		}, detail: "reading the response failed"},
	}
}

func TestSecurity36_FailClosed(t *testing.T) {
	for _, f := range failures() {
		t.Run(f.name, func(t *testing.T) {
			clock := newClock()
			s := newServer(t, clock, f.answer)
			if f.badAuth {
				s.setClient("another secret", nil)
			}
			a := newAuth(t, s, f.opts...)
			p, err := a.Authenticate(context.Background(), "tok-1")
			if p != nil {
				t.Fatalf("got principal %+v with a failing endpoint", p)
			}
			e := wantDenial(t, err, runtime.ReasonAuthBackendUnavailable)
			if status.Convert(err).Code() != codes.Unavailable {
				t.Fatalf("code = %v, want UNAVAILABLE", status.Convert(err).Code())
			}
			if e.Message != "the token could not be checked; try again later" {
				t.Errorf("message = %q", e.Message)
			}
			if !strings.Contains(e.Detail, f.detail) {
				t.Errorf("detail = %q, want it to mention %q", e.Detail, f.detail)
			}
			wantRequests(t, s, 1) // a redirect is not followed

			if len(f.opts) > 0 {
				// The 200ms timeout could fail the recovery on a loaded
				// machine; the other cases show failures are not cached.
				return
			}
			// Failures are not cached: once the endpoint recovers, the
			// token is accepted.
			s.setClient(clientSecret, nil)
			s.setAnswer(reply(`{"active":true,"sub":"alice"}`))
			mustOK(t, a, "tok-1")
		})
	}
}

// ---- SECURITY-CASES 37 ----

func TestSecurity37_CacheKeyAndLifetime(t *testing.T) {
	t.Run("endpoints never share entries", func(t *testing.T) {
		clock := newClock()
		sA := newServer(t, clock, reply(`{"active":true,"sub":"alice"}`))
		sB := newServer(t, clock, reply(`{"active":false}`))
		aA, aB := newAuth(t, sA), newAuth(t, sB)
		const tok = "tok-shared"
		for i := 1; i <= 3; i++ {
			mustOK(t, aA, tok)
			_, err := aB.Authenticate(context.Background(), tok)
			wantDenial(t, err, runtime.ReasonTokenRevoked)
			wantRequests(t, sA, 1)
			wantRequests(t, sB, int64(i))
		}
		kA, kB := introspection.CacheKey(aA, tok), introspection.CacheKey(aB, tok)
		if kA == kB {
			t.Fatal("the same token at two endpoints has the same cache key")
		}
		if bytes.Contains(kA[:], []byte(tok)) {
			t.Fatal("the cache key holds the token")
		}
		if introspection.CacheKey(aA, tok+"x") == kA {
			t.Fatal("two tokens share a cache key")
		}
	})
	t.Run("an entry never outlives exp", func(t *testing.T) {
		clock := newClock()
		s := newServer(t, clock, reply(fmt.Sprintf(`{"active":true,"sub":"alice","exp":%d}`, clock.Unix(10*time.Second))))
		a := newAuth(t, s, introspection.CacheTTL(time.Hour))
		mustOK(t, a, "tok-1")
		clock.Advance(9 * time.Second)
		mustOK(t, a, "tok-1")
		wantRequests(t, s, 1)
		clock.Advance(time.Second)
		_, err := a.Authenticate(context.Background(), "tok-1")
		wantDenial(t, err, runtime.ReasonTokenExpired)
		wantRequests(t, s, 1)
		if n := introspection.CacheLen(a); n != 0 {
			t.Fatalf("the expired entry is still cached (%d entries)", n)
		}
	})
	t.Run("CacheTTL bounds an entry", func(t *testing.T) {
		clock := newClock()
		s := newServer(t, clock, reply(fmt.Sprintf(`{"active":true,"sub":"alice","exp":%d}`, clock.Unix(time.Hour))))
		a := newAuth(t, s, introspection.CacheTTL(time.Minute))
		mustOK(t, a, "tok-1")
		clock.Advance(59 * time.Second)
		mustOK(t, a, "tok-1")
		wantRequests(t, s, 1)
		clock.Advance(time.Second)
		mustOK(t, a, "tok-1")
		wantRequests(t, s, 2)

		// Revoked at the server: seen once the new entry's TTL passes.
		s.setAnswer(reply(`{"active":false}`))
		mustOK(t, a, "tok-1")
		wantRequests(t, s, 2)
		clock.Advance(time.Minute)
		_, err := a.Authenticate(context.Background(), "tok-1")
		wantDenial(t, err, runtime.ReasonTokenRevoked)
		wantRequests(t, s, 3)
	})
	t.Run("CacheTTL 0 disables the cache", func(t *testing.T) {
		clock := newClock()
		s := newServer(t, clock, reply(`{"active":true,"sub":"alice"}`))
		a := newAuth(t, s, introspection.CacheTTL(0))
		mustOK(t, a, "tok-1")
		mustOK(t, a, "tok-1")
		wantRequests(t, s, 2)
		if n := introspection.CacheLen(a); n != 0 {
			t.Fatalf("cache holds %d entries with CacheTTL(0)", n)
		}
	})
}

// ---- request sharing ----

// waitFor polls cond until it holds; it fails the test after a long while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// blocking answers active, once release is closed.
func blocking(release <-chan struct{}) answer {
	return func(w http.ResponseWriter, r *http.Request, _ string) {
		<-release
		if r.Context().Err() != nil {
			return // the shared request was cancelled: the test fails elsewhere
		}
		io.WriteString(w, `{"active":true,"sub":"alice","scope":"read"}`)
	}
}

func TestSingleflight(t *testing.T) {
	t.Run("50 callers, 1 request", func(t *testing.T) {
		clock := newClock()
		release := make(chan struct{})
		s := newServer(t, clock, blocking(release))
		// No cache: only request sharing can keep this at one request.
		a := newAuth(t, s, introspection.CacheTTL(0))
		const n = 50
		errs := make(chan error, n)
		for range n {
			go func() {
				p, err := a.Authenticate(context.Background(), "tok-1")
				if err == nil && (p.Subject != "alice" || !p.HasScope("read")) {
					err = fmt.Errorf("wrong principal %+v", p)
				}
				errs <- err
			}()
		}
		waitFor(t, "50 callers to wait on one request", func() bool { return introspection.Waiters(a, "tok-1") == n })
		close(release)
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		wantRequests(t, s, 1)
		if w := introspection.Waiters(a, "tok-1"); w != 0 {
			t.Fatalf("%d waiters left after the request", w)
		}
	})
	t.Run("a cancelled caller does not cancel the others", func(t *testing.T) {
		clock := newClock()
		release := make(chan struct{})
		s := newServer(t, clock, blocking(release))
		a := newAuth(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		cancelled := make(chan error, 1)
		go func() {
			_, err := a.Authenticate(ctx, "tok-1")
			cancelled <- err
		}()
		waitFor(t, "the first caller to start the request", func() bool { return introspection.Waiters(a, "tok-1") == 1 })
		other := make(chan error, 1)
		go func() {
			_, err := a.Authenticate(context.Background(), "tok-1")
			other <- err
		}()
		waitFor(t, "the second caller to join", func() bool { return introspection.Waiters(a, "tok-1") == 2 })
		cancel()
		if err := <-cancelled; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller got %v, want context.Canceled", err)
		}
		close(release)
		if err := <-other; err != nil {
			t.Fatalf("the other caller failed: %v", err)
		}
		wantRequests(t, s, 1)
		mustOK(t, a, "tok-1") // cached by the shared request
		wantRequests(t, s, 1)
	})
	t.Run("distinct tokens do not share", func(t *testing.T) {
		clock := newClock()
		s := newServer(t, clock, func(w http.ResponseWriter, _ *http.Request, token string) {
			fmt.Fprintf(w, `{"active":true,"sub":%q}`, "user-"+token)
		})
		a := newAuth(t, s)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok := fmt.Sprintf("tok-%d", i)
				p, err := a.Authenticate(context.Background(), tok)
				if err != nil || p.Subject != "user-"+tok {
					t.Errorf("Authenticate(%q) = %+v, %v", tok, p, err)
				}
			}()
		}
		wg.Wait()
		wantRequests(t, s, 20)
	})
}

// ---- client authentication ----

// opaqueSigner hides the key's type, as a KMS or HSM signer does.
type opaqueSigner struct{ k crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.k.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.k.Sign(r, d, opts)
}

func TestClientAuth(t *testing.T) {
	t.Run("client_secret_basic", func(t *testing.T) {
		clock := newClock()
		s := newServer(t, clock, reply(`{"active":true,"client_id":"svc"}`))
		a := newAuth(t, s)
		if p := mustOK(t, a, "tok-1"); p.Subject != "svc" {
			t.Fatalf("Subject = %q, want the client_id", p.Subject)
		}
	})
	t.Run("client_secret_basic wrong secret", func(t *testing.T) {
		clock := newClock()
		s := newServer(t, clock, reply(`{"active":true,"sub":"alice"}`))
		s.setClient("the real secret", nil)
		_, err := newAuth(t, s).Authenticate(context.Background(), "tok-1")
		e := wantDenial(t, err, runtime.ReasonAuthBackendUnavailable)
		if !strings.Contains(e.Detail, "401") {
			t.Fatalf("detail = %q, want the status", e.Detail)
		}
	})

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  string
	}{
		{"private_key_jwt ES256", ecKey, "ES256"},
		{"private_key_jwt EdDSA", edKey, "EdDSA"},
		{"private_key_jwt opaque signer", opaqueSigner{ecKey}, "ES256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			s := newServer(t, clock, reply(`{"active":true,"sub":"alice"}`))
			s.setClient("", tc.key.Public())
			a := newAuth(t, s, introspection.PrivateKeyJWT(clientID, tc.key, "key-1", tc.alg), introspection.CacheTTL(0))
			mustOK(t, a, "tok-1")
			mustOK(t, a, "tok-1") // a fresh jti: the server refuses replays
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.assertions) != 2 {
				t.Fatalf("server verified %d assertions, want 2", len(s.assertions))
			}
			for i, c := range s.assertions {
				if c.Issuer != clientID || c.Subject != clientID || len(c.Audience) != 1 || c.Audience[0] != s.endpoint() {
					t.Errorf("assertion %d: iss %q sub %q aud %q", i, c.Issuer, c.Subject, c.Audience)
				}
				if c.IssuedAt == nil || c.Expiry == nil || c.Expiry.Time().Sub(c.IssuedAt.Time()) != time.Minute {
					t.Errorf("assertion %d: iat %v exp %v, want exp = iat + 1m", i, c.IssuedAt, c.Expiry)
				}
				if !c.Expiry.Time().After(clock.Now()) {
					t.Errorf("assertion %d: exp %v is not in the future", i, c.Expiry.Time())
				}
				if s.kids[i] != "key-1" {
					t.Errorf("assertion %d: kid %q, want key-1", i, s.kids[i])
				}
			}
		})
	}
	t.Run("private_key_jwt wrong key", func(t *testing.T) {
		clock := newClock()
		s := newServer(t, clock, reply(`{"active":true,"sub":"alice"}`))
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s.setClient("", other.Public())
		a := newAuth(t, s, introspection.PrivateKeyJWT(clientID, ecKey, "", "ES256"))
		_, err = a.Authenticate(context.Background(), "tok-1")
		wantDenial(t, err, runtime.ReasonAuthBackendUnavailable)
	})
}

// ---- cache bound ----

func TestCacheBound(t *testing.T) {
	t.Run("1000 tokens in a cache of 100", func(t *testing.T) {
		clock := newClock()
		s := newServer(t, clock, func(w http.ResponseWriter, _ *http.Request, token string) {
			fmt.Fprintf(w, `{"active":true,"sub":%q,"exp":%d}`, "user-"+token, clock.Unix(time.Hour))
		})
		a := newAuth(t, s, introspection.CacheSize(100))
		for i := range 1000 {
			mustOK(t, a, fmt.Sprintf("tok-%d", i))
			// A token in use keeps working, from the cache or fetched again.
			if p := mustOK(t, a, "tok-keep"); p.Subject != "user-tok-keep" {
				t.Fatalf("Subject = %q", p.Subject)
			}
			if n := introspection.CacheLen(a); n > 100 {
				t.Fatalf("cache holds %d entries, want at most 100", n)
			}
		}
	})
	t.Run("bad tokens never displace good ones", func(t *testing.T) {
		clock := newClock()
		s := newServer(t, clock, func(w http.ResponseWriter, _ *http.Request, token string) {
			if token == "tok-good" {
				io.WriteString(w, `{"active":true,"sub":"alice"}`)
				return
			}
			io.WriteString(w, `{"active":false}`)
		})
		a := newAuth(t, s, introspection.CacheSize(1))
		mustOK(t, a, "tok-good")
		for i := range 200 {
			_, err := a.Authenticate(context.Background(), fmt.Sprintf("tok-bad-%d", i))
			wantDenial(t, err, runtime.ReasonTokenRevoked)
		}
		mustOK(t, a, "tok-good")
		wantRequests(t, s, 201) // the good token came from the cache
	})
}

// ---- no token in errors ----

func TestNoTokenInErrors(t *testing.T) {
	type scenario struct {
		name   string
		answer func(token string) answer
		opts   []introspection.Option
		token  func(t *testing.T) string
	}
	fixed := func(a answer) func(string) answer { return func(string) answer { return a } }
	var cases []scenario
	for _, f := range failures() {
		if f.badAuth {
			continue
		}
		cases = append(cases, scenario{name: f.name, answer: fixed(f.answer), opts: f.opts})
	}
	clock := newClock()
	for name, body := range map[string]string{
		"inactive":      `{"active":false}`,
		"expired":       fmt.Sprintf(`{"active":true,"sub":"a","exp":%d}`, clock.Unix(-time.Hour)),
		"not yet valid": fmt.Sprintf(`{"active":true,"sub":"a","nbf":%d}`, clock.Unix(time.Hour)),
		"issuer":        `{"active":true,"sub":"a","iss":"https://evil.example","aud":"library"}`,
		"audience":      `{"active":true,"sub":"a","iss":"https://as.example","aud":"x"}`,
		"refresh":       `{"active":true,"sub":"a","token_type":"refresh_token"}`,
		"no subject":    `{"active":true}`,
	} {
		cases = append(cases, scenario{name: name, answer: fixed(reply(body))})
	}
	// A hostile or broken endpoint echoes the token back.
	cases = append(cases,
		scenario{name: "echo in malformed JSON", answer: func(tok string) answer { return reply(`{"active":true,"x":"` + tok) }},
		scenario{name: "echo as a wrong type", answer: func(tok string) answer { return reply(`{"active":"` + tok + `"}`) }},
		scenario{name: "echo in aud", answer: func(tok string) answer { return reply(`{"active":true,"sub":"a","aud":[` + "\"" + tok + "\"," + `1]}`) }},
		scenario{name: "echo in an error status", answer: func(tok string) answer {
			return func(w http.ResponseWriter, _ *http.Request, _ string) { http.Error(w, tok, http.StatusBadGateway) }
		}},
		scenario{name: "echo in a redirect", answer: func(tok string) answer {
			return func(w http.ResponseWriter, r *http.Request, _ string) {
				http.Redirect(w, r, "/next?token="+tok, http.StatusFound)
			}
		}},
		scenario{name: "oversized token", answer: fixed(reply(`{"active":true,"sub":"a"}`)),
			token: func(t *testing.T) string {
				return randomToken(t) + strings.Repeat("A", introspection.DefaultMaxTokenSize)
			}},
	)
	for _, sc := range cases {
		t.Run(sc.name, func(t *testing.T) {
			token := randomToken(t)
			if sc.token != nil {
				token = sc.token(t)
			}
			s := newServer(t, newClock(), sc.answer(token))
			opts := append([]introspection.Option{introspection.Issuer("https://as.example"), introspection.Audience("library")}, sc.opts...)
			if !strings.HasPrefix(sc.name, "issuer") && !strings.HasPrefix(sc.name, "audience") {
				opts = sc.opts
			}
			a := newAuth(t, s, opts...)
			_, err := a.Authenticate(context.Background(), token)
			if err == nil {
				t.Fatal("no error")
			}
			e, ok := runtime.FromError(err)
			if !ok {
				t.Fatalf("%T is not a denial", err)
			}
			needle := token
			if len(needle) > 52 {
				needle = needle[:52] // the random part identifies it
			}
			texts := map[string]string{
				"Error()":    err.Error(),
				"Detail":     e.Detail,
				"Message":    e.Message,
				"status":     status.Convert(err).String(),
				"%+v":        fmt.Sprintf("%+v", err),
				"Metadata":   fmt.Sprint(e.Metadata),
				"cause":      fmt.Sprint(errors.Unwrap(err)),
				"GRPCStatus": fmt.Sprint(e.GRPCStatus().Proto()),
			}
			for where, text := range texts {
				if strings.Contains(text, needle) || strings.Contains(text, url.QueryEscape(needle)) {
					t.Errorf("%s holds the token: %q", where, text)
				}
			}
		})
	}
}

// ---- the principal ----

func TestPrincipal(t *testing.T) {
	clock := newClock()
	exp := clock.Unix(time.Hour)
	for _, tc := range []struct {
		name, body, subject string
	}{
		{"sub", fmt.Sprintf(`{"active":true,"sub":"alice","username":"al","client_id":"svc","scope":"read write","iss":"https://as.example","exp":%d,"token_type":"Bearer","ext":{"tenant":"t1"}}`, exp), "alice"},
		{"username", `{"active":true,"username":"al","client_id":"svc"}`, "al"},
		{"client_id", `{"active":true,"client_id":"svc"}`, "svc"},
		{"fractional exp", fmt.Sprintf(`{"active":true,"sub":"alice","exp":%d.5}`, exp), "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, clock, reply(tc.body))
			a := newAuth(t, s)
			var firstSub any
			for i := range 2 { // fetched, then cached
				p := mustOK(t, a, "tok-1")
				if i == 0 {
					firstSub = p.Claims["sub"]
				} else if p.Claims["sub"] != firstSub {
					t.Fatalf("a caller's write to Claims reached the next caller: sub = %v", p.Claims["sub"])
				}
				if p.Kind != runtime.OAuth2Token || p.Subject != tc.subject {
					t.Fatalf("Kind %v Subject %q, want OAUTH2_TOKEN %q", p.Kind, p.Subject, tc.subject)
				}
				if p.Claims["active"] != true {
					t.Fatalf("Claims = %v, want the whole response", p.Claims)
				}
				if tc.name == "sub" {
					if p.Issuer != "https://as.example" || len(p.Scopes) != 2 || !p.HasScope("read") || !p.HasScope("write") ||
						p.ExpiresAt.Unix() != exp || p.Claims["ext"].(map[string]any)["tenant"] != "t1" {
						t.Fatalf("principal = %+v", p)
					}
				}
				// A caller that writes to its principal does not change the next one's.
				p.Claims["sub"] = "mallory"
				p.Scopes = append(p.Scopes[:0], "admin")
			}
		})
	}
	t.Run("active token naming nobody", func(t *testing.T) {
		s := newServer(t, clock, reply(`{"active":true,"scope":"admin"}`))
		_, err := newAuth(t, s).Authenticate(context.Background(), "tok-1")
		wantDenial(t, err, runtime.ReasonClaimsInvalid)
	})
}

// TestScopeStrict: the answer's scope is split by runtime.ParseScope (RFC
// 6749 §3.3, strictly); a malformed scope string is 16 CLAIMS_INVALID,
// never split leniently, and such an answer is not cached.
func TestScopeStrict(t *testing.T) {
	clock := newClock()
	// JSON-escaped: the body holds them as written here.
	for _, scope := range []string{"read  write", " read", "read ", `read\twrite`, `read\nwrite`, " ", `read\\write`, `read\"`, `caf\u00e9`, `read\u0000`, "caf\u00e9"} {
		t.Run(scope, func(t *testing.T) {
			s := newServer(t, clock, reply(`{"active":true,"sub":"alice","scope":"`+scope+`"}`))
			a := newAuth(t, s)
			for range 2 {
				_, err := a.Authenticate(context.Background(), "tok-1")
				e := wantDenial(t, err, runtime.ReasonClaimsInvalid)
				if strings.Contains(e.Message+e.Detail, "read") {
					t.Errorf("the denial quotes the scope: %q / %q", e.Message, e.Detail)
				}
			}
			wantRequests(t, s, 2) // refused answers are never cached
		})
	}
	for scope, want := range map[string][]string{"": nil, "read": {"read"}, "read write": {"read", "write"}} {
		t.Run("ok/"+scope, func(t *testing.T) {
			s := newServer(t, clock, reply(`{"active":true,"sub":"alice","scope":"`+scope+`"}`))
			if p := mustOK(t, newAuth(t, s), "tok-1"); !slices.Equal(p.Scopes, want) {
				t.Fatalf("scopes %q; want %q", p.Scopes, want)
			}
		})
	}
}

func TestTokenShape(t *testing.T) {
	clock := newClock()
	s := newServer(t, clock, reply(`{"active":true,"sub":"alice"}`))
	a := newAuth(t, s, introspection.MaxTokenSize(64))
	for _, tok := range []string{"", strings.Repeat("a", 65)} {
		_, err := a.Authenticate(context.Background(), tok)
		wantDenial(t, err, runtime.ReasonCredentialsMalformed)
	}
	wantRequests(t, s, 0)
	mustOK(t, a, strings.Repeat("a", 64))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Authenticate(ctx, "tok-uncached"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: got %v", err)
	}
	wantRequests(t, s, 1)
}

// ---- setup ----

func TestSetup(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const ep = "https://as.example/introspect"
	secret := introspection.ClientSecret("id", "secret")
	for _, tc := range []struct {
		name string
		opts []introspection.Option
	}{
		{"missing Endpoint", []introspection.Option{secret}},
		{"http without AllowHTTP", []introspection.Option{introspection.Endpoint("http://as.example/introspect"), secret}},
		{"both client auths", []introspection.Option{introspection.Endpoint(ep), secret, introspection.PrivateKeyJWT("id", ecKey, "", "ES256")}},
		{"ClientSecret twice", []introspection.Option{introspection.Endpoint(ep), secret, secret}},
		{"no client auth", []introspection.Option{introspection.Endpoint(ep)}},
		{"relative Endpoint", []introspection.Option{introspection.Endpoint("/introspect"), secret}},
		{"ftp Endpoint", []introspection.Option{introspection.Endpoint("ftp://as.example/x"), secret}},
		{"Endpoint with userinfo", []introspection.Option{introspection.Endpoint("https://id:pw@as.example/x"), secret}},
		{"Endpoint with fragment", []introspection.Option{introspection.Endpoint("https://as.example/x#f"), secret}},
		{"empty client ID", []introspection.Option{introspection.Endpoint(ep), introspection.ClientSecret("", "s")}},
		{"empty secret", []introspection.Option{introspection.Endpoint(ep), introspection.ClientSecret("id", "")}},
		{"nil key", []introspection.Option{introspection.Endpoint(ep), introspection.PrivateKeyJWT("id", nil, "", "ES256")}},
		{"HMAC", []introspection.Option{introspection.Endpoint(ep), introspection.PrivateKeyJWT("id", ecKey, "", "HS256")}},
		{"none", []introspection.Option{introspection.Endpoint(ep), introspection.PrivateKeyJWT("id", ecKey, "", "none")}},
		{"unknown alg", []introspection.Option{introspection.Endpoint(ep), introspection.PrivateKeyJWT("id", ecKey, "", "es256")}},
		{"alg of another key type", []introspection.Option{introspection.Endpoint(ep), introspection.PrivateKeyJWT("id", rsaKey, "", "ES256")}},
		{"alg of another curve", []introspection.Option{introspection.Endpoint(ep), introspection.PrivateKeyJWT("id", ecKey, "", "ES384")}},
		{"empty Issuer", []introspection.Option{introspection.Endpoint(ep), secret, introspection.Issuer("")}},
		{"no Audience", []introspection.Option{introspection.Endpoint(ep), secret, introspection.Audience()}},
		{"empty Audience", []introspection.Option{introspection.Endpoint(ep), secret, introspection.Audience("a", "")}},
		{"nil HTTPClient", []introspection.Option{introspection.Endpoint(ep), secret, introspection.HTTPClient(nil)}},
		{"zero Timeout", []introspection.Option{introspection.Endpoint(ep), secret, introspection.Timeout(0)}},
		{"negative CacheTTL", []introspection.Option{introspection.Endpoint(ep), secret, introspection.CacheTTL(-time.Second)}},
		{"zero CacheSize", []introspection.Option{introspection.Endpoint(ep), secret, introspection.CacheSize(0)}},
		{"nil Clock", []introspection.Option{introspection.Endpoint(ep), secret, introspection.Clock(nil)}},
		{"tiny MaxTokenSize", []introspection.Option{introspection.Endpoint(ep), secret, introspection.MaxTokenSize(8)}},
		{"nil option", []introspection.Option{introspection.Endpoint(ep), secret, nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := introspection.New(tc.opts...)
			if !errors.Is(err, introspection.ErrInvalidOption) || a != nil {
				t.Fatalf("New = %v, %v; want an error wrapping ErrInvalidOption", a, err)
			}
			if !strings.HasPrefix(err.Error(), "introspection: invalid option: ") {
				t.Errorf("error %q", err)
			}
		})
	}
	for name, opts := range map[string][]introspection.Option{
		"basic":           {introspection.Endpoint(ep), secret},
		"http allowed":    {introspection.Endpoint("http://localhost:8080/introspect"), introspection.AllowHTTP(), secret},
		"private_key_jwt": {introspection.Endpoint(ep), introspection.PrivateKeyJWT("id", rsaKey, "k", "PS256")},
		"everything": {introspection.Endpoint(ep), secret, introspection.Issuer("https://as.example"), introspection.Audience("a", "b"),
			introspection.HTTPClient(http.DefaultClient), introspection.Timeout(time.Second), introspection.CacheTTL(0),
			introspection.CacheSize(1), introspection.Clock(time.Now), introspection.MaxTokenSize(1 << 20)},
	} {
		t.Run("valid "+name, func(t *testing.T) {
			if _, err := introspection.New(opts...); err != nil {
				t.Fatalf("New: %v", err)
			}
		})
	}
}

// HTTPClient copies the client: the caller's redirect policy is untouched.
func TestHTTPClientCopied(t *testing.T) {
	clock := newClock()
	s := newServer(t, clock, reply(`{"active":true,"sub":"alice"}`))
	hc := s.srv.Client()
	a := newAuth(t, s, introspection.HTTPClient(hc))
	mustOK(t, a, "tok-1")
	if hc.CheckRedirect != nil {
		t.Fatal("the caller's http.Client was modified")
	}
}

// noGoroutineLeft fails t if, when its cleanups run, more goroutines
// are running than now (waiting up to 30s for them to end). Called first
// in a test, its cleanup runs last.
func noGoroutineLeft(t *testing.T) {
	before := goruntime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(30 * time.Second)
		for goruntime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines before, %d after:\n%s", before, goruntime.NumGoroutine(), buf[:goruntime.Stack(buf, true)])
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// TestNoGoroutineLeak ends every request, shared, cancelled or timed out,
// with no goroutine left once the server and its connections are closed.
func TestNoGoroutineLeak(t *testing.T) {
	noGoroutineLeft(t) // registered first, so it runs last: after the server's Close
	clock := newClock()
	release := make(chan struct{})
	s := newServer(t, clock, func(w http.ResponseWriter, r *http.Request, token string) {
		switch token {
		case "tok-slow":
			<-release
		case "tok-hang":
			<-r.Context().Done()
			return
		}
		io.WriteString(w, `{"active":true,"sub":"alice"}`)
	})
	a := newAuth(t, s)
	short := newAuth(t, s, introspection.Timeout(200*time.Millisecond))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(ctx, "tok-slow")
		done <- err
	}()
	waitFor(t, "the slow request", func() bool { return introspection.Waiters(a, "tok-slow") == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	_, err := short.Authenticate(context.Background(), "tok-hang")
	wantDenial(t, err, runtime.ReasonAuthBackendUnavailable)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Authenticate(context.Background(), fmt.Sprintf("tok-%d", i%5)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(release) // the abandoned shared request ends
	waitFor(t, "the abandoned request to end", func() bool { return introspection.Waiters(a, "tok-slow") == 0 })
}

// TestCacheStats counts the endpoint's answers served from the cache.
func TestCacheStats(t *testing.T) {
	clock := newClock()
	s := newServer(t, clock, reply(fmt.Sprintf(`{"active":true,"sub":"alice","exp":%d}`, clock.Unix(time.Hour))))
	a := newAuth(t, s, introspection.CacheSize(2))
	if got := a.CacheStats(); got != (runtime.CacheStats{Capacity: 2}) {
		t.Fatalf("new cache: %+v", got)
	}
	tok := randomToken(t)
	for range 3 {
		mustOK(t, a, tok)
	}
	wantRequests(t, s, 1)
	if got := a.CacheStats(); got != (runtime.CacheStats{Entries: 1, Capacity: 2, Hits: 2, Misses: 1}) {
		t.Fatalf("one token three times: %+v", got)
	}
	for range 3 {
		mustOK(t, a, randomToken(t))
	}
	if got := a.CacheStats(); got.Entries != 2 || got.Evictions != 2 || got.Misses != 4 {
		t.Fatalf("after three more tokens: %+v; want 2 entries, 2 evictions, 4 misses", got)
	}
}

// TestAuthenticateKnown: only an active answer Authenticate took is served
// from memory, and only while it holds at this instant.
func TestAuthenticateKnown(t *testing.T) {
	clock := newClock()
	s := newServer(t, clock, reply(fmt.Sprintf(`{"active":true,"sub":"alice","exp":%d}`, clock.Unix(time.Minute))))
	a := newAuth(t, s, introspection.CacheTTL(time.Hour))
	ctx := context.Background()
	if _, ok := a.AuthenticateKnown(ctx, a, "tok-1"); ok {
		t.Fatal("a token never introspected was served from memory")
	}
	p := mustOK(t, a, "tok-1")
	got, ok := a.AuthenticateKnown(ctx, a, "tok-1")
	if !ok || got.Subject != p.Subject || got.Kind != runtime.OAuth2Token {
		t.Fatalf("an active cached token: served %v (%+v); want alice's principal", ok, got)
	}
	wantRequests(t, s, 1)
	if _, ok := a.AuthenticateKnown(ctx, wrapped{a}, "tok-1"); ok {
		t.Fatal("a token was served from memory for another authenticator (one that embeds this one)")
	}
	if _, ok := a.AuthenticateKnown(ctx, a, "tok-2"); ok {
		t.Fatal("another token was served from memory")
	}
	clock.Advance(2 * time.Minute)
	if _, ok := a.AuthenticateKnown(ctx, a, "tok-1"); ok {
		t.Fatal("an expired token was served from memory")
	}

	s.setAnswer(reply(`{"active":false}`))
	_, err := a.Authenticate(ctx, "tok-3")
	wantDenial(t, err, runtime.ReasonTokenRevoked)
	if _, ok := a.AuthenticateKnown(ctx, a, "tok-3"); ok {
		t.Fatal("an inactive token was served from memory")
	}
}

// wrapped is an authenticator that embeds introspection's.
type wrapped struct{ *introspection.Authenticator }

// TestClockIsTheOption: Clock is nil on the system clock, which tells an
// enforcer that it may date the streams of these tokens by its coarse
// clock, and the clock set by the Clock option otherwise.
func TestClockIsTheOption(t *testing.T) {
	a, err := introspection.New(introspection.Endpoint("https://as.example/introspect"), introspection.ClientSecret(clientID, clientSecret))
	if err != nil {
		t.Fatal(err)
	}
	if a.Clock() != nil {
		t.Error("Clock is not nil on the system clock")
	}
	clk := &fakeClock{}
	clk.ns.Store(1_700_000_000 * int64(time.Second))
	if b := newAuth(t, newServer(t, clk, nil)); b.Clock() == nil || !b.Clock()().Equal(clk.Now()) || !b.Now().Equal(clk.Now()) {
		t.Error("Clock is not the clock set by the Clock option")
	}
}
