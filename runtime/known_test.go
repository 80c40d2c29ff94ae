// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// countingJWT is the real JWT authenticator, its Authenticate counted.
// Its Authenticate adds no check, so it opts in to jwtauth's memory with
// an AuthenticateKnown of its own that names the embedded authenticator
// (see runtime.KnownTokens); the promoted one would decline.
type countingJWT struct {
	*jwtauth.Authenticator
	full atomic.Int32
}

func (c *countingJWT) AuthenticateKnown(ctx context.Context, as runtime.TokenAuthenticator, token string) (*runtime.Principal, bool) {
	if as != runtime.TokenAuthenticator(c) {
		return nil, false
	}
	return c.Authenticator.AuthenticateKnown(ctx, c.Authenticator, token)
}

func (c *countingJWT) Authenticate(ctx context.Context, token string) (*runtime.Principal, error) {
	c.full.Add(1)
	return c.Authenticator.Authenticate(ctx, token)
}

// fakeKnown is a user's TokenAuthenticator with a memory of its own: it
// serves the principal known for token known, of kind kind, and counts
// the calls of Authenticate (which accepts nothing).
type fakeKnown struct {
	known string
	kind  runtime.CredentialKind
	full  atomic.Int32
}

func (f *fakeKnown) AuthenticateKnown(_ context.Context, as runtime.TokenAuthenticator, token string) (*runtime.Principal, bool) {
	if as != runtime.TokenAuthenticator(f) || token != f.known {
		return nil, false
	}
	return &runtime.Principal{Kind: f.kind, Subject: "known", Scopes: []string{"library.read"}}, true
}

func (f *fakeKnown) Authenticate(context.Context, string) (*runtime.Principal, error) {
	f.full.Add(1)
	return nil, runtime.NewError(runtime.ReasonCredentialsInvalid, "not known")
}

// knownServer serves LibraryService with its generated rules over TLS
// (bufconn), enforced with opts, and returns a client and the service.
func knownServer(t *testing.T, opts ...runtime.Option) (libraryv1.LibraryServiceClient, *recorder) {
	t.Helper()
	ca, err := authtest.NewCA("known CA")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	enf, err := runtime.NewEnforcer(append(opts, runtime.WithLogger(nil))...)
	if err != nil {
		t.Fatal(err)
	}
	impl := &recorder{}
	lis := serve(t, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServerWithAuth(s, impl, enf) }, grpc.Creds(credentials.NewTLS(serverTLS)))
	return libraryv1.NewLibraryServiceClient(dial(t, lis, credentials.NewTLS(withServerName(ca.ClientTLS())))), impl
}

// TestKnownTokens: a token the authenticator verified before is served by
// AuthenticateKnown, with the rest of the decision made as usual; any
// other token has its syntax checked and goes to Authenticate; a known
// principal of another kind than the call's is not used.
func TestKnownTokens(t *testing.T) {
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	call := func(c libraryv1.LibraryServiceClient, token string) error {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
		_, err := c.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/a/books/1"})
		return err
	}

	t.Run("jwtauth", func(t *testing.T) {
		a := &countingJWT{Authenticator: mustJWT(t, iss)}
		c, impl := knownServer(t, runtime.WithJWT(a))
		tok := iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"))
		for range 5 {
			if err := call(c, tok); err != nil {
				t.Fatal(err)
			}
		}
		if n := a.full.Load(); n != 1 {
			t.Errorf("Authenticate ran %d times for 5 calls with one token; want 1 (then served from memory)", n)
		}
		if impl.lastSubject() != "alice" {
			t.Errorf("handler saw subject %q; want alice", impl.lastSubject())
		}
		// Served from memory, the token's scopes are still the method's
		// question: a known token without them is refused.
		weak := iss.Mint(authtest.Scopes("other"))
		for range 2 {
			wantDenied(t, call(c, weak), codes.PermissionDenied, runtime.ReasonScopeInsufficient)
		}
	})
	t.Run("unknown_token_syntax_checked", func(t *testing.T) {
		f := &fakeKnown{known: "a.b.c", kind: runtime.BearerJWT}
		c, impl := knownServer(t, runtime.WithJWT(f))
		if err := call(c, "a.b.c"); err != nil {
			t.Fatalf("known token: %v", err)
		}
		if impl.lastSubject() != "known" || f.full.Load() != 0 {
			t.Fatalf("known token: subject %q, Authenticate ran %d times; want the known principal and no Authenticate", impl.lastSubject(), f.full.Load())
		}
		wantDenied(t, call(c, "a.b,c"), codes.Unauthenticated, runtime.ReasonCredentialsMalformed)
		if n := f.full.Load(); n != 0 {
			t.Fatalf("an unknown token that is not a token68 reached Authenticate (%d calls); want CREDENTIALS_MALFORMED before any authenticator", n)
		}
		wantDenied(t, call(c, "a.b.d"), codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
		if n := f.full.Load(); n != 1 {
			t.Fatalf("an unknown well-formed token: Authenticate ran %d times; want 1", n)
		}
	})
	t.Run("known_principal_of_another_kind_unused", func(t *testing.T) {
		f := &fakeKnown{known: "a.b.c", kind: runtime.OAuth2Token}
		c, _ := knownServer(t, runtime.WithJWT(f))
		wantDenied(t, call(c, "a.b.c"), codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
		if n := f.full.Load(); n != 1 {
			t.Fatalf("a known principal of kind OAUTH2_TOKEN for a JWT: Authenticate ran %d times; want it to decide", n)
		}
	})
}

// policyJWT is a user's authenticator that adds a check of its own to
// jwtauth's, by embedding: it refuses the subject mallory, whose tokens
// jwtauth verifies. Embedding promotes jwtauth's AuthenticateKnown, which
// knows nothing of the check.
type policyJWT struct {
	*jwtauth.Authenticator
	full atomic.Int32
}

func (p *policyJWT) Authenticate(ctx context.Context, token string) (*runtime.Principal, error) {
	p.full.Add(1)
	pr, err := p.Authenticator.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	if pr.Subject == "mallory" {
		return nil, runtime.NewError(runtime.ReasonCredentialsInvalid, "this subject is not allowed here")
	}
	return pr, nil
}

// TestKnownTokensKeepWrapperChecks: an authenticator that wraps jwtauth's
// by embedding it and refuses a token in its own Authenticate refuses it
// on every call. jwtauth's cache holds the token (jwtauth accepted it), so
// an AuthenticateKnown promoted from the embedded authenticator must not
// serve it past the wrapper's Authenticate.
func TestKnownTokensKeepWrapperChecks(t *testing.T) {
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	a := &policyJWT{Authenticator: mustJWT(t, iss)}
	c, impl := knownServer(t, runtime.WithJWT(a))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+iss.Mint(authtest.Subject("mallory"), authtest.Scopes("library.read", "library.export")))
	for i := range 3 {
		_, err := c.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/a/books/1"})
		if err == nil {
			t.Fatalf("call %d of a token the wrapper's Authenticate refuses was allowed (Authenticate ran %d times, the handler %d)", i+1, a.full.Load(), impl.calls.Load())
		}
		wantDenied(t, err, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
	}
	// The same on a stream, whose decision is the same path's: every open
	// is refused too.
	for i := range 3 {
		s, err := c.ExportShelf(ctx, &libraryv1.ExportShelfRequest{Shelf: "shelves/a"})
		if err == nil {
			err = recvAll(s.Recv)
		}
		if err == nil {
			t.Fatalf("stream %d of a token the wrapper's Authenticate refuses was allowed", i+1)
		}
		wantDenied(t, err, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
	}
	if n := impl.calls.Load(); n != 0 {
		t.Errorf("the handler ran %d times; want 0", n)
	}
}
