// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"

	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// keyMap is one fetched generation of keys, never modified once stored.
type keyMap struct {
	byKID     map[string]*jose.JSONWebKey
	noKID     []*jose.JSONWebKey // keys published without a kid
	refreshAt time.Time          // zero for a static set: never refreshed
	staleAt   time.Time          // after this the keys are not used
	fetchedAt time.Time          // zero for a static set
}

// keySource finds the key a token of one issuer names, fetching the
// issuer's JWKS (and, with discovery, its metadata) when needed.
type keySource struct {
	cfg         *issuerConfig
	client      *http.Client
	metadataURL *url.URL // with discovery

	// discovered is the last good answer of the metadata. Only fetch uses
	// it, and one fetch runs at a time.
	discovered *discovered

	current atomic.Pointer[keyMap]

	mu          sync.Mutex
	inflight    chan struct{} // closed when the running fetch ends
	lastAttempt time.Time
	lastErr     error

	fetches         atomic.Int64
	failures        atomic.Int64 // fetches that failed, for KeySetStats
	metadataFetches atomic.Int64

	// reported is the SHA-256 of the last set whose left-out keys were
	// logged. Only fetch uses it, and one fetch runs at a time.
	reported [sha256.Size]byte
}

var (
	errUnknownKID     = errors.New("no key with the token's kid")
	errNoKeys         = errors.New("no usable signing keys are known")
	errAmbiguousNoKID = errors.New("the token has no kid and the key set has more than one candidate key")
)

func newKeySource(cfg *issuerConfig) (*keySource, error) {
	ks := &keySource{cfg: cfg}
	if cfg.staticKeys != nil {
		km, err := staticKeyMap(cfg)
		if err != nil {
			return nil, err
		}
		ks.current.Store(km)
		return ks, nil
	}
	hc := cfg.httpClient
	if hc == nil {
		hc = &http.Client{}
	}
	copied := *hc
	copied.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		// Only to the origin of the URL asked for: the configured JWKS
		// URL, the metadata's, or the jwks_uri the metadata gave.
		if first := via[0].URL; req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
			return fmt.Errorf("redirect to another origin %s://%s refused", req.URL.Scheme, req.URL.Host)
		}
		return nil
	}
	ks.client = &copied
	if cfg.discovery != noDiscovery {
		u, err := metadataURL(cfg.issuer, cfg.discovery)
		if err != nil {
			return nil, errorf("Issuer %q: %w", cfg.issuer, err)
		}
		ks.metadataURL = u
	}
	return ks, nil
}

// lookup returns the key for kid, verifying alg against the key.
func (ks *keySource) lookup(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	km, err := ks.usable(ctx)
	if err != nil {
		return nil, err
	}
	if k, err := km.find(kid); err == nil || ks.cfg.staticKeys != nil {
		return k, err
	}
	// Unknown kid: the issuer may have rotated. Refresh once, rate-limited.
	// When no fetch may start, one may just have ended: read the keys again.
	if done := ks.refresh(); done != nil {
		if err := wait(ctx, done); err != nil {
			return nil, err
		}
	}
	return ks.current.Load().find(kid)
}

// keyFor is the key a token with kid verifies with, or nil; the same
// pointer for as long as the key stays published (see keepIdentity).
func (km *keyMap) keyFor(kid string) *jose.JSONWebKey {
	k, _ := km.find(kid)
	return k
}

// keepIdentity gives keys that were in old the pointers they had there, so
// that a refresh that changes nothing does not invalidate the verified-token
// cache, while a key that left the set no longer matches anything.
func (km *keyMap) keepIdentity(old *keyMap) {
	if old == nil {
		return
	}
	for kid, k := range km.byKID {
		if o, ok := old.byKID[kid]; ok && sameKey(o, k) {
			km.byKID[kid] = o
		}
	}
	for i, k := range km.noKID {
		for _, o := range old.noKID {
			if sameKey(o, k) {
				km.noKID[i] = o
			}
		}
	}
}

func sameKey(a, b *jose.JSONWebKey) bool {
	pk, ok := a.Key.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pk.Equal(b.Key) && a.KeyID == b.KeyID && a.Algorithm == b.Algorithm && a.Use == b.Use
}

func (km *keyMap) find(kid string) (*jose.JSONWebKey, error) {
	if kid == "" {
		if len(km.noKID) == 1 && len(km.byKID) == 0 {
			return km.noKID[0], nil
		}
		return nil, errAmbiguousNoKID
	}
	if k, ok := km.byKID[kid]; ok {
		return k, nil
	}
	return nil, errUnknownKID
}

// usable returns keys that may be used now, fetching when there are none
// or they are stale. Keys past their refresh time but within the staleness
// bound are used while a refresh runs in the background.
func (ks *keySource) usable(ctx context.Context) (*keyMap, error) {
	km := ks.current.Load()
	if ks.cfg.staticKeys != nil {
		return km, nil
	}
	now := ks.cfg.now()
	if km != nil && now.Before(km.refreshAt) {
		return km, nil
	}
	if km != nil && now.Before(km.staleAt) {
		ks.refresh() // in the background
		return km, nil
	}
	// No usable keys: wait for a fetch, unless one just failed.
	done := ks.refresh()
	if done == nil {
		// Rate-limited: a fetch failed, or one stored keys since km was read.
		if km := ks.current.Load(); km != nil && ks.cfg.now().Before(km.staleAt) {
			return km, nil
		}
		return nil, ks.backendErr()
	}
	if err := wait(ctx, done); err != nil {
		return nil, err
	}
	km = ks.current.Load()
	if km == nil || !ks.cfg.now().Before(km.staleAt) {
		return nil, ks.backendErr()
	}
	return km, nil
}

func (ks *keySource) backendErr() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.lastErr != nil {
		return &backendError{err: ks.lastErr}
	}
	return &backendError{err: errNoKeys}
}

// backendError is a failure to get keys, not a fault of the caller.
type backendError struct{ err error }

func (e *backendError) Error() string { return "jwks: " + e.err.Error() }
func (e *backendError) Unwrap() error { return e.err }

// refresh joins the running fetch or, when the rate limit allows, starts
// one, and returns a channel closed when that fetch ends; it returns nil when
// no fetch runs and none may start. The check and the start happen under
// one lock, so that at most one fetch runs at a time and none starts sooner
// than MinRefreshInterval after the last (except the first).
func (ks *keySource) refresh() chan struct{} {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.inflight != nil {
		return ks.inflight
	}
	if !ks.lastAttempt.IsZero() && ks.cfg.now().Sub(ks.lastAttempt) < ks.cfg.minRefreshInterval {
		return nil
	}
	done := make(chan struct{})
	ks.inflight = done
	ks.lastAttempt = ks.cfg.now()
	go func() {
		km, evicted, err := ks.fetch()
		ks.mu.Lock()
		if err != nil {
			ks.lastErr = err
			ks.failures.Add(1)
			if evicted != nil {
				ks.current.Store(evicted)
			}
		} else {
			ks.lastErr = nil
			ks.current.Store(km)
		}
		ks.inflight = nil
		ks.mu.Unlock()
		close(done)
	}()
	return done
}

// report logs the keys a fetched set left out, once per set: not again
// when the same set (by its digest) is fetched again. Lines name the kid,
// never the key.
func (ks *keySource) report(digest [sha256.Size]byte, skipped []skippedKey) {
	if digest == ks.reported {
		return
	}
	ks.reported = digest
	if ks.cfg.logger == nil {
		return
	}
	for _, s := range skipped {
		ks.cfg.logger.Log(context.Background(), s.level, "jwtauth: a key of the JWKS is not used", slog.String("issuer", ks.cfg.issuer),
			slog.String("kid", logKID(s.kid)), slog.Int("index", s.index), slog.String("problem", s.why))
	}
}

// logKID bounds a kid for the log: it comes from the issuer, not from a
// caller, but need not be short.
func logKID(kid string) string {
	const limit = 128
	if len(kid) > limit {
		return kid[:limit] + "..."
	}
	return kid
}

// wait waits for done or for ctx.
func wait(ctx context.Context, done chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetch gets and parses the JWKS. It is bounded by FetchTimeout and the
// body size cap, and runs detached from any caller so that one cancelled
// call does not fail the fetch others wait for. When the set is refused,
// evicted, if not nil, is the current key map without the keys the set
// shows to be compromised.
func (ks *keySource) fetch() (km, evicted *keyMap, err error) {
	ks.fetches.Add(1)
	jwksURL, err := ks.jwksURLNow()
	if err != nil {
		return nil, nil, err
	}
	body, err := ks.get(jwksURL, "application/jwk-set+json, application/json", DefaultMaxJWKSSize)
	if err != nil {
		return nil, nil, err
	}
	raws, err := parseJWKS(body)
	if err != nil {
		return nil, nil, fmt.Errorf("parse: %w", err)
	}
	km, skipped, leaked := buildKeyMap(raws, ks.cfg.algorithms)
	ks.report(sha256.Sum256(body), skipped)
	if len(km.byKID)+len(km.noKID) == 0 {
		// Failed as an empty set fails: the last good keys stay for
		// MaxStaleness, except those whose private half this set
		// publishes.
		return nil, ks.current.Load().withoutLeaked(leaked), errors.New("parse: the set has no usable signing key")
	}
	km.keepIdentity(ks.current.Load())
	now := ks.cfg.now()
	km.fetchedAt = now
	km.refreshAt = now.Add(ks.cfg.refreshInterval)
	km.staleAt = km.refreshAt.Add(ks.cfg.maxStaleness)
	return km, nil, nil
}
