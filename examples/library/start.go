// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package library

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// Config is what the example server needs.
type Config struct {
	// JWT verifies bearer JWTs, such as a *jwtauth.Authenticator.
	JWT runtime.TokenAuthenticator
	// TLS, when set, serves on a TLS listener too.
	TLS *tls.Config
	// TLSAddr and PlainAddr are where to listen; "127.0.0.1:0" by default.
	TLSAddr, PlainAddr string
	// Logger receives one safe line per denied call.
	Logger *slog.Logger
}

// Running is a started example server.
type Running struct {
	// TLSAddr is the TLS listener's address, empty without TLS.
	TLSAddr string
	// PlainAddr is the plaintext listener's address.
	PlainAddr string
	servers   []*grpc.Server
}

// Stop stops the server.
func (r *Running) Stop() {
	for _, s := range r.servers {
		s.Stop()
	}
}

// Start serves the example LibraryService on a plaintext listener and,
// with cfg.TLS, on a TLS listener, so that TLS_REQUIRED can be seen at work.
func Start(cfg Config) (*Running, error) {
	if cfg.JWT == nil {
		return nil, errors.New("library: Config.JWT is required")
	}
	enf, err := runtime.NewEnforcer(runtime.WithJWT(cfg.JWT), runtime.WithLogger(cfg.Logger))
	if err != nil {
		return nil, err
	}
	impl := NewServer()
	r := &Running{}
	serve := func(addr string, opts ...grpc.ServerOption) (string, error) {
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return "", err
		}
		s := grpc.NewServer(opts...)
		// The one line that turns the .proto's auth rules on.
		libraryv1.RegisterLibraryServiceServerWithAuth(s, impl, enf)
		r.servers = append(r.servers, s)
		go s.Serve(lis)
		return lis.Addr().String(), nil
	}
	if r.PlainAddr, err = serve(cfg.PlainAddr); err != nil {
		return nil, err
	}
	if cfg.TLS != nil {
		if r.TLSAddr, err = serve(cfg.TLSAddr, grpc.Creds(credentials.NewTLS(cfg.TLS))); err != nil {
			r.Stop()
			return nil, err
		}
	}
	return r, nil
}
