// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/apikey"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// identitiesRecorder serves the Optional and Delegated services and
// records what their handlers saw.
type identitiesRecorder struct {
	grpcauthtestv1.UnimplementedOptionalServer
	grpcauthtestv1.UnimplementedDelegatedServer
	calls atomic.Int64
	mu    sync.Mutex
	last  identitySeen
}

// identitySeen is what a handler saw of its call: the principal and the
// workload ("" when there was none).
type identitySeen struct {
	method                    string
	kind                      runtime.CredentialKind
	subject                   string
	workloadKind              runtime.CredentialKind
	workloadSubject           string
	hasPrincipal, hasWorkload bool
}

func (r *identitiesRecorder) saw(ctx context.Context) {
	s := identitySeen{}
	s.method, _ = grpc.Method(ctx)
	if p, ok := runtime.PrincipalFrom(ctx); ok {
		s.hasPrincipal, s.kind, s.subject = true, p.Kind, p.Subject
	}
	if w, ok := runtime.WorkloadFrom(ctx); ok {
		s.hasWorkload, s.workloadKind, s.workloadSubject = true, w.Kind, w.Subject
	}
	r.mu.Lock()
	r.last = s
	r.mu.Unlock()
	r.calls.Add(1)
}

func (r *identitiesRecorder) lastSeen() identitySeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *identitiesRecorder) Get(ctx context.Context, m *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	r.saw(ctx)
	return m, nil
}

func (r *identitiesRecorder) Required(ctx context.Context, m *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	r.saw(ctx)
	return m, nil
}

func (r *identitiesRecorder) Check(ctx context.Context, m *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	r.saw(ctx)
	return m, nil
}

func (r *identitiesRecorder) Either(ctx context.Context, m *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	r.saw(ctx)
	return m, nil
}

func (r *identitiesRecorder) OptionalUser(ctx context.Context, m *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	r.saw(ctx)
	return m, nil
}

func (r *identitiesRecorder) Watch(m *grpcauthtestv1.Msg, stream grpc.ServerStreamingServer[grpcauthtestv1.Msg]) error {
	r.saw(stream.Context())
	return stream.Send(m)
}

func (r *identitiesRecorder) Chat(stream grpc.BidiStreamingServer[grpcauthtestv1.Msg, grpcauthtestv1.Msg]) error {
	r.saw(stream.Context())
	return echo(stream)
}

func (r *identitiesRecorder) ChatCheck(stream grpc.BidiStreamingServer[grpcauthtestv1.Msg, grpcauthtestv1.Msg]) error {
	r.saw(stream.Context())
	return echo(stream)
}

// identitiesFixture is the kinds fixture (all four authenticators, the
// API key clients "exporter" with scope s and "noscope", workloadA with
// scope s) serving the Optional and Delegated services too.
type identitiesFixture struct {
	*kindsFixture
	rec *identitiesRecorder
}

func newIdentitiesFixture(t *testing.T, m mode, o kindsOptions) *identitiesFixture {
	t.Helper()
	rec := &identitiesRecorder{}
	o.extraRules = []*runtime.ServiceRules{grpcauthtestv1.OptionalAuthRules, grpcauthtestv1.DelegatedAuthRules}
	o.extra = func(s *grpc.Server, m mode, enf *runtime.Enforcer) {
		switch m {
		case modeRegister:
			grpcauthtestv1.RegisterOptionalServerWithAuth(s, rec, enf)
			grpcauthtestv1.RegisterDelegatedServerWithAuth(s, rec, enf)
		case modeWrapper:
			grpcauthtestv1.RegisterOptionalServer(s, grpcauthtestv1.NewOptionalServerWithAuth(rec, enf))
			grpcauthtestv1.RegisterDelegatedServer(s, grpcauthtestv1.NewDelegatedServerWithAuth(rec, enf))
		case modeInterceptor:
			grpcauthtestv1.RegisterOptionalServer(s, rec)
			grpcauthtestv1.RegisterDelegatedServer(s, rec)
		}
	}
	return &identitiesFixture{kindsFixture: newKindsFixture(t, m, o), rec: rec}
}

// idCall is one call of a method of the Optional or Delegated service, as
// a raw gRPC client makes it: the test puts the credentials in metadata.
type idCall struct {
	name   string
	method string
	call   func(ctx context.Context, cc grpc.ClientConnInterface) error
}

func (k idCall) run(ctx context.Context, cc grpc.ClientConnInterface) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return k.call(ctx, cc)
}

func idUnary(method string) idCall {
	return idCall{method[strings.LastIndexByte(method, '/')+1:], method, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		out := new(grpcauthtestv1.Msg)
		return cc.Invoke(ctx, method, &grpcauthtestv1.Msg{Text: textOf(ctx)}, out)
	}}
}

// textOf is the request text a test put in the context, "alice" by
// default.
type textKey struct{}

func textOf(ctx context.Context) string {
	if s, ok := ctx.Value(textKey{}).(string); ok {
		return s
	}
	return "alice"
}

func withText(ctx context.Context, s string) context.Context {
	return context.WithValue(ctx, textKey{}, s)
}

var (
	serverStreamDesc = &grpc.StreamDesc{ServerStreams: true}
	bidiStreamDesc   = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
)

func idStream(method string, desc *grpc.StreamDesc) idCall {
	return idCall{method[strings.LastIndexByte(method, '/')+1:], method, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		s, err := cc.NewStream(ctx, desc, method)
		if err != nil {
			return err
		}
		if err := s.SendMsg(&grpcauthtestv1.Msg{Text: textOf(ctx)}); err != nil && !desc.ClientStreams {
			return err
		}
		_ = s.CloseSend()
		for {
			if err := s.RecvMsg(new(grpcauthtestv1.Msg)); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	}}
}

var (
	optionalCalls = []idCall{
		idUnary(grpcauthtestv1.Optional_Get_FullMethodName),
		idStream(grpcauthtestv1.Optional_Watch_FullMethodName, serverStreamDesc),
		idStream(grpcauthtestv1.Optional_Chat_FullMethodName, bidiStreamDesc),
	}
	delegatedCalls = []idCall{
		idUnary(grpcauthtestv1.Delegated_Get_FullMethodName),
		idStream(grpcauthtestv1.Delegated_Watch_FullMethodName, serverStreamDesc),
		idStream(grpcauthtestv1.Delegated_Chat_FullMethodName, bidiStreamDesc),
	}
	callRequired     = idUnary(grpcauthtestv1.Optional_Required_FullMethodName)
	callCheck        = idUnary(grpcauthtestv1.Delegated_Check_FullMethodName)
	callChatCheck    = idStream(grpcauthtestv1.Delegated_ChatCheck_FullMethodName, bidiStreamDesc)
	callEither       = idUnary(grpcauthtestv1.Delegated_Either_FullMethodName)
	callOptionalUser = idUnary(grpcauthtestv1.Delegated_OptionalUser_FullMethodName)
)

// allowed runs k and asserts that its handler ran once and saw want (its
// method filled in), and that the audit hook recorded the same identities.
func (f *identitiesFixture) allowed(t *testing.T, k idCall, ctx context.Context, cc grpc.ClientConnInterface, want identitySeen) {
	t.Helper()
	before := f.rec.calls.Load()
	if err := k.run(ctx, cc); err != nil {
		t.Fatalf("%s: %v", k.name, err)
	}
	if n := f.rec.calls.Load() - before; n != 1 {
		t.Fatalf("%s: handler ran %d times; want 1", k.name, n)
	}
	want.method = k.method
	if got := f.rec.lastSeen(); got != want {
		t.Errorf("%s: handler saw %+v; want %+v", k.name, got, want)
	}
	d, ok := f.lastDecision(k.method)
	if !ok || d.Outcome != runtime.OutcomeAllow || d.Kind != want.kind || d.Subject != want.subject || d.Workload != want.workloadKind || d.WorkloadSubject != want.workloadSubject {
		t.Errorf("%s: audit decision = %+v (found %v); want allowed with %+v", k.name, d, ok, want)
	}
}

// denied runs k and asserts a denial with code and reason that no handler
// saw, and returns it.
func (f *identitiesFixture) denied(t *testing.T, k idCall, ctx context.Context, cc grpc.ClientConnInterface, code codes.Code, reason runtime.Reason) *runtime.Error {
	t.Helper()
	before := f.rec.calls.Load()
	err := k.run(ctx, cc)
	wantDenied(t, err, code, reason)
	if n := f.rec.calls.Load() - before; n != 0 {
		t.Errorf("%s: a handler ran %d times on a denied call", k.name, n)
	}
	e, _ := runtime.FromError(err)
	return e
}

func anonymous() identitySeen { return identitySeen{} }

func user(kind runtime.CredentialKind, subject string) identitySeen {
	return identitySeen{hasPrincipal: true, kind: kind, subject: subject}
}

func onBehalf(workloadKind runtime.CredentialKind, workload string, kind runtime.CredentialKind, subject string) identitySeen {
	return identitySeen{hasPrincipal: true, kind: kind, subject: subject, hasWorkload: true, workloadKind: workloadKind, workloadSubject: workload}
}

// pairMD is the metadata of a workload's API key with an end user's token.
func pairMD(key, token string) context.Context {
	return metadataCtx("x-api-key", key, "authorization", "Bearer "+token)
}

// TestOptional_NoCredential: a method whose authentication is optional is
// called without any credential, over TLS and in plaintext, unary and
// streaming: the handler runs with no principal. Its sibling that ends the
// inherited OPTIONAL refuses the same call.
func TestOptional_NoCredential(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newIdentitiesFixture(t, m, kindsOptions{})
		for _, k := range optionalCalls {
			f.allowed(t, k, context.Background(), f.conn, anonymous())
			f.allowed(t, k, context.Background(), f.plainConn, anonymous())
			// A client certificate on the connection is a credential the
			// method accepts: verified and attached.
			f.allowed(t, k, context.Background(), f.connA, user(runtime.MTLS, workloadA))
		}
		e := f.denied(t, callRequired, context.Background(), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMissing)
		if e.Metadata["accepted_kinds"] != "BEARER_JWT,OAUTH2_TOKEN,API_KEY,MTLS" {
			t.Errorf("accepted_kinds = %q", e.Metadata["accepted_kinds"])
		}
	})
}

// TestOptional_CredentialSentMustBeValid: on an optional method a
// credential that is sent is decided as on any other: each valid kind
// reaches the handler as the principal; an invalid one is 16 and one
// without the method's scope 7, and neither reaches the handler: a bad
// credential never falls back to anonymous.
func TestOptional_CredentialSentMustBeValid(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newIdentitiesFixture(t, m, kindsOptions{})
		jwt := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s"))
		opaque := f.in.Issue("bob", []string{"s"}, "library", time.Hour, nil)
		for _, k := range optionalCalls {
			f.allowed(t, k, bearerMD(jwt), f.conn, user(runtime.BearerJWT, "alice"))
			f.allowed(t, k, bearerMD(opaque), f.conn, user(runtime.OAuth2Token, "bob"))
			f.allowed(t, k, apiKeyMD(f.exporterKey), f.conn, user(runtime.APIKey, "exporter"))

			attacker := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
			for _, c := range []struct {
				name   string
				ctx    context.Context
				cc     grpc.ClientConnInterface
				code   codes.Code
				reason runtime.Reason
			}{
				{"forged", bearerMD(attacker.Mint(authtest.IssuerClaim(f.iss.URL()), authtest.Scopes("s"))), f.conn, codes.Unauthenticated, runtime.ReasonTokenInvalidSignature},
				{"expired", bearerMD(f.iss.Mint(authtest.Scopes("s"), authtest.ExpiresIn(-time.Hour))), f.conn, codes.Unauthenticated, runtime.ReasonTokenExpired},
				{"untrusted_issuer", bearerMD(attacker.Mint(authtest.Scopes("s"))), f.conn, codes.Unauthenticated, runtime.ReasonIssuerUntrusted},
				{"unknown_api_key", apiKeyMD(newTestAPIKey(t)), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsInvalid},
				{"malformed", metadataCtx("authorization", "Basic abc"), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMalformed},
				{"two_credentials", metadataCtx("authorization", "Bearer "+jwt, "x-api-key", f.exporterKey), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMalformed},
				{"plaintext_token", bearerMD(jwt), f.plainConn, codes.Unauthenticated, runtime.ReasonTransportInsecure},
				{"no_scope_key", apiKeyMD(f.noScopeKey), f.conn, codes.PermissionDenied, runtime.ReasonScopeInsufficient},
				{"no_scope_jwt", bearerMD(f.iss.Mint(authtest.Scopes("t"))), f.conn, codes.PermissionDenied, runtime.ReasonScopeInsufficient},
				{"no_scope_certificate", context.Background(), f.connB, codes.PermissionDenied, runtime.ReasonScopeInsufficient},
			} {
				t.Run(k.name+"/"+c.name, func(t *testing.T) { f.denied(t, k, c.ctx, c.cc, c.code, c.reason) })
			}
		}
		f.noSecrets(t, jwt, opaque, f.exporterKey)
	})
}

// TestOnBehalfOf_Allowed: a workload's API key or client certificate with
// scope s, and an end user's JWT or opaque token with scope u, on unary and
// streaming calls: the handler sees the end user as the principal and the
// workload as the workload, and so does the audit hook.
func TestOnBehalfOf_Allowed(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newIdentitiesFixture(t, m, kindsOptions{})
		jwt := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("u"))
		opaque := f.in.Issue("bob", []string{"u"}, "library", time.Hour, nil)
		for _, k := range delegatedCalls {
			f.allowed(t, k, pairMD(f.exporterKey, jwt), f.conn, onBehalf(runtime.APIKey, "exporter", runtime.BearerJWT, "alice"))
			f.allowed(t, k, pairMD(f.exporterKey2, opaque), f.conn, onBehalf(runtime.APIKey, "exporter", runtime.OAuth2Token, "bob"))
			f.allowed(t, k, bearerMD(jwt), f.connA, onBehalf(runtime.MTLS, workloadA, runtime.BearerJWT, "alice"))
			f.allowed(t, k, bearerMD(opaque), f.connA, onBehalf(runtime.MTLS, workloadA, runtime.OAuth2Token, "bob"))
			// With an API key, a client certificate on the connection is
			// not read: the key is the workload.
			f.allowed(t, k, pairMD(f.exporterKey, jwt), f.connB, onBehalf(runtime.APIKey, "exporter", runtime.BearerJWT, "alice"))
		}
		f.noSecrets(t, jwt, opaque, f.exporterKey, f.exporterKey2)
	})
}

// TestOnBehalfOf_Refused: every way a call on behalf of an end user falls
// short, on unary and streaming calls, with its reason; the handler never
// runs.
func TestOnBehalfOf_Refused(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newIdentitiesFixture(t, m, kindsOptions{})
		jwt := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("u"))
		noU := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s"))
		attacker := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
		forged := attacker.Mint(authtest.IssuerClaim(f.iss.URL()), authtest.Scopes("u"))
		for _, k := range delegatedCalls {
			for _, c := range []struct {
				name   string
				ctx    context.Context
				cc     grpc.ClientConnInterface
				code   codes.Code
				reason runtime.Reason
				meta   map[string]string
			}{
				{"nothing", context.Background(), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMissing, map[string]string{"accepted_kinds": "MTLS,API_KEY"}},
				{"end_user_alone", bearerMD(jwt), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMissing, map[string]string{"accepted_kinds": "MTLS,API_KEY"}},
				{"api_key_alone", apiKeyMD(f.exporterKey), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMissing, map[string]string{"accepted_end_user_kinds": "BEARER_JWT,OAUTH2_TOKEN"}},
				{"certificate_alone", context.Background(), f.connA, codes.Unauthenticated, runtime.ReasonCredentialsMissing, map[string]string{"accepted_end_user_kinds": "BEARER_JWT,OAUTH2_TOKEN"}},
				{"workload_without_scope", pairMD(f.noScopeKey, jwt), f.conn, codes.PermissionDenied, runtime.ReasonScopeInsufficient, map[string]string{"missing_scopes": "s"}},
				{"certificate_without_scope", bearerMD(jwt), f.connB, codes.PermissionDenied, runtime.ReasonScopeInsufficient, map[string]string{"missing_scopes": "s"}},
				{"end_user_without_scope", pairMD(f.exporterKey, noU), f.conn, codes.PermissionDenied, runtime.ReasonScopeInsufficient, map[string]string{"missing_end_user_scopes": "u"}},
				{"forged_end_user", pairMD(f.exporterKey, forged), f.conn, codes.Unauthenticated, runtime.ReasonTokenInvalidSignature, nil},
				{"forged_end_user_certificate", bearerMD(forged), f.connA, codes.Unauthenticated, runtime.ReasonTokenInvalidSignature, nil},
				{"unknown_api_key", pairMD(newTestAPIKey(t), jwt), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsInvalid, nil},
				{"end_user_api_key", metadataCtx("x-api-key", f.exporterKey, "authorization", "Bearer "+f.noScopeKey), f.conn, codes.Unauthenticated, runtime.ReasonTokenRevoked, nil},
				{"two_authorization", metadataCtx("x-api-key", f.exporterKey, "authorization", "Bearer "+jwt, "authorization", "Bearer "+jwt), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMalformed, nil},
				{"two_api_keys", metadataCtx("x-api-key", f.exporterKey, "x-api-key", f.exporterKey2, "authorization", "Bearer "+jwt), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMalformed, nil},
				{"two_api_keys_only", metadataCtx("x-api-key", f.exporterKey, "x-api-key", f.exporterKey2), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMalformed, nil},
				{"bin_entry", metadataCtx("x-api-key", f.exporterKey, "authorization-bin", "Bearer "+jwt), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMalformed, nil},
				{"malformed_bearer", metadataCtx("x-api-key", f.exporterKey, "authorization", "Basic "+jwt), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMalformed, nil},
				{"malformed_api_key", metadataCtx("x-api-key", "has space", "authorization", "Bearer "+jwt), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMalformed, nil},
				{"plaintext", pairMD(f.exporterKey, jwt), f.plainConn, codes.Unauthenticated, runtime.ReasonTransportInsecure, nil},
			} {
				t.Run(k.name+"/"+c.name, func(t *testing.T) {
					e := f.denied(t, k, c.ctx, c.cc, c.code, c.reason)
					for key, want := range c.meta {
						if got := e.Metadata[key]; got != want {
							t.Errorf("metadata %s = %q; want %q", key, got, want)
						}
					}
				})
			}
		}
		f.noSecrets(t, jwt, noU, forged, f.exporterKey, f.exporterKey2)
	})
}

// TestSecurity48_PairElsewhereMalformed: an API key beside a bearer token
// is the pair a requirement with on_behalf_of expects, and nowhere else:
// on every method without one — of each kind, on unary and streaming
// calls, on the optional service too — it is CREDENTIALS_MALFORMED, and on
// the method whose end-user requirement takes a client certificate only,
// too.
func TestSecurity48_PairElsewhereMalformed(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newIdentitiesFixture(t, m, kindsOptions{})
		jwt := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s", "u"))
		for _, k := range append(append([]kindsCall{callJwt, callAPIKey, callMtls}, anyCalls...), callPublicChat) {
			if k.name == "PublicChat" {
				// Public: credentials are never read.
				f.wantPublic(t, k, pairMD(f.exporterKey, jwt), f.client)
				continue
			}
			f.wantDenied(t, k, pairMD(f.exporterKey, jwt), f.client, codes.Unauthenticated, runtime.ReasonCredentialsMalformed)
		}
		for _, k := range append(append([]idCall{}, optionalCalls...), callRequired, callEither) {
			f.denied(t, k, pairMD(f.exporterKey, jwt), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMalformed)
		}
	})
}

// TestOnBehalfOf_Condition: a condition reads both principals, on the
// decoded request (unary) and at stream open (bidi).
func TestOnBehalfOf_Condition(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newIdentitiesFixture(t, m, kindsOptions{})
		jwt := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("u"))
		f.allowed(t, callCheck, bearerMD(jwt), f.connA, onBehalf(runtime.MTLS, workloadA, runtime.BearerJWT, "alice"))
		f.denied(t, callCheck, withText(bearerMD(jwt), "bob"), f.connA, codes.PermissionDenied, runtime.ReasonConditionFailed)
		f.denied(t, callCheck, pairMD(f.exporterKey, jwt), f.conn, codes.PermissionDenied, runtime.ReasonConditionFailed)

		f.allowed(t, callChatCheck, pairMD(f.exporterKey, jwt), f.conn, onBehalf(runtime.APIKey, "exporter", runtime.BearerJWT, "alice"))
		f.denied(t, callChatCheck, bearerMD(jwt), f.connA, codes.PermissionDenied, runtime.ReasonConditionFailed)
		bob := f.iss.Mint(authtest.Subject("bob"), authtest.Scopes("u"))
		f.denied(t, callChatCheck, pairMD(f.exporterKey, bob), f.conn, codes.PermissionDenied, runtime.ReasonConditionFailed)
	})
}

// TestOnBehalfOf_Alternatives: a rule with a requirement on behalf of an
// end user (client certificate, any JWT) and one for the end user alone
// (JWT with scope s): a token over a connection with a certificate is the
// pair and needs no scope; without a certificate it is alone and needs s.
// An optional rule with the pair takes the pair or nothing, not a token
// alone.
func TestOnBehalfOf_Alternatives(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newIdentitiesFixture(t, m, kindsOptions{})
		plain := f.iss.Mint(authtest.Subject("alice"))
		withS := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s"))
		f.allowed(t, callEither, bearerMD(plain), f.connB, onBehalf(runtime.MTLS, workloadB, runtime.BearerJWT, "alice"))
		f.allowed(t, callEither, bearerMD(withS), f.conn, user(runtime.BearerJWT, "alice"))
		f.denied(t, callEither, bearerMD(plain), f.conn, codes.PermissionDenied, runtime.ReasonScopeInsufficient)
		// The certificate alone meets neither.
		f.denied(t, callEither, context.Background(), f.connA, codes.Unauthenticated, runtime.ReasonCredentialsMissing)

		user := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("u"))
		f.allowed(t, callOptionalUser, context.Background(), f.conn, anonymous())
		f.allowed(t, callOptionalUser, pairMD(f.exporterKey, user), f.conn, onBehalf(runtime.APIKey, "exporter", runtime.BearerJWT, "alice"))
		f.denied(t, callOptionalUser, bearerMD(user), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMissing)
		f.denied(t, callOptionalUser, apiKeyMD(f.exporterKey), f.conn, codes.Unauthenticated, runtime.ReasonCredentialsMissing)
	})
}

// TestOnBehalfOf_StreamEndsWithEndUserToken: a stream opened on behalf of
// an end user ends when the end user's token expires, though the
// workload's API key never does.
func TestOnBehalfOf_StreamEndsWithEndUserToken(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newIdentitiesFixture(t, m, kindsOptions{jwtOpts: []jwtauth.Option{jwtauth.Leeway(0)}})
		token := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("u"), authtest.ExpiresIn(1500*time.Millisecond))
		ctx, cancel := context.WithTimeout(pairMD(f.exporterKey, token), 20*time.Second)
		defer cancel()
		s, err := f.conn.NewStream(ctx, bidiStreamDesc, grpcauthtestv1.Delegated_Chat_FullMethodName)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SendMsg(&grpcauthtestv1.Msg{Text: "hi"}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecvMsg(new(grpcauthtestv1.Msg)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = s.RecvMsg(new(grpcauthtestv1.Msg)) // idle until the server ends it
		wantDenied(t, err, codes.Unauthenticated, runtime.ReasonTokenExpired)
		if time.Since(start) > 10*time.Second {
			t.Errorf("the stream ended after %s", time.Since(start))
		}
	})
}

// TestClient_Optional: the generated client calls an optional method
// with the credential it holds, and without one when it holds none (no
// preflight refusal).
func TestClient_Optional(t *testing.T) {
	f := newIdentitiesFixture(t, modeRegister, kindsOptions{})
	anon := grpcauthtestv1.NewOptionalAuthClient(f.conn, &runtime.ClientCredentials{})
	if _, err := anon.Get(context.Background(), &grpcauthtestv1.Msg{}); err != nil {
		t.Fatal(err)
	}
	if got := f.rec.lastSeen(); got.hasPrincipal {
		t.Errorf("handler saw %+v; want no principal", got)
	}
	if _, err := anon.Required(context.Background(), &grpcauthtestv1.Msg{}); !isLocal(err, runtime.ReasonCredentialsMissing) {
		t.Errorf("Required without credentials: %v; want a local CREDENTIALS_MISSING", err)
	}
	signed := grpcauthtestv1.NewOptionalAuthClient(f.conn, &runtime.ClientCredentials{TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: f.iss.Mint(authtest.Scopes("s"))})})
	s, err := signed.Watch(context.Background(), &grpcauthtestv1.Msg{})
	if err != nil {
		t.Fatal(err)
	}
	if err := drainStream(s.Recv); err != nil {
		t.Fatal(err)
	}
	if got := f.rec.lastSeen(); got.kind != runtime.BearerJWT || got.subject != "alice" {
		t.Errorf("handler saw %+v; want alice's JWT", got)
	}
}

func isLocal(err error, reason runtime.Reason) bool {
	e, ok := runtime.FromError(err)
	return ok && e.Local && e.Reason == reason
}

// TestClient_OnBehalfOf: the generated client sends the workload's API key
// (or relies on its connection's certificate) with the end user's token
// from runtime.OnBehalfOf, unary and streaming; it refuses before sending
// when the call has no end user, when it holds no workload credential, and
// when the end user's token source fails; methods without an end-user
// requirement are called as before.
func TestClient_OnBehalfOf(t *testing.T) {
	f := newIdentitiesFixture(t, modeRegister, kindsOptions{})
	token := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s", "u"))
	asAlice := runtime.OnBehalfOf(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))

	desk := grpcauthtestv1.NewDelegatedAuthClient(f.conn, &runtime.ClientCredentials{APIKey: f.exporterKey})
	if _, err := desk.Get(asAlice, &grpcauthtestv1.Msg{}); err != nil {
		t.Fatal(err)
	}
	if got, want := f.rec.lastSeen(), onBehalf(runtime.APIKey, "exporter", runtime.BearerJWT, "alice"); got.subject != want.subject || got.workloadSubject != want.workloadSubject || got.workloadKind != runtime.APIKey {
		t.Errorf("handler saw %+v; want %+v", got, want)
	}
	chat, err := desk.Chat(asAlice)
	if err != nil {
		t.Fatal(err)
	}
	_ = chat.Send(&grpcauthtestv1.Msg{})
	_ = chat.CloseSend()
	if err := drainStream(chat.Recv); err != nil {
		t.Fatal(err)
	}

	certDesk := grpcauthtestv1.NewDelegatedAuthClient(f.connA, &runtime.ClientCredentials{ClientCertificate: true})
	w, err := certDesk.Watch(asAlice, &grpcauthtestv1.Msg{})
	if err != nil {
		t.Fatal(err)
	}
	if err := drainStream(w.Recv); err != nil {
		t.Fatal(err)
	}
	if got := f.rec.lastSeen(); got.workloadKind != runtime.MTLS || got.workloadSubject != workloadA || got.subject != "alice" {
		t.Errorf("handler saw %+v; want workload A for alice", got)
	}

	before := f.rec.calls.Load()
	// No end user: the method is callable only on behalf of one.
	_, err = desk.Get(context.Background(), &grpcauthtestv1.Msg{})
	if !isLocal(err, runtime.ReasonCredentialsMissing) || !strings.Contains(err.Error(), "runtime.OnBehalfOf") {
		t.Errorf("Get without an end user: %v; want a local CREDENTIALS_MISSING naming runtime.OnBehalfOf", err)
	}
	// No workload credential.
	none := grpcauthtestv1.NewDelegatedAuthClient(f.conn, &runtime.ClientCredentials{TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})})
	_, err = none.Get(asAlice, &grpcauthtestv1.Msg{})
	if e, _ := runtime.FromError(err); !isLocal(err, runtime.ReasonCredentialsMissing) || e.Metadata["accepted_kinds"] != "MTLS,API_KEY" {
		t.Errorf("Get without a workload credential: %v; want a local CREDENTIALS_MISSING naming MTLS,API_KEY", err)
	}
	if _, err := none.Watch(asAlice, &grpcauthtestv1.Msg{}); !isLocal(err, runtime.ReasonCredentialsMissing) {
		t.Errorf("Watch without a workload credential: %v; want a local CREDENTIALS_MISSING", err)
	}
	// The end user's token source fails, or yields an expired token.
	failing := runtime.OnBehalfOf(context.Background(), failingSource{})
	if _, err := desk.Get(failing, &grpcauthtestv1.Msg{}); !isLocal(err, runtime.ReasonCredentialsMissing) {
		t.Errorf("Get with a failing end user: %v; want a local CREDENTIALS_MISSING", err)
	}
	expired := runtime.OnBehalfOf(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, Expiry: time.Now().Add(-time.Minute)}))
	if _, err := desk.Get(expired, &grpcauthtestv1.Msg{}); !isLocal(err, runtime.ReasonCredentialsMissing) {
		t.Errorf("Get with an expired end user token: %v; want a local CREDENTIALS_MISSING", err)
	}
	// Plaintext: neither the key nor the token is sent.
	plainDesk := grpcauthtestv1.NewDelegatedAuthClient(f.plainConn, &runtime.ClientCredentials{APIKey: f.exporterKey})
	if _, err := plainDesk.Get(asAlice, &grpcauthtestv1.Msg{}); !isLocal(err, runtime.ReasonTransportInsecure) {
		t.Errorf("Get over plaintext: %v; want a local TRANSPORT_INSECURE", err)
	}
	if n := f.rec.calls.Load() - before; n != 0 {
		t.Errorf("%d refused calls reached a handler", n)
	}
	// Either takes the end user alone too: without an end user in the
	// context, the client's own token is sent.
	user := grpcauthtestv1.NewDelegatedAuthClient(f.conn, &runtime.ClientCredentials{TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})})
	if _, err := user.Either(context.Background(), &grpcauthtestv1.Msg{}); err != nil {
		t.Fatal(err)
	}
	if got := f.rec.lastSeen(); got.hasWorkload || got.subject != "alice" {
		t.Errorf("handler saw %+v; want alice alone", got)
	}
	// A method without an end-user requirement ignores the end user.
	kinds := grpcauthtestv1.NewKindsAuthClient(f.conn, &runtime.ClientCredentials{APIKey: f.exporterKey})
	if _, err := kinds.ApiKey(asAlice, &grpcauthtestv1.Msg{}); err != nil {
		t.Fatal(err)
	}
	if got := f.impl.lastSeen(); got.kind != runtime.APIKey || got.subject != "exporter" {
		t.Errorf("ApiKey saw %+v; want the exporter's key", got)
	}
}

type failingSource struct{}

func (failingSource) Token() (*oauth2.Token, error) {
	return nil, status.Error(codes.Internal, "no token")
}

// TestSecurity76_OnBehalfOfRevoked: an end user's JWT revoked by jti, or
// by subject before it was issued, is refused on behalf of that user as it
// is alone: TOKEN_REVOKED, on unary and streaming calls, whichever the
// workload; the workload's own credential does not stand in for it.
func TestSecurity76_OnBehalfOfRevoked(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		store := newRevocations(t)
		f := newIdentitiesFixture(t, m, kindsOptions{enforcerOpts: []runtime.Option{runtime.WithRevocation(store)}})
		byJTI := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("u"), authtest.Claim("jti", "alice-desk-1"))
		old := f.iss.Mint(authtest.Subject("bob"), authtest.Scopes("u"), authtest.IssuedAt(time.Now().Add(-time.Minute)))
		for _, k := range delegatedCalls {
			f.allowed(t, k, pairMD(f.exporterKey, byJTI), f.conn, onBehalf(runtime.APIKey, "exporter", runtime.BearerJWT, "alice"))
		}
		if err := store.RevokeToken(t.Context(), f.iss.URL(), "alice-desk-1", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := store.RevokeSubject(t.Context(), f.iss.URL(), "bob", time.Now()); err != nil {
			t.Fatal(err)
		}
		for _, k := range delegatedCalls {
			for _, c := range []struct {
				name string
				ctx  context.Context
				cc   grpc.ClientConnInterface
			}{
				{"jti, api key", pairMD(f.exporterKey, byJTI), f.conn},
				{"jti, certificate", bearerMD(byJTI), f.connA},
				{"subject, api key", pairMD(f.exporterKey, old), f.conn},
			} {
				t.Run(k.name+"/"+c.name, func(t *testing.T) {
					f.denied(t, k, c.ctx, c.cc, codes.Unauthenticated, runtime.ReasonTokenRevoked)
				})
			}
		}
		f.noSecrets(t, byJTI, old, f.exporterKey)
	})
}

// TestOnBehalfOf_StreamRecheckBoth: an open stream on behalf of an end user
// is rechecked with both credentials: it ends with CREDENTIALS_INVALID once
// the workload's API key is removed by a reload, though the end user's
// token still verifies, and with TOKEN_REVOKED once the end user's opaque
// token is reported inactive, though the workload's key still verifies.
func TestOnBehalfOf_StreamRecheckBoth(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		keyFile := filepath.Join(t.TempDir(), "keys.json")
		deskKey, otherKey := newTestAPIKey(t), newTestAPIKey(t)
		desk := apikey.Client{Name: "desk", Scopes: []string{"s"}, KeySHA256: []string{apikey.Hash(deskKey)}}
		other := apikey.Client{Name: "other", Scopes: []string{"s"}, KeySHA256: []string{apikey.Hash(otherKey)}}
		writeAPIKeyFile(t, keyFile, desk, other)
		store, err := apikey.LoadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		f := newIdentitiesFixture(t, m, kindsOptions{
			keys:              store,
			introspectionOpts: []introspection.Option{introspection.CacheTTL(time.Second)},
			enforcerOpts:      []runtime.Option{runtime.WithStreamRecheck(runtime.MinStreamRecheck)},
		})
		open := func(md context.Context) grpc.ClientStream {
			ctx, cancel := context.WithTimeout(md, 30*time.Second)
			t.Cleanup(cancel)
			s, err := f.conn.NewStream(ctx, bidiStreamDesc, grpcauthtestv1.Delegated_Chat_FullMethodName)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SendMsg(&grpcauthtestv1.Msg{Text: "hi"}); err != nil {
				t.Fatal(err)
			}
			if err := s.RecvMsg(new(grpcauthtestv1.Msg)); err != nil {
				t.Fatal(err)
			}
			return s
		}
		jwt := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("u"))
		opaque := f.in.Issue("bob", []string{"u"}, "library", time.Hour, nil)
		workloadGone := open(pairMD(deskKey, jwt))
		userGone := open(pairMD(otherKey, opaque))
		kept := open(pairMD(otherKey, jwt))

		writeAPIKeyFile(t, keyFile, other)
		if err := store.Reload(); err != nil {
			t.Fatal(err)
		}
		f.in.Revoke(opaque)
		wantDenied(t, workloadGone.RecvMsg(new(grpcauthtestv1.Msg)), codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
		wantDenied(t, userGone.RecvMsg(new(grpcauthtestv1.Msg)), codes.Unauthenticated, runtime.ReasonTokenRevoked)
		if err := kept.SendMsg(&grpcauthtestv1.Msg{Text: "still"}); err != nil {
			t.Fatal(err)
		}
		if err := kept.RecvMsg(new(grpcauthtestv1.Msg)); err != nil {
			t.Fatalf("the stream whose credentials both still verify: %v", err)
		}
	})
}

// TestNilAuthenticatorRefused: an authenticator option given a nil one,
// or a nil pointer of an authenticator's type, is a configuration error
// from NewEnforcer, not a panic there or at the first call.
func TestNilAuthenticatorRefused(t *testing.T) {
	for name, opt := range map[string]runtime.Option{
		"WithJWT(nil)":                                    runtime.WithJWT(nil),
		"WithJWT((*jwtauth.Authenticator)(nil))":          runtime.WithJWT((*jwtauth.Authenticator)(nil)),
		"WithOAuth2((*introspection.Authenticator)(nil))": runtime.WithOAuth2((*introspection.Authenticator)(nil)),
		"WithAPIKeys((*apikey.Store)(nil))":               runtime.WithAPIKeys((*apikey.Store)(nil)),
	} {
		if _, err := runtime.NewEnforcer(runtime.WithLogger(nil), opt); !errors.Is(err, runtime.ErrInvalidOption) {
			t.Errorf("NewEnforcer(%s) = %v; want an error wrapping ErrInvalidOption", name, err)
		}
	}
}
