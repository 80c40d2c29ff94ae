// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// TestAuthenticateKnown: only a token Authenticate accepted is served
// from memory, only while its entry may be used on this call, and a
// cache of size 0 serves none.
func TestAuthenticateKnown(t *testing.T) {
	clk := newClock()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.IssuerClock(clk.Now))
	a := cachedAuth(t, iss, clk)
	ctx := context.Background()
	tok := iss.Mint(authtest.ExpiresIn(time.Minute))
	if p, ok := a.AuthenticateKnown(ctx, a, tok); ok || p != nil {
		t.Fatal("a token never verified was served from memory")
	}
	p, err := a.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := a.AuthenticateKnown(ctx, a, tok); !ok || got != p {
		t.Fatalf("a verified token: served %v, same principal %v; want the cached principal", ok, got == p)
	}
	if _, ok := a.AuthenticateKnown(ctx, embedding{a}, tok); ok {
		t.Fatal("a verified token was served from memory for another authenticator (one that embeds this one)")
	}
	if _, ok := a.AuthenticateKnown(ctx, a, tok[:len(tok)-1]); ok {
		t.Fatal("a token that differs from a verified one was served from memory")
	}
	bad := iss.Mint(authtest.Audience("other"))
	if _, err := a.Authenticate(ctx, bad); err == nil {
		t.Fatal("a token for another audience was accepted")
	}
	if _, ok := a.AuthenticateKnown(ctx, a, bad); ok {
		t.Fatal("a refused token was served from memory")
	}
	clk.Advance(2 * time.Minute)
	if _, ok := a.AuthenticateKnown(ctx, a, tok); ok {
		t.Fatal("an expired token was served from memory")
	}

	off := cachedAuth(t, iss, clk, jwtauth.CacheSize(0))
	fresh := iss.Mint()
	if _, err := off.Authenticate(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if _, ok := off.AuthenticateKnown(ctx, off, fresh); ok {
		t.Fatal("an authenticator without a cache served a token from memory")
	}
}

// TestAuthenticateKnownBinding: a certificate-bound token is served from
// memory only on a connection that presents its certificate.
func TestAuthenticateKnownBinding(t *testing.T) {
	f := newBindingFixture(t)
	if _, err := f.a.Authenticate(withPeerCert(f.mine), f.bound); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.a.AuthenticateKnown(withPeerCert(f.mine), f.a, f.bound); !ok {
		t.Fatal("a bound token on its certificate's connection was not served from memory")
	}
	for name, ctx := range map[string]context.Context{"other certificate": withPeerCert(f.other), "no certificate": withPeerCert(nil), "no peer": context.Background()} {
		if _, ok := f.a.AuthenticateKnown(ctx, f.a, f.bound); ok {
			t.Errorf("%s: a bound token was served from memory", name)
		}
	}
}

// embedding is an authenticator that embeds jwtauth's, as a user's that
// adds checks to Authenticate would.
type embedding struct{ *jwtauth.Authenticator }
