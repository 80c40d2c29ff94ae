// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import "strings"

// CacheLen is the number of verified tokens remembered, for tests.
func CacheLen(a *Authenticator) int {
	if a.cache == nil {
		return 0
	}
	return a.cache.len()
}

// Canonical reports whether every dot-separated part of token is
// canonical base64url as the token parser decodes it, for the fuzz test.
func Canonical(token string) bool {
	for part := range strings.SplitSeq(token, ".") {
		if _, ok := decodeBase64URL(make([]byte, len(part)), part); !ok {
			return false
		}
	}
	return true
}

// Verifications counts the full verifications (verify runs) of tokens the
// cache did not answer, for tests.
func Verifications(a *Authenticator) uint64 { return a.verifications.Load() }

// SetFlights turns the sharing of a burst's verification on (the default)
// or off, for BenchmarkBurst's baseline. Call it before a is used.
func SetFlights(a *Authenticator, on bool) { a.noFlights = !on }

// Flights returns the verifications in flight and the most flights any
// shard's retained map has held (its memory), for tests.
func Flights(a *Authenticator) (inFlight, peak int) {
	if a.cache == nil {
		return 0, 0
	}
	for i := range a.cache.shards {
		fm := &a.cache.shards[i].flights
		fm.mu.Lock()
		inFlight += len(fm.m)
		peak = max(peak, fm.peak)
		fm.mu.Unlock()
	}
	return inFlight, peak
}
