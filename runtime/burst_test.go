// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"crypto/tls"
	"net/http"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// heldJWKS holds the JWKS requests that go through it until release is
// closed.
type heldJWKS struct {
	next    http.RoundTripper
	arrived atomic.Int32
	release chan struct{}
}

func (h *heldJWKS) RoundTrip(r *http.Request) (*http.Response, error) {
	h.arrived.Add(1)
	select {
	case <-h.release:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return h.next.RoundTrip(r)
}

// TestBurstOfOneNewToken: 100 concurrent first calls with one new token,
// over real gRPC (bufconn, TLS, the generated
// RegisterLibraryServiceServerWithAuth), verify it once: the first JWKS
// fetch is held until every call is in, and then all 100 reach the handler
// as the token's subject, from 100 misses of which 99 waited for the
// first one's verification. A certificate-bound token in one burst over
// three connections: the calls over the connection of its certificate are
// allowed, the others refused, from one verification.
func TestBurstOfOneNewToken(t *testing.T) {
	ca, err := authtest.NewCA("burst CA")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	serverTLS.ClientAuth, serverTLS.ClientCAs = tls.VerifyClientCertIfGiven, ca.Pool()
	mine, _ := ca.Leaf(authtest.LeafOptions{CommonName: "mine", Client: true})
	other, _ := ca.Leaf(authtest.LeafOptions{CommonName: "other", Client: true})
	clientTLS := func(cert *tls.Certificate) credentials.TransportCredentials {
		c := withServerName(ca.ClientTLS())
		if cert != nil {
			c.Certificates = []tls.Certificate{*cert}
		}
		return credentials.NewTLS(c)
	}
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))

	// start serves LibraryService with an authenticator whose first JWKS
	// fetch waits at the returned gate.
	start := func(t *testing.T) (*jwtauth.Authenticator, *heldJWKS, *recorder, *bufconn.Listener) {
		held := &heldJWKS{next: iss.HTTPClient().Transport, release: make(chan struct{})}
		a, err := jwtauth.New(
			jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(iss.JWKSURL())),
			jwtauth.HTTPClient(&http.Client{Transport: held}))
		if err != nil {
			t.Fatal(err)
		}
		enf, err := runtime.NewEnforcer(runtime.WithJWT(a), runtime.WithLogger(nil))
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		lis := serve(t, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServerWithAuth(s, rec, enf) }, grpc.Creds(credentials.NewTLS(serverTLS)))
		return a, held, rec, lis
	}
	req := &libraryv1.GetBookRequest{Name: "shelves/a/books/1"}
	// burst makes the calls, one per client, at once, and returns their
	// errors once the verification they wait for is let through.
	burst := func(t *testing.T, a *jwtauth.Authenticator, held *heldJWKS, token string, clients []libraryv1.LibraryServiceClient) []error {
		t.Helper()
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
		go1 := make(chan struct{})
		errs := make([]chan error, len(clients))
		for i, c := range clients {
			errs[i] = make(chan error, 1)
			go func() {
				<-go1
				_, err := c.GetBook(ctx, req)
				errs[i] <- err
			}()
		}
		close(go1)
		waitFor(t, "every call to be in", func() bool {
			return a.CacheStats().Misses == uint64(len(clients)) && held.arrived.Load() == 1
		})
		close(held.release)
		out := make([]error, len(clients))
		for i := range errs {
			out[i] = <-errs[i]
		}
		return out
	}

	t.Run("100 calls, one verification", func(t *testing.T) {
		a, held, rec, lis := start(t)
		c := libraryv1.NewLibraryServiceClient(dial(t, lis, clientTLS(nil)))
		clients := make([]libraryv1.LibraryServiceClient, 100)
		for i := range clients {
			clients[i] = c
		}
		for _, err := range burst(t, a, held, iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read")), clients) {
			if err != nil {
				t.Fatalf("a call of the burst: %v", err)
			}
		}
		if n := rec.calls.Load(); n != 100 {
			t.Fatalf("the handler ran %d times; want 100", n)
		}
		rec.mu.Lock()
		for _, sub := range rec.subjects {
			if sub != "alice" {
				t.Errorf("the handler saw subject %q", sub)
			}
		}
		rec.mu.Unlock()
		st := a.CacheStats()
		if st.Misses != 100 || st.Coalesced != 99 || st.Entries != 1 {
			t.Fatalf("CacheStats %+v; want 100 misses, 99 coalesced (one verification), 1 entry", st)
		}
		if n := a.Fetches(); n != 1 {
			t.Fatalf("%d JWKS fetches; want 1", n)
		}
	})

	t.Run("a bound token over three connections", func(t *testing.T) {
		a, held, rec, lis := start(t)
		conns := []struct {
			c  libraryv1.LibraryServiceClient
			ok bool
		}{
			{libraryv1.NewLibraryServiceClient(dial(t, lis, clientTLS(&mine))), true},
			{libraryv1.NewLibraryServiceClient(dial(t, lis, clientTLS(&other))), false},
			{libraryv1.NewLibraryServiceClient(dial(t, lis, clientTLS(nil))), false},
		}
		var clients []libraryv1.LibraryServiceClient
		for i := range 60 {
			clients = append(clients, conns[i%3].c)
		}
		tok := iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"),
			authtest.Claim("cnf", map[string]any{"x5t#S256": runtime.CertificateThumbprint(mine.Leaf)}))
		for i, err := range burst(t, a, held, tok, clients) {
			if conns[i%3].ok {
				if err != nil {
					t.Errorf("a call over the certificate's connection: %v", err)
				}
				continue
			}
			if e, ok := runtime.FromError(err); !ok || status.Code(err) != codes.Unauthenticated || e.Reason != runtime.ReasonCredentialsInvalid {
				t.Errorf("a call over another connection: got %v; want UNAUTHENTICATED CREDENTIALS_INVALID", err)
			}
		}
		if n := rec.calls.Load(); n != 20 {
			t.Fatalf("the handler ran %d times; want 20", n)
		}
		if st := a.CacheStats(); st.Misses != 60 || st.Coalesced != 59 {
			t.Fatalf("CacheStats %+v; want 60 misses, 59 coalesced (one verification)", st)
		}
	})
}
