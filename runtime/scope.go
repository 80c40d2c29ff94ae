// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import "errors"

// ErrMalformedScope is returned by [ParseScope] for a scope string that is
// not RFC 6749 §3.3's grammar.
var ErrMalformedScope = errors.New("grpcauth: malformed scope string")

// ParseScope splits a scope string as RFC 6749 §3.3 writes it: scope-tokens
// of the characters %x21 / %x23-5B / %x5D-7E, separated by exactly one
// space (%x20). It is strict: a tab, a doubled space, a leading or trailing
// space, a quote, a backslash, a control or non-ASCII byte is
// [ErrMalformedScope], never split leniently, so that a token cannot carry a
// scope that a different reader of the same claim would not see. The empty
// string holds no scopes. Authenticators use it for the "scope" claim of a
// JWT and the "scope" member of an introspection answer.
func ParseScope(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	n := 1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			if i == 0 || i == len(s)-1 || s[i-1] == ' ' {
				return nil, ErrMalformedScope
			}
			n++
		case c < 0x21 || c == '"' || c == '\\' || c > 0x7e:
			return nil, ErrMalformedScope
		}
	}
	out := make([]string, 0, n)
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:]), nil
}

// CacheStats is a snapshot of a cache's counters since it was built: the
// verified-token cache of runtime/jwtauth, the answer cache of
// runtime/introspection. Hits and misses count look-ups; evictions count
// entries dropped to make room (not those that expired); coalesced counts
// the misses that shared another call's verification of the same token.
type CacheStats struct {
	// Entries is the number of entries held now.
	Entries int
	// Capacity is the most entries the cache holds.
	Capacity int
	// Hits is the number of look-ups answered from the cache.
	Hits uint64
	// Misses is the number of look-ups the cache could not answer.
	Misses uint64
	// Evictions is the number of live entries dropped to make room.
	Evictions uint64
	// Coalesced is the number of misses that waited for the verification
	// (jwtauth) or introspection request (introspection) another call had
	// started for the same token, instead of starting their own: a burst of
	// n concurrent first calls of one token is n misses, n-1 of them
	// coalesced. Misses minus Coalesced is about how many verifications or
	// requests the misses started.
	Coalesced uint64
}
