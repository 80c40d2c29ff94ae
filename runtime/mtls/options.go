// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package mtls

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// ErrInvalidOption is wrapped by every error [New] returns, and by the
// errors of [Authenticator.ReloadBundle] and [Authenticator.Watch].
var ErrInvalidOption = errors.New("mtls: invalid option")

// MaxBundleSize caps the size of a trust bundle file read by [BundleFile].
const MaxBundleSize = 8 << 20

// SANKind names the kind of subject alternative name [SAN] takes the
// identity from.
type SANKind int

// The kinds of name an identity can be taken from.
const (
	// DNSName is a DNS name SAN.
	DNSName SANKind = iota + 1
	// Email is an email address SAN (rfc822Name).
	Email
	// URI is a URI SAN, taken as written in the certificate.
	URI
	// CommonName is the subject's common name. It is not a SAN; it is
	// accepted for older PKIs whose client certificates carry no SAN.
	CommonName
)

// String returns the kind's name, such as "DNSName".
func (k SANKind) String() string {
	switch k {
	case DNSName:
		return "DNSName"
	case Email:
		return "Email"
	case URI:
		return "URI"
	case CommonName:
		return "CommonName"
	}
	return "SANKind(" + strconv.Itoa(int(k)) + ")"
}

// Option configures an [Authenticator].
type Option func(*config) error

type config struct {
	// Identity mode: exactly one of spiffe and san is set.
	spiffe    bool
	td        spiffeid.TrustDomain
	san       SANKind
	modeCount int

	scopes    map[string][]string
	scopeFunc func(identity string) []string

	pool       *x509.CertPool
	bundleFile string

	now func() time.Time

	clock func() time.Time // set by Clock; nil: the system clock
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// SPIFFE takes the caller's identity from its SPIFFE ID: the leaf's one and
// only URI SAN, parsed strictly by go-spiffe, in trustDomain. trustDomain is
// a trust domain name ("example.org") or its ID ("spiffe://example.org").
// Exactly one of SPIFFE and [SAN] is required.
func SPIFFE(trustDomain string) Option {
	return func(c *config) error {
		td, err := spiffeid.TrustDomainFromString(trustDomain)
		if err != nil {
			return errorf("SPIFFE: trust domain %q: %w", trustDomain, err)
		}
		// A SPIFFE ID with a path is not a trust domain: refuse it rather
		// than silently widen it to its whole trust domain.
		if trustDomain != td.Name() && trustDomain != td.IDString() {
			return errorf("SPIFFE: %q is a workload ID, not a trust domain; use %q", trustDomain, td.Name())
		}
		c.spiffe = true
		c.td = td
		c.modeCount++
		return nil
	}
}

// SAN takes the caller's identity from the certificate's single name of
// kind. A certificate with none, or with more than one, of that kind is
// refused. Exactly one of [SPIFFE] and SAN is required.
func SAN(kind SANKind) Option {
	return func(c *config) error {
		if kind < DNSName || kind > CommonName {
			return errorf("SAN: unknown kind %s", kind)
		}
		c.san = kind
		c.modeCount++
		return nil
	}
}

// Scopes maps identities to the scopes they hold. An identity without an
// entry authenticates with no scopes. The map is copied. At most one of
// Scopes and [ScopeFunc] may be given.
func Scopes(m map[string][]string) Option {
	return func(c *config) error {
		if m == nil {
			return errorf("Scopes: nil map")
		}
		if c.scopes != nil || c.scopeFunc != nil {
			return errorf("Scopes: scopes are already set")
		}
		c.scopes = make(map[string][]string, len(m))
		for id, s := range m {
			for _, scope := range s {
				if scope == "" {
					return errorf("Scopes: empty scope for %q", id)
				}
			}
			c.scopes[id] = append([]string(nil), s...)
		}
		return nil
	}
}

// ScopeFunc sets the function that returns the scopes of an identity. It is
// called once per connection, when the connection's certificate is first
// authenticated; the connection's later calls reuse its answer until the
// trust bundle is replaced (by every successful [Authenticator.ReloadBundle],
// and by [Authenticator.Watch] when the file changed) or
// [Authenticator.ForgetScopes] is called: call ForgetScopes when what it
// answers changes. (It may also be called again for a connection whose
// remembered answer was evicted, beyond 4096 open connections.) It is called
// concurrently and must be fast; its result is copied. At most one of
// [Scopes] and ScopeFunc may be given.
func ScopeFunc(f func(identity string) []string) Option {
	return func(c *config) error {
		if f == nil {
			return errorf("ScopeFunc: nil function")
		}
		if c.scopes != nil || c.scopeFunc != nil {
			return errorf("ScopeFunc: scopes are already set")
		}
		c.scopeFunc = f
		return nil
	}
}

// Bundle sets a fixed trust bundle: the CAs client certificates must chain
// to. The pool is cloned. Exactly one of Bundle and [BundleFile] is
// required.
func Bundle(pool *x509.CertPool) Option {
	return func(c *config) error {
		if pool == nil {
			return errorf("Bundle: nil pool")
		}
		if c.pool != nil || c.bundleFile != "" {
			return errorf("Bundle: a bundle is already set")
		}
		c.pool = pool.Clone()
		return nil
	}
}

// BundleFile reads the trust bundle from path: a PEM file of CA
// certificates, and nothing else, of at most [MaxBundleSize] bytes. It is
// read by [New], again by [Authenticator.ReloadBundle], and polled by
// [Authenticator.Watch]. Exactly one of [Bundle] and BundleFile is required.
func BundleFile(path string) Option {
	return func(c *config) error {
		if path == "" {
			return errorf("BundleFile: empty path")
		}
		if c.pool != nil || c.bundleFile != "" {
			return errorf("BundleFile: a bundle is already set")
		}
		c.bundleFile = path
		return nil
	}
}

// Clock sets the one clock of this authenticator's decisions: the time
// certificates are verified at, and, through [Authenticator.Now], the time
// an enforcer ends the streams they open. For tests.
func Clock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errorf("Clock: nil")
		}
		c.now, c.clock = now, now
		return nil
	}
}
