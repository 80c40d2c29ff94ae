// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

// CacheLen is the number of verified tokens remembered, for tests.
func CacheLen(a *Authenticator) int {
	if a.cache == nil {
		return 0
	}
	return a.cache.len()
}

// Canonical exposes canonical to the fuzz test.
var Canonical = canonical
