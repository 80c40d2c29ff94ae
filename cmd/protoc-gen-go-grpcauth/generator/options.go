// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"fmt"
	"strings"
	"unicode"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	grpcauthv1 "github.com/grpcauth/protoc-gen-go-grpcauth/authoptions/grpcauth/v1"
)

// requirement is one alternative of an effective rule.
type requirement struct {
	kinds  []grpcauthv1.CredentialKind
	scopes []string
}

// effectiveRule is a method's rule after inheritance, as it is emitted.
type effectiveRule struct {
	public       bool
	publicReason string
	requirements []requirement
	tlsRequired  bool
	condition    string
	// conditionAtOpen: decided when a client- or bidi-stream opens.
	conditionAtOpen bool
	undeclared      bool
	// dryRun: would-be denials are reported, calls proceed.
	dryRun bool
	// source is the full name of the element the access was declared on;
	// transportSource and conditionSource that of the level that set the
	// transport and the condition ("" when none did).
	source          string
	transportSource string
	conditionSource string
	// conditionAt is where the condition was declared, for findings.
	conditionAt site
}

// fileRule, serviceRule and methodRule read the option of one kind of
// element; nil when the element has none. Errors do not name the element.
func fileRule(f *protogen.File) (*grpcauthv1.Rule, error) {
	return readRule(f.Desc.Options(), grpcauthv1.E_File)
}

func serviceRule(s *protogen.Service) (*grpcauthv1.Rule, error) {
	return readRule(s.Desc.Options(), grpcauthv1.E_Service)
}

func methodRule(m *protogen.Method) (*grpcauthv1.Rule, error) {
	return readRule(m.Desc.Options(), grpcauthv1.E_Method)
}

func readRule(opts protoreflect.ProtoMessage, xt protoreflect.ExtensionType) (*grpcauthv1.Rule, error) {
	if opts == nil || !proto.HasExtension(opts, xt) {
		return nil, nil
	}
	r, ok := proto.GetExtension(opts, xt).(*grpcauthv1.Rule)
	if !ok {
		return nil, fmt.Errorf("option (%s) is not a grpcauth.v1.Rule", xt.TypeDescriptor().FullName())
	}
	return r, nil
}

// validateRule checks one level's rule on its own. at is where the rule is
// declared: its element names the proto element in the findings.
func validateRule(at site, r *grpcauthv1.Rule) []Finding {
	if r == nil {
		return nil
	}
	var out []Finding
	fail := func(format string, args ...any) {
		out = append(out, at.finding(CheckRuleConsistent, format, args...))
	}
	if r.Public != nil {
		if len(r.GetRequirements()) > 0 {
			fail("public cannot be combined with requirements")
		}
		if strings.TrimSpace(r.GetPublic().GetReason()) == "" {
			fail("public requires a reason")
		}
	}
	for i, req := range r.GetRequirements() {
		if len(req.GetCredentials()) == 0 {
			fail("requirements[%d]: credentials must not be empty", i)
		}
		seen := map[grpcauthv1.CredentialKind]bool{}
		for _, k := range req.GetCredentials() {
			switch {
			case k == grpcauthv1.CredentialKind_CREDENTIAL_KIND_UNSPECIFIED:
				fail("requirements[%d]: credentials must not contain CREDENTIAL_KIND_UNSPECIFIED", i)
			case grpcauthv1.CredentialKind_name[int32(k)] == "":
				fail("requirements[%d]: unknown credential kind %d", i, int32(k))
			case seen[k]:
				fail("requirements[%d]: credential kind %s is listed twice", i, k)
			}
			seen[k] = true
		}
		seenScope := map[string]bool{}
		for j, s := range req.GetScopes() {
			switch {
			case s == "":
				fail("requirements[%d]: scopes[%d] is empty", i, j)
			case strings.IndexFunc(s, func(c rune) bool { return unicode.IsSpace(c) || !unicode.IsPrint(c) }) >= 0:
				fail("requirements[%d]: scope %q contains whitespace or a control character", i, s)
			case seenScope[s]:
				fail("requirements[%d]: scope %q is listed twice", i, s)
			}
			seenScope[s] = true
		}
	}
	if grpcauthv1.Transport_name[int32(r.GetTransport())] == "" {
		fail("unknown transport %d", int32(r.GetTransport()))
	}
	return out
}

// level is one link of the chain of rules a method inherits from.
type level struct {
	site
	rule *grpcauthv1.Rule
}

// resolve computes a method's effective rule from its levels (file,
// service, method), outermost first; at is the method. undeclaredOK turns a
// method without access into a deny-everything rule instead of a finding.
func resolve(at site, levels []level, undeclaredOK bool) (*effectiveRule, *Finding) {
	eff := &effectiveRule{}
	haveAccess := false
	for _, l := range levels {
		r := l.rule
		if r == nil {
			continue
		}
		if r.Public != nil || len(r.GetRequirements()) > 0 {
			haveAccess = true
			eff.source = l.element
			eff.public = r.Public != nil
			eff.publicReason = r.GetPublic().GetReason()
			eff.requirements = nil
			for _, req := range r.GetRequirements() {
				eff.requirements = append(eff.requirements, requirement{kinds: req.GetCredentials(), scopes: req.GetScopes()})
			}
		}
		switch r.GetTransport() {
		case grpcauthv1.Transport_TLS_REQUIRED:
			eff.tlsRequired = true
			eff.transportSource = l.element
		case grpcauthv1.Transport_ANY_TRANSPORT:
			eff.tlsRequired = false
			eff.transportSource = l.element
		}
		if r.Condition != nil {
			eff.condition = r.GetCondition()
			eff.conditionSource = l.element
			eff.conditionAt = l.site
		}
		if r.DryRun != nil {
			eff.dryRun = r.GetDryRun()
		}
	}
	if eff.condition == "" {
		eff.conditionSource = ""
	}
	if !haveAccess {
		if undeclaredOK {
			return &effectiveRule{undeclared: true, tlsRequired: eff.tlsRequired, transportSource: eff.transportSource, dryRun: eff.dryRun}, nil
		}
		f := at.finding(CheckMethodHasRule, "no auth rule: set (grpcauth.v1.method), (grpcauth.v1.service) or (grpcauth.v1.file), or mark it public with a reason")
		return nil, &f
	}
	if eff.public && eff.condition != "" {
		// Pointed at the condition's declaration: that is what to remove
		// (or the public marking), and it may be inherited.
		f := eff.conditionAt.withElement(at.element).finding(CheckRuleConsistent, "a public method cannot have a condition (inherited or its own)")
		return nil, &f
	}
	return eff, nil
}
