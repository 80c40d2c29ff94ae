// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package otelauth records grpcauth's decisions, the generated client's
// own events, authenticator backends and caches as OpenTelemetry metrics,
// and each decision as an event on the call's span. It is an optional
// integration: the core (package runtime) knows it only as the
// runtime.Observer, runtime.ClientObserver and runtime.BackendObserver
// interfaces and does not link OpenTelemetry.
//
//	tel, err := otelauth.New() // the global MeterProvider, or WithMeterProvider
//	enf, err := runtime.NewEnforcer(runtime.WithJWT(jwt), runtime.WithObserver(tel))
//	err = tel.ObserveAuthenticator("jwt", jwt)          // JWKS and verified-token cache
//	oauth, err := introspection.New(..., introspection.Observer(tel))
//	creds := &runtime.ClientCredentials{TokenSource: ts, Observer: tel}
//
// Spans come from whoever started them — otelgrpc's stats handlers on
// server and client, or the caller — with their own TracerProvider; this
// package only adds events to the span in the call's context
// (trace.SpanFromContext), so it needs no TracerProvider of its own.
//
// # Metrics
//
// Every attribute has a bounded set of values: grpcauth.method is a method
// of the rule tables, or "other" for a method without a rule (never the
// name the caller sent); grpcauth.reason is one of runtime.Reasons() or
// "OTHER"; no attribute holds a subject, a credential or a request value.
// The README's reference lists each instrument with its unit and
// attributes.
//
// # Cost
//
// On the call path a decision costs an increment of otelauth's own counter
// for its attribute values (grpcauth.decisions is an observable counter
// the SDK reads at collection), one histogram record (without exemplars:
// the span event links the decision to its trace) and, when the call's
// span is recording, one span event; nothing is allocated but the event.
package otelauth

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// ScopeName is the instrumentation scope of the meter.
const ScopeName = "github.com/grpcauth/protoc-gen-go-grpcauth/runtime/otelauth"

// The attribute keys.
const (
	AttrMethod        = attribute.Key("grpcauth.method")
	AttrOutcome       = attribute.Key("grpcauth.outcome")
	AttrCode          = attribute.Key("grpcauth.code")
	AttrReason        = attribute.Key("grpcauth.reason")
	AttrKind          = attribute.Key("grpcauth.credential_kind")
	AttrDecisionID    = attribute.Key("grpcauth.decision_id")
	AttrDryRun        = attribute.Key("grpcauth.dry_run")
	AttrAuthenticator = attribute.Key("grpcauth.authenticator")
	AttrResult        = attribute.Key("grpcauth.result")
)

// OtherMethod is the grpcauth.method of a call to a method without a rule.
const OtherMethod = "other"

// Option configures [New].
type Option func(*config)

type config struct {
	mp         metric.MeterProvider
	spanEvents bool
}

// WithMeterProvider sets the MeterProvider (default: the global one,
// otel.GetMeterProvider()).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithoutSpanEvents stops adding events to spans; metrics only.
func WithoutSpanEvents() Option {
	return func(c *config) { c.spanEvents = false }
}

// durationBuckets suit a decision: from 10µs (a cached token) to seconds
// (an identity provider that is slow to answer).
var durationBuckets = []float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Telemetry implements runtime.Observer, runtime.ClientObserver and
// runtime.BackendObserver with OpenTelemetry. It is safe for concurrent
// use; build one with [New] and share it. Its observer methods do not
// block: they add to in-memory instruments and to the call's span.
type Telemetry struct {
	spanEvents bool

	duration       metric.Float64Histogram
	introRequests  metric.Int64Counter
	introDuration  metric.Float64Histogram
	clientRefusals metric.Int64Counter
	tokenFetches   metric.Int64Counter
	clientRetries  metric.Int64Counter

	// sets holds the attribute sets of each value combination seen, copied
	// on write: a look-up is lock-free and boxes nothing.
	sets   atomic.Pointer[map[decisionKey]*decisionSets]
	setsMu sync.Mutex // serialises writers of sets

	mu      sync.Mutex
	sources []source // ObserveAuthenticator's, read by the metric callback
}

type source struct {
	attrs metric.MeasurementOption
	cache interface{ CacheStats() runtime.CacheStats }
	keys  interface{ KeySetStats() runtime.KeySetStats }
}

var (
	_ runtime.Observer        = (*Telemetry)(nil)
	_ runtime.ClientObserver  = (*Telemetry)(nil)
	_ runtime.BackendObserver = (*Telemetry)(nil)
)

// New creates the instruments on a meter of the MeterProvider.
func New(opts ...Option) (*Telemetry, error) {
	cfg := config{spanEvents: true}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	m := cfg.mp.Meter(ScopeName, metric.WithInstrumentationVersion(runtime.Version))
	t := &Telemetry{spanEvents: cfg.spanEvents}
	var err error
	check := func(e error) {
		if err == nil && e != nil {
			err = fmt.Errorf("otelauth: %w", e)
		}
	}
	// Decisions are counted by otelauth itself, one atomic counter per
	// combination of attribute values, and read by the SDK at collection:
	// the call path pays an increment, not the SDK's attribute handling.
	decisions, e := m.Int64ObservableCounter("grpcauth.decisions", metric.WithUnit("{decision}"),
		metric.WithDescription("Auth decisions, by method, outcome (allow, deny, would_deny), status code, reason and credential kind."))
	check(e)
	t.duration, e = m.Float64Histogram("grpcauth.decision.duration", metric.WithUnit("s"),
		metric.WithDescription("How long auth decisions take (authentication and condition), by method and outcome."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(e)
	t.introRequests, e = m.Int64Counter("grpcauth.introspection.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Token introspection requests, by result (active, inactive, error)."))
	check(e)
	t.introDuration, e = m.Float64Histogram("grpcauth.introspection.duration", metric.WithUnit("s"),
		metric.WithDescription("How long token introspection requests take, by result."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(e)
	t.clientRefusals, e = m.Int64Counter("grpcauth.client.preflight_refusals", metric.WithUnit("{call}"),
		metric.WithDescription("Calls the generated client refused before sending, by method, reason and dry-run."))
	check(e)
	t.tokenFetches, e = m.Int64Counter("grpcauth.client.token_fetches", metric.WithUnit("{fetch}"),
		metric.WithDescription("Tokens the generated client fetched from its token source, by result (ok, error)."))
	check(e)
	t.clientRetries, e = m.Int64Counter("grpcauth.client.retries", metric.WithUnit("{call}"),
		metric.WithDescription("Unary calls the generated client sent again after TOKEN_EXPIRED, by method."))
	check(e)

	fetches, e := m.Int64ObservableCounter("grpcauth.jwks.fetches", metric.WithUnit("{fetch}"),
		metric.WithDescription("JWKS fetches started, by authenticator."))
	check(e)
	failures, e := m.Int64ObservableCounter("grpcauth.jwks.fetch_failures", metric.WithUnit("{fetch}"),
		metric.WithDescription("JWKS fetches that failed, by authenticator."))
	check(e)
	keyAge, e := m.Float64ObservableGauge("grpcauth.jwks.key_age", metric.WithUnit("s"),
		metric.WithDescription("Time since the key set in use was fetched, by authenticator."))
	check(e)
	keys, e := m.Int64ObservableGauge("grpcauth.jwks.keys", metric.WithUnit("{key}"),
		metric.WithDescription("Usable keys in the key set in use, by authenticator."))
	check(e)
	entries, e := m.Int64ObservableGauge("grpcauth.cache.entries", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries in an authenticator's cache (verified tokens, introspection answers)."))
	check(e)
	hits, e := m.Int64ObservableCounter("grpcauth.cache.hits", metric.WithUnit("{lookup}"),
		metric.WithDescription("Cache look-ups that found the token, by authenticator."))
	check(e)
	misses, e := m.Int64ObservableCounter("grpcauth.cache.misses", metric.WithUnit("{lookup}"),
		metric.WithDescription("Cache look-ups that did not, by authenticator."))
	check(e)
	evictions, e := m.Int64ObservableCounter("grpcauth.cache.evictions", metric.WithUnit("{entry}"),
		metric.WithDescription("Live cache entries dropped to make room, by authenticator."))
	check(e)
	coalesced, e := m.Int64ObservableCounter("grpcauth.cache.coalesced", metric.WithUnit("{lookup}"),
		metric.WithDescription("Cache misses that waited for another call's verification or introspection of the same token instead of starting their own, by authenticator."))
	check(e)
	if err != nil {
		return nil, err
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		t.mu.Lock()
		srcs := append([]source(nil), t.sources...)
		t.mu.Unlock()
		if sets := t.sets.Load(); sets != nil {
			for _, s := range *sets {
				o.ObserveInt64(decisions, s.n.Load(), s.count)
			}
		}
		now := time.Now()
		for _, s := range srcs {
			if s.keys != nil {
				ks := s.keys.KeySetStats()
				o.ObserveInt64(fetches, gauge(ks.Fetches), s.attrs)
				o.ObserveInt64(failures, gauge(ks.FetchFailures), s.attrs)
				o.ObserveInt64(keys, int64(ks.Keys), s.attrs)
				if !ks.FetchedAt.IsZero() {
					o.ObserveFloat64(keyAge, now.Sub(ks.FetchedAt).Seconds(), s.attrs)
				}
			}
			if s.cache != nil {
				cs := s.cache.CacheStats()
				o.ObserveInt64(entries, int64(cs.Entries), s.attrs)
				o.ObserveInt64(hits, gauge(cs.Hits), s.attrs)
				o.ObserveInt64(misses, gauge(cs.Misses), s.attrs)
				o.ObserveInt64(evictions, gauge(cs.Evictions), s.attrs)
				o.ObserveInt64(coalesced, gauge(cs.Coalesced), s.attrs)
			}
		}
		return nil
	}, decisions, fetches, failures, keyAge, keys, entries, hits, misses, evictions, coalesced)
	if err != nil {
		return nil, fmt.Errorf("otelauth: %w", err)
	}
	return t, nil
}

// ObserveAuthenticator reports a's key set (a KeySetStats method, as
// *jwtauth.Authenticator has) and cache (a CacheStats method, as
// *jwtauth.Authenticator and *introspection.Authenticator have) under
// grpcauth.authenticator = name. name is yours to choose ("jwt",
// "introspection", an issuer's short name): it should be one of a few. It
// is an error when a has neither method.
func (t *Telemetry) ObserveAuthenticator(name string, a any) error {
	s := source{attrs: metric.WithAttributeSet(attribute.NewSet(AttrAuthenticator.String(name)))}
	s.cache, _ = a.(interface{ CacheStats() runtime.CacheStats })
	s.keys, _ = a.(interface{ KeySetStats() runtime.KeySetStats })
	if s.cache == nil && s.keys == nil {
		return fmt.Errorf("otelauth: ObserveAuthenticator(%q): %T has neither CacheStats nor KeySetStats", name, a)
	}
	t.mu.Lock()
	t.sources = append(t.sources, s)
	t.mu.Unlock()
	return nil
}

// decisionKey is one combination of a decision's attribute values.
type decisionKey struct {
	method  string
	outcome runtime.Outcome
	code    codes.Code
	reason  runtime.Reason
	kind    runtime.CredentialKind
	dryRun  bool
}

// decisionSets are the attribute sets of one decisionKey, built once, and
// its count of decisions.
type decisionSets struct {
	n        atomic.Int64
	count    metric.ObserveOption
	duration []metric.RecordOption
	span     []attribute.KeyValue // without the decision id
}

var knownReasons = func() map[runtime.Reason]bool {
	m := map[runtime.Reason]bool{}
	for _, r := range runtime.Reasons() {
		m[r] = true
	}
	return m
}()

// boundedReason is r when it is a reason of the runtime, else "OTHER" (a
// custom authenticator's made-up reason does not make a new series).
func boundedReason(r runtime.Reason) string {
	if r == "" || knownReasons[r] {
		return string(r)
	}
	return "OTHER"
}

// boundedMethod is the method of a rule, or OtherMethod.
func boundedMethod(m string) string {
	if m == "" {
		return OtherMethod
	}
	return m
}

func (t *Telemetry) setsFor(k decisionKey) *decisionSets {
	if m := t.sets.Load(); m != nil {
		if s, ok := (*m)[k]; ok {
			return s
		}
	}
	t.setsMu.Lock()
	defer t.setsMu.Unlock()
	old := t.sets.Load()
	if old != nil {
		if s, ok := (*old)[k]; ok {
			return s
		}
	}
	method := boundedMethod(k.method)
	attrs := []attribute.KeyValue{
		AttrMethod.String(method),
		AttrOutcome.String(k.outcome.String()),
		AttrCode.String(codeName(k.code)),
		AttrKind.String(k.kind.String()),
	}
	if k.reason != "" {
		attrs = append(attrs, AttrReason.String(boundedReason(k.reason)))
	}
	count := metric.WithAttributeSet(attribute.NewSet(attrs...))
	duration := metric.WithAttributeSet(attribute.NewSet(AttrMethod.String(method), AttrOutcome.String(k.outcome.String())))
	span := []attribute.KeyValue{
		AttrOutcome.String(k.outcome.String()),
		AttrCode.String(codeName(k.code)),
		AttrKind.String(k.kind.String()),
	}
	if k.reason != "" {
		span = append(span, AttrReason.String(boundedReason(k.reason)))
	}
	if k.dryRun {
		span = append(span, AttrDryRun.Bool(true))
	}
	s := &decisionSets{count: count, duration: []metric.RecordOption{duration}, span: span}
	next := make(map[decisionKey]*decisionSets, 8)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[k] = s
	t.sets.Store(&next)
	return s
}

// spanEvent holds a decision event's attributes and the text of its id,
// allocated together. It is never changed once given to the span.
type spanEvent struct {
	attrs [6]attribute.KeyValue
	id    [32]byte
}

// ObserveDecision counts the decision, records its duration and adds a
// "grpcauth.decision" event to the call's span when it is recording.
func (t *Telemetry) ObserveDecision(ctx context.Context, o runtime.Observation) {
	s := t.setsFor(decisionKey{method: o.FullMethod, outcome: o.Outcome, code: o.Code, reason: o.Reason, kind: o.Kind, dryRun: o.DryRun})
	s.n.Add(1)
	// Not ctx: an exemplar taken from the call's span would cost the call
	// more than the measurement; the span has the decision's event.
	t.duration.Record(context.Background(), o.Duration.Seconds(), s.duration...)
	if !t.spanEvents {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	// One allocation for the attributes and the id's text.
	ev := new(spanEvent)
	id, _ := o.ID.AppendText(ev.id[:0])
	n := copy(ev.attrs[:], s.span)
	ev.attrs[n] = AttrDecisionID.String(unsafe.String(unsafe.SliceData(id), len(id))) //nolint:gosec // G103: id is ev.id, written once above and never again
	span.AddEvent("grpcauth.decision", trace.WithAttributes(ev.attrs[:n+1]...))
}

// ObserveClient counts the generated client's refusals, token fetches and
// retries, and adds refusals and retries as events to the span in ctx: the
// retried call's own client span, or for a refusal (made before any RPC
// starts) the caller's span.
func (t *Telemetry) ObserveClient(ctx context.Context, ev runtime.ClientEvent) {
	switch ev.Type {
	case runtime.ClientPreflightRefused:
		attrs := []attribute.KeyValue{AttrMethod.String(boundedMethod(ev.FullMethod)), AttrReason.String(boundedReason(ev.Reason)), AttrDryRun.Bool(ev.DryRun)}
		t.clientRefusals.Add(ctx, 1, metric.WithAttributes(attrs...))
		t.clientSpanEvent(ctx, "grpcauth.client.preflight_refused", attrs)
	case runtime.ClientTokenFetched:
		result := "ok"
		if ev.Failed {
			result = "error"
		}
		t.tokenFetches.Add(ctx, 1, metric.WithAttributes(AttrResult.String(result)))
	case runtime.ClientRetried:
		t.clientRetries.Add(ctx, 1, metric.WithAttributes(AttrMethod.String(boundedMethod(ev.FullMethod)), AttrReason.String(boundedReason(ev.Reason))))
		attrs := []attribute.KeyValue{AttrMethod.String(boundedMethod(ev.FullMethod)), AttrReason.String(boundedReason(ev.Reason))}
		if ev.DecisionID != "" {
			attrs = append(attrs, AttrDecisionID.String(ev.DecisionID))
		}
		t.clientSpanEvent(ctx, "grpcauth.client.retry", attrs)
	}
}

func (t *Telemetry) clientSpanEvent(ctx context.Context, name string, attrs []attribute.KeyValue) {
	if !t.spanEvents {
		return
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(name, trace.WithAttributes(attrs...))
	}
}

// ObserveBackend counts an introspection request and records its
// duration, by result.
func (t *Telemetry) ObserveBackend(c runtime.BackendCall) {
	if c.Backend != "introspection" {
		return
	}
	opt := metric.WithAttributes(AttrResult.String(boundedResult(c.Result)))
	t.introRequests.Add(context.Background(), 1, opt)
	t.introDuration.Record(context.Background(), c.Duration.Seconds(), opt)
}

func boundedResult(r string) string {
	switch r {
	case "active", "inactive", "error":
		return r
	}
	return "other"
}

// gauge is a counter's value as OpenTelemetry's int64, capped.
func gauge(n uint64) int64 {
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}

// codeName is the canonical name of a gRPC status code, as in the gRPC
// specification ("PERMISSION_DENIED").
func codeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "UNKNOWN"
}

var codeNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}
