// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Command library-server serves the example LibraryService with auth
// enforced from its .proto, verifying JWTs of one issuer.
//
//	library-server -issuer https://issuer.example -jwks-url https://issuer.example/jwks.json \
//	  -audience library -tls-cert server.pem -tls-key server-key.pem
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"

	"github.com/grpcauth/protoc-gen-go-grpcauth/examples/library"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

func main() {
	issuer := flag.String("issuer", "", "the accepted JWT issuer (iss)")
	jwksURL := flag.String("jwks-url", "", "the issuer's JWKS URL (https)")
	audience := flag.String("audience", "library", "the accepted audience (aud)")
	plainAddr := flag.String("plain-addr", "127.0.0.1:8080", "plaintext listen address")
	tlsAddr := flag.String("tls-addr", "127.0.0.1:8443", "TLS listen address (with -tls-cert)")
	certFile := flag.String("tls-cert", "", "server certificate (PEM)")
	keyFile := flag.String("tls-key", "", "server key (PEM)")
	flag.Parse()
	if err := run(*issuer, *jwksURL, *audience, *plainAddr, *tlsAddr, *certFile, *keyFile); err != nil {
		fmt.Fprintln(os.Stderr, "library-server:", err)
		os.Exit(1)
	}
}

func run(issuer, jwksURL, audience, plainAddr, tlsAddr, certFile, keyFile string) error {
	a, err := jwtauth.New(jwtauth.Issuer(issuer), jwtauth.Audience(audience), jwtauth.JWKSURL(jwksURL))
	if err != nil {
		return err
	}
	cfg := library.Config{JWT: a, PlainAddr: plainAddr, TLSAddr: tlsAddr, Logger: slog.Default()}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	r, err := library.Start(cfg)
	if err != nil {
		return err
	}
	defer r.Stop()
	slog.Info("serving", "plaintext", r.PlainAddr, "tls", r.TLSAddr)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	<-stop
	return nil
}
