// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package authtest is a test kit for services that use grpcauth: an
// in-process token issuer that serves its JWKS and its metadata (OpenID
// Connect Discovery and RFC 8414) over real HTTPS and mints tokens with the
// subject, scopes, audience, expiry, typ and key you choose, and a
// certificate authority that mints TLS certificates.
//
//	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
//	a, _ := jwtauth.New(
//		jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(iss.JWKSURL())),
//		jwtauth.HTTPClient(iss.HTTPClient()),
//	)
//
// Several issuers, each with kids of its own and a path as a tenant's or a
// realm's (the issuer of https://127.0.0.1:port/realms/staff):
//
//	staff := authtest.NewIssuer(t, authtest.IssuerPath("/realms/staff"), authtest.KeyIDPrefix("staff-"))
//	jwtauth.Issuer(staff.URL(), jwtauth.Audience("library"), jwtauth.OIDCDiscovery())
//	token := iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"))
//
// Everything here is for tests and demos: keys live in memory and are made
// fresh on every start.
package authtest
