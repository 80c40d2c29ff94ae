// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package gatewayauth enforces the generated rules on calls that
// grpc-gateway v2 serves in process: a ServeMux with handlers registered by
// the generated RegisterXxxHandlerServer, which calls the server's methods
// directly, with no gRPC interceptor and no gRPC peer. Register the
// generated typed wrapper there; it decides every call:
//
//	mux := gwruntime.NewServeMux(gatewayauth.ServeMuxOption())
//	err := librarygw.RegisterLibraryServiceHandlerServer(ctx, mux,
//		libraryv1.NewLibraryServiceServerWithAuth(impl, enf))
//
// What the wrapper cannot see it is told, never left to guess:
// [ServeMuxOption] hands every request's connection to it
// (runtime.HTTPConnection: r.TLS and its verified client certificate, the
// peer address and the listener for the enforcer's trusted proxies, and the
// request's headers). Without the option the wrapper sees a plaintext call
// from nowhere: TLS_REQUIRED methods and bearer tokens are refused with
// TRANSPORT_INSECURE, as they would be for any plaintext peer.
//
// Credentials are read from the request's own headers, not from the
// metadata the gateway makes of them: Authorization, X-Api-Key and their
// Grpc-Metadata- forms are one credential each, so Authorization beside
// Grpc-Metadata-Authorization, or Grpc-Metadata-X-Api-Key beside a bearer
// token, is two credentials and CREDENTIALS_MALFORMED, never "first one
// wins" — also when the gateway would drop one of them (a value that is not
// valid gRPC metadata). Metadata that holds a credential no header carries
// (a custom header matcher that maps another header onto authorization) is
// refused too. X-Forwarded-Client-Cert is read from the request, from a
// trusted proxy only; in metadata (Grpc-Metadata-X-Forwarded-Client-Cert)
// it is refused.
//
// The gateway decodes the request body before it calls the wrapper: a body
// that is not the method's JSON is answered 400 before any decision.
// Validation (protovalidate, protoc-gen-validate) belongs in the handler or
// a server wrapped by the typed wrapper, so that it runs after the
// decision. Denials reach the HTTP caller through the mux's error handler:
// the default one answers 401 for UNAUTHENTICATED, 403 for
// PERMISSION_DENIED and 503 for UNAVAILABLE, with the google.rpc.Status as
// JSON, the google.rpc.ErrorInfo (reason, domain grpcauth.v1, metadata)
// among its details. A path the mux does not map is 404 and reaches no
// handler. grpc-gateway serves no streams in process.
package gatewayauth

import (
	"net/http"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// ServeMuxOption returns the ServeMux option that hands every request's
// connection to the enforcer ([Middleware]).
func ServeMuxOption() gwruntime.ServeMuxOption {
	return gwruntime.WithMiddlewares(Middleware)
}

// Middleware is the grpc-gateway middleware of [ServeMuxOption]: it puts
// runtime.HTTPConnection(r) into the request's context, which the gateway
// hands to the server it calls. Put it first when a mux has several:
// middleware that rewrites r.RemoteAddr or the credential headers before it
// changes what the enforcer decides on.
func Middleware(next gwruntime.HandlerFunc) gwruntime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		next(w, r.WithContext(runtime.WithConnection(r.Context(), runtime.HTTPConnection(r))), pathParams)
	}
}
