// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package otelauth_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/otelauth"
)

type library struct {
	libraryv1.UnimplementedLibraryServiceServer
}

func (library) GetBook(context.Context, *libraryv1.GetBookRequest) (*libraryv1.Book, error) {
	return &libraryv1.Book{Title: "t"}, nil
}

func (library) DeleteBook(context.Context, *libraryv1.DeleteBookRequest) (*libraryv1.DeleteBookResponse, error) {
	return &libraryv1.DeleteBookResponse{}, nil
}

// world is a LibraryService over TLS with otelgrpc on both ends, an
// in-memory span exporter and a manual metric reader.
type world struct {
	iss    *authtest.Issuer
	in     *authtest.Introspector
	jwt    *jwtauth.Authenticator
	tel    *otelauth.Telemetry
	spans  *tracetest.InMemoryExporter
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	conn   *grpc.ClientConn
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{
		iss:    authtest.NewIssuer(t, authtest.DefaultAudience("library")),
		in:     authtest.NewIntrospector(t, "srv", "pw"),
		spans:  tracetest.NewInMemoryExporter(),
		reader: sdkmetric.NewManualReader(),
	}
	w.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(w.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(w.reader))
	var err error
	if w.tel, err = otelauth.New(otelauth.WithMeterProvider(mp)); err != nil {
		t.Fatal(err)
	}
	if w.jwt, err = jwtauth.New(jwtauth.Issuer(w.iss.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(w.iss.JWKSURL())), jwtauth.HTTPClient(w.iss.HTTPClient())); err != nil {
		t.Fatal(err)
	}
	oauth, err := introspection.New(introspection.Endpoint(w.in.URL()), introspection.ClientSecret("srv", "pw"), introspection.HTTPClient(w.in.HTTPClient()),
		introspection.Issuer(w.in.Issuer()), introspection.Audience("library"), introspection.Observer(w.tel))
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]any{"jwt": w.jwt, "introspection": oauth} {
		if err := w.tel.ObserveAuthenticator(name, a); err != nil {
			t.Fatal(err)
		}
	}
	enf, err := runtime.NewEnforcer(runtime.WithJWT(w.jwt), runtime.WithOAuth2(oauth), runtime.WithObserver(w.tel), runtime.WithLogger(nil),
		runtime.WithDryRun(libraryv1.LibraryService_DeleteBook_FullMethodName))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := authtest.NewCA("otel CA")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer(grpc.Creds(credentials.NewTLS(serverTLS)),
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(w.tp), otelgrpc.WithMeterProvider(mp))),
		grpc.ChainUnaryInterceptor(enf.UnaryServerInterceptor()))
	libraryv1.RegisterLibraryServiceServerWithAuth(s, library{}, enf)
	healthpb.RegisterHealthServer(s, health.NewServer()) // no rule: denied
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	clientTLS := ca.ClientTLS()
	clientTLS.ServerName = "localhost"
	w.conn, err = grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(w.tp), otelgrpc.WithMeterProvider(mp))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.conn.Close() })
	return w
}

func bearer(tok string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

// decisionEvent finds the grpcauth.decision event of the server span of
// method whose attributes include want.
func decisionEvents(spans tracetest.SpanStubs, kind trace.SpanKind, event string) []map[attribute.Key]attribute.Value {
	var out []map[attribute.Key]attribute.Value
	for _, s := range spans {
		if s.SpanKind != kind {
			continue
		}
		for _, ev := range s.Events {
			if ev.Name != event {
				continue
			}
			m := map[attribute.Key]attribute.Value{"span": attribute.StringValue(s.Name)}
			for _, a := range ev.Attributes {
				m[a.Key] = a.Value
			}
			out = append(out, m)
		}
	}
	return out
}

// TestServerTelemetry: real calls through otelgrpc's stats handlers on both
// ends: every decision is an event on the server span, with the decision
// id the caller's error carries; the decisions counter and duration
// histogram have bounded attributes (an undeclared method is "other"); the
// JWKS, caches and introspection are measured; nothing holds the subject
// or a token.
func TestServerTelemetry(t *testing.T) {
	w := newWorld(t)
	reader := w.iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"))
	c := libraryv1.NewLibraryServiceClient(w.conn)
	if _, err := c.GetBook(bearer(reader), &libraryv1.GetBookRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBook(bearer(reader), &libraryv1.GetBookRequest{}); err != nil { // a cache hit
		t.Fatal(err)
	}
	_, err := c.GetBook(context.Background(), &libraryv1.GetBookRequest{})
	denial, ok := runtime.FromError(err)
	if !ok || denial.DecisionID() == "" {
		t.Fatalf("denial = %v; want one with a decision id", err)
	}
	// Dry-run: a missing scope is reported, the call proceeds.
	if _, err := c.DeleteBook(bearer(reader), &libraryv1.DeleteBookRequest{}); err != nil {
		t.Fatalf("DeleteBook in dry-run: %v", err)
	}
	opaque := w.in.Issue("erin", []string{"library.read"}, "library", time.Hour, nil)
	if _, err := c.GetBook(bearer(opaque), &libraryv1.GetBookRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := healthpb.NewHealthClient(w.conn).Check(bearer(reader), &healthpb.HealthCheckRequest{}); err == nil {
		t.Fatal("health without a rule was allowed")
	}

	// A server span ends after its status is sent: wait for the last.
	var evs []map[attribute.Key]attribute.Value
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		evs = decisionEvents(w.spans.GetSpans(), trace.SpanKindServer, "grpcauth.decision")
		if len(evs) >= 6 || time.Now().After(deadline) {
			break
		}
	}
	if len(evs) != 6 {
		t.Fatalf("%d decision events on server spans; want 6: %v", len(evs), evs)
	}
	var found bool
	for _, ev := range evs {
		if ev[otelauth.AttrDecisionID].AsString() == "" {
			t.Errorf("event without a decision id: %v", ev)
		}
		if ev[otelauth.AttrDecisionID].AsString() == denial.DecisionID() {
			found = true
			if ev[otelauth.AttrOutcome].AsString() != "deny" || ev[otelauth.AttrReason].AsString() != "CREDENTIALS_MISSING" || ev[otelauth.AttrCode].AsString() != "UNAUTHENTICATED" {
				t.Errorf("the denial's event = %v", ev)
			}
			if ev["span"].AsString() != "library.v1.LibraryService/GetBook" {
				t.Errorf("the denial's event is on span %s", ev["span"].AsString())
			}
		}
		if ev["span"].AsString() == "library.v1.LibraryService/DeleteBook" {
			if ev[otelauth.AttrOutcome].AsString() != "would_deny" || ev[otelauth.AttrReason].AsString() != "SCOPE_INSUFFICIENT" || !ev[otelauth.AttrDryRun].AsBool() {
				t.Errorf("dry-run event = %v", ev)
			}
		}
	}
	if !found {
		t.Errorf("no span event has the caller's decision id %s", denial.DecisionID())
	}

	var rm metricdata.ResourceMetrics
	if err := w.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	seen := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelauth.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			seen[m.Name] = true
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[m.Name+"{"+attrs(p.Attributes)+"}"] += p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					got[m.Name+"{"+attrs(p.Attributes)+"}"] = p.Value
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					if p.Value < 0 || p.Value > 60 {
						t.Errorf("%s = %v", m.Name, p.Value)
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					got[m.Name+"{"+attrs(p.Attributes)+"}"] += int64(p.Count)
				}
			}
		}
	}
	for key, want := range map[string]int64{
		"grpcauth.decisions{grpcauth.code=OK,grpcauth.credential_kind=BEARER_JWT,grpcauth.method=/library.v1.LibraryService/GetBook,grpcauth.outcome=allow}":                                                           2,
		"grpcauth.decisions{grpcauth.code=OK,grpcauth.credential_kind=OAUTH2_TOKEN,grpcauth.method=/library.v1.LibraryService/GetBook,grpcauth.outcome=allow}":                                                         1,
		"grpcauth.decisions{grpcauth.code=UNAUTHENTICATED,grpcauth.credential_kind=NONE,grpcauth.method=/library.v1.LibraryService/GetBook,grpcauth.outcome=deny,grpcauth.reason=CREDENTIALS_MISSING}":                 1,
		"grpcauth.decisions{grpcauth.code=PERMISSION_DENIED,grpcauth.credential_kind=BEARER_JWT,grpcauth.method=/library.v1.LibraryService/DeleteBook,grpcauth.outcome=would_deny,grpcauth.reason=SCOPE_INSUFFICIENT}": 1,
		"grpcauth.decisions{grpcauth.code=PERMISSION_DENIED,grpcauth.credential_kind=NONE,grpcauth.method=other,grpcauth.outcome=deny,grpcauth.reason=METHOD_NOT_DECLARED}":                                            1,
		"grpcauth.decision.duration{grpcauth.method=/library.v1.LibraryService/GetBook,grpcauth.outcome=allow}":                                                                                                        3,
		"grpcauth.introspection.requests{grpcauth.result=active}":      1,
		"grpcauth.introspection.duration{grpcauth.result=active}":      1,
		"grpcauth.jwks.fetches{grpcauth.authenticator=jwt}":            1,
		"grpcauth.jwks.fetch_failures{grpcauth.authenticator=jwt}":     0,
		"grpcauth.cache.hits{grpcauth.authenticator=jwt}":              2,
		"grpcauth.cache.misses{grpcauth.authenticator=jwt}":            1,
		"grpcauth.cache.entries{grpcauth.authenticator=jwt}":           1,
		"grpcauth.cache.entries{grpcauth.authenticator=introspection}": 1,
	} {
		if got[key] != want {
			t.Errorf("%s = %d; want %d", key, got[key], want)
		}
	}
	if !seen["grpcauth.jwks.key_age"] || !seen["grpcauth.jwks.keys"] || !seen["grpcauth.cache.evictions"] || !seen["grpcauth.cache.coalesced"] {
		t.Errorf("instruments seen: %v", seen)
	}
	// Nothing identifies the caller or holds a credential.
	for _, ev := range evs {
		delete(ev, "span") // the span's name is otelgrpc's
	}
	dump := fmt.Sprint(got) + fmt.Sprint(evs)
	for _, s := range []string{"alice", "erin", reader, opaque} {
		if strings.Contains(dump, s) {
			t.Errorf("telemetry holds %q", s)
		}
	}
	if strings.Contains(fmt.Sprint(got), "grpc.health") {
		t.Errorf("a metric names a method without a rule: %v", got)
	}
}

func attrs(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// tokenSource yields an expired token first, then good ones.
type tokenSource struct {
	iss   *authtest.Issuer
	calls atomic.Int32
}

func (s *tokenSource) Token() (*oauth2.Token, error) {
	ttl := time.Hour
	if s.calls.Add(1) == 1 {
		ttl = -time.Hour
	}
	return &oauth2.Token{AccessToken: s.iss.Mint(authtest.Scopes("library.read"), authtest.ExpiresIn(ttl)), Expiry: time.Now().Add(time.Hour)}, nil
}

// TestClientTelemetry: the generated client's preflight refusal is an event
// on the caller's span, its retry an event on the retried call's own
// client span (with the server's decision id of the refusal), and both are
// counted, as are token fetches.
func TestClientTelemetry(t *testing.T) {
	w := newWorld(t)
	ctx, parent := w.tp.Tracer("test").Start(context.Background(), "caller")
	keyOnly := libraryv1.NewLibraryServiceAuthClient(w.conn, &runtime.ClientCredentials{APIKey: "k", Observer: w.tel})
	if _, err := keyOnly.GetBook(ctx, &libraryv1.GetBookRequest{}); err == nil {
		t.Fatal("want a preflight refusal")
	}
	src := &tokenSource{iss: w.iss}
	c := libraryv1.NewLibraryServiceAuthClient(w.conn, &runtime.ClientCredentials{TokenSource: src, Observer: w.tel})
	if _, err := c.GetBook(ctx, &libraryv1.GetBookRequest{}); err != nil {
		t.Fatalf("GetBook after one retry: %v", err)
	}
	parent.End()
	// Server spans end after their status is sent: wait for the first
	// attempt's.
	spans := w.spans.GetSpans()
	for deadline := time.Now().Add(5 * time.Second); len(decisionEvents(spans, trace.SpanKindServer, "grpcauth.decision")) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		spans = w.spans.GetSpans()
	}
	refusals := decisionEvents(spans, trace.SpanKindInternal, "grpcauth.client.preflight_refused")
	if len(refusals) != 1 || refusals[0]["span"].AsString() != "caller" || refusals[0][otelauth.AttrReason].AsString() != "CREDENTIALS_MISSING" {
		t.Errorf("refusal events = %v; want one on the caller's span", refusals)
	}
	retries := decisionEvents(spans, trace.SpanKindClient, "grpcauth.client.retry")
	if len(retries) != 1 || retries[0]["span"].AsString() != "library.v1.LibraryService/GetBook" || retries[0][otelauth.AttrDecisionID].AsString() == "" {
		t.Fatalf("retry events = %v; want one on the retried call's client span", retries)
	}
	// The server span of the first attempt has the same decision id.
	var matched bool
	for _, ev := range decisionEvents(spans, trace.SpanKindServer, "grpcauth.decision") {
		if ev[otelauth.AttrDecisionID] == retries[0][otelauth.AttrDecisionID] && ev[otelauth.AttrReason].AsString() == "TOKEN_EXPIRED" {
			matched = true
		}
	}
	if !matched {
		t.Errorf("no server span has the retry's decision id")
	}
	var rm metricdata.ResourceMetrics
	if err := w.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, p := range d.DataPoints {
					got[m.Name+"{"+attrs(p.Attributes)+"}"] += p.Value
				}
			}
		}
	}
	for key, want := range map[string]int64{
		"grpcauth.client.preflight_refusals{grpcauth.dry_run=false,grpcauth.method=/library.v1.LibraryService/GetBook,grpcauth.reason=CREDENTIALS_MISSING}": 1,
		"grpcauth.client.retries{grpcauth.method=/library.v1.LibraryService/GetBook,grpcauth.reason=TOKEN_EXPIRED}":                                         1,
		"grpcauth.client.token_fetches{grpcauth.result=ok}":                                                                                                 2,
	} {
		if got[key] != want {
			t.Errorf("%s = %d; want %d (all: %v)", key, got[key], want, got)
		}
	}
}

// TestObserveDecisionAllocs: counting and timing a decision whose
// attributes were seen before allocates nothing when the call has no
// recording span.
func TestObserveDecisionAllocs(t *testing.T) {
	tel, err := otelauth.New(otelauth.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))))
	if err != nil {
		t.Fatal(err)
	}
	o := runtime.Observation{ID: 1, FullMethod: "/a.B/C", Outcome: runtime.OutcomeAllow, Kind: runtime.BearerJWT, Duration: time.Microsecond}
	ctx := context.Background()
	tel.ObserveDecision(ctx, o)
	if n := testing.AllocsPerRun(1000, func() { tel.ObserveDecision(ctx, o) }); n != 0 {
		t.Errorf("ObserveDecision allocates %v times; want 0", n)
	}
}
