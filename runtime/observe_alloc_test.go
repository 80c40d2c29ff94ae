// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// nopObserver takes the observation and does nothing.
type nopObserver struct{ n int }

func (o *nopObserver) ObserveDecision(context.Context, runtime.Observation) { o.n++ }

// TestDecisionAllocs: an allowed decision on the hot path (a verified
// token) allocates what it did before decision ids, dry-run and
// observers: 2 (the copied authorization value and the context holding
// the decision). Neither a method in dry-run nor an observer adds one.
func TestDecisionAllocs(t *testing.T) {
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("test"))
	jwt, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("test"), jwtauth.StaticJWKS(iss.JWKS())))
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+iss.Mint(authtest.Scopes("s"))))
	const method = "/bench.v1.Svc/M5"
	obs := &nopObserver{}
	for _, c := range []struct {
		name string
		opts []runtime.Option
	}{
		{"plain", nil},
		{"dry-run", []runtime.Option{runtime.WithDryRun(method)}},
		{"observer", []runtime.Option{runtime.WithObserver(obs)}},
		{"audit on deny", []runtime.Option{runtime.WithAudit(runtime.AuditOnDeny, &decisionLog{})}},
	} {
		enf := scaleEnforcer(t, 10, append([]runtime.Option{runtime.WithJWT(jwt), runtime.WithPlaintextCredentials(), runtime.WithLogger(nil)}, c.opts...)...)
		rule := enf.Rule(method)
		if _, err := enf.Authorize(ctx, rule); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := enf.Authorize(ctx, rule); err != nil {
				panic(err)
			}
		})
		if allocs != 2 {
			t.Errorf("%s: %v allocations per decision; want 2", c.name, allocs)
		}
	}
	if obs.n == 0 {
		t.Error("the observer saw nothing")
	}
}
