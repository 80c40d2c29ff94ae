// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// tokenSource mints a token per call with mint and counts the calls.
type tokenSource struct {
	mint  func() *oauth2.Token
	calls atomic.Int32
}

func (s *tokenSource) Token() (*oauth2.Token, error) {
	s.calls.Add(1)
	return s.mint(), nil
}

// fakeClock is a settable time source.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// issuerSource mints valid tokens with scopes that the client believes
// live for ttl on clock.
func issuerSource(iss *authtest.Issuer, clock *fakeClock, ttl time.Duration, scopes ...string) *tokenSource {
	return &tokenSource{mint: func() *oauth2.Token {
		return &oauth2.Token{AccessToken: iss.Mint(authtest.Subject("client"), authtest.Scopes(scopes...)), Expiry: clock.Now().Add(ttl)}
	}}
}

func TestClientPreflight(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	c := libraryv1.NewLibraryServiceAuthClient(f.conn, &runtime.ClientCredentials{APIKey: "k"})
	_, err := c.GetBook(context.Background(), &libraryv1.GetBookRequest{})
	e, ok := runtime.FromError(err)
	if !ok || e.Reason != runtime.ReasonCredentialsMissing || !e.Local || e.Code != codes.Unauthenticated {
		t.Fatalf("err = %v; want a local CREDENTIALS_MISSING", err)
	}
	if got := e.Metadata["accepted_kinds"]; got != "BEARER_JWT,OAUTH2_TOKEN,MTLS" {
		t.Errorf("accepted_kinds = %q; want BEARER_JWT,OAUTH2_TOKEN,MTLS", got)
	}
	var re *runtime.Error
	if !errors.As(err, &re) {
		t.Error("errors.As(*runtime.Error) fails on a preflight error")
	}
	// Streams too, before anything is sent.
	if _, err := c.ImportBooks(context.Background()); !isReason(err, runtime.ReasonCredentialsMissing) {
		t.Errorf("ImportBooks: %v; want CREDENTIALS_MISSING", err)
	}
	// Public methods need nothing, even with nil credentials.
	if _, err := libraryv1.NewLibraryServiceAuthClient(f.conn, nil).ListPublicShelves(context.Background(), &libraryv1.ListPublicShelvesRequest{}); err != nil {
		t.Errorf("public call with nil credentials: %v", err)
	}
	if ds := f.decisions.all(); len(ds) != 1 || ds[0].FullMethod != libraryv1.LibraryService_ListPublicShelves_FullMethodName {
		t.Errorf("server saw %+v; want only the public call", ds)
	}
}

func isReason(err error, r runtime.Reason) bool {
	e, ok := runtime.FromError(err)
	return ok && e.Reason == r
}

// TestClientAttachesPerMethod: each method gets a credential of a kind it
// accepts, in rule order; public methods get none.
func TestClientAttachesPerMethod(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	src := issuerSource(f.iss, clock, time.Hour, "library.read", "library.export", "library.write")
	c := libraryv1.NewLibraryServiceAuthClient(f.conn, &runtime.ClientCredentials{TokenSource: src, Clock: clock.Now})
	for _, k := range rpcKinds {
		if err := callWithClient(k, c); err != nil {
			t.Errorf("%s: %v", k.name, err)
		}
	}
	if _, err := c.ListPublicShelves(context.Background(), &libraryv1.ListPublicShelvesRequest{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range f.decisions.all() {
		want := runtime.BearerJWT
		if d.FullMethod == libraryv1.LibraryService_ListPublicShelves_FullMethodName {
			want = runtime.NoCredential
		}
		if d.Outcome != runtime.OutcomeAllow || d.Kind != want {
			t.Errorf("%s: allowed=%v kind=%s; want allowed with %s", d.FullMethod, (d.Outcome == runtime.OutcomeAllow), d.Kind, want)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("token fetched %d times for 4 calls; want 1 (cached)", n)
	}
}

// callWithClient runs one kind of call through a given client.
func callWithClient(k rpcKind, c libraryv1.LibraryServiceClient) error {
	return k.call(context.Background(), c)
}

// TestClientRefresh: 100 concurrent callers cause one fetch; a token is
// refreshed RefreshMargin before it expires, once.
func TestClientRefresh(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	src := issuerSource(f.iss, clock, 5*time.Second, "library.read")
	c := libraryv1.NewLibraryServiceAuthClient(f.conn, &runtime.ClientCredentials{TokenSource: src, Clock: clock.Now, RefreshMargin: 2 * time.Second})
	burst := func() {
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.GetBook(context.Background(), &libraryv1.GetBookRequest{}); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	burst()
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("100 concurrent callers fetched %d tokens; want 1", n)
	}
	clock.Add(2 * time.Second) // 3s left: still outside the 2s margin
	burst()
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("fetched %d tokens before the margin; want 1", n)
	}
	clock.Add(1500 * time.Millisecond) // 1.5s left: inside the margin
	burst()
	// The refresh runs in the background while the old token, still
	// valid, serves the burst: wait for it, and for no second one.
	deadline := time.Now().Add(5 * time.Second)
	for src.calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	burst()
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("fetched %d tokens after entering the refresh margin; want 2", n)
	}
}

// reuseSource behaves like oauth2.ReuseTokenSource: it hands back its
// token until 10s before expiry.
type reuseSource struct {
	clock *fakeClock
	mint  func() *oauth2.Token
	mu    sync.Mutex
	tok   *oauth2.Token
	calls atomic.Int32
}

func (s *reuseSource) Token() (*oauth2.Token, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == nil || !s.clock.Now().Add(10*time.Second).Before(s.tok.Expiry) {
		s.tok = s.mint()
	}
	return s.tok, nil
}

// TestClientWithReuseTokenSource: a source that keeps its token until 10s
// before expiry (as golang.org/x/oauth2's do) inside a 30s margin: calls
// keep working with the token it gives, which is asked for again at most
// once a second, and a new one is used once the source renews it.
func TestClientWithReuseTokenSource(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	var minted atomic.Int32
	src := &reuseSource{clock: clock, mint: func() *oauth2.Token {
		sub := fmt.Sprintf("token-%d", minted.Add(1))
		return &oauth2.Token{AccessToken: f.iss.Mint(authtest.Subject(sub), authtest.Scopes("library.read")), Expiry: clock.Now().Add(time.Minute)}
	}}
	c := libraryv1.NewLibraryServiceAuthClient(f.conn, &runtime.ClientCredentials{TokenSource: src, Clock: clock.Now, RefreshMargin: 30 * time.Second})
	call := func(wantSubject string) {
		t.Helper()
		if _, err := c.GetBook(context.Background(), &libraryv1.GetBookRequest{}); err != nil {
			t.Fatalf("%v", err)
		}
		if got := f.impl.lastSubject(); got != wantSubject {
			t.Fatalf("server saw %q; want %q", got, wantSubject)
		}
	}
	waitCalls := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for src.calls.Load() < n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := src.calls.Load(); got != n {
			t.Fatalf("source asked %d times; want %d", got, n)
		}
	}
	call("token-1")
	clock.Add(35 * time.Second) // 25s left: inside the margin, the source still has token-1
	for i := 0; i < 20; i++ {
		call("token-1")
	}
	waitCalls(2) // asked once, got token-1 back, keeps using it
	for i := 0; i < 20; i++ {
		call("token-1")
	}
	waitCalls(2)                // not asked again within the second
	clock.Add(16 * time.Second) // 9s left: the source renews
	call("token-1")
	waitCalls(3)
	// The renewed token is stored when the background fetch returns.
	deadline := time.Now().Add(5 * time.Second)
	for f.impl.lastSubject() != "token-2" && time.Now().Before(deadline) {
		if _, err := c.GetBook(context.Background(), &libraryv1.GetBookRequest{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	call("token-2")
	clock.Add(10 * time.Second) // token-1 has expired; token-2 is fresh
	call("token-2")
}

// TestClientRetriesOnceOnTokenExpired: a token the server calls expired is
// replaced and the call retried exactly once; never a loop.
func TestClientRetriesOnceOnTokenExpired(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	clock := &fakeClock{t: time.Now()}
	var expiredFirst atomic.Bool
	expiredFirst.Store(true)
	// The client believes every token lives an hour; the server sees the
	// first one as expired (clock skew, revoked-by-rotation, …).
	src := &tokenSource{mint: func() *oauth2.Token {
		ttl := time.Hour
		if expiredFirst.Swap(false) {
			ttl = -time.Hour
		}
		return &oauth2.Token{AccessToken: f.iss.Mint(authtest.Scopes("library.read"), authtest.ExpiresIn(ttl)), Expiry: clock.Now().Add(time.Hour)}
	}}
	c := libraryv1.NewLibraryServiceAuthClient(f.conn, &runtime.ClientCredentials{TokenSource: src, Clock: clock.Now})
	if _, err := c.GetBook(context.Background(), &libraryv1.GetBookRequest{}); err != nil {
		t.Fatalf("call with one expired token: %v; want success after one retry", err)
	}
	if n, d := src.calls.Load(), len(f.decisions.all()); n != 2 || d != 2 {
		t.Fatalf("fetches=%d decisions=%d; want 2 and 2", n, d)
	}

	// A source that only ever yields expired tokens: two attempts, then the error.
	always := &tokenSource{mint: func() *oauth2.Token {
		return &oauth2.Token{AccessToken: f.iss.Mint(authtest.Scopes("library.read"), authtest.ExpiresIn(-time.Hour)), Expiry: clock.Now().Add(time.Hour)}
	}}
	c = libraryv1.NewLibraryServiceAuthClient(f.conn, &runtime.ClientCredentials{TokenSource: always, Clock: clock.Now})
	before := len(f.decisions.all())
	_, err := c.GetBook(context.Background(), &libraryv1.GetBookRequest{})
	if !isReason(err, runtime.ReasonTokenExpired) {
		t.Fatalf("err = %v; want TOKEN_EXPIRED", err)
	}
	if n := len(f.decisions.all()) - before; n != 2 {
		t.Errorf("server saw %d attempts; want exactly 2", n)
	}
	// Other denials are not retried.
	c = libraryv1.NewLibraryServiceAuthClient(f.conn, &runtime.ClientCredentials{TokenSource: issuerSource(f.iss, clock, time.Hour, "none")})
	before = len(f.decisions.all())
	if _, err := c.GetBook(context.Background(), &libraryv1.GetBookRequest{}); !isReason(err, runtime.ReasonScopeInsufficient) {
		t.Fatalf("err = %v; want SCOPE_INSUFFICIENT", err)
	}
	if n := len(f.decisions.all()) - before; n != 1 {
		t.Errorf("a SCOPE_INSUFFICIENT call was tried %d times; want 1", n)
	}
}

// TestClientRefusesPlaintext: bearer tokens and API keys are not sent over
// plaintext unless allowed; the refusal is typed and nothing reaches the server.
func TestClientRefusesPlaintext(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	plainConn := dial(t, serve(t, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServerWithAuth(s, f.impl, f.enf) }), insecure.NewCredentials())
	src := issuerSource(f.iss, &fakeClock{t: time.Now()}, time.Hour, "library.read")
	c := libraryv1.NewLibraryServiceAuthClient(plainConn, &runtime.ClientCredentials{TokenSource: src})
	_, err := c.GetBook(context.Background(), &libraryv1.GetBookRequest{})
	e, ok := runtime.FromError(err)
	if !ok || e.Reason != runtime.ReasonTransportInsecure || e.Code != codes.Unauthenticated {
		t.Fatalf("err = %v; want TRANSPORT_INSECURE", err)
	}
	if n := src.calls.Load(); n != 0 {
		t.Errorf("a token was fetched (%d) for a call that cannot send it", n)
	}
	if n := len(f.decisions.all()); n != 0 {
		t.Errorf("the server saw %d calls; want 0", n)
	}
	// API keys likewise.
	c = libraryv1.NewLibraryServiceAuthClient(plainConn, &runtime.ClientCredentials{APIKey: "secret"})
	s, err := c.ExportShelf(context.Background(), &libraryv1.ExportShelfRequest{})
	if err == nil {
		_, err = s.Recv()
	}
	if !isReason(err, runtime.ReasonTransportInsecure) {
		t.Fatalf("API key over plaintext: %v; want TRANSPORT_INSECURE", err)
	}
	// Allowed explicitly: the token goes out, and this server refuses it.
	c = libraryv1.NewLibraryServiceAuthClient(plainConn, &runtime.ClientCredentials{TokenSource: src, AllowPlaintext: true})
	_, err = c.GetBook(context.Background(), &libraryv1.GetBookRequest{})
	if e, _ := runtime.FromError(err); e == nil || e.Reason != runtime.ReasonTransportInsecure || e.Local {
		t.Fatalf("err = %v; want the server's TRANSPORT_INSECURE", err)
	}
}

// TestErrorRoundTrip: every reason crosses the wire with its code and
// metadata and comes back as a typed error.
func TestErrorRoundTrip(t *testing.T) {
	reasons := []runtime.Reason{
		runtime.ReasonCredentialsMissing, runtime.ReasonCredentialsMalformed, runtime.ReasonCredentialsInvalid,
		runtime.ReasonTokenExpired, runtime.ReasonTokenNotYetValid, runtime.ReasonTokenInvalidSignature,
		runtime.ReasonTokenRevoked, runtime.ReasonIssuerUntrusted, runtime.ReasonAudienceMismatch,
		runtime.ReasonClaimsInvalid, runtime.ReasonCredentialKindNotAccepted, runtime.ReasonTransportInsecure,
		runtime.ReasonScopeInsufficient, runtime.ReasonConditionFailed, runtime.ReasonAuthBackendUnavailable,
		runtime.ReasonMethodNotDeclared,
	}
	lis := serve(t, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServer(s, reasonServer{}) })
	c := libraryv1.NewLibraryServiceClient(dial(t, lis, insecure.NewCredentials()))
	for _, r := range reasons {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-reason", string(r))
		_, err := c.ListPublicShelves(ctx, &libraryv1.ListPublicShelvesRequest{})
		var e *runtime.Error
		got, ok := runtime.FromError(err)
		if !ok || errors.As(err, &e) {
			t.Fatalf("%s: FromError(%v) = %v; want a rebuilt error (not the server's value)", r, err, ok)
		}
		if got.Reason != r || got.Code != r.Code() || got.Metadata["method"] != "ListPublicShelves" || got.Message != "denied: "+string(r) || got.Local {
			t.Errorf("%s: got %+v", r, got)
		}
	}
	if _, ok := runtime.FromError(errors.New("plain")); ok {
		t.Error("FromError accepted a plain error")
	}
}

type reasonServer struct {
	libraryv1.UnimplementedLibraryServiceServer
}

func (reasonServer) ListPublicShelves(ctx context.Context, _ *libraryv1.ListPublicShelvesRequest) (*libraryv1.ListPublicShelvesResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	r := runtime.Reason(md.Get("x-reason")[0])
	return nil, runtime.NewError(r, "denied: "+string(r)).WithMetadata("method", "ListPublicShelves")
}

// TestStreamEndsWhenTokenExpires: a stream opened with a valid token ends
// with TOKEN_EXPIRED once the token expires, on the next message.
func TestStreamEndsWhenTokenExpires(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			clock := &fakeClock{t: time.Now()}
			f := newFixture(t, fixtureOptions{mode: m, jwtOpts: []jwtauth.Option{jwtauth.Clock(clock.Now)}})
			token := f.iss.Mint(authtest.Scopes("library.read"), authtest.ExpiresIn(time.Minute))
			s, err := f.client.SyncShelf(withToken(token))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(&libraryv1.SyncShelfRequest{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Recv(); err != nil {
				t.Fatalf("first message: %v", err)
			}
			clock.Add(2 * time.Minute)
			_ = s.Send(&libraryv1.SyncShelfRequest{})
			_, err = s.Recv()
			wantDenied(t, err, codes.Unauthenticated, runtime.ReasonTokenExpired)
		})
	}
	t.Run("disabled", func(t *testing.T) {
		clock := &fakeClock{t: time.Now()}
		f := newFixture(t, fixtureOptions{mode: modeRegister, jwtOpts: []jwtauth.Option{jwtauth.Clock(clock.Now)}, enforcerOpts: []runtime.Option{runtime.WithoutStreamExpiry()}})
		s, err := f.client.SyncShelf(withToken(f.iss.Mint(authtest.Scopes("library.read"), authtest.ExpiresIn(time.Minute))))
		if err != nil {
			t.Fatal(err)
		}
		// One message first: the stream is open (and its token judged) before
		// the clock moves.
		if err := s.Send(&libraryv1.SyncShelfRequest{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("first message: %v", err)
		}
		clock.Add(2 * time.Minute)
		if err := s.Send(&libraryv1.SyncShelfRequest{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("with WithoutStreamExpiry: %v", err)
		}
	})
}

// frontend is a LibraryService that serves GetBook by calling a backend
// LibraryService with its own client.
type frontend struct {
	libraryv1.UnimplementedLibraryServiceServer
	backend libraryv1.LibraryServiceClient
	// forwardTo, when set, is used instead of backend with the caller's
	// own token, asked for explicitly.
	forwardTo grpc.ClientConnInterface
}

func (f *frontend) GetBook(ctx context.Context, req *libraryv1.GetBookRequest) (*libraryv1.Book, error) {
	if f.forwardTo != nil {
		src, ok := runtime.CallerTokenSource(ctx)
		if !ok {
			return nil, errors.New("no caller token")
		}
		return libraryv1.NewLibraryServiceAuthClient(f.forwardTo, &runtime.ClientCredentials{TokenSource: src}).GetBook(ctx, req)
	}
	return f.backend.GetBook(ctx, req)
}

// TestNoForwarding: a server calling another service sends its own
// credential, never its caller's.
func TestNoForwarding(t *testing.T) {
	back := newFixture(t, fixtureOptions{mode: modeRegister})
	clock := &fakeClock{t: time.Now()}
	serviceToken := issuerSource(back.iss, clock, time.Hour, "library.read")
	serviceToken.mint = func() *oauth2.Token {
		return &oauth2.Token{AccessToken: back.iss.Mint(authtest.Subject("frontend-service"), authtest.Scopes("library.read")), Expiry: clock.Now().Add(time.Hour)}
	}
	for _, c := range []struct {
		name    string
		creds   *runtime.ClientCredentials
		forward bool
		wantSub string
		wantErr runtime.Reason
	}{
		{"own_credentials", &runtime.ClientCredentials{TokenSource: serviceToken, Clock: clock.Now}, false, "frontend-service", ""},
		{"no_credentials", nil, false, "", runtime.ReasonCredentialsMissing},
		{"explicit_forwarding", nil, true, "alice", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			front := &frontend{backend: libraryv1.NewLibraryServiceAuthClient(back.conn, c.creds)}
			if c.forward {
				front.forwardTo = back.conn
			}
			frontEnf, err := runtime.NewEnforcer(runtime.WithJWT(mustJWT(t, back.iss)), runtime.WithLogger(nil))
			if err != nil {
				t.Fatal(err)
			}
			ca, _ := authtest.NewCA("front CA")
			serverTLS, _ := ca.ServerTLS()
			lis := serve(t, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServerWithAuth(s, front, frontEnf) }, grpc.Creds(credentials.NewTLS(serverTLS)))
			fc := libraryv1.NewLibraryServiceClient(dial(t, lis, credentials.NewTLS(withServerName(ca.ClientTLS()))))
			userToken := back.iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"))
			before := back.impl.calls.Load()
			_, err = fc.GetBook(withToken(userToken), &libraryv1.GetBookRequest{})
			if c.wantErr != "" {
				if !isReason(err, c.wantErr) {
					t.Fatalf("err = %v; want %s", err, c.wantErr)
				}
				if back.impl.calls.Load() != before {
					t.Error("the backend ran although the frontend has no credential")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := back.impl.lastSubject(); got != c.wantSub {
				t.Errorf("backend saw %q; want %q (the caller's token must not be forwarded)", got, c.wantSub)
			}
		})
	}
}

// expiringDownstream is a LibraryService whose GetBook passes on a
// TOKEN_EXPIRED from a service it called.
type expiringDownstream struct {
	recorder
}

func (s *expiringDownstream) GetBook(ctx context.Context, _ *libraryv1.GetBookRequest) (*libraryv1.Book, error) {
	s.saw(ctx)
	return nil, runtime.NewError(runtime.ReasonTokenExpired, "downstream said the token expired").WithMetadata("method", "/inventory.v1.Stock/Reserve")
}

// TestClientDoesNotRetryPassedOnExpiry: a TOKEN_EXPIRED that a handler
// passed on from a downstream call is not retried (the handler ran; a
// retry could repeat its side effects).
func TestClientDoesNotRetryPassedOnExpiry(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	impl := &expiringDownstream{}
	lis := serve(t, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServerWithAuth(s, impl, f.enf) }, grpc.Creds(credentials.NewTLS(f.serverTLS)))
	conn := dial(t, lis, credentials.NewTLS(withServerName(f.ca.ClientTLS())))
	src := issuerSource(f.iss, &fakeClock{t: time.Now()}, time.Hour, "library.read")
	c := libraryv1.NewLibraryServiceAuthClient(conn, &runtime.ClientCredentials{TokenSource: src})
	if _, err := c.GetBook(context.Background(), &libraryv1.GetBookRequest{}); !isReason(err, runtime.ReasonTokenExpired) {
		t.Fatalf("err = %v; want the passed-on TOKEN_EXPIRED", err)
	}
	if n := impl.calls.Load(); n != 1 {
		t.Errorf("handler ran %d times; want 1 (no retry)", n)
	}
}

// blockingSource never answers until released.
type blockingSource struct{ release chan struct{} }

func (s *blockingSource) Token() (*oauth2.Token, error) {
	<-s.release
	return nil, errors.New("released")
}

// TestClientTokenSourceHangs: a token source that hangs does not hold a
// call past its deadline.
func TestClientTokenSourceHangs(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	src := &blockingSource{release: make(chan struct{})}
	defer close(src.release)
	c := libraryv1.NewLibraryServiceAuthClient(f.conn, &runtime.ClientCredentials{TokenSource: src})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.GetBook(ctx, &libraryv1.GetBookRequest{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("call succeeded without a token")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call is stuck behind a hanging token source")
	}
}
