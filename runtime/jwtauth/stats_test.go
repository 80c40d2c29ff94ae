// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	grpcauth "github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// TestStats: the cache counts hits, misses and evictions of live entries;
// the key set counts fetches and failures and says when it was fetched.
func TestStats(t *testing.T) {
	clk := newClock()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"), authtest.IssuerClock(clk.Now))
	a := cachedAuth(t, iss, clk, jwtauth.CacheSize(16), jwtauth.RefreshInterval(time.Minute))
	if st := a.KeySetStats(); st.Fetches != 0 || !st.FetchedAt.IsZero() {
		t.Errorf("before any call: %+v", st)
	}
	ctx := context.Background()
	tok := iss.Mint()
	for range 3 {
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	// 16 entries fit (one per shard at most): fill past it with distinct tokens.
	for i := range 64 {
		if _, err := a.Authenticate(ctx, iss.Mint(authtest.Claim("n", i))); err != nil {
			t.Fatal(err)
		}
	}
	st := a.CacheStats()
	if st.Hits != 2 || st.Misses != 65 || st.Capacity != 16 || st.Entries > 16 || st.Entries == 0 || st.Evictions == 0 || uint64(st.Entries)+st.Evictions != 65 {
		t.Errorf("cache stats = %+v; want 2 hits, 65 misses, entries+evictions = 65", st)
	}
	ks := a.KeySetStats()
	if ks.Fetches != 1 || ks.FetchFailures != 0 || ks.Keys != 3 || !ks.FetchedAt.Equal(clk.Now()) {
		t.Errorf("key stats = %+v; want one fetch now of the issuer's keys", ks)
	}
	// A failed refresh is counted; the set in use keeps its time.
	fetchedAt := ks.FetchedAt
	iss.FailJWKS(http.StatusInternalServerError)
	clk.Advance(2 * time.Minute)
	if _, err := a.Authenticate(ctx, iss.Mint(authtest.Claim("n", "new"))); err != nil {
		t.Fatal(err) // the stale keys are still used
	}
	waitFor(t, func() bool { return a.KeySetStats().FetchFailures == 1 })
	if ks := a.KeySetStats(); ks.Fetches != 2 || !ks.FetchedAt.Equal(fetchedAt) {
		t.Errorf("after a failed refresh: %+v", ks)
	}
	if st := newAuth(t, iss, jwtauth.CacheSize(0)).CacheStats(); st != (grpcauth.CacheStats{}) {
		t.Errorf("cache off: %+v", st)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met in 5s")
}
