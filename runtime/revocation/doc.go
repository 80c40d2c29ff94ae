// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package revocation is the in-process JWT revocation store, [Memory]:
// the default [runtime.RevocationStore], for a single process (or for
// replicas that share one, as in tests and the demo). It needs nothing but
// Go. For a fleet of replicas use runtime/redisstore's Revocations, which
// shares revocations through Redis and mirrors them into a Memory on each
// replica.
//
//	store := revocation.NewMemory()
//	enf, err := runtime.NewEnforcer(runtime.WithJWT(jwt), runtime.WithRevocation(store))
//	...
//	err = store.RevokeToken(ctx, iss, jti, exp)             // one token, until its exp
//	err = store.RevokeSubject(ctx, iss, "alice", time.Now()) // alice's tokens issued until now
//
// # What it guarantees
//
// A revocation is enforced from the moment RevokeToken or RevokeSubject
// returns, on every call of every enforcer that uses the store. Entries
// are never evicted to make room: a full store refuses new revocations
// with [ErrFull] (and keeps enforcing the ones it has) rather than forget
// one. Entries are dropped when they can no longer matter: a token's at
// its exp plus [DefaultGrace]; a subject's at its time plus
// [DefaultSubjectRetention]. Memory is bounded by [MaxEntries]; an entry
// costs about 150 bytes with a 36-byte jti (measured: 145 bytes each for
// 100,000 revoked tokens, TestMemory100k), so 100,000 revocations take
// about 15 MB and the default bound of 1,000,000 about 150 MB.
//
// Revoked takes a read lock and one or two map lookups keyed by
// (issuer, ID) structs (no string is built), none at all while the store
// is empty, and never allocates.
package revocation
