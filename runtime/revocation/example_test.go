// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package revocation_test

import (
	"context"
	"fmt"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/revocation"
)

func ExampleMemory() {
	ctx := context.Background()
	iss := "https://issuer.example"
	store, err := revocation.NewMemory()
	if err != nil {
		panic(err)
	}
	enf, err := runtime.NewEnforcer(runtime.WithRevocation(store)) // and runtime.WithJWT(...)
	if err != nil {
		panic(err)
	}
	_ = enf

	// One stolen token, until its exp.
	exp := time.Now().Add(10 * time.Minute)
	if err := store.RevokeToken(ctx, iss, "b6f1c2e0-token-id", exp); err != nil {
		panic(err)
	}
	// Every token of alice issued until now ("log out everywhere").
	if err := store.RevokeSubject(ctx, iss, "alice", time.Now()); err != nil {
		panic(err)
	}

	stolen, _ := store.Revoked(iss, "bob", "b6f1c2e0-token-id", time.Now())
	older, _ := store.Revoked(iss, "alice", "another-id", time.Now().Add(-time.Hour))
	newer, _ := store.Revoked(iss, "alice", "a-third-id", time.Now().Add(time.Hour))
	fmt.Println(stolen, older, newer)
	// Output: true true false
}
