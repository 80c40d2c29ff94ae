// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package redisstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/revocation"
)

// Defaults of the options.
const (
	// DefaultPrefix starts every key and the channel. Its hash tag keeps
	// the keys in one Redis Cluster slot, as the scripts need.
	DefaultPrefix = "grpcauth:{revocations}:"
	// DefaultHealthCheckInterval is how often a silent subscription is
	// pinged: a lost one is noticed within twice this.
	DefaultHealthCheckInterval = time.Second
	// DefaultResyncInterval is how often the mirror is reloaded from
	// Redis while the subscription is up, as a safety net.
	DefaultResyncInterval = 5 * time.Minute
	// DefaultTimeout bounds each Redis operation of a resync or a write.
	DefaultTimeout = 5 * time.Second
)

// ErrInvalidOption is wrapped by every error the constructors return.
var ErrInvalidOption = errors.New("redisstore: invalid option")

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// Option configures [NewRevocations].
type Option func(*config) error

type config struct {
	prefix       string
	maxStaleness time.Duration
	health       time.Duration
	resync       time.Duration
	timeout      time.Duration
	grace        time.Duration
	retention    time.Duration
	maxEntries   int
	logger       *slog.Logger
}

// Prefix sets what every key and the channel start with (default
// [DefaultPrefix]). Replicas that share revocations use the same prefix;
// for Redis Cluster it must hold a hash tag ({...}).
func Prefix(p string) Option {
	return func(c *config) error {
		if p == "" {
			return errorf("Prefix: empty")
		}
		c.prefix = p
		return nil
	}
}

// MaxStaleness sets how long the mirror keeps answering once it has lost
// Redis (its subscription, or a resync failed), counted from the last time
// it was known to be current. 0, the default, fails closed as soon as the
// loss is noticed: every JWT call is refused with UNAVAILABLE
// AUTH_BACKEND_UNAVAILABLE until the mirror is in sync again. A positive d
// serves from the mirror for up to d (revocations made elsewhere meanwhile
// are not seen), then fails closed.
func MaxStaleness(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errorf("MaxStaleness: %s is negative", d)
		}
		c.maxStaleness = d
		return nil
	}
}

// HealthCheckInterval sets how long the subscription may be silent before
// it is pinged (default [DefaultHealthCheckInterval]); a ping unanswered
// for as long again loses it. A lost subscription is noticed within twice
// this.
func HealthCheckInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 10*time.Millisecond {
			return errorf("HealthCheckInterval: %s is under 10ms", d)
		}
		c.health = d
		return nil
	}
}

// ResyncInterval sets how often the mirror is reloaded from Redis while
// the subscription is up (default [DefaultResyncInterval]): a safety net
// for a message lost without the subscription being lost.
func ResyncInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Second {
			return errorf("ResyncInterval: %s is under 1s", d)
		}
		c.resync = d
		return nil
	}
}

// Timeout bounds each Redis operation of a resync, a write-back and, when
// the caller's context has no earlier deadline, a revocation (default
// [DefaultTimeout]).
func Timeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errorf("Timeout: %s is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// Grace sets how long a token's entry outlives the token's exp (default
// revocation.DefaultGrace).
func Grace(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errorf("Grace: %s is negative", d)
		}
		c.grace = d
		return nil
	}
}

// SubjectRetention sets how long a subject's entry is kept after its time
// (default revocation.DefaultSubjectRetention): at least the longest
// lifetime of the issuer's tokens plus the verifier's leeway.
func SubjectRetention(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errorf("SubjectRetention: %s is not positive", d)
		}
		c.retention = d
		return nil
	}
}

// MaxEntries bounds the entries of the mirror (default
// revocation.DefaultMaxEntries). A mirror that cannot hold every entry in
// Redis fails closed.
func MaxEntries(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return errorf("MaxEntries: %d is under 1", n)
		}
		c.maxEntries = n
		return nil
	}
}

// Logger sets where the store logs losing and regaining Redis, failing
// closed, resyncs and write-backs (default slog.Default(); nil turns
// logging off).
func Logger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

func newConfig(opts []Option) (config, error) {
	cfg := config{
		prefix:     DefaultPrefix,
		health:     DefaultHealthCheckInterval,
		resync:     DefaultResyncInterval,
		timeout:    DefaultTimeout,
		grace:      revocation.DefaultGrace,
		retention:  revocation.DefaultSubjectRetention,
		maxEntries: revocation.DefaultMaxEntries,
		logger:     slog.Default(),
	}
	for _, o := range opts {
		if o == nil {
			return cfg, errorf("nil option")
		}
		if err := o(&cfg); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}
