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
