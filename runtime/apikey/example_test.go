// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package apikey_test

import (
	"context"
	"fmt"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/apikey"
)

// Configure one client by the digest of its key, then authenticate the key
// a caller sends in x-api-key.
func Example() {
	// An operator makes a key with apikey.NewKey, gives it to the caller and
	// keeps only its digest. A fixed key keeps this example's output stable.
	const key = "gak_3q2-7wAAAAAexampleexampleexampleexample0"
	digest := apikey.Hash(key)
	fmt.Println(len(digest), "hex characters")

	store, err := apikey.New([]apikey.Client{
		{Name: "exporter", Scopes: []string{"library.read", "export"}, KeySHA256: []string{digest}},
	})
	if err != nil {
		panic(err)
	}

	p, err := store.Authenticate(context.Background(), key)
	fmt.Println(p.Kind, p.Subject, p.Scopes, err)

	_, err = store.Authenticate(context.Background(), "gak_not-a-key-of-anyone")
	fmt.Println(err)
	// Output:
	// 64 hex characters
	// API_KEY exporter [library.read export] <nil>
	// CREDENTIALS_INVALID: the API key is not valid
}
