// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
)

// Observer is told of every decision an [Enforcer] makes, for metrics and
// traces; package runtime/otelauth implements it with OpenTelemetry. The
// core knows observers only by this interface and links no telemetry SDK.
//
// Contract:
//   - ObserveDecision is called in the RPC path, on the call's goroutine,
//     once per decision, after the decision and before the handler runs
//     (for a stream ended by auth, when it ends). It must not block: no
//     network, no disk, no lock held for long. Queue anything slow.
//   - It is called concurrently from many calls: it must be safe for
//     concurrent use.
//   - ctx is the call's context, passed so that an observer can find the
//     call's span (trace.SpanFromContext). It must not be kept past the
//     call, and nothing else may be read from it: its metadata holds the
//     caller's credential.
//   - The Observation is passed by value and holds no credential, no
//     request field and no claim value. The enforcer allocates nothing for
//     an observer; an observer should not either on its common path.
type Observer interface {
	ObserveDecision(ctx context.Context, o Observation)
}

// Observation is what an [Observer] is told of a decision. Every field has
// a small, bounded set of values, fit for metric attributes.
type Observation struct {
	// ID is the decision's id, as in the caller's error and the log line.
	ID DecisionID
	// FullMethod is the method's "/pkg.Service/Method" when it has a rule
	// in the enforcer's tables, and "" when it has none: a name that comes
	// from the caller never reaches an observer, so that metrics stay
	// bounded by the rule tables.
	FullMethod string
	// Outcome is allow, deny or would_deny (dry-run).
	Outcome Outcome
	// Code is the denial's status code, OK when allowed. For would_deny it
	// is the code the caller would have seen.
	Code codes.Code
	// Reason is the denial's reason, empty when allowed.
	Reason Reason
	// Kind is the kind of credential presented, NoCredential if none.
	Kind CredentialKind
	// DryRun is true when the method runs in dry-run (whatever the outcome).
	DryRun bool
	// Duration is how long the decision took, authentication and condition
	// included (not the handler).
	Duration time.Duration
}

// WithObserver sets the observer of every decision, such as an
// *otelauth.Telemetry. Without one, decisions cost nothing for
// observation: no clock is read and nothing is allocated.
func WithObserver(o Observer) Option {
	return func(e *Enforcer) error {
		if o == nil {
			return fmt.Errorf("%w: WithObserver: nil observer", ErrInvalidOption)
		}
		e.observer = o
		return nil
	}
}

// BackendObserver is told of every request an authenticator makes to its
// backend (an introspection endpoint), for metrics; runtime/otelauth
// implements it. The contract is [Observer]'s: it must not block and must
// be safe for concurrent use. It is called from the goroutine that made
// the request, which may serve several calls at once.
type BackendObserver interface {
	ObserveBackend(c BackendCall)
}

// BackendCall is one request an authenticator made to its backend. It
// holds no token and no URL.
type BackendCall struct {
	// Backend names the kind of backend, such as "introspection".
	Backend string
	// Kind is the credential kind the backend checks.
	Kind CredentialKind
	// Duration is how long the request took.
	Duration time.Duration
	// Result is "active" or "inactive" for an answer about a token, and
	// "error" for a failure to get one (network, status, malformed answer).
	Result string
}

// KeySetStats is a snapshot of an authenticator's key set: the JWKS of
// runtime/jwtauth. Counters count since the authenticator was built.
type KeySetStats struct {
	// Fetches is the number of key set fetches started.
	Fetches uint64
	// FetchFailures is the number of fetches that failed (network, status,
	// body, no usable key).
	FetchFailures uint64
	// Keys is the number of usable keys in the set in use now.
	Keys int
	// FetchedAt is when the set in use was fetched; zero for a static set
	// and before the first successful fetch.
	FetchedAt time.Time
}

// ClientObserver is told of what a generated client does on its own:
// preflight refusals, token fetches, retries; runtime/otelauth implements
// it. Its contract is [Observer]'s: called in the call path (a token fetch
// from the goroutine that fetched), it must not block and must be safe for
// concurrent use; ctx is the call's (it holds the client's span, or the
// caller's span for a refusal made before any RPC started) and must not be
// kept.
type ClientObserver interface {
	ObserveClient(ctx context.Context, ev ClientEvent)
}

// ClientEventType is what a generated client did.
type ClientEventType uint8

// The client events.
const (
	// ClientPreflightRefused: a call was refused before anything was sent
	// (no credential of an accepted kind, a secret that would cross
	// plaintext, a method without a rule). With DryRun set the rule runs in
	// dry-run: the call was sent without the credential instead.
	ClientPreflightRefused ClientEventType = iota + 1
	// ClientTokenFetched: the token source was asked for a token.
	ClientTokenFetched
	// ClientRetried: a unary call the server refused with TOKEN_EXPIRED
	// was sent again with a fresh token.
	ClientRetried
)

// String returns "preflight_refused", "token_fetched" or "retried".
func (t ClientEventType) String() string {
	switch t {
	case ClientPreflightRefused:
		return "preflight_refused"
	case ClientTokenFetched:
		return "token_fetched"
	case ClientRetried:
		return "retried"
	}
	return "unknown"
}

// ClientEvent is one thing a generated client did. It holds no token.
type ClientEvent struct {
	Type ClientEventType
	// FullMethod is the generated method's "/pkg.Service/Method"; empty
	// for a token fetch, which serves every method.
	FullMethod string
	// Reason is a refusal's reason, or the server's reason for a retry.
	Reason Reason
	// Kind is the credential kind involved.
	Kind CredentialKind
	// DryRun marks a refusal that was not made because the method's rule
	// runs in dry-run.
	DryRun bool
	// DecisionID is, for a retry, the server's decision id of the
	// refusal that caused it (see [Error.DecisionID]).
	DecisionID string
	// Failed marks a token fetch that failed.
	Failed bool
	// Duration is how long a token fetch took.
	Duration time.Duration
}
