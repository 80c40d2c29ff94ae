// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// twoIssuers is an authenticator trusting two real issuers over HTTPS, each
// with settings of its own: a (audience library, at+jwt only, RS256 and
// ES256, lifetime at most an hour) and b (audience library-internal, at+jwt
// or JWT, ES256 only, subjects svc-*, scopes in "roles"). Their kids differ
// ("a-…", "b-…") unless sameKids.
type twoIssuers struct {
	a, b *authtest.Issuer
	auth *jwtauth.Authenticator
}

func newTwoIssuers(t *testing.T, sameKids bool, opts ...jwtauth.Option) *twoIssuers {
	t.Helper()
	pa, pb := authtest.KeyIDPrefix("a-"), authtest.KeyIDPrefix("b-")
	if sameKids {
		pa, pb = authtest.KeyIDPrefix(""), authtest.KeyIDPrefix("")
	}
	f := &twoIssuers{
		a: authtest.NewIssuer(t, authtest.DefaultAudience("library"), pa),
		b: authtest.NewIssuer(t, authtest.DefaultAudience("library-internal"), pb),
	}
	var err error
	f.auth, err = jwtauth.New(append([]jwtauth.Option{
		jwtauth.Issuer(f.a.URL(),
			jwtauth.Audience("library"),
			jwtauth.JWKSURL(f.a.JWKSURL()),
			jwtauth.Algorithms("RS256", "ES256"),
			jwtauth.MaxLifetime(time.Hour)),
		jwtauth.Issuer(f.b.URL(),
			jwtauth.Audience("library-internal"),
			jwtauth.JWKSURL(f.b.JWKSURL()),
			jwtauth.Types("at+jwt", "JWT"),
			jwtauth.Algorithms("ES256"),
			jwtauth.Subject(regexp.MustCompile(`^svc-[a-z]+$`)),
			jwtauth.ScopesFrom(jwtauth.Claim("roles"))),
		jwtauth.HTTPClient(f.a.HTTPClient()), // one client: both serve httptest's certificate
		jwtauth.CacheSize(0),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// fetches returns how often each issuer's JWKS endpoint was asked.
func (f *twoIssuers) fetches() (int64, int64) { return f.a.Fetches(), f.b.Fetches() }

// TestIssuersEachWithItsOwnSettings: each issuer's tokens are verified
// with its keys and checked against its own audiences, types, algorithms,
// lifetime cap, subject constraint and scope claim, never another's.
func TestIssuersEachWithItsOwnSettings(t *testing.T) {
	f := newTwoIssuers(t, false)
	p := mustAccept(t, f.auth, f.a.Mint(authtest.Scopes("read")))
	if p.Issuer != f.a.URL() || !slices.Equal(p.Scopes, []string{"read"}) {
		t.Errorf("a's principal: issuer %q scopes %q", p.Issuer, p.Scopes)
	}
	p = mustAccept(t, f.auth, f.b.Mint(authtest.Subject("svc-export"), authtest.Algorithm("ES256"), authtest.Type("JWT"), authtest.Claim("roles", []string{"export"})))
	if p.Issuer != f.b.URL() || !slices.Equal(p.Scopes, []string{"export"}) {
		t.Errorf("b's principal: issuer %q scopes %q", p.Issuer, p.Scopes)
	}
	for _, c := range []struct {
		name  string
		token string
		want  runtime.Reason
	}{
		// a's settings.
		{"a: typ JWT is b's, not a's", f.a.Mint(authtest.Type("JWT")), runtime.ReasonClaimsInvalid},
		{"a: b's audience", f.a.Mint(authtest.Audience("library-internal")), runtime.ReasonAudienceMismatch},
		{"a: lifetime over a's cap", f.a.Mint(authtest.ExpiresIn(2 * time.Hour)), runtime.ReasonClaimsInvalid},
		{"a: EdDSA not among a's algorithms", f.a.Mint(authtest.Algorithm("EdDSA")), runtime.ReasonTokenInvalidSignature},
		// b's settings.
		{"b: a's audience", f.b.Mint(authtest.Subject("svc-x"), authtest.Algorithm("ES256"), authtest.Audience("library")), runtime.ReasonAudienceMismatch},
		{"b: RS256 is a's, not b's", f.b.Mint(authtest.Subject("svc-x")), runtime.ReasonTokenInvalidSignature},
		{"b: a subject outside b's constraint", f.b.Mint(authtest.Subject("alice"), authtest.Algorithm("ES256")), runtime.ReasonClaimsInvalid},
		{"b: its roles claim malformed", f.b.Mint(authtest.Subject("svc-x"), authtest.Algorithm("ES256"), authtest.Claim("roles", "a  b")), runtime.ReasonClaimsInvalid},
	} {
		t.Run(c.name, func(t *testing.T) { mustDeny(t, f.auth, c.token, c.want) })
	}
	// b reads scopes from roles only: its scope claim grants nothing.
	p = mustAccept(t, f.auth, f.b.Mint(authtest.Subject("svc-x"), authtest.Algorithm("ES256"), authtest.Scopes("admin")))
	if len(p.Scopes) != 0 {
		t.Errorf("b's token with a scope claim holds %q; b's scopes come from roles", p.Scopes)
	}
	// a lifetime b has no cap on.
	mustAccept(t, f.auth, f.b.Mint(authtest.Subject("svc-x"), authtest.Algorithm("ES256"), authtest.ExpiresIn(3*time.Hour)))
}

// TestSecurity21_UnknownIssuerNoFetch: a token of an issuer not trusted —
// another server's, none at all, one differing only in a trailing slash or
// case — is ISSUER_UNTRUSTED, and no issuer's JWKS endpoint is asked.
func TestSecurity21_UnknownIssuerNoFetch(t *testing.T) {
	f := newTwoIssuers(t, false)
	other := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	for name, token := range map[string]string{
		"another issuer":   other.Mint(),
		"no iss":           f.a.Mint(authtest.Without("iss")),
		"trailing slash":   f.a.Mint(authtest.IssuerClaim(f.a.URL() + "/")),
		"upper case":       f.a.Mint(authtest.IssuerClaim("HTTPS" + f.a.URL()[5:])),
		"b's, signed by a": f.a.Mint(authtest.IssuerClaim(f.b.URL() + "x")),
	} {
		t.Run(name, func(t *testing.T) { mustDeny(t, f.auth, token, runtime.ReasonIssuerUntrusted) })
	}
	if a, b := f.fetches(); a != 0 || b != 0 || other.Fetches() != 0 || f.auth.Fetches() != 0 {
		t.Errorf("JWKS fetches: a %d, b %d, other %d, authenticator %d; want none", a, b, other.Fetches(), f.auth.Fetches())
	}
}

// TestSecurity75_KidOfAnotherIssuer: a token whose iss names issuer a but
// which is signed with issuer b's key and names b's kid is refused: it is
// verified with a's keys only. b's JWKS endpoint is never asked, and a's at
// most twice (its keys, and one rate-limited refresh for the unknown kid).
// Where the two issuers' kids collide, b's key under a kid a also has is
// refused the same way: a's key does not verify b's signature.
func TestSecurity75_KidOfAnotherIssuer(t *testing.T) {
	for _, sameKids := range []bool{false, true} {
		t.Run(fmt.Sprintf("same_kids=%v", sameKids), func(t *testing.T) {
			f := newTwoIssuers(t, sameKids)
			kid := "b-es256-1"
			if sameKids {
				kid = "es256-1"
			}
			forged := f.b.Mint(authtest.IssuerClaim(f.a.URL()), authtest.Audience("library"), authtest.Algorithm("ES256"), authtest.KeyID(kid))
			for range 3 {
				mustDeny(t, f.auth, forged, runtime.ReasonTokenInvalidSignature)
			}
			a, b := f.fetches()
			if b != 0 {
				t.Errorf("b's JWKS endpoint was asked %d times for a token naming a", b)
			}
			if a > 2 {
				t.Errorf("a's JWKS endpoint was asked %d times; want at most 2", a)
			}
			// Both issuers' own tokens still pass.
			mustAccept(t, f.auth, f.a.Mint(authtest.Algorithm("ES256")))
			mustAccept(t, f.auth, f.b.Mint(authtest.Subject("svc-x"), authtest.Algorithm("ES256")))
		})
	}
}

// TestIssuersNoFetchBeforeChecks: a token of issuer b that fails b's
// checks needing no key causes no fetch, of b's keys or a's.
func TestIssuersNoFetchBeforeChecks(t *testing.T) {
	f := newTwoIssuers(t, false)
	for _, token := range []string{
		f.b.Mint(authtest.Subject("svc-x"), authtest.Algorithm("ES256"), authtest.ExpiresIn(-time.Hour)),
		f.b.Mint(authtest.Subject("svc-x"), authtest.Algorithm("ES256"), authtest.Audience("library")),
		f.b.Mint(authtest.Subject("svc-x")),                                                 // RS256: not b's
		f.b.Mint(authtest.Subject("svc-x"), authtest.Algorithm("ES256"), authtest.Type("")), // no typ
	} {
		mustDeny16(t, f.auth, token)
	}
	if a, b := f.fetches(); a != 0 || b != 0 {
		t.Errorf("JWKS fetches a %d, b %d; want none", a, b)
	}
}

// TestIssuersCachedTokenKeepsItsIssuer: a cached token is answered without
// routing, and still only while its own issuer publishes its key.
func TestIssuersCachedTokenKeepsItsIssuer(t *testing.T) {
	clk := newClock()
	a := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.KeyIDPrefix("a-"), authtest.IssuerClock(clk.Now))
	b := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.KeyIDPrefix("b-"), authtest.IssuerClock(clk.Now))
	auth, err := jwtauth.New(
		jwtauth.Issuer(a.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(a.JWKSURL())),
		jwtauth.Issuer(b.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(b.JWKSURL())),
		jwtauth.HTTPClient(a.HTTPClient()), jwtauth.Clock(clk.Now), jwtauth.MinRefreshInterval(0),
	)
	if err != nil {
		t.Fatal(err)
	}
	ta, tb := a.Mint(), b.Mint()
	pa, pb := mustAccept(t, auth, ta), mustAccept(t, auth, tb)
	if again := mustAccept(t, auth, ta); again != pa {
		t.Error("a's token again: not the cached principal")
	}
	if s := auth.CacheStats(); s.Hits != 1 || s.Entries != 2 {
		t.Errorf("cache stats %+v; want 1 hit, 2 entries", s)
	}
	a.RemoveKey("a-rs256-1")
	clk.Advance(jwtauth.DefaultRefreshInterval + time.Second)
	mustAccept(t, auth, tb) // b's key is still published (b refreshes too)
	// a's refresh runs in the background on the first hit past its
	// refresh time; the entry then no longer matches a's keys.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := auth.Authenticate(t.Context(), ta)
		if err != nil {
			if r := reasonOf(t, err); r != runtime.ReasonTokenInvalidSignature {
				t.Fatalf("a's token after a removed its key: %s", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a's token still passes after a removed its key")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p := mustAccept(t, auth, tb); p != pb {
		t.Error("b's cached token lost its entry when a's keys changed")
	}
}

// TestIssuerOptionsRefused: New's errors about issuers name the issuer.
func TestIssuerOptionsRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []jwtauth.Option
		want string
	}{
		{"no issuer", []jwtauth.Option{jwtauth.CacheSize(0)}, "jwtauth: invalid option: Issuer is required"},
		{"an issuer twice", []jwtauth.Option{
			jwtauth.Issuer("https://a.example", jwtauth.Audience("x"), jwtauth.JWKSURL("https://a.example/k")),
			jwtauth.Issuer("https://a.example", jwtauth.Audience("y"), jwtauth.JWKSURL("https://a.example/k")),
		}, `jwtauth: invalid option: Issuer "https://a.example": given twice`},
		{"empty issuer", []jwtauth.Option{jwtauth.Issuer("", jwtauth.Audience("x"))}, "jwtauth: invalid option: Issuer: empty"},
		{"no audience", []jwtauth.Option{jwtauth.Issuer("https://a.example", jwtauth.JWKSURL("https://a.example/k"))}, `jwtauth: invalid option: Issuer "https://a.example": Audience is required`},
		{"two key sources", []jwtauth.Option{jwtauth.Issuer("https://a.example", jwtauth.Audience("x"), jwtauth.JWKSURL("https://a.example/k"), jwtauth.OIDCDiscovery())},
			`jwtauth: invalid option: Issuer "https://a.example": exactly one of JWKSURL, OIDCDiscovery, OAuthMetadata and static keys (StaticJWKS, StaticKey) is required`},
		{"discovered twice", []jwtauth.Option{jwtauth.Issuer("https://a.example", jwtauth.Audience("x"), jwtauth.OIDCDiscovery(), jwtauth.OAuthMetadata())},
			`jwtauth: invalid option: Issuer "https://a.example": OAuthMetadata: the issuer is discovered already (OIDCDiscovery)`},
		{"nil issuer option", []jwtauth.Option{jwtauth.Issuer("https://a.example", nil)}, `jwtauth: invalid option: Issuer "https://a.example": nil option`},
		{"second issuer wrong", []jwtauth.Option{
			jwtauth.Issuer("https://a.example", jwtauth.Audience("x"), jwtauth.JWKSURL("https://a.example/k")),
			jwtauth.Issuer("https://b.example", jwtauth.Audience("x"), jwtauth.JWKSURL("http://b.example/k")),
		}, `jwtauth: invalid option: Issuer "https://b.example": JWKSURL: "http://b.example/k" is not https; use AllowHTTP for local tests`},
		{"scopes from nothing", []jwtauth.Option{jwtauth.Issuer("https://a.example", jwtauth.ScopesFrom())}, `jwtauth: invalid option: Issuer "https://a.example": ScopesFrom: no claim given`},
		{"scope claim without a name", []jwtauth.Option{jwtauth.Issuer("https://a.example", jwtauth.ScopesFrom(jwtauth.Claim()))}, `jwtauth: invalid option: Issuer "https://a.example": ScopesFrom: a Claim without a name`},
		{"scope claim with an empty name", []jwtauth.Option{jwtauth.Issuer("https://a.example", jwtauth.ScopesFrom(jwtauth.Claim("realm_access", "")))}, `jwtauth: invalid option: Issuer "https://a.example": ScopesFrom: claim "realm_access.": an empty name`},
		{"mapped to a bad scope", []jwtauth.Option{jwtauth.Issuer("https://a.example", jwtauth.ScopesFrom(jwtauth.Claim("groups").Map(map[string][]string{"admins": {"library admin"}})))},
			`jwtauth: invalid option: Issuer "https://a.example": ScopesFrom: claim "groups": Map("admins"): "library admin" is not a scope-token`},
		{"required claim twice", []jwtauth.Option{jwtauth.Issuer("https://a.example", jwtauth.RequireClaim("token_use", "access"), jwtauth.RequireClaim("token_use", "id"))},
			`jwtauth: invalid option: Issuer "https://a.example": RequireClaim: "token_use" given twice`},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := jwtauth.New(c.opts...)
			if a != nil || !errors.Is(err, jwtauth.ErrInvalidOption) {
				t.Fatalf("New = %v, %v; want an error wrapping ErrInvalidOption", a, err)
			}
			if err.Error() != c.want {
				t.Errorf("error:\n got %q\nwant %q", err, c.want)
			}
		})
	}
}
