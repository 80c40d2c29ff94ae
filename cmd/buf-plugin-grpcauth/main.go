// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// buf-plugin-grpcauth is a buf check plugin: buf lint (and editors with the
// buf language server) report with it what protoc-gen-go-grpcauth would
// refuse to generate, at the option that holds the problem. The checks are
// the generator's own code.
//
// # Install
//
//	go install github.com/grpcauth/protoc-gen-go-grpcauth/cmd/buf-plugin-grpcauth@v0.1.0
//
// # Configure
//
// In buf.yaml (version v2):
//
//	plugins:
//	  - plugin: buf-plugin-grpcauth
//	lint:
//	  use:
//	    - STANDARD
//	    - GRPCAUTH
//
// GRPCAUTH is the category of all three rules; each can be used or excepted
// by its id:
//
//	GRPCAUTH_METHOD_HAS_RULE    every method has an effective rule (its own, its
//	                            service's or its file's) or is public with a reason
//	GRPCAUTH_RULE_CONSISTENT    no contradiction: public with requirements or a
//	                            condition, public without a reason, empty or repeated
//	                            credential kinds or scopes, unknown values
//	GRPCAUTH_CONDITION_VALID    the condition parses and type-checks against the
//	                            method's request and grpcauth.v1.Principal, is a bool,
//	                            uses request only where there is one, and gives
//	                            matches() literal patterns; the message ends with
//	                            the line and column in the expression
//
// A file generated with unannotated=deny has no use for
// GRPCAUTH_METHOD_HAS_RULE: set the option
//
//	plugins:
//	  - plugin: buf-plugin-grpcauth
//	    options:
//	      unannotated: deny
//
// and the rule reports nothing, as generation would.
//
// A problem is reported at the option that holds it: a condition of a
// service that does not type-check for one of its methods is reported at
// the service's option, with the method's name:
//
//	library/v1/library.proto:8:3:library.v1.LibraryService.List: condition: undefined field 'shelf' (1:8) (buf-plugin-grpcauth)
package main

import (
	"context"
	"fmt"

	"buf.build/go/bufplugin/check"
	"buf.build/go/bufplugin/descriptor"
	"buf.build/go/bufplugin/option"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/grpcauth/protoc-gen-go-grpcauth/cmd/protoc-gen-go-grpcauth/generator"
)

func main() { check.Main(spec) }

const category = "GRPCAUTH"

var spec = &check.Spec{
	Rules: []*check.RuleSpec{
		rule(generator.CheckMethodHasRule, "Checks that every method has an auth rule (its own, its service's or its file's) or is public with a reason."),
		rule(generator.CheckRuleConsistent, "Checks that auth rules do not contradict themselves or what they inherit."),
		rule(generator.CheckConditionValid, "Checks that auth conditions parse and type-check against the method's request and principal."),
	},
	Categories: []*check.CategorySpec{
		{ID: category, Purpose: "Checks the grpcauth.v1 auth options as protoc-gen-go-grpcauth does."},
	},
	Before: analyze,
}

func rule(id, purpose string) *check.RuleSpec {
	return &check.RuleSpec{
		ID:          id,
		CategoryIDs: []string{category},
		Default:     true,
		Purpose:     purpose,
		Type:        check.RuleTypeLint,
		Handler:     check.RuleHandlerFunc(func(ctx context.Context, w check.ResponseWriter, _ check.Request) error { return report(ctx, w, id) }),
	}
}

type findingsKey struct{}

// analyze runs the generator's checks once per request, before the rules
// report their part of the findings.
func analyze(ctx context.Context, req check.Request) (context.Context, check.Request, error) {
	unannotated, err := option.GetStringValue(req.Options(), "unannotated")
	if err != nil {
		return nil, nil, err
	}
	parameter := ""
	switch unannotated {
	case "":
	case "error", "deny":
		parameter = "unannotated=" + unannotated
	default:
		return nil, nil, fmt.Errorf(`option unannotated %q: want "error" or "deny"`, unannotated)
	}
	findings, err := findingsOf(req.FileDescriptors(), parameter)
	if err != nil {
		return nil, nil, err
	}
	return context.WithValue(ctx, findingsKey{}, findings), req, nil
}

// findingsOf returns the generator's findings for the files that are not
// imports.
func findingsOf(files []descriptor.FileDescriptor, parameter string) ([]generator.Finding, error) {
	var protos []*descriptorpb.FileDescriptorProto
	var targets []string
	for _, f := range files {
		protos = append(protos, f.FileDescriptorProto())
		if !f.IsImport() {
			targets = append(targets, f.FileDescriptorProto().GetName())
		}
	}
	req, err := generator.AnalysisRequest(protos, targets, parameter)
	if err != nil {
		return nil, err
	}
	a, err := generator.Analyze(req)
	if err != nil {
		return nil, err
	}
	return a.Findings, nil
}

func report(ctx context.Context, w check.ResponseWriter, id string) error {
	findings, _ := ctx.Value(findingsKey{}).([]generator.Finding)
	for _, f := range findings {
		if f.Check == id {
			w.AddAnnotation(check.WithMessage(f.Error()), check.WithFileNameAndSourcePath(f.File, f.Path))
		}
	}
	return nil
}
