// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package celcond_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/celcond"
)

func TestCompileErrors(t *testing.T) {
	req := &grpcauthtestv1.ShelfRequest{}
	for expr, want := range map[string]string{
		"request.shelff == 'a'":   "undefined field 'shelff'",
		"request.shelf":           "not bool",
		"principal.claims['x']":   "not bool",
		"caller == 'x'":           "undeclared reference to 'caller'",
		"request.shelf ==":        "Syntax error",
		"request.shelf == 1":      "no matching overload",
		"principal.subjct == 'a'": "undefined field 'subjct'",
	} {
		if _, err := celcond.Compile(expr, req); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%q) = %v; want an error containing %q", expr, err, want)
		}
	}
	if _, err := celcond.Compile("request.shelf == 'a'", nil); err == nil {
		t.Error("a condition without a request type compiled with request in it")
	}
	p := celcond.New("request.shelff == 'a'", req)
	if err := p.Prepare(); err == nil {
		t.Error("Prepare accepted a bad condition")
	}
	if ok, err := p.Evaluate(context.Background(), &runtime.Principal{}, nil, req); ok || err == nil {
		t.Errorf("Evaluate of a bad condition = %v, %v; want false and an error", ok, err)
	}
}

func TestEvaluate(t *testing.T) {
	p, err := celcond.Compile("request.shelf.startsWith('tenants/' + principal.claims['tenant'] + '/') && 'r' in principal.scopes && principal.kind == 'BEARER_JWT'", &grpcauthtestv1.ShelfRequest{})
	if err != nil {
		t.Fatal(err)
	}
	alice := &runtime.Principal{Kind: runtime.BearerJWT, Subject: "alice", Scopes: []string{"r"}, Claims: map[string]any{"tenant": "acme"}}
	for _, c := range []struct {
		name    string
		p       *runtime.Principal
		req     any
		want    bool
		wantErr bool
	}{
		{"allowed", alice, &grpcauthtestv1.ShelfRequest{Shelf: "tenants/acme/1"}, true, false},
		{"other_tenant", alice, &grpcauthtestv1.ShelfRequest{Shelf: "tenants/globex/1"}, false, false},
		{"no_scope", &runtime.Principal{Kind: runtime.BearerJWT, Claims: map[string]any{"tenant": "acme"}}, &grpcauthtestv1.ShelfRequest{Shelf: "tenants/acme/1"}, false, false},
		{"api_key_kind", &runtime.Principal{Kind: runtime.APIKey, Scopes: []string{"r"}, Claims: map[string]any{"tenant": "acme"}}, &grpcauthtestv1.ShelfRequest{Shelf: "tenants/acme/1"}, false, false},
		{"missing_claim", &runtime.Principal{Kind: runtime.BearerJWT, Scopes: []string{"r"}}, &grpcauthtestv1.ShelfRequest{Shelf: "tenants/acme/1"}, false, true},
		{"claim_not_string", &runtime.Principal{Kind: runtime.BearerJWT, Scopes: []string{"r"}, Claims: map[string]any{"tenant": 7.0}}, &grpcauthtestv1.ShelfRequest{Shelf: "tenants/7/1"}, false, true},
		{"claim_not_json", &runtime.Principal{Kind: runtime.BearerJWT, Scopes: []string{"r"}, Claims: map[string]any{"tenant": make(chan int)}}, &grpcauthtestv1.ShelfRequest{Shelf: "x"}, false, true},
		{"nil_principal", nil, &grpcauthtestv1.ShelfRequest{Shelf: "x"}, false, true},
		{"request_not_proto", alice, "tenants/acme/1", false, true},
		{"request_nil", alice, nil, false, true},
		{"request_of_other_type", alice, &grpcauthtestv1.SearchRequest{}, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := p.Evaluate(context.Background(), c.p, nil, c.req)
			if got != c.want || (err != nil) != c.wantErr {
				t.Errorf("Evaluate = %v, %v; want %v, error %v", got, err, c.want, c.wantErr)
			}
		})
	}
}

func BenchmarkEvaluate(b *testing.B) {
	p, err := celcond.Compile("request.shelf.startsWith('tenants/acme/')", &grpcauthtestv1.ShelfRequest{})
	if err != nil {
		b.Fatal(err)
	}
	pr := &runtime.Principal{Kind: runtime.BearerJWT, Subject: "alice", Claims: map[string]any{"tenant": "acme", "iat": 1.0}}
	req := &grpcauthtestv1.ShelfRequest{Shelf: "tenants/acme/1"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if ok, err := p.Evaluate(context.Background(), pr, nil, req); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// TestCostLimit: a condition over a huge repeated field stops at the cost
// limit with an error (the call is denied) instead of running unbounded.
func TestCostLimit(t *testing.T) {
	p, err := celcond.Compile("request.tags.all(t, t != 'secret')", &grpcauthtestv1.SearchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	small := &grpcauthtestv1.SearchRequest{Tags: []string{"a", "b"}}
	if ok, err := p.Evaluate(context.Background(), &runtime.Principal{}, nil, small); !ok || err != nil {
		t.Fatalf("small request: %v, %v", ok, err)
	}
	huge := &grpcauthtestv1.SearchRequest{Tags: make([]string, 2_000_000)}
	ok, err := p.Evaluate(context.Background(), &runtime.Principal{}, nil, huge)
	if ok || err == nil || !strings.Contains(err.Error(), "cost") {
		t.Fatalf("huge request: %v, %v; want a cost limit error", ok, err)
	}
}

// TestClaimShapes: every JSON shape a claim can take reads in CEL as it
// reads in JSON, by index and by field, with has() for optional claims.
func TestClaimShapes(t *testing.T) {
	p := &runtime.Principal{Kind: runtime.BearerJWT, Claims: map[string]any{
		"tenant": "acme",
		"level":  3.0,
		"admin":  true,
		"groups": []any{"ops", "dev"},
		"ext":    map[string]any{"region": "eu", "tier": 2.0},
		"none":   nil,
	}}
	for expr, want := range map[string]bool{
		"principal.claims['tenant'] == 'acme'":     true,
		"principal.claims.tenant == 'acme'":        true,
		"principal.claims['level'] > 2.0":          true,
		"principal.claims['admin'] == true":        true,
		"'ops' in principal.claims['groups']":      true,
		"'qa' in principal.claims['groups']":       false,
		"principal.claims.ext.region == 'eu'":      true,
		"principal.claims['ext']['tier'] == 2.0":   true,
		"has(principal.claims.tenant)":             true,
		"has(principal.claims.missing)":            false,
		"principal.claims['none'] == null":         true,
		"size(principal.claims) == 6":              true,
		"'tenant' in principal.claims":             true,
		"principal.claims.all(k, k != 'password')": true,
	} {
		prog, err := celcond.Compile(expr, nil)
		if err != nil {
			t.Errorf("Compile(%q): %v", expr, err)
			continue
		}
		if got, err := prog.Evaluate(context.Background(), p, nil, nil); got != want || err != nil {
			t.Errorf("%s = %v, %v; want %v", expr, got, err, want)
		}
	}
}

// TestCancelledCall: a comprehension stops when the call's context is done
// (the caller went away); a condition without one has no loop to stop and
// is decided as usual.
func TestCancelledCall(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	loop, err := celcond.Compile("request.tags.all(t, t != 'secret')", &grpcauthtestv1.SearchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	req := &grpcauthtestv1.SearchRequest{Tags: make([]string, 1000)}
	if ok, err := loop.Evaluate(ctx, &runtime.Principal{}, nil, req); ok || err == nil {
		t.Errorf("comprehension under a cancelled context = %v, %v; want false and an error", ok, err)
	}
	if ok, err := loop.Evaluate(context.Background(), &runtime.Principal{}, nil, req); !ok || err != nil {
		t.Errorf("comprehension = %v, %v; want true", ok, err)
	}
	flat, err := celcond.Compile("request.limit == 0", &grpcauthtestv1.SearchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := flat.Evaluate(ctx, &runtime.Principal{}, nil, req); !ok || err != nil {
		t.Errorf("loop-free condition under a cancelled context = %v, %v; want true", ok, err)
	}
}

// TestRegexPatterns: matches() takes its pattern from the condition's text
// only. A pattern from the request could be chosen to run for seconds.
func TestRegexPatterns(t *testing.T) {
	req := &grpcauthtestv1.ShelfRequest{}
	for expr, want := range map[string]string{
		"request.shelf.matches('^tenants/[a-z]+/')":     "",
		"matches(request.shelf, '^tenants/')":           "",
		"request.shelf.matches(request.shelf)":          "must be a string literal",
		"matches(request.shelf, request.shelf)":         "must be a string literal",
		"request.shelf.matches(principal.claims['re'])": "must be a string literal",
		"request.shelf.matches('^tenants/' + 'x')":      "must be a string literal",
		"request.shelf.matches('[')":                    "invalid matches argument",
	} {
		_, err := celcond.Compile(expr, req)
		switch {
		case want == "" && err != nil:
			t.Errorf("Compile(%q): %v", expr, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("Compile(%q) = %v; want an error containing %q", expr, err, want)
		}
	}
	p, err := celcond.Compile("request.shelf.matches('^tenants/[a-z]+/')", req)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Evaluate(context.Background(), &runtime.Principal{}, nil, &grpcauthtestv1.ShelfRequest{Shelf: "tenants/acme/1"}); !ok || err != nil {
		t.Errorf("literal pattern = %v, %v; want true", ok, err)
	}
}

// TestEvaluationErrorsAreSafe: an evaluation error says what kind of error
// and where in the condition, and holds no value of the request or the
// principal (cel-go's own messages quote them); a cancelled call's or a
// passed deadline's error still matches its context error.
func TestEvaluationErrorsAreSafe(t *testing.T) {
	const secret = "SECRET-VALUE-42"
	req := &grpcauthtestv1.SearchRequest{Limit: -1, Tags: make([]string, 1000), Page: &grpcauthtestv1.Page{Token: secret}}
	for i := range req.Tags {
		req.Tags[i] = secret
	}
	alice := &runtime.Principal{Kind: runtime.BearerJWT, Subject: "alice", Claims: map[string]any{"tenant": secret}}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, c := range []struct {
		name, expr string
		ctx        context.Context
		p          *runtime.Principal
		want       string
		is         error
	}{
		{"missing_key", "principal.claims[request.page.token] == 'x'", context.Background(), alice, "no such key (1:17)", nil},
		{"missing_claim_from_claim", "principal.claims[principal.claims.tenant] == 'x'", context.Background(), alice, "no such key (1:17)", nil},
		{"modulus_by_zero", "100 % (request.limit + 1) > 0", context.Background(), alice, "modulus by zero (1:5)", nil},
		{"unsigned_overflow", "uint(request.limit) > 0u", context.Background(), alice, "unsigned integer overflow (1:5)", nil},
		{"duration", "duration(request.page.token) > duration('1s')", context.Background(), alice, "type conversion (1:9)", nil},
		{"timestamp", "timestamp(request.page.token) > timestamp(0)", context.Background(), alice, "invalid timestamp (1:10)", nil},
		{"index", "request.tags[request.limit + 2000] == 'x'", context.Background(), alice, "index out of range (1:13)", nil},
		{"cancelled", "request.tags.all(t, t != request.page.token + 'x')", cancelled, alice, "cancelled", context.Canceled},
		{"deadline", "request.tags.all(t, t != request.page.token + 'x')", expired, alice, "deadline exceeded", context.DeadlineExceeded},
		{"claim_not_json", "principal.claims['tenant'] == 'x'", context.Background(), &runtime.Principal{Claims: map[string]any{secret: "\xff" + secret}}, "a claim is not a JSON value", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := celcond.Compile(c.expr, req)
			if err != nil {
				t.Fatal(err)
			}
			ok, err := p.Evaluate(c.ctx, c.p, nil, req)
			if ok || err == nil {
				t.Fatalf("Evaluate = %v, %v; want false and an error", ok, err)
			}
			if err.Error() != c.want {
				t.Errorf("error = %q; want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q holds a value of the call", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q does not match %v", err, c.is)
			}
		})
	}
}
