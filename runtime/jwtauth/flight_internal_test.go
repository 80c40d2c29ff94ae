// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
)

// TestAdmitChecksTheCall: what a waiter checks on the verification a
// flight shares, at its own time: a token that expired since is refused
// without a verification; a key that left the set since makes the call
// verify alone, with the keys of now; a binding is the call's.
func TestAdmitChecksTheCall(t *testing.T) {
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	var ns atomic.Int64
	ns.Store(time.Now().UnixNano())
	a, err := New(Issuer(iss.URL(), Audience("library"), JWKSURL(iss.JWKSURL())), HTTPClient(iss.HTTPClient()),
		Clock(func() time.Time { return time.Unix(0, ns.Load()) }), Leeway(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := iss.Mint(authtest.Subject("alice"), authtest.ExpiresIn(time.Minute))
	_, e, err := a.verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}

	ns.Add(int64(time.Minute + time.Second))
	if p, err := a.admit(ctx, tok, e); p != nil || denialReason(err) != runtime.ReasonTokenExpired {
		t.Fatalf("expired by the waiter's time: got %+v, %v; want TOKEN_EXPIRED", p, err)
	}
	if n := a.verifications.Load(); n != 0 {
		t.Fatalf("%d verifications for an expired token", n)
	}
	ns.Add(-int64(time.Minute + time.Second))

	moved := *e
	moved.key = &jose.JSONWebKey{Key: e.key.Key, KeyID: e.key.KeyID, Algorithm: e.key.Algorithm, Use: e.key.Use} // not the key of the set now
	moved.keys = nil                                                                                             // verified against another set
	if p, err := a.admit(ctx, tok, &moved); err != nil || p.Subject != "alice" {
		t.Fatalf("key changed since: got %+v, %v; want alice, verified again", p, err)
	}
	if n := a.verifications.Load(); n != 1 {
		t.Fatalf("key changed since: %d verifications; want 1", n)
	}

	bound := *e
	bound.cnf = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	if p, err := a.admit(ctx, tok, &bound); p != nil || denialReason(err) != runtime.ReasonCredentialsInvalid {
		t.Fatalf("bound, on a call without the certificate: got %+v, %v; want CREDENTIALS_INVALID", p, err)
	}
	if p, err := a.admit(ctx, tok, e); err != nil || p != e.principal {
		t.Fatalf("usable: got %+v, %v; want the shared principal", p, err)
	}
}

func denialReason(err error) runtime.Reason {
	if e, ok := runtime.FromError(err); ok {
		return e.Reason
	}
	return ""
}

// TestThumbprintForm: a cnf x5t#S256 that no certificate can have is
// refused by its form, before any binding is checked.
func TestThumbprintForm(t *testing.T) {
	for _, s := range []string{"", "abc", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if err := checkConfirmation(context.Background(), map[string]any{"x5t#S256": s}); err == nil || err.Reason != runtime.ReasonCredentialsInvalid {
			t.Errorf("x5t#S256 %q: got %v; want CREDENTIALS_INVALID", s, err)
		}
	}
	if err := checkConfirmation(context.Background(), map[string]any{"x5t#S256": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}); err != nil {
		t.Errorf("a well-formed thumbprint: %v", err)
	}
}

// TestLastEntryForgotten: the entry a shard keeps for lock-free hits is
// never served once its token's entry is dropped, replaced or evicted.
func TestLastEntryForgotten(t *testing.T) {
	c := newVerifiedCache(cacheShards) // one entry per shard
	now := time.Now()
	e1, e2 := &cacheEntry{expiry: now.Add(time.Hour)}, &cacheEntry{expiry: now.Add(time.Hour)}
	c.put("tokA", e1, now)
	if got, _ := c.get("tokA"); got != e1 {
		t.Fatal("put, then get: not the entry put")
	}
	if got, _ := c.get("tokA"); got != e1 || c.shard("tokA").last.Load() != e1 {
		t.Fatal("a second get is not served by the shard's last entry")
	}
	c.drop("tokA")
	if got, _ := c.get("tokA"); got != nil {
		t.Fatal("a dropped token was served")
	}
	c.put("tokA", e1, now)
	c.get("tokA")
	c.put("tokA", e2, now)
	if got, _ := c.get("tokA"); got != e2 {
		t.Fatal("a replaced entry was served")
	}
	other := ""
	for i := 0; other == ""; i++ {
		if k := "tok" + strconv.Itoa(i); c.shard(k) == c.shard("tokA") {
			other = k
		}
	}
	c.put(other, e1, now) // the shard holds one: tokA is evicted
	if got, _ := c.get("tokA"); got != nil {
		t.Fatal("an evicted token was served")
	}
	if st := c.stats(); st.Entries != 1 {
		t.Fatalf("%d entries; want 1", st.Entries)
	}
}
