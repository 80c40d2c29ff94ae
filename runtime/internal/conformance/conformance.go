// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package conformance is the table of cases (what a caller sends → the
// reason it gets) that every path into a handler is tested against: grpc-go
// with the generated registration, the interceptors and the typed wrapper,
// grpc-go behind a trusted proxy, grpc-gateway in process, and Connect on
// its three protocols. A path supplies a [Call] that sends a case's
// headers its own way; [Run] checks the outcome and that a denied call
// never reached a handler. Tests only.
package conformance

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/apikey"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/mtls"
)

// TrustDomain is the SPIFFE trust domain of the world's workloads.
const TrustDomain = "test.example"

// The world's callers.
const (
	// Alice holds a JWT with scope s.
	Alice = "alice"
	// Exporter holds an API key with scope s.
	Exporter = "exporter"
	// WorkloadA is a workload certificate's SPIFFE ID, with scope s.
	WorkloadA = "spiffe://test.example/workload/a"
)

// World is what every path's server is configured with: a JWT issuer and
// an attacker's, an API key, a workload CA and a foreign one.
type World struct {
	Issuer, Attacker *authtest.Issuer
	APIKey           string
	CA, ForeignCA    *authtest.CA
	// Workload is WorkloadA's client certificate from CA; Foreign is the
	// same identity from ForeignCA.
	Workload, Foreign tls.Certificate
	JWT               *jwtauth.Authenticator
	Keys              *apikey.Store
	MTLS              *mtls.Authenticator
}

// NewWorld starts the issuers and mints the credentials.
func NewWorld(t testing.TB) *World {
	t.Helper()
	w := &World{
		Issuer:   authtest.NewIssuer(t, authtest.DefaultAudience("library")),
		Attacker: authtest.NewIssuer(t, authtest.DefaultAudience("library")),
	}
	var err error
	if w.JWT, err = jwtauth.New(jwtauth.Issuer(w.Issuer.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(w.Issuer.JWKSURL())),
		jwtauth.HTTPClient(w.Issuer.HTTPClient())); err != nil {
		t.Fatal(err)
	}
	if w.APIKey, err = apikey.NewKey(); err != nil {
		t.Fatal(err)
	}
	if w.Keys, err = apikey.New([]apikey.Client{{Name: Exporter, Scopes: []string{"s"}, KeySHA256: []string{apikey.Hash(w.APIKey)}}}); err != nil {
		t.Fatal(err)
	}
	if w.CA, err = authtest.NewCA("conformance CA"); err != nil {
		t.Fatal(err)
	}
	if w.ForeignCA, err = authtest.NewCA("foreign CA"); err != nil {
		t.Fatal(err)
	}
	if w.Workload, err = w.CA.Leaf(authtest.LeafOptions{URIs: []string{WorkloadA}, Client: true}); err != nil {
		t.Fatal(err)
	}
	if w.Foreign, err = w.ForeignCA.Leaf(authtest.LeafOptions{URIs: []string{WorkloadA}, Client: true}); err != nil {
		t.Fatal(err)
	}
	if w.MTLS, err = mtls.New(mtls.SPIFFE(TrustDomain), mtls.Bundle(w.CA.Pool()),
		mtls.Scopes(map[string][]string{WorkloadA: {"s"}})); err != nil {
		t.Fatal(err)
	}
	return w
}

// Options are the enforcer options of the world's authenticators, with
// denials logged to log (nil: not logged).
func (w *World) Options(log io.Writer) []runtime.Option {
	var l *slog.Logger
	if log != nil {
		l = slog.New(slog.NewTextHandler(log, nil))
	}
	return []runtime.Option{runtime.WithJWT(w.JWT), runtime.WithAPIKeys(w.Keys), runtime.WithMTLS(w.MTLS), runtime.WithLogger(l)}
}

// Token mints a JWT for Alice with scopes.
func (w *World) Token(scopes ...string) string {
	return w.Issuer.Mint(authtest.Subject(Alice), authtest.Scopes(scopes...))
}

// Header is one header a case sends: a lowercase gRPC metadata key, which
// HTTP paths send as the header of that name.
type Header struct{ Key, Value string }

// Want is an expected outcome: a denial's reason, or allowed ("") with the
// subject the handler saw ("" for none).
type Want struct {
	Reason  runtime.Reason
	Subject string
}

// Path says what a path's transport is, which decides some outcomes.
type Path struct {
	// Secure: TLS, or a trusted proxy.
	Secure bool
	// ForwardsCerts: a trusted proxy whose x-forwarded-client-cert is read.
	ForwardsCerts bool
}

// Case is one row: a method of grpcauthtest.v1.Kinds, what is sent, what
// comes back.
type Case struct {
	Name    string
	Method  string // a Kinds method: Jwt, ApiKey, Mtls, Any, Public, WatchAny, SecureWatch, ChatAny, UploadAny
	Headers func(w *World) []Header
	Want    Want
	// Plain replaces Want on a plaintext path that is not a trusted proxy.
	Plain *Want
	// Proxy replaces Want on a trusted proxy that forwards certificates.
	Proxy *Want
}

// Expect is c's outcome on p.
func (c Case) Expect(p Path) Want {
	switch {
	case p.ForwardsCerts && c.Proxy != nil:
		return *c.Proxy
	case !p.Secure && c.Plain != nil:
		return *c.Plain
	}
	return c.Want
}

// Streaming reports whether c's method is a streaming one.
func (c Case) Streaming() bool {
	switch c.Method {
	case "WatchAny", "SecureWatch", "ChatAny", "UploadAny", "PublicChat":
		return true
	}
	return false
}

// Result is what a call ended with: the code and reason of a denial, or
// OK and the subject the handler answered with.
type Result struct {
	Code    codes.Code
	Reason  runtime.Reason
	Subject string
}

// Call sends headers to method on a path's server and returns the result.
type Call func(ctx context.Context, method string, headers []Header) Result

func allowed(sub string) Want      { return Want{Subject: sub} }
func denied(r runtime.Reason) Want { return Want{Reason: r} }
func ptr(w Want) *Want             { return &w }

// H returns headers from key, value pairs.
func H(kv ...string) []Header { return hdr(kv...) }

func hdr(kv ...string) []Header {
	var out []Header
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Header{kv[i], kv[i+1]})
	}
	return out
}
func bearer(tok string) string { return "Bearer " + tok }

var insecure = ptr(denied(runtime.ReasonTransportInsecure))

// Cases is the table every path runs. Methods of grpcauthtest.v1.Kinds:
// Jwt takes a JWT with scope s, ApiKey an API key with s, Mtls a client
// certificate with s, Any any kind with s; WatchAny, ChatAny and UploadAny
// are its streaming forms; SecureWatch is WatchAny over TLS only; Public
// takes nothing.
var Cases = []Case{
	{Name: "no credential", Method: "Jwt", Headers: none, Want: denied(runtime.ReasonCredentialsMissing)},
	{Name: "jwt", Method: "Jwt", Headers: func(w *World) []Header { return hdr("authorization", bearer(w.Token("s"))) }, Want: allowed(Alice), Plain: insecure},
	{Name: "jwt, bearer in lowercase", Method: "Jwt", Headers: func(w *World) []Header { return hdr("authorization", "bearer "+w.Token("s")) }, Want: allowed(Alice), Plain: insecure},
	{Name: "jwt without the scope", Method: "Jwt", Headers: func(w *World) []Header { return hdr("authorization", bearer(w.Token("t"))) }, Want: denied(runtime.ReasonScopeInsufficient), Plain: insecure},
	{Name: "expired jwt", Method: "Jwt", Headers: func(w *World) []Header {
		return hdr("authorization", bearer(w.Issuer.Mint(authtest.Subject(Alice), authtest.Scopes("s"), authtest.ExpiresIn(-time.Hour))))
	}, Want: denied(runtime.ReasonTokenExpired), Plain: insecure},
	{Name: "jwt signed by another key", Method: "Jwt", Headers: func(w *World) []Header {
		return hdr("authorization", bearer(w.Attacker.Mint(authtest.Subject(Alice), authtest.Scopes("s"), authtest.IssuerClaim(w.Issuer.URL()))))
	}, Want: denied(runtime.ReasonTokenInvalidSignature), Plain: insecure},
	{Name: "two authorization entries", Method: "Jwt", Headers: func(w *World) []Header {
		return hdr("authorization", bearer(w.Token("s")), "authorization", bearer(w.Token("s")))
	}, Want: denied(runtime.ReasonCredentialsMalformed)},
	{Name: "bearer and api key", Method: "Any", Headers: func(w *World) []Header {
		return hdr("authorization", bearer(w.Token("s")), "x-api-key", w.APIKey)
	}, Want: denied(runtime.ReasonCredentialsMalformed)},
	{Name: "authorization-bin", Method: "Jwt", Headers: func(w *World) []Header { return hdr("authorization-bin", "eA==") }, Want: denied(runtime.ReasonCredentialsMalformed)},
	{Name: "basic scheme", Method: "Jwt", Headers: func(w *World) []Header { return hdr("authorization", "Basic YWxpY2U6c2VjcmV0") }, Want: denied(runtime.ReasonCredentialsMalformed)},
	{Name: "bearer with two spaces", Method: "Jwt", Headers: func(w *World) []Header { return hdr("authorization", "Bearer  "+w.Token("s")) }, Want: denied(runtime.ReasonCredentialsMalformed)},
	{Name: "api key", Method: "ApiKey", Headers: func(w *World) []Header { return hdr("x-api-key", w.APIKey) }, Want: allowed(Exporter), Plain: insecure},
	{Name: "unknown api key", Method: "ApiKey", Headers: func(w *World) []Header { return hdr("x-api-key", "gak_unknown") }, Want: denied(runtime.ReasonCredentialsInvalid), Plain: insecure},
	{Name: "api key where a jwt is needed", Method: "Jwt", Headers: func(w *World) []Header { return hdr("x-api-key", w.APIKey) }, Want: denied(runtime.ReasonCredentialKindNotAccepted), Plain: insecure},
	{Name: "public, nothing sent", Method: "Public", Headers: none, Want: allowed("")},
	{Name: "public, a bad token is not read", Method: "Public", Headers: func(w *World) []Header { return hdr("authorization", "Basic x") }, Want: allowed("")},
	{Name: "no certificate where one is needed", Method: "Mtls", Headers: none, Want: denied(runtime.ReasonCredentialsMissing)},
	{Name: "forwarded client certificate", Method: "Mtls", Headers: func(w *World) []Header {
		return hdr("x-forwarded-client-cert", authtest.ForwardedClientCert(w.Workload.Leaf))
	}, Want: denied(runtime.ReasonCredentialsMalformed), Proxy: ptr(allowed(WorkloadA))},
	{Name: "forwarded certificate of another CA", Method: "Mtls", Headers: func(w *World) []Header {
		return hdr("x-forwarded-client-cert", authtest.ForwardedClientCert(w.Foreign.Leaf))
	}, Want: denied(runtime.ReasonCredentialsMalformed), Proxy: ptr(denied(runtime.ReasonCredentialsInvalid))},
	{Name: "forwarded certificate beside a bearer token", Method: "Any", Headers: func(w *World) []Header {
		return hdr("authorization", bearer(w.Token("s")), "x-forwarded-client-cert", authtest.ForwardedClientCert(w.Workload.Leaf))
	}, Want: denied(runtime.ReasonCredentialsMalformed), Proxy: ptr(allowed(Alice))},
	{Name: "forwarded header with two elements", Method: "Mtls", Headers: func(w *World) []Header {
		x := authtest.ForwardedClientCert(w.Workload.Leaf)
		return hdr("x-forwarded-client-cert", x+","+x)
	}, Want: denied(runtime.ReasonCredentialsMalformed)},
	{Name: "tls required", Method: "Secure", Headers: func(w *World) []Header { return hdr("x-api-key", w.APIKey) }, Want: allowed(Exporter), Plain: insecure},
	{Name: "tls required, nothing sent", Method: "Secure", Headers: none, Want: denied(runtime.ReasonCredentialsMissing), Plain: insecure},
	{Name: "stream, tls required", Method: "SecureWatch", Headers: func(w *World) []Header { return hdr("authorization", bearer(w.Token("s"))) }, Want: allowed(Alice), Plain: insecure},
	{Name: "stream, jwt", Method: "WatchAny", Headers: func(w *World) []Header { return hdr("authorization", bearer(w.Token("s"))) }, Want: allowed(Alice), Plain: insecure},
	{Name: "stream, no credential", Method: "WatchAny", Headers: none, Want: denied(runtime.ReasonCredentialsMissing)},
	{Name: "stream, two credentials", Method: "WatchAny", Headers: func(w *World) []Header {
		return hdr("authorization", bearer(w.Token("s")), "x-api-key", w.APIKey)
	}, Want: denied(runtime.ReasonCredentialsMalformed)},
	{Name: "stream, api key without the scope's kind", Method: "WatchAny", Headers: func(w *World) []Header { return hdr("x-api-key", "gak_unknown") }, Want: denied(runtime.ReasonCredentialsInvalid), Plain: insecure},
	{Name: "stream, forwarded client certificate", Method: "WatchAny", Headers: func(w *World) []Header {
		return hdr("x-forwarded-client-cert", authtest.ForwardedClientCert(w.Workload.Leaf))
	}, Want: denied(runtime.ReasonCredentialsMalformed), Proxy: ptr(allowed(WorkloadA))},
	{Name: "bidi stream, jwt", Method: "ChatAny", Headers: func(w *World) []Header { return hdr("authorization", bearer(w.Token("s"))) }, Want: allowed(Alice), Plain: insecure},
	{Name: "bidi stream, jwt without the scope", Method: "ChatAny", Headers: func(w *World) []Header { return hdr("authorization", bearer(w.Token("t"))) }, Want: denied(runtime.ReasonScopeInsufficient), Plain: insecure},
	{Name: "client stream, api key", Method: "UploadAny", Headers: func(w *World) []Header { return hdr("x-api-key", w.APIKey) }, Want: allowed(Exporter), Plain: insecure},
	{Name: "client stream, no credential", Method: "UploadAny", Headers: none, Want: denied(runtime.ReasonCredentialsMissing)},
}

func none(*World) []Header { return nil }

// Options say which cases a path runs.
type Options struct {
	// Unary runs only unary methods (grpc-gateway in process serves no
	// streams).
	Unary bool
	// NoClientStreams skips client- and bidi-streaming methods.
	NoClientStreams bool
}

// Run runs every case of cases that opts select on a path p through call,
// against srv, the Kinds server behind it. A denied call must not reach
// srv; an allowed one must reach it and see the expected subject.
func Run(t *testing.T, w *World, p Path, srv *Server, call Call, opts Options, cases []Case) {
	t.Helper()
	for _, c := range cases {
		if opts.Unary && c.Streaming() || opts.NoClientStreams && (c.Method == "ChatAny" || c.Method == "UploadAny") {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			want := c.Expect(p)
			before := srv.Calls.Load()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got := call(ctx, c.Method, c.Headers(w))
			reached := srv.Calls.Load() != before
			if want.Reason == "" {
				if got.Code != codes.OK || got.Subject != want.Subject || !reached {
					t.Errorf("%s: got %v %s (subject %q, handler ran: %v), want allowed with subject %q", c.Method, got.Code, got.Reason, got.Subject, reached, want.Subject)
				}
				return
			}
			if got.Code != want.Reason.Code() || got.Reason != want.Reason {
				t.Errorf("%s: got %v %s, want %v %s", c.Method, got.Code, got.Reason, want.Reason.Code(), want.Reason)
			}
			if reached {
				t.Errorf("%s: a denied call reached the handler", c.Method)
			}
		})
	}
}

// Server is a Kinds server that answers every call with the subject of
// the principal its handler saw ("" for none) and counts handler runs.
type Server struct {
	grpcauthtestv1.UnimplementedKindsServer
	Calls atomic.Int64
}

func (s *Server) saw(ctx context.Context) *grpcauthtestv1.Msg {
	s.Calls.Add(1)
	if p, ok := runtime.PrincipalFrom(ctx); ok {
		return &grpcauthtestv1.Msg{Text: p.Subject}
	}
	return &grpcauthtestv1.Msg{}
}

func (s *Server) Jwt(ctx context.Context, _ *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	return s.saw(ctx), nil
}

func (s *Server) OAuth2(ctx context.Context, _ *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	return s.saw(ctx), nil
}

func (s *Server) ApiKey(ctx context.Context, _ *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) { //nolint:revive // the generated name
	return s.saw(ctx), nil
}

func (s *Server) Mtls(ctx context.Context, _ *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	return s.saw(ctx), nil
}

func (s *Server) Any(ctx context.Context, _ *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	return s.saw(ctx), nil
}

func (s *Server) Secure(ctx context.Context, _ *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	return s.saw(ctx), nil
}

func (s *Server) Public(ctx context.Context, _ *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	return s.saw(ctx), nil
}

func (s *Server) WatchAny(_ *grpcauthtestv1.Msg, stream grpc.ServerStreamingServer[grpcauthtestv1.Msg]) error {
	return stream.Send(s.saw(stream.Context()))
}

func (s *Server) SecureWatch(_ *grpcauthtestv1.Msg, stream grpc.ServerStreamingServer[grpcauthtestv1.Msg]) error {
	return stream.Send(s.saw(stream.Context()))
}

func (s *Server) UploadAny(stream grpc.ClientStreamingServer[grpcauthtestv1.Msg, grpcauthtestv1.Msg]) error {
	m := s.saw(stream.Context())
	for {
		if _, err := stream.Recv(); errors.Is(err, io.EOF) {
			return stream.SendAndClose(m)
		} else if err != nil {
			return err
		}
	}
}

func (s *Server) ChatAny(stream grpc.BidiStreamingServer[grpcauthtestv1.Msg, grpcauthtestv1.Msg]) error {
	m := s.saw(stream.Context())
	for {
		if _, err := stream.Recv(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if err := stream.Send(m); err != nil {
			return err
		}
	}
}
