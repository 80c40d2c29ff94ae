// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
)

// rpcKind is one of the four kinds of gRPC method, each backed by a
// LibraryService method and the scope its rule needs.
type rpcKind struct {
	name  string
	scope string
	call  func(ctx context.Context, c libraryv1.LibraryServiceClient) error
}

var rpcKinds = []rpcKind{
	{"unary", "library.read", func(ctx context.Context, c libraryv1.LibraryServiceClient) error {
		_, err := c.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/a/books/1"})
		return err
	}},
	{"server_streaming", "library.export", func(ctx context.Context, c libraryv1.LibraryServiceClient) error {
		s, err := c.ExportShelf(ctx, &libraryv1.ExportShelfRequest{Shelf: "shelves/a"})
		if err != nil {
			return err
		}
		return recvAll(s.Recv)
	}},
	{"client_streaming", "library.write", func(ctx context.Context, c libraryv1.LibraryServiceClient) error {
		s, err := c.ImportBooks(ctx)
		if err != nil {
			return err
		}
		// Send may fail with io.EOF once the server has answered; the
		// status comes from CloseAndRecv.
		_ = s.Send(&libraryv1.ImportBooksRequest{Book: &libraryv1.Book{Name: "shelves/a/books/9"}})
		_, err = s.CloseAndRecv()
		return err
	}},
	{"bidi_streaming", "library.read", func(ctx context.Context, c libraryv1.LibraryServiceClient) error {
		s, err := c.SyncShelf(ctx)
		if err != nil {
			return err
		}
		_ = s.Send(&libraryv1.SyncShelfRequest{Book: &libraryv1.Book{Name: "shelves/a/books/9"}})
		_ = s.CloseSend()
		return recvAll(s.Recv)
	}},
}

func withToken(token string) context.Context {
	ctx := context.Background()
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// wantDenied asserts err is a denial with code and reason and a
// google.rpc.ErrorInfo in the grpcauth domain.
func wantDenied(t *testing.T, err error, code codes.Code, reason runtime.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("call succeeded; want %s %s", code, reason)
	}
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("code = %s (%q); want %s", st.Code(), st.Message(), code)
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil {
		t.Fatalf("status %q carries no ErrorInfo", st.Message())
	}
	if info.GetDomain() != runtime.ErrorDomain || runtime.Reason(info.GetReason()) != reason {
		t.Fatalf("ErrorInfo = %s/%s; want %s/%s", info.GetDomain(), info.GetReason(), runtime.ErrorDomain, reason)
	}
}

// TestDecision runs every credential case on every kind of method, through
// each way of enforcing (generated registration, generated typed wrapper,
// interceptors with the generated table).
func TestDecision(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			f := newFixture(t, fixtureOptions{mode: m})
			all := []string{"library.read", "library.write", "library.export"}
			cases := []struct {
				name   string
				token  string
				code   codes.Code
				reason runtime.Reason
			}{
				{"no_credential", "", codes.Unauthenticated, runtime.ReasonCredentialsMissing},
				{"expired", f.iss.Mint(authtest.Scopes(all...), authtest.ExpiresIn(-time.Hour)), codes.Unauthenticated, runtime.ReasonTokenExpired},
				{"bad_signature", f.attacker.Mint(authtest.Scopes(all...), authtest.IssuerClaim(f.iss.URL())), codes.Unauthenticated, runtime.ReasonTokenInvalidSignature},
				{"wrong_issuer", f.attacker.Mint(authtest.Scopes(all...)), codes.Unauthenticated, runtime.ReasonIssuerUntrusted},
				{"wrong_audience", f.iss.Mint(authtest.Scopes(all...), authtest.Audience("billing")), codes.Unauthenticated, runtime.ReasonAudienceMismatch},
				{"not_yet_valid", f.iss.Mint(authtest.Scopes(all...), authtest.NotBefore(time.Now().Add(time.Hour))), codes.Unauthenticated, runtime.ReasonTokenNotYetValid},
				{"missing_scope", f.iss.Mint(authtest.Scopes("unrelated")), codes.PermissionDenied, runtime.ReasonScopeInsufficient},
			}
			for _, k := range rpcKinds {
				for _, c := range cases {
					t.Run(k.name+"/"+c.name, func(t *testing.T) {
						before := f.impl.calls.Load()
						wantDenied(t, k.call(withToken(c.token), f.client), c.code, c.reason)
						if n := f.impl.calls.Load() - before; n != 0 {
							t.Errorf("handler ran %d times on a denied call", n)
						}
					})
				}
				t.Run(k.name+"/valid", func(t *testing.T) {
					before := f.impl.calls.Load()
					token := f.iss.Mint(authtest.Subject("alice-"+k.name), authtest.Scopes(k.scope))
					if err := k.call(withToken(token), f.client); err != nil {
						t.Fatalf("valid call failed: %v", err)
					}
					if n := f.impl.calls.Load() - before; n != 1 {
						t.Fatalf("handler ran %d times; want 1", n)
					}
					if got := f.impl.lastSubject(); got != "alice-"+k.name {
						t.Errorf("handler saw principal %q; want %q", got, "alice-"+k.name)
					}
				})
			}
			if strings.Contains(f.log.String(), "eyJ") {
				t.Errorf("the server log holds something that looks like a token:\n%s", f.log.String())
			}
		})
	}
}

// TestPublic: a public method needs no credential, and a credential sent to
// it — valid or not — is neither verified nor attached.
func TestPublic(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	for name, token := range map[string]string{
		"none":    "",
		"valid":   f.iss.Mint(authtest.Subject("alice")),
		"forged":  f.attacker.Mint(authtest.IssuerClaim(f.iss.URL())),
		"garbage": "not-a-jwt",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := f.client.ListPublicShelves(withToken(token), &libraryv1.ListPublicShelvesRequest{}); err != nil {
				t.Fatalf("public call failed: %v", err)
			}
			if got := f.impl.lastSubject(); got != "" {
				t.Errorf("handler saw principal %q on a public method; want none", got)
			}
		})
	}
	if f.iss.Fetches() != 0 {
		t.Errorf("public calls caused %d JWKS fetches; want 0", f.iss.Fetches())
	}
}

// TestTransport: TLS_REQUIRED refuses plaintext before reading credentials
// and allows the same call over TLS.
func TestTransport(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	token := f.iss.Mint(authtest.Scopes("library.write", "library.admin"), authtest.Claim("tenant", "acme"))
	req := &libraryv1.DeleteBookRequest{Shelf: "tenants/acme/shelves/a", Name: "tenants/acme/shelves/a/books/1"}
	_, err := f.plainClient.DeleteBook(withToken(token), req)
	wantDenied(t, err, codes.Unauthenticated, runtime.ReasonTransportInsecure)
	if _, err := f.client.DeleteBook(withToken(token), req); err != nil {
		t.Fatalf("DeleteBook over TLS: %v", err)
	}
	_, err = f.client.DeleteBook(withToken(f.iss.Mint(authtest.Scopes("library.write"))), req)
	wantDenied(t, err, codes.PermissionDenied, runtime.ReasonScopeInsufficient)
	if st := status.Convert(err); !strings.Contains(st.Message(), "library.admin") {
		t.Errorf("message %q does not name the missing scope", st.Message())
	}
}

// TestInterceptorDeniesUndeclared: with the interceptors, a service that
// has no rules (here the health service, registered raw) is denied.
func TestInterceptorDeniesUndeclared(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeInterceptor, extra: func(s *grpc.Server) {
		healthpb.RegisterHealthServer(s, health.NewServer())
	}})
	_, err := healthpb.NewHealthClient(f.conn).Check(withToken(f.iss.Mint(authtest.Scopes("library.read"))), &healthpb.HealthCheckRequest{})
	wantDenied(t, err, codes.PermissionDenied, runtime.ReasonMethodNotDeclared)
	ds := f.decisions.all()
	if len(ds) != 1 || ds[0].FullMethod != "/grpc.health.v1.Health/Check" || (ds[0].Outcome == runtime.OutcomeAllow) {
		t.Errorf("decisions = %+v; want one denial of /grpc.health.v1.Health/Check", ds)
	}
	// The raw LibraryService is still enforced by its generated table.
	_, err = f.client.GetBook(withToken(""), &libraryv1.GetBookRequest{})
	wantDenied(t, err, codes.Unauthenticated, runtime.ReasonCredentialsMissing)
}

// TestExemptions: health and reflection are denied by default under the
// interceptors and served without credentials only when exempted.
func TestExemptions(t *testing.T) {
	register := func(s *grpc.Server) {
		healthpb.RegisterHealthServer(s, health.NewServer())
		reflection.Register(s)
	}
	reflect := func(conn *grpc.ClientConn) error {
		stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
		if err != nil {
			return err
		}
		// Send fails with io.EOF once the server has ended the stream; the
		// status comes from Recv.
		_ = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
		_, err = stream.Recv()
		return err
	}
	t.Run("default", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{mode: modeInterceptor, extra: register})
		_, err := healthpb.NewHealthClient(f.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		wantDenied(t, err, codes.PermissionDenied, runtime.ReasonMethodNotDeclared)
		wantDenied(t, reflect(f.conn), codes.PermissionDenied, runtime.ReasonMethodNotDeclared)
	})
	t.Run("health_only", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{mode: modeInterceptor, extra: register, enforcerOpts: []runtime.Option{runtime.WithHealthExemption()}})
		if _, err := healthpb.NewHealthClient(f.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Errorf("exempt health check: %v", err)
		}
		wantDenied(t, reflect(f.conn), codes.PermissionDenied, runtime.ReasonMethodNotDeclared)
	})
	t.Run("both", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{mode: modeInterceptor, extra: register, enforcerOpts: []runtime.Option{runtime.WithHealthExemption(), runtime.WithReflectionExemption()}})
		if err := reflect(f.conn); err != nil {
			t.Errorf("exempt reflection: %v", err)
		}
	})
}

// TestDecidedOnce: interceptors and generated registration together decide
// a call once.
func TestDecidedOnce(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister, interceptorsToo: true})
	for _, k := range rpcKinds {
		if err := k.call(withToken(f.iss.Mint(authtest.Scopes(k.scope))), f.client); err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
	}
	if got := len(f.decisions.all()); got != len(rpcKinds) {
		t.Errorf("%d decisions for %d calls; want one each", got, len(rpcKinds))
	}
}

// TestAudit: the hook sees allowed and denied decisions with method, kind,
// subject and reason, and never the token.
func TestAudit(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	token := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"))
	if _, err := f.client.GetBook(withToken(token), &libraryv1.GetBookRequest{}); err != nil {
		t.Fatal(err)
	}
	f.plainClient.DeleteBook(withToken(token), &libraryv1.DeleteBookRequest{})
	ds := f.decisions.all()
	if len(ds) != 2 {
		t.Fatalf("got %d decisions; want 2", len(ds))
	}
	allowed, denied := ds[0], ds[1]
	if allowed.Outcome != runtime.OutcomeAllow || allowed.Subject != "alice" || allowed.Kind != runtime.BearerJWT || allowed.FullMethod != libraryv1.LibraryService_GetBook_FullMethodName || allowed.Source != "library.v1.LibraryService" || allowed.DecisionID == 0 {
		t.Errorf("allowed decision = %+v", allowed)
	}
	if (denied.Outcome == runtime.OutcomeAllow) || denied.Reason != runtime.ReasonTransportInsecure || denied.Code != codes.Unauthenticated {
		t.Errorf("denied decision = %+v", denied)
	}
	for _, d := range ds {
		if strings.Contains(fmt.Sprintf("%+v", d), token) {
			t.Errorf("decision carries the token: %+v", d)
		}
	}
}

// TestHostileMetadata: credentials in the wrong shape are malformed, never
// ignored and never re-read as something else.
func TestHostileMetadata(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	good := f.iss.Mint(authtest.Scopes("library.read"))
	for _, c := range []struct {
		name string
		md   []string
	}{
		{"two_authorization_values", []string{"authorization", "Bearer " + good, "authorization", "Bearer " + good}},
		{"authorization_bin", []string{"authorization-bin", "Bearer " + good}},
		{"authorization_bin_beside_valid", []string{"authorization", "Bearer " + good, "authorization-bin", "x"}},
		{"basic_scheme", []string{"authorization", "Basic YWxpY2U6c2VjcmV0"}},
		{"bearer_dash", []string{"authorization", "Bearer-x " + good}},
		{"empty_token", []string{"authorization", "Bearer "}},
		{"scheme_only", []string{"authorization", "Bearer"}},
		{"two_spaces", []string{"authorization", "Bearer  " + good}},
		{"trailing_space", []string{"authorization", "Bearer " + good + " "}},
		{"inner_space", []string{"authorization", "Bearer " + good[:10] + " " + good[10:]}},
		{"oversize", []string{"authorization", "Bearer " + strings.Repeat("a", runtime.DefaultMaxCredentialSize)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(withToken(""), c.md...)
			_, err := f.client.GetBook(ctx, &libraryv1.GetBookRequest{})
			wantDenied(t, err, codes.Unauthenticated, runtime.ReasonCredentialsMalformed)
		})
	}
	// The scheme is case-insensitive.
	for _, scheme := range []string{"bearer", "BEARER", "bEaReR"} {
		ctx := metadata.AppendToOutgoingContext(withToken(""), "authorization", scheme+" "+good)
		if _, err := f.client.GetBook(ctx, &libraryv1.GetBookRequest{}); err != nil {
			t.Errorf("scheme %q: %v", scheme, err)
		}
	}
	if f.impl.calls.Load() != 3 {
		t.Errorf("handler ran %d times; want 3 (the case-insensitive schemes only)", f.impl.calls.Load())
	}
}

// TestErrorMessagesAreSafe: no status message or log line carries the token.
func TestErrorMessagesAreSafe(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	tokens := []string{
		f.iss.Mint(authtest.ExpiresIn(-time.Hour)),
		f.attacker.Mint(authtest.IssuerClaim(f.iss.URL())),
		f.iss.Mint(authtest.Audience("billing")),
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
	}
	for _, tok := range tokens {
		_, err := f.client.GetBook(withToken(tok), &libraryv1.GetBookRequest{})
		st := status.Convert(err)
		for _, part := range strings.Split(tok, ".") {
			if len(part) > 8 && (strings.Contains(st.Message(), part) || strings.Contains(f.log.String(), part)) {
				t.Errorf("a part of the token leaked: message %q, log %q", st.Message(), f.log.String())
			}
		}
	}
}

func TestNilEnforcerPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "nil *runtime.Enforcer") {
			t.Errorf("recover() = %v; want a panic naming the nil enforcer", r)
		}
	}()
	libraryv1.RegisterLibraryServiceServerWithAuth(grpc.NewServer(), &recorder{}, nil)
}

func TestConflictingRules(t *testing.T) {
	enf, err := runtime.NewEnforcer(runtime.WithRules(libraryv1.LibraryServiceAuthRules))
	if err != nil {
		t.Fatal(err)
	}
	if err := enf.AddRules(libraryv1.LibraryServiceAuthRules); err != nil {
		t.Errorf("adding the same table again: %v", err)
	}
	other := &runtime.ServiceRules{Service: "library.v1.LibraryService", Methods: []*runtime.Rule{{FullMethod: libraryv1.LibraryService_GetBook_FullMethodName, Public: true}}}
	if err := enf.AddRules(other); !errors.Is(err, runtime.ErrInvalidOption) {
		t.Errorf("AddRules(conflicting) = %v; want an error wrapping ErrInvalidOption", err)
	}
}

// TestNilEnforcerOption: a nil option is a configuration error, not a panic.
func TestNilEnforcerOption(t *testing.T) {
	if _, err := runtime.NewEnforcer(runtime.WithLogger(nil), nil); !errors.Is(err, runtime.ErrInvalidOption) {
		t.Fatalf("NewEnforcer(nil option) = %v; want an error wrapping ErrInvalidOption", err)
	}
}

// TestRuleLookupDoesNotAllocate: finding a method's rule is free.
func TestRuleLookupDoesNotAllocate(t *testing.T) {
	enf, err := runtime.NewEnforcer(runtime.WithRules(libraryv1.LibraryServiceAuthRules))
	if err != nil {
		t.Fatal(err)
	}
	name := libraryv1.LibraryService_GetBook_FullMethodName
	if allocs := testing.AllocsPerRun(1000, func() { enf.Rule(name) }); allocs != 0 {
		t.Errorf("Rule allocates %.1f times per lookup; want 0", allocs)
	}
	if enf.Rule(name) == nil || enf.Rule("/no.Such/Method") != nil {
		t.Error("Rule finds the wrong thing")
	}
}

// TestTwoEnforcers: a decision by one enforcer does not stand in for
// another's. An interceptor enforcer that trusts issuer A sits in front of
// a service registered with an enforcer that trusts only issuer B: a token
// of A is refused on every kind of method.
func TestTwoEnforcers(t *testing.T) {
	issA := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	issB := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	lenient, err := runtime.NewEnforcer(runtime.WithJWT(mustJWT(t, issA)), runtime.WithRules(libraryv1.LibraryServiceAuthRules), runtime.WithLogger(nil), runtime.WithPlaintextCredentials())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []mode{modeRegister, modeWrapper} {
		t.Run(string(m), func(t *testing.T) {
			strict, err := runtime.NewEnforcer(runtime.WithJWT(mustJWT(t, issB)), runtime.WithLogger(nil), runtime.WithPlaintextCredentials())
			if err != nil {
				t.Fatal(err)
			}
			impl := &recorder{}
			lis := serve(t, func(s *grpc.Server) {
				if m == modeRegister {
					libraryv1.RegisterLibraryServiceServerWithAuth(s, impl, strict)
				} else {
					libraryv1.RegisterLibraryServiceServer(s, libraryv1.NewLibraryServiceServerWithAuth(impl, strict))
				}
			}, grpc.ChainUnaryInterceptor(lenient.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(lenient.StreamServerInterceptor()))
			c := libraryv1.NewLibraryServiceClient(dial(t, lis, insecure.NewCredentials()))
			token := issA.Mint(authtest.Scopes("library.read", "library.write", "library.export"))
			for _, k := range rpcKinds {
				wantDenied(t, k.call(withToken(token), c), codes.Unauthenticated, runtime.ReasonIssuerUntrusted)
			}
			if n := impl.calls.Load(); n != 0 {
				t.Errorf("handler ran %d times behind an enforcer that trusts another issuer", n)
			}
		})
	}
}

// sharedDenial is an authenticator that returns the same *Error to every
// call, as a third-party authenticator may.
type sharedDenial struct{ err *runtime.Error }

func (s sharedDenial) Authenticate(context.Context, string) (*runtime.Principal, error) {
	return nil, s.err
}

// TestSharedAuthenticatorErrorIsNotModified: the enforcer annotates a
// copy of an authenticator's denial, so one *Error shared by concurrent
// calls is neither raced on nor changed (run with -race).
func TestSharedAuthenticatorErrorIsNotModified(t *testing.T) {
	shared := runtime.NewError(runtime.ReasonTokenRevoked, "revoked")
	enf, err := runtime.NewEnforcer(runtime.WithJWT(sharedDenial{shared}), runtime.WithLogger(nil), runtime.WithPlaintextCredentials())
	if err != nil {
		t.Fatal(err)
	}
	rule := libraryv1.LibraryServiceAuthRules.Lookup(libraryv1.LibraryService_GetBook_FullMethodName)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer a.b.c"))
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := enf.Authorize(ctx, rule)
			if e, ok := runtime.FromError(err); !ok || e.Reason != runtime.ReasonTokenRevoked || e.Metadata["method"] != rule.FullMethod {
				t.Errorf("err = %v; want TOKEN_REVOKED naming the method", err)
			}
		}()
	}
	wg.Wait()
	if len(shared.Metadata) != 0 {
		t.Errorf("the authenticator's shared error was modified: %v", shared.Metadata)
	}
}
