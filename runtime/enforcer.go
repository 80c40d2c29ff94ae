// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/credentials"
)

// TokenAuthenticator verifies a bearer token and returns its principal.
//
// Caller faults (expired, forged, wrong audience …) must be returned as
// *Error with the matching Reason. Any other error is taken as a failure of
// the authenticator's backend and fails closed: UNAVAILABLE with reason
// AUTH_BACKEND_UNAVAILABLE (a cancelled or timed-out call keeps its code).
type TokenAuthenticator interface {
	Authenticate(ctx context.Context, token string) (*Principal, error)
}

// KnownTokens is an optional interface of a [TokenAuthenticator] that
// remembers the tokens it verified, as jwtauth's and introspection's
// caches do. The enforcer asks it before it checks a bearer token's syntax
// (RFC 6750 token68, a scan of every byte of the token): a token the
// authenticator verified before, byte for byte, passed that check when it
// was first seen, so a call that reuses its token pays for neither. Every
// check that depends on the call is still made: the metadata's framing,
// the method's scopes and condition, revocation, and, in
// AuthenticateKnown, the expiry and a certificate binding.
type KnownTokens interface {
	// AuthenticateKnown returns the principal as.Authenticate would
	// return for token, and true, when token is one this authenticator
	// verified before and still serves from memory, with every check that
	// depends on the call made (expiry at this instant, the key that
	// verified it still trusted, a certificate binding on this call's
	// connection). Otherwise it returns false and no error: the enforcer
	// checks the token's syntax and calls as.Authenticate, which decides
	// and says why.
	//
	// as is the authenticator the enforcer was given (WithJWT,
	// WithOAuth2). An implementation serves a token only when as is itself:
	// a type that embeds it, to add checks of its own in Authenticate, has
	// this method promoted but is another value, and its calls must reach
	// its Authenticate. (A wrapper whose Authenticate adds nothing that
	// depends on the token may implement AuthenticateKnown itself, passing
	// the embedded authenticator as as.) It must only ever serve tokens
	// that as.Authenticate accepted.
	AuthenticateKnown(ctx context.Context, as TokenAuthenticator, token string) (*Principal, bool)
}

// PeerAuthenticator authenticates the caller by the connection's verified
// TLS client certificate (kind MTLS). Error conventions are those of
// [TokenAuthenticator].
type PeerAuthenticator interface {
	AuthenticatePeer(ctx context.Context, info credentials.TLSInfo) (*Principal, error)
}

// Option configures an [Enforcer].
type Option func(*Enforcer) error

// WithJWT sets the authenticator of BEARER_JWT credentials, such as a
// *jwtauth.Authenticator.
func WithJWT(a TokenAuthenticator) Option {
	return func(e *Enforcer) error {
		if isNil(a) {
			return fmt.Errorf("%w: WithJWT: nil authenticator", ErrInvalidOption)
		}
		e.jwt = a
		return nil
	}
}

// isNil reports whether a, an authenticator, is nil or a nil pointer in
// an interface (WithJWT((*jwtauth.Authenticator)(nil))): refused with the
// option's error, not left to panic at the first call or in NewEnforcer.
func isNil(a any) bool {
	if a == nil {
		return true
	}
	v := reflect.ValueOf(a)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// WithOAuth2 sets the authenticator of OAUTH2_TOKEN credentials (opaque
// bearer tokens), such as an *introspection.Authenticator.
func WithOAuth2(a TokenAuthenticator) Option {
	return func(e *Enforcer) error {
		if isNil(a) {
			return fmt.Errorf("%w: WithOAuth2: nil authenticator", ErrInvalidOption)
		}
		e.oauth2 = a
		return nil
	}
}

// WithAPIKeys sets the authenticator of API_KEY credentials, read from the
// x-api-key metadata entry, such as an *apikey.Store.
func WithAPIKeys(a TokenAuthenticator) Option {
	return func(e *Enforcer) error {
		if isNil(a) {
			return fmt.Errorf("%w: WithAPIKeys: nil authenticator", ErrInvalidOption)
		}
		e.apiKeys = a
		return nil
	}
}

// WithMTLS sets the authenticator of MTLS credentials (the connection's
// verified client certificate), such as an *mtls.Authenticator.
func WithMTLS(a PeerAuthenticator) Option {
	return func(e *Enforcer) error {
		if isNil(a) {
			return fmt.Errorf("%w: WithMTLS: nil authenticator", ErrInvalidOption)
		}
		e.mtls = a
		return nil
	}
}

// WithPlaintextCredentials accepts bearer tokens and API keys that arrive
// over a plaintext connection. Without it they are refused with
// TRANSPORT_INSECURE: a secret that crossed the network in clear is no
// longer one. For local development and in-memory tests only.
func WithPlaintextCredentials() Option {
	return func(e *Enforcer) error {
		e.allowPlaintext = true
		return nil
	}
}

// The methods the exemptions make public.
var (
	healthMethods = []string{
		"/grpc.health.v1.Health/Check",
		"/grpc.health.v1.Health/Watch",
		"/grpc.health.v1.Health/List",
	}
	reflectionMethods = []string{
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
	}
)

// WithHealthExemption serves grpc.health.v1.Health without credentials
// when it is registered raw and enforced by the interceptors. Off by
// default: without it, health checks are denied like any method without a
// rule.
func WithHealthExemption() Option {
	return func(e *Enforcer) error {
		return e.AddRules(exemption("grpc.health.v1.Health", "health checking is exempt (WithHealthExemption)", healthMethods))
	}
}

// WithReflectionExemption serves gRPC server reflection (v1 and v1alpha)
// without credentials under the interceptors. Off by default: reflection
// tells a caller every method the server has.
func WithReflectionExemption() Option {
	return func(e *Enforcer) error {
		return e.AddRules(exemption("grpc.reflection.ServerReflection", "server reflection is exempt (WithReflectionExemption)", reflectionMethods))
	}
}

func exemption(service, reason string, methods []string) *ServiceRules {
	sr := &ServiceRules{Service: service}
	for _, m := range methods {
		sr.Methods = append(sr.Methods, &Rule{FullMethod: m, Public: true, PublicReason: reason, Source: "runtime exemption"})
	}
	return sr
}

// WithRules adds generated rule tables, for services registered without
// their generated RegisterXxxServerWithAuth and enforced by the interceptors.
func WithRules(rules ...*ServiceRules) Option {
	return func(e *Enforcer) error { return e.AddRules(rules...) }
}

// WithLogger sets where denials are logged (one line each, credentials
// never included). The default is slog.Default(); nil turns logging off.
func WithLogger(l *slog.Logger) Option {
	return func(e *Enforcer) error {
		e.logger = l
		return nil
	}
}

// WithMaxCredentialSize caps the size of a credential's metadata value;
// larger ones are refused as malformed before any decoding. The default is
// [DefaultMaxCredentialSize].
func WithMaxCredentialSize(n int) Option {
	return func(e *Enforcer) error {
		if n < 64 || n > 1<<20 {
			return fmt.Errorf("%w: WithMaxCredentialSize: %d is outside [64, 1048576]", ErrInvalidOption, n)
		}
		e.maxCredentialSize = n
		return nil
	}
}

// WithoutStreamExpiry stops ending streams whose credential expires while
// they run. By default a stream ends at its principal's ExpiresAt (a
// token's exp plus the authenticator's leeway, a client certificate's
// NotAfter) with UNAUTHENTICATED TOKEN_EXPIRED, whether or not a message
// moves: the handler's context is cancelled then with the denial as its
// cause ([context.Cause]; a context that nothing has waited on yet is
// cancelled when it is first looked at, or when the handler next receives,
// sends or returns), a receive waiting then returns the denial, no
// message received later reaches the handler, every later send fails, and
// whatever the handler returns, the caller gets the denial. It is logged
// and audited once. Rechecks ([WithStreamRecheck]) still run, but one that
// finds the credential expired does not end the stream.
func WithoutStreamExpiry() Option {
	return func(e *Enforcer) error {
		e.noStreamExpiry = true
		return nil
	}
}

// DefaultStreamRecheck is how often an open stream's credential is checked
// again unless [WithStreamRecheck] says otherwise.
const DefaultStreamRecheck = time.Minute

// MinStreamRecheck is the shortest interval [WithStreamRecheck] takes: every
// open stream rechecks on its own, and the authenticators' backends should
// not pay for a recheck more often than that.
const MinStreamRecheck = 100 * time.Millisecond

// WithStreamRecheck sets how often an open stream checks again the
// credential it was opened with (default [DefaultStreamRecheck]; at least
// [MinStreamRecheck]; 0 turns rechecks off). Every d the stream's
// credential, taken again from the stream's own metadata and connection, is
// authenticated by the same authenticator and the method's rule decided
// again: the requirement's kind and scopes, and a condition decided at
// open. A denial ends the stream as expiry does, with the authenticator's
// reason: a key removed from the JWKS (TOKEN_INVALID_SIGNATURE), a token
// that introspection now says is inactive (TOKEN_REVOKED), an API key
// removed by a reload or a client CA removed from the trust bundle
// (CREDENTIALS_INVALID). A backend that fails during a recheck ends the
// stream too, with UNAVAILABLE AUTH_BACKEND_UNAVAILABLE, as a new call
// would be refused: rechecks fail closed.
//
// The authenticators' caches apply, so a revocation ends a stream within d
// plus the time the authenticator takes to see it: the JWKS refresh
// interval (jwtauth.RefreshInterval), the introspection cache TTL
// (introspection.CacheTTL), the period of the API key file's or the trust
// bundle's reload (apikey.Store.Watch, mtls.Authenticator.Watch, or
// whenever Reload or ReloadBundle is called). Under [WithoutStreamExpiry] a
// recheck that finds the credential expired does not end the stream.
func WithStreamRecheck(d time.Duration) Option {
	return func(e *Enforcer) error {
		if d != 0 && d < MinStreamRecheck {
			return fmt.Errorf("%w: WithStreamRecheck: %s is under %s (0 turns rechecks off)", ErrInvalidOption, d, MinStreamRecheck)
		}
		e.streamRecheck = d
		return nil
	}
}

// ErrInvalidOption is wrapped by every error [NewEnforcer] returns.
var ErrInvalidOption = fmt.Errorf("grpcauth: invalid option")

// Enforcer decides every call against the generated rules. It is safe for
// concurrent use. Build it once with [NewEnforcer] and share it.
type Enforcer struct {
	jwt    TokenAuthenticator
	oauth2 TokenAuthenticator
	// jwtKnown and oauth2Known are jwt and oauth2 when they implement
	// KnownTokens, else nil.
	jwtKnown, oauth2Known KnownTokens
	// clocks is clockOf of each credential kind, by kind (nil: the
	// system clock).
	clocks            [numCredentialKinds]func() time.Time
	apiKeys           TokenAuthenticator
	mtls              PeerAuthenticator
	allowPlaintext    bool
	observer          Observer
	auditCond         AuditCondition
	sinks             []AuditSink
	dryRunMethods     map[string]bool // from WithDryRun: full methods and "/pkg.Service/*"
	undeclaredDryRun  bool
	built             bool // NewEnforcer has returned: AddRules logs dry-run rules as they come
	logger            *slog.Logger
	maxCredentialSize int
	noStreamExpiry    bool
	streamRecheck     time.Duration  // 0: off
	proxies           []TrustedProxy // WithTrustedProxies
	served            servedRegistry // what generated registration registered, for CheckServed

	// revocation is asked about every JWT (WithRevocation); nil: nothing is.
	revocation RevocationStore

	mu    sync.Mutex                            // serialises writers of table and own
	table atomic.Pointer[map[string]registered] // full method → rule, copy on write
	owned atomic.Pointer[map[*Rule]*Rule]       // a rule as added, and each own copy → own copy
}

// registered is a method's rule in an enforcer: the pointer that was added
// (returned by [Enforcer.Rule]) and the enforcer's own copy of it, taken
// when it was added, from which every decision is made.
type registered struct {
	added *Rule
	own   *Rule
}

// NewEnforcer returns an enforcer configured by opts. Its errors wrap
// [ErrInvalidOption].
func NewEnforcer(opts ...Option) (*Enforcer, error) {
	e := &Enforcer{logger: slog.Default(), maxCredentialSize: DefaultMaxCredentialSize, streamRecheck: DefaultStreamRecheck}
	empty, none := map[string]registered{}, map[*Rule]*Rule{}
	e.table.Store(&empty)
	e.owned.Store(&none)
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := o(e); err != nil {
			return nil, err
		}
	}
	if err := e.checkProxies(); err != nil {
		return nil, err
	}
	e.jwtKnown, _ = e.jwt.(KnownTokens)
	e.oauth2Known, _ = e.oauth2.(KnownTokens)
	for _, k := range []CredentialKind{BearerJWT, OAuth2Token, APIKey, MTLS} {
		e.clocks[k] = e.clockOf(k) // once: a method value made per stream costs an allocation
	}
	e.logDryRunConfig()
	// Rules added by options (exemptions, WithRules) were added before
	// every option was read: dry-run from the options applies to them too.
	e.applyDryRun()
	return e, nil
}

// AddRules adds generated rule tables to the table the interceptors use.
// The enforcer keeps a deep copy of each rule, taken now: changing a table
// after it was added changes no decision. Adding the same table again is a
// no-op; a different rule for a method that already has one is an error.
func (e *Enforcer) AddRules(rules ...*ServiceRules) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	old, oldOwned := *e.table.Load(), *e.owned.Load()
	next := make(map[string]registered, len(old)+8)
	for k, v := range old {
		next[k] = v
	}
	owned := make(map[*Rule]*Rule, len(oldOwned)+16)
	for k, v := range oldOwned {
		owned[k] = v
	}
	for _, sr := range rules {
		if sr == nil {
			return fmt.Errorf("%w: nil rule table", ErrInvalidOption)
		}
		for _, r := range sr.Methods {
			if r == nil || r.FullMethod == "" {
				return fmt.Errorf("%w: %s: rule without a method name", ErrInvalidOption, sr.Service)
			}
			if prev, ok := next[r.FullMethod]; ok {
				if prev.added != r {
					return fmt.Errorf("%w: %s: a different rule is already registered", ErrInvalidOption, r.FullMethod)
				}
				continue // the same rule again: the copy taken first stands
			}
			if err := r.check(); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrInvalidOption, r.FullMethod, err)
			}
			own := r.frozen()
			if !own.DryRun && e.dryRunNamed(own.FullMethod) {
				own.DryRun = true
				own.dryRunByOption = true
			}
			if p, ok := own.Evaluator.(interface{ Prepare() error }); ok {
				if err := p.Prepare(); err != nil {
					return fmt.Errorf("%w: %s: condition: %w", ErrInvalidOption, r.FullMethod, err)
				}
			}
			next[r.FullMethod] = registered{added: r, own: own}
			owned[r], owned[own] = own, own
			if own.DryRun && e.built {
				e.logDryRunRule(own, !own.dryRunByOption)
			}
		}
	}
	e.table.Store(&next)
	e.owned.Store(&owned)
	return nil
}

// Rule returns the rule that was added for fullMethod, or nil. It does not
// allocate. Decisions are made from the enforcer's own copy of it (see
// [Enforcer.AddRules]), not from what Rule returns.
func (e *Enforcer) Rule(fullMethod string) *Rule {
	return (*e.table.Load())[fullMethod].added
}

// rule returns the enforcer's own copy of fullMethod's rule, or nil.
func (e *Enforcer) rule(fullMethod string) *Rule {
	return (*e.table.Load())[fullMethod].own
}

// own returns the enforcer's own copy of rule: rule itself when it is one,
// the copy taken when it was added, or rule as given when it was never
// added to e.
func (e *Enforcer) own(rule *Rule) *Rule {
	if rule == nil {
		return nil
	}
	if own, ok := (*e.owned.Load())[rule]; ok {
		return own
	}
	return rule
}

// Authorize decides a call to the method of rule with the credentials in
// ctx. On success it returns the context the handler must run with (it
// holds the principal); on failure an *Error. A nil rule is a method nobody
// declared and is denied. A rule added to e (by [Enforcer.AddRules],
// [WithRules] or generated registration) is decided by e's own copy of it; a
// rule never added is decided as given. Generated code calls Authorize; so
// do the interceptors. A call already authorized by this enforcer against
// the same rule (by an interceptor and then a generated wrapper) is decided
// once; another enforcer decides again.
func (e *Enforcer) Authorize(ctx context.Context, rule *Rule) (context.Context, error) {
	return e.authorize(ctx, e.own(rule))
}

// authorize is Authorize for a rule that is already e's own copy.
func (e *Enforcer) authorize(ctx context.Context, rule *Rule) (context.Context, error) {
	return e.authorizeIn(ctx, rule, nil)
}

// authorizeIn is authorize, whose context on success is in, when in is
// not nil: a stream's one allocation holds it (see streamCall).
func (e *Enforcer) authorizeIn(ctx context.Context, rule *Rule, in *authContext) (context.Context, error) {
	if s := stateFrom(ctx); s != nil && s.rule == rule && s.enf == e && rule != nil {
		return ctx, nil
	}
	var start time.Time
	if e.observer != nil {
		start = time.Now()
	}
	c, err := e.decide(ctx, rule)
	if err != nil {
		return e.denied(ctx, rule, c, err, start, in)
	}
	return e.allowed(ctx, rule, c, start, in), nil
}

// denied reports a call that decide refused, and refuses it, or lets it
// proceed in dry-run. It and allowed are functions of their own, so that
// authorize's frame stays small (see kindRefused).
func (e *Enforcer) denied(ctx context.Context, rule *Rule, c caller, err *Error, start time.Time, in *authContext) (context.Context, error) {
	v := verdict{rule: rule, c: c, err: err, outcome: OutcomeDeny}
	if e.observer != nil {
		v.spent = time.Since(start)
	}
	if !e.dryRunOf(ctx, rule) {
		e.report(ctx, &v)
		return ctx, err
	}
	// Dry-run: report what would have happened, and let the call
	// proceed as it would without the rule, with the principal only
	// if the credential verified (decide returns one only then).
	v.outcome, v.dryRun = OutcomeWouldDeny, true
	e.report(ctx, &v)
	return withStateIn(in, ctx, authState{rule: rule, principal: c.principal, workload: c.workload, enf: e, dryRun: true}), nil
}

// allowed reports a call that decide allowed, when anything observes it,
// and returns its context.
func (e *Enforcer) allowed(ctx context.Context, rule *Rule, c caller, start time.Time, in *authContext) context.Context {
	st := authState{rule: rule, principal: c.principal, workload: c.workload, enf: e, dryRun: rule.DryRun}
	if c.principal != nil && rule.Condition != "" && !rule.ConditionAtOpen {
		st.pending = true // decided by CheckRequest, once the request is decoded
		if e.observer != nil {
			st.spent = time.Since(start)
		}
	} else if e.observing() {
		v := verdict{rule: rule, c: c, outcome: OutcomeAllow, dryRun: rule.DryRun}
		if e.observer != nil {
			v.spent = time.Since(start)
		}
		e.report(ctx, &v)
	}
	return withStateIn(in, ctx, st)
}

// caller is who a call's credentials say it comes from: the kind and
// principal of its credential (nil on a public method and on a call to an
// optional one that sent none) and, on a call made on behalf of an end
// user, the end user as principal and the workload acting for it.
type caller struct {
	kind      CredentialKind // the principal's, or the one presented
	principal *Principal
	workload  *Principal
}

// CheckRequest decides the condition of a call that [Enforcer.Authorize]
// allowed, once its request is decoded. It returns nil when the call has
// no condition waiting, and CONDITION_FAILED when the condition is false
// or cannot be evaluated. Generated code and the interceptors call it
// before the handler runs; code that calls Authorize itself must too.
func (e *Enforcer) CheckRequest(ctx context.Context, req any) error {
	st := stateFrom(ctx)
	if st == nil || !st.pending {
		return nil
	}
	var start time.Time
	if e.observer != nil {
		start = time.Now()
	}
	c := caller{kind: st.principal.Kind, principal: st.principal, workload: st.workload}
	derr := e.evaluate(ctx, st.rule, c, req)
	st.pending = false
	v := verdict{rule: st.rule, c: c, err: derr, outcome: OutcomeAllow, dryRun: st.dryRun}
	if e.observer != nil {
		v.spent = st.spent + time.Since(start)
	}
	switch {
	case derr == nil:
		if e.observing() {
			e.report(ctx, &v)
		}
		return nil
	case st.dryRun:
		v.outcome = OutcomeWouldDeny
		e.report(ctx, &v)
		return nil // the principal stays: the credential verified
	}
	v.outcome = OutcomeDeny
	e.report(ctx, &v)
	return derr
}

// evaluate decides rule's condition for c and req.
func (e *Enforcer) evaluate(ctx context.Context, rule *Rule, c caller, req any) *Error {
	if rule.Evaluator == nil {
		return NewError(ReasonConditionFailed, "the method's condition could not be evaluated").
			WithDetail("no evaluator for the condition; generate with protoc-gen-go-grpcauth and link runtime/celcond")
	}
	ok, err := rule.Evaluator.Evaluate(ctx, c.principal, c.workload, req)
	if err != nil {
		return NewError(ReasonConditionFailed, "the method's condition could not be evaluated for this call").WithDetail("condition evaluation: %.200s", err.Error())
	}
	if !ok {
		return NewError(ReasonConditionFailed, "the method's condition does not hold for this call")
	}
	return nil
}

// decide runs the decision of DESIGN §3. It returns the caller (no
// principal on a public method, or on an optional one called without a
// credential) and the denial if any.
//
// One credential per call, but for the pair a requirement with an end
// user (on_behalf_of) expects: the workload's x-api-key or client
// certificate and the end user's bearer token. Sent to a method that has
// such a requirement for the workload's kind, the pair is decided against
// those requirements only; anywhere else an x-api-key beside an
// authorization stays malformed, and a certificate beside a token is not
// read (the token is the credential). The client certificate is the
// connection's own, or one a trusted proxy forwarded (forwardedChain).
func (e *Enforcer) decide(ctx context.Context, rule *Rule) (caller, *Error) {
	if rule == nil || rule.Undeclared {
		return caller{}, NewError(ReasonMethodNotDeclared, "no auth rule is declared for this method")
	}
	conn := e.connOf(ctx)
	if rule.Transport == TLSRequired && !conn.secure {
		return caller{}, NewError(ReasonTransportInsecure, "this method requires TLS; the call arrived in plaintext")
	}
	if rule.Public {
		return caller{}, nil
	}
	cred, derr := e.extract(ctx, &conn, rule.takesWorkload(APIKey))
	if derr != nil {
		return caller{}, derr
	}
	if cred.unchecked {
		if derr := e.checkBearer(ctx, &cred); derr != nil {
			return caller{}, derr
		}
	}
	chain, derr := e.forwardedChain(ctx, &conn)
	if derr != nil {
		return caller{}, derr
	}
	if cred.scheme != schemeNone && !conn.secure && !e.allowPlaintext {
		return caller{}, NewError(ReasonTransportInsecure, "credentials must not be sent over a plaintext connection; use TLS")
	}
	if chain != nil {
		// Authenticators see the forwarded certificate as the call's
		// (PeerCertificateThumbprint: certificate-bound tokens).
		ctx = context.WithValue(ctx, forwardedCertKey{}, chain[0])
	}
	hasCert := conn.hasCert() || chain != nil
	switch {
	case cred.workloadKey != "":
		return e.decidePair(ctx, rule, APIKey, cred, &conn, chain)
	case cred.scheme == schemeBearer && hasCert && rule.takesWorkload(MTLS):
		return e.decidePair(ctx, rule, MTLS, cred, &conn, chain)
	}
	kind := e.kindOf(rule, cred, hasCert)
	c := caller{kind: kind}
	if kind == NoCredential && rule.Optional {
		return c, nil // no credential, no principal: allowed
	}
	if kind == NoCredential || !rule.accepts(kind) {
		return c, kindRefused(rule, kind)
	}
	p, derr := e.authenticate(ctx, rule, kind, cred.secret, cred.known, &conn, chain)
	c.principal = p
	if derr != nil {
		return c, derr
	}
	if derr := authorize(rule, p); derr != nil {
		return c, derr
	}
	if rule.Condition != "" && rule.ConditionAtOpen {
		if derr := e.evaluate(ctx, rule, c, nil); derr != nil {
			return c, derr
		}
	}
	return c, nil
}

// kindRefused is the denial of a call whose credential is of kind, which
// rule does not accept (NoCredential: the call sent none). It is a
// function of its own, as are the other rare branches of the functions
// every call runs, so that their frames stay small: an authenticator
// verifying a signature needs the goroutine's stack below them.
func kindRefused(rule *Rule, kind CredentialKind) *Error {
	if kind == NoCredential {
		accepted := kindList(rule.acceptedKinds())
		return NewError(ReasonCredentialsMissing, "this method needs a credential: one of "+accepted).
			WithMetadata("accepted_kinds", accepted)
	}
	switch {
	case rule.takesWorkload(kind):
		accepted := kindList(rule.endUserKinds())
		return NewError(ReasonCredentialsMissing, "this method takes "+kind.String()+" only with an end user's token beside it: one of "+accepted).
			WithMetadata("accepted_end_user_kinds", accepted)
	case rule.takesEndUser(kind):
		accepted := kindList(rule.workloadKinds())
		return NewError(ReasonCredentialsMissing, "this method takes an end user's "+kind.String()+" only with the calling workload's credential beside it: one of "+accepted).
			WithMetadata("accepted_kinds", accepted)
	}
	accepted := kindList(rule.acceptedKinds())
	return NewError(ReasonCredentialKindNotAccepted, "this method does not accept "+kind.String()+"; it accepts "+accepted).
		WithMetadata("accepted_kinds", accepted)
}

// decidePair decides a call that sent a workload's credential of kind
// workload (its x-api-key in cred.workloadKey, or its client certificate:
// the connection's, or chain) and an end user's bearer token
// (cred.secret), against the requirements that have an end user.
func (e *Enforcer) decidePair(ctx context.Context, rule *Rule, workload CredentialKind, cred credential, conn *callConn, chain []*x509.Certificate) (caller, *Error) {
	user := e.bearerKind(cred.jwtShaped, rule.takesEndUser(BearerJWT), rule.takesEndUser(OAuth2Token))
	c := caller{kind: user}
	if !rule.takesEndUser(user) {
		accepted := kindList(rule.endUserKinds())
		return c, NewError(ReasonCredentialKindNotAccepted, "this method does not accept an end user's "+user.String()+"; it accepts "+accepted).
			WithMetadata("accepted_end_user_kinds", accepted)
	}
	secret := cred.workloadKey // "" for a certificate
	w, derr := e.authenticate(ctx, rule, workload, secret, nil, conn, chain)
	if derr != nil {
		return c, derr
	}
	c.workload = w
	p, derr := e.authenticate(ctx, rule, user, cred.secret, cred.known, conn, chain)
	c.principal = p
	if derr != nil {
		return c, derr
	}
	if derr := authorizePair(rule, w, p); derr != nil {
		return c, derr
	}
	if rule.Condition != "" && rule.ConditionAtOpen {
		if derr := e.evaluate(ctx, rule, c, nil); derr != nil {
			return c, derr
		}
	}
	return c, nil
}

// authenticate verifies a credential of kind (secret: a token or an API
// key; for MTLS the certificate a trusted proxy forwarded, chain, or else
// the connection's) with the authenticator of that kind. known is the
// principal checkBearer had the token served with, used when it is of
// kind (else the authenticator of kind decides).
func (e *Enforcer) authenticate(ctx context.Context, rule *Rule, kind CredentialKind, secret string, known *Principal, conn *callConn, chain []*x509.Certificate) (*Principal, *Error) {
	var p *Principal
	var err error
	switch kind {
	case MTLS:
		if e.mtls == nil {
			return nil, notConfigured(kind, rule)
		}
		if chain != nil {
			ca, ok := e.mtls.(ChainAuthenticator) // NewEnforcer checked it
			if !ok {
				return nil, notConfigured(kind, rule)
			}
			p, err = ca.AuthenticateChain(ctx, chain)
			break
		}
		p, err = e.authenticatePeer(ctx, conn)
	default:
		auth := e.tokenAuthenticator(kind)
		if auth == nil {
			return nil, notConfigured(kind, rule)
		}
		if known != nil && known.Kind == kind {
			p = known
			break
		}
		p, err = auth.Authenticate(ctx, secret)
	}
	if err != nil {
		return nil, asDenial(err)
	}
	if p == nil || p.Kind != kind {
		return nil, noPrincipal(kind)
	}
	if e.revocation != nil && kind == BearerJWT {
		if derr := e.checkRevocation(p); derr != nil {
			return p, derr // the principal, for the denial's log line and audit
		}
	}
	return p, nil
}

// authenticatePeer verifies the client certificate of the call's
// connection with the MTLS authenticator. The connection's TLS state is
// copied here, in a frame of its own (see kindRefused).
func (e *Enforcer) authenticatePeer(ctx context.Context, conn *callConn) (*Principal, error) {
	tlsInfo, _ := conn.tls.(credentials.TLSInfo) // MTLS is decided only for TLS or a forwarded chain
	return e.mtls.AuthenticatePeer(ctx, tlsInfo)
}

func noPrincipal(kind CredentialKind) *Error {
	return NewError(ReasonAuthBackendUnavailable, "the credential could not be checked").WithDetail("the %s authenticator returned no principal of its kind", kind)
}

func notConfigured(kind CredentialKind, rule *Rule) *Error {
	return NewError(ReasonCredentialKindNotAccepted, "this server does not accept "+kind.String()).
		WithMetadata("accepted_kinds", kindList(rule.acceptedKinds())).
		WithDetail("no authenticator is configured for %s", kind)
}

// clockFor returns the clock of the authenticator of kind (see clockOf),
// as NewEnforcer found it: nil for the system clock.
func (e *Enforcer) clockFor(kind CredentialKind) func() time.Time {
	if int(kind) < len(e.clocks) {
		return e.clocks[kind]
	}
	return nil
}

// clockOf returns the clock of the authenticator of kind, nil for the
// system clock: what its Clock returns when it has one (as jwtauth,
// introspection and mtls do: nil unless a clock was set), else its Now
// when it has one, else nil. Clock comes first: a wrapper that embeds one
// of those and has a Now of its own must have a Clock of its own too.
// Streams are dated by it, so that a test sets one clock, the
// authenticator's, for both the credential and the stream it opens; a
// stream on the system clock reads the coarse clock at its messages (see
// coarseClock).
func (e *Enforcer) clockOf(kind CredentialKind) func() time.Time {
	var a any
	if kind == MTLS {
		if e.mtls != nil {
			a = e.mtls
		}
	} else if t := e.tokenAuthenticator(kind); t != nil {
		a = t
	}
	if c, ok := a.(interface{ Clock() func() time.Time }); ok {
		return c.Clock()
	}
	if c, ok := a.(interface{ Now() time.Time }); ok {
		return c.Now
	}
	return nil
}

func (e *Enforcer) tokenAuthenticator(kind CredentialKind) TokenAuthenticator {
	switch kind {
	case BearerJWT:
		return e.jwt
	case OAuth2Token:
		return e.oauth2
	case APIKey:
		return e.apiKeys
	}
	return nil
}

// kindOf decides which kind of credential the call presents. A metadata
// credential is the credential; the client certificate (the connection's,
// or one a trusted proxy forwarded: hasCert) is used only when none is
// sent. A bearer token is a JWT when
// it has a JWS's shape and the method and server take JWTs; otherwise it is
// an OAuth2 token when the method and server take those.
func (e *Enforcer) kindOf(rule *Rule, cred credential, hasCert bool) CredentialKind {
	switch cred.scheme {
	case schemeAPIKey:
		return APIKey
	case schemeBearer:
		return e.bearerKind(cred.jwtShaped,
			rule.accepts(BearerJWT) || rule.takesEndUser(BearerJWT),
			rule.accepts(OAuth2Token) || rule.takesEndUser(OAuth2Token))
	}
	if hasCert && (rule.accepts(MTLS) || rule.takesWorkload(MTLS)) {
		return MTLS
	}
	return NoCredential
}

// bearerKind is the kind of a bearer token, of a JWS's shape or not
// (jwtShaped), for a method that takes JWTs (jwtTaken) or OAuth2 tokens
// (oauthTaken): a JWT when it has a JWS's shape and the method and server
// take JWTs; otherwise an OAuth2 token when they take those.
func (e *Enforcer) bearerKind(jwtShaped, jwtTaken, oauthTaken bool) CredentialKind {
	jwtOK := e.jwt != nil && jwtTaken
	oauthOK := e.oauth2 != nil && oauthTaken
	switch {
	case jwtShaped && jwtOK:
		return BearerJWT
	case oauthOK:
		return OAuth2Token
	case !jwtShaped && e.oauth2 != nil:
		// An opaque token on a server that takes them, on a method that
		// does not: its kind is known, and not accepted here.
		return OAuth2Token
	case jwtOK || jwtShaped:
		return BearerJWT
	}
	return OAuth2Token
}

// authorize checks that some requirement without an end user accepts p's
// kind and p holds all of its scopes.
func authorize(rule *Rule, p *Principal) *Error {
	var first *Requirement
	for i := range rule.Requirements {
		req := &rule.Requirements[i]
		if !req.accepts(p.Kind) {
			continue
		}
		if first == nil {
			first = req
		}
		if p.hasAll(req.Scopes) {
			return nil
		}
	}
	if first == nil {
		return NewError(ReasonCredentialKindNotAccepted, "this method does not accept "+p.Kind.String()).
			WithMetadata("accepted_kinds", kindList(rule.acceptedKinds()))
	}
	missing := strings.Join(p.missing(first.Scopes), " ")
	return NewError(ReasonScopeInsufficient, "the caller lacks a required scope: "+missing).
		WithMetadata("missing_scopes", missing)
}

// authorizePair checks that some requirement with an end user takes the
// workload w's kind with the end user p's kind, and that w holds all of
// its scopes and p all of its end user's.
func authorizePair(rule *Rule, w, p *Principal) *Error {
	var first *Requirement
	for i := range rule.Requirements {
		req := &rule.Requirements[i]
		if !req.acceptsPair(w.Kind, p.Kind) {
			continue
		}
		if first == nil {
			first = req
		}
		if w.hasAll(req.Scopes) && p.hasAll(req.OnBehalfOf.Scopes) {
			return nil
		}
	}
	if first == nil {
		return NewError(ReasonCredentialKindNotAccepted, "this method does not accept "+w.Kind.String()+" on behalf of an end user's "+p.Kind.String()).
			WithMetadata("accepted_kinds", kindList(rule.workloadKinds())).
			WithMetadata("accepted_end_user_kinds", kindList(rule.endUserKinds()))
	}
	if missing := strings.Join(w.missing(first.Scopes), " "); missing != "" {
		return NewError(ReasonScopeInsufficient, "the calling workload lacks a required scope: "+missing).
			WithMetadata("missing_scopes", missing)
	}
	missing := strings.Join(p.missing(first.OnBehalfOf.Scopes), " ")
	return NewError(ReasonScopeInsufficient, "the end user lacks a required scope: "+missing).
		WithMetadata("missing_end_user_scopes", missing)
}

// private reports whether a connection has privacy and integrity (TLS);
// an AuthInfo that does not say is plaintext. Server and client use it.
func private(ai credentials.AuthInfo) bool {
	ci, ok := ai.(interface {
		GetCommonAuthInfo() credentials.CommonAuthInfo
	})
	return ok && ci.GetCommonAuthInfo().SecurityLevel == credentials.PrivacyAndIntegrity
}
