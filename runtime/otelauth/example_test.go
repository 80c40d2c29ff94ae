// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package otelauth_test

import (
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/grpc"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/otelauth"
)

// Metrics and span events for a server and its clients.
func ExampleNew() {
	iss, err := authtest.StartIssuer(authtest.DefaultAudience("library"))
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	jwt, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.StaticJWKS(iss.JWKS())))
	if err != nil {
		panic(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))

	tel, err := otelauth.New(otelauth.WithMeterProvider(mp))
	if err != nil {
		panic(err)
	}
	if err := tel.ObserveAuthenticator("jwt", jwt); err != nil {
		panic(err)
	}
	enf, err := runtime.NewEnforcer(runtime.WithJWT(jwt), runtime.WithObserver(tel))
	if err != nil {
		panic(err)
	}
	// otelgrpc's stats handler makes the span each decision is recorded on.
	s := grpc.NewServer(grpc.StatsHandler(otelgrpc.NewServerHandler()))
	creds := &runtime.ClientCredentials{Observer: tel, Logger: nil}

	fmt.Println(enf != nil, s != nil, creds.Observer != nil)
	// Output: true true true
}
