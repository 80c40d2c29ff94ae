// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package mtls authenticates MTLS credentials: the caller's TLS client
// certificate, verified against a trust bundle, whose identity is a SPIFFE
// ID or a subject alternative name, mapped to scopes.
//
//	a, err := mtls.New(
//		mtls.SPIFFE("example.org"),
//		mtls.BundleFile("/etc/grpcauth/bundle.pem"),
//		mtls.Scopes(map[string][]string{
//			"spiffe://example.org/ns/prod/sa/frontend": {"library.read"},
//		}),
//	)
//	enf, err := runtime.NewEnforcer(runtime.WithMTLS(a))
//
// # Server TLS setup
//
// The TLS layer verifies the certificate; this package then decides who it
// names. Build the server's TLS config with [Authenticator.ServerTLSConfig]:
//
//	tlsCfg := a.ServerTLSConfig(&tls.Config{
//		Certificates: []tls.Certificate{serverCert},
//		MinVersion:   tls.VersionTLS13,
//	})
//	srv := grpc.NewServer(
//		grpc.Creds(credentials.NewTLS(tlsCfg)),
//		grpc.UnaryInterceptor(enf.UnaryServerInterceptor()),
//		grpc.StreamInterceptor(enf.StreamServerInterceptor()),
//	)
//	go a.Watch(ctx, time.Minute, func(err error) { slog.Warn("trust bundle", "err", err) })
//
// Each handshake asks for a client certificate with
// tls.VerifyClientCertIfGiven against the trust bundle current at that
// handshake. A certificate that does not chain to the bundle fails the
// handshake and never reaches a handler. A client without a certificate
// still connects, so one server can serve both bearer-token and MTLS
// methods; a method that needs MTLS is refused with CREDENTIALS_MISSING.
// (A base config that requires a certificate keeps requiring one, as
// tls.RequireAndVerifyClientCert.)
// A config that does not verify client certificates (no VerifiedChains)
// is refused the same way: an unverified certificate is no identity.
//
// [Authenticator.AuthenticatePeer] checks the certificate again on every
// call against the current bundle, for client authentication, at the time
// of the [Clock]: a CA removed from the bundle by a reload is refused on
// connections opened before the reload, and a certificate that expires on
// a long-lived connection is refused from then on (TOKEN_EXPIRED). A leaf
// that is itself a CA is refused.
//
// # Trust bundle
//
// [Bundle] sets a fixed pool. [BundleFile] reads a PEM file of CA
// certificates (a file with anything else in it is refused whole);
// [Authenticator.ReloadBundle] reads it again and [Authenticator.Watch]
// polls it. A reload swaps in a new immutable snapshot atomically; a file
// that cannot be read or parsed keeps the last good bundle.
//
// # SPIFFE mode
//
// With [SPIFFE], the certificate must be an X509-SVID of the trust domain:
// exactly one URI SAN, which go-spiffe's spiffeid.FromString accepts as
// written in the certificate (lowercase "spiffe" scheme and trust domain;
// no port, user info, query, fragment or percent-encoding; no empty, "."
// or ".." path segment), with a non-empty path, in the configured trust
// domain; the leaf must have the digitalSignature key usage and neither
// keyCertSign nor cRLSign. The identity is the SPIFFE ID, such as
// "spiffe://example.org/ns/prod/sa/frontend". grpc-go's lenient
// TLSInfo.SPIFFEID is never used.
//
// # SAN mode
//
// With [SAN], the identity is the certificate's single name of a kind:
// [DNSName], [Email], [URI] (as written in the certificate, not parsed as
// a SPIFFE ID) or [CommonName] (the subject's common name). A certificate
// with none of that kind, or more than one, is refused. Use SAN mode for
// a private PKI whose names you control; any name the bundle's CAs will
// sign is an identity.
//
// # Scopes
//
// [Scopes] maps identities to scopes; [ScopeFunc] computes them. An
// identity without scopes still authenticates: methods that need no scope
// accept it. A connection's principal, scopes included, is built on its
// first call and reused by its later calls until the trust bundle is
// replaced or [Authenticator.ForgetScopes] is called, so a ScopeFunc whose
// answers change needs ForgetScopes to reach open connections.
package mtls
