// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
)

// faults is a Faults service whose handlers must never run: every
// method's condition fails to evaluate.
type faults struct {
	grpcauthtestv1.UnimplementedFaultsServer
}

type faultsFixture struct {
	iss       *authtest.Issuer
	client    grpcauthtestv1.FaultsClient
	log       *syncBuffer
	decisions *decisionLog
}

// newFaultsFixture serves Faults over TLS in mode m, logging to f.log
// (debug level, so that nothing is filtered out) and auditing to
// f.decisions.
func newFaultsFixture(t testing.TB, m mode) *faultsFixture {
	t.Helper()
	f := &faultsFixture{iss: authtest.NewIssuer(t, authtest.DefaultAudience("library")), log: &syncBuffer{}, decisions: &decisionLog{}}
	opts := []runtime.Option{
		runtime.WithJWT(mustJWT(t, f.iss)),
		runtime.WithLogger(slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		auditAll(f.decisions),
	}
	if m == modeInterceptor {
		opts = append(opts, runtime.WithRules(grpcauthtestv1.FaultsAuthRules))
	}
	enf, err := runtime.NewEnforcer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, "faults CA")
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	serverOpts := []grpc.ServerOption{grpc.Creds(credentials.NewTLS(serverTLS))}
	if m == modeInterceptor {
		serverOpts = append(serverOpts, grpc.ChainUnaryInterceptor(enf.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(enf.StreamServerInterceptor()))
	}
	impl := &faults{}
	lis := serve(t, func(s *grpc.Server) {
		switch m {
		case modeRegister:
			grpcauthtestv1.RegisterFaultsServerWithAuth(s, impl, enf)
		case modeWrapper:
			grpcauthtestv1.RegisterFaultsServer(s, grpcauthtestv1.NewFaultsServerWithAuth(impl, enf))
		case modeInterceptor:
			grpcauthtestv1.RegisterFaultsServer(s, impl)
		}
	}, serverOpts...)
	f.client = grpcauthtestv1.NewFaultsClient(dial(t, lis, credentials.NewTLS(withServerName(ca.ClientTLS()))))
	return f
}

// Values that must never leave the call: in the request (a field, a map
// key and value, a list element, numbers) and in the token (a claim's
// value, a claim's name and its value).
const (
	secretRequestText  = "SECRET-REQ-VALUE-123"
	secretMapKey       = "SECRET-MAP-KEY-456"
	secretMapValue     = "SECRET-MAP-VALUE-654"
	secretItem         = "SECRET-ITEM-VALUE-111"
	secretIndex        = 987654321
	secretLarge        = 1<<62 + 12345
	secretClaimValue   = "SECRET-CLAIM-VALUE-789"
	secretClaimKey     = "SECRET-CLAIM-KEY-321"
	secretClaimKeyData = "SECRET-CLAIM-VALUE-987"
)

var conditionSecrets = []string{
	secretRequestText, secretMapKey, secretMapValue, secretItem,
	fmt.Sprint(secretIndex), fmt.Sprint(int64(secretLarge)),
	secretClaimValue, secretClaimKey, secretClaimKeyData,
	"SECRET", // any of them, cut short
}

// TestConditionErrorsHoldNoValues: a condition that fails to evaluate
// — a missing map key, a missing claim, division by zero, an overflow, a
// bad conversion, an index out of range, no matching overload, the cost
// limit — is 7 CONDITION_FAILED whose log line and audit detail say what
// kind of error it was and where in the condition, and neither they nor
// the status hold a value of the request or the token.
func TestConditionErrorsHoldNoValues(t *testing.T) {
	type unaryFn = func(grpcauthtestv1.FaultsClient, context.Context, *grpcauthtestv1.FaultRequest, ...grpc.CallOption) (*grpcauthtestv1.FaultResponse, error)
	unary := func(fn unaryFn) func(context.Context, grpcauthtestv1.FaultsClient, *grpcauthtestv1.FaultRequest) error {
		return func(ctx context.Context, c grpcauthtestv1.FaultsClient, r *grpcauthtestv1.FaultRequest) error {
			_, err := fn(c, ctx, r)
			return err
		}
	}
	many := make([]string, 1500) // every pair: far over the cost limit
	for i := range many {
		many[i] = fmt.Sprintf("%s-%d", secretItem, i)
	}
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			f := newFaultsFixture(t, m)
			token := f.iss.Mint(authtest.Subject("alice"), authtest.Claim("tenant", secretClaimValue), authtest.Claim(secretClaimKey, secretClaimKeyData))
			for _, c := range []struct {
				method string
				call   func(context.Context, grpcauthtestv1.FaultsClient, *grpcauthtestv1.FaultRequest) error
				req    *grpcauthtestv1.FaultRequest
				want   string // the kind and the position
			}{
				{"MissingRequestKey", unary(grpcauthtestv1.FaultsClient.MissingRequestKey), &grpcauthtestv1.FaultRequest{Text: secretRequestText, Labels: map[string]string{secretMapKey: secretMapValue}}, "no such key (1:15)"},
				{"MissingRequestKeys", unary(grpcauthtestv1.FaultsClient.MissingRequestKeys), &grpcauthtestv1.FaultRequest{Labels: map[string]string{secretMapKey: secretMapValue}}, "no such key (1:37)"},
				{"MissingClaimKey", unary(grpcauthtestv1.FaultsClient.MissingClaimKey), &grpcauthtestv1.FaultRequest{Text: secretRequestText}, "no such key (1:17)"},
				{"MissingClaimKeys", unary(grpcauthtestv1.FaultsClient.MissingClaimKeys), &grpcauthtestv1.FaultRequest{}, "no such key (1:67)"},
				{"MissingClaimValue", unary(grpcauthtestv1.FaultsClient.MissingClaimValue), &grpcauthtestv1.FaultRequest{}, "no such key (1:17)"},
				{"DivideByZero", unary(grpcauthtestv1.FaultsClient.DivideByZero), &grpcauthtestv1.FaultRequest{Text: secretRequestText}, "division by zero (1:5)"},
				{"Overflow", unary(grpcauthtestv1.FaultsClient.Overflow), &grpcauthtestv1.FaultRequest{Text: secretRequestText, Number: secretLarge}, "integer overflow (1:16)"},
				{"BadConversion", unary(grpcauthtestv1.FaultsClient.BadConversion), &grpcauthtestv1.FaultRequest{Text: secretRequestText}, "type conversion (1:4)"},
				{"BadTimestamp", unary(grpcauthtestv1.FaultsClient.BadTimestamp), &grpcauthtestv1.FaultRequest{Text: secretRequestText}, "invalid timestamp (1:10)"},
				{"BadClaimTimestamp", unary(grpcauthtestv1.FaultsClient.BadClaimTimestamp), &grpcauthtestv1.FaultRequest{}, "invalid timestamp (1:10)"},
				{"IndexOutOfRange", unary(grpcauthtestv1.FaultsClient.IndexOutOfRange), &grpcauthtestv1.FaultRequest{Text: secretRequestText, Number: secretIndex, Items: []string{secretItem}}, "index out of range (1:14)"},
				{"NoSuchOverload", unary(grpcauthtestv1.FaultsClient.NoSuchOverload), &grpcauthtestv1.FaultRequest{}, "no such overload (1:28)"},
				{"CostLimit", unary(grpcauthtestv1.FaultsClient.CostLimit), &grpcauthtestv1.FaultRequest{Text: secretRequestText, Items: many}, "cost limit exceeded"},
				{"WatchBadConversion", func(ctx context.Context, c grpcauthtestv1.FaultsClient, r *grpcauthtestv1.FaultRequest) error {
					s, err := c.WatchBadConversion(ctx, r)
					if err != nil {
						return err
					}
					return recvAll(s.Recv)
				}, &grpcauthtestv1.FaultRequest{Text: secretRequestText}, "type conversion (1:4)"},
			} {
				t.Run(c.method, func(t *testing.T) {
					before := len(f.decisions.all())
					err := c.call(withToken(token), f.client, c.req)
					wantDenied(t, err, codes.PermissionDenied, runtime.ReasonConditionFailed)
					st := status.Convert(err)
					sent := st.Message()
					for _, d := range st.Details() {
						if info, ok := d.(*errdetails.ErrorInfo); ok {
							sent += fmt.Sprint(info.GetMetadata())
						}
					}
					ds := f.decisions.all()[before:]
					if len(ds) != 1 {
						t.Fatalf("%d audit decisions; want 1", len(ds))
					}
					var line string
					for l := range strings.Lines(f.log.String()) {
						if strings.Contains(l, "/grpcauthtest.v1.Faults/"+c.method) {
							line = l
						}
					}
					for _, s := range conditionSecrets {
						if strings.Contains(sent, s) {
							t.Errorf("the status holds %q: %s", s, sent)
						}
						if strings.Contains(line, s) {
							t.Errorf("the log line holds %q: %s", s, line)
						}
					}
					if ev := fmt.Sprintf("%+v", ds[0]); strings.Contains(ev, "SECRET") {
						t.Errorf("the audit event holds a request or claim value: %s", ev)
					}
					if want := "detail=\"condition evaluation: " + c.want + "\""; !strings.Contains(line, want) {
						t.Errorf("log line %q does not hold %s", line, want)
					}
					if !strings.Contains(line, c.want) {
						t.Errorf("log line %q does not say %q", line, c.want)
					}
				})
			}
			if log := f.log.String(); strings.Contains(log, "SECRET") {
				t.Errorf("the log holds a request or claim value:\n%s", log)
			}
		})
	}
}
