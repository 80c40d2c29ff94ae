// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// protoc-gen-go-grpcauth is a protoc and buf plugin that turns the auth rules
// declared in .proto files with the grpcauth.v1 options into Go code that
// enforces them. It runs beside protoc-gen-go and protoc-gen-go-grpc and
// writes, for each .proto file with services, a file ending in
// "_grpcauth.pb.go" next to theirs, holding for each service:
//
//   - the effective rule of every method as a static table (XxxAuthRules),
//     computed here with inheritance file → service → method;
//   - RegisterXxxServerWithAuth, which registers a service so that every
//     call is decided before the request is decoded;
//   - NewXxxServerWithAuth, a typed XxxServer wrapper that decides every
//     unary and streaming call;
//   - NewXxxAuthClient, a typed XxxClient that attaches to each call a
//     credential its method accepts, refuses before sending when it holds
//     none, and refreshes tokens ahead of expiry.
//
// A rule's condition (CEL over `request` and `principal`) is parsed and
// type-checked here against the method's request message and
// grpcauth.v1.Principal; a typo fails generation with a position:
//
//	library.v1.LibraryService.DeleteBook: condition: undefined field 'shelff' (1:8)
//
// Generated files import github.com/grpcauth/protoc-gen-go-grpcauth/runtime/celcond
// only when one of their methods has a condition.
//
// Contradictions (public with requirements, empty credentials, repeated
// scopes …) and methods nobody declared a rule for are errors that name the
// element, such as
//
//	library.v1.LibraryService.GetBook: no auth rule: set (grpcauth.v1.method), …
//
// # Install
//
//	go install github.com/grpcauth/protoc-gen-go-grpcauth/cmd/protoc-gen-go-grpcauth@v0.1.0
//	go get github.com/grpcauth/protoc-gen-go-grpcauth@v0.1.0
//
// The first installs the plugin; the second, run in your module, requires
// the runtime that generated code links, at the same version: the plugin
// and the runtime are released together under one version.
//
// # The options
//
// Files that declare rules import "grpcauth/v1/auth.proto". The plugin
// carries that file and the two it imports, in the version it was built
// with, and writes them into a folder you name:
//
//	protoc-gen-go-grpcauth --export-options third_party/grpcauth
//
// which creates third_party/grpcauth/grpcauth/v1/{auth,rules,principal}.proto
// and third_party/grpcauth/buf.yaml. With protoc, pass
// -I third_party/grpcauth. With buf, list the folder as a module of your
// workspace's buf.yaml and generate only your own module:
//
//	version: v2
//	modules:
//	  - path: proto
//	  - path: third_party/grpcauth
//
// and in buf.gen.yaml, inputs: [{directory: proto}]. Export again after
// upgrading the plugin. A workspace can instead depend on the module
// published to the Buf Schema Registry: deps: [buf.build/grpcauth/grpcauth].
//
// # buf
//
// In buf.gen.yaml (version v2):
//
//	plugins:
//	  - local: protoc-gen-go
//	    out: gen
//	    opt: paths=source_relative
//	  - local: protoc-gen-go-grpc
//	    out: gen
//	    opt: paths=source_relative
//	  - local: protoc-gen-go-grpcauth
//	    out: gen
//	    opt: paths=source_relative
//
// # protoc
//
//	protoc -I . -I third_party/grpcauth \
//	  --go_out=gen --go_opt=paths=source_relative \
//	  --go-grpc_out=gen --go-grpc_opt=paths=source_relative \
//	  --go-grpcauth_out=gen --go-grpcauth_opt=paths=source_relative \
//	  library/v1/library.proto
//
// # Parameters
//
// Besides the parameters every protogen plugin takes (paths=source_relative,
// module=…, M…), it takes:
//
//	unannotated=error   (default) a method without an effective rule fails generation
//	unannotated=deny    such a method is generated with a rule that denies every
//	                    call (METHOD_NOT_DECLARED); never one that allows
//
//	manifest=true       also write, per .proto file with services, a JSON manifest
//	                    of every method's effective rule beside the generated code:
//	                    library/v1/library_grpcauth.manifest.json (schema
//	                    grpcauth.manifest.v1, in the README), for grpcauth-check
//	docs=markdown       also write, per .proto file with services, a Markdown
//	                    reference of who may call each method (kinds, scopes,
//	                    transport, condition, public reason, where declared):
//	                    library/v1/library_grpcauth.md
//	matrix=true         also write, per .proto file with services, the auth matrix
//	                    of each service (XxxAuthMatrix, in
//	                    library/v1/library_grpcauth_matrix.pb.go): per method,
//	                    the calls its rule allows and denies, for
//	                    authtest.RunMatrix to drive against a server in a test
//
// For example: --go-grpcauth_opt=unannotated=deny, or in buf.gen.yaml
// opt: [paths=source_relative, unannotated=deny].
//
// The generated code needs protoc-gen-go-grpc's generic stream types (the
// default since protoc-gen-go-grpc v1.4.0) and links
// github.com/grpcauth/protoc-gen-go-grpcauth/runtime.
//
// The generator is also a library: package
// github.com/grpcauth/protoc-gen-go-grpcauth/cmd/protoc-gen-go-grpcauth/generator
// runs the plugin over given arguments, standard input and output.
//
// # Flags
//
//	--version              print the plugin's version and exit
//	--help                 print this manual and exit
//	--export-options DIR   write the grpcauth.v1 options' .proto files and a
//	                       buf.yaml into DIR, and exit
package main

import (
	"context"
	"os"

	"github.com/grpcauth/protoc-gen-go-grpcauth/cmd/protoc-gen-go-grpcauth/generator"
)

func main() {
	os.Exit(generator.Run(context.Background(), generator.Env{
		Args:   os.Args[1:],
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}))
}
