// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// ErrInvalidOption is wrapped by every error [New] returns.
var ErrInvalidOption = errors.New("introspection: invalid option")

// Defaults and limits of the options.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultCacheTTL     = 60 * time.Second
	DefaultCacheSize    = 10000
	DefaultMaxTokenSize = 8 << 10
	// MaxResponseSize caps the introspection response body; a larger one
	// fails closed.
	MaxResponseSize = 64 << 10
	// AssertionLifetime is how long a private_key_jwt client assertion is
	// valid after it is made.
	AssertionLifetime = time.Minute
)

// Option configures an [Authenticator].
type Option func(*config) error

// clientAuth is how the authenticator proves its own identity to the
// introspection endpoint.
type clientAuth int

const (
	authNone clientAuth = iota
	authSecretBasic
	authPrivateKeyJWT
)

type config struct {
	endpoint     *url.URL
	allowHTTP    bool
	authKind     clientAuth
	authCount    int // how many client authentication options were given
	clientID     string
	clientSecret string
	signingKey   crypto.Signer
	keyID        string
	alg          jose.SignatureAlgorithm
	issuer       string
	audiences    []string
	httpClient   *http.Client
	timeout      time.Duration
	cacheTTL     time.Duration
	cacheSize    int
	maxTokenSize int
	now          func() time.Time
	clock        func() time.Time        // set by Clock; nil: the system clock
	observer     runtime.BackendObserver // nil: none (see Observer)

	shared        SharedCache // nil: none
	sharedSecret  []byte
	sharedTimeout time.Duration
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// Endpoint sets the URL of the RFC 7662 introspection endpoint. Required.
// It must be https unless [AllowHTTP] is given, and may carry neither user
// information nor a fragment.
func Endpoint(u string) Option {
	return func(c *config) error {
		parsed, err := url.Parse(u)
		if err != nil {
			return errorf("Endpoint: %w", err)
		}
		if parsed.Host == "" || (parsed.Scheme != "https" && parsed.Scheme != "http") {
			return errorf("Endpoint: %q is not an absolute http(s) URL", u)
		}
		if parsed.User != nil {
			return errorf("Endpoint: the URL must not carry user information; use ClientSecret or PrivateKeyJWT")
		}
		if parsed.Fragment != "" || parsed.RawFragment != "" {
			return errorf("Endpoint: %q has a fragment", u)
		}
		c.endpoint = parsed
		return nil
	}
}

// AllowHTTP allows a plain-http endpoint. For tests and local use only:
// the client's credentials and every token would cross the network in the
// clear.
func AllowHTTP() Option {
	return func(c *config) error {
		c.allowHTTP = true
		return nil
	}
}

// ClientSecret authenticates the authenticator to the endpoint with
// client_secret_basic: HTTP Basic authentication with the client ID and
// secret each form-urlencoded first (RFC 6749 §2.3.1). Exactly one of
// ClientSecret and [PrivateKeyJWT] is required.
func ClientSecret(clientID, secret string) Option {
	return func(c *config) error {
		c.authCount++
		if clientID == "" {
			return errorf("ClientSecret: empty client ID")
		}
		if secret == "" {
			return errorf("ClientSecret: empty secret")
		}
		c.authKind = authSecretBasic
		c.clientID, c.clientSecret = clientID, secret
		return nil
	}
}

// PrivateKeyJWT authenticates the authenticator to the endpoint with a
// private_key_jwt client assertion (RFC 7523 §2.2): a JWT signed by key
// with alg, whose iss and sub are clientID, whose aud is the endpoint URL,
// with a random jti, iat now and exp [AssertionLifetime] later. keyID, when
// not empty, is sent as the assertion's kid. key may be an *rsa.PrivateKey,
// *ecdsa.PrivateKey, ed25519.PrivateKey or any other crypto.Signer of those
// key types (such as a KMS or HSM key). alg is a JOSE name that fits the
// key: RS256, RS384, RS512, PS256, PS384 or PS512 for RSA (of at least 2048
// bits); ES256, ES384 or ES512 for P-256, P-384 or P-521; EdDSA for
// Ed25519. HMAC algorithms and "none" are refused. Exactly one of [ClientSecret] and PrivateKeyJWT is required.
func PrivateKeyJWT(clientID string, key crypto.Signer, keyID, alg string) Option {
	return func(c *config) error {
		c.authCount++
		if clientID == "" {
			return errorf("PrivateKeyJWT: empty client ID")
		}
		if key == nil {
			return errorf("PrivateKeyJWT: nil key")
		}
		if err := keyFitsAlg(key.Public(), jose.SignatureAlgorithm(alg)); err != nil {
			return errorf("PrivateKeyJWT: %w", err)
		}
		c.authKind = authPrivateKeyJWT
		c.clientID, c.signingKey, c.keyID, c.alg = clientID, key, keyID, jose.SignatureAlgorithm(alg)
		return nil
	}
}

// keyFitsAlg reports why alg cannot be used with the public key pub, or
// nil when it can.
func keyFitsAlg(pub crypto.PublicKey, alg jose.SignatureAlgorithm) error {
	switch pk := pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			if pk.N.BitLen() < 2048 {
				return fmt.Errorf("RSA key of %d bits is under 2048", pk.N.BitLen())
			}
			return nil
		}
	case *ecdsa.PublicKey:
		want := map[jose.SignatureAlgorithm]elliptic.Curve{
			jose.ES256: elliptic.P256(), jose.ES384: elliptic.P384(), jose.ES512: elliptic.P521(),
		}
		if curve, ok := want[alg]; ok && pk.Curve == curve {
			return nil
		}
	case ed25519.PublicKey:
		if alg == jose.EdDSA {
			return nil
		}
	default:
		return fmt.Errorf("key type %T is not an RSA, ECDSA or Ed25519 key", pub)
	}
	return fmt.Errorf("algorithm %q does not fit a %T key", string(alg), pub)
}

// Issuer sets the only accepted iss of the introspection response,
// compared exactly. When set, a response without iss is refused. Optional.
func Issuer(iss string) Option {
	return func(c *config) error {
		if iss == "" {
			return errorf("Issuer: empty")
		}
		c.issuer = iss
		return nil
	}
}

// Audience sets the accepted audiences: when set, the response's aud (a
// string or an array of strings) must contain one of them exactly, and a
// response without aud is refused. Optional.
func Audience(aud ...string) Option {
	return func(c *config) error {
		if len(aud) == 0 {
			return errorf("Audience: none given")
		}
		for _, a := range aud {
			if a == "" {
				return errorf("Audience: empty audience")
			}
		}
		c.audiences = append(c.audiences, aud...)
		return nil
	}
}

// HTTPClient sets the client requests are made with. It is copied, and
// the copy follows no redirect: a redirect answer fails closed.
func HTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errorf("HTTPClient: nil client")
		}
		c.httpClient = hc
		return nil
	}
}

// Timeout bounds one introspection request, from connecting to reading the
// whole body (default 5s).
func Timeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errorf("Timeout: %s is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// CacheTTL sets how long a successful introspection is reused (default
// 60s); an entry never outlives the token's exp. 0 disables the cache. A
// revocation at the authorization server takes up to this long to be seen.
func CacheTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errorf("CacheTTL: %s is negative", d)
		}
		c.cacheTTL = d
		return nil
	}
}

// CacheSize bounds how many successful introspections are cached (default
// 10000).
func CacheSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return errorf("CacheSize: %d is under 1", n)
		}
		c.cacheSize = n
		return nil
	}
}

// Clock sets the one clock of this authenticator's decisions: the time
// answers are judged at (exp, nbf, iat), cached answers expire by and client
// assertions are dated by, and, through [Authenticator.Now], the time an
// enforcer ends the streams these tokens open. For tests.
func Clock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errorf("Clock: nil")
		}
		c.now, c.clock = now, now
		return nil
	}
}

// MaxTokenSize refuses longer tokens before any request (default 8 KiB,
// between 64 bytes and 1 MiB).
func MaxTokenSize(n int) Option {
	return func(c *config) error {
		if n < 64 || n > 1<<20 {
			return errorf("MaxTokenSize: %d is outside [64, 1048576]", n)
		}
		c.maxTokenSize = n
		return nil
	}
}
