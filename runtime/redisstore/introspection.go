// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
)

// DefaultIntrospectionPrefix starts the keys of an [IntrospectionCache].
const DefaultIntrospectionPrefix = "grpcauth:introspection:"

// IntrospectionCache is an introspection.SharedCache in Redis: one string
// per answer under the prefix and the key the authenticator gives (an
// HMAC digest, never the token), expiring when the answer stops being
// used. Give it to introspection.WithSharedCache. It is safe for
// concurrent use.
type IntrospectionCache struct {
	client redis.UniversalClient
	prefix string
}

var _ introspection.SharedCache = (*IntrospectionCache)(nil)

// NewIntrospectionCache returns a cache on client under prefix ("" for
// [DefaultIntrospectionPrefix]).
func NewIntrospectionCache(client redis.UniversalClient, prefix string) (*IntrospectionCache, error) {
	if client == nil {
		return nil, errorf("nil client")
	}
	if prefix == "" {
		prefix = DefaultIntrospectionPrefix
	}
	return &IntrospectionCache{client: client, prefix: prefix}, nil
}

// Get returns the value under key, or nil when there is none.
func (c *IntrospectionCache) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := c.client.Get(ctx, c.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return v, err
}

// Set stores value under key until until (PXAT). A value already due is
// not stored.
func (c *IntrospectionCache) Set(ctx context.Context, key string, value []byte, until time.Time) error {
	if !until.After(time.Now()) {
		return nil
	}
	return c.client.SetArgs(ctx, c.prefix+key, value, redis.SetArgs{ExpireAt: until}).Err()
}
