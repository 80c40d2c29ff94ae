// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// DefaultCacheSize is how many verified tokens are remembered unless
// [CacheSize] says otherwise.
const DefaultCacheSize = 10000

const cacheShards = 16

// verifiedCache remembers tokens whose signature and claims were verified,
// so that a token seen again costs a hash and a map lookup instead of a
// signature check. It is keyed by the token itself, so a hit is only ever
// for a byte-identical token (hashing each token with SHA-256 instead would
// cost more than the rest of a hit; the tokens are in the process's memory
// anyway while their calls run), holds only successes (a flood of bad tokens can neither evict good ones nor
// grow it), and is bounded in entries; each entry is bounded in size by
// MaxTokenSize. An entry is used only while the token has not expired and
// the key that verified it is still in the key set; what depends on the
// call (the method's scopes and condition, a certificate binding) is
// checked on every hit.
type verifiedCache struct {
	maxPerShard int
	seed        maphash.Seed
	shards      [cacheShards]cacheShard
	// hits is counted on one of several counters, each on a cache line
	// of its own, picked at random: a token served to many cores at once
	// would otherwise have them all write one counter on every call.
	hits [hitStripes]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

const hitStripes = 8

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]*cacheEntry
	// last is the entry last found in m, read without mu: a token
	// presented again and again (a client reusing its token from many
	// goroutines) is found without taking mu, whose reader count every
	// core would otherwise write on every call. It is cleared, under mu,
	// when its token's entry is dropped, replaced or evicted.
	last atomic.Pointer[cacheEntry]
	// Counted per shard, so that concurrent calls rarely share a counter.
	misses, evictions atomic.Uint64
	// The verifications in flight of tokens of this shard (flight.go), and
	// the misses that waited for one instead of verifying.
	flights   flightMap
	coalesced atomic.Uint64
}

type cacheEntry struct {
	token     string             // the token, as the map's key (the same bytes)
	principal *runtime.Principal // shared by every hit: never modified
	expiry    time.Time          // the token's exp
	kid       string
	key       *jose.JSONWebKey // the key that verified it
	// keys is a published key map (immutable) known to hold key under
	// kid, or nil: while the issuer's current map is this one, a hit needs
	// no look-up of the key.
	keys   *keyMap
	cnf    string  // the x5t#S256 the token is bound to, if any
	issuer *issuer // the issuer the token was routed to: its keys decide a hit
}

func newVerifiedCache(size int) *verifiedCache {
	if size <= 0 {
		return nil
	}
	per := (size + cacheShards - 1) / cacheShards
	c := &verifiedCache{maxPerShard: per, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*cacheEntry)
	}
	return c
}

// shard is token's shard, chosen by a seeded hash of its last 32 bytes
// (a JWT's signature, or all of a short token): hashing every byte of a
// long token twice, here and in the shard's map, costs more than the rest
// of a hit's choice, and the seed keeps a caller from choosing the shard.
func (c *verifiedCache) shard(token string) *cacheShard {
	return &c.shards[maphash.String(c.seed, token[len(token)-min(len(token), 32):])%cacheShards]
}

// get returns token's entry, if any, and its shard, where the caller counts
// the look-up as a hit or a miss.
func (c *verifiedCache) get(token string) (*cacheEntry, *cacheShard) {
	s := c.shard(token)
	if e := s.last.Load(); e != nil && e.token == token {
		return e, s
	}
	s.mu.RLock()
	e := s.m[token]
	s.mu.RUnlock()
	if e != nil && s.last.Load() != e {
		s.last.Store(e)
	}
	return e, s
}

// hit counts a look-up answered from the cache.
func (c *verifiedCache) hit() { c.hits[rand.Uint32()%hitStripes].n.Add(1) } //nolint:gosec // G404: picks a counter, guards nothing

// forget clears s.last if it is token's entry; s.mu is held.
func (s *cacheShard) forget(token string) {
	if e := s.last.Load(); e != nil && e.token == token {
		s.last.Store(nil)
	}
}

// put stores e, evicting from a full shard first an expired entry among a
// few sampled, else one of them (map iteration order is random).
func (c *verifiedCache) put(token string, e *cacheEntry, now time.Time) {
	s := c.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[token]; !ok && len(s.m) >= c.maxPerShard {
		victim, n, live := "", 0, true
		for k, v := range s.m {
			if !now.Before(v.expiry) {
				victim, live = k, false
				break
			}
			if n == 0 {
				victim = k
			}
			if n++; n == 8 {
				break
			}
		}
		delete(s.m, victim)
		s.forget(victim)
		if live {
			s.evictions.Add(1)
		}
	}
	s.forget(token) // a replaced entry
	e.token = token
	s.m[token] = e
}

func (c *verifiedCache) drop(token string) {
	s := c.shard(token)
	s.mu.Lock()
	delete(s.m, token)
	s.forget(token)
	s.mu.Unlock()
}

// stats sums the shards' counters.
func (c *verifiedCache) stats() runtime.CacheStats {
	st := runtime.CacheStats{Capacity: c.maxPerShard * cacheShards}
	for i := range c.hits {
		st.Hits += c.hits[i].n.Load()
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		st.Entries += len(s.m)
		s.mu.RUnlock()
		st.Misses += s.misses.Load()
		st.Evictions += s.evictions.Load()
		st.Coalesced += s.coalesced.Load()
	}
	return st
}

// len counts the entries, for tests and metrics.
func (c *verifiedCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return n
}
