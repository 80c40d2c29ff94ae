// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// The singleflight of a burst of one new token (flight.go): n concurrent
// first calls with one token the cache does not hold verify it once. The
// first JWKS fetch is held by the client's transport until every call of
// the burst is waiting, so that they really overlap.

// gate holds the requests that go through it until release is closed.
type gate struct {
	next    http.RoundTripper
	arrived atomic.Int32 // requests that reached the gate
	release chan struct{}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	g.arrived.Add(1)
	select {
	case <-g.release:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return g.next.RoundTrip(r)
}

// gatedAuth is an authenticator of iss whose JWKS requests wait at the
// gate it returns. A fetch may start again at once after one failed.
func gatedAuth(t *testing.T, iss *authtest.Issuer, opts ...any) (*jwtauth.Authenticator, *gate) {
	t.Helper()
	g := &gate{next: iss.HTTPClient().Transport, release: make(chan struct{})}
	return newAuth(t, iss, append([]any{jwtauth.HTTPClient(&http.Client{Transport: g}), jwtauth.MinRefreshInterval(0)}, opts...)...), g
}

// eventually polls cond until it holds, and fails the test after a long
// while.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type outcome struct {
	p   *runtime.Principal
	err error
}

// call starts a.Authenticate(ctx, token) and returns where its outcome
// will be.
func call(a *jwtauth.Authenticator, ctx context.Context, token string) <-chan outcome {
	out := make(chan outcome, 1)
	go func() {
		p, err := a.Authenticate(ctx, token)
		out <- outcome{p, err}
	}()
	return out
}

// wantVerifications checks how many times a has verified a token.
func wantVerifications(t *testing.T, a *jwtauth.Authenticator, want uint64) {
	t.Helper()
	if got := jwtauth.Verifications(a); got != want {
		t.Fatalf("want %d verifications, got %d", want, got)
	}
}

// wantNoFlights checks that no flight is left once the calls returned.
func wantNoFlights(t *testing.T, a *jwtauth.Authenticator) {
	t.Helper()
	if n, _ := jwtauth.Flights(a); n != 0 {
		t.Fatalf("%d flights left after their calls returned", n)
	}
}

// outcomeReason is the denial reason of o, or "" when o is a success.
func outcomeReason(o outcome) runtime.Reason {
	if e, ok := runtime.FromError(o.err); ok {
		return e.Reason
	}
	return ""
}

// TestBurstVerifiesOnce: 100 concurrent first calls of one token, released
// together, make one verification and one JWKS fetch, and all 100 get the
// token's principal.
func TestBurstVerifiesOnce(t *testing.T) {
	iss := newIssuer(t)
	a, g := gatedAuth(t, iss)
	tok := iss.Mint(authtest.Subject("alice"))
	const n = 100
	start := make(chan struct{})
	outs := make(chan outcome, n)
	for range n {
		go func() {
			<-start
			p, err := a.Authenticate(t.Context(), tok)
			outs <- outcome{p, err}
		}()
	}
	close(start)
	// Every call is in: it either verifies (and waits for the keys) or
	// waits for another's verification.
	eventually(t, "the 100 calls to be waiting", func() bool {
		st := a.CacheStats()
		return st.Misses == n && st.Coalesced+jwtauth.Verifications(a) == n && g.arrived.Load() == 1
	})
	close(g.release)
	for range n {
		o := <-outs
		if o.err != nil || o.p == nil || o.p.Subject != "alice" {
			t.Fatalf("want alice's principal, got %+v, %v", o.p, o.err)
		}
	}
	wantVerifications(t, a, 1)
	wantFetches(t, iss, a, 1)
	if st := a.CacheStats(); st.Misses != n || st.Coalesced != n-1 || st.Entries != 1 || st.Hits != 0 {
		t.Fatalf("CacheStats %+v; want %d misses, %d coalesced, 1 entry", st, n, n-1)
	}
	wantNoFlights(t, a)
	mustAccept(t, a, tok) // from the cache
	wantVerifications(t, a, 1)
}

// TestBurstWaiterDeadline: a waiter whose deadline passes while the
// verification it waits for is held returns its own context's error, at
// its deadline; the verification goes on, and the others get the answer.
func TestBurstWaiterDeadline(t *testing.T) {
	iss := newIssuer(t)
	a, g := gatedAuth(t, iss)
	tok := iss.Mint(authtest.Subject("alice"))
	first := call(a, t.Context(), tok)
	eventually(t, "the first call to wait for the keys", func() bool { return g.arrived.Load() == 1 })
	var others []<-chan outcome
	for range 10 {
		others = append(others, call(a, t.Context(), tok))
	}
	eventually(t, "10 calls to wait for the first one's", func() bool { return a.CacheStats().Coalesced == 10 })

	const deadline = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	began := time.Now()
	p, err := a.Authenticate(ctx, tok)
	took := time.Since(began)
	if p != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want context.DeadlineExceeded, got %+v, %v", p, err)
	}
	if a.CacheStats().Coalesced != 11 {
		t.Fatal("the call with a deadline did not wait for the flight")
	}
	// Returned at its deadline, while the verification is still held: a
	// bound for a loaded machine, far below the 30 s the gate would hold.
	if took < deadline || took > deadline+2*time.Second {
		t.Fatalf("the waiter returned after %v; want about %v", took, deadline)
	}
	select {
	case o := <-first:
		t.Fatalf("the first call returned before the keys came: %+v, %v", o.p, o.err)
	default:
	}
	close(g.release)
	for _, out := range append(others, first) {
		if o := <-out; o.err != nil || o.p.Subject != "alice" {
			t.Fatalf("want alice's principal, got %+v, %v", o.p, o.err)
		}
	}
	wantVerifications(t, a, 1)
	wantNoFlights(t, a)
}

// TestBurstLeaderCancelled: the call whose verification the others wait
// for is cancelled while it waits for the keys. It returns
// context.Canceled at once; the others do not get its error: one of them
// verifies instead, with the same key fetch, and all get the principal.
func TestBurstLeaderCancelled(t *testing.T) {
	iss := newIssuer(t)
	a, g := gatedAuth(t, iss)
	tok := iss.Mint(authtest.Subject("alice"))
	ctx, cancel := context.WithCancel(t.Context())
	leader := call(a, ctx, tok)
	eventually(t, "the first call to wait for the keys", func() bool { return g.arrived.Load() == 1 })
	const n = 20
	var waiters []<-chan outcome
	for range n {
		waiters = append(waiters, call(a, t.Context(), tok))
	}
	eventually(t, "20 calls to wait for the first one's", func() bool { return a.CacheStats().Coalesced == n })
	cancel()
	if o := <-leader; !errors.Is(o.err, context.Canceled) || o.p != nil {
		t.Fatalf("the cancelled call: want context.Canceled, got %+v, %v", o.p, o.err)
	}
	// One waiter has taken over: it waits for the same fetch, still held.
	eventually(t, "a waiter to take the verification over", func() bool {
		n, _ := jwtauth.Flights(a)
		return n == 1 && jwtauth.Verifications(a) == 2
	})
	close(g.release)
	for _, out := range waiters {
		if o := <-out; o.err != nil || o.p == nil || o.p.Subject != "alice" {
			t.Fatalf("a waiter of the cancelled call: want alice's principal, got %+v, %v", o.p, o.err)
		}
	}
	wantVerifications(t, a, 2) // the cancelled one, and the one that took over
	wantFetches(t, iss, a, 1)
	wantNoFlights(t, a)
}

// TestBurstFailureNotRemembered: a burst whose verification fails gives
// every call of the burst that failure, each its own *runtime.Error, and
// nothing is remembered: the next call verifies again.
func TestBurstFailureNotRemembered(t *testing.T) {
	burst := func(t *testing.T, a *jwtauth.Authenticator, g *gate, tok string, n int) []outcome {
		t.Helper()
		first := call(a, t.Context(), tok)
		eventually(t, "the first call to wait for the keys", func() bool { return g.arrived.Load() == 1 })
		outs := []<-chan outcome{first}
		for range n - 1 {
			outs = append(outs, call(a, t.Context(), tok))
		}
		eventually(t, "the burst to wait for the first call's verification", func() bool { return a.CacheStats().Coalesced == uint64(n-1) })
		close(g.release)
		var got []outcome
		for _, out := range outs {
			got = append(got, <-out)
		}
		wantNoFlights(t, a)
		if l := jwtauth.CacheLen(a); l != 0 {
			t.Fatalf("a failure was cached: %d entries", l)
		}
		return got
	}
	distinct := func(t *testing.T, outs []outcome, want runtime.Reason) {
		t.Helper()
		seen := map[error]bool{}
		for _, o := range outs {
			if r := outcomeReason(o); r != want || o.p != nil {
				t.Fatalf("want %s, got %+v, %v", want, o.p, o.err)
			}
			if seen[o.err] {
				t.Fatal("two calls of the burst got the same *runtime.Error")
			}
			seen[o.err] = true
		}
	}
	t.Run("backend unavailable", func(t *testing.T) {
		iss := newIssuer(t)
		iss.FailJWKS(http.StatusInternalServerError)
		a, g := gatedAuth(t, iss)
		tok := iss.Mint(authtest.Subject("alice"))
		distinct(t, burst(t, a, g, tok, 100), runtime.ReasonAuthBackendUnavailable)
		wantVerifications(t, a, 1)
		wantFetches(t, iss, a, 1)

		iss.FailJWKS(0) // the endpoint is back
		if p := mustAccept(t, a, tok); p.Subject != "alice" {
			t.Fatalf("got %q", p.Subject)
		}
		wantVerifications(t, a, 2)
		wantFetches(t, iss, a, 2)
	})
	t.Run("bad signature", func(t *testing.T) {
		iss := newIssuer(t)
		a, g := gatedAuth(t, iss)
		good := iss.Mint(authtest.Subject("alice"))
		other := iss.Mint(authtest.Subject("mallory"))
		// alice's header and claims under mallory's signature: well formed,
		// not signed.
		forged := good[:strings.LastIndexByte(good, '.')] + other[strings.LastIndexByte(other, '.'):]
		distinct(t, burst(t, a, g, forged, 100), runtime.ReasonTokenInvalidSignature)
		wantVerifications(t, a, 1)
		mustDeny(t, a, forged, runtime.ReasonTokenInvalidSignature)
		wantVerifications(t, a, 2)
	})
}

// TestBurstCertificateBinding: a token bound to a client certificate is
// verified once for a burst, and the binding is checked on each call's own
// connection: the calls with the certificate are allowed and the others
// refused in the same burst, whichever connection the first call came on.
func TestBurstCertificateBinding(t *testing.T) {
	ca, err := authtest.NewCA("cnf CA")
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := ca.Leaf(authtest.LeafOptions{CommonName: "mine", Client: true})
	other, _ := ca.Leaf(authtest.LeafOptions{CommonName: "other", Client: true})
	conns := []struct {
		name string
		ctx  context.Context
		ok   bool
	}{
		{"with the certificate", withPeerCert(mine.Leaf), true},
		{"with another certificate", withPeerCert(other.Leaf), false},
		{"without a certificate", withPeerCert(nil), false},
		{"without TLS", context.Background(), false},
	}
	for _, first := range conns[:2] {
		t.Run("first call "+first.name, func(t *testing.T) {
			iss := newIssuer(t)
			a, g := gatedAuth(t, iss)
			tok := iss.Mint(authtest.Subject("alice"), authtest.Claim("cnf", map[string]any{"x5t#S256": thumbprint(mine.Leaf)}))
			leader := call(a, first.ctx, tok)
			eventually(t, "the first call to wait for the keys", func() bool { return g.arrived.Load() == 1 })
			type waiter struct {
				ok  bool
				out <-chan outcome
			}
			var ws []waiter
			for i := range 40 {
				c := conns[i%len(conns)]
				ws = append(ws, waiter{c.ok, call(a, c.ctx, tok)})
			}
			eventually(t, "40 calls to wait for the first one's", func() bool { return a.CacheStats().Coalesced == 40 })
			close(g.release)
			for _, w := range append(ws, waiter{first.ok, leader}) {
				o := <-w.out
				switch {
				case w.ok && (o.err != nil || o.p == nil || o.p.Subject != "alice"):
					t.Errorf("a call with the certificate: want alice, got %+v, %v", o.p, o.err)
				case !w.ok && (o.p != nil || outcomeReason(o) != runtime.ReasonCredentialsInvalid):
					t.Errorf("a call without the certificate: want CREDENTIALS_INVALID, got %+v, %v", o.p, o.err)
				}
			}
			wantVerifications(t, a, 1)
			wantNoFlights(t, a)
			// Verified once, cached once; the binding is still the call's.
			if _, err := a.Authenticate(withPeerCert(other.Leaf), tok); reasonOf(t, err) != runtime.ReasonCredentialsInvalid {
				t.Fatalf("another certificate after the burst: %v", err)
			}
			if _, err := a.Authenticate(withPeerCert(mine.Leaf), tok); err != nil {
				t.Fatalf("the certificate after the burst: %v", err)
			}
			wantVerifications(t, a, 1)
		})
	}
}

// TestBurstJunkLeavesNothing: a flood of distinct bad tokens, all in
// flight at once, leaves no flight, no cache entry, no retained map of
// many flights and no goroutine once its calls have returned.
func TestBurstJunkLeavesNothing(t *testing.T) {
	before := goruntime.NumGoroutine()
	// Registered first, so it runs last: after the issuer's Close.
	t.Cleanup(func() {
		deadline := time.Now().Add(30 * time.Second)
		for goruntime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines before, %d after:\n%s", before, goruntime.NumGoroutine(), buf[:goruntime.Stack(buf, true)])
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	iss := newIssuer(t)
	a, g := gatedAuth(t, iss)
	good := iss.Mint()
	dot := strings.IndexByte(good, '.')
	last := strings.LastIndexByte(good, '.')
	payload, err := base64.RawURLEncoding.DecodeString(good[dot+1 : last])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	outs := make([]<-chan outcome, n)
	for i := range n {
		// Each its own claims under the one signature: distinct, well
		// formed, all of them waiting for the keys.
		claims["jti"] = strconv.Itoa(i)
		b, _ := json.Marshal(claims)
		outs[i] = call(a, t.Context(), good[:dot+1]+base64.RawURLEncoding.EncodeToString(b)+good[last:])
	}
	eventually(t, "the junk to be in flight at once", func() bool { n2, _ := jwtauth.Flights(a); return n2 == n })
	close(g.release)
	for _, out := range outs {
		if o := <-out; outcomeReason(o) != runtime.ReasonTokenInvalidSignature {
			t.Fatalf("want TOKEN_INVALID_SIGNATURE, got %+v, %v", o.p, o.err)
		}
	}
	inFlight, peak := jwtauth.Flights(a)
	if inFlight != 0 || peak > 8 {
		t.Fatalf("after the flood: %d flights, a map that held %d kept; want none, and only small maps", inFlight, peak)
	}
	if l := jwtauth.CacheLen(a); l != 0 {
		t.Fatalf("the flood left %d cache entries", l)
	}
	if st := a.CacheStats(); st.Coalesced != 0 || st.Misses != n {
		t.Fatalf("CacheStats %+v; want %d misses, none coalesced", st, n)
	}
	wantVerifications(t, a, n)
}

// TestBurstCacheOff: with the cache off, every call verifies its own
// token, a burst's too.
func TestBurstCacheOff(t *testing.T) {
	iss := newIssuer(t)
	a, g := gatedAuth(t, iss, jwtauth.CacheSize(0))
	tok := iss.Mint()
	var outs []<-chan outcome
	for range 10 {
		outs = append(outs, call(a, t.Context(), tok))
	}
	eventually(t, "10 verifications to wait for the keys", func() bool { return jwtauth.Verifications(a) == 10 })
	close(g.release)
	for _, out := range outs {
		if o := <-out; o.err != nil {
			t.Fatal(o.err)
		}
	}
	wantFetches(t, iss, a, 1)
}
