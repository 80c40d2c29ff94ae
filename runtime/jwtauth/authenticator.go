// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// allAlgorithms lets a token that failed parsing under the allow-list be
// told apart: well formed with another algorithm, or not a JWS at all.
var allAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.HS256, jose.HS384, jose.HS512,
}

// Authenticator verifies bearer JWTs of the issuers it trusts. It
// implements runtime.TokenAuthenticator; give it to runtime.WithJWT. It is
// safe for concurrent use.
type Authenticator struct {
	cfg     config
	issuers map[string]*issuer // by iss
	cache   *verifiedCache     // nil when CacheSize(0)

	verifications atomic.Uint64 // verify runs, for tests (export_test.go)
	noFlights     bool          // tests: a miss verifies alone, not shared (export_test.go)
}

// issuer is one trusted issuer: its settings and its keys.
type issuer struct {
	cfg  *issuerConfig
	keys *keySource
}

var _ runtime.TokenAuthenticator = (*Authenticator)(nil)

// New returns an authenticator configured by opts. At least one [Issuer] is
// required, each with an [Audience] and one source of keys: [JWKSURL],
// [OIDCDiscovery], [OAuthMetadata], or static keys ([StaticJWKS],
// [StaticKey] or both). Errors wrap [ErrInvalidOption].
func New(opts ...Option) (*Authenticator, error) {
	cfg := config{
		leeway:             DefaultLeeway,
		refreshInterval:    DefaultRefreshInterval,
		minRefreshInterval: DefaultMinRefreshInterval,
		maxStaleness:       DefaultMaxStaleness,
		fetchTimeout:       DefaultFetchTimeout,
		maxTokenSize:       DefaultMaxTokenSize,
		cacheSize:          DefaultCacheSize,
		logger:             slog.Default(),
		now:                time.Now,
	}
	for _, o := range opts {
		if o == nil {
			return nil, errorf("nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if len(cfg.issuers) == 0 {
		return nil, errorf("Issuer is required")
	}
	a := &Authenticator{cfg: cfg, issuers: make(map[string]*issuer, len(cfg.issuers)), cache: newVerifiedCache(cfg.cacheSize)}
	for _, ic := range a.cfg.issuers {
		ic.config = &a.cfg
		sources := 0
		for _, given := range []bool{ic.jwksURL != nil, ic.staticKeys != nil, ic.discovery != noDiscovery} {
			if given {
				sources++
			}
		}
		switch {
		case len(ic.audiences) == 0:
			return nil, errorf("Issuer %q: Audience is required", ic.issuer)
		case sources != 1:
			return nil, errorf("Issuer %q: exactly one of JWKSURL, OIDCDiscovery, OAuthMetadata and static keys (StaticJWKS, StaticKey) is required", ic.issuer)
		case ic.jwksURL != nil && ic.jwksURL.Scheme != "https" && !cfg.allowHTTP:
			return nil, errorf("Issuer %q: JWKSURL: %q is not https; use AllowHTTP for local tests", ic.issuer, ic.jwksURL.String())
		case ic.discovery != noDiscovery && !strings.HasPrefix(ic.issuer, "https://") && !cfg.allowHTTP:
			return nil, errorf("Issuer %q: %s: the issuer is not an https URL; use AllowHTTP for local tests", ic.issuer, ic.discovery)
		}
		ks, err := newKeySource(ic)
		if err != nil {
			return nil, err
		}
		a.issuers[ic.issuer] = &issuer{cfg: ic, keys: ks}
	}
	return a, nil
}

// Fetches returns how many JWKS fetches have started, for every issuer
// together, for tests and metrics. (A fetch of a discovered issuer may
// fetch its metadata first.)
func (a *Authenticator) Fetches() int64 {
	var n int64
	for _, is := range a.issuers {
		n += is.keys.fetches.Load()
	}
	return n
}

func deny(r runtime.Reason, msg string) *runtime.Error { return runtime.NewError(r, msg) }

// Authenticate verifies token and returns its principal. The order keeps
// the issuers' key endpoints out of reach of junk: size and shape first,
// then the header (no crit or b64), then the issuer the token's iss names,
// then that issuer's checks that need no key (typ one of its [Types], alg
// one of its [Algorithms], exp, nbf, iat, aud, sub, required claims,
// scopes), and only then the key lookup, in that issuer's keys only, and
// the signature. Claims are used only once the signature is verified.
//
// A token verified before is served from a bounded cache: see [CacheSize].
// The principal returned may be shared between calls and must not be
// modified.
//
// A burst of one new token — concurrent calls with a byte-identical token
// the cache does not hold — verifies it once: the first call verifies, the
// others wait for its result, each for no longer than its own context
// allows (when it ends, that call returns ctx.Err(), and the verification
// goes on for the others). The result shared is only what does not depend
// on the call; each call then checks, as on a cache hit, that the token has
// not expired, that its key is still usable and that its certificate
// binding (cnf "x5t#S256") holds on its own connection. A failure (a bad
// signature, an expired token, AUTH_BACKEND_UNAVAILABLE) is the answer of
// the calls that waited for it, and is not remembered: the next call
// verifies again. When the first call's own context ends its verification
// (while it waits for the issuer's keys), the others do not get its
// context's error: one of them verifies instead. With the cache off
// ([CacheSize] 0) every call verifies its own token.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*runtime.Principal, error) {
	if len(token) > a.cfg.maxTokenSize {
		return nil, deny(runtime.ReasonCredentialsMalformed, "the token is too large").WithDetail("token of %d bytes", len(token))
	}
	if a.cache == nil {
		return a.alone(ctx, token)
	}
	e, shard := a.cache.get(token)
	if e != nil {
		if p := a.hit(ctx, token, e); p != nil {
			a.cache.hit()
			return p, nil
		}
	}
	shard.misses.Add(1)
	if a.noFlights {
		return a.alone(ctx, token)
	}
	return a.shared(ctx, token, shard)
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

// CacheStats returns the verified-token cache's counters: entries held
// and its capacity, look-ups answered from it (hits) or not (misses: a
// token not seen, or one whose entry could no longer be used), live
// entries dropped to make room (evictions), and the misses that waited for
// another call's verification of the same token instead of verifying it
// (coalesced: a burst of n first calls of one token is n misses, n-1
// coalesced). All zero when the cache is off ([CacheSize] 0). Safe for
// concurrent use.
func (a *Authenticator) CacheStats() runtime.CacheStats {
	if a.cache == nil {
		return runtime.CacheStats{}
	}
	return a.cache.stats()
}

// hit returns the cached principal of token if the entry may still be
// used: the token has not expired, the key that verified it is still in a
// usable key set, and a certificate binding holds on this connection.
// Otherwise it returns nil and the full verification decides (and says
// why).
func (a *Authenticator) hit(ctx context.Context, token string, e *cacheEntry) *runtime.Principal {
	now := a.cfg.now()
	if !now.Before(e.expiry.Add(a.cfg.leeway)) {
		a.cache.drop(token)
		return nil
	}
	keys := e.issuer.keys
	km := keys.current.Load()
	if km == nil {
		return nil
	}
	if e.issuer.cfg.staticKeys == nil && !now.Before(km.refreshAt) {
		if !now.Before(km.staleAt) {
			return nil
		}
		// Due for refresh: start one in the background (the keys are
		// still usable), so that a key removed upstream is noticed even
		// when every call is a hit.
		var err error
		if km, err = keys.usable(ctx); err != nil || km == nil {
			return nil
		}
	}
	if km != e.keys && km.keyFor(e.kid) != e.key {
		a.cache.drop(token)
		return nil
	}
	if e.cnf != "" && runtime.CheckCertificateBinding(ctx, e.cnf) != nil {
		return nil
	}
	return e.principal
}

// verify is the full verification of a token not served from the cache.
// Everything but the signature is decided first, in verifyClaims's frame;
// the signature is then checked from this small one, so that the stack the
// call's goroutine needs for it stays shallow.
func (a *Authenticator) verify(ctx context.Context, token string) (*runtime.Principal, *cacheEntry, error) {
	entry, signed, err := a.verifyClaims(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	if !signed.verify(entry.key.Key) {
		return nil, nil, deny(runtime.ReasonTokenInvalidSignature, "the token's signature is not valid")
	}
	if cnf, ok := entry.principal.Claims["cnf"]; ok {
		if derr := checkConfirmation(ctx, cnf); derr != nil {
			return nil, nil, derr
		}
		entry.cnf, _ = cnf.(map[string]any)["x5t#S256"].(string)
	}
	return entry.principal, entry, nil
}

// verifyClaims checks all of token but its signature: the shape, header
// and claims, each decoded once (jws.go), the registered claims read from
// the claims with strict types, the issuer, typ, alg, claims and scopes,
// and the key. It returns the cache entry and principal the token has if
// its signature verifies, and what the signature covers.
func (a *Authenticator) verifyClaims(ctx context.Context, token string) (*cacheEntry, signature, error) {
	var none signature
	tok, derr := parseJWS(token)
	if derr != nil {
		return nil, none, derr
	}
	hdr, all := &tok.header, tok.claims
	std, cerr := registeredClaims(all)
	if cerr != nil {
		return nil, none, cerr
	}
	// Routed by iss, once: from here on only this issuer's settings and
	// keys apply.
	is := a.issuers[std.iss]
	if is == nil {
		return nil, none, deny(runtime.ReasonIssuerUntrusted, "the token's issuer is not trusted")
	}
	ic := is.cfg
	if derr := ic.checkType(hdr); derr != nil {
		return nil, none, derr
	}
	// The issuer's allow-list, before any key is looked up.
	if !slices.Contains(ic.algorithms, jose.SignatureAlgorithm(hdr.alg)) {
		return nil, none, deny(runtime.ReasonTokenInvalidSignature, "the token's signature algorithm is not accepted")
	}
	if err := ic.checkClaims(&std, all); err != nil {
		return nil, none, err
	}
	if err := ic.checkRequired(all); err != nil {
		return nil, none, err
	}
	scopes, derr := ic.scopesOf(all)
	if derr != nil {
		return nil, none, derr
	}

	key, err := is.keys.lookup(ctx, hdr.kid)
	if err != nil {
		var be *backendError
		switch {
		case errors.As(err, &be):
			return nil, none, deny(runtime.ReasonAuthBackendUnavailable, "the issuer's signing keys are unavailable; try again later").WithDetail("%v", err).WithCause(err)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return nil, none, err
		}
		return nil, none, deny(runtime.ReasonTokenInvalidSignature, "the token's signing key is not known").WithDetail("%v", err)
	}
	if !keyFitsAlg(key, hdr.alg) {
		return nil, none, deny(runtime.ReasonTokenInvalidSignature, "the token's algorithm does not match its key").WithDetail("alg %q, key %q", hdr.alg, key.KeyID)
	}
	var keys *keyMap
	if km := is.keys.current.Load(); km != nil && km.keyFor(hdr.kid) == key {
		keys = km
	}
	return &cacheEntry{expiry: std.exp.time(), kid: hdr.kid, key: key, keys: keys, issuer: is, principal: &runtime.Principal{
		Kind:      runtime.BearerJWT,
		Subject:   std.sub,
		Issuer:    std.iss,
		Scopes:    scopes,
		Claims:    all,
		ExpiresAt: std.exp.time().Add(a.cfg.leeway), // as long as this server accepts it
	}}, tok.signature, nil
}

// checkType checks the typ header against the issuer's [Types] (explicit
// typing, RFC 9068 §4, RFC 8725 §3.11): an ID token or another JWT of the
// issuer is not an access token.
func (c *issuerConfig) checkType(h *jwsHeader) *runtime.Error {
	if !h.typSet {
		if c.untypedOK {
			return nil
		}
		return deny(runtime.ReasonClaimsInvalid, "the token has no typ header; this server accepts access tokens of the types it is configured for")
	}
	if h.typBad {
		return deny(runtime.ReasonClaimsInvalid, "the token's typ header is not a string")
	}
	if !c.typeOK(h.typ) { // null is ""
		return deny(runtime.ReasonClaimsInvalid, "the token's type (typ) is not one this server accepts as an access token")
	}
	return nil
}

// typeOK reports whether typ, as sent, is one of the configured types:
// case-insensitively, with or without "application/" (RFC 7515 §4.1.9).
func (c *issuerConfig) typeOK(typ string) bool {
	const prefix = "application/"
	if len(typ) >= len(prefix) && strings.EqualFold(typ[:len(prefix)], prefix) {
		typ = typ[len(prefix):]
	}
	for _, t := range c.types {
		if strings.EqualFold(typ, t) {
			return true
		}
	}
	return false
}

// checkClaims checks the registered claims that need no key, for the
// issuer the token was routed to.
func (ic *issuerConfig) checkClaims(c *registered, all map[string]any) *runtime.Error {
	now := ic.now()
	lw := ic.leeway
	if !c.exp.set {
		return deny(runtime.ReasonClaimsInvalid, "the token has no exp claim")
	}
	if !now.Before(c.exp.time().Add(lw)) {
		return deny(runtime.ReasonTokenExpired, "the token has expired")
	}
	if c.nbf.set && now.Add(lw).Before(c.nbf.time()) {
		return deny(runtime.ReasonTokenNotYetValid, "the token is not valid yet (nbf)")
	}
	if c.iat.set && now.Add(lw).Before(c.iat.time()) {
		return deny(runtime.ReasonTokenNotYetValid, "the token was issued in the future (iat)")
	}
	if ic.maxLifetime > 0 {
		start := c.iat
		if !start.set {
			start = c.nbf
		}
		if !start.set {
			return deny(runtime.ReasonClaimsInvalid, "the token has neither iat nor nbf; its lifetime is unknown")
		}
		if c.exp.time().Sub(start.time()) > ic.maxLifetime {
			return deny(runtime.ReasonClaimsInvalid, "the token's lifetime is longer than this server accepts")
		}
	}
	aud := c.aud
	if ic.audClaim != "aud" {
		if aud = all[ic.audClaim]; !audienceShape(aud) {
			return deny(runtime.ReasonClaimsInvalid, "the token's audience claim is of the wrong type")
		}
	}
	if !ic.audienceOK(aud) {
		return deny(runtime.ReasonAudienceMismatch, "the token is not meant for this service (aud)")
	}
	if c.sub == "" {
		return deny(runtime.ReasonClaimsInvalid, "the token has no sub claim")
	}
	if ic.subject != nil && !ic.subject.MatchString(c.sub) {
		return deny(runtime.ReasonClaimsInvalid, "the token's subject is not allowed")
	}
	return nil
}

// audienceShape reports whether v is an audience claim: absent (no
// audience), a string, or an array of strings.
func audienceShape(v any) bool {
	switch v := v.(type) {
	case nil, string:
		return true
	case []any:
		for _, e := range v {
			if _, ok := e.(string); !ok {
				return false
			}
		}
		return true
	}
	return false
}

// audienceOK reports whether the audience claim aud, of a shape
// audienceShape accepts, holds one of the issuer's audiences.
func (ic *issuerConfig) audienceOK(aud any) bool {
	switch aud := aud.(type) {
	case string:
		return slices.Contains(ic.audiences, aud)
	case []any:
		for _, got := range aud {
			if s, _ := got.(string); slices.Contains(ic.audiences, s) {
				return true
			}
		}
	}
	return false
}

// scopeToken reports whether s is exactly one RFC 6749 §3.3 scope-token:
// a scope string that runtime.ParseScope splits into one scope.
func scopeToken(s string) bool {
	if s == "" || strings.IndexByte(s, ' ') >= 0 {
		return false
	}
	_, err := runtime.ParseScope(s)
	return err == nil
}

// checkConfirmation checks the form of a token's cnf claim (RFC 7800). The
// only confirmation method supported is RFC 8705's certificate binding,
// "x5t#S256": the SHA-256 thumbprint of the client certificate the call's
// TLS connection must present, and it must be alone. A confirmation method
// this server cannot check, beside x5t#S256 or instead of it (a proof it
// cannot verify is no proof), is refused, as runtime/introspection does,
// and so is a thumbprint that is not a canonical base64url SHA-256 (no
// certificate has it). Whether the call's connection presented that
// certificate is not checked here but on every call, by bindingFails: the
// binding belongs to the call, and a verification is shared by the calls
// of a burst and by the cache's hits. ctx is not used.
func checkConfirmation(_ context.Context, cnf any) *runtime.Error {
	m, ok := cnf.(map[string]any)
	if !ok {
		return deny(runtime.ReasonClaimsInvalid, "the token's cnf claim is not an object")
	}
	want, ok := m["x5t#S256"].(string)
	if !ok || len(m) != 1 {
		return deny(runtime.ReasonCredentialsInvalid, "the token's confirmation method (cnf) is not supported by this server")
	}
	if !isThumbprint(want) {
		return deny(runtime.ReasonCredentialsInvalid, "the token's certificate thumbprint (cnf x5t#S256) is not a base64url SHA-256")
	}
	return nil
}

// isThumbprint reports whether s is an x5t#S256 as RFC 8705 §3.1 writes
// it: the unpadded base64url encoding of 32 bytes, and the only such
// encoding of them.
func isThumbprint(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == sha256.Size && base64.RawURLEncoding.EncodeToString(b) == s
}

// maxNumericDate bounds exp, nbf and iat as go-jose does: larger values
// overflow time arithmetic and could make a future nbf look past.
const maxNumericDate = 1 << 62

// registered are the registered claims of a token (RFC 7519 §4.1) that
// this package checks, read by registeredClaims.
type registered struct {
	iss, sub      string
	exp, nbf, iat numericDate
	aud           any // a string or an array of strings; nil when absent
}

// numericDate is an exp, nbf or iat claim: whole seconds (a fraction is
// dropped, as go-jose's jwt.NumericDate drops it), if set.
type numericDate struct {
	unix int64
	set  bool
}

func (n numericDate) time() time.Time { return time.Unix(n.unix, 0) }

// registeredClaims reads iss, sub, aud, exp, nbf, iat and jti from decoded
// claims with the types RFC 7519 gives them, as go-jose's jwt.Claims
// would: a claim of another type is CLAIMS_INVALID (the token is a JWS;
// its claims are wrong); a JSON null string or date claim counts as
// absent, a null aud is of the wrong type.
func registeredClaims(all map[string]any) (registered, *runtime.Error) {
	var c registered
	bad := func(name string) *runtime.Error {
		return deny(runtime.ReasonClaimsInvalid, "the token's "+name+" claim is of the wrong type")
	}
	for _, f := range [...]struct {
		name string
		dst  *string
	}{{"iss", &c.iss}, {"sub", &c.sub}, {"jti", nil}} {
		if v := all[f.name]; v != nil {
			s, ok := v.(string)
			if !ok {
				return c, bad(f.name)
			}
			if f.dst != nil {
				*f.dst = s
			}
		}
	}
	for _, f := range [...]struct {
		name string
		dst  *numericDate
	}{{"exp", &c.exp}, {"nbf", &c.nbf}, {"iat", &c.iat}} {
		if v := all[f.name]; v != nil {
			n, ok := v.(float64)
			if !ok || math.IsNaN(n) || n >= maxNumericDate || n <= -maxNumericDate {
				return c, bad(f.name)
			}
			*f.dst = numericDate{unix: int64(n), set: true}
		}
	}
	if v, present := all["aud"]; present {
		if v == nil || !audienceShape(v) {
			return c, bad("aud")
		}
		c.aud = v
	}
	return c, nil
}
