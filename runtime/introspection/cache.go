// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// cacheKey identifies a token at an endpoint without holding it: SHA-256
// over the endpoint URL, a NUL and the token.
type cacheKey [sha256.Size]byte

func newCacheKey(endpoint, token string) cacheKey {
	h := sha256.New()
	h.Write([]byte(endpoint))
	h.Write([]byte{0})
	h.Write([]byte(token))
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// entry is a cached successful introspection. It is never modified once
// stored.
type entry struct {
	resp  *response
	until time.Time // min(stored+TTL, exp): the entry is not used from then on
}

// evictionSample is how many entries an insertion into a full cache looks
// at to choose a victim.
const evictionSample = 8

// cache holds successful introspections only, so a flood of bad tokens
// cannot displace good ones. It is bounded; a full cache evicts, among a
// few entries taken at random, an expired one or else the one that ends
// first.
type cache struct {
	mu      sync.Mutex
	max     int
	entries map[cacheKey]*entry

	hits, misses, evictions atomic.Uint64
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[cacheKey]*entry)}
}

func (c *cache) get(k cacheKey) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[k]
}

func (c *cache) remove(k cacheKey, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[k] == e {
		delete(c.entries, k)
	}
}

func (c *cache) put(k cacheKey, e *entry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		c.evictLocked(now)
	}
	c.entries[k] = e
}

// evictLocked removes at least one entry. Go's map iteration starts at a
// random place, which makes the sample random enough.
func (c *cache) evictLocked(now time.Time) {
	var victim cacheKey
	var victimUntil time.Time
	n := 0
	for k, e := range c.entries {
		if !now.Before(e.until) {
			delete(c.entries, k) // expired: free, whatever else happens
			continue
		}
		if n == 0 || e.until.Before(victimUntil) {
			victim, victimUntil = k, e.until
		}
		n++
		if n == evictionSample {
			break
		}
	}
	if len(c.entries) >= c.max && n > 0 {
		delete(c.entries, victim)
		c.evictions.Add(1)
	}
}

func (c *cache) stats() runtime.CacheStats {
	return runtime.CacheStats{Entries: c.len(), Capacity: c.max, Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load()}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// flight is one introspection request that callers of the same token
// share.
type flight struct {
	done    chan struct{} // closed when resp and err are set
	waiters int           // callers that joined, for tests
	resp    *response
	err     error
}

// smallFlights is how many flights the map may have held and still be
// kept when it empties: maps do not shrink, so one that held more (a flood
// of distinct tokens) is dropped then.
const smallFlights = 8

// flights runs at most one request per cache key at a time. A flight lives
// as long as its request (at most [Timeout], and the shared cache's
// timeout before it), whether or not its callers still wait: an answer
// that comes after they left is cached for their next call.
type flights struct {
	mu   sync.Mutex
	m    map[cacheKey]*flight // nil when empty, or small
	peak int                  // the most flights m has held

	coalesced atomic.Uint64 // callers that joined a running flight
}

// join returns the flight of k, starting it with run when none is running.
// run's result is published before the flight ends, and after finish has
// run (finish stores into the cache, so a caller that comes after the
// flight is gone finds the entry).
func (fs *flights) join(k cacheKey, run func() (*response, error), finish func(*response, error)) *flight {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[k]; ok {
		f.waiters++
		fs.coalesced.Add(1)
		return f
	}
	if fs.m == nil {
		fs.m = make(map[cacheKey]*flight)
	}
	f := &flight{done: make(chan struct{}), waiters: 1}
	fs.m[k] = f
	fs.peak = max(fs.peak, len(fs.m))
	go func() {
		resp, err := run()
		finish(resp, err)
		fs.mu.Lock()
		f.resp, f.err = resp, err
		delete(fs.m, k)
		if len(fs.m) == 0 && fs.peak > smallFlights {
			fs.m, fs.peak = nil, 0
		}
		fs.mu.Unlock()
		close(f.done)
	}()
	return f
}

// held reports how many flights are running and the most any retained map
// of them has held, for tests.
func (fs *flights) held() (running, peak int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.m), fs.peak
}

// waiters reports how many callers wait on the flight of k, for tests.
func (fs *flights) waiters(k cacheKey) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[k]; ok {
		return f.waiters
	}
	return 0
}
