// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/revocation"
)

func newRevocations(t testing.TB) *revocation.Memory {
	t.Helper()
	m, err := revocation.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// wantSafeRevoked asserts err is TOKEN_REVOKED and that its message names
// neither the jti nor the subject.
func wantSafeRevoked(t *testing.T, err error, secrets ...string) {
	t.Helper()
	wantDenied(t, err, codes.Unauthenticated, runtime.ReasonTokenRevoked)
	msg := status.Convert(err).Message()
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("status message %q holds %q", msg, s)
		}
	}
}

// TestSecurity76_RevokedJTI: a JWT whose jti is revoked is refused with
// TOKEN_REVOKED on every kind of method and every way of enforcing, also
// when the token was verified (and cached) before the revocation; a token
// of another jti, or of the same jti from another issuer, is not. Neither
// the jti nor the subject reaches the caller; the log line holds what
// other denials hold.
func TestSecurity76_RevokedJTI(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			store := newRevocations(t)
			f := newFixture(t, fixtureOptions{mode: m, enforcerOpts: []runtime.Option{runtime.WithRevocation(store)}})
			all := authtest.Scopes("library.read", "library.write", "library.export")
			for _, k := range rpcKinds {
				t.Run(k.name, func(t *testing.T) {
					jti := "jti-" + string(m) + "-" + k.name
					token := f.iss.Mint(all, authtest.Subject("sub-"+k.name), authtest.Claim("jti", jti))
					other := f.iss.Mint(all, authtest.Subject("sub-"+k.name), authtest.Claim("jti", jti+"-other"))
					// Verified once: from now on a verified-cache hit.
					if err := k.call(withToken(token), f.client); err != nil {
						t.Fatalf("before the revocation: %v", err)
					}
					if err := store.RevokeToken(context.Background(), f.iss.URL(), jti, time.Now().Add(time.Hour)); err != nil {
						t.Fatal(err)
					}
					before := f.impl.calls.Load()
					wantSafeRevoked(t, k.call(withToken(token), f.client), jti, "sub-"+k.name)
					if n := f.impl.calls.Load() - before; n != 0 {
						t.Errorf("the handler ran %d times for a revoked token", n)
					}
					if err := k.call(withToken(other), f.client); err != nil {
						t.Errorf("a token of another jti: %v", err)
					}
				})
			}
			// The same jti from another issuer is another token.
			if err := store.RevokeToken(context.Background(), f.attacker.URL(), "shared-jti", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			tok := f.iss.Mint(authtest.Scopes("library.read"), authtest.Claim("jti", "shared-jti"))
			if err := rpcKinds[0].call(withToken(tok), f.client); err != nil {
				t.Errorf("another issuer's revocation of the same jti refused this issuer's token: %v", err)
			}
			logged := f.log.String()
			if !strings.Contains(logged, "reason=TOKEN_REVOKED") || !strings.Contains(logged, "subject=sub-unary") || !strings.Contains(logged, `detail="the token's jti is revoked"`) {
				t.Errorf("log lacks the denial's reason, subject or detail:\n%s", logged)
			}
			if strings.Contains(logged, "jti-"+string(m)) {
				t.Errorf("log holds a jti:\n%s", logged)
			}
		})
	}
}

// TestSecurity76_RevokedSubject: "every token of alice issued before T"
// refuses alice's tokens issued before T (and those without iat), not
// those issued at or after T, nor another subject's.
func TestSecurity76_RevokedSubject(t *testing.T) {
	store := newRevocations(t)
	f := newFixture(t, fixtureOptions{mode: modeRegister, enforcerOpts: []runtime.Option{runtime.WithRevocation(store)}})
	T := time.Now().Truncate(time.Second)
	old := f.iss.Mint(authtest.Scopes("library.read"), authtest.Subject("alice"), authtest.IssuedAt(T.Add(-time.Minute)))
	noIAT := f.iss.Mint(authtest.Scopes("library.read"), authtest.Subject("alice"), authtest.Without("iat"))
	atT := f.iss.Mint(authtest.Scopes("library.read"), authtest.Subject("alice"), authtest.IssuedAt(T))
	later := f.iss.Mint(authtest.Scopes("library.read"), authtest.Subject("alice"), authtest.IssuedAt(T.Add(time.Second)))
	bob := f.iss.Mint(authtest.Scopes("library.read"), authtest.Subject("bob"), authtest.IssuedAt(T.Add(-time.Minute)))
	call := rpcKinds[0].call
	for _, tok := range []string{old, noIAT, atT, later, bob} {
		if err := call(withToken(tok), f.client); err != nil {
			t.Fatalf("before the revocation: %v", err)
		}
	}
	if err := store.RevokeSubject(context.Background(), f.iss.URL(), "alice", T); err != nil {
		t.Fatal(err)
	}
	wantSafeRevoked(t, call(withToken(old), f.client), "alice")
	wantSafeRevoked(t, call(withToken(noIAT), f.client), "alice")
	for name, tok := range map[string]string{"issued at T": atT, "issued after T": later, "another subject": bob} {
		if err := call(withToken(tok), f.client); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !strings.Contains(f.log.String(), `detail="the subject's tokens issued before its iat are revoked"`) {
		t.Errorf("log does not say the subject's revocation matched:\n%s", f.log.String())
	}
}

// failingStore cannot answer, and counts the questions.
type failingStore struct {
	revocation.Memory
	asked atomic.Int64
}

var errStoreDown = errors.New("store down at 10.0.0.7:6379")

func (s *failingStore) Revoked(string, string, string, time.Time) (bool, error) {
	s.asked.Add(1)
	return false, errStoreDown
}

// TestSecurity77_StoreUnavailable: a store that cannot answer fails JWT
// calls closed with 14 AUTH_BACKEND_UNAVAILABLE (never an allow), with a
// safe message and the cause in the log; other kinds, which the store does
// not hold, are not asked about and pass.
func TestSecurity77_StoreUnavailable(t *testing.T) {
	store := &failingStore{}
	f := newKindsFixture(t, modeRegister, kindsOptions{enforcerOpts: []runtime.Option{runtime.WithRevocation(store)}})
	for _, c := range f.validCreds() {
		t.Run(c.name, func(t *testing.T) {
			before, handled := store.asked.Load(), f.impl.calls.Load()
			err := c.own.run(c.ctx, c.client)
			if c.kind != runtime.BearerJWT {
				if err != nil {
					t.Fatalf("%s refused: %v", c.kind, err)
				}
				if store.asked.Load() != before {
					t.Errorf("the store was asked about a %s credential", c.kind)
				}
				return
			}
			wantDenied(t, err, codes.Unavailable, runtime.ReasonAuthBackendUnavailable)
			if msg := status.Convert(err).Message(); strings.Contains(msg, "10.0.0.7") {
				t.Errorf("status message %q holds the store's error", msg)
			}
			if f.impl.calls.Load() != handled {
				t.Error("the handler ran")
			}
		})
	}
	if !strings.Contains(f.log.String(), "revocation store: store down") {
		t.Errorf("log lacks the cause:\n%s", f.log.String())
	}
}

// TestRevocationNotAskedOnPublic: a public method reads no credential, so
// nothing is checked.
func TestRevocationNotAskedOnPublic(t *testing.T) {
	store := &failingStore{}
	f := newFixture(t, fixtureOptions{mode: modeRegister, enforcerOpts: []runtime.Option{runtime.WithRevocation(store)}})
	if _, err := f.client.ListPublicShelves(withToken(f.iss.Mint()), &libraryv1.ListPublicShelvesRequest{}); err != nil {
		t.Fatal(err)
	}
	if store.asked.Load() != 0 {
		t.Error("the store was asked on a public method")
	}
}

func TestWithRevocationNil(t *testing.T) {
	if _, err := runtime.NewEnforcer(runtime.WithRevocation(nil)); !errors.Is(err, runtime.ErrInvalidOption) {
		t.Fatalf("WithRevocation(nil): %v; want ErrInvalidOption", err)
	}
}

// TestRevocationNoAllocation: deciding a JWT call with a revocation
// store that holds entries (not this token's) allocates no more than
// without a store.
func TestRevocationNoAllocation(t *testing.T) {
	iss := authtest.NewIssuer(t)
	jwt, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("test"), jwtauth.StaticJWKS(iss.JWKS())))
	if err != nil {
		t.Fatal(err)
	}
	store := newRevocations(t)
	for _, j := range []string{"a", "b", "c"} {
		_ = store.RevokeToken(context.Background(), iss.URL(), j, time.Now().Add(time.Hour))
	}
	_ = store.RevokeSubject(context.Background(), iss.URL(), "bob", time.Now())
	token := iss.Mint(authtest.Scopes("library.read"), authtest.Claim("jti", "mine"))
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token))
	allocs := func(opts ...runtime.Option) float64 {
		enf, err := runtime.NewEnforcer(append([]runtime.Option{runtime.WithJWT(jwt), runtime.WithPlaintextCredentials(), runtime.WithLogger(nil),
			runtime.WithRules(libraryv1.LibraryServiceAuthRules)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		rule := enf.Rule(libraryv1.LibraryService_GetBook_FullMethodName)
		if _, err := enf.Authorize(ctx, rule); err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(1000, func() {
			if _, err := enf.Authorize(ctx, rule); err != nil {
				panic(err)
			}
		})
	}
	off, on := allocs(), allocs(runtime.WithRevocation(store))
	if on != off {
		t.Errorf("Authorize allocates %.0f times with revocation, %.0f without", on, off)
	}
}

// TestRevocationConcurrent: calls run while revocations arrive (for
// -race); every call made after a token's revocation returned is refused.
func TestRevocationConcurrent(t *testing.T) {
	store := newRevocations(t)
	f := newFixture(t, fixtureOptions{mode: modeRegister, enforcerOpts: []runtime.Option{runtime.WithRevocation(store)}})
	const n = 8
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = f.iss.Mint(authtest.Scopes("library.read"), authtest.Claim("jti", "c"+string(rune('a'+i))))
	}
	var revoked [n]atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range tokens {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for range 40 {
				was := revoked[i].Load()
				err := rpcKinds[0].call(withToken(tokens[i]), f.client)
				if was && status.Code(err) != codes.Unauthenticated {
					errs <- errors.New("a call after its token's revocation was not refused")
					return
				}
			}
		}(i)
	}
	for i := range tokens {
		if err := store.RevokeToken(context.Background(), f.iss.URL(), "c"+string(rune('a'+i)), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		revoked[i].Store(true)
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSecurity76_StreamRevoked: a stream opened before its token is
// revoked ends with TOKEN_REVOKED at its next recheck, on every way of
// enforcing, though its token is a verified-cache hit.
func TestSecurity76_StreamRevoked(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			store := newRevocations(t)
			f := newFixture(t, fixtureOptions{mode: m, enforcerOpts: []runtime.Option{
				runtime.WithRevocation(store), runtime.WithStreamRecheck(runtime.MinStreamRecheck),
			}})
			tok := f.iss.Mint(authtest.Scopes("library.read"), authtest.Claim("jti", "streamer"))
			ctx, cancel := context.WithTimeout(withToken(tok), 30*time.Second)
			defer cancel()
			stream, err := f.client.SyncShelf(ctx)
			if err != nil {
				t.Fatal(err)
			}
			exchange := func() error {
				if err := stream.Send(&libraryv1.SyncShelfRequest{Book: &libraryv1.Book{Name: "shelves/a/books/1"}}); err != nil {
					_, err = stream.Recv()
					return err
				}
				_, err := stream.Recv()
				return err
			}
			if err := exchange(); err != nil {
				t.Fatal(err)
			}
			if err := store.RevokeToken(context.Background(), f.iss.URL(), "streamer", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			revokedAt := time.Now()
			deadline := revokedAt.Add(10 * time.Second)
			for {
				err := exchange()
				if err != nil {
					wantSafeRevoked(t, err, "streamer")
					if took := time.Since(revokedAt); took > runtime.MinStreamRecheck+time.Second {
						t.Errorf("the stream ended %s after the revocation; the recheck interval is %s", took, runtime.MinStreamRecheck)
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatal("the stream still runs after its token was revoked")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
