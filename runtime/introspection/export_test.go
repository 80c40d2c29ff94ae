// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection

// CacheLen returns how many introspections a caches.
func CacheLen(a *Authenticator) int { return a.len() }

// Waiters returns how many callers wait on the request in flight for token.
func Waiters(a *Authenticator, token string) int {
	return a.flights.waiters(newCacheKey(a.endpoint, token))
}

// CacheKey returns the cache key of token at a's endpoint.
func CacheKey(a *Authenticator, token string) [32]byte {
	return newCacheKey(a.endpoint, token)
}

// Flights returns how many introspection requests are in flight and the
// most flights the retained map has held (its memory), for tests.
func Flights(a *Authenticator) (running, peak int) { return a.flights.held() }
