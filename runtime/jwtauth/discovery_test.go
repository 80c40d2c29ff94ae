// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// discovered is an authenticator that finds iss's keys by discovery.
func discovered(t *testing.T, iss *authtest.Issuer, how jwtauth.IssuerOption, opts ...jwtauth.Option) *jwtauth.Authenticator {
	t.Helper()
	a, err := jwtauth.New(append([]jwtauth.Option{
		jwtauth.Issuer(iss.URL(), jwtauth.Audience(audience), how),
		jwtauth.HTTPClient(iss.HTTPClient()),
		jwtauth.CacheSize(0),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestDiscovery: the issuer's metadata, of OpenID Connect Discovery and of
// RFC 8414, at the place each specification gives for an issuer with and
// without a path, leads to its keys: one metadata fetch, one JWKS fetch,
// for many calls.
func TestDiscovery(t *testing.T) {
	for _, c := range []struct {
		name, path string
		how        jwtauth.IssuerOption
		want       string // the metadata path asked for
	}{
		{"oidc", "", jwtauth.OIDCDiscovery(), "/.well-known/openid-configuration"},
		{"oidc with a path", "/realms/library", jwtauth.OIDCDiscovery(), "/realms/library/.well-known/openid-configuration"},
		{"rfc8414", "", jwtauth.OAuthMetadata(), "/.well-known/oauth-authorization-server"},
		{"rfc8414 with a path", "/tenant1", jwtauth.OAuthMetadata(), "/.well-known/oauth-authorization-server/tenant1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var opts []authtest.IssuerOption
			if c.path != "" {
				opts = append(opts, authtest.IssuerPath(c.path))
			}
			iss := newIssuer(t, opts...)
			a := discovered(t, iss, c.how)
			for range 3 {
				mustAccept(t, a, iss.Mint())
			}
			if got := iss.MetadataPaths(); !slices.Equal(got, []string{c.want}) {
				t.Errorf("metadata asked at %q; want once at %q", got, c.want)
			}
			if n := iss.Fetches(); n != 1 {
				t.Errorf("JWKS fetched %d times; want 1", n)
			}
		})
	}
	// A trailing slash of the issuer (Auth0's have one) is dropped before
	// the well-known path, by both; the metadata's issuer has it, as the
	// tokens' iss does.
	t.Run("trailing slash", func(t *testing.T) {
		iss := newIssuer(t, authtest.IssuerPath("/tenant/"))
		if !strings.HasSuffix(iss.URL(), "/tenant/") {
			t.Fatalf("IssuerPath: URL %q", iss.URL())
		}
		for _, how := range []jwtauth.IssuerOption{jwtauth.OIDCDiscovery(), jwtauth.OAuthMetadata()} {
			mustAccept(t, discovered(t, iss, how), iss.Mint())
		}
		if got := iss.MetadataPaths(); !slices.Equal(got, []string{"/tenant/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/tenant"}) {
			t.Errorf("metadata asked at %q", got)
		}
	})
}

// TestSecurity75_DiscoveryIssuerMismatch: metadata whose issuer is not
// exactly the configured one yields no keys: the JWKS it names is never
// fetched and calls fail with UNAVAILABLE AUTH_BACKEND_UNAVAILABLE. So is
// metadata whose jwks_uri is not https, or absent, or that is not JSON.
func TestSecurity75_DiscoveryIssuerMismatch(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(iss *authtest.Issuer) func(map[string]any)
	}{
		{"another issuer", func(*authtest.Issuer) func(map[string]any) {
			return func(d map[string]any) { d["issuer"] = "https://evil.example" }
		}},
		{"trailing slash", func(iss *authtest.Issuer) func(map[string]any) {
			return func(d map[string]any) { d["issuer"] = iss.URL() + "/" }
		}},
		{"no issuer", func(*authtest.Issuer) func(map[string]any) { return func(d map[string]any) { delete(d, "issuer") } }},
		{"issuer not a string", func(*authtest.Issuer) func(map[string]any) { return func(d map[string]any) { d["issuer"] = 1 } }},
		{"jwks_uri over http", func(iss *authtest.Issuer) func(map[string]any) {
			// A plain-http server that would serve the issuer's keys.
			var asked atomic.Int64
			plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				asked.Add(1)
				_, _ = w.Write(iss.JWKS())
			}))
			t.Cleanup(func() {
				plain.Close()
				if n := asked.Load(); n != 0 {
					t.Errorf("the plain-http jwks_uri was asked %d times", n)
				}
			})
			return func(d map[string]any) { d["jwks_uri"] = plain.URL + "/jwks.json" }
		}},
		{"jwks_uri relative", func(*authtest.Issuer) func(map[string]any) {
			return func(d map[string]any) { d["jwks_uri"] = "/.well-known/jwks.json" }
		}},
		{"no jwks_uri", func(*authtest.Issuer) func(map[string]any) { return func(d map[string]any) { delete(d, "jwks_uri") } }},
	} {
		t.Run(c.name, func(t *testing.T) {
			iss := newIssuer(t)
			iss.EditMetadata(c.edit(iss))
			a := discovered(t, iss, jwtauth.OIDCDiscovery())
			for range 2 {
				p, err := a.Authenticate(t.Context(), iss.Mint())
				if p != nil || reasonOf(t, err) != runtime.ReasonAuthBackendUnavailable {
					t.Fatalf("got %v, %v; want AUTH_BACKEND_UNAVAILABLE", p, err)
				}
			}
			if n := iss.Fetches(); n != 0 {
				t.Errorf("the JWKS was fetched %d times; want never", n)
			}
			if n := iss.MetadataFetches(); n != 1 {
				t.Errorf("metadata fetched %d times; want once (then rate-limited)", n)
			}
		})
	}
}

// TestDiscoveryHardening: the metadata fetch is hardened as the JWKS fetch
// is: a body over the cap, a redirect to another origin, an endpoint that
// fails or hangs fail closed; a redirect within the origin is followed.
func TestDiscoveryHardening(t *testing.T) {
	t.Run("too large", func(t *testing.T) {
		iss := newIssuer(t)
		iss.EditMetadata(func(d map[string]any) { d["padding"] = strings.Repeat("x", jwtauth.DefaultMaxMetadataSize) })
		mustDeny(t, discovered(t, iss, jwtauth.OIDCDiscovery()), iss.Mint(), runtime.ReasonAuthBackendUnavailable)
		if iss.Fetches() != 0 {
			t.Error("the JWKS was fetched")
		}
	})
	t.Run("failing", func(t *testing.T) {
		iss := newIssuer(t)
		iss.FailMetadata(http.StatusServiceUnavailable)
		mustDeny(t, discovered(t, iss, jwtauth.OAuthMetadata()), iss.Mint(), runtime.ReasonAuthBackendUnavailable)
	})
	// A front server for the issuer that redirects the metadata request.
	front := func(t *testing.T, iss *authtest.Issuer, to func(r *http.Request) string) *httptest.Server {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, to(r), http.StatusFound)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	t.Run("redirect to another origin", func(t *testing.T) {
		iss := newIssuer(t)
		// The front's issuer is its own URL; its metadata moved to iss.
		srv := front(t, iss, func(*http.Request) string { return iss.MetadataURL() })
		iss.EditMetadata(func(d map[string]any) { d["issuer"] = srv.URL })
		a, err := jwtauth.New(jwtauth.Issuer(srv.URL, jwtauth.Audience(audience), jwtauth.OIDCDiscovery()), jwtauth.HTTPClient(srv.Client()))
		if err != nil {
			t.Fatal(err)
		}
		mustDeny(t, a, iss.Mint(authtest.IssuerClaim(srv.URL)), runtime.ReasonAuthBackendUnavailable)
		if iss.MetadataFetches() != 0 || iss.Fetches() != 0 {
			t.Errorf("the other origin was asked: metadata %d, JWKS %d", iss.MetadataFetches(), iss.Fetches())
		}
	})
	t.Run("redirect within the origin", func(t *testing.T) {
		iss := newIssuer(t, authtest.IssuerPath("/v2"))
		mux := http.NewServeMux()
		var moved *httptest.Server
		mux.HandleFunc("/old/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, moved.URL+"/new", http.StatusMovedPermanently)
		})
		mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"issuer":"` + moved.URL + `/old","jwks_uri":"` + iss.JWKSURL() + `"}`))
		})
		moved = httptest.NewTLSServer(mux)
		t.Cleanup(moved.Close)
		a, err := jwtauth.New(jwtauth.Issuer(moved.URL+"/old", jwtauth.Audience(audience), jwtauth.OIDCDiscovery()), jwtauth.HTTPClient(moved.Client()))
		if err != nil {
			t.Fatal(err)
		}
		// The jwks_uri may be on another origin (Google's is): it is what
		// the issuer's own metadata says.
		mustAccept(t, a, iss.Mint(authtest.IssuerClaim(moved.URL+"/old")))
	})
	t.Run("timeout", func(t *testing.T) {
		hang := make(chan struct{})
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(func() { close(hang); srv.Close() })
		a, err := jwtauth.New(jwtauth.Issuer(srv.URL, jwtauth.Audience(audience), jwtauth.OIDCDiscovery()),
			jwtauth.HTTPClient(srv.Client()), jwtauth.FetchTimeout(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		iss := newIssuer(t)
		start := time.Now()
		mustDeny(t, a, iss.Mint(authtest.IssuerClaim(srv.URL)), runtime.ReasonAuthBackendUnavailable)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the call waited %s", d)
		}
	})
}

// TestDiscoveryLastGoodAnswer: while the metadata endpoint fails, the last
// good jwks_uri is used for MaxStaleness past its refresh, as the last
// good keys are; after that, calls fail closed until it answers again.
func TestDiscoveryLastGoodAnswer(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, authtest.IssuerClock(clk.Now))
	a := discovered(t, iss, jwtauth.OIDCDiscovery(),
		jwtauth.Clock(clk.Now), jwtauth.MinRefreshInterval(0), jwtauth.RefreshInterval(time.Minute), jwtauth.MaxStaleness(10*time.Minute))
	mustAccept(t, a, iss.Mint())
	iss.FailMetadata(http.StatusInternalServerError)
	// Past the refresh: the keys are refreshed from the last jwks_uri.
	clk.Advance(2 * time.Minute)
	kid, err := iss.AddKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	waitAccepted(t, a, func() string { return iss.Mint(authtest.KeyID(kid), authtest.Algorithm("ES256")) })
	if n := iss.MetadataFetches(); n < 2 {
		t.Errorf("metadata fetched %d times; want a refresh tried", n)
	}
	// Past its staleness, the answer is not used: no keys can be fetched,
	// and once the keys are stale too, calls fail closed.
	iss.FailJWKS(http.StatusInternalServerError)
	clk.Advance(time.Hour)
	mustDeny(t, a, iss.Mint(), runtime.ReasonAuthBackendUnavailable)
	iss.FailJWKS(0)
	fetched := iss.Fetches()
	clk.Advance(time.Minute)
	mustDeny(t, a, iss.Mint(), runtime.ReasonAuthBackendUnavailable)
	if iss.Fetches() != fetched {
		t.Error("the JWKS was fetched from a stale metadata answer")
	}
	iss.FailMetadata(0)
	clk.Advance(time.Minute)
	mustAccept(t, a, iss.Mint())
}

// waitAccepted retries a token until it is accepted (a background refresh
// must end first), for up to 10s.
func waitAccepted(t *testing.T, a *jwtauth.Authenticator, mint func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := a.Authenticate(t.Context(), mint()); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("still refused: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDiscoveryOptionsRefused: a discovered issuer must be an https URL
// without query or fragment.
func TestDiscoveryOptionsRefused(t *testing.T) {
	for _, c := range []struct{ issuer, want string }{
		{"http://as.example", `jwtauth: invalid option: Issuer "http://as.example": OIDCDiscovery: the issuer is not an https URL; use AllowHTTP for local tests`},
		{"https://as.example?tenant=1", `jwtauth: invalid option: Issuer "https://as.example?tenant=1": OIDCDiscovery: the issuer "https://as.example?tenant=1" has a query or fragment`},
		{"https://as.example#x", `jwtauth: invalid option: Issuer "https://as.example#x": OIDCDiscovery: the issuer "https://as.example#x" has a query or fragment`},
		{"as.example", `jwtauth: invalid option: Issuer "as.example": OIDCDiscovery: the issuer is not an https URL; use AllowHTTP for local tests`},
		{"https://", `jwtauth: invalid option: Issuer "https://": OIDCDiscovery: the issuer "https://" is not an absolute http(s) URL`},
	} {
		_, err := jwtauth.New(jwtauth.Issuer(c.issuer, jwtauth.Audience(audience), jwtauth.OIDCDiscovery()))
		wantOptionError(t, err, c.want)
	}
}
