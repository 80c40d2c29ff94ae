// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"

	"google.golang.org/grpc/codes"
)

// What integrations that serve or call outside grpc-go (runtime/connectauth)
// need of the decision and the client's credentials.

// ConditionPending reports whether the call of ctx was allowed by
// [Enforcer.Authorize] with its condition still to be decided on the
// decoded request by [Enforcer.CheckRequest].
func ConditionPending(ctx context.Context) bool {
	st := stateFrom(ctx)
	return st != nil && st.pending
}

// RefuseCondition denies the call of ctx, whose condition is pending,
// because its request will not be decoded where the condition can be
// decided (a handler without the hook that calls CheckRequest): the
// condition is never skipped. The denial is CONDITION_FAILED, logged and
// audited like every other; detail goes to the log only. It returns nil
// when no condition is pending.
func (e *Enforcer) RefuseCondition(ctx context.Context, detail string) error {
	st := stateFrom(ctx)
	if st == nil || !st.pending {
		return nil
	}
	derr := NewError(ReasonConditionFailed, "the method's condition could not be evaluated").WithDetail("%s", detail)
	e.deny(ctx, st.rule, caller{kind: st.principal.Kind, principal: st.principal, workload: st.workload}, derr)
	return derr
}

// Preflight returns the error every call of m's method fails with before
// anything is sent (the client holds none of the kinds it accepts, or the
// method has no rule), or nil.
func (m *MethodCredentials) Preflight() error {
	if m.preflight != nil {
		return m.preflight
	}
	return nil
}

// Header returns the header a call of m's method attaches, as the
// generated gRPC client attaches it: "authorization" and "Bearer <token>"
// (fetched, or refreshed ahead of expiry, from the token source), or
// "x-api-key" and the key; an empty name for a public method or a client
// certificate. secure says whether the connection has TLS: without it a
// token or key is refused before anything is sent with TRANSPORT_INSECURE,
// unless AllowPlaintext. For clients other than grpc-go's.
func (m *MethodCredentials) Header(ctx context.Context, secure bool) (name, value string, err error) {
	switch {
	case m.preflight != nil:
		return "", "", m.preflight
	case m.callOpt == nil:
		return "", "", nil
	case !secure && !m.creds.AllowPlaintext:
		return "", "", localError(ReasonTransportInsecure, "refusing to send "+m.kind.String()+" over a plaintext connection; use TLS or set AllowPlaintext")
	case m.kind == APIKey:
		return APIKeyKey, m.creds.APIKey, nil
	}
	hdr, err := m.creds.tokens().header(ctx)
	if err != nil {
		return "", "", err
	}
	return AuthorizationKey, hdr, nil
}

// RetryExpired runs call, which sends one unary call of m's method with
// the [MethodCredentials.Header] it takes, as [Unary] does: when the server
// refuses this very method's token as expired (decode reads the denial
// from call's error), the token is dropped, unless a newer one was fetched
// since, and call runs exactly once more. Calls with an API key, a client
// certificate or none are never retried. For clients other than grpc-go's;
// never for streams.
func (m *MethodCredentials) RetryExpired(ctx context.Context, call func(context.Context) error, decode func(error) (*Error, bool)) error {
	if m.preflight != nil {
		return m.preflight
	}
	if m.callOpt == nil || m.kind == APIKey {
		return call(ctx)
	}
	gen := m.creds.tokens().generation()
	err := call(ctx)
	if err == nil {
		return nil
	}
	if e, ok := decode(err); !ok || e.Local || e.Code != codes.Unauthenticated || e.Reason != ReasonTokenExpired || e.Metadata["method"] != m.rule.FullMethod {
		return err
	}
	m.creds.tokens().expire(gen)
	return call(ctx)
}

// StreamGuard ends a stream that an integration serves outside grpc-go
// (runtime/connectauth) as the enforcer ends its own: at the instant its
// credential expires, idle or not, and when a recheck every
// [WithStreamRecheck] interval refuses the credential it was opened with.
// Then the handler's context is cancelled with the denial as its cause,
// [StreamGuard.Receive] and [StreamGuard.Check] return the denial, and
// [StreamGuard.Finish] puts it in place of the handler's result. As the
// enforcer's own, the context is made cancellable, and the instants timed,
// once something waits on it or asks for its error; until then Receive,
// Check, Finish and the context's Done and Err check them by the clock (see
// "Streams" in the README). A nil *StreamGuard guards nothing; a
// StreamGuard is used through the pointer GuardStream returns and must not
// be copied. Its methods are safe for concurrent use with the timer, but
// Receive must not be called concurrently with itself.
type StreamGuard struct{ g streamGuard }

// GuardStream returns the context a stream's handler must run with and
// the stream's guard, for the context [Enforcer.Authorize] returned; a nil
// guard when the stream needs none (a public method, a credential that
// never expires without rechecks) or already has one.
func GuardStream(ctx context.Context) (context.Context, *StreamGuard) {
	st := stateFrom(ctx)
	if !needsGuard(st) {
		return ctx, nil // decided before anything is allocated
	}
	s := new(StreamGuard)
	if !s.g.open(ctx, st) {
		return ctx, nil // another GuardStream of ctx opened its guard first
	}
	return &s.g, s
}

// Check returns the denial that ended the stream, or nil; call it before
// every message sent.
func (s *StreamGuard) Check() error {
	if s == nil {
		return nil
	}
	return s.g.check()
}

// Receive runs recv, the stream's receive into m, and returns its error,
// or the denial as soon as the stream is ended while recv waits. recv
// receives into a fresh message of m's type, moved into m on success, so
// that nothing writes into m after Receive returned early.
func (s *StreamGuard) Receive(m any, recv func(any) error) error {
	if s == nil || s.g.st == nil {
		return recv(m) // none, or one GuardStream did not open: nothing to guard
	}
	g := &s.g
	return g.receiveInto(m, func(fresh any) recvJob { return recvJob{g: g, call: func() error { return recv(fresh) }} })
}

// Finish is called with the handler's result when it returns: it stops the
// guard and returns the denial in place of err when the guard ended the
// stream.
func (s *StreamGuard) Finish(err error) error {
	if s == nil {
		return err
	}
	return s.g.finish(err)
}
