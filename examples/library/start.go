// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package library

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/reflect/protoregistry"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/mtls"
)

// Config is what the example server needs. Which issuers, keys and
// identity mappings apply is server configuration; the .proto says only
// which kinds each method accepts.
type Config struct {
	// JWT verifies bearer JWTs (a *jwtauth.Authenticator). Required.
	JWT runtime.TokenAuthenticator
	// OAuth2 checks opaque bearer tokens (an *introspection.Authenticator).
	OAuth2 runtime.TokenAuthenticator
	// APIKeys checks x-api-key (an *apikey.Store).
	APIKeys runtime.TokenAuthenticator
	// MTLS maps verified client certificates to principals; it also makes
	// the TLS listener ask for client certificates.
	MTLS *mtls.Authenticator
	// TLS, when set, serves on a TLS listener too.
	TLS *tls.Config
	// TLSAddr and PlainAddr are where to listen; "127.0.0.1:0" by default.
	TLSAddr, PlainAddr string
	// ProxySocket, when set, is the path of a Unix socket served in
	// plaintext for a local TLS-terminating proxy (Envoy, a mesh sidecar):
	// its calls count as protected, and with MTLS the client certificate
	// it forwards in x-forwarded-client-cert is read and verified.
	ProxySocket string
	// HTTPAddr is where grpc-gateway (/v1/...) and Connect
	// (/library.v1.LibraryService/...) are served, over TLS with TLS (h2 and
	// HTTP/1.1), else in plaintext (h2c and HTTP/1.1); "127.0.0.1:0" by
	// default.
	HTTPAddr string
	// AdminAddr, when set, is where an admin listener serves server
	// reflection (of the services above, and any message type the
	// process knows, google.rpc.ErrorInfo included) and health checking,
	// in plaintext and without auth: for operators' tools such as
	// grpcurl. Keep it on loopback or an operators' network: reflection
	// tells a caller every method. The service listeners keep
	// deny-by-default: reflection is denied there.
	AdminAddr string
	// Logger receives one safe line per denied call.
	Logger *slog.Logger
	// Revocation, when set, is asked about every JWT call (a
	// *revocation.Memory, or a *redisstore.Revocations shared by replicas).
	Revocation runtime.RevocationStore
	// Options are added to the enforcer's (an observer, audit, dry-run).
	Options []runtime.Option
}

// Running is a started example server.
type Running struct {
	// TLSAddr is the TLS listener's address, empty without TLS.
	TLSAddr string
	// PlainAddr is the plaintext listener's address.
	PlainAddr string
	// HTTPURL is the base URL of the gateway and Connect ("https://…" with
	// TLS).
	HTTPURL string
	// AdminAddr is the admin listener's address, empty without one.
	AdminAddr string
	servers   []*grpc.Server
	http      *http.Server
}

// Stop stops the server, ending the calls in flight.
func (r *Running) Stop() {
	for _, s := range r.servers {
		s.Stop()
	}
	if r.http != nil {
		_ = r.http.Close() // ends what is in flight
	}
}

// Shutdown stops accepting calls and waits for those in flight to end,
// until ctx is done; then it ends them.
func (r *Running) Shutdown(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		for _, s := range r.servers {
			s.GracefulStop()
		}
		if r.http != nil {
			_ = r.http.Shutdown(ctx)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		r.Stop()
		<-done
	}
}

// Start serves the example LibraryService on a plaintext listener and,
// with cfg.TLS, on a TLS listener, so that TLS_REQUIRED can be seen at work.
// Beside it run the health service (exempt from auth) and server
// reflection (registered without rules, so denied like any undeclared
// method). The same service, with the same rules, is served over HTTP
// through grpc-gateway and Connect (HTTPHandler). Requests are validated
// (protovalidate) after the decision on every path. Before serving, the
// startup check (runtime.CheckServed) makes sure nothing is served
// unguarded.
func Start(cfg Config) (*Running, error) {
	if cfg.JWT == nil {
		return nil, errors.New("library: Config.JWT is required")
	}
	opts := []runtime.Option{runtime.WithJWT(cfg.JWT), runtime.WithLogger(cfg.Logger), runtime.WithHealthExemption()}
	if cfg.OAuth2 != nil {
		opts = append(opts, runtime.WithOAuth2(cfg.OAuth2))
	}
	if cfg.APIKeys != nil {
		opts = append(opts, runtime.WithAPIKeys(cfg.APIKeys))
	}
	if cfg.MTLS != nil {
		opts = append(opts, runtime.WithMTLS(cfg.MTLS))
	}
	if cfg.ProxySocket != "" {
		// Decided by the socket a call arrives on, never by a header.
		opts = append(opts, runtime.WithTrustedProxies(runtime.TrustedProxy{Unix: true, ForwardedClientCert: cfg.MTLS != nil}))
	}
	if cfg.Revocation != nil {
		opts = append(opts, runtime.WithRevocation(cfg.Revocation))
	}
	opts = append(opts, cfg.Options...)
	enf, err := runtime.NewEnforcer(opts...)
	if err != nil {
		return nil, err
	}
	impl := NewServer()
	healthSrv := health.NewServer()
	r := &Running{}
	serve := func(network, addr string, opts ...grpc.ServerOption) (string, error) {
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		lis, err := net.Listen(network, addr)
		if err != nil {
			return "", err
		}
		// The interceptors deny every method without a rule: anything
		// registered raw is closed unless exempted.
		// Validation comes after the enforcer's interceptor: a caller who
		// may not call learns nothing of its request.
		opts = append(opts,
			grpc.ChainUnaryInterceptor(enf.UnaryServerInterceptor(), validateUnary),
			grpc.ChainStreamInterceptor(enf.StreamServerInterceptor(), validateStream))
		s := grpc.NewServer(opts...)
		// The one line that turns the .proto's auth rules on.
		libraryv1.RegisterLibraryServiceServerWithAuth(s, impl, enf)
		healthpb.RegisterHealthServer(s, healthSrv)
		reflection.Register(s)
		// Nothing unguarded: reflection is closed on purpose, to show it.
		if err := runtime.CheckServed(s, enf, runtime.InterceptorsInstalled(),
			runtime.DeniedOnPurpose("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection")); err != nil {
			_ = lis.Close()
			return "", err
		}
		r.servers = append(r.servers, s)
		go func() { _ = s.Serve(lis) }() // returns when Stop stops the server
		return lis.Addr().String(), nil
	}
	if r.PlainAddr, err = serve("tcp", cfg.PlainAddr); err != nil {
		return nil, err
	}
	if cfg.ProxySocket != "" {
		if _, err = serve("unix", cfg.ProxySocket); err != nil {
			r.Stop()
			return nil, err
		}
	}
	if cfg.TLS != nil {
		tlsCfg := cfg.TLS
		if cfg.MTLS != nil {
			tlsCfg = cfg.MTLS.ServerTLSConfig(cfg.TLS)
		}
		if r.TLSAddr, err = serve("tcp", cfg.TLSAddr, grpc.Creds(credentials.NewTLS(tlsCfg))); err != nil {
			r.Stop()
			return nil, err
		}
	}
	if err := r.serveHTTP(cfg, impl, enf); err != nil {
		r.Stop()
		return nil, err
	}
	if cfg.AdminAddr != "" {
		if r.AdminAddr, err = serveAdmin(r, cfg.AdminAddr, healthSrv); err != nil {
			r.Stop()
			return nil, err
		}
	}
	return r, nil
}

// serveHTTP serves HTTPHandler on cfg.HTTPAddr.
func (r *Running) serveHTTP(cfg Config, impl *Server, enf *runtime.Enforcer) error {
	h, connectAuth, err := HTTPHandler(impl, enf)
	if err != nil {
		return err
	}
	if err := connectAuth.Check(); err != nil {
		return err
	}
	addr := cfg.HTTPAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	protocols := &http.Protocols{}
	protocols.SetHTTP1(true)
	srv := &http.Server{Handler: h, Protocols: protocols, ReadHeaderTimeout: 10 * time.Second}
	r.http = srv
	if cfg.TLS == nil {
		protocols.SetUnencryptedHTTP2(true)
		r.HTTPURL = "http://" + lis.Addr().String()
		go func() { _ = srv.Serve(lis) }() // returns when Stop closes it
		return nil
	}
	protocols.SetHTTP2(true)
	base := cfg.TLS.Clone()
	base.NextProtos = []string{"h2", "http/1.1"} // see mtls.ServerTLSConfig
	tlsCfg := base
	if cfg.MTLS != nil {
		tlsCfg = cfg.MTLS.ServerTLSConfig(base)
	}
	srv.TLSConfig = tlsCfg
	r.HTTPURL = "https://" + lis.Addr().String()
	go func() { _ = srv.ServeTLS(lis, "", "") }() // returns when Stop closes it
	return nil
}

// serveAdmin starts the admin listener: reflection of the services of
// r's first server, and health.
func serveAdmin(r *Running, addr string, healthSrv *health.Server) (string, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s := grpc.NewServer()
	opts := reflection.ServerOptions{Services: r.servers[0], DescriptorResolver: protoregistry.GlobalFiles, ExtensionResolver: protoregistry.GlobalTypes}
	reflectionv1.RegisterServerReflectionServer(s, reflection.NewServerV1(opts))
	reflectionv1alpha.RegisterServerReflectionServer(s, reflection.NewServer(opts))
	healthpb.RegisterHealthServer(s, healthSrv)
	r.servers = append(r.servers, s)
	go func() { _ = s.Serve(lis) }() // returns when Stop stops the server
	return lis.Addr().String(), nil
}
