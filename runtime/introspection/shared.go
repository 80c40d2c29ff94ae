// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"sync/atomic"
	"time"
)

// SharedCache is a second-level cache of introspection answers shared by
// the replicas of a service (runtime/redisstore's IntrospectionCache), so
// that a fleet asks the endpoint once per token rather than once per
// replica. The authenticator's own cache stays in front of it.
//
// Keys are HMAC-SHA256 digests of the endpoint and the token, never the
// token; values are answers the authenticator checked (active, not a
// refresh token, of the configured issuer and audience), with the time
// they stop being used — the earlier of the token's exp and first
// introspection plus CacheTTL — and a MAC that binds them to their key.
// Implementations must be safe for concurrent use. Get and Set are
// called with a context bounded by [SharedCacheTimeout], only when the
// authenticator's own cache has no answer; their failures are counted
// and the endpoint is asked instead: they never fail a call.
type SharedCache interface {
	// Get returns the value stored under key, or nil and no error when
	// there is none.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key until until, when it may be forgotten.
	Set(ctx context.Context, key string, value []byte, until time.Time) error
}

// DefaultSharedCacheTimeout bounds each Get and Set of a shared cache
// unless [SharedCacheTimeout] says otherwise.
const DefaultSharedCacheTimeout = 200 * time.Millisecond

// MinSharedCacheSecretSize is the shortest secret [WithSharedCache] takes.
const MinSharedCacheSecretSize = 32

// WithSharedCache puts c behind the authenticator's own cache (which must
// be on: CacheTTL above 0). secret, at least [MinSharedCacheSecretSize]
// random bytes shared by the replicas and kept out of the cache, keys the
// HMACs of the keys and the values: whoever reads the cache cannot test a
// guessed token against it, and whoever writes to it cannot make the
// authenticator accept an answer the endpoint never gave. A revocation at
// the authorization server is still seen within CacheTTL of the first
// introspection, fleet-wide.
func WithSharedCache(c SharedCache, secret []byte) Option {
	return func(cfg *config) error {
		if c == nil {
			return errorf("WithSharedCache: nil cache")
		}
		if len(secret) < MinSharedCacheSecretSize {
			return errorf("WithSharedCache: the secret has %d bytes; at least %d are needed", len(secret), MinSharedCacheSecretSize)
		}
		cfg.shared = c
		cfg.sharedSecret = append([]byte(nil), secret...)
		return nil
	}
}

// SharedCacheTimeout bounds each Get and Set of the shared cache (default
// [DefaultSharedCacheTimeout]).
func SharedCacheTimeout(d time.Duration) Option {
	return func(cfg *config) error {
		if d <= 0 {
			return errorf("SharedCacheTimeout: %s is not positive", d)
		}
		cfg.sharedTimeout = d
		return nil
	}
}

// SharedCacheStats counts what the shared cache did.
type SharedCacheStats struct {
	// Hits are answers taken from the shared cache; Misses, look-ups that
	// found none usable there.
	Hits, Misses int64
	// Stores are answers put in it.
	Stores int64
	// Errors are failed Gets and Sets; Rejected, values whose MAC or
	// form was wrong (written by something else than a replica with the
	// secret).
	Errors, Rejected int64
}

type sharedCounters struct {
	hits, misses, stores, errors, rejected atomic.Int64
}

// SharedCacheStats returns the shared cache's counters (all zero without
// one).
func (a *Authenticator) SharedCacheStats() SharedCacheStats {
	c := &a.sharedStats
	return SharedCacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Stores: c.stores.Load(), Errors: c.errors.Load(), Rejected: c.rejected.Load()}
}

// sharedKey is the shared cache's key of token: hex HMAC-SHA256 under the
// secret of the endpoint, a NUL and the token.
func (a *Authenticator) sharedKey(token string) string {
	m := hmac.New(sha256.New, a.cfg.sharedSecret)
	m.Write([]byte("grpcauth introspection key\x00"))
	m.Write([]byte(a.endpoint))
	m.Write([]byte{0})
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// A shared value is: MAC (32 bytes) ‖ until (8 bytes, unix ms, big
// endian) ‖ the answer's JSON object. The MAC is HMAC-SHA256 under the
// secret of a label, the key, until and the answer.
const sharedHeader = sha256.Size + 8

func (a *Authenticator) sharedMAC(key string, rest []byte) []byte {
	m := hmac.New(sha256.New, a.cfg.sharedSecret)
	m.Write([]byte("grpcauth introspection value\x00"))
	m.Write([]byte(key))
	m.Write([]byte{0})
	m.Write(rest)
	return m.Sum(nil)
}

// sharedGet returns the answer the shared cache holds for token, or nil.
// The caller checks it as it checks the endpoint's.
func (a *Authenticator) sharedGet(token string) *response {
	key := a.sharedKey(token)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.sharedTimeout)
	defer cancel()
	v, err := a.cfg.shared.Get(ctx, key)
	switch {
	case err != nil:
		a.sharedStats.errors.Add(1)
		return nil
	case v == nil:
		a.sharedStats.misses.Add(1)
		return nil
	case len(v) < sharedHeader || !hmac.Equal(v[:sha256.Size], a.sharedMAC(key, v[sha256.Size:])):
		a.sharedStats.rejected.Add(1)
		return nil
	}
	ms := binary.BigEndian.Uint64(v[sha256.Size:sharedHeader])
	if ms > math.MaxInt64 {
		a.sharedStats.rejected.Add(1)
		return nil
	}
	until := time.UnixMilli(int64(ms))
	now := a.cfg.now()
	if !now.Before(until) {
		a.sharedStats.misses.Add(1)
		return nil
	}
	r, err := parseResponse(v[sharedHeader:])
	if err != nil {
		a.sharedStats.rejected.Add(1)
		return nil
	}
	r.sharedUntil = until
	a.sharedStats.hits.Add(1)
	return r
}

// sharedSet puts a checked answer in the shared cache until until.
func (a *Authenticator) sharedSet(token string, r *response, until time.Time) {
	answer, err := json.Marshal(r.claims)
	if err != nil {
		a.sharedStats.errors.Add(1)
		return
	}
	key := a.sharedKey(token)
	v := make([]byte, sharedHeader, sharedHeader+len(answer))
	binary.BigEndian.PutUint64(v[sha256.Size:sharedHeader], uint64(until.UnixMilli()))
	v = append(v, answer...)
	copy(v, a.sharedMAC(key, v[sha256.Size:]))
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.sharedTimeout)
	defer cancel()
	if err := a.cfg.shared.Set(ctx, key, v, until); err != nil {
		a.sharedStats.errors.Add(1)
		return
	}
	a.sharedStats.stores.Add(1)
}
