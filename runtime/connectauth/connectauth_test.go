// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package connectauth_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/oauth2"
	"google.golang.org/grpc/codes"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1/grpcauthtestv1connect"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/connectauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/internal/conformance"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/revocation"
)

// server is a Connect Kinds handler behind connectauth.
type server struct {
	impl *conformance.Server
	enf  *runtime.Enforcer
	auth *connectauth.Auth
	log  *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{} }

// handlerMode says how the handler is wired.
type handlerMode int

const (
	both            handlerMode = iota // middleware and HandlerOption
	interceptorOnly                    // HandlerOption, no middleware
	middlewareOnly                     // middleware, handler built without HandlerOption
)

func newServer(t *testing.T, w *conformance.World, hm handlerMode, opts ...runtime.Option) (*server, http.Handler) {
	t.Helper()
	s := &server{impl: &conformance.Server{}, log: newSyncBuffer()}
	var err error
	if s.enf, err = runtime.NewEnforcer(append(append(w.Options(s.log), runtime.WithRules(grpcauthtestv1.KindsAuthRules)), opts...)...); err != nil {
		t.Fatal(err)
	}
	s.auth = connectauth.New(s.enf)
	var hopts []connect.HandlerOption
	if hm != middlewareOnly {
		hopts = append(hopts, s.auth.HandlerOption())
	}
	path, h := grpcauthtestv1connect.NewKindsHandler(&conformance.ConnectServer{S: s.impl}, hopts...)
	if hm != interceptorOnly {
		path, h = s.auth.Handle(path, h)
	}
	mux := http.NewServeMux()
	mux.Handle(path, h)
	return s, mux
}

func h2c() *http.Protocols {
	p := &http.Protocols{}
	p.SetUnencryptedHTTP2(true)
	return p
}

// serveH2C serves h over plaintext HTTP/2 (h2c) on loopback.
func serveH2C(t *testing.T, h http.Handler) (string, *http.Client) {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.Config.Protocols = h2c()
	s.Start()
	t.Cleanup(s.Close)
	return s.URL, &http.Client{Transport: &http.Transport{Protocols: h2c()}}
}

// serveTLS serves h over HTTPS (HTTP/2) asking for client certificates of
// w's CA.
func serveTLS(t *testing.T, w *conformance.World, h http.Handler) string {
	t.Helper()
	serverTLS, err := w.CA.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	serverTLS.NextProtos = []string{"h2", "http/1.1"} // see mtls.ServerTLSConfig
	s := httptest.NewUnstartedServer(h)
	s.TLS = w.MTLS.ServerTLSConfig(serverTLS)
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	return s.URL
}

func tlsClient(w *conformance.World, certs ...tls.Certificate) *http.Client {
	c := w.CA.ClientTLS()
	c.ServerName = "localhost"
	c.Certificates = certs
	return &http.Client{Transport: &http.Transport{TLSClientConfig: c, ForceAttemptHTTP2: true}}
}

// serveUnix serves h over h2c on a Unix socket.
func serveUnix(t *testing.T, h http.Handler) *http.Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "connect.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: h, Protocols: h2c()}
	go func() { _ = s.Serve(l) }() // ends with Close
	t.Cleanup(func() { s.Close() })
	return &http.Client{Transport: &http.Transport{Protocols: h2c(), DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
}

var protocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect", nil},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
	{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
}

// TestConformanceConnect runs the shared table through real connect-go
// clients and handlers on all three protocols, unary and streaming: over
// h2c and TLS, with the middleware and HandlerOption, and behind a trusted
// proxy on a Unix socket (loopback to the same handler is not one).
func TestConformanceConnect(t *testing.T) {
	w := conformance.NewWorld(t)
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Run("tls", func(t *testing.T) {
				s, h := newServer(t, w, both)
				c := grpcauthtestv1connect.NewKindsClient(tlsClient(w), serveTLS(t, w, h), p.opts...)
				conformance.Run(t, w, conformance.Path{Secure: true}, s.impl, conformance.Connect(c), conformance.Options{}, conformance.Cases)
			})
			t.Run("h2c", func(t *testing.T) {
				s, h := newServer(t, w, both)
				url, hc := serveH2C(t, h)
				c := grpcauthtestv1connect.NewKindsClient(hc, url, p.opts...)
				conformance.Run(t, w, conformance.Path{}, s.impl, conformance.Connect(c), conformance.Options{}, conformance.Cases)
			})
			t.Run("trusted proxy on a unix socket", func(t *testing.T) {
				s, h := newServer(t, w, both, runtime.WithTrustedProxies(runtime.TrustedProxy{Unix: true, ForwardedClientCert: true}))
				c := grpcauthtestv1connect.NewKindsClient(serveUnix(t, h), "http://proxy", p.opts...)
				conformance.Run(t, w, conformance.Path{Secure: true, ForwardsCerts: true}, s.impl, conformance.Connect(c), conformance.Options{}, conformance.Cases)
				url, hc := serveH2C(t, h)
				t.Run("loopback to the same handler", func(t *testing.T) {
					c := grpcauthtestv1connect.NewKindsClient(hc, url, p.opts...)
					conformance.Run(t, w, conformance.Path{}, s.impl, conformance.Connect(c), conformance.Options{}, conformance.Cases)
				})
			})
			t.Run("interceptor only", func(t *testing.T) {
				// Without the middleware the interceptor decides, after the
				// body is read, and knows no TLS: every call is plaintext.
				s, h := newServer(t, w, interceptorOnly)
				c := grpcauthtestv1connect.NewKindsClient(tlsClient(w), serveTLS(t, w, h), p.opts...)
				conformance.Run(t, w, conformance.Path{}, s.impl, conformance.Connect(c), conformance.Options{}, conformance.Cases)
			})
		})
	}
}

// countingBody counts what a handler reads of a request body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// TestDeniedBeforeTheBody: the middleware answers a denied call without
// reading a byte of its body, on every protocol (SECURITY-CASES 73).
func TestDeniedBeforeTheBody(t *testing.T) {
	w := conformance.NewWorld(t)
	s, h := newServer(t, w, both)
	var read atomic.Int64
	counted := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		r.Body = countingBody{r.Body, &read}
		h.ServeHTTP(rw, r)
	})
	url := serveTLS(t, w, counted)
	for _, p := range protocols {
		for _, m := range []string{"Any", "WatchAny", "ChatAny", "UploadAny", "Nope"} {
			read.Store(0)
			c := grpcauthtestv1connect.NewKindsClient(tlsClient(w), url, p.opts...)
			var err error
			if m == "Nope" {
				_, err = connect.NewClient[grpcauthtestv1.Msg, grpcauthtestv1.Msg](tlsClient(w), url+"/grpcauthtest.v1.Kinds/Nope", p.opts...).
					CallUnary(context.Background(), connect.NewRequest(&grpcauthtestv1.Msg{Text: strings.Repeat("x", 4096)}))
			} else {
				_, err = conformance.InvokeConnect(context.Background(), c, m, http.Header{"X-Api-Key": {"gak_unknown"}})
			}
			e, ok := connectauth.FromError(err)
			want := runtime.ReasonCredentialsInvalid
			if m == "Nope" {
				want = runtime.ReasonMethodNotDeclared
			}
			if !ok || e.Reason != want {
				t.Errorf("%s %s: got %v, want %s", p.name, m, err, want)
			}
			if n := read.Load(); n != 0 {
				t.Errorf("%s %s: the handler read %d bytes of a denied call's body", p.name, m, n)
			}
		}
	}
	if s.impl.Calls.Load() != 0 {
		t.Error("a denied call reached the handler")
	}
}

// TestConnectErrorDetails: the denial carries the same ErrorInfo, code
// and message as on the gRPC path, on every protocol.
func TestConnectErrorDetails(t *testing.T) {
	w := conformance.NewWorld(t)
	_, h := newServer(t, w, both)
	url := serveTLS(t, w, h)
	tok := w.Token("t")
	for _, p := range protocols {
		c := grpcauthtestv1connect.NewKindsClient(tlsClient(w), url, p.opts...)
		_, err := conformance.InvokeConnect(context.Background(), c, "Jwt", http.Header{"Authorization": {"Bearer " + tok}})
		e, ok := connectauth.FromError(err)
		if !ok || e.Code != codes.PermissionDenied || e.Reason != runtime.ReasonScopeInsufficient ||
			e.Metadata["missing_scopes"] != "s" || e.Metadata["method"] != "/grpcauthtest.v1.Kinds/Jwt" ||
			e.Message != "the caller lacks a required scope: s" {
			t.Errorf("%s: got %+v (%v)", p.name, e, err)
		}
		if connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("%s: code %v", p.name, connect.CodeOf(err))
		}
		if strings.Contains(err.Error(), tok[:20]) {
			t.Errorf("%s: the error quotes the token", p.name)
		}
	}
}

// TestConnectClientCertificate: the TLS connection's verified client
// certificate is the MTLS credential, as on the gRPC path.
func TestConnectClientCertificate(t *testing.T) {
	w := conformance.NewWorld(t)
	_, h := newServer(t, w, both)
	url := serveTLS(t, w, h)
	for _, p := range protocols {
		c := grpcauthtestv1connect.NewKindsClient(tlsClient(w, w.Workload), url, p.opts...)
		for _, m := range []string{"Mtls", "WatchAny", "ChatAny"} {
			got := conformance.Connect(c)(context.Background(), m, nil)
			if got.Code != codes.OK || got.Subject != conformance.WorkloadA {
				t.Errorf("%s %s: got %v %s %q", p.name, m, got.Code, got.Reason, got.Subject)
			}
		}
	}
}

// TestConnectStreamExpiry: a stream ends with TOKEN_EXPIRED when its
// token expires, idle or not, on every protocol.
func TestConnectStreamExpiry(t *testing.T) {
	w := conformance.NewWorld(t)
	_, h := newServer(t, w, both)
	url := serveTLS(t, w, h)
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			// jwtauth's leeway adds 30s to exp by default. Mint a token
			// that expired 28s ago: exp is in whole seconds (truncated),
			// so the principal has more than 1s and at most 2s left,
			// which the sleep below outlasts. (-29s left anywhere from
			// 1s to nothing, and the first message failed now and then.)
			tok := w.Issuer.Mint(authtest.Subject(conformance.Alice), authtest.Scopes("s"), authtest.ExpiresIn(-28*time.Second))
			c := grpcauthtestv1connect.NewKindsClient(tlsClient(w), url, p.opts...)
			s := c.ChatAny(context.Background())
			s.RequestHeader().Set("Authorization", "Bearer "+tok)
			if err := s.Send(&grpcauthtestv1.Msg{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Receive(); err != nil {
				t.Fatalf("first message: %v", err)
			}
			time.Sleep(2500 * time.Millisecond) // idle past the expiry
			_, err := s.Receive()
			if e, ok := connectauth.FromError(err); !ok || e.Reason != runtime.ReasonTokenExpired || e.Code != codes.Unauthenticated {
				t.Errorf("after expiry: got %v, want UNAUTHENTICATED TOKEN_EXPIRED", err)
			}
			_ = s.CloseRequest()
			_ = s.CloseResponse()
		})
	}
}

// TestConnectConditionNeedsTheInterceptor: a procedure whose condition
// needs the request is refused when its handler lacks the HandlerOption —
// the condition is never skipped — and decided on the request with it.
func TestConnectConditionNeedsTheInterceptor(t *testing.T) {
	w := conformance.NewWorld(t)
	// Kinds.Jwt with a condition on the request.
	rule := &runtime.Rule{
		FullMethod:   "/grpcauthtest.v1.Kinds/Jwt",
		Requirements: []runtime.Requirement{{Credentials: []runtime.CredentialKind{runtime.BearerJWT}, Scopes: []string{"s"}}},
		Condition:    "request.text == 'hello'",
		Evaluator:    textIs("hello"),
	}
	enf, err := runtime.NewEnforcer(append(w.Options(nil), runtime.WithRules(&runtime.ServiceRules{Service: "grpcauthtest.v1.Kinds", Methods: []*runtime.Rule{rule}}))...)
	if err != nil {
		t.Fatal(err)
	}
	for _, withOption := range []bool{false, true} {
		impl := &conformance.Server{}
		a := connectauth.New(enf)
		var hopts []connect.HandlerOption
		if withOption {
			hopts = append(hopts, a.HandlerOption())
		}
		mux := http.NewServeMux()
		mux.Handle(a.Handle(grpcauthtestv1connect.NewKindsHandler(&conformance.ConnectServer{S: impl}, hopts...)))
		url := serveTLS(t, w, mux)
		for _, p := range protocols {
			c := grpcauthtestv1connect.NewKindsClient(tlsClient(w), url, p.opts...)
			for _, text := range []string{"hello", "bye"} {
				req := connect.NewRequest(&grpcauthtestv1.Msg{Text: text})
				req.Header().Set("Authorization", "Bearer "+w.Token("s"))
				_, err := c.Jwt(context.Background(), req)
				want := runtime.ReasonConditionFailed
				if withOption && text == "hello" {
					want = ""
				}
				e, _ := connectauth.FromError(err)
				if (want == "" && err != nil) || (want != "" && (e == nil || e.Reason != want)) {
					t.Errorf("option %v, %s, text %q: got %v, want %q", withOption, p.name, text, err, want)
				}
			}
		}
		if want := map[bool]int64{false: 0, true: 3}[withOption]; impl.Calls.Load() != want {
			t.Errorf("option %v: %d handler calls, want %d", withOption, impl.Calls.Load(), want)
		}
	}
}

type textIs string

func (t textIs) Evaluate(_ context.Context, _, _ *runtime.Principal, req any) (bool, error) {
	m, ok := req.(*grpcauthtestv1.Msg)
	if !ok {
		return false, errors.New("no request")
	}
	return m.GetText() == string(t), nil
}

// TestConnectCheck: procedures built with the option but without a rule
// are reported.
func TestConnectCheck(t *testing.T) {
	w := conformance.NewWorld(t)
	enf, err := runtime.NewEnforcer(w.Options(nil)...)
	if err != nil {
		t.Fatal(err)
	}
	a := connectauth.New(enf)
	grpcauthtestv1connect.NewKindsHandler(&conformance.ConnectServer{S: &conformance.Server{}}, a.HandlerOption())
	var se *runtime.ServedError
	if err := a.Check(); !errors.As(err, &se) || len(se.Undeclared) != len(grpcauthtestv1.KindsAuthRules.Methods) {
		t.Fatalf("got %v, want every Kinds procedure undeclared", err)
	}
	if err := enf.AddRules(grpcauthtestv1.KindsAuthRules); err != nil {
		t.Fatal(err)
	}
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
}

// countingSource counts token fetches.
type countingSource struct {
	n    atomic.Int32
	mint func() *oauth2.Token
}

func (s *countingSource) Token() (*oauth2.Token, error) { s.n.Add(1); return s.mint(), nil }

// TestConnectClient: the client interceptor chooses, refuses and refreshes
// per procedure as the generated gRPC client does.
func TestConnectClient(t *testing.T) {
	w := conformance.NewWorld(t)
	s, h := newServer(t, w, both)
	url := serveTLS(t, w, h)
	plainURL, plainHC := serveH2C(t, h)
	src := &countingSource{mint: func() *oauth2.Token {
		return &oauth2.Token{AccessToken: w.Token("s"), Expiry: time.Now().Add(time.Hour)}
	}}
	shared := &runtime.ClientCredentials{TokenSource: src} // one token cache for every client
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			client := func(hc *http.Client, base string, creds *runtime.ClientCredentials) grpcauthtestv1connect.KindsClient {
				ic, err := connectauth.NewClientInterceptor(base, creds, grpcauthtestv1.KindsAuthRules)
				if err != nil {
					t.Fatal(err)
				}
				return grpcauthtestv1connect.NewKindsClient(hc, base, append(p.opts, connect.WithInterceptors(ic))...)
			}
			tokens := client(tlsClient(w), url, shared)
			keys := client(tlsClient(w), url, &runtime.ClientCredentials{APIKey: w.APIKey})
			for _, tc := range []struct {
				name    string
				c       grpcauthtestv1connect.KindsClient
				method  string
				want    runtime.Reason
				local   bool
				subject string
			}{
				{"token where a JWT is taken", tokens, "Jwt", "", false, conformance.Alice},
				{"token on a stream", tokens, "ChatAny", "", false, conformance.Alice},
				{"token on a server stream", tokens, "WatchAny", "", false, conformance.Alice},
				{"key where a key is taken", keys, "ApiKey", "", false, conformance.Exporter},
				{"key on a client stream", keys, "UploadAny", "", false, conformance.Exporter},
				{"key where only a JWT is taken: preflight", keys, "Jwt", runtime.ReasonCredentialsMissing, true, ""},
				{"key on a stream where only a JWT is taken", keys, "Mtls", runtime.ReasonCredentialsMissing, true, ""},
				{"public", keys, "Public", "", false, ""},
				{"plaintext: refused before sending", client(plainHC, plainURL, shared), "Jwt", runtime.ReasonTransportInsecure, true, ""},
				{"plaintext stream: refused before sending", client(plainHC, plainURL, &runtime.ClientCredentials{APIKey: w.APIKey}), "ChatAny", runtime.ReasonTransportInsecure, true, ""},
			} {
				before := s.impl.Calls.Load()
				m, err := conformance.InvokeConnect(context.Background(), tc.c, tc.method, nil)
				if tc.want == "" {
					if err != nil || m.GetText() != tc.subject {
						t.Errorf("%s: got %v %q, want %q", tc.name, err, m.GetText(), tc.subject)
					}
					continue
				}
				e, ok := connectauth.FromError(err)
				if !ok || e.Reason != tc.want || e.Local != tc.local {
					t.Errorf("%s: got %+v (%v), want %s local %v", tc.name, e, err, tc.want, tc.local)
				}
				if s.impl.Calls.Load() != before {
					t.Errorf("%s: reached the handler", tc.name)
				}
			}
		})
	}
	if n := src.n.Load(); n != 1 {
		t.Errorf("%d token fetches, want 1", n)
	}
}

// TestConnectClientRetry: a unary call refused with TOKEN_EXPIRED is
// retried once with a fresh token; a stream is not.
func TestConnectClientRetry(t *testing.T) {
	w := conformance.NewWorld(t)
	_, h := newServer(t, w, both)
	url := serveTLS(t, w, h)
	var n atomic.Int32
	src := &countingSource{mint: func() *oauth2.Token {
		// The first token the server takes as expired; the client still
		// believes in it.
		if n.Add(1) == 1 {
			return &oauth2.Token{AccessToken: w.Issuer.Mint(authtest.Subject(conformance.Alice), authtest.Scopes("s"), authtest.ExpiresIn(-time.Hour)), Expiry: time.Now().Add(time.Hour)}
		}
		return &oauth2.Token{AccessToken: w.Token("s"), Expiry: time.Now().Add(time.Hour)}
	}}
	ic, err := connectauth.NewClientInterceptor(url, &runtime.ClientCredentials{TokenSource: src}, grpcauthtestv1.KindsAuthRules)
	if err != nil {
		t.Fatal(err)
	}
	c := grpcauthtestv1connect.NewKindsClient(tlsClient(w), url, connect.WithInterceptors(ic))
	m, err := conformance.InvokeConnect(context.Background(), c, "Jwt", nil)
	if err != nil || m.GetText() != conformance.Alice || src.n.Load() != 2 {
		t.Fatalf("got %v %q after %d fetches, want Alice after 2", err, m.GetText(), src.n.Load())
	}
	// A stream with an expired token is reported, not retried.
	n.Store(0)
	ic, _ = connectauth.NewClientInterceptor(url, &runtime.ClientCredentials{TokenSource: src}, grpcauthtestv1.KindsAuthRules)
	c = grpcauthtestv1connect.NewKindsClient(tlsClient(w), url, connect.WithInterceptors(ic))
	before := src.n.Load()
	_, err = conformance.InvokeConnect(context.Background(), c, "ChatAny", nil)
	if e, ok := connectauth.FromError(err); !ok || e.Reason != runtime.ReasonTokenExpired || src.n.Load() != before+1 {
		t.Errorf("stream: got %v after %d fetches", err, src.n.Load()-before)
	}
}

// TestNewClientInterceptorErrors: setup errors.
func TestNewClientInterceptorErrors(t *testing.T) {
	for _, tc := range []struct {
		base string
		want string
	}{
		{"ftp://x", `connectauth: NewClientInterceptor: baseURL "ftp://x" is not an http or https URL`},
		{"https://", `connectauth: NewClientInterceptor: baseURL "https://" is not an http or https URL`},
	} {
		if _, err := connectauth.NewClientInterceptor(tc.base, &runtime.ClientCredentials{}); err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v", tc.base, err)
		}
	}
	if _, err := connectauth.NewClientInterceptor("https://x", nil); err == nil {
		t.Error("nil credentials accepted")
	}
}

// TestConnectStreamRecheck: an open stream whose token is revoked ends
// with TOKEN_REVOKED at the next recheck, on every protocol, as on the gRPC
// paths.
func TestConnectStreamRecheck(t *testing.T) {
	w := conformance.NewWorld(t)
	mem, err := revocation.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	_, h := newServer(t, w, both, runtime.WithRevocation(mem), runtime.WithStreamRecheck(100*time.Millisecond))
	url := serveTLS(t, w, h)
	for i, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			jti := fmt.Sprintf("stream-%d", i)
			tok := w.Issuer.Mint(authtest.Subject(conformance.Alice), authtest.Scopes("s"), authtest.Claim("jti", jti))
			c := grpcauthtestv1connect.NewKindsClient(tlsClient(w), url, p.opts...)
			s := c.ChatAny(context.Background())
			s.RequestHeader().Set("Authorization", "Bearer "+tok)
			if err := s.Send(&grpcauthtestv1.Msg{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Receive(); err != nil {
				t.Fatalf("first message: %v", err)
			}
			if err := mem.RevokeToken(context.Background(), w.Issuer.URL(), jti, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			_, err := s.Receive() // idle: the recheck ends it
			if e, ok := connectauth.FromError(err); !ok || e.Reason != runtime.ReasonTokenRevoked {
				t.Errorf("after revocation: got %v, want TOKEN_REVOKED", err)
			}
			_ = s.CloseRequest()
			_ = s.CloseResponse()
		})
	}
}
