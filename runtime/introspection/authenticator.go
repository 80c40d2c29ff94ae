// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// Authenticator checks opaque OAuth2 access tokens (credential kind
// OAUTH2_TOKEN) at an RFC 7662 introspection endpoint. It implements
// runtime.TokenAuthenticator. It is safe for concurrent use; build it once
// with [New] and share it, so that its cache and request sharing work.
type Authenticator struct {
	cfg      config
	endpoint string // the endpoint URL as sent, and the assertions' aud
	client   *http.Client
	signer   jose.Signer // private_key_jwt only
	cache    *cache      // nil when CacheTTL is 0
	flights  flights
	requests atomic.Int64

	sharedStats sharedCounters
}

var _ runtime.TokenAuthenticator = (*Authenticator)(nil)

// New returns an authenticator configured by opts. [Endpoint] and exactly
// one of [ClientSecret] and [PrivateKeyJWT] are required. Errors wrap
// [ErrInvalidOption].
func New(opts ...Option) (*Authenticator, error) {
	cfg := config{
		timeout:       DefaultTimeout,
		cacheTTL:      DefaultCacheTTL,
		cacheSize:     DefaultCacheSize,
		maxTokenSize:  DefaultMaxTokenSize,
		now:           time.Now,
		sharedTimeout: DefaultSharedCacheTimeout,
	}
	for _, o := range opts {
		if o == nil {
			return nil, errorf("nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	switch {
	case cfg.endpoint == nil:
		return nil, errorf("Endpoint is required")
	case cfg.endpoint.Scheme != "https" && !cfg.allowHTTP:
		return nil, errorf("Endpoint: %q is not https; use AllowHTTP for local tests", cfg.endpoint.String())
	case cfg.authCount != 1:
		return nil, errorf("exactly one of ClientSecret and PrivateKeyJWT is required, %d given", cfg.authCount)
	case cfg.shared != nil && cfg.cacheTTL == 0:
		return nil, errorf("WithSharedCache needs the cache on (CacheTTL above 0)")
	}
	a := &Authenticator{
		cfg:      cfg,
		endpoint: cfg.endpoint.String(),
		client:   newHTTPClient(cfg.httpClient),
	}
	if cfg.authKind == authPrivateKeyJWT {
		s, err := newSigner(&cfg)
		if err != nil {
			return nil, err
		}
		a.signer = s
	}
	if cfg.cacheTTL > 0 {
		a.cache = newCache(cfg.cacheSize)
	}
	return a, nil
}

// Requests returns how many introspection requests have started, for tests
// and metrics.
func (a *Authenticator) Requests() int64 { return a.requests.Load() }

func deny(r runtime.Reason, msg string) *runtime.Error { return runtime.NewError(r, msg) }

var _ runtime.KnownTokens = (*Authenticator)(nil)

// AuthenticateKnown serves token from the cache of introspection answers:
// the principal [Authenticator.Authenticate] would return, and true, when
// an active answer for the byte-identical token is cached and still holds
// on this call (not expired, within its cache lifetime, its checks made
// again at this instant, a certificate binding held by this call's
// connection). Otherwise it returns false and Authenticate decides (and
// says why). The enforcer calls it before it checks the token's syntax
// ([runtime.KnownTokens]). It serves only when as, the authenticator the
// enforcer was given, is a itself: a type that embeds a to add checks to
// Authenticate gets this method promoted, and its calls go to its own
// Authenticate.
func (a *Authenticator) AuthenticateKnown(ctx context.Context, as runtime.TokenAuthenticator, token string) (*runtime.Principal, bool) {
	if as != runtime.TokenAuthenticator(a) || a.cache == nil || token == "" || len(token) > a.cfg.maxTokenSize {
		return nil, false
	}
	e := a.cache.get(newCacheKey(a.endpoint, token))
	if e == nil {
		return nil, false
	}
	if _, err := a.judge(ctx, e, a.cfg.now()); err != nil {
		return nil, false // Authenticate says why, and drops the entry if it must go
	}
	a.cache.hits.Add(1)
	return principalOf(e.resp), true
}

// errStale is judge's answer for an entry past its cache lifetime: not a
// denial, the endpoint is asked again.
var errStale = errors.New("introspection: cached answer past its lifetime")

// judge decides whether the cached answer e serves this call at now: nil
// when it does; else the denial (errStale when the entry is only past its
// lifetime); and whether e must be dropped (it is wrong for every call,
// not only for this call's connection). Its checks are made again on every
// hit: the clock has moved since, and the binding is the call's.
func (a *Authenticator) judge(ctx context.Context, e *entry, now time.Time) (drop bool, err error) {
	if exp := e.resp.Exp.time(); !exp.IsZero() && !now.Before(exp) {
		return true, deny(runtime.ReasonTokenExpired, "the token has expired").WithDetail("cached introspection: exp passed")
	}
	if !now.Before(e.until) {
		return true, errStale
	}
	if err := a.check(e.resp, now); err != nil {
		return true, err
	}
	if err := checkBinding(ctx, e.resp); err != nil {
		return false, err // the entry stays: it is good on the connection it is bound to
	}
	return false, nil
}

// Authenticate checks token at the introspection endpoint, or in the cache
// of recent successes, and returns its principal (kind OAUTH2_TOKEN).
//
// Caller faults are *runtime.Error with their reason: TOKEN_REVOKED for an
// inactive token, TOKEN_EXPIRED, TOKEN_NOT_YET_VALID, ISSUER_UNTRUSTED,
// AUDIENCE_MISMATCH, CREDENTIAL_KIND_NOT_ACCEPTED for a refresh token,
// CLAIMS_INVALID for an active token that names nobody, whose scope is
// not a well-formed scope string or whose cnf is not an object,
// CREDENTIALS_INVALID for a token bound to a client certificate
// (cnf "x5t#S256", RFC 8705 §3.2) that the call's connection did not
// present, or bound by a confirmation method this server cannot verify, and
// CREDENTIALS_MALFORMED for an empty or oversized token. The binding is
// checked on every call, cache hits included: a cached answer is shared by
// every connection that presents the token. Any failure of the
// endpoint fails closed with AUTH_BACKEND_UNAVAILABLE (UNAVAILABLE). When
// ctx ends while the request runs, Authenticate returns ctx.Err() at once;
// the request goes on for the callers that share it.
//
// A burst of one new token — concurrent calls with a token the cache does
// not hold, with the cache on or off — makes one request: the calls share
// it, each waiting no longer than its own context, and each decides the
// answer for itself (its checks at the call's time, the binding on its own
// connection). A failure of the request is the answer of the calls that
// shared it, each its own denial, and is not cached: the next call asks
// again.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*runtime.Principal, error) {
	if token == "" {
		return nil, deny(runtime.ReasonCredentialsMalformed, "the token is empty")
	}
	if len(token) > a.cfg.maxTokenSize {
		return nil, deny(runtime.ReasonCredentialsMalformed, "the token is too large").WithDetail("token of %d bytes", len(token))
	}
	key := newCacheKey(a.endpoint, token)

	if a.cache != nil {
		if e := a.cache.get(key); e != nil {
			drop, err := a.judge(ctx, e, a.cfg.now())
			if drop {
				a.cache.remove(key, e)
			}
			switch {
			case err == nil:
				a.cache.hits.Add(1)
				return principalOf(e.resp), nil
			case err != errStale: //nolint:errorlint // judge's own sentinel, never wrapped
				return nil, err
			}
		}
		a.cache.misses.Add(1)
	}

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f := a.flights.join(key, func() (*response, error) {
		if a.cfg.shared != nil {
			if r := a.sharedGet(token); r != nil {
				return r, nil
			}
		}
		return a.introspectObserved(token)
	}, func(r *response, err error) {
		a.store(key, token, r, err)
	})
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err != nil {
		var be *backendError
		if errors.As(f.err, &be) {
			return nil, deny(runtime.ReasonAuthBackendUnavailable, "the token could not be checked; try again later").
				WithDetail("introspection: %s", be.detail).WithCause(be.cause)
		}
		return nil, deny(runtime.ReasonAuthBackendUnavailable, "the token could not be checked; try again later").
			WithDetail("introspection failed")
	}
	if err := a.check(f.resp, a.cfg.now()); err != nil {
		return nil, err
	}
	if err := checkBinding(ctx, f.resp); err != nil {
		return nil, err
	}
	return principalOf(f.resp), nil
}

// store caches a successful introspection until min(now+CacheTTL, exp),
// and puts it in the shared cache, if there is one, until then too. An
// answer taken from the shared cache is kept no longer than it is there.
// Failures, inactive and refresh tokens, and responses that fail a check
// are never stored.
func (a *Authenticator) store(key cacheKey, token string, r *response, err error) {
	if a.cache == nil || err != nil {
		return
	}
	now := a.cfg.now()
	if a.check(r, now) != nil {
		return
	}
	until := now.Add(a.cfg.cacheTTL)
	if exp := r.Exp.time(); !exp.IsZero() && exp.Before(until) {
		until = exp
	}
	if !r.sharedUntil.IsZero() && r.sharedUntil.Before(until) {
		until = r.sharedUntil
	}
	a.cache.put(key, &entry{resp: r, until: until}, now)
	if a.cfg.shared != nil && r.sharedUntil.IsZero() {
		a.sharedSet(token, r, until)
	}
}

// check decides an introspection response at now. It returns a new
// *runtime.Error on every call, so callers that share a response never
// share a denial.
func (a *Authenticator) check(r *response, now time.Time) *runtime.Error {
	if !r.Active {
		return deny(runtime.ReasonTokenRevoked, "the token is not active")
	}
	if strings.EqualFold(r.TokenType, "refresh_token") {
		return deny(runtime.ReasonCredentialKindNotAccepted, "refresh tokens are not accepted")
	}
	if exp := r.Exp.time(); r.Exp != nil && !now.Before(exp) {
		return deny(runtime.ReasonTokenExpired, "the token has expired")
	}
	if r.Nbf != nil && now.Before(r.Nbf.time()) {
		return deny(runtime.ReasonTokenNotYetValid, "the token is not valid yet (nbf)")
	}
	if a.cfg.issuer != "" && r.Iss != a.cfg.issuer {
		if r.Iss == "" {
			return deny(runtime.ReasonIssuerUntrusted, "the token's issuer is not trusted").WithDetail("the introspection response has no iss")
		}
		return deny(runtime.ReasonIssuerUntrusted, "the token's issuer is not trusted")
	}
	if len(a.cfg.audiences) > 0 && !r.Aud.containsAny(a.cfg.audiences) {
		return deny(runtime.ReasonAudienceMismatch, "the token is not meant for this service (aud)")
	}
	if subjectOf(r) == "" {
		return deny(runtime.ReasonClaimsInvalid, "the token names no subject (sub, username or client_id)")
	}
	if r.scopeErr != nil {
		return deny(runtime.ReasonClaimsInvalid, "the token's scope is not a well-formed scope string")
	}
	if cnf, ok := r.claims["cnf"]; ok {
		return checkConfirmation(cnf)
	}
	return nil
}

// checkConfirmation checks the form of an answer's cnf member (RFC 7800,
// RFC 8705 §3.2), with the reasons runtime/jwtauth gives a JWT's cnf
// claim. The only confirmation method supported is RFC 8705's certificate
// binding, "x5t#S256", and it must be alone: a member this server cannot
// verify (DPoP's "jkt", RFC 9449, for one) is a proof it cannot check, and
// a proof it cannot check is no proof. Whether the call's connection holds
// the certificate is checked per call, by checkBinding.
func checkConfirmation(cnf any) *runtime.Error {
	m, ok := cnf.(map[string]any)
	if !ok {
		return deny(runtime.ReasonClaimsInvalid, "the token's cnf claim is not an object")
	}
	x5t, ok := m["x5t#S256"]
	if !ok || len(m) != 1 {
		return deny(runtime.ReasonCredentialsInvalid, "the token's confirmation method (cnf) is not supported by this server").
			WithDetail("the introspection answer's cnf holds a confirmation method other than x5t#S256 (such as DPoP's jkt), which this server cannot verify")
	}
	if s, ok := x5t.(string); !ok || !isThumbprint(s) {
		return deny(runtime.ReasonCredentialsInvalid, "the token's certificate thumbprint (cnf x5t#S256) is not a base64url SHA-256")
	}
	return nil
}

// isThumbprint reports whether s is an x5t#S256 as RFC 8705 §3.1 writes
// it: the unpadded base64url encoding of 32 bytes, and the only such
// encoding of them (no padding bits set, no line break).
func isThumbprint(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == sha256.Size && base64.RawURLEncoding.EncodeToString(b) == s
}

// checkBinding checks, for the call ctx, the certificate binding of a
// checked answer, if it has one.
func checkBinding(ctx context.Context, r *response) *runtime.Error {
	m, _ := r.claims["cnf"].(map[string]any)
	x5t, _ := m["x5t#S256"].(string)
	if x5t == "" {
		return nil
	}
	return runtime.CheckCertificateBinding(ctx, x5t)
}

func subjectOf(r *response) string {
	switch {
	case r.Sub != "":
		return r.Sub
	case r.Username != "":
		return r.Username
	}
	return r.ClientID
}

// principalOf builds a new principal from a checked response. Its Claims
// are a copy of the response's top-level object; nested values are shared
// and must not be modified.
func principalOf(r *response) *runtime.Principal {
	return &runtime.Principal{
		Kind:      runtime.OAuth2Token,
		Subject:   subjectOf(r),
		Issuer:    r.Iss,
		Scopes:    slices.Clone(r.scopes),
		Claims:    maps.Clone(r.claims),
		ExpiresAt: r.Exp.time(),
	}
}

// Now is the time this authenticator judges credentials at: the time set by
// [Clock], else the system clock. The enforcer dates the streams this
// authenticator's credentials open by it too, so that one clock serves both.
func (a *Authenticator) Now() time.Time { return a.cfg.now() }

// Clock is the clock set by [Clock], or nil when this authenticator keeps
// the system clock. The enforcer asks for it once: streams on the system
// clock are dated by a reading it keeps coarse for them, read at every
// message in place of the clock itself (see runtime's [runtime.WithStreamRecheck]).
func (a *Authenticator) Clock() func() time.Time { return a.cfg.clock }

// CacheStats returns the answer cache's counters: entries held and its
// capacity, look-ups answered from it (hits: the endpoint was not asked)
// or not (misses), live entries dropped to make room (evictions), and the
// calls that waited for the request another call had started for the same
// token instead of starting their own (coalesced: a burst of n first calls
// of one token is one request, n-1 coalesced). A cached answer refused on
// this call (expired, bound to another certificate) counts as neither hit
// nor miss. All zero when the cache is off, but Coalesced: requests are
// shared with the cache off too. Safe for concurrent use.
func (a *Authenticator) CacheStats() runtime.CacheStats {
	var st runtime.CacheStats
	if a.cache != nil {
		st = a.cache.stats()
	}
	st.Coalesced = a.flights.coalesced.Load()
	return st
}

// len returns the number of cached entries, for tests.
func (a *Authenticator) len() int {
	if a.cache == nil {
		return 0
	}
	return a.cache.len()
}
