// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// Verify tokens with a fixed public key read by the standard library, here
// from PEM, instead of fetching the issuer's JWKS.
func ExampleStaticKey() {
	iss, err := authtest.StartIssuer(authtest.DefaultAudience("library"))
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	der, err := x509.MarshalPKIXPublicKey(iss.PublicKey("es256-1"))
	if err != nil {
		panic(err)
	}
	published := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}) // as an issuer publishes it

	block, _ := pem.Decode(published)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes) // an *ecdsa.PublicKey on P-256
	if err != nil {
		panic(err)
	}
	a, err := jwtauth.New(
		jwtauth.Issuer("https://issuer.example",
			jwtauth.Audience("library"),
			jwtauth.StaticKey("es256-1", "ES256", pub),
			jwtauth.Algorithms("ES256")),
	)
	if err != nil {
		panic(err)
	}
	token := iss.Mint(authtest.IssuerClaim("https://issuer.example"), authtest.Algorithm("ES256"), authtest.Subject("alice"))
	p, err := a.Authenticate(context.Background(), token)
	if err != nil {
		panic(err)
	}
	fmt.Println("verified:", p.Subject)

	// A key that does not fit the algorithm is a setup error.
	_, err = jwtauth.New(jwtauth.Issuer("https://issuer.example", jwtauth.Audience("library"), jwtauth.StaticKey("es256-1", "ES384", pub)))
	fmt.Println(errors.Is(err, jwtauth.ErrInvalidOption), err)
	// Output:
	// verified: alice
	// true jwtauth: invalid option: Issuer "https://issuer.example": StaticKey: key "es256-1": alg "ES384" does not fit an ECDSA P-256 key
}
