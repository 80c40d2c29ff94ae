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

// Option configures an [Authenticator].
type Option func(*config) error

type config struct {
	issuer             string
	audiences          []string
	jwksURL            *url.URL
	staticKeys         []staticKey // nil: keys come from jwksURL
	staticJWKS         bool        // StaticJWKS was given
	algorithms         []jose.SignatureAlgorithm
	types              []string // normalized by normalizeType; never ""
	untypedOK          bool     // a token without typ is accepted
	leeway             time.Duration
	maxLifetime        time.Duration
	subject            *regexp.Regexp
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
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// Issuer sets the only accepted iss, compared exactly. Required.
func Issuer(iss string) Option {
	return func(c *config) error {
		if iss == "" {
			return errorf("Issuer: empty")
		}
		c.issuer = iss
		return nil
	}
}

// Audience sets the accepted audiences; a token is accepted when any of its
// aud values equals any of them exactly. Required.
func Audience(aud ...string) Option {
	return func(c *config) error {
		for _, a := range aud {
			if a == "" {
				return errorf("Audience: empty audience")
			}
		}
		if len(aud) == 0 {
			return errorf("Audience: none given")
		}
		c.audiences = append(c.audiences, aud...)
		return nil
	}
}

// JWKSURL sets where the issuer's keys are fetched from. It must be https
// unless [AllowHTTP] is given. Keys are cached, refreshed every
// [RefreshInterval], fetched once at a time, and the last good keys are kept
// for [MaxStaleness] when a refresh fails.
func JWKSURL(u string) Option {
	return func(c *config) error {
		parsed, err := url.Parse(u)
		if err != nil {
			return errorf("JWKSURL: %w", err)
		}
		if parsed.Host == "" || (parsed.Scheme != "https" && parsed.Scheme != "http") {
			return errorf("JWKSURL: %q is not an absolute http(s) URL", u)
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
func Algorithms(algs ...string) Option {
	return func(c *config) error {
		if len(algs) == 0 {
			return errorf("Algorithms: none given")
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
			return errorf("Algorithms: %s is not an accepted asymmetric signature algorithm", bad[0])
		default:
			return errorf("Algorithms: %s are not accepted asymmetric signature algorithms", strings.Join(bad, ", "))
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
func Types(types ...string) Option {
	return func(c *config) error {
		if len(types) == 0 {
			return errorf("Types: none given")
		}
		c.types, c.untypedOK = nil, false
		for _, t := range types {
			if t == "" {
				c.untypedOK = true
				continue
			}
			n := normalizeType(t)
			if !mediaType(n) {
				return errorf("Types: %q is not a media type", t)
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

// MaxLifetime refuses tokens whose exp is more than d after their iat (or
// nbf when iat is absent); a token with neither is refused.
func MaxLifetime(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errorf("MaxLifetime: %s is not positive", d)
		}
		c.maxLifetime = d
		return nil
	}
}

// Subject refuses tokens whose sub does not match re (anchor it yourself).
func Subject(re *regexp.Regexp) Option {
	return func(c *config) error {
		if re == nil {
			return errorf("Subject: nil pattern")
		}
		c.subject = re
		return nil
	}
}

// HTTPClient sets the client JWKS fetches use. Its redirect policy is
// replaced: redirects are followed only to the same scheme and host.
func HTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errorf("HTTPClient: nil client")
		}
		c.httpClient = hc
		return nil
	}
}

// AllowHTTP allows a plain-http JWKS URL. For tests and local use only.
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

// FetchTimeout bounds one JWKS fetch (default 10s).
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
// about n × (MaxTokenSize + its decoded claims).
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
		c.now = now
		return nil
	}
}
