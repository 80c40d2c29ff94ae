// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package redisstore_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/internal/redistest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/redisstore"
)

// TestSharedIntrospectionCache: two introspection authenticators (two
// replicas) on one Redis ask the endpoint once per token; the token never
// reaches Redis, the entry expires by the token's exp or CacheTTL, and a
// value changed in Redis is not used.
func TestSharedIntrospectionCache(t *testing.T) {
	addr := redistest.Addr(t)
	rc := redistest.Client(t, addr)
	prefix := redistest.Prefix(t, rc)
	in := authtest.NewIntrospector(t, "library-server", "s3cret")
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	replica := func() *introspection.Authenticator {
		cache, err := redisstore.NewIntrospectionCache(redistest.Client(t, addr), prefix)
		if err != nil {
			t.Fatal(err)
		}
		a, err := introspection.New(
			introspection.Endpoint(in.URL()),
			introspection.ClientSecret("library-server", "s3cret"),
			introspection.HTTPClient(in.HTTPClient()),
			introspection.CacheTTL(time.Minute),
			introspection.WithSharedCache(cache, secret),
		)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a, b := replica(), replica()
	short := in.Issue("erin", []string{"library.read"}, "library", 20*time.Second, nil)
	long := in.Issue("frank", []string{"library.read"}, "library", time.Hour, nil)
	for _, tok := range []string{short, long} {
		for _, r := range []*introspection.Authenticator{a, b, a, b} {
			if _, err := r.Authenticate(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := in.Requests(); n != 2 {
		t.Errorf("the endpoint was asked %d times for 2 tokens on 2 replicas; want 2", n)
	}
	if st := b.SharedCacheStats(); st.Hits != 2 {
		t.Errorf("b's shared cache stats = %+v", st)
	}
	// No token in Redis: not in a key, not in a value.
	dump := redistest.Dump(t, rc, prefix)
	if len(dump) != 4 {
		t.Fatalf("Redis holds %d strings under the prefix; want 2 keys and 2 values", len(dump))
	}
	for _, v := range dump {
		for _, tok := range []string{short, long} {
			if strings.Contains(v, tok) || strings.Contains(v, strings.TrimPrefix(tok, "opaque_")) {
				t.Fatal("Redis holds a token")
			}
		}
	}
	// Each entry expires by the earlier of exp and first use + CacheTTL.
	for _, k := range redistest.Keys(t, rc, prefix) {
		ttl := rc.PTTL(ctx, k).Val()
		if ttl <= 0 || ttl > time.Minute {
			t.Errorf("key %s: TTL %s; want at most CacheTTL", k, ttl)
		}
	}
	// A value changed in Redis is not used: the endpoint decides.
	fresh := in.Issue("gina", []string{"library.read"}, "library", time.Hour, nil)
	if _, err := a.Authenticate(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	for _, k := range redistest.Keys(t, rc, prefix) {
		v, _ := rc.Get(ctx, k).Bytes()
		if bytes.Contains(v, []byte(`"gina"`)) {
			rc.Set(ctx, k, bytes.Replace(v, []byte(`"gina"`), []byte(`"root"`), 1), time.Minute)
		}
	}
	before := in.Requests()
	c := replica()
	p, err := c.Authenticate(ctx, fresh)
	if err != nil || p.Subject != "gina" || in.Requests() != before+1 {
		t.Errorf("a changed value: subject %v, err %v, endpoint asked %d more times; want gina from the endpoint", p, err, in.Requests()-before)
	}
}
