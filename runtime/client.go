// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
)

// DefaultRefreshMargin is how long before its expiry a cached token is
// replaced, unless [ClientCredentials].RefreshMargin says otherwise.
const DefaultRefreshMargin = 30 * time.Second

// ClientCredentials are what a generated client (NewXxxAuthClient) may
// present. Per method it attaches the first credential kind, in the order
// of the method's rule, that it holds; a public method gets none, and so
// does a method whose authentication is optional when it holds none of its
// kinds.
//
// A call made on behalf of an end user carries the end user's token, given
// per call with [OnBehalfOf], beside the workload's own credential from
// ClientCredentials (APIKey, or the connection's client certificate).
//
// Build it once and share it: the token cache inside is what makes many
// goroutines cause one refresh.
type ClientCredentials struct {
	// TokenSource yields bearer tokens for BEARER_JWT and OAUTH2_TOKEN
	// methods, such as an oauth2.Config's or clientcredentials.Config's.
	// Tokens are cached and refreshed RefreshMargin before they expire;
	// concurrent callers share one refresh.
	TokenSource oauth2.TokenSource
	// APIKey is sent in x-api-key to API_KEY methods.
	APIKey string
	// ClientCertificate says the connection presents a TLS client
	// certificate (configured on its transport credentials), so MTLS
	// methods are callable.
	ClientCertificate bool
	// AllowPlaintext lets bearer tokens and API keys be sent over a
	// plaintext connection. Without it such a call fails before anything
	// is sent, with TRANSPORT_INSECURE. For local development only.
	AllowPlaintext bool
	// RefreshMargin is how long before expiry a token is refreshed
	// (default DefaultRefreshMargin).
	RefreshMargin time.Duration
	// Clock is the time source, for tests (default time.Now).
	Clock func() time.Time
	// Logger, when set, gets one line for each preflight refusal, token
	// fetch and retry the client makes (never a token, a key or the token
	// source's raw error text). Off (nil) by default. With the server's
	// log, it is the "capture both sides" switch of the troubleshooting
	// guide.
	Logger *slog.Logger
	// Observer, when set, is told of the same events, for metrics and
	// spans (an *otelauth.Telemetry). See [ClientObserver] for its
	// contract.
	Observer ClientObserver

	once  sync.Once
	cache *tokenCache
}

func (c *ClientCredentials) tokens() *tokenCache {
	c.once.Do(func() {
		if c.TokenSource == nil {
			return
		}
		margin, now := c.RefreshMargin, c.Clock
		if margin <= 0 {
			margin = DefaultRefreshMargin
		}
		if now == nil {
			now = time.Now
		}
		c.cache = &tokenCache{src: c.TokenSource, margin: margin, now: now, creds: c}
	})
	return c.cache
}

// Fetches reports how many tokens were fetched from TokenSource.
func (c *ClientCredentials) Fetches() int64 {
	if t := c.tokens(); t != nil {
		return t.fetches.Load()
	}
	return 0
}

// ExpireToken drops the cached token: the next call fetches a new one.
func (c *ClientCredentials) ExpireToken() {
	if t := c.tokens(); t != nil {
		if st := t.cur.Load(); st != nil {
			t.expire(st.gen)
		}
	}
}

func (c *ClientCredentials) holds(k CredentialKind) bool {
	switch k {
	case BearerJWT, OAuth2Token:
		return c.TokenSource != nil
	case APIKey:
		return c.APIKey != ""
	case MTLS:
		return c.ClientCertificate
	}
	return false
}

// MethodCredentials is what a generated client attaches to the calls of
// one method: a credential of a kind the method accepts, or the preflight
// error. Generated clients build one per method with
// [ClientCredentials.ForMethod] when they are created.
//
// For generated code; applications do not call it.
type MethodCredentials struct {
	creds     *ClientCredentials
	rule      *Rule
	kind      CredentialKind // NoCredential: public, optional, or preflight fails
	preflight *Error
	// wouldRefuse is the preflight refusal of a rule in dry-run: reported,
	// and the call is sent without a credential.
	wouldRefuse *Error
	callOpt     grpc.CallOption   // attaches the credential; nil when none
	onlyOpt     []grpc.CallOption // {callOpt}, for calls without options of their own

	// For calls on behalf of an end user ([OnBehalfOf]): the workload kind
	// of the first requirement with an end user whose workload kind the
	// client holds (NoCredential: none), and the refusal when there is none.
	pairKind  CredentialKind
	pairError *Error
	takesPair bool // some requirement has an end user
}

// ForMethod decides, once, what calls to rule's method attach. For a rule
// in dry-run, a call it would refuse is reported (Logger, Observer) and sent
// without a credential instead.
//
// For generated code; applications do not call it.
func (c *ClientCredentials) ForMethod(rule *Rule) *MethodCredentials {
	m := c.forMethod(rule)
	if rule.DryRun && m.preflight != nil {
		m.wouldRefuse, m.preflight = m.preflight, nil
	}
	return m
}

func (c *ClientCredentials) forMethod(rule *Rule) *MethodCredentials {
	m := &MethodCredentials{creds: c, rule: rule}
	switch {
	case rule.Undeclared:
		m.preflight = localError(ReasonMethodNotDeclared, "no auth rule is declared for this method; the server denies every call")
		return m
	case rule.Public:
		return m
	}
	for i := range rule.Requirements {
		req := &rule.Requirements[i]
		for _, k := range req.Credentials {
			if c == nil || !c.holds(k) {
				continue
			}
			switch {
			case req.OnBehalfOf != nil && m.pairKind == NoCredential:
				m.pairKind = k
			case req.OnBehalfOf == nil && m.kind == NoCredential:
				m.kind = k
			}
		}
		m.takesPair = m.takesPair || req.OnBehalfOf != nil
	}
	if m.takesPair && m.pairKind == NoCredential {
		accepted := kindList(rule.workloadKinds())
		m.pairError = localError(ReasonCredentialsMissing, "the client holds none of the workload credential kinds this method takes on behalf of an end user: "+accepted).
			WithMetadata("accepted_kinds", accepted)
	}
	if m.kind == NoCredential {
		if rule.Optional {
			return m // sent without a credential
		}
		accepted := kindList(rule.acceptedKinds())
		switch {
		case m.pairKind != NoCredential:
			// Callable only on behalf of an end user: the refusal of a
			// call without one.
			users := kindList(rule.endUserKinds())
			m.preflight = localError(ReasonCredentialsMissing, "this method is called on behalf of an end user: give the call an end user's token ("+users+") with runtime.OnBehalfOf").
				WithMetadata("accepted_end_user_kinds", users)
		default:
			m.preflight = localError(ReasonCredentialsMissing, "the client holds none of the credential kinds this method accepts: "+accepted).
				WithMetadata("accepted_kinds", accepted)
		}
		return m
	}
	if m.kind != MTLS {
		m.callOpt = grpc.PerRPCCredentials(perRPC{m: m})
		m.onlyOpt = []grpc.CallOption{m.callOpt}
	}
	return m
}

type endUserKey struct{}

// OnBehalfOf returns a context whose calls through generated clients are
// made on behalf of the end user whose bearer tokens ts yields: a method
// with an on_behalf_of requirement gets the end user's token in
// authorization beside the workload's own credential from
// [ClientCredentials] (its API key in x-api-key, or the connection's client
// certificate). Methods without such a requirement are called as before,
// without the end user's token. A call to a method with one fails before
// anything is sent when the client holds none of the workload kinds it
// takes (CREDENTIALS_MISSING, the kinds named), or when ts yields no valid
// token. ts is asked once per call; cache in it (oauth2.ReuseTokenSource)
// if it is costly. Calls on behalf of an end user are not retried.
func OnBehalfOf(ctx context.Context, ts oauth2.TokenSource) context.Context {
	return context.WithValue(ctx, endUserKey{}, ts)
}

// endUser returns the end user's token source of a call to a method with
// an on_behalf_of requirement, or nil (the context is not searched for
// other methods).
func (m *MethodCredentials) endUser(ctx context.Context) oauth2.TokenSource {
	if !m.takesPair {
		return nil
	}
	ts, _ := ctx.Value(endUserKey{}).(oauth2.TokenSource)
	return ts
}

// pair returns the call option that attaches the end user's token (and
// the workload's API key) to a call on behalf of the end user of ts.
func (m *MethodCredentials) pair(ts oauth2.TokenSource) (grpc.CallOption, error) {
	if m.pairError != nil {
		return nil, m.pairError
	}
	tok, err := ts.Token()
	if err != nil {
		return nil, localError(ReasonCredentialsMissing, "the end user's token source failed").WithCause(err).WithDetail("end user token source: %v", err)
	}
	if tok == nil || tok.AccessToken == "" || (!tok.Expiry.IsZero() && !m.creds.now().Before(tok.Expiry)) {
		return nil, localError(ReasonCredentialsMissing, "the end user's token source returned no valid token")
	}
	return grpc.PerRPCCredentials(pairRPC{m: m, header: "Bearer " + tok.AccessToken}), nil
}

func (c *ClientCredentials) now() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

// pairRPC attaches an end user's token and, for an API key workload, the
// workload's key.
type pairRPC struct {
	m      *MethodCredentials
	header string
}

func (p pairRPC) RequireTransportSecurity() bool { return false }

func (p pairRPC) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	c := p.m.creds
	if !c.AllowPlaintext {
		if ri, _ := credentials.RequestInfoFromContext(ctx); !private(ri.AuthInfo) {
			return nil, localError(ReasonTransportInsecure, "refusing to send an end user's token over a plaintext connection; use TLS or set AllowPlaintext")
		}
	}
	if p.m.pairKind == APIKey {
		return map[string]string{AuthorizationKey: p.header, APIKeyKey: c.APIKey}, nil
	}
	return map[string]string{AuthorizationKey: p.header}, nil
}

// with returns the call's options with the credential's, without
// allocating for a call that has none of its own.
func (m *MethodCredentials) with(opts []grpc.CallOption) []grpc.CallOption {
	switch {
	case m.callOpt == nil:
		return opts
	case len(opts) == 0:
		return m.onlyOpt
	}
	return append(opts[:len(opts):len(opts)], m.callOpt)
}

// Kind is the credential kind calls attach, NoCredential for a public
// method or when the preflight fails.
func (m *MethodCredentials) Kind() CredentialKind { return m.kind }

// localError is a denial made by the client before any network.
func localError(r Reason, msg string) *Error {
	e := NewError(r, msg)
	e.Local = true
	return e
}

// perRPC attaches the credential when gRPC sends the call's headers. It
// does its own transport check, so that a plaintext refusal is a typed
// TRANSPORT_INSECURE error rather than grpc-go's untyped one.
type perRPC struct{ m *MethodCredentials }

func (p perRPC) RequireTransportSecurity() bool { return false }

func (p perRPC) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	c := p.m.creds
	if c.Observer != nil || c.Logger != nil {
		if r, ok := ctx.Value(retryKey{}).(*Error); ok {
			// The retried call's own span gets the event.
			c.retried(ctx, p.m, r)
		}
	}
	if !c.AllowPlaintext {
		// The server's test of the same connection.
		if ri, _ := credentials.RequestInfoFromContext(ctx); !private(ri.AuthInfo) {
			err := localError(ReasonTransportInsecure, "refusing to send "+p.m.kind.String()+" over a plaintext connection; use TLS or set AllowPlaintext")
			if p.m.rule.DryRun {
				// Dry-run: the call goes, without the secret.
				c.refused(ctx, p.m, err, true)
				return nil, nil
			}
			c.refused(ctx, p.m, err, false)
			return nil, err
		}
	}
	if p.m.kind == APIKey {
		return map[string]string{APIKeyKey: c.APIKey}, nil
	}
	header, err := c.tokens().header(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]string{AuthorizationKey: header}, nil
}

// Unary runs a unary call with the method's credential: the preflight
// error without any network when the client holds no accepted kind; and,
// when the server answers TOKEN_EXPIRED, exactly one retry after a forced
// token refresh. Generated clients call it.
//
// For generated code; applications do not call it.
func Unary[Res any](ctx context.Context, m *MethodCredentials, opts []grpc.CallOption, call func(context.Context, ...grpc.CallOption) (*Res, error)) (*Res, error) {
	if ts := m.endUser(ctx); ts != nil {
		opt, err := m.pair(ts)
		if err != nil {
			return nil, err
		}
		return call(ctx, append(opts[:len(opts):len(opts)], opt)...)
	}
	if m.preflight != nil {
		m.creds.refused(ctx, m, m.preflight, false)
		return nil, m.preflight
	}
	if m.wouldRefuse != nil {
		m.creds.refused(ctx, m, m.wouldRefuse, true)
	}
	opts = m.with(opts)
	if m.callOpt == nil || m.kind == APIKey {
		return call(ctx, opts...)
	}
	gen := m.creds.tokens().generation()
	res, err := call(ctx, opts...)
	if err == nil || !isTokenExpired(err, m.rule.FullMethod) {
		return res, err
	}
	// The server says the token expired: drop it, unless a newer one has
	// been fetched since this call began (so many callers refused at once
	// cause one fetch), and retry once. Never a loop.
	m.creds.tokens().expire(gen)
	if m.creds.Observer != nil || m.creds.Logger != nil {
		e, _ := FromError(err)
		ctx = context.WithValue(ctx, retryKey{}, e)
	}
	return call(ctx, opts...)
}

// Stream opens a stream with the method's credential, or returns the
// preflight error without any network. Streams are never retried: messages
// may already have been exchanged. A stream refused or ended with
// TOKEN_EXPIRED (the server ends long-lived streams when the token they
// opened with expires) is reported to the caller, who reopens it; tokens
// are refreshed ahead of expiry, so a reopened stream gets a fresh token,
// and [ClientCredentials.ExpireToken] forces one when clocks disagree.
// Generated clients call it.
//
// For generated code; applications do not call it.
func Stream[S any](ctx context.Context, m *MethodCredentials, opts []grpc.CallOption, open func(context.Context, ...grpc.CallOption) (S, error)) (S, error) {
	if ts := m.endUser(ctx); ts != nil {
		opt, err := m.pair(ts)
		if err != nil {
			var zero S
			return zero, err
		}
		return open(ctx, append(opts[:len(opts):len(opts)], opt)...)
	}
	if m.preflight != nil {
		m.creds.refused(ctx, m, m.preflight, false)
		var zero S
		return zero, m.preflight
	}
	if m.wouldRefuse != nil {
		m.creds.refused(ctx, m, m.wouldRefuse, true)
	}
	return open(ctx, m.with(opts)...)
}

// isTokenExpired reports whether err is the enforcer refusing this very
// method's call for an expired token — not a TOKEN_EXPIRED a handler passed
// on from a service it called, after which retrying could repeat a side
// effect.
func isTokenExpired(err error, fullMethod string) bool {
	e, ok := FromError(err)
	return ok && e.Code == codes.Unauthenticated && e.Reason == ReasonTokenExpired && e.Metadata["method"] == fullMethod
}

// tokenCache holds the current token and refreshes it ahead of expiry.
// Reads are lock-free. A refresh runs once at a time, in the background:
// while the current token is still valid, callers keep using it and nobody
// waits; only a caller without a valid token waits, and only as long as its
// context allows. A source that hands back a token inside the refresh
// margin (oauth2.ReuseTokenSource does until 10s before expiry) is used
// until it expires, asked again at most once a second.
type tokenCache struct {
	src    oauth2.TokenSource
	margin time.Duration
	now    func() time.Time

	cur      atomic.Pointer[tokenState]
	mu       sync.Mutex    // guards inflight and lastErr
	inflight chan struct{} // closed when the running fetch ends
	lastErr  error
	fetches  atomic.Int64
	creds    *ClientCredentials // for its Logger and Observer
}

// minRefetch is how often a token inside the margin is asked for again.
const minRefetch = time.Second

// closedChan is returned by refresh when there is nothing to wait for.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// tokenState is one fetched token, never modified.
type tokenState struct {
	tok       *oauth2.Token // nil once expired by the server's answer
	hdr       string        // "Bearer " + tok.AccessToken
	gen       uint64        // 1 for the first token fetched, then 2, …
	fetchedAt time.Time
}

// valid reports whether tok may still be sent.
func (t *tokenCache) valid(tok *oauth2.Token) bool {
	return tok != nil && tok.AccessToken != "" && (tok.Expiry.IsZero() || t.now().Before(tok.Expiry))
}

// fresh reports whether tok is valid beyond the refresh margin.
func (t *tokenCache) fresh(tok *oauth2.Token) bool {
	return t.valid(tok) && (tok.Expiry.IsZero() || t.now().Add(t.margin).Before(tok.Expiry))
}

// generation identifies the token a call starting now will send: the
// cached one, or the next one fetched.
func (t *tokenCache) generation() uint64 {
	st := t.cur.Load()
	switch {
	case st == nil:
		return 1
	case t.valid(st.tok):
		return st.gen
	}
	return st.gen + 1
}

// header returns the authorization value of a valid token, starting a
// refresh when the token is inside the margin.
func (t *tokenCache) header(ctx context.Context) (string, error) {
	st := t.cur.Load()
	if st != nil && t.fresh(st.tok) {
		return st.hdr, nil
	}
	if st != nil && t.valid(st.tok) {
		if t.now().Sub(st.fetchedAt) >= minRefetch {
			t.refresh()
		}
		return st.hdr, nil // still valid: refresh in the background
	}
	done := t.refresh()
	select {
	case <-done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if st := t.cur.Load(); st != nil && t.valid(st.tok) {
		return st.hdr, nil
	}
	t.mu.Lock()
	err := t.lastErr
	t.mu.Unlock()
	var e *Error
	switch {
	case errors.As(err, &e):
		return "", e
	case err != nil:
		return "", localError(ReasonCredentialsMissing, "the token source failed").WithCause(err).WithDetail("token source: %v", err)
	}
	return "", localError(ReasonTokenExpired, "the token source returned an expired token")
}

// refresh starts a fetch unless one runs, and returns a channel closed
// when it ends.
func (t *tokenCache) refresh() chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inflight != nil {
		return t.inflight
	}
	// Another caller's refresh may have ended since this one looked.
	if st := t.cur.Load(); st != nil && (t.fresh(st.tok) || (t.valid(st.tok) && t.now().Sub(st.fetchedAt) < minRefetch)) {
		return closedChan
	}
	done := make(chan struct{})
	t.inflight = done
	t.fetches.Add(1)
	go func() {
		start := time.Now()
		tok, err := t.src.Token()
		t.creds.fetched(tok, err, time.Since(start), t.now) // outside the lock, before any waiter goes on
		t.mu.Lock()
		defer t.mu.Unlock()
		t.inflight = nil
		defer close(done)
		if err != nil {
			t.lastErr = err
			return
		}
		if !t.valid(tok) {
			t.lastErr = nil
			return
		}
		t.lastErr = nil
		old := t.cur.Load()
		next := &tokenState{tok: tok, hdr: "Bearer " + tok.AccessToken, gen: 1, fetchedAt: t.now()}
		if old != nil {
			next.gen = old.gen + 1
			if old.tok != nil && old.tok.AccessToken == tok.AccessToken {
				next.gen = old.gen // the same token again: same generation
			}
		}
		t.cur.Store(next)
	}()
	return done
}

// expire drops the cached token unless it was fetched after generation
// gen, so that many callers refused with the same token cause one fetch.
func (t *tokenCache) expire(gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.cur.Load(); st != nil && st.gen <= gen && st.tok != nil {
		t.cur.Store(&tokenState{gen: st.gen}) // keeps the count, drops the token
	}
}

// CallerTokenSource returns the bearer token the current call arrived with
// as a token source, for a server that must call another service as its
// caller. Nothing is ever forwarded without it: generated clients send only
// their own ClientCredentials. Forward a token only to a service that is
// meant to receive it (one of the token's audiences); prefer a token
// exchange (RFC 8693) where the issuer offers one.
func CallerTokenSource(ctx context.Context) (oauth2.TokenSource, bool) {
	vals := metadata.ValueFromIncomingContext(ctx, AuthorizationKey)
	if len(vals) != 1 {
		return nil, false
	}
	token, ok := parseBearer(vals[0])
	if !ok {
		return nil, false
	}
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}), true
}
