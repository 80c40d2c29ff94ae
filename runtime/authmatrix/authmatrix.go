// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package authmatrix is the auth matrix of a service: for every method, the
// calls that must be allowed and the calls that must be denied, with which
// reason. protoc-gen-go-grpcauth generates one per service with the
// parameter matrix=true (XxxAuthMatrix, in <file>_grpcauth_matrix.pb.go),
// from the same rules as the service's rule table; authtest.RunMatrix
// drives every case through real calls against a server, in a test.
//
// It holds data only and imports only package runtime, so that generated
// code can declare a matrix without linking a test kit.
package authmatrix

import "github.com/grpcauth/protoc-gen-go-grpcauth/runtime"

// Service is the matrix of one service.
type Service struct {
	// Name is the service's full proto name: "library.v1.LibraryService".
	Name string
	// Methods holds every method of the service, in declaration order.
	Methods []Method
}

// MethodType is how a method streams.
type MethodType uint8

// The method types.
const (
	Unary MethodType = iota
	ServerStreaming
	ClientStreaming
	BidiStreaming
)

func (t MethodType) String() string {
	switch t {
	case ServerStreaming:
		return "server streaming"
	case ClientStreaming:
		return "client streaming"
	case BidiStreaming:
		return "bidi streaming"
	}
	return "unary"
}

// Method is the matrix of one method.
type Method struct {
	// FullMethod is the method as gRPC names it: "/library.v1.LibraryService/GetBook".
	FullMethod string
	// Type is how it streams.
	Type MethodType
	// NewRequest and NewResponse return an empty request and response
	// message of the method's types, for calling it generically.
	NewRequest, NewResponse func() any
	// Condition is true when the method's rule has a condition. The matrix
	// cannot know a request (or claims) that satisfies it: an allowed case
	// of such a method also passes when the call is denied with
	// CONDITION_FAILED, which the enforcer decides only once a requirement
	// is met. The condition's own cases are the user's tests.
	Condition bool
	// Cases are the calls to make.
	Cases []Case
}

// Transport is the connection a case calls over.
type Transport uint8

// The transports.
const (
	// TLS is a TLS connection (with the case's client certificate for
	// MTLS).
	TLS Transport = iota
	// Plaintext is a connection without TLS.
	Plaintext
)

func (t Transport) String() string {
	if t == Plaintext {
		return "plaintext"
	}
	return "TLS"
}

// Case is one call and its expected outcome.
type Case struct {
	// Name says what the case is, such as "BEARER_JWT without scope library.admin".
	Name string
	// Credential is the kind of credential sent; runtime.NoCredential for
	// none.
	Credential runtime.CredentialKind
	// Scopes are the scopes the credential holds.
	Scopes []string
	// EndUser is the kind of an end user's bearer token sent beside the
	// credential (then a workload's: an API key or a client certificate),
	// holding EndUserScopes; runtime.NoCredential for none.
	EndUser       runtime.CredentialKind
	EndUserScopes []string
	// Transport is the connection the call is made over.
	Transport Transport
	// Want is the reason the call must be denied with (its status code is
	// Want.Code()), or "" when the call must be allowed: when the handler
	// runs, whatever it answers.
	Want runtime.Reason
}
