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
	// onBehalfOf is the end user the workload (kinds) calls for, or nil.
	onBehalfOf *endUser
}

// endUser is a requirement's on_behalf_of.
type endUser struct {
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
	// optional: a call without any credential is allowed (authentication:
	// OPTIONAL); optionalSource is the element that set it.
	optional       bool
	optionalSource string
}

// onBehalfOf reports whether some requirement of r has an end user.
func (r *effectiveRule) onBehalfOf() bool {
	for _, req := range r.requirements {
		if req.onBehalfOf != nil {
			return true
		}
	}
	return false
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
		if a := r.GetAuthentication(); a != grpcauthv1.Authentication_AUTHENTICATION_UNSPECIFIED {
			fail("public cannot be combined with authentication: %s: a public method reads no credential", a)
		}
	}
	for i, req := range r.GetRequirements() {
		at := fmt.Sprintf("requirements[%d]: ", i)
		validateKinds(fail, at, req.GetCredentials())
		validateScopes(fail, at, req.GetScopes())
		obo := req.GetOnBehalfOf()
		if obo == nil {
			continue
		}
		for _, k := range req.GetCredentials() {
			if k == grpcauthv1.CredentialKind_BEARER_JWT || k == grpcauthv1.CredentialKind_OAUTH2_TOKEN {
				fail("%swith on_behalf_of, credentials are the workload's and must be MTLS or API_KEY, not %s", at, k)
			}
		}
		at += "on_behalf_of: "
		validateKinds(fail, at, obo.GetCredentials())
		for _, k := range obo.GetCredentials() {
			if k == grpcauthv1.CredentialKind_MTLS || k == grpcauthv1.CredentialKind_API_KEY {
				fail("%scredentials are the end user's bearer token and must be BEARER_JWT or OAUTH2_TOKEN, not %s", at, k)
			}
		}
		validateScopes(fail, at, obo.GetScopes())
	}
	if grpcauthv1.Transport_name[int32(r.GetTransport())] == "" {
		fail("unknown transport %d", int32(r.GetTransport()))
	}
	if grpcauthv1.Authentication_name[int32(r.GetAuthentication())] == "" {
		fail("unknown authentication %d", int32(r.GetAuthentication()))
	}
	return out
}

// validateKinds checks a list of credential kinds; at prefixes the messages.
func validateKinds(fail func(string, ...any), at string, kinds []grpcauthv1.CredentialKind) {
	if len(kinds) == 0 {
		fail("%scredentials must not be empty", at)
	}
	seen := map[grpcauthv1.CredentialKind]bool{}
	for _, k := range kinds {
		switch {
		case k == grpcauthv1.CredentialKind_CREDENTIAL_KIND_UNSPECIFIED:
			fail("%scredentials must not contain CREDENTIAL_KIND_UNSPECIFIED", at)
		case grpcauthv1.CredentialKind_name[int32(k)] == "":
			fail("%sunknown credential kind %d", at, int32(k))
		case seen[k]:
			fail("%scredential kind %s is listed twice", at, k)
		}
		seen[k] = true
	}
}

// validateScopes checks a list of scopes; at prefixes the messages.
func validateScopes(fail func(string, ...any), at string, scopes []string) {
	seen := map[string]bool{}
	for j, s := range scopes {
		switch {
		case s == "":
			fail("%sscopes[%d] is empty", at, j)
		case strings.IndexFunc(s, func(c rune) bool { return unicode.IsSpace(c) || !unicode.IsPrint(c) }) >= 0:
			fail("%sscope %q contains whitespace or a control character", at, s)
		case seen[s]:
			fail("%sscope %q is listed twice", at, s)
		}
		seen[s] = true
	}
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
	// The levels that last set the access and the authentication; -1: none.
	accessAt, authAt := -1, -1
	var optionalAt site
	for i, l := range levels {
		r := l.rule
		if r == nil {
			continue
		}
		if r.Public != nil || len(r.GetRequirements()) > 0 {
			haveAccess = true
			accessAt = i
			eff.source = l.element
			eff.public = r.Public != nil
			eff.publicReason = r.GetPublic().GetReason()
			eff.requirements = nil
			for _, req := range r.GetRequirements() {
				er := requirement{kinds: req.GetCredentials(), scopes: req.GetScopes()}
				if obo := req.GetOnBehalfOf(); obo != nil {
					er.onBehalfOf = &endUser{kinds: obo.GetCredentials(), scopes: obo.GetScopes()}
				}
				eff.requirements = append(eff.requirements, er)
			}
		}
		switch r.GetAuthentication() {
		case grpcauthv1.Authentication_OPTIONAL:
			eff.optional, eff.optionalSource, optionalAt, authAt = true, l.element, l.site, i
		case grpcauthv1.Authentication_REQUIRED:
			eff.optional, eff.optionalSource, authAt = false, "", i
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
	if eff.optional && eff.public {
		if authAt >= accessAt {
			f := optionalAt.withElement(at.element).finding(CheckRuleConsistent, "authentication: OPTIONAL (declared on %s) needs requirements; the method is public (declared on %s)", eff.optionalSource, eff.source)
			return nil, &f
		}
		// A public method reads no credential: an OPTIONAL above the
		// level that made it public does not apply.
		eff.optional, eff.optionalSource = false, ""
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
	if eff.optional && eff.condition != "" {
		f := optionalAt.withElement(at.element).finding(CheckRuleConsistent, "authentication: OPTIONAL (declared on %s) cannot be combined with a condition (inherited or its own): a call without a credential would not be checked by it", eff.optionalSource)
		return nil, &f
	}
	return eff, nil
}
