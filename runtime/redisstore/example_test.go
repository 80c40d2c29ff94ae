// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package redisstore_test

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/redisstore"
)

// Each replica of a service builds its store on the same Redis; a token
// revoked on one is refused on all. (Not run: it needs a Redis server.)
func ExampleNewRevocations() {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: "redis:6379", DialTimeout: time.Second})
	store, err := redisstore.NewRevocations(client,
		redisstore.MaxStaleness(0), // the default: fail closed as soon as Redis is lost
	)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	if err := store.WaitSynced(ctx); err != nil { // before serving
		panic(err)
	}
	enf, err := runtime.NewEnforcer(runtime.WithRevocation(store)) // and runtime.WithJWT(...)
	if err != nil {
		panic(err)
	}
	_ = enf

	// On any replica, from an admin endpoint or the IdP's logout hook:
	err = store.RevokeToken(ctx, "https://issuer.example", "b6f1c2e0-token-id", time.Now().Add(10*time.Minute))
	_ = err // ErrUnavailable: held on this replica, written back to Redis later
}

// A fleet shares introspection answers, so that the authorization server
// is asked once per token. (Not run: it needs a Redis server.)
func ExampleNewIntrospectionCache() {
	client := redis.NewClient(&redis.Options{Addr: "redis:6379", DialTimeout: time.Second})
	cache, err := redisstore.NewIntrospectionCache(client, "")
	if err != nil {
		panic(err)
	}
	secret := make([]byte, 32) // the same on every replica, from your secret store
	_, _ = rand.Read(secret)
	oauth, err := introspection.New(
		introspection.Endpoint("https://as.example/oauth2/introspect"),
		introspection.ClientSecret("library-api", "…"),
		introspection.WithSharedCache(cache, secret),
	)
	if err != nil {
		panic(err)
	}
	_ = oauth
}
