// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	grpcauth "github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

func cachedAuth(t testing.TB, iss *authtest.Issuer, clk *clock, opts ...any) *jwtauth.Authenticator {
	t.Helper()
	auth, issuer := splitOpts(t, opts)
	a, err := jwtauth.New(append([]jwtauth.Option{
		jwtauth.Issuer(iss.URL(), append([]jwtauth.IssuerOption{jwtauth.Audience("library"), jwtauth.JWKSURL(iss.JWKSURL())}, issuer...)...),
		jwtauth.HTTPClient(iss.HTTPClient()),
		jwtauth.Clock(clk.Now),
		jwtauth.MinRefreshInterval(0),
	}, auth...)...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func reasonOfErr(err error) grpcauth.Reason {
	if e, ok := grpcauth.FromError(err); ok {
		return e.Reason
	}
	return ""
}

// TestCacheHitIsTheSamePrincipal: a second presentation of a token is a
// hit (no new principal is built) and only a byte-identical token hits.
func TestCacheHitIsTheSamePrincipal(t *testing.T) {
	clk := newClock()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.IssuerClock(clk.Now))
	a := cachedAuth(t, iss, clk)
	tok := iss.Mint()
	p1, err := a.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := a.Authenticate(context.Background(), tok)
	if err != nil || p1 != p2 {
		t.Fatalf("second call: %v, same principal %v; want a cache hit", err, p1 == p2)
	}
	if jwtauth.CacheLen(a) != 1 {
		t.Errorf("cache holds %d entries; want 1", jwtauth.CacheLen(a))
	}
	// Variants that a lenient decoder would read as the same token do not hit.
	for _, v := range []string{tok + "=", tok[:len(tok)-1] + string(tok[len(tok)-1]^1), " " + tok} {
		if _, err := a.Authenticate(context.Background(), v); err == nil {
			t.Errorf("a variant of a cached token was accepted")
		}
	}
}

// TestCachedTokenExpires: a cached token is refused once it expires.
func TestCachedTokenExpires(t *testing.T) {
	clk := newClock()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.IssuerClock(clk.Now))
	a := cachedAuth(t, iss, clk, jwtauth.Leeway(0), jwtauth.RefreshInterval(time.Hour))
	tok := iss.Mint(authtest.ExpiresIn(time.Minute))
	if _, err := a.Authenticate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if _, err := a.Authenticate(context.Background(), tok); reasonOfErr(err) != grpcauth.ReasonTokenExpired {
		t.Fatalf("cached token after exp: %v; want TOKEN_EXPIRED", err)
	}
	if jwtauth.CacheLen(a) != 0 {
		t.Errorf("an expired entry stayed in the cache")
	}
}

// TestCachedTokenScopesStillChecked: a hit still goes through the
// enforcer's scope check of the method called.
func TestCachedTokenScopesStillChecked(t *testing.T) {
	clk := newClock()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.IssuerClock(clk.Now))
	a := cachedAuth(t, iss, clk)
	enf, err := grpcauth.NewEnforcer(grpcauth.WithJWT(a), grpcauth.WithPlaintextCredentials(), grpcauth.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	read := &grpcauth.Rule{FullMethod: "/t.S/Read", Requirements: []grpcauth.Requirement{{Credentials: []grpcauth.CredentialKind{grpcauth.BearerJWT}, Scopes: []string{"read"}}}}
	write := &grpcauth.Rule{FullMethod: "/t.S/Write", Requirements: []grpcauth.Requirement{{Credentials: []grpcauth.CredentialKind{grpcauth.BearerJWT}, Scopes: []string{"write"}}}}
	ctx := incoming(iss.Mint(authtest.Scopes("read")))
	if _, err := enf.Authorize(ctx, read); err != nil {
		t.Fatal(err)
	}
	if _, err := enf.Authorize(ctx, write); reasonOfErr(err) != grpcauth.ReasonScopeInsufficient {
		t.Fatalf("cached token on a method needing another scope: %v; want SCOPE_INSUFFICIENT", err)
	}
	if _, err := enf.Authorize(ctx, read); err != nil {
		t.Fatalf("the cached token no longer works where it should: %v", err)
	}
}

// TestCachedTokenKeyRemoved: once the issuer stops publishing the key,
// tokens it verified are refused after the next refresh, even if they
// were only ever served from the cache.
func TestCachedTokenKeyRemoved(t *testing.T) {
	clk := newClock()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.IssuerClock(clk.Now))
	a := cachedAuth(t, iss, clk, jwtauth.RefreshInterval(time.Minute))
	kid, err := iss.AddKey("RS256")
	if err != nil {
		t.Fatal(err)
	}
	tok := iss.Mint(authtest.KeyID(kid), authtest.ExpiresIn(time.Hour))
	other := iss.Mint(authtest.ExpiresIn(time.Hour)) // rs256-1, stays published
	for _, tk := range []string{tok, other} {
		if _, err := a.Authenticate(context.Background(), tk); err != nil {
			t.Fatal(err)
		}
	}
	iss.RemoveKey(kid)
	clk.Advance(2 * time.Minute) // keys due for refresh; the hit starts it in the background
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := a.Authenticate(context.Background(), tok)
		if err != nil {
			if reasonOfErr(err) != grpcauth.ReasonTokenInvalidSignature {
				t.Fatalf("after the key left: %v; want TOKEN_INVALID_SIGNATURE", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a token of a removed key is still accepted from the cache")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A refresh that keeps a key keeps its cached tokens.
	before := iss.Fetches()
	if _, err := a.Authenticate(context.Background(), other); err != nil {
		t.Fatalf("token of a key still published: %v", err)
	}
	if iss.Fetches() != before {
		t.Errorf("a token of an unchanged key caused a fetch")
	}
}

// TestBadTokensDoNotEvict: ten thousand distinct bad tokens leave a good
// cached token in place and the cache no larger.
func TestBadTokensDoNotEvict(t *testing.T) {
	clk := newClock()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.IssuerClock(clk.Now))
	attacker := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	a := cachedAuth(t, iss, clk, jwtauth.CacheSize(16))
	good := iss.Mint()
	p, err := a.Authenticate(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	forged := attacker.Mint(authtest.IssuerClaim(iss.URL()))
	for i := 0; i < 10000; i++ {
		var bad string
		switch i % 3 {
		case 0:
			bad = fmt.Sprintf("%s.%d", "junk", i)
		case 1:
			bad = iss.Mint(authtest.ExpiresIn(-time.Hour), authtest.Claim("n", i))
		default:
			bad = forged[:len(forged)-4] + fmt.Sprintf("%04d", i%10000)
		}
		if _, err := a.Authenticate(context.Background(), bad); err == nil {
			t.Fatalf("bad token %d accepted", i)
		}
	}
	if n := jwtauth.CacheLen(a); n != 1 {
		t.Errorf("cache holds %d entries after 10000 bad tokens; want 1", n)
	}
	if p2, err := a.Authenticate(context.Background(), good); err != nil || p2 != p {
		t.Errorf("the good token is no longer a hit: %v", err)
	}
}

// TestCacheBounded: distinct valid tokens past the capacity keep the cache
// at its bound.
func TestCacheBounded(t *testing.T) {
	clk := newClock()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.IssuerClock(clk.Now))
	a := cachedAuth(t, iss, clk, jwtauth.CacheSize(64))
	for i := 0; i < 500; i++ {
		if _, err := a.Authenticate(context.Background(), iss.Mint(authtest.Claim("n", i), authtest.Algorithm("EdDSA"))); err != nil {
			t.Fatal(err)
		}
	}
	if n := jwtauth.CacheLen(a); n > 64 {
		t.Errorf("cache holds %d entries; want at most 64", n)
	}
	a0 := cachedAuth(t, iss, clk, jwtauth.CacheSize(0))
	a0.Authenticate(context.Background(), iss.Mint())
	if jwtauth.CacheLen(a0) != 0 {
		t.Error("CacheSize(0) still caches")
	}
}

// TestCacheRaceDuringRotation: parallel callers with cached and fresh
// tokens while keys rotate; run with -race. Tokens of the key that stays
// never fail; tokens of the rotated-out key fail only with
// TOKEN_INVALID_SIGNATURE.
func TestCacheRaceDuringRotation(t *testing.T) {
	clk := newClock()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.IssuerClock(clk.Now))
	a := cachedAuth(t, iss, clk, jwtauth.RefreshInterval(time.Second), jwtauth.CacheSize(256))
	stable := iss.Mint(authtest.ExpiresIn(time.Hour))
	var failures atomic.Int32
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if _, err := a.Authenticate(context.Background(), stable); err != nil {
					failures.Add(1)
				}
				if i%50 == 0 {
					a.Authenticate(context.Background(), iss.Mint(authtest.Claim("g", g), authtest.Claim("i", i)))
				}
				runtime.Gosched()
			}
		}(g)
	}
	for r := 0; r < 20; r++ {
		kid, err := iss.AddKey("ES256")
		if err != nil {
			t.Fatal(err)
		}
		tok := iss.Mint(authtest.KeyID(kid), authtest.ExpiresIn(time.Hour))
		if _, err := a.Authenticate(context.Background(), tok); err != nil && reasonOfErr(err) != grpcauth.ReasonTokenInvalidSignature {
			t.Errorf("rotating token: %v", err)
		}
		iss.RemoveKey(kid)
		clk.Advance(2 * time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	close(done)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("a token of the key that stayed failed %d times during rotation", n)
	}
}

// incoming is a server-side context carrying an authorization header.
func incoming(token string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token))
}

// FuzzCanonical: the allocation-free canonical check agrees with decoding
// and re-encoding each part.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"eyJhbGciOiJFUzI1NiJ9.e30.AAAA", "a.b.c", "ab.cd.ef", "abc.abd.QQ", "QR.QQ.QQ", "a=.b.c", "a\n.b.c", "...", "A.B.C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		want := true
		for _, part := range strings.Split(token, ".") {
			b, err := base64.RawURLEncoding.DecodeString(part)
			if err != nil || base64.RawURLEncoding.EncodeToString(b) != part {
				want = false
			}
		}
		if got := jwtauth.Canonical(token); got != want {
			t.Fatalf("canonical(%q) = %v; decode/encode says %v", token, got, want)
		}
	})
}

// TestCacheStats counts look-ups, entries and evictions as they happen.
func TestCacheStats(t *testing.T) {
	clk := newClock()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.IssuerClock(clk.Now))
	a := cachedAuth(t, iss, clk, jwtauth.CacheSize(16))
	if got := a.CacheStats(); got != (grpcauth.CacheStats{Capacity: 16}) {
		t.Fatalf("new cache: %+v", got)
	}
	tok := iss.Mint()
	for range 3 {
		if _, err := a.Authenticate(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.CacheStats(); got != (grpcauth.CacheStats{Entries: 1, Capacity: 16, Hits: 2, Misses: 1}) {
		t.Fatalf("one token three times: %+v", got)
	}
	// A bad token is a miss and stores nothing.
	if _, err := a.Authenticate(context.Background(), "a.b.c"); err == nil {
		t.Fatal("a bad token was accepted")
	}
	if got := a.CacheStats(); got.Misses != 2 || got.Entries != 1 {
		t.Fatalf("after a bad token: %+v", got)
	}
	// More live tokens than room: evictions, never more entries than room.
	for i := range 200 {
		if _, err := a.Authenticate(context.Background(), iss.Mint(authtest.Subject(fmt.Sprint("s", i)))); err != nil {
			t.Fatal(err)
		}
	}
	got := a.CacheStats()
	if got.Evictions == 0 || got.Entries > got.Capacity || got.Entries+int(got.Evictions) != 201 {
		t.Fatalf("after 201 tokens: %+v; want entries + evictions = 201", got)
	}
	off := cachedAuth(t, iss, clk, jwtauth.CacheSize(0))
	if _, err := off.Authenticate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if got := off.CacheStats(); got != (grpcauth.CacheStats{}) {
		t.Fatalf("cache off: %+v", got)
	}
}
