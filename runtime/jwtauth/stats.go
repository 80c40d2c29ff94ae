// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import "github.com/grpcauth/protoc-gen-go-grpcauth/runtime"

// KeySetStats returns a snapshot of the key sets of every issuer,
// together: fetches and failed fetches of their JWKS since the
// authenticator was built, the usable keys in the sets in use, and when
// the oldest of those sets was fetched (zero when none was: static keys,
// or before the first good fetch), for metrics such as the age of the
// keys. Safe for concurrent use; it does not block.
func (a *Authenticator) KeySetStats() runtime.KeySetStats {
	var st runtime.KeySetStats
	for _, is := range a.issuers {
		ks := is.keys
		st.Fetches += count(ks.fetches.Load())
		st.FetchFailures += count(ks.failures.Load())
		if km := ks.current.Load(); km != nil {
			st.Keys += len(km.byKID) + len(km.noKID)
			if !km.fetchedAt.IsZero() && (st.FetchedAt.IsZero() || km.fetchedAt.Before(st.FetchedAt)) {
				st.FetchedAt = km.fetchedAt
			}
		}
	}
	return st
}

// count is a counter's value, never negative.
func count(n int64) uint64 {
	if n <= 0 {
		return 0
	}
	return uint64(n)
}
