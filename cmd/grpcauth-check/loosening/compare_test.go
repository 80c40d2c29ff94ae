// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package loosening

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/grpcauth/protoc-gen-go-grpcauth/cmd/protoc-gen-go-grpcauth/generator"
)

// The method every case starts from, changed by one edit.
func base() generator.ManifestMethod {
	return generator.ManifestMethod{
		Name:       "a.v1.S.M",
		FullMethod: "/a.v1.S/M",
		Type:       generator.MethodUnary,
		Access:     generator.AccessRequirements,
		Requirements: []generator.ManifestRequirement{
			{Credentials: []string{"BEARER_JWT", "OAUTH2_TOKEN"}, Scopes: []string{"read", "write"}},
			{Credentials: []string{"API_KEY"}, Scopes: []string{"ops"}},
		},
		Transport:      generator.TransportTLSRequired,
		Authentication: generator.AuthenticationRequired,
		Condition:      "principal.subject != ''",
		Source:         "a.v1.S",
	}
}

func manifest(methods ...generator.ManifestMethod) []*generator.Manifest {
	return []*generator.Manifest{{Schema: generator.ManifestSchema, File: "a/v1/a.proto", Services: []generator.ManifestService{{Name: "a.v1.S", Methods: methods}}}}
}

func reqs(rs ...string) []generator.ManifestRequirement {
	var out []generator.ManifestRequirement
	for _, r := range rs {
		kinds, scopes, _ := strings.Cut(r, ":")
		out = append(out, generator.ManifestRequirement{Credentials: strings.Fields(kinds), Scopes: append([]string{}, strings.Fields(scopes)...)})
	}
	return out
}

// obo is a requirement of workload "kinds:scopes" on behalf of an end
// user's "kinds:scopes".
func obo(workload, user string) generator.ManifestRequirement {
	r, u := reqs(workload)[0], reqs(user)[0]
	r.OnBehalfOf = &generator.ManifestEndUser{Credentials: u.Credentials, Scopes: u.Scopes}
	return r
}

// TestCompare holds one case per kind of change, each the base method with
// one edit, and the exact lines the check prints.
func TestCompare(t *testing.T) {
	other := generator.ManifestMethod{Name: "a.v1.S.N", FullMethod: "/a.v1.S/N", Type: generator.MethodUnary, Access: generator.AccessRequirements, Requirements: reqs("MTLS:"), Transport: generator.TransportAny}
	for _, tc := range []struct {
		name string
		edit func(m *generator.ManifestMethod)
		// old, when set, is edited instead of the new side.
		old  func(m *generator.ManifestMethod)
		want []string
	}{
		{name: "unchanged", edit: func(m *generator.ManifestMethod) {}},
		{name: "source and order only", edit: func(m *generator.ManifestMethod) {
			m.Source = "a/v1/a.proto"
			m.Requirements = reqs("API_KEY:ops", "OAUTH2_TOKEN BEARER_JWT:write read")
		}},
		{name: "made public", edit: func(m *generator.ManifestMethod) {
			m.Access, m.PublicReason, m.Requirements, m.Condition = generator.AccessPublic, "status page", nil, ""
		}, want: []string{
			`loosening: a.v1.S.M: MADE_PUBLIC: now public (status page); was BEARER_JWT or OAUTH2_TOKEN with scopes read and write; or API_KEY with scope ops, over TLS only, if principal.subject != ''`,
			`loosening: a.v1.S.M: CONDITION_REMOVED: condition "principal.subject != ''" removed`,
		}},
		{name: "requirement added", edit: func(m *generator.ManifestMethod) {
			m.Requirements = append(m.Requirements, reqs("MTLS:read")...)
		}, want: []string{
			`loosening: a.v1.S.M: REQUIREMENT_ADDED "MTLS with scope read": requirement added: MTLS with scope read`,
		}},
		{name: "credential kind added", edit: func(m *generator.ManifestMethod) {
			m.Requirements[1].Credentials = []string{"API_KEY", "MTLS"}
		}, want: []string{
			`loosening: a.v1.S.M: CREDENTIAL_KIND_ADDED "MTLS": requirement API_KEY with scope ops now accepts MTLS too`,
		}},
		{name: "scope removed", edit: func(m *generator.ManifestMethod) {
			m.Requirements[0].Scopes = []string{"read"}
		}, want: []string{
			`loosening: a.v1.S.M: SCOPE_REMOVED "write": requirement BEARER_JWT or OAUTH2_TOKEN with scopes read and write no longer needs write`,
		}},
		{name: "condition removed", edit: func(m *generator.ManifestMethod) { m.Condition = "" }, want: []string{
			`loosening: a.v1.S.M: CONDITION_REMOVED: condition "principal.subject != ''" removed`,
		}},
		{name: "condition changed", edit: func(m *generator.ManifestMethod) { m.Condition = "principal.subject == 'root'" }, want: []string{
			`loosening: a.v1.S.M: CONDITION_CHANGED: condition was "principal.subject != ''", now "principal.subject == 'root'"`,
		}},
		{name: "TLS lifted", edit: func(m *generator.ManifestMethod) { m.Transport = generator.TransportAny }, want: []string{
			`loosening: a.v1.S.M: TLS_REQUIRED_LIFTED: TLS_REQUIRED lifted: calls in plaintext are accepted`,
		}},
		{name: "declared", old: func(m *generator.ManifestMethod) {
			m.Access, m.Requirements, m.Condition, m.Source = generator.AccessUndeclared, nil, "", ""
		}, want: []string{
			`loosening: a.v1.S.M: DECLARED: was undeclared (every call denied), now BEARER_JWT or OAUTH2_TOKEN with scopes read and write; or API_KEY with scope ops, over TLS only, if principal.subject != ''`,
		}},
		{name: "undeclared made public", old: func(m *generator.ManifestMethod) {
			m.Access, m.Requirements, m.Condition = generator.AccessUndeclared, nil, ""
		}, edit: func(m *generator.ManifestMethod) {
			m.Access, m.PublicReason, m.Requirements, m.Condition = generator.AccessPublic, "open", nil, ""
		}, want: []string{
			`loosening: a.v1.S.M: MADE_PUBLIC: now public (open); was undeclared (every call denied)`,
		}},
		{name: "dry-run enabled", edit: func(m *generator.ManifestMethod) { m.DryRun = true }, want: []string{
			`loosening: a.v1.S.M: DRY_RUN_ENABLED: now in dry-run: its denials are reported, its calls let through`,
		}},
		{name: "public method added", edit: func(m *generator.ManifestMethod) {
			m.Name, m.FullMethod, m.Access, m.PublicReason, m.Requirements, m.Condition = "a.v1.S.P", "/a.v1.S/P", generator.AccessPublic, "health", nil, ""
		}, want: []string{
			`loosening: a.v1.S.P: PUBLIC_METHOD_ADDED: new public method (health)`,
			`info: a.v1.S.M: METHOD_REMOVED: removed (was BEARER_JWT or OAUTH2_TOKEN with scopes read and write; or API_KEY with scope ops, over TLS only, if principal.subject != '')`,
		}},
		{name: "dry-run method added", edit: func(m *generator.ManifestMethod) {
			m.Name, m.FullMethod, m.DryRun = "a.v1.S.D", "/a.v1.S/D", true
		}, want: []string{
			`info: a.v1.S.D: METHOD_ADDED: new method: BEARER_JWT or OAUTH2_TOKEN with scopes read and write; or API_KEY with scope ops, over TLS only, if principal.subject != ''`,
			`loosening: a.v1.S.D: DRY_RUN_METHOD_ADDED: new method in dry-run: its denials are reported, its calls let through`,
			`info: a.v1.S.M: METHOD_REMOVED: removed (was BEARER_JWT or OAUTH2_TOKEN with scopes read and write; or API_KEY with scope ops, over TLS only, if principal.subject != '')`,
		}},
		{name: "requirement added that another covers", edit: func(m *generator.ManifestMethod) {
			m.Requirements = append(m.Requirements, reqs("API_KEY:ops read")...)
		}, want: []string{
			`info: a.v1.S.M: REQUIREMENTS_REWRITTEN: requirement added: API_KEY with scopes ops and read, which allows nobody the old requirements refused`,
		}},
		{name: "requirement split", edit: func(m *generator.ManifestMethod) {
			m.Requirements = reqs("BEARER_JWT:read write", "API_KEY:ops", "OAUTH2_TOKEN:write read")
		}, want: []string{
			`info: a.v1.S.M: REQUIREMENTS_REWRITTEN: requirement BEARER_JWT or OAUTH2_TOKEN with scopes read and write no longer accepts OAUTH2_TOKEN, which refuses nobody the old requirements allowed`,
			`info: a.v1.S.M: REQUIREMENTS_REWRITTEN: requirement added: OAUTH2_TOKEN with scopes write and read, which allows nobody the old requirements refused`,
		}},
		{name: "a kind moves to another requirement of fewer scopes", edit: func(m *generator.ManifestMethod) {
			m.Requirements = reqs("BEARER_JWT:read write", "API_KEY OAUTH2_TOKEN:ops")
		}, want: []string{
			`tightening: a.v1.S.M: CREDENTIAL_KIND_REMOVED "OAUTH2_TOKEN": requirement BEARER_JWT or OAUTH2_TOKEN with scopes read and write no longer accepts OAUTH2_TOKEN`,
			`loosening: a.v1.S.M: CREDENTIAL_KIND_ADDED "OAUTH2_TOKEN": requirement API_KEY with scope ops now accepts OAUTH2_TOKEN too`,
		}},
		{name: "requirement replaced by another kind", edit: func(m *generator.ManifestMethod) {
			m.Requirements = reqs("BEARER_JWT OAUTH2_TOKEN:read write", "MTLS:ops")
		}, want: []string{
			`loosening: a.v1.S.M: REQUIREMENT_ADDED "MTLS with scope ops": requirement added: MTLS with scope ops`,
			`tightening: a.v1.S.M: REQUIREMENT_REMOVED "API_KEY with scope ops": requirement removed: API_KEY with scope ops`,
		}},
		{name: "public removed", old: func(m *generator.ManifestMethod) {
			m.Access, m.PublicReason, m.Requirements, m.Condition = generator.AccessPublic, "open", nil, ""
		}, want: []string{
			`tightening: a.v1.S.M: PUBLIC_REMOVED: no longer public; now BEARER_JWT or OAUTH2_TOKEN with scopes read and write; or API_KEY with scope ops, over TLS only, if principal.subject != ''`,
			`tightening: a.v1.S.M: CONDITION_ADDED: condition "principal.subject != ''" added`,
		}},
		{name: "requirement removed that another covered", old: func(m *generator.ManifestMethod) {
			m.Requirements = append(m.Requirements, reqs("API_KEY:ops audit")...)
		}, want: []string{
			`info: a.v1.S.M: REQUIREMENTS_REWRITTEN: requirement removed: API_KEY with scopes ops and audit, which refuses nobody the old requirements allowed`,
		}},
		{name: "requirement removed", edit: func(m *generator.ManifestMethod) { m.Requirements = m.Requirements[:1] }, want: []string{
			`tightening: a.v1.S.M: REQUIREMENT_REMOVED "API_KEY with scope ops": requirement removed: API_KEY with scope ops`,
		}},
		{name: "scope added", edit: func(m *generator.ManifestMethod) {
			m.Requirements[1].Scopes = []string{"ops", "audit"}
		}, want: []string{
			`tightening: a.v1.S.M: SCOPE_ADDED "audit": requirement API_KEY with scope ops now needs audit too`,
		}},
		{name: "condition added", old: func(m *generator.ManifestMethod) { m.Condition = "" }, want: []string{
			`tightening: a.v1.S.M: CONDITION_ADDED: condition "principal.subject != ''" added`,
		}},
		{name: "TLS required", old: func(m *generator.ManifestMethod) { m.Transport = generator.TransportAny }, want: []string{
			`tightening: a.v1.S.M: TLS_REQUIRED_ADDED: TLS_REQUIRED: calls in plaintext are refused`,
		}},
		{name: "made undeclared", edit: func(m *generator.ManifestMethod) {
			m.Access, m.Requirements, m.Condition, m.Source = generator.AccessUndeclared, nil, "", ""
		}, want: []string{
			`tightening: a.v1.S.M: MADE_UNDECLARED: now undeclared (every call denied); was BEARER_JWT or OAUTH2_TOKEN with scopes read and write; or API_KEY with scope ops, over TLS only, if principal.subject != ''`,
		}},
		{name: "dry-run disabled", old: func(m *generator.ManifestMethod) { m.DryRun = true }, want: []string{
			`tightening: a.v1.S.M: DRY_RUN_DISABLED: no longer in dry-run: its denials are enforced`,
		}},
		{name: "public reason changed", old: func(m *generator.ManifestMethod) {
			m.Access, m.PublicReason, m.Requirements, m.Condition = generator.AccessPublic, "open", nil, ""
		}, edit: func(m *generator.ManifestMethod) {
			m.Access, m.PublicReason, m.Requirements, m.Condition = generator.AccessPublic, "status page", nil, ""
		}, want: []string{
			`info: a.v1.S.M: PUBLIC_REASON_CHANGED: public reason was "open", now "status page"`,
		}},
		{name: "authentication made optional", edit: func(m *generator.ManifestMethod) {
			m.Authentication, m.Condition = generator.AuthenticationOptional, ""
		}, old: func(m *generator.ManifestMethod) { m.Condition = "" }, want: []string{
			`loosening: a.v1.S.M: AUTHENTICATION_MADE_OPTIONAL: authentication optional: calls without a credential are allowed`,
		}},
		{name: "authentication made required", old: func(m *generator.ManifestMethod) {
			m.Authentication, m.Condition = generator.AuthenticationOptional, ""
		}, edit: func(m *generator.ManifestMethod) { m.Condition = "" }, want: []string{
			`tightening: a.v1.S.M: AUTHENTICATION_MADE_REQUIRED: authentication required: calls without a credential are refused`,
		}},
		{name: "optional method added", edit: func(m *generator.ManifestMethod) {
			m.Name, m.FullMethod, m.Authentication, m.Condition = "a.v1.S.O", "/a.v1.S/O", generator.AuthenticationOptional, ""
		}, want: []string{
			`loosening: a.v1.S.O: OPTIONAL_METHOD_ADDED: new method, callable without a credential: BEARER_JWT or OAUTH2_TOKEN with scopes read and write; or API_KEY with scope ops; or no credential (authentication optional), over TLS only`,
			`info: a.v1.S.M: METHOD_REMOVED: removed (was BEARER_JWT or OAUTH2_TOKEN with scopes read and write; or API_KEY with scope ops, over TLS only, if principal.subject != '')`,
		}},
		{name: "on-behalf-of requirement added", edit: func(m *generator.ManifestMethod) {
			m.Requirements = append(m.Requirements, obo("API_KEY:ops", "BEARER_JWT:read"))
		}, want: []string{
			`loosening: a.v1.S.M: REQUIREMENT_ADDED "API_KEY with scope ops on behalf of an end user's BEARER_JWT with scope read": requirement added: API_KEY with scope ops on behalf of an end user's BEARER_JWT with scope read`,
		}},
		{name: "end user's kind added", old: func(m *generator.ManifestMethod) {
			m.Requirements = append(m.Requirements, obo("API_KEY:ops", "BEARER_JWT:read"))
		}, edit: func(m *generator.ManifestMethod) {
			m.Requirements = append(m.Requirements, obo("API_KEY:ops", "BEARER_JWT OAUTH2_TOKEN:read"))
		}, want: []string{
			`loosening: a.v1.S.M: END_USER_KIND_ADDED "OAUTH2_TOKEN": requirement API_KEY with scope ops on behalf of an end user's BEARER_JWT with scope read now accepts an end user's OAUTH2_TOKEN too`,
		}},
		{name: "end user's scope removed, workload's added", old: func(m *generator.ManifestMethod) {
			m.Requirements = append(m.Requirements, obo("API_KEY:ops", "BEARER_JWT:read write"))
		}, edit: func(m *generator.ManifestMethod) {
			m.Requirements = append(m.Requirements, obo("API_KEY:ops audit", "BEARER_JWT:read"))
		}, want: []string{
			`tightening: a.v1.S.M: SCOPE_ADDED "audit": requirement API_KEY with scope ops on behalf of an end user's BEARER_JWT with scopes read and write now needs audit too`,
			`loosening: a.v1.S.M: END_USER_SCOPE_REMOVED "write": requirement API_KEY with scope ops on behalf of an end user's BEARER_JWT with scopes read and write no longer needs write of the end user`,
		}},
		{name: "end user's kind removed and scope added", old: func(m *generator.ManifestMethod) {
			m.Requirements = append(m.Requirements, obo("API_KEY:ops", "BEARER_JWT OAUTH2_TOKEN:read"))
		}, edit: func(m *generator.ManifestMethod) {
			m.Requirements = append(m.Requirements, obo("API_KEY:ops", "BEARER_JWT:read write"))
		}, want: []string{
			`tightening: a.v1.S.M: END_USER_KIND_REMOVED "OAUTH2_TOKEN": requirement API_KEY with scope ops on behalf of an end user's BEARER_JWT or OAUTH2_TOKEN with scope read no longer accepts an end user's OAUTH2_TOKEN`,
			`tightening: a.v1.S.M: END_USER_SCOPE_ADDED "write": requirement API_KEY with scope ops on behalf of an end user's BEARER_JWT or OAUTH2_TOKEN with scope read now needs write of the end user too`,
		}},
		{name: "certificate paired", edit: func(m *generator.ManifestMethod) {
			m.Requirements = append(m.Requirements, obo("MTLS:", "BEARER_JWT:admin"))
		}, want: []string{
			`loosening: a.v1.S.M: REQUIREMENT_ADDED "MTLS with no scope on behalf of an end user's BEARER_JWT with scope admin": requirement added: MTLS with no scope on behalf of an end user's BEARER_JWT with scope admin`,
			`tightening: a.v1.S.M: CERTIFICATE_PAIRED: a requirement now takes a client certificate on behalf of an end user: a token over a connection with a certificate is decided as that pair, and BEARER_JWT with scopes read and write is refused there`,
		}},
		{name: "certificate unpaired", old: func(m *generator.ManifestMethod) {
			m.Requirements = append(m.Requirements, obo("MTLS:", "BEARER_JWT:admin"))
		}, want: []string{
			`tightening: a.v1.S.M: REQUIREMENT_REMOVED "MTLS with no scope on behalf of an end user's BEARER_JWT with scope admin": requirement removed: MTLS with no scope on behalf of an end user's BEARER_JWT with scope admin`,
			`loosening: a.v1.S.M: CERTIFICATE_UNPAIRED: no requirement takes a client certificate on behalf of an end user any more: a token over a connection with a certificate is decided alone, and BEARER_JWT with scopes read and write passes there`,
		}},
		{name: "method added with a rule", edit: func(m *generator.ManifestMethod) {
			m.Name, m.FullMethod = "a.v1.S.X", "/a.v1.S/X"
		}, want: []string{
			`info: a.v1.S.X: METHOD_ADDED: new method: BEARER_JWT or OAUTH2_TOKEN with scopes read and write; or API_KEY with scope ops, over TLS only, if principal.subject != ''`,
			`info: a.v1.S.M: METHOD_REMOVED: removed (was BEARER_JWT or OAUTH2_TOKEN with scopes read and write; or API_KEY with scope ops, over TLS only, if principal.subject != '')`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, n := base(), base()
			if tc.old != nil {
				tc.old(&o)
			}
			if tc.edit != nil {
				tc.edit(&n)
			}
			var got []string
			for _, c := range Compare(manifest(o, other), manifest(n, other)) {
				got = append(got, c.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCompareAcrossFiles matches methods by name, whichever file holds them.
func TestCompareAcrossFiles(t *testing.T) {
	m := base()
	moved := manifest(m)
	moved[0].File = "a/v1/other.proto"
	if got := Compare(manifest(m), append(manifest(), moved...)); len(got) != 0 {
		t.Errorf("a method moved to another file: %v", got)
	}
}

// TestCompareRequirementsExact checks, over many random pairs of
// requirement lists, that Compare reports a loosening exactly when some
// caller (a kind and a set of scopes) is allowed by the new requirements
// and refused by the old ones: no loosening is missed, none is invented;
// and the same for tightenings.
func TestCompareRequirementsExact(t *testing.T) {
	kinds := []string{"BEARER_JWT", "OAUTH2_TOKEN", "API_KEY", "MTLS"}
	scopes := []string{"a", "b", "c"}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() []generator.ManifestRequirement {
		out := make([]generator.ManifestRequirement, 1+rng.IntN(3))
		for i := range out {
			r := generator.ManifestRequirement{Scopes: []string{}}
			for _, k := range kinds {
				if rng.IntN(3) == 0 {
					r.Credentials = append(r.Credentials, k)
				}
			}
			if len(r.Credentials) == 0 {
				r.Credentials = []string{kinds[rng.IntN(len(kinds))]}
			}
			for _, s := range scopes {
				if rng.IntN(2) == 0 {
					r.Scopes = append(r.Scopes, s)
				}
			}
			out[i] = r
		}
		return out
	}
	looser := func(o, n []generator.ManifestRequirement) bool {
		for mask := 0; mask < 1<<len(scopes); mask++ {
			var held []string
			for i, s := range scopes {
				if mask&(1<<i) != 0 {
					held = append(held, s)
				}
			}
			for _, k := range kinds {
				if allows(reqsOf(n), k, held) && !allows(reqsOf(o), k, held) {
					return true
				}
			}
		}
		return false
	}
	loosenings := 0
	for i := 0; i < 5000; i++ {
		o, n := base(), base()
		o.Requirements, n.Requirements = random(), random()
		if rng.IntN(4) == 0 { // a small edit, as most reviews see
			n.Requirements = append([]generator.ManifestRequirement{}, o.Requirements...)
			n.Requirements[0].Scopes = n.Requirements[0].Scopes[:len(n.Requirements[0].Scopes)/2]
		}
		reported, reportedTight := false, false
		for _, c := range Compare(manifest(o), manifest(n)) {
			reported = reported || c.Class() == Loosening
			reportedTight = reportedTight || c.Class() == Tightening
		}
		if want := looser(o.Requirements, n.Requirements); reported != want {
			t.Fatalf("old %v, new %v: loosening reported %v, want %v:\n%v", o.Requirements, n.Requirements, reported, want, Compare(manifest(o), manifest(n)))
		}
		if want := looser(n.Requirements, o.Requirements); reportedTight != want {
			t.Fatalf("old %v, new %v: tightening reported %v, want %v:\n%v", o.Requirements, n.Requirements, reportedTight, want, Compare(manifest(o), manifest(n)))
		}
		if reported {
			loosenings++
		}
	}
	if loosenings < 1000 || 5000-loosenings < 300 {
		t.Errorf("%d of 5000 pairs loosen: too few of one outcome to trust the check", loosenings)
	}
}

// A caller, for the exhaustive checks: nobody (no credential), one
// credential of kind holding scopes, or a workload's credential of kind
// holding scopes on behalf of an end user's token of user holding
// userScopes.
type caller struct {
	anonymous  bool
	kind       string
	scopes     []string
	user       string
	userScopes []string
}

// allowedBy is the decision on who may call, restated from the runtime's
// documentation for a method with requirements: nobody when authentication
// is optional; one credential by the requirements without an end user; an
// API key with a token by those with one that take API keys (else it is
// malformed); a client certificate with a token by those with one when one
// of them takes certificates, else the token alone.
func allowedBy(m generator.ManifestMethod, c caller) bool {
	if c.anonymous {
		return m.Authentication == generator.AuthenticationOptional
	}
	meets := func(r generator.ManifestRequirement, kind string, scopes []string) bool {
		return slices.Contains(r.Credentials, kind) && subset(r.Scopes, scopes)
	}
	if c.user == "" || c.kind == "MTLS" && !slices.ContainsFunc(m.Requirements, func(r generator.ManifestRequirement) bool {
		return r.OnBehalfOf != nil && slices.Contains(r.Credentials, "MTLS")
	}) {
		kind, scopes := c.kind, c.scopes
		if c.user != "" {
			kind, scopes = c.user, c.userScopes // the certificate is not read
		}
		return slices.ContainsFunc(m.Requirements, func(r generator.ManifestRequirement) bool {
			return r.OnBehalfOf == nil && meets(r, kind, scopes)
		})
	}
	return slices.ContainsFunc(m.Requirements, func(r generator.ManifestRequirement) bool {
		return r.OnBehalfOf != nil && meets(r, c.kind, c.scopes) &&
			slices.Contains(r.OnBehalfOf.Credentials, c.user) && subset(r.OnBehalfOf.Scopes, c.userScopes)
	})
}

// TestCompareRulesExact is TestCompareRequirementsExact over rules with
// requirements on behalf of an end user and optional authentication: over
// many random pairs of rules, Compare reports a loosening exactly when some
// caller — nobody, one credential, or a workload's with an end user's token
// — is allowed by the new rule and refused by the old, and a tightening
// exactly when the other way round.
func TestCompareRulesExact(t *testing.T) {
	kinds := []string{"BEARER_JWT", "OAUTH2_TOKEN", "API_KEY", "MTLS"}
	workloads, users := []string{"MTLS", "API_KEY"}, []string{"BEARER_JWT", "OAUTH2_TOKEN"}
	scopes := []string{"a", "b", "c"}
	rng := rand.New(rand.NewPCG(3, 4))
	some := func(from []string) []string {
		var out []string
		for _, k := range from {
			if rng.IntN(2) == 0 {
				out = append(out, k)
			}
		}
		if len(out) == 0 {
			out = []string{from[rng.IntN(len(from))]}
		}
		return out
	}
	anyScopes := func() []string {
		out := []string{}
		for _, s := range scopes {
			if rng.IntN(3) == 0 {
				out = append(out, s)
			}
		}
		return out
	}
	random := func() generator.ManifestMethod {
		m := base()
		m.Condition = ""
		m.Requirements = nil
		for range 1 + rng.IntN(3) {
			if rng.IntN(2) == 0 {
				m.Requirements = append(m.Requirements, generator.ManifestRequirement{Credentials: some(kinds), Scopes: anyScopes()})
				continue
			}
			m.Requirements = append(m.Requirements, generator.ManifestRequirement{Credentials: some(workloads), Scopes: anyScopes(),
				OnBehalfOf: &generator.ManifestEndUser{Credentials: some(users), Scopes: anyScopes()}})
		}
		if rng.IntN(4) == 0 {
			m.Authentication = generator.AuthenticationOptional
		}
		return m
	}
	var held [][]string
	for mask := 0; mask < 1<<len(scopes); mask++ {
		var h []string
		for i, s := range scopes {
			if mask&(1<<i) != 0 {
				h = append(h, s)
			}
		}
		held = append(held, h)
	}
	callers := []caller{{anonymous: true}}
	for _, k := range kinds {
		for _, h := range held {
			callers = append(callers, caller{kind: k, scopes: h})
		}
	}
	for _, w := range workloads {
		for _, ws := range held {
			for _, u := range users {
				for _, us := range held {
					callers = append(callers, caller{kind: w, scopes: ws, user: u, userScopes: us})
				}
			}
		}
	}
	gains := func(o, n generator.ManifestMethod) bool {
		for _, c := range callers {
			if allowedBy(n, c) && !allowedBy(o, c) {
				return true
			}
		}
		return false
	}
	loosenings, tightenings := 0, 0
	for i := 0; i < 3000; i++ {
		o, n := random(), random()
		if rng.IntN(4) == 0 { // a small edit
			n = o
			n.Requirements = slices.Clone(o.Requirements)
			r := n.Requirements[0]
			if r.OnBehalfOf != nil && rng.IntN(2) == 0 {
				u := *r.OnBehalfOf
				u.Scopes = u.Scopes[:len(u.Scopes)/2]
				r.OnBehalfOf = &u
			} else {
				r.Scopes = r.Scopes[:len(r.Scopes)/2]
			}
			n.Requirements[0] = r
		}
		changes := Compare(manifest(o), manifest(n))
		reported, reportedTight := false, false
		for _, c := range changes {
			reported = reported || c.Class() == Loosening
			reportedTight = reportedTight || c.Class() == Tightening
		}
		if want := gains(o, n); reported != want {
			t.Fatalf("old %+v, new %+v: loosening reported %v, want %v:\n%v", describe(o), describe(n), reported, want, changes)
		}
		if want := gains(n, o); reportedTight != want {
			t.Fatalf("old %+v, new %+v: tightening reported %v, want %v:\n%v", describe(o), describe(n), reportedTight, want, changes)
		}
		if reported {
			loosenings++
		}
		if reportedTight {
			tightenings++
		}
	}
	if loosenings < 500 || tightenings < 500 || 3000-loosenings < 300 {
		t.Errorf("%d of 3000 pairs loosen, %d tighten: too few of one outcome to trust the check", loosenings, tightenings)
	}
}
