// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

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
			shard.hits.Add(1)
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
	if km.keyFor(e.kid) != e.key {
		a.cache.drop(token)
		return nil
	}
	if e.cnf != "" && runtime.CheckCertificateBinding(ctx, e.cnf) != nil {
		return nil
	}
	return e.principal
}

// verify is the full verification of a token not served from the cache.
func (a *Authenticator) verify(ctx context.Context, token string) (*runtime.Principal, *cacheEntry, error) {
	if strings.Count(token, ".") != 2 {
		return nil, nil, deny(runtime.ReasonCredentialsMalformed, "the token is not a JWT (three dot-separated parts)")
	}
	if !canonical(token) {
		return nil, nil, deny(runtime.ReasonCredentialsMalformed, "the token is not canonical base64url")
	}
	// Every algorithm, to read the token; the issuer's allow-list is
	// applied once the issuer is known, before any key is looked up.
	tok, err := jwt.ParseSigned(token, allAlgorithms)
	if err != nil {
		return nil, nil, deny(runtime.ReasonCredentialsMalformed, "the token is not a well-formed JWS").WithDetail("the compact JWS did not parse (its content is not logged)")
	}
	if len(tok.Headers) != 1 {
		return nil, nil, deny(runtime.ReasonCredentialsMalformed, "the token must carry exactly one signature")
	}
	hdr := tok.Headers[0]
	header, derr := checkHeader(token)
	if derr != nil {
		return nil, nil, derr
	}

	// One decode of the claims (go-jose's JSON); the registered ones are
	// then read from it with strict types.
	var all map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&all); err != nil || all == nil { // nil: the payload is JSON null
		return nil, nil, deny(runtime.ReasonCredentialsMalformed, "the token's claims are not a valid JSON object").WithDetail("the claims did not decode (their content is not logged)")
	}
	std, cerr := registeredClaims(all)
	if cerr != nil {
		return nil, nil, cerr
	}
	// Routed by iss, once: from here on only this issuer's settings and
	// keys apply.
	is := a.issuers[std.Issuer]
	if is == nil {
		return nil, nil, deny(runtime.ReasonIssuerUntrusted, "the token's issuer is not trusted")
	}
	ic := is.cfg
	if derr := ic.checkType(header); derr != nil {
		return nil, nil, derr
	}
	if !slices.Contains(ic.algorithms, jose.SignatureAlgorithm(hdr.Algorithm)) {
		return nil, nil, deny(runtime.ReasonTokenInvalidSignature, "the token's signature algorithm is not accepted")
	}
	if err := ic.checkClaims(&std, all); err != nil {
		return nil, nil, err
	}
	if err := ic.checkRequired(all); err != nil {
		return nil, nil, err
	}
	scopes, derr := ic.scopesOf(all)
	if derr != nil {
		return nil, nil, derr
	}

	key, err := is.keys.lookup(ctx, hdr.KeyID)
	if err != nil {
		var be *backendError
		switch {
		case errors.As(err, &be):
			return nil, nil, deny(runtime.ReasonAuthBackendUnavailable, "the issuer's signing keys are unavailable; try again later").WithDetail("%v", err).WithCause(err)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return nil, nil, err
		}
		return nil, nil, deny(runtime.ReasonTokenInvalidSignature, "the token's signing key is not known").WithDetail("%v", err)
	}
	if !keyFitsAlg(key, hdr.Algorithm) {
		return nil, nil, deny(runtime.ReasonTokenInvalidSignature, "the token's algorithm does not match its key").WithDetail("alg %q, key %q", hdr.Algorithm, key.KeyID)
	}
	if err := tok.Claims(key.Key); err != nil || !pssSaltOK(token, hdr.Algorithm, key) {
		return nil, nil, deny(runtime.ReasonTokenInvalidSignature, "the token's signature is not valid")
	}
	entry := &cacheEntry{expiry: std.Expiry.Time(), kid: hdr.KeyID, key: key, issuer: is}
	if cnf, ok := all["cnf"]; ok {
		if derr := checkConfirmation(ctx, cnf); derr != nil {
			return nil, nil, derr
		}
		entry.cnf, _ = cnf.(map[string]any)["x5t#S256"].(string)
	}
	entry.principal = &runtime.Principal{
		Kind:      runtime.BearerJWT,
		Subject:   std.Subject,
		Issuer:    std.Issuer,
		Scopes:    scopes,
		Claims:    all,
		ExpiresAt: std.Expiry.Time().Add(a.cfg.leeway), // as long as this server accepts it
	}
	return entry.principal, entry, nil
}

// checkHeader checks the protected header's members that go-jose leaves
// to its caller, in the header as sent (go-jose drops members whose value
// is JSON null, and accepts an empty crit list and crit ["b64"]), and
// returns them. This server implements no JWS extension (RFC 7515
// §4.1.11): a crit member of any value, or a b64 member (RFC 7797, the
// unencoded payload, which changes what the signature covers), makes the
// token one it cannot read. token is canonical and its header was decoded
// once already, by go-jose.
func checkHeader(token string) (map[string]json.RawMessage, *runtime.Error) {
	raw, err := base64.RawURLEncoding.DecodeString(token[:strings.IndexByte(token, '.')])
	var members map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(raw, &members)
	}
	if err != nil {
		return nil, deny(runtime.ReasonCredentialsMalformed, "the token is not a well-formed JWS").WithDetail("the header did not decode (its content is not logged)")
	}
	if _, ok := members["crit"]; ok {
		return nil, deny(runtime.ReasonCredentialsMalformed, "the token's header lists critical extensions (crit); this server implements none")
	}
	if _, ok := members["b64"]; ok {
		return nil, deny(runtime.ReasonCredentialsMalformed, "the token's header has a b64 member; this server does not implement unencoded payloads")
	}
	return members, nil
}

// checkType checks the typ header against the issuer's [Types] (explicit
// typing, RFC 9068 §4, RFC 8725 §3.11): an ID token or another JWT of the
// issuer is not an access token.
func (c *issuerConfig) checkType(header map[string]json.RawMessage) *runtime.Error {
	v, ok := header["typ"]
	if !ok {
		if c.untypedOK {
			return nil
		}
		return deny(runtime.ReasonClaimsInvalid, "the token has no typ header; this server accepts access tokens of the types it is configured for")
	}
	var typ string
	if err := json.Unmarshal(v, &typ); err != nil {
		return deny(runtime.ReasonClaimsInvalid, "the token's typ header is not a string")
	}
	if !c.typeOK(typ) {
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
func (ic *issuerConfig) checkClaims(c *jwt.Claims, all map[string]any) *runtime.Error {
	now := ic.now()
	lw := ic.leeway
	if c.Expiry == nil {
		return deny(runtime.ReasonClaimsInvalid, "the token has no exp claim")
	}
	if !now.Before(c.Expiry.Time().Add(lw)) {
		return deny(runtime.ReasonTokenExpired, "the token has expired")
	}
	if c.NotBefore != nil && now.Add(lw).Before(c.NotBefore.Time()) {
		return deny(runtime.ReasonTokenNotYetValid, "the token is not valid yet (nbf)")
	}
	if c.IssuedAt != nil && now.Add(lw).Before(c.IssuedAt.Time()) {
		return deny(runtime.ReasonTokenNotYetValid, "the token was issued in the future (iat)")
	}
	if ic.maxLifetime > 0 {
		start := c.IssuedAt
		if start == nil {
			start = c.NotBefore
		}
		if start == nil {
			return deny(runtime.ReasonClaimsInvalid, "the token has neither iat nor nbf; its lifetime is unknown")
		}
		if c.Expiry.Time().Sub(start.Time()) > ic.maxLifetime {
			return deny(runtime.ReasonClaimsInvalid, "the token's lifetime is longer than this server accepts")
		}
	}
	aud := c.Audience
	if ic.audClaim != "aud" {
		var ok bool
		if aud, ok = audienceOf(all[ic.audClaim]); !ok {
			return deny(runtime.ReasonClaimsInvalid, "the token's audience claim is of the wrong type")
		}
	}
	if !ic.audienceOK(aud) {
		return deny(runtime.ReasonAudienceMismatch, "the token is not meant for this service (aud)")
	}
	if c.Subject == "" {
		return deny(runtime.ReasonClaimsInvalid, "the token has no sub claim")
	}
	if ic.subject != nil && !ic.subject.MatchString(c.Subject) {
		return deny(runtime.ReasonClaimsInvalid, "the token's subject is not allowed")
	}
	return nil
}

// audienceOf reads an audience claim other than aud: absent (no audience),
// a string, or an array of strings.
func audienceOf(v any) (jwt.Audience, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		return jwt.Audience{v}, true
	case []any:
		out := make(jwt.Audience, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

func (ic *issuerConfig) audienceOK(aud jwt.Audience) bool {
	for _, got := range aud {
		for _, want := range ic.audiences {
			if got == want {
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

// canonical reports whether the three parts of token are canonical
// base64url, each the encoding of its decoding: no padding bits set, no
// line breaks. go-jose decodes them leniently and verifies the signature
// over header and payload re-encoded, so without this check many strings
// would pass as one signed token.
//
// It checks this without decoding: every character is of the base64url
// alphabet (so no padding, whitespace or line breaks), no part has a length
// that leaves a lone character (len%4 == 1), and the last character of a
// part whose length is not a multiple of 4 leaves its unused low bits zero.
// The decoding itself is go-jose's.
func canonical(token string) bool {
	for part := range strings.SplitSeq(token, ".") {
		for i := 0; i < len(part); i++ {
			if b64Value(part[i]) < 0 {
				return false
			}
		}
		switch len(part) % 4 {
		case 1:
			return false
		case 2: // 12 bits for 8: the low 4 bits of the last character are unused
			if b64Value(part[len(part)-1])&0x0f != 0 {
				return false
			}
		case 3: // 18 bits for 16: the low 2 bits are unused
			if b64Value(part[len(part)-1])&0x03 != 0 {
				return false
			}
		}
	}
	return true
}

// b64Value is the 6-bit value of a base64url character, or -1.
func b64Value(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}

// pssSaltOK reports whether an RSA-PSS signature, the only kind it checks,
// has a salt as long as the hash, as RFC 7518 section 3.5 requires: go-jose
// accepts any salt length. token is canonical, so the signing input is the
// text before its last dot.
func pssSaltOK(token, alg string, key *jose.JSONWebKey) bool {
	var h crypto.Hash
	switch jose.SignatureAlgorithm(alg) {
	case jose.PS256:
		h = crypto.SHA256
	case jose.PS384:
		h = crypto.SHA384
	case jose.PS512:
		h = crypto.SHA512
	default:
		return true
	}
	pub, ok := key.Key.(*rsa.PublicKey)
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if !ok || err != nil {
		return false
	}
	d := h.New()
	d.Write([]byte(token[:dot]))
	return rsa.VerifyPSS(pub, h, d.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
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

// registeredClaims reads iss, sub, aud, exp, nbf, iat and jti from decoded
// claims with the types RFC 7519 gives them, as go-jose's jwt.Claims
// would: a claim of another type is CLAIMS_INVALID (the token is a JWS;
// its claims are wrong); a JSON null string or date claim counts as
// absent, a null aud is of the wrong type.
func registeredClaims(all map[string]any) (jwt.Claims, *runtime.Error) {
	var c jwt.Claims
	bad := func(name string) *runtime.Error {
		return deny(runtime.ReasonClaimsInvalid, "the token's "+name+" claim is of the wrong type")
	}
	for _, f := range [...]struct {
		name string
		dst  *string
	}{{"iss", &c.Issuer}, {"sub", &c.Subject}, {"jti", &c.ID}} {
		if v := all[f.name]; v != nil {
			s, ok := v.(string)
			if !ok {
				return c, bad(f.name)
			}
			*f.dst = s
		}
	}
	for _, f := range [...]struct {
		name string
		dst  **jwt.NumericDate
	}{{"exp", &c.Expiry}, {"nbf", &c.NotBefore}, {"iat", &c.IssuedAt}} {
		if v := all[f.name]; v != nil {
			n, ok := v.(float64)
			if !ok || math.IsNaN(n) || n >= maxNumericDate || n <= -maxNumericDate {
				return c, bad(f.name)
			}
			d := jwt.NumericDate(n)
			*f.dst = &d
		}
	}
	if v, present := all["aud"]; present {
		switch a := v.(type) {
		case string:
			c.Audience = jwt.Audience{a}
		case []any:
			c.Audience = make(jwt.Audience, 0, len(a))
			for _, e := range a {
				s, ok := e.(string)
				if !ok {
					return c, bad("aud")
				}
				c.Audience = append(c.Audience, s)
			}
		default:
			return c, bad("aud")
		}
	}
	return c, nil
}
