// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"crypto/x509"
	"sync"
	"sync/atomic"
	"time"
)

// Principal is the authenticated caller of a call. Authenticators cache
// principals and share one between the calls of a token or a connection:
// treat a Principal, its Scopes and its Claims as read-only.
type Principal struct {
	// Kind is the kind of credential the caller presented.
	Kind CredentialKind
	// Subject identifies the caller: a JWT's sub, an API key's name, a
	// certificate's SPIFFE ID.
	Subject string
	// Issuer is who vouched for the credential, such as a JWT's iss.
	Issuer string
	// Scopes the caller holds.
	Scopes []string
	// Claims are the verified claims of a token, when there are any. Do not
	// modify them.
	Claims map[string]any
	// ExpiresAt is when this server stops accepting the credential (a
	// token's exp plus the clock-skew leeway); zero if never. Streams end
	// then.
	ExpiresAt time.Time
	// Certificate is the verified client certificate the principal was
	// taken from (kind MTLS), or nil.
	Certificate *x509.Certificate

	memo atomic.Pointer[sync.Map] // values derived from the principal; see Memo
}

// Memo returns the value derived from p under key, calling build the first
// time. A principal is shared between the calls of a cached token or a
// connection, so what a package derives from it (runtime/celcond's CEL view
// of it) is derived once. Errors are returned, not remembered.
//
// For generated code and condition evaluators (runtime/celcond); handlers
// do not need it.
func (p *Principal) Memo(key any, build func() (any, error)) (any, error) {
	m := p.memo.Load()
	if m == nil {
		p.memo.CompareAndSwap(nil, new(sync.Map))
		m = p.memo.Load()
	}
	if v, ok := m.Load(key); ok {
		return v, nil
	}
	v, err := build()
	if err != nil {
		return nil, err
	}
	v, _ = m.LoadOrStore(key, v)
	return v, nil
}

// HasScope reports whether p holds scope.
func (p *Principal) HasScope(scope string) bool {
	for _, s := range p.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

func (p *Principal) missing(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		if !p.HasScope(s) {
			out = append(out, s)
		}
	}
	return out
}

func (p *Principal) hasAll(scopes []string) bool {
	for _, s := range scopes {
		if !p.HasScope(s) {
			return false
		}
	}
	return true
}

// authState is what the enforcer leaves in a call's context: the rule it
// enforced and the principal (nil on public methods, and on optional ones
// called without a credential), and the workload of a call made on behalf
// of an end user.
type authState struct {
	rule      *Rule
	principal *Principal
	workload  *Principal
	enf       *Enforcer
	// pending is set while the rule's condition waits for the request.
	pending bool
	// dryRun: the method runs in dry-run; denials are reported, not made.
	dryRun bool
	// spent is the time the decision took before it waited for the
	// request (when an observer is set).
	spent time.Duration
	// guard ends the stream, if this is one, when its credential expires.
	guard *streamGuard
}

type authStateKey struct{}

// authContext carries an authState: one allocation where
// context.WithValue and a separate state would take two.
type authContext struct {
	context.Context
	st authState
}

func (c *authContext) Value(key any) any {
	if _, ok := key.(authStateKey); ok { // the type alone: == on a zero-size key calls runtime.efaceeq
		return &c.st
	}
	return c.Context.Value(key)
}

func withState(ctx context.Context, st authState) context.Context {
	return &authContext{Context: ctx, st: st}
}

// withStateIn is withState in c, when c is not nil.
func withStateIn(c *authContext, ctx context.Context, st authState) context.Context {
	if c == nil {
		return withState(ctx, st)
	}
	c.Context, c.st = ctx, st
	return c
}

func stateFrom(ctx context.Context) *authState {
	s, _ := ctx.Value(authStateKey{}).(*authState)
	return s
}

// PrincipalFrom returns the caller that the enforcer authenticated for this
// call; on a call made on behalf of an end user (a requirement with
// on_behalf_of), the end user, whose workload [WorkloadFrom] returns. It
// returns nil, false on a public method (whose credentials are never read),
// on an optional one called without a credential, and in a context the
// enforcer did not pass through.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	s := stateFrom(ctx)
	if s == nil || s.principal == nil {
		return nil, false
	}
	return s.principal, true
}

// WorkloadFrom returns the workload that made this call on behalf of the
// end user [PrincipalFrom] returns: the principal of its client
// certificate or API key. It returns nil, false on every other call, where
// the caller, workload or not, is PrincipalFrom's.
func WorkloadFrom(ctx context.Context) (*Principal, bool) {
	s := stateFrom(ctx)
	if s == nil || s.workload == nil {
		return nil, false
	}
	return s.workload, true
}
