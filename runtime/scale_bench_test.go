// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// scaleSizes are the rule table sizes the scale benchmarks compare.
var scaleSizes = []int{10, 10000}

// scaleRules returns a rule table of n methods of bench.v1.Svc, each
// requiring a BEARER_JWT with scope "s".
func scaleRules(n int) *runtime.ServiceRules {
	sr := &runtime.ServiceRules{Service: "bench.v1.Svc", Methods: make([]*runtime.Rule, n)}
	for i := range sr.Methods {
		sr.Methods[i] = &runtime.Rule{
			FullMethod:   fmt.Sprintf("/bench.v1.Svc/M%d", i),
			Requirements: []runtime.Requirement{{Credentials: []runtime.CredentialKind{runtime.BearerJWT}, Scopes: []string{"s"}}},
			Source:       "bench.v1.Svc",
		}
	}
	return sr
}

// scaleMiddle is the name of the method in the middle of a table of n.
func scaleMiddle(n int) string { return fmt.Sprintf("/bench.v1.Svc/M%d", n/2) }

// scaleEnforcer returns an enforcer holding a table of n rules, with opts.
func scaleEnforcer(tb testing.TB, n int, opts ...runtime.Option) *runtime.Enforcer {
	tb.Helper()
	enf, err := runtime.NewEnforcer(append([]runtime.Option{runtime.WithRules(scaleRules(n))}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return enf
}

// BenchmarkRuleLookupScale is Enforcer.Rule, the lookup the interceptors
// do on every call, in a table of 10 and of 10,000 methods: its cost must
// not grow with the table.
func BenchmarkRuleLookupScale(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("methods=%d", n), func(b *testing.B) {
			enf := scaleEnforcer(b, n)
			name := scaleMiddle(n)
			b.ReportAllocs()
			for b.Loop() {
				if enf.Rule(name) == nil {
					b.Fatal("no rule")
				}
			}
		})
	}
}

// TestRuleLookupScaleNoAllocs checks that Enforcer.Rule does not allocate,
// whatever the size of the table.
func TestRuleLookupScaleNoAllocs(t *testing.T) {
	for _, n := range scaleSizes {
		enf := scaleEnforcer(t, n)
		name := scaleMiddle(n)
		if enf.Rule(name) == nil {
			t.Fatalf("methods=%d: no rule for %s", n, name)
		}
		if allocs := testing.AllocsPerRun(1000, func() {
			if enf.Rule(name) == nil {
				panic("no rule")
			}
		}); allocs != 0 {
			t.Errorf("methods=%d: Rule allocates %v times per call, want 0", n, allocs)
		}
	}
}

// BenchmarkAuthorizeScale is the whole decision without gRPC: rule lookup
// and Enforcer.Authorize of a valid RS256 JWT (signature verified, scope
// checked) from the incoming metadata, in a table of 10 and of 10,000
// methods. The two sizes should cost the same.
func BenchmarkAuthorizeScale(b *testing.B) {
	iss, err := authtest.StartIssuer()
	if err != nil {
		b.Fatal(err)
	}
	defer iss.Close()
	jwt, err := jwtauth.New(
		jwtauth.Issuer(iss.URL(), jwtauth.Audience("test"), jwtauth.StaticJWKS(iss.JWKS())),
	)
	if err != nil {
		b.Fatal(err)
	}
	token := iss.Mint(authtest.Scopes("s"))
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token))

	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("methods=%d", n), func(b *testing.B) {
			enf := scaleEnforcer(b, n, runtime.WithJWT(jwt), runtime.WithPlaintextCredentials(), runtime.WithLogger(nil))
			name := scaleMiddle(n)
			if _, err := enf.Authorize(ctx, enf.Rule(name)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				rule := enf.Rule(name)
				if _, err := enf.Authorize(ctx, rule); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
