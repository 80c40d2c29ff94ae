// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// rolloutServer answers with the caller the handler saw.
type rolloutServer struct {
	grpcauthtestv1.UnimplementedRolloutServer
	calls atomic.Int64
}

func callerOf(ctx context.Context) string {
	if p, ok := runtime.PrincipalFrom(ctx); ok {
		return p.Subject
	}
	return "anonymous"
}

func (s *rolloutServer) Get(ctx context.Context, _ *grpcauthtestv1.RolloutRequest) (*grpcauthtestv1.RolloutReply, error) {
	s.calls.Add(1)
	return &grpcauthtestv1.RolloutReply{Caller: callerOf(ctx)}, nil
}

func (s *rolloutServer) Secure(ctx context.Context, r *grpcauthtestv1.RolloutRequest) (*grpcauthtestv1.RolloutReply, error) {
	return s.Get(ctx, r)
}

func (s *rolloutServer) Enforced(ctx context.Context, r *grpcauthtestv1.RolloutRequest) (*grpcauthtestv1.RolloutReply, error) {
	return s.Get(ctx, r)
}

func (s *rolloutServer) Watch(_ *grpcauthtestv1.RolloutRequest, stream grpc.ServerStreamingServer[grpcauthtestv1.RolloutReply]) error {
	s.calls.Add(1)
	return stream.Send(&grpcauthtestv1.RolloutReply{Caller: callerOf(stream.Context())})
}

func (s *rolloutServer) Chat(stream grpc.BidiStreamingServer[grpcauthtestv1.RolloutRequest, grpcauthtestv1.RolloutReply]) error {
	s.calls.Add(1)
	for {
		if _, err := stream.Recv(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if err := stream.Send(&grpcauthtestv1.RolloutReply{Caller: callerOf(stream.Context())}); err != nil {
			return err
		}
	}
}

// registerRollout registers impl's Rollout service in mode m.
func registerRollout(impl *rolloutServer) func(*grpc.Server, mode, *runtime.Enforcer) {
	return func(s *grpc.Server, m mode, enf *runtime.Enforcer) {
		switch m {
		case modeRegister:
			grpcauthtestv1.RegisterRolloutServerWithAuth(s, impl, enf)
		case modeWrapper:
			grpcauthtestv1.RegisterRolloutServer(s, grpcauthtestv1.NewRolloutServerWithAuth(impl, enf))
		case modeInterceptor:
			if err := enf.AddRules(grpcauthtestv1.RolloutAuthRules); err != nil {
				panic(err)
			}
			grpcauthtestv1.RegisterRolloutServer(s, impl)
		}
	}
}

// rolloutCall calls one Rollout method and returns the caller the handler
// saw.
type rolloutCall struct {
	name   string
	method string
	call   func(ctx context.Context, c grpcauthtestv1.RolloutClient, shelf string) (string, error)
}

var rolloutCalls = []rolloutCall{
	{"unary", grpcauthtestv1.Rollout_Get_FullMethodName, func(ctx context.Context, c grpcauthtestv1.RolloutClient, shelf string) (string, error) {
		r, err := c.Get(ctx, &grpcauthtestv1.RolloutRequest{Shelf: shelf})
		return r.GetCaller(), err
	}},
	{"server-streaming", grpcauthtestv1.Rollout_Watch_FullMethodName, func(ctx context.Context, c grpcauthtestv1.RolloutClient, shelf string) (string, error) {
		s, err := c.Watch(ctx, &grpcauthtestv1.RolloutRequest{Shelf: shelf})
		if err != nil {
			return "", err
		}
		r, err := s.Recv()
		if err != nil {
			return "", err
		}
		return r.GetCaller(), recvAll(s.Recv)
	}},
	{"bidi-streaming", grpcauthtestv1.Rollout_Chat_FullMethodName, func(ctx context.Context, c grpcauthtestv1.RolloutClient, shelf string) (string, error) {
		s, err := c.Chat(ctx)
		if err != nil {
			return "", err
		}
		if err := s.Send(&grpcauthtestv1.RolloutRequest{Shelf: shelf}); err != nil {
			return "", err
		}
		r, err := s.Recv()
		if err != nil {
			return "", err
		}
		if err := s.CloseSend(); err != nil {
			return "", err
		}
		return r.GetCaller(), recvAll(s.Recv)
	}},
}

// TestDryRunEveryReason: in dry-run (declared in the .proto), a call that
// would be denied for any reason proceeds as a success for the caller; the
// handler sees a principal only when the credential verified; the audit
// event and the log line record would_deny with the reason and one
// decision id. On unary, server- and bidi-streaming calls, on every path.
func TestDryRunEveryReason(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			impl := &rolloutServer{}
			f := newKindsFixture(t, m, kindsOptions{extra: registerRollout(impl)})
			attacker := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
			tls := grpcauthtestv1.NewRolloutClient(f.conn)
			plain := grpcauthtestv1.NewRolloutClient(f.plainConn)
			jwt := func(opts ...authtest.TokenOption) func() context.Context {
				return func() context.Context {
					return bearerMD(f.iss.Mint(append([]authtest.TokenOption{authtest.Subject("alice"), authtest.Scopes("s")}, opts...)...))
				}
			}
			opaque := func(revoked bool) func() context.Context {
				return func() context.Context {
					tok := f.in.Issue("alice", []string{"s"}, "library", time.Hour, nil)
					if revoked {
						f.in.Revoke(tok)
					}
					return bearerMD(tok)
				}
			}
			rows := []struct {
				reason runtime.Reason
				ctx    func() context.Context
				client grpcauthtestv1.RolloutClient
				shelf  string
				only   string // a call's name: the row is for that call alone
				caller string // what the handler sees
				setup  func() (undo func())
			}{
				{reason: runtime.ReasonCredentialsMissing, ctx: context.Background, client: tls, caller: "anonymous"},
				{reason: runtime.ReasonCredentialsMalformed, ctx: func() context.Context { return metadataCtx("authorization", "Basic YWxpY2U6cHc=") }, client: tls, caller: "anonymous"},
				{reason: runtime.ReasonTokenExpired, ctx: jwt(authtest.ExpiresIn(-time.Hour)), client: tls, caller: "anonymous"},
				{reason: runtime.ReasonTokenNotYetValid, ctx: jwt(authtest.NotBefore(time.Now().Add(time.Hour))), client: tls, caller: "anonymous"},
				{reason: runtime.ReasonTokenInvalidSignature, ctx: func() context.Context {
					return bearerMD(attacker.Mint(authtest.Subject("alice"), authtest.Scopes("s"), authtest.IssuerClaim(f.iss.URL())))
				}, client: tls, caller: "anonymous"},
				{reason: runtime.ReasonTokenRevoked, ctx: opaque(true), client: tls, caller: "anonymous"},
				{reason: runtime.ReasonIssuerUntrusted, ctx: func() context.Context {
					return bearerMD(attacker.Mint(authtest.Subject("alice"), authtest.Scopes("s")))
				}, client: tls, caller: "anonymous"},
				{reason: runtime.ReasonAudienceMismatch, ctx: jwt(authtest.Audience("billing")), client: tls, caller: "anonymous"},
				{reason: runtime.ReasonCredentialsInvalid, ctx: jwt(authtest.Claim("cnf", map[string]any{"x5t#S256": certThumbprint(f.certB)})), client: tls, caller: "anonymous"},
				{reason: runtime.ReasonClaimsInvalid, ctx: jwt(authtest.Without("sub")), client: tls, caller: "anonymous"},
				{reason: runtime.ReasonCredentialKindNotAccepted, ctx: func() context.Context { return apiKeyMD(f.exporterKey) }, client: tls, caller: "anonymous"},
				{reason: runtime.ReasonTransportInsecure, ctx: jwt(), client: plain, caller: "anonymous"},
				{reason: runtime.ReasonScopeInsufficient, ctx: jwt(authtest.Scopes("other")), client: tls, caller: "alice"},
				{reason: runtime.ReasonConditionFailed, ctx: jwt(), client: tls, shelf: "forbidden", only: "unary", caller: "alice"},
				{reason: runtime.ReasonConditionFailed, ctx: jwt(), client: tls, shelf: "forbidden", only: "server-streaming", caller: "alice"},
				{reason: runtime.ReasonConditionFailed, ctx: jwt(authtest.Subject("forbidden")), client: tls, only: "bidi-streaming", caller: "forbidden"},
				{reason: runtime.ReasonAuthBackendUnavailable, ctx: opaque(false), client: tls, caller: "anonymous", setup: func() func() {
					f.in.FailWith(http.StatusInternalServerError)
					return func() { f.in.FailWith(0) }
				}},
			}
			covered := map[runtime.Reason]bool{runtime.ReasonMethodNotDeclared: true} // TestUndeclaredDryRun
			for _, r := range rows {
				covered[r.reason] = true
				for _, c := range rolloutCalls {
					if r.only != "" && r.only != c.name {
						continue
					}
					t.Run(string(r.reason)+"/"+c.name, func(t *testing.T) {
						if r.setup != nil {
							defer r.setup()()
						}
						before := impl.calls.Load()
						ctx, cancel := context.WithTimeout(r.ctx(), 10*time.Second)
						defer cancel()
						caller, err := c.call(ctx, r.client, r.shelf)
						if err != nil {
							t.Fatalf("call failed: %v; in dry-run it proceeds", err)
						}
						if impl.calls.Load() != before+1 {
							t.Fatalf("the handler ran %d times; want once", impl.calls.Load()-before)
						}
						if caller != r.caller {
							t.Errorf("the handler saw %q; want %q", caller, r.caller)
						}
						ev, ok := f.lastDecision(c.method)
						if !ok || ev.Outcome != runtime.OutcomeWouldDeny || ev.Reason != r.reason || !ev.DryRun || ev.DecisionID == 0 || ev.Code != r.reason.Code() {
							t.Fatalf("audit event = %+v; want would_deny %s in dry-run", ev, r.reason)
						}
						line := logLine(f.log.String(), "decision_id="+ev.DecisionID.String())
						for _, want := range []string{"would be denied", "reason=" + string(r.reason), "method=" + c.method, "dry_run=true"} {
							if !strings.Contains(line, want) {
								t.Errorf("log line %q lacks %q", line, want)
							}
						}
					})
				}
			}
			for _, reason := range runtime.Reasons() {
				if !covered[reason] {
					t.Errorf("no dry-run row for %s", reason)
				}
			}
			// TLS_REQUIRED without a credential, and dry_run: false.
			if caller, err := plain.Secure(context.Background(), &grpcauthtestv1.RolloutRequest{}); err != nil || caller.GetCaller() != "anonymous" {
				t.Errorf("Secure over plaintext = %v, %v; want it to proceed", caller, err)
			}
			if ev, _ := f.lastDecision(grpcauthtestv1.Rollout_Secure_FullMethodName); ev.Reason != runtime.ReasonTransportInsecure || ev.Outcome != runtime.OutcomeWouldDeny {
				t.Errorf("Secure audit = %+v", ev)
			}
			_, err := tls.Enforced(context.Background(), &grpcauthtestv1.RolloutRequest{})
			wantDenied(t, err, codes.Unauthenticated, runtime.ReasonCredentialsMissing)
			// An allowed call in dry-run is an ordinary allow, marked dry-run.
			if r, err := tls.Get(jwt()(), &grpcauthtestv1.RolloutRequest{}); err != nil || r.GetCaller() != "alice" {
				t.Fatalf("allowed call = %v, %v", r, err)
			}
			if ev, _ := f.lastDecision(grpcauthtestv1.Rollout_Get_FullMethodName); ev.Outcome != runtime.OutcomeAllow || !ev.DryRun || ev.Subject != "alice" {
				t.Errorf("allowed audit = %+v", ev)
			}
		})
	}
}

// logLine returns the line of log that contains s, or "".
func logLine(log, s string) string {
	for l := range strings.Lines(log) {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestDryRunServerOption: WithDryRun puts a method in dry-run from server
// configuration (exact names and "/pkg.Service/*"); without it the same
// call is denied; the startup log says which methods run in dry-run.
func TestDryRunServerOption(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			f := newKindsFixture(t, m, kindsOptions{enforcerOpts: []runtime.Option{runtime.WithDryRun(grpcauthtestv1.Kinds_Jwt_FullMethodName)}})
			noScope := bearerMD(f.iss.Mint(authtest.Subject("alice")))
			if _, err := f.client.Jwt(noScope, &grpcauthtestv1.Msg{}); err != nil {
				t.Fatalf("Jwt in dry-run: %v", err)
			}
			if got := f.impl.lastSeen(); !got.hasPrincipal || got.subject != "alice" {
				t.Errorf("the handler saw %+v; want alice's principal (a missing scope keeps it)", got)
			}
			if ev, _ := f.lastDecision(grpcauthtestv1.Kinds_Jwt_FullMethodName); ev.Outcome != runtime.OutcomeWouldDeny || ev.Reason != runtime.ReasonScopeInsufficient {
				t.Errorf("audit = %+v", ev)
			}
			// Another method of the service is enforced.
			_, err := f.client.Any(noScope, &grpcauthtestv1.Msg{})
			wantDenied(t, err, codes.PermissionDenied, runtime.ReasonScopeInsufficient)
			startup := logLine(f.log.String(), "method="+grpcauthtestv1.Kinds_Jwt_FullMethodName+" by=")
			if !strings.Contains(startup, "dry-run") || !strings.Contains(startup, "WithDryRun") {
				t.Errorf("no startup line names the dry-run method:\n%s", f.log.String())
			}
		})
	}
	t.Run("service", func(t *testing.T) {
		f := newKindsFixture(t, modeRegister, kindsOptions{enforcerOpts: []runtime.Option{runtime.WithDryRun("/grpcauthtest.v1.Kinds/*")}})
		for _, k := range anyCalls {
			before := f.impl.calls.Load()
			if err := k.call(context.Background(), f.client); err != nil {
				t.Fatalf("%s: %v", k.name, err)
			}
			if f.impl.calls.Load() != before+1 {
				t.Errorf("%s: the handler did not run", k.name)
			}
		}
	})
	for _, bad := range []string{"", "Kinds/Jwt", "/grpcauthtest.v1.Kinds", "/grpcauthtest.v1.Kinds/", "//Jwt", "/a/b/c"} {
		if _, err := runtime.NewEnforcer(runtime.WithDryRun(bad)); !errors.Is(err, runtime.ErrInvalidOption) {
			t.Errorf("WithDryRun(%q) = %v; want ErrInvalidOption", bad, err)
		}
	}
}

// TestUndeclaredDryRun: methods without a rule are denied unless the
// server asks for WithUndeclaredDryRun (or names them in WithDryRun); then
// they are observed: would_deny METHOD_NOT_DECLARED, the call proceeds,
// with no principal even when a valid credential was sent.
func TestUndeclaredDryRun(t *testing.T) {
	check := func(t *testing.T, opts []runtime.Option, wantProceed bool) {
		t.Helper()
		var calls atomic.Int64
		f := newKindsFixture(t, modeInterceptor, kindsOptions{enforcerOpts: opts, extra: func(s *grpc.Server, _ mode, _ *runtime.Enforcer) {
			h := health.NewServer()
			healthpb.RegisterHealthServer(s, &countingHealth{HealthServer: h, calls: &calls})
		}})
		token := bearerMD(f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s")))
		_, err := healthpb.NewHealthClient(f.conn).Check(token, &healthpb.HealthCheckRequest{})
		ev, _ := f.lastDecision("/grpc.health.v1.Health/Check")
		if !wantProceed {
			wantDenied(t, err, codes.PermissionDenied, runtime.ReasonMethodNotDeclared)
			if calls.Load() != 0 || ev.Outcome != runtime.OutcomeDeny {
				t.Errorf("handler calls %d, audit %+v; want a denial", calls.Load(), ev)
			}
			return
		}
		if err != nil || calls.Load() != 1 {
			t.Fatalf("Check = %v, handler calls %d; want it to proceed", err, calls.Load())
		}
		if ev.Outcome != runtime.OutcomeWouldDeny || ev.Reason != runtime.ReasonMethodNotDeclared || ev.Subject != "" || ev.FullMethod != "/grpc.health.v1.Health/Check" {
			t.Errorf("audit = %+v; want would_deny METHOD_NOT_DECLARED without a subject", ev)
		}
		if line := logLine(f.log.String(), "decision_id="+ev.DecisionID.String()); !strings.Contains(line, "would be denied") {
			t.Errorf("log line = %q", line)
		}
	}
	t.Run("denied by default", func(t *testing.T) { check(t, nil, false) })
	t.Run("WithUndeclaredDryRun", func(t *testing.T) { check(t, []runtime.Option{runtime.WithUndeclaredDryRun()}, true) })
	t.Run("named", func(t *testing.T) { check(t, []runtime.Option{runtime.WithDryRun("/grpc.health.v1.Health/*")}, true) })
	t.Run("another named", func(t *testing.T) {
		check(t, []runtime.Option{runtime.WithDryRun("/grpc.health.v1.Health/Watch")}, false)
	})
}

// countingHealth counts the handler's calls and checks it sees no principal.
type countingHealth struct {
	healthpb.HealthServer
	calls *atomic.Int64
}

func (h *countingHealth) Check(ctx context.Context, r *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if _, ok := runtime.PrincipalFrom(ctx); ok {
		return nil, errors.New("an undeclared method's handler saw a principal")
	}
	h.calls.Add(1)
	return h.HealthServer.Check(ctx, r)
}

// TestDryRunStreamExpiry: a dry-run stream whose credential expires goes
// on; its would-be end is reported once.
func TestDryRunStreamExpiry(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	impl := &rolloutServer{}
	f := newKindsFixture(t, modeRegister, kindsOptions{extra: registerRollout(impl), jwtOpts: []jwtauth.Option{jwtauth.Clock(clock)}})
	c := grpcauthtestv1.NewRolloutClient(f.conn)
	ctx, cancel := context.WithTimeout(bearerMD(f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s"), authtest.ExpiresIn(time.Minute))), 10*time.Second)
	defer cancel()
	s, err := c.Chat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// One message first: the stream is decided when it reaches the server.
	if err := s.Send(&grpcauthtestv1.RolloutRequest{}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Recv(); err != nil || r.GetCaller() != "alice" {
		t.Fatalf("first message: %v, %v", r, err)
	}
	now.Add(int64(time.Hour))
	for i := range 3 {
		if err := s.Send(&grpcauthtestv1.RolloutRequest{}); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Recv(); err != nil || r.GetCaller() != "alice" {
			t.Fatalf("message %d after expiry: %v, %v; want the stream to go on", i, r, err)
		}
	}
	_ = s.CloseSend()
	if err := recvAll(s.Recv); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range f.decisions.all() {
		if ev.FullMethod == grpcauthtestv1.Rollout_Chat_FullMethodName && ev.Reason == runtime.ReasonTokenExpired {
			n++
			if ev.Outcome != runtime.OutcomeWouldDeny {
				t.Errorf("expiry event %+v; want would_deny", ev)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d expiry events; want 1", n)
	}
}
