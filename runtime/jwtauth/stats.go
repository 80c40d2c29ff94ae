// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import "github.com/grpcauth/protoc-gen-go-grpcauth/runtime"

// KeySetStats returns a snapshot of the key set: fetches and failed
// fetches of the JWKS since the authenticator was built, the usable keys
// in the set in use and when it was fetched (zero for [StaticKeys] and
// before the first good fetch), for metrics such as the age of the keys.
// Safe for concurrent use; it does not block.
func (a *Authenticator) KeySetStats() runtime.KeySetStats {
	st := runtime.KeySetStats{
		Fetches:       count(a.keys.fetches.Load()),
		FetchFailures: count(a.keys.failures.Load()),
	}
	if km := a.keys.current.Load(); km != nil {
		st.Keys = len(km.byKID) + len(km.noKID)
		st.FetchedAt = km.fetchedAt
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
