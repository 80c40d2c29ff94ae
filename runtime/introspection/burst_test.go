// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
)

// A burst of one new opaque token: the concurrent first calls of one
// token make one introspection request, held by the endpoint until every
// call of the burst waits for it.

type outcome struct {
	p   *runtime.Principal
	err error
}

func call(a *introspection.Authenticator, ctx context.Context, token string) <-chan outcome {
	out := make(chan outcome, 1)
	go func() {
		p, err := a.Authenticate(ctx, token)
		out <- outcome{p, err}
	}()
	return out
}

func reasonOf(o outcome) runtime.Reason {
	if e, ok := runtime.FromError(o.err); ok {
		return e.Reason
	}
	return ""
}

// heldUntil answers body once release is closed.
func heldUntil(release <-chan struct{}, status int, body string) answer {
	return func(w http.ResponseWriter, r *http.Request, _ string) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// TestBurstOneRequest: 100 concurrent first calls of one token, the cache
// on, make one request, and all get the principal.
func TestBurstOneRequest(t *testing.T) {
	clock := newClock()
	release := make(chan struct{})
	s := newServer(t, clock, heldUntil(release, http.StatusOK, fmt.Sprintf(`{"active":true,"sub":"alice","exp":%d}`, clock.Unix(time.Hour))))
	a := newAuth(t, s)
	tok := randomToken(t)
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
	// Every call is in: waiting on the one request, or (were requests not
	// shared) on its own.
	waitFor(t, "the 100 calls to be waiting", func() bool { return introspection.Waiters(a, tok)+int(s.requests.Load())-1 == n })
	close(release)
	for range n {
		if o := <-outs; o.err != nil || o.p.Subject != "alice" {
			t.Fatalf("want alice, got %+v, %v", o.p, o.err)
		}
	}
	wantRequests(t, s, 1)
	if st := a.CacheStats(); st.Misses != n || st.Coalesced != n-1 || st.Entries != 1 {
		t.Fatalf("CacheStats %+v; want %d misses, %d coalesced, 1 entry", st, n, n-1)
	}
	mustOK(t, a, tok)
	wantRequests(t, s, 1)
}

// TestBurstWaiterDeadline: a caller whose deadline passes while the
// shared request is held returns context.DeadlineExceeded at its deadline;
// the others get the answer when it comes.
func TestBurstWaiterDeadline(t *testing.T) {
	clock := newClock()
	release := make(chan struct{})
	s := newServer(t, clock, heldUntil(release, http.StatusOK, `{"active":true,"sub":"alice"}`))
	a := newAuth(t, s)
	tok := randomToken(t)
	var others []<-chan outcome
	for range 10 {
		others = append(others, call(a, t.Context(), tok))
	}
	waitFor(t, "10 calls to wait on one request", func() bool { return introspection.Waiters(a, tok) == 10 })
	const deadline = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	began := time.Now()
	p, err := a.Authenticate(ctx, tok)
	took := time.Since(began)
	if p != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want context.DeadlineExceeded, got %+v, %v", p, err)
	}
	if took < deadline || took > deadline+2*time.Second {
		t.Fatalf("the waiter returned after %v; want about %v", took, deadline)
	}
	if w := introspection.Waiters(a, tok); w != 11 {
		t.Fatalf("%d callers joined the request; want 11", w)
	}
	close(release)
	for _, out := range others {
		if o := <-out; o.err != nil || o.p.Subject != "alice" {
			t.Fatalf("want alice, got %+v, %v", o.p, o.err)
		}
	}
	wantRequests(t, s, 1)
}

// TestBurstFailureNotRemembered: the shared request fails; every call of
// the burst gets AUTH_BACKEND_UNAVAILABLE, each its own denial, nothing is
// cached, and the next call asks again, and succeeds once the endpoint is
// back.
func TestBurstFailureNotRemembered(t *testing.T) {
	clock := newClock()
	release := make(chan struct{})
	s := newServer(t, clock, heldUntil(release, http.StatusInternalServerError, `{}`))
	a := newAuth(t, s)
	tok := randomToken(t)
	const n = 50
	var outs []<-chan outcome
	for range n {
		outs = append(outs, call(a, t.Context(), tok))
	}
	waitFor(t, "the burst to wait on one request", func() bool { return introspection.Waiters(a, tok) == n })
	close(release)
	seen := map[error]bool{}
	for _, out := range outs {
		o := <-out
		if reasonOf(o) != runtime.ReasonAuthBackendUnavailable || o.p != nil {
			t.Fatalf("want AUTH_BACKEND_UNAVAILABLE, got %+v, %v", o.p, o.err)
		}
		if seen[o.err] {
			t.Fatal("two calls of the burst got the same *runtime.Error")
		}
		seen[o.err] = true
	}
	wantRequests(t, s, 1)
	if l := introspection.CacheLen(a); l != 0 {
		t.Fatalf("a failure was cached: %d entries", l)
	}
	s.setAnswer(reply(`{"active":true,"sub":"alice"}`)) // the endpoint is back
	if p := mustOK(t, a, tok); p.Subject != "alice" {
		t.Fatalf("got %q", p.Subject)
	}
	wantRequests(t, s, 2)
}

// withPeerCert is a server-side call context whose TLS peer presented cert.
func withPeerCert(cert *x509.Certificate) context.Context {
	info := credentials.TLSInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
	if cert != nil {
		info.State = tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	}
	return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{}, AuthInfo: info})
}

// TestBurstCertificateBinding: the answer for a certificate-bound token is
// shared by the burst, its binding is checked on each call's connection:
// the calls with the certificate are allowed and the others refused, from
// one request.
func TestBurstCertificateBinding(t *testing.T) {
	ca, err := authtest.NewCA("cnf CA")
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := ca.Leaf(authtest.LeafOptions{CommonName: "mine", Client: true})
	other, _ := ca.Leaf(authtest.LeafOptions{CommonName: "other", Client: true})
	clock := newClock()
	release := make(chan struct{})
	s := newServer(t, clock, heldUntil(release, http.StatusOK,
		fmt.Sprintf(`{"active":true,"sub":"alice","cnf":{"x5t#S256":%q}}`, runtime.CertificateThumbprint(mine.Leaf))))
	a := newAuth(t, s)
	tok := randomToken(t)
	conns := []struct {
		ctx context.Context
		ok  bool
	}{{withPeerCert(other.Leaf), false}, {withPeerCert(mine.Leaf), true}, {withPeerCert(nil), false}, {context.Background(), false}}
	type waiter struct {
		ok  bool
		out <-chan outcome
	}
	var ws []waiter
	for i := range 40 {
		c := conns[i%len(conns)]
		ws = append(ws, waiter{c.ok, call(a, c.ctx, tok)})
	}
	waitFor(t, "40 calls to wait on one request", func() bool { return introspection.Waiters(a, tok) == 40 })
	close(release)
	for _, w := range ws {
		o := <-w.out
		switch {
		case w.ok && (o.err != nil || o.p == nil || o.p.Subject != "alice"):
			t.Errorf("a call with the certificate: want alice, got %+v, %v", o.p, o.err)
		case !w.ok && (o.p != nil || reasonOf(o) != runtime.ReasonCredentialsInvalid):
			t.Errorf("a call without the certificate: want CREDENTIALS_INVALID, got %+v, %v", o.p, o.err)
		}
	}
	wantRequests(t, s, 1)
}

// TestBurstJunkLeavesNothing: a flood of distinct tokens, all in flight at
// once, leaves no flight, no retained map of many flights and no goroutine
// once their requests have ended.
func TestBurstJunkLeavesNothing(t *testing.T) {
	noGoroutineLeft(t) // registered first, so it runs last: after the server's Close
	clock := newClock()
	release := make(chan struct{})
	s := newServer(t, clock, heldUntil(release, http.StatusOK, `{"active":false}`))
	a := newAuth(t, s)
	const n = 50
	var outs []<-chan outcome
	for range n {
		outs = append(outs, call(a, t.Context(), randomToken(t)))
	}
	waitFor(t, "the junk to be in flight at once", func() bool { running, _ := introspection.Flights(a); return running == n })
	close(release)
	for _, out := range outs {
		if o := <-out; reasonOf(o) != runtime.ReasonTokenRevoked {
			t.Fatalf("want TOKEN_REVOKED, got %+v, %v", o.p, o.err)
		}
	}
	waitFor(t, "the flights to land", func() bool { running, _ := introspection.Flights(a); return running == 0 })
	if _, peak := introspection.Flights(a); peak > 8 {
		t.Fatalf("a map that held %d flights is kept", peak)
	}
	if l := introspection.CacheLen(a); l != 0 {
		t.Fatalf("the flood left %d cache entries", l)
	}
	wantRequests(t, s, n)
}
