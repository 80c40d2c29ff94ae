// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package authtest_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/apikey"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authmatrix"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/mtls"
)

// The trust domain of the matrix server's workloads: a client certificate
// of spiffe://matrix.test/s/a/b holds scopes a and b.
const trustDomain = "matrix.test"

// matrixServer is a real gRPC server on loopback, TLS (client certificates
// verified if sent) and plaintext, whose enforcer has every authenticator,
// and the MatrixTarget that reaches it: tokens from a real issuer and
// introspection endpoint, API keys added to the store on demand, client
// certificates from a CA.
type matrixServer struct {
	target authtest.MatrixTarget
}

func newMatrixServer(t *testing.T, register func(s *grpc.Server, enf *runtime.Enforcer)) *matrixServer {
	t.Helper()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("matrix"))
	in := authtest.NewIntrospector(t, "matrix-server", "matrix-secret")
	ca, err := authtest.NewCA("matrix CA")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := apikey.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("matrix"), jwtauth.JWKSURL(iss.JWKSURL())), jwtauth.HTTPClient(iss.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	oauth2, err := introspection.New(introspection.Endpoint(in.URL()), introspection.ClientSecret("matrix-server", "matrix-secret"),
		introspection.HTTPClient(in.HTTPClient()), introspection.Issuer(in.Issuer()), introspection.Audience("matrix"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := "spiffe://" + trustDomain + "/s"
	workloads, err := mtls.New(mtls.SPIFFE(trustDomain), mtls.Bundle(ca.Pool()), mtls.ScopeFunc(func(id string) []string {
		return strings.FieldsFunc(strings.TrimPrefix(id, prefix), func(r rune) bool { return r == '/' })
	}))
	if err != nil {
		t.Fatal(err)
	}
	enf, err := runtime.NewEnforcer(runtime.WithJWT(jwt), runtime.WithOAuth2(oauth2), runtime.WithAPIKeys(keys), runtime.WithMTLS(workloads),
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	serve := func(opts ...grpc.ServerOption) string {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer(opts...)
		register(s, enf)
		go func() { _ = s.Serve(lis) }()
		t.Cleanup(s.Stop)
		return lis.Addr().String()
	}
	tlsAddr := serve(grpc.Creds(credentials.NewTLS(workloads.ServerTLSConfig(serverTLS))))
	plainAddr := serve()
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
	return &matrixServer{target: authtest.MatrixTarget{
		TLS:       dial(tlsAddr, credentials.NewTLS(ca.ClientTLS())),
		Plaintext: dial(plainAddr, insecure.NewCredentials()),
		JWT: func(scopes []string) (string, error) {
			return iss.Mint(authtest.Subject("matrix"), authtest.Scopes(scopes...)), nil
		},
		OAuth2: func(scopes []string) (string, error) {
			return in.Issue("matrix", scopes, "matrix", time.Hour, nil), nil
		},
		APIKey: func(scopes []string) (string, error) {
			key, err := apikey.NewKey()
			if err != nil {
				return "", err
			}
			mu.Lock()
			defer mu.Unlock()
			clients = append(clients, apikey.Client{Name: fmt.Sprintf("client-%d", len(clients)), Scopes: scopes, KeySHA256: []string{apikey.Hash(key)}})
			return key, keys.Replace(clients)
		},
		MTLS: func(scopes []string) (grpc.ClientConnInterface, error) {
			id := prefix
			for _, sc := range scopes {
				id += "/" + sc
			}
			cert, err := ca.Leaf(authtest.LeafOptions{URIs: []string{id}, Client: true})
			if err != nil {
				return nil, err
			}
			cfg := ca.ClientTLS()
			cfg.Certificates = []tls.Certificate{cert}
			return dial(tlsAddr, credentials.NewTLS(cfg)), nil
		},
	}}
}

// recorder is a TB that records what RunMatrix reports.
type recorder struct {
	mu     sync.Mutex
	errors []string
	logs   []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

// kinds is a Kinds server whose handlers all answer Unimplemented: a
// handler that returns its own error was reached, and counts as allowed.
// It counts the calls that reach WatchAny, which grpc-go makes only once
// the stream's request has come.
type kinds struct {
	grpcauthtestv1.UnimplementedKindsServer
	watched *atomic.Int64
}

func (k kinds) WatchAny(m *grpcauthtestv1.Msg, s grpc.ServerStreamingServer[grpcauthtestv1.Msg]) error {
	if k.watched != nil {
		k.watched.Add(1)
	}
	return k.UnimplementedKindsServer.WatchAny(m, s)
}

type tenants struct {
	grpcauthtestv1.UnimplementedTenantsServer
}

// TestRunMatrix runs the generated matrices of the test services (every
// credential kind, every stream type, public, TLS_REQUIRED, conditions)
// against a server that enforces their rules: every case has its outcome.
func TestRunMatrix(t *testing.T) {
	watched := &atomic.Int64{}
	srv := newMatrixServer(t, func(s *grpc.Server, enf *runtime.Enforcer) {
		grpcauthtestv1.RegisterKindsServerWithAuth(s, kinds{watched: watched}, enf)
		grpcauthtestv1.RegisterTenantsServerWithAuth(s, tenants{}, enf)
		grpcauthtestv1.RegisterOptionalServerWithAuth(s, grpcauthtestv1.UnimplementedOptionalServer{}, enf)
		grpcauthtestv1.RegisterDelegatedServerWithAuth(s, grpcauthtestv1.UnimplementedDelegatedServer{}, enf)
	})
	for _, m := range []*authmatrix.Service{grpcauthtestv1.KindsAuthMatrix, grpcauthtestv1.TenantsAuthMatrix, grpcauthtestv1.OptionalAuthMatrix, grpcauthtestv1.DelegatedAuthMatrix} {
		rec := &recorder{}
		authtest.RunMatrix(rec, m, srv.target)
		if len(rec.errors) > 0 || len(rec.logs) > 0 {
			t.Errorf("%s: %d errors:\n%s\nlogs: %v", m.Name, len(rec.errors), strings.Join(rec.errors, "\n"), rec.logs)
		}
	}
	// Every allowed case of a server stream sent its request and reached
	// the handler.
	allowed := 0
	for _, m := range grpcauthtestv1.KindsAuthMatrix.Methods {
		for _, c := range m.Cases {
			if m.FullMethod == grpcauthtestv1.Kinds_WatchAny_FullMethodName && c.Want == "" {
				allowed++
			}
		}
	}
	if got := watched.Load(); got != int64(allowed) || allowed != 4 {
		t.Errorf("WatchAny reached %d times for %d allowed cases", got, allowed)
	}
	// And as a test would run it.
	authtest.RunMatrix(t, grpcauthtestv1.KindsAuthMatrix, srv.target)
}

// TestRunMatrixFailsWithoutAuth: a server that registered the service
// without auth fails every case that must be denied, each reported.
func TestRunMatrixFailsWithoutAuth(t *testing.T) {
	srv := newMatrixServer(t, func(s *grpc.Server, _ *runtime.Enforcer) {
		grpcauthtestv1.RegisterKindsServer(s, kinds{})
	})
	rec := &recorder{}
	authtest.RunMatrix(rec, grpcauthtestv1.KindsAuthMatrix, srv.target)
	denials := 0
	for _, m := range grpcauthtestv1.KindsAuthMatrix.Methods {
		for _, c := range m.Cases {
			if c.Want != "" {
				denials++
			}
		}
	}
	if len(rec.errors) != denials || denials < 40 {
		t.Errorf("%d errors for %d cases that must be denied:\n%s", len(rec.errors), denials, strings.Join(rec.errors, "\n"))
	}
	for _, want := range []string{
		"grpcauthtest.v1.Kinds.Jwt: no credential: allowed (the handler ran: Unimplemented), want Unauthenticated CREDENTIALS_MISSING",
		"grpcauthtest.v1.Kinds.Jwt: BEARER_JWT without scope s: allowed (the handler ran: Unimplemented), want PermissionDenied SCOPE_INSUFFICIENT",
		"grpcauthtest.v1.Kinds.Jwt: API_KEY, not accepted with scope s: allowed (the handler ran: Unimplemented), want Unauthenticated CREDENTIAL_KIND_NOT_ACCEPTED",
		"grpcauthtest.v1.Kinds.SecureWatch: no credential, over plaintext: allowed (the handler ran: Unimplemented), want Unauthenticated TRANSPORT_INSECURE",
		"grpcauthtest.v1.Kinds.ChatAny: no credential: allowed (the handler ran: Unimplemented), want Unauthenticated CREDENTIALS_MISSING",
	} {
		if !slices.Contains(rec.errors, want) {
			t.Errorf("not reported: %q", want)
		}
	}
}

// TestRunMatrixFailsWithOtherRules: a server enforcing other rules than
// the matrix's fails exactly the cases those rules decide otherwise.
func TestRunMatrixFailsWithOtherRules(t *testing.T) {
	other := &runtime.ServiceRules{Service: grpcauthtestv1.KindsAuthRules.Service}
	for _, r := range grpcauthtestv1.KindsAuthRules.Methods {
		c := *r
		c.Requirements = slices.Clone(r.Requirements)
		switch c.FullMethod {
		case grpcauthtestv1.Kinds_Jwt_FullMethodName: // made public
			c.Public, c.PublicReason, c.Requirements = true, "oops", nil
		case grpcauthtestv1.Kinds_ApiKey_FullMethodName: // scope dropped
			c.Requirements = []runtime.Requirement{{Credentials: []runtime.CredentialKind{runtime.APIKey}}}
		case grpcauthtestv1.Kinds_SecureWatch_FullMethodName: // TLS lifted
			c.Transport = runtime.AnyTransport
		case grpcauthtestv1.Kinds_Mtls_FullMethodName: // another kind too
			c.Requirements = []runtime.Requirement{{Credentials: []runtime.CredentialKind{runtime.MTLS, runtime.APIKey}, Scopes: []string{"s"}}}
		case grpcauthtestv1.Kinds_Public_FullMethodName: // no longer public
			c.Public, c.PublicReason = false, ""
			c.Requirements = []runtime.Requirement{{Credentials: []runtime.CredentialKind{runtime.BearerJWT}}}
		}
		other.Methods = append(other.Methods, &c)
	}
	srv := newMatrixServer(t, func(s *grpc.Server, enf *runtime.Enforcer) {
		s.RegisterService(enf.ServiceDesc(&grpcauthtestv1.Kinds_ServiceDesc, other), kinds{})
	})
	rec := &recorder{}
	authtest.RunMatrix(rec, grpcauthtestv1.KindsAuthMatrix, srv.target)
	want := []string{
		"grpcauthtest.v1.Kinds.Jwt: BEARER_JWT without scope s: allowed (the handler ran: Unimplemented), want PermissionDenied SCOPE_INSUFFICIENT",
		"grpcauthtest.v1.Kinds.Jwt: no credential: allowed (the handler ran: Unimplemented), want Unauthenticated CREDENTIALS_MISSING",
		"grpcauthtest.v1.Kinds.Jwt: OAUTH2_TOKEN, not accepted with scope s: allowed (the handler ran: Unimplemented), want Unauthenticated CREDENTIAL_KIND_NOT_ACCEPTED",
		"grpcauthtest.v1.Kinds.Jwt: API_KEY, not accepted with scope s: allowed (the handler ran: Unimplemented), want Unauthenticated CREDENTIAL_KIND_NOT_ACCEPTED",
		"grpcauthtest.v1.Kinds.Jwt: MTLS, not accepted: the certificate is not read with scope s: allowed (the handler ran: Unimplemented), want Unauthenticated CREDENTIALS_MISSING",
		"grpcauthtest.v1.Kinds.Jwt: API_KEY and BEARER_JWT at once with scope s: allowed (the handler ran: Unimplemented), want Unauthenticated CREDENTIALS_MALFORMED",
		"grpcauthtest.v1.Kinds.ApiKey: API_KEY without scope s: allowed (the handler ran: Unimplemented), want PermissionDenied SCOPE_INSUFFICIENT",
		"grpcauthtest.v1.Kinds.Mtls: API_KEY, not accepted with scope s: allowed (the handler ran: Unimplemented), want Unauthenticated CREDENTIAL_KIND_NOT_ACCEPTED",
		"grpcauthtest.v1.Kinds.Public: no credential: denied with Unauthenticated CREDENTIALS_MISSING, want allowed",
		"grpcauthtest.v1.Kinds.Public: no credential, over plaintext: denied with Unauthenticated CREDENTIALS_MISSING, want allowed",
		"grpcauthtest.v1.Kinds.SecureWatch: no credential, over plaintext: denied with Unauthenticated CREDENTIALS_MISSING, want Unauthenticated TRANSPORT_INSECURE",
	}
	if diff := cmp.Diff(want, rec.errors); diff != "" {
		t.Errorf("reported (-want +got):\n%s", diff)
	}
}

// TestRunMatrixNotServed: a server that does not serve the service fails
// every case, allowed ones too: "unknown service" is no outcome.
func TestRunMatrixNotServed(t *testing.T) {
	srv := newMatrixServer(t, func(s *grpc.Server, enf *runtime.Enforcer) {
		grpcauthtestv1.RegisterTenantsServerWithAuth(s, tenants{}, enf)
	})
	rec := &recorder{}
	authtest.RunMatrix(rec, grpcauthtestv1.KindsAuthMatrix, srv.target)
	cases := 0
	for _, m := range grpcauthtestv1.KindsAuthMatrix.Methods {
		cases += len(m.Cases)
	}
	if len(rec.errors) != cases {
		t.Errorf("%d errors for %d cases", len(rec.errors), cases)
	}
	if want := "grpcauthtest.v1.Kinds.Jwt: BEARER_JWT with scope s: not served: unknown service grpcauthtest.v1.Kinds"; len(rec.errors) == 0 || rec.errors[0] != want {
		t.Errorf("first error %q, want %q", rec.errors, want)
	}
}

// TestRunMatrixTarget: what the target lacks is reported, or skipped when
// said so.
func TestRunMatrixTarget(t *testing.T) {
	srv := newMatrixServer(t, func(s *grpc.Server, enf *runtime.Enforcer) {
		grpcauthtestv1.RegisterKindsServerWithAuth(s, kinds{}, enf)
	})
	target := srv.target
	target.OAuth2, target.Plaintext = nil, nil
	rec := &recorder{}
	authtest.RunMatrix(rec, grpcauthtestv1.KindsAuthMatrix, target)
	if want := "grpcauthtest.v1.Kinds.Jwt: OAUTH2_TOKEN, not accepted with scope s: MatrixTarget.OAuth2 is nil (set it, or list OAUTH2_TOKEN in MatrixTarget.Skip)"; !slices.Contains(rec.errors, want) {
		t.Errorf("not reported: %q in\n%s", want, strings.Join(rec.errors, "\n"))
	}
	if want := "grpcauthtest.v1.Kinds.Public: no credential, over plaintext: MatrixTarget.Plaintext is nil (set it, or SkipPlaintext)"; !slices.Contains(rec.errors, want) {
		t.Errorf("not reported: %q", want)
	}
	target.Skip, target.SkipPlaintext = []runtime.CredentialKind{runtime.OAuth2Token}, true
	rec = &recorder{}
	authtest.RunMatrix(rec, grpcauthtestv1.KindsAuthMatrix, target)
	if len(rec.errors) != 0 || len(rec.logs) != 1 || !strings.HasPrefix(rec.logs[0], "authtest.RunMatrix grpcauthtest.v1.Kinds: ran ") {
		t.Errorf("skipped: errors %q, logs %q", rec.errors, rec.logs)
	}
}

// upstream is a Kinds server whose Jwt handler passes on a denial it got
// from another service: an answer of the handler, not the enforcer's.
type upstream struct{ kinds }

func (upstream) Jwt(context.Context, *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	return nil, runtime.NewError(runtime.ReasonScopeInsufficient, "upstream says no").WithMetadata("method", "/other.v1.Upstream/Get")
}

// TestRunMatrixHandlerDenial: a grpcauth denial a handler passes on is not
// the enforcer's: on a server without auth, it is "allowed".
func TestRunMatrixHandlerDenial(t *testing.T) {
	srv := newMatrixServer(t, func(s *grpc.Server, _ *runtime.Enforcer) {
		grpcauthtestv1.RegisterKindsServer(s, upstream{})
	})
	rec := &recorder{}
	authtest.RunMatrix(rec, grpcauthtestv1.KindsAuthMatrix, srv.target)
	if want := "grpcauthtest.v1.Kinds.Jwt: BEARER_JWT without scope s: allowed (the handler ran: PermissionDenied), want PermissionDenied SCOPE_INSUFFICIENT"; !slices.Contains(rec.errors, want) {
		t.Errorf("not reported: %q in\n%s", want, strings.Join(rec.errors, "\n"))
	}
}
