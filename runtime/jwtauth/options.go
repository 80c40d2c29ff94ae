// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ErrInvalidOption is wrapped by every error [New] returns.
var ErrInvalidOption = errors.New("jwtauth: invalid option")

// Defaults of the options.
const (
	DefaultLeeway             = 30 * time.Second
	MaxLeeway                 = 5 * time.Minute
	DefaultRefreshInterval    = 5 * time.Minute
	DefaultMinRefreshInterval = 5 * time.Second
	DefaultMaxStaleness       = time.Hour
	DefaultFetchTimeout       = 10 * time.Second
	DefaultMaxTokenSize       = 8 << 10
	DefaultMaxJWKSSize        = 1 << 20
)

// DefaultType is the only typ header accepted unless [Types] says
// otherwise: RFC 9068's JWT access token.
const DefaultType = "at+jwt"

// DefaultAlgorithms are accepted unless [Algorithms] says otherwise.
var DefaultAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// asymmetric are the algorithms [Algorithms] accepts: no HMAC, never none.
var asymmetric = map[jose.SignatureAlgorithm]bool{
	jose.RS256: true, jose.RS384: true, jose.RS512: true,
	jose.PS256: true, jose.PS384: true, jose.PS512: true,
	jose.ES256: true, jose.ES384: true, jose.ES512: true,
	jose.EdDSA: true,
}

// Option configures an [Authenticator]: a trusted issuer ([Issuer]), or a
// setting of the authenticator as a whole (the clock, the leeway, the
// cache, how keys are fetched).
type Option func(*config) error

// IssuerOption configures one trusted issuer, given to [Issuer]: its
// audiences, its keys, the algorithms and types it signs with, where its
// tokens hold their scopes, and what else its tokens must say.
type IssuerOption func(*issuerConfig) error

// config is the authenticator's: its issuers, and what they share.
type config struct {
	issuers            []*issuerConfig
	leeway             time.Duration
	httpClient         *http.Client
	allowHTTP          bool
	refreshInterval    time.Duration
	minRefreshInterval time.Duration
	maxStaleness       time.Duration
	fetchTimeout       time.Duration
	maxTokenSize       int
	cacheSize          int
	logger             *slog.Logger // nil: no logging
	now                func() time.Time
	clock              func() time.Time // set by Clock; nil: the system clock
}

// issuerConfig is one trusted issuer's, with the authenticator's settings
// it shares (set by New).
type issuerConfig struct {
	*config
	issuer      string
	audiences   []string
	jwksURL     *url.URL
	discovery   discoveryKind // how jwksURL is found, when it is not given
	staticKeys  []staticKey   // nil: keys come from jwksURL
	staticJWKS  bool          // StaticJWKS was given
	algorithms  []jose.SignatureAlgorithm
	types       []string // normalized by normalizeType; never ""
	untypedOK   bool     // a token without typ is accepted
	maxLifetime time.Duration
	subject     *regexp.Regexp
	scopeClaims []ScopeClaim // nil: the default, "scope" and "scp"
	audClaim    string       // the claim compared with audiences; "aud" by default
	required    []requiredClaim
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// issuerErrorf is the error of an IssuerOption; Issuer wraps it in
// ErrInvalidOption, naming the issuer.
func issuerErrorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// Issuer trusts the issuer iss, configured by opts: tokens whose iss equals
// iss exactly are verified with its keys and checked against its settings,
// and no other issuer's. At least one issuer is required; give Issuer once
// per issuer, each with its own [Audience] and keys ([JWKSURL],
// [OIDCDiscovery], [OAuthMetadata], [StaticJWKS] or [StaticKey]):
//
//	jwtauth.New(
//		jwtauth.Issuer("https://accounts.example.com",
//			jwtauth.Audience("library"),
//			jwtauth.OIDCDiscovery()),
//		jwtauth.Issuer("https://tokens.internal.example",
//			jwtauth.Audience("library"),
//			jwtauth.JWKSURL("https://tokens.internal.example/keys"),
//			jwtauth.Types("at+jwt", "JWT")),
//	)
//
// A token is routed by its iss before any key is fetched, so that the
// number of issuers costs nothing per call (a map lookup, on a token not
// in the verified-token cache), a token of an issuer not given is
// ISSUER_UNTRUSTED without any fetch, and a token naming one issuer is
// never verified with another's keys.
func Issuer(iss string, opts ...IssuerOption) Option {
	return func(c *config) error {
		if iss == "" {
			return errorf("Issuer: empty")
		}
		for _, ic := range c.issuers {
			if ic.issuer == iss {
				return errorf("Issuer %q: given twice", iss)
			}
		}
		ic := &issuerConfig{
			issuer:     iss,
			algorithms: joseAlgorithms(DefaultAlgorithms),
			types:      []string{DefaultType},
			audClaim:   "aud",
		}
		for _, o := range opts {
			if o == nil {
				return errorf("Issuer %q: nil option", iss)
			}
			if err := o(ic); err != nil {
				return errorf("Issuer %q: %w", iss, err)
			}
		}
		c.issuers = append(c.issuers, ic)
		return nil
	}
}

// Audience sets the issuer's accepted audiences; a token is accepted when
// any of its aud values equals any of them exactly. Required.
func Audience(aud ...string) IssuerOption {
	return func(c *issuerConfig) error {
		for _, a := range aud {
			if a == "" {
				return issuerErrorf("Audience: empty audience")
			}
		}
		if len(aud) == 0 {
			return issuerErrorf("Audience: none given")
		}
		c.audiences = append(c.audiences, aud...)
		return nil
	}
}

// JWKSURL sets where the issuer's keys are fetched from. It must be https
// unless [AllowHTTP] is given. Keys are cached, refreshed every
// [RefreshInterval], fetched once at a time, and the last good keys are kept
// for [MaxStaleness] when a refresh fails.
func JWKSURL(u string) IssuerOption {
	return func(c *issuerConfig) error {
		parsed, err := url.Parse(u)
		if err != nil {
			return issuerErrorf("JWKSURL: %w", err)
		}
		if parsed.Host == "" || (parsed.Scheme != "https" && parsed.Scheme != "http") {
			return issuerErrorf("JWKSURL: %q is not an absolute http(s) URL", u)
		}
		c.jwksURL = parsed
		return nil
	}
}

// Algorithms sets the accepted signature algorithms by their JOSE names
// (RFC 7518 §3.1, RFC 8037 §3.1; default [DefaultAlgorithms]): RS256,
// RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA. Names are
// case-sensitive. HMAC algorithms, "none" and unknown names are refused: a
// public key is not a shared secret.
func Algorithms(algs ...string) IssuerOption {
	return func(c *issuerConfig) error {
		if len(algs) == 0 {
			return issuerErrorf("Algorithms: none given")
		}
		var bad []string
		for _, a := range algs {
			if !asymmetric[jose.SignatureAlgorithm(a)] {
				bad = append(bad, strconv.Quote(a))
			}
		}
		switch len(bad) {
		case 0:
		case 1:
			return issuerErrorf("Algorithms: %s is not an accepted asymmetric signature algorithm", bad[0])
		default:
			return issuerErrorf("Algorithms: %s are not accepted asymmetric signature algorithms", strings.Join(bad, ", "))
		}
		c.algorithms = joseAlgorithms(algs)
		return nil
	}
}

// joseAlgorithms is algs as go-jose's type.
func joseAlgorithms(algs []string) []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(algs))
	for i, a := range algs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

// Types sets the accepted values of the typ header (default [DefaultType],
// "at+jwt"). RFC 9068 §4 and RFC 8725 §3.11: a JWT access token says what
// it is, so that another JWT of the same issuer for the same audience —
// above all an OpenID Connect ID token, typ "JWT" or none — is not taken
// for one. Values are compared case-insensitively, with or without the
// "application/" prefix (RFC 7515 §4.1.9): "at+jwt" also accepts
// "application/AT+JWT". A token whose typ is not listed, is not a string
// or is empty is refused with CLAIMS_INVALID before any key is fetched.
//
// For an issuer whose access tokens say typ "JWT", accept it too:
//
//	jwtauth.Types("at+jwt", "JWT")
//
// A token without typ is accepted only when "" is listed, as in
// Types("at+jwt", "JWT", ""); this lets ID tokens without typ through, so
// do it only for an issuer that sets no typ on its access tokens and
// whose ID tokens never carry this server's audience.
func Types(types ...string) IssuerOption {
	return func(c *issuerConfig) error {
		if len(types) == 0 {
			return issuerErrorf("Types: none given")
		}
		c.types, c.untypedOK = nil, false
		for _, t := range types {
			if t == "" {
				c.untypedOK = true
				continue
			}
			n := normalizeType(t)
			if !mediaType(n) {
				return issuerErrorf("Types: %q is not a media type", t)
			}
			c.types = append(c.types, n)
		}
		return nil
	}
}

// normalizeType is t without a leading "application/" (in any case), in
// lower case.
func normalizeType(t string) string {
	const prefix = "application/"
	if len(t) >= len(prefix) && strings.EqualFold(t[:len(prefix)], prefix) {
		t = t[len(prefix):]
	}
	return strings.ToLower(t)
}

// mediaType reports whether t is non-empty printable ASCII without spaces.
func mediaType(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return false
		}
	}
	return t != ""
}

// Leeway sets the clock skew allowed on exp, nbf and iat (default 30s, at
// most 5m).
func Leeway(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || d > MaxLeeway {
			return errorf("Leeway: %s is outside [0, %s]", d, MaxLeeway)
		}
		c.leeway = d
		return nil
	}
}

// MaxLifetime refuses the issuer's tokens whose exp is more than d after
// their iat (or nbf when iat is absent); a token with neither is refused.
func MaxLifetime(d time.Duration) IssuerOption {
	return func(c *issuerConfig) error {
		if d <= 0 {
			return issuerErrorf("MaxLifetime: %s is not positive", d)
		}
		c.maxLifetime = d
		return nil
	}
}

// Subject refuses the issuer's tokens whose sub does not match re (anchor
// it yourself).
func Subject(re *regexp.Regexp) IssuerOption {
	return func(c *issuerConfig) error {
		if re == nil {
			return issuerErrorf("Subject: nil pattern")
		}
		c.subject = re
		return nil
	}
}

// HTTPClient sets the client key and metadata fetches of every issuer use.
// Its redirect policy is replaced: redirects are followed only to the
// scheme and host of the URL asked for, at most three.
func HTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errorf("HTTPClient: nil client")
		}
		c.httpClient = hc
		return nil
	}
}

// AllowHTTP allows plain-http JWKS and metadata URLs, and issuers of plain
// http to be discovered. For tests and local use only.
func AllowHTTP() Option {
	return func(c *config) error {
		c.allowHTTP = true
		return nil
	}
}

// RefreshInterval sets how long fetched keys are used before they are
// fetched again (default 5m).
func RefreshInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Second {
			return errorf("RefreshInterval: %s is under 1s", d)
		}
		c.refreshInterval = d
		return nil
	}
}

// MinRefreshInterval sets the least time between two fetches not due to
// expiry: for a kid not in the set, or after a failed fetch (default 5s).
// It bounds the load a flood of tokens with made-up kids puts on the issuer.
func MinRefreshInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errorf("MinRefreshInterval: %s is negative", d)
		}
		c.minRefreshInterval = d
		return nil
	}
}

// MaxStaleness sets how long past their refresh time the last good keys are
// still used while fetches fail (default 1h). After that, calls fail with
// UNAVAILABLE AUTH_BACKEND_UNAVAILABLE until a fetch succeeds.
func MaxStaleness(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errorf("MaxStaleness: %s is negative", d)
		}
		c.maxStaleness = d
		return nil
	}
}

// FetchTimeout bounds one JWKS or metadata fetch (default 10s).
func FetchTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errorf("FetchTimeout: %s is not positive", d)
		}
		c.fetchTimeout = d
		return nil
	}
}

// MaxTokenSize refuses longer tokens before any decoding (default 8 KiB).
func MaxTokenSize(n int) Option {
	return func(c *config) error {
		if n < 64 {
			return errorf("MaxTokenSize: %d is under 64", n)
		}
		c.maxTokenSize = n
		return nil
	}
}

// CacheSize bounds how many verified tokens are remembered (default
// DefaultCacheSize; 0 turns the cache off). A remembered token skips the
// signature check while it has not expired and the key that verified it is
// still published; only successes are remembered. Memory is bounded by
// about n × (MaxTokenSize + its decoded claims). With the cache on, the
// concurrent first calls of one token share its verification (see
// [Authenticator.Authenticate]); with it off, every call verifies its own.
func CacheSize(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return errorf("CacheSize: %d is negative", n)
		}
		c.cacheSize = n
		return nil
	}
}

// Logger sets where the authenticator reports keys of a fetched JWKS
// that it does not use (a private or symmetric key, a kid that names two
// keys, a key its own alg does not fit …): once per key set, naming the
// kid, never the key. The default is slog.Default(); nil turns logging
// off. Denials are logged by the enforcer, not here.
func Logger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// Clock sets the one clock of this authenticator's decisions: the time
// tokens are judged at (exp, nbf, iat, the leeway), cached tokens and keys
// expire by and key refreshes are due by, and, through [Authenticator.Now],
// the time an enforcer ends the streams these tokens open. For tests: set
// it here only, not on the enforcer.
func Clock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errorf("Clock: nil")
		}
		c.now, c.clock = now, now
		return nil
	}
}
