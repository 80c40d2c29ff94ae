// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// grpcauth-check compares the effective auth rules of two versions of a
// set of services and fails on every change that lets a call through that
// was refused before: a loosening. It reads the manifests that
// protoc-gen-go-grpcauth writes with the parameter manifest=true, or
// computes them from a buf image of the protos:
//
//	grpcauth-check -against-git origin/main gen
//	grpcauth-check -against old.binpb new.binpb
//
// # Install
//
//	go install github.com/grpcauth/protoc-gen-go-grpcauth/cmd/grpcauth-check@v0.1.0
//
// # Inputs
//
// The input (the new side) and the -against input (the old side) are each
//
//	DIR          every *_grpcauth.manifest.json under the folder DIR
//	FILE         a buf image, binary (buf build -o FILE.binpb), or a
//	             FileDescriptorSet with its imports (protoc --include_imports
//	             --descriptor_set_out=FILE): the manifests are computed from
//	             its protos by the generator, as buf generate would
//
// or, for the old side, the same folder at a git commit:
//
//	-against-git REF     the manifests under DIR at REF (read with git, as
//	                     git show REF:DIR/... prints them)
//
// buf builds an image of any commit, as buf breaking --against takes one:
//
//	buf build -o new.binpb
//	buf build '.git#ref=HEAD~1' -o old.binpb
//	grpcauth-check -against old.binpb new.binpb
//
// # Loosenings
//
// Each is reported with the method and what changed, and fails the check:
//
//	MADE_PUBLIC            a method became public
//	REQUIREMENT_ADDED      a new alternative lets in callers no old one did
//	CREDENTIAL_KIND_ADDED  a requirement accepts another credential kind
//	SCOPE_REMOVED          a requirement no longer needs a scope
//	CONDITION_REMOVED      the condition is gone
//	CONDITION_CHANGED      the condition is another expression
//	TLS_REQUIRED_LIFTED    plaintext calls are accepted
//	DECLARED               an undeclared method (unannotated=deny: every call
//	                       denied) got requirements
//	PUBLIC_METHOD_ADDED    a new method is public
//	DRY_RUN_ENABLED        a rule is in dry-run (reserved: dry-run does not
//	DRY_RUN_METHOD_ADDED   exist yet; manifests say "dry_run": false)
//	AUTHENTICATION_MADE_OPTIONAL
//	                       calls without a credential are allowed
//	OPTIONAL_METHOD_ADDED  a new method is callable without a credential
//	END_USER_KIND_ADDED    a requirement with on_behalf_of accepts another
//	                       kind of end-user token
//	END_USER_SCOPE_REMOVED a requirement with on_behalf_of no longer needs a
//	                       scope of the end user
//	CERTIFICATE_UNPAIRED   no requirement takes a client certificate on behalf
//	                       of an end user any more: a token over a connection
//	                       with a certificate is decided alone, and passes
//	                       where the pair was refused
//
// Requirements have no names: they are matched as sets of kinds and scopes
// (a requirement with on_behalf_of by its workload's and its end user's),
// and a rewrite that lets in nobody new (a requirement split in two, one
// another already covers) is REQUIREMENTS_REWRITTEN, not a loosening.
// Tightenings are listed apart (PUBLIC_REMOVED, REQUIREMENT_REMOVED,
// CREDENTIAL_KIND_REMOVED, SCOPE_ADDED, CONDITION_ADDED, TLS_REQUIRED_ADDED,
// MADE_UNDECLARED, DRY_RUN_DISABLED, AUTHENTICATION_MADE_REQUIRED,
// END_USER_KIND_REMOVED, END_USER_SCOPE_ADDED, CERTIFICATE_PAIRED), and so
// are other changes
// (METHOD_ADDED with a rule, METHOD_REMOVED, PUBLIC_REASON_CHANGED,
// REQUIREMENTS_REWRITTEN). Methods are matched by full name, in whatever
// file they are. Each change is one line:
//
//	loosening: library.v1.LibraryService.GetBook: SCOPE_REMOVED "library.read": requirement ... no longer needs library.read
//
// # Accepting a loosening
//
// An intended loosening is accepted by an entry in an allow file, checked
// into the repository and passed with -accept, so that the acceptance is a
// reviewed line in the same pull request:
//
//	{
//	  "accept": [
//	    {
//	      "method": "library.v1.LibraryService.GetBook",
//	      "change": "SCOPE_REMOVED",
//	      "detail": "library.read",
//	      "reason": "reading is open to every signed-in user (ticket 42)"
//	    }
//	  ]
//	}
//
// "detail" is optional: the quoted text after the change kind. "reason" is
// required. An entry that accepts nothing is listed as unused: empty the
// file once the change has landed.
//
// # Flags
//
//	-against INPUT       the old side: a folder of manifests or an image
//	-against-git REF     the old side: the input folder at commit REF
//	-accept FILE         the allow file
//	-unannotated deny    for images: generate as with unannotated=deny
//	-help                print this manual and exit
//	-version             print the version and exit
//
// # Exit codes
//
//	0   no loosening, or every one accepted
//	1   a loosening not accepted
//	2   wrong arguments, or an input that cannot be read
//	3   nothing to compare against: REF is not in this clone (a first
//	    commit, a shallow clone) or holds no manifests under the folder
package main

import (
	"context"
	"os"

	"github.com/grpcauth/protoc-gen-go-grpcauth/cmd/grpcauth-check/loosening"
)

func main() {
	os.Exit(loosening.Run(context.Background(), loosening.Env{
		Args:   os.Args[1:],
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}))
}
