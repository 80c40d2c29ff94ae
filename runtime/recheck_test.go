// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/apikey"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// The intervals of the recheck tests: the shortest recheck, and short
// refreshes of the authenticators.
const (
	testRecheck       = runtime.MinStreamRecheck
	testJWKSRefresh   = time.Second // jwtauth's shortest
	testIntrospectTTL = 200 * time.Millisecond
)

// workloadPrefix is the SPIFFE ID prefix of the recheck tests' workloads,
// which hold scope s.
const workloadPrefix = "spiffe://" + kindsTrustDomain + "/workload/"

// TestStreamRecheckRevocation: an open stream checks its credential again
// every WithStreamRecheck interval, and ends, idle or with messages
// moving, when what it was opened with is revoked: a key removed from the
// JWKS, a client CA removed from the trust bundle, an API key removed by a
// reload, an opaque token that introspection now says is inactive. Each
// ends with its authenticator's reason, the handler's context cancelled
// with the denial as its cause, logged and audited once, within the
// recheck interval plus the authenticator's refresh. Streams whose
// credentials were not revoked stay open. On every path, for bidi- and
// server-streaming.
func TestStreamRecheckRevocation(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		t.Parallel()
		dir := t.TempDir()
		keyFile := filepath.Join(dir, "keys.json")
		shapes := []string{bidiMoving, bidiIdle, serverTicking, serverIdle, serverUnwatched}
		keys := map[string]string{} // client name → key
		var keptClients, allClients []apikey.Client
		for _, name := range append([]string{"kept"}, shapes...) {
			keys[name] = newTestAPIKey(t)
			c := apikey.Client{Name: "apikey." + name, Scopes: []string{"s"}, KeySHA256: []string{apikey.Hash(keys[name])}}
			allClients = append(allClients, c)
			if name == "kept" {
				keptClients = append(keptClients, c)
			}
		}
		writeAPIKeyFile(t, keyFile, allClients...)
		store, err := apikey.LoadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		probe := newStreamProbe()
		f := newKindsFixture(t, m, kindsOptions{
			impl:              probe,
			keys:              store,
			jwtOpts:           []jwtauth.Option{jwtauth.RefreshInterval(testJWKSRefresh), jwtauth.MinRefreshInterval(testJWKSRefresh)},
			introspectionOpts: []introspection.Option{introspection.CacheTTL(testIntrospectTTL)},
			mtlsScopes: func(id string) []string {
				if strings.HasPrefix(id, workloadPrefix) {
					return []string{"s"}
				}
				return nil
			},
			enforcerOpts: []runtime.Option{runtime.WithStreamRecheck(testRecheck)},
		})
		// A second workload CA, whose certificates stay trusted.
		keptCA := newTestCA(t, "kept workload CA")
		writeTrustBundle(t, f.bundlePath, f.workloadCA, keptCA)
		if err := f.mtlsAuth.ReloadBundle(); err != nil {
			t.Fatal(err)
		}

		type credential struct {
			name   string
			reason runtime.Reason
			bound  time.Duration // the authenticator's own delay in seeing a revocation
			// open returns the client and the metadata of the stream id,
			// revoked or kept.
			open func(id, shape string, revoked bool) (grpcauthtestv1.KindsClient, context.Context, string)
		}
		var oauthRevoked []string
		creds := []credential{
			{"jwt", runtime.ReasonTokenInvalidSignature, testJWKSRefresh, func(id, _ string, revoked bool) (grpcauthtestv1.KindsClient, context.Context, string) {
				alg := "RS256" // kid rs256-1, removed
				if !revoked {
					alg = "ES256"
				}
				return f.client, bearerMD(f.iss.Mint(authtest.Subject(id), authtest.Scopes("s"), authtest.Algorithm(alg))), id
			}},
			{"oauth2", runtime.ReasonTokenRevoked, testIntrospectTTL, func(id, _ string, revoked bool) (grpcauthtestv1.KindsClient, context.Context, string) {
				token := f.in.Issue(id, []string{"s"}, "library", time.Hour, nil)
				if revoked {
					oauthRevoked = append(oauthRevoked, token)
				}
				return f.client, bearerMD(token), id
			}},
			{"apikey", runtime.ReasonCredentialsInvalid, 0, func(_, shape string, revoked bool) (grpcauthtestv1.KindsClient, context.Context, string) {
				name := "kept"
				if revoked {
					name = shape
				}
				return f.client, apiKeyMD(keys[name]), "apikey." + name
			}},
			{"mtls", runtime.ReasonCredentialsInvalid, 0, func(id, _ string, revoked bool) (grpcauthtestv1.KindsClient, context.Context, string) {
				ca := f.workloadCA // removed from the bundle
				if !revoked {
					ca = keptCA
				}
				identity := workloadPrefix + id
				cert := clientLeaf(t, ca, authtest.LeafOptions{URIs: []string{identity}})
				return f.dialTLS(t, cert), context.Background(), identity
			}},
		}
		type revokedStream struct {
			openedStream
			bound time.Duration
		}
		var revoked []revokedStream
		var kept []openedStream
		for _, c := range creds {
			for _, shape := range shapes {
				id := c.name + "." + shape
				client, md, subject := c.open(id, shape, true)
				done := openStream(t, probeCtx(t, md, id, "err"), client, shape)
				revoked = append(revoked, revokedStream{openedStream{id: id, subject: subject, done: done, reason: c.reason, code: codes.Unauthenticated}, c.bound})
			}
			id := c.name + ".kept"
			client, md, subject := c.open(id, bidiMoving, false)
			kept = append(kept, openedStream{id: id, subject: subject, done: openStream(t, probeCtx(t, md, id, "err"), client, bidiMoving)})
		}

		// Several rechecks pass while nothing is revoked.
		time.Sleep(5 * testRecheck)
		for _, s := range append(kept, func() (out []openedStream) {
			for _, r := range revoked {
				out = append(out, r.openedStream)
			}
			return out
		}()...) {
			select {
			case end := <-s.done:
				t.Fatalf("%s: ended before anything was revoked: %v", s.id, end.err)
			default:
			}
		}

		// Revoke.
		revokedAt := time.Now()
		f.iss.RemoveKey("rs256-1")
		for _, token := range oauthRevoked {
			f.in.Revoke(token)
		}
		writeAPIKeyFile(t, keyFile, keptClients...)
		if err := store.Reload(); err != nil {
			t.Fatal(err)
		}
		writeTrustBundle(t, f.bundlePath, keptCA)
		if err := f.mtlsAuth.ReloadBundle(); err != nil {
			t.Fatal(err)
		}

		// Under -race on a busy machine, allow three seconds beyond the bound.
		const slack = 3 * time.Second
		for _, s := range revoked {
			bound := testRecheck + s.bound
			ended := waitDenied(t, f, probe, s.openedStream, revokedAt.Add(bound+slack))
			if !ended.IsZero() {
				t.Logf("%s: ended %s after the revocation (bound %s)", s.id, ended.Sub(revokedAt).Round(time.Millisecond), bound)
			}
		}
		time.Sleep(3 * testRecheck)
		for _, s := range kept {
			select {
			case end := <-s.done:
				t.Errorf("%s: a stream whose credential was not revoked ended: %v", s.id, end.err)
			default:
			}
		}
	})
}

// TestStreamRecheckBackendUnavailable: a recheck whose backend fails ends
// the stream with UNAVAILABLE AUTH_BACKEND_UNAVAILABLE, as a new call is
// refused: rechecks fail closed.
func TestStreamRecheckBackendUnavailable(t *testing.T) {
	probe := newStreamProbe()
	f := newKindsFixture(t, modeRegister, kindsOptions{
		impl:              probe,
		introspectionOpts: []introspection.Option{introspection.CacheTTL(testIntrospectTTL)},
		enforcerOpts:      []runtime.Option{runtime.WithStreamRecheck(testRecheck)},
	})
	var streams []openedStream
	for _, shape := range []string{bidiIdle, serverTicking} {
		id := "down." + shape
		md := bearerMD(f.in.Issue(id, []string{"s"}, "library", time.Hour, nil))
		streams = append(streams, openedStream{id: id, done: openStream(t, probeCtx(t, md, id, "err"), f.client, shape),
			reason: runtime.ReasonAuthBackendUnavailable, code: codes.Unavailable})
	}
	f.in.FailWith(http.StatusServiceUnavailable)
	failedAt := time.Now()
	for _, s := range streams {
		waitDenied(t, f, probe, s, failedAt.Add(testRecheck+testIntrospectTTL+time.Second))
	}
}

// TestStreamRecheckOff: WithStreamRecheck(0) turns rechecks off: a stream
// outlives the removal of its API key, which a new call sees at once.
func TestStreamRecheckOff(t *testing.T) {
	probe := newStreamProbe()
	key := newTestAPIKey(t)
	store, err := apikey.New([]apikey.Client{{Name: "off", Scopes: []string{"s"}, KeySHA256: []string{apikey.Hash(key)}}})
	if err != nil {
		t.Fatal(err)
	}
	f := newKindsFixture(t, modeRegister, kindsOptions{impl: probe, keys: store, enforcerOpts: []runtime.Option{runtime.WithStreamRecheck(0)}})
	done := openStream(t, probeCtx(t, apiKeyMD(key), "off", "err"), f.client, bidiMoving)
	if err := store.Replace(nil); err != nil {
		t.Fatal(err)
	}
	f.wantDenied(t, callAny, apiKeyMD(key), f.client, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
	select {
	case end := <-done:
		t.Fatalf("the stream ended with rechecks off: %v", end.err)
	case <-time.After(5 * runtime.MinStreamRecheck):
	}
}

// TestStreamRecheckWithoutExpiry: under WithoutStreamExpiry a recheck that
// finds the token expired does not end the stream.
func TestStreamRecheckWithoutExpiry(t *testing.T) {
	probe := newStreamProbe()
	f := newKindsFixture(t, modeRegister, kindsOptions{
		impl:         probe,
		jwtOpts:      []jwtauth.Option{jwtauth.Leeway(0)},
		enforcerOpts: []runtime.Option{runtime.WithoutStreamExpiry(), runtime.WithStreamRecheck(testRecheck)},
	})
	token, exp := expiringToken(f.iss, "outlives")
	done := openStream(t, probeCtx(t, bearerMD(token), "outlives", "err"), f.client, bidiMoving)
	select {
	case end := <-done:
		t.Fatalf("the stream ended: %v", end.err)
	case <-time.After(time.Until(exp) + 5*testRecheck):
	}
}

// TestWithStreamRecheck: the interval is at least MinStreamRecheck, or 0.
func TestWithStreamRecheck(t *testing.T) {
	for _, d := range []time.Duration{0, runtime.MinStreamRecheck, time.Hour} {
		if _, err := runtime.NewEnforcer(runtime.WithStreamRecheck(d)); err != nil {
			t.Errorf("WithStreamRecheck(%s): %v", d, err)
		}
	}
	for d, want := range map[time.Duration]string{
		50 * time.Millisecond: "grpcauth: invalid option: WithStreamRecheck: 50ms is under 100ms (0 turns rechecks off)",
		-time.Second:          "grpcauth: invalid option: WithStreamRecheck: -1s is under 100ms (0 turns rechecks off)",
	} {
		_, err := runtime.NewEnforcer(runtime.WithStreamRecheck(d))
		if err == nil || err.Error() != want || !errors.Is(err, runtime.ErrInvalidOption) {
			t.Errorf("WithStreamRecheck(%s) = %v; want %q", d, err, want)
		}
	}
}
