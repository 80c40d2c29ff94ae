// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package library

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/grpcauth/protoc-gen-go-grpcauth/cmd/protoc-gen-go-grpcauth/generator"
	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// TestManifestsAreTheRuleTables checks the checked-in manifests against the
// rule tables generated beside them: one source, two renderings, the same
// rule for every method.
func TestManifestsAreTheRuleTables(t *testing.T) {
	gen := filepath.Join("..", "..", "gen")
	for _, tc := range []struct {
		manifest string
		rules    []*runtime.ServiceRules
	}{
		{"library/v1/library_grpcauth.manifest.json", []*runtime.ServiceRules{libraryv1.LibraryServiceAuthRules}},
		{"grpcauthtest/v1/kinds_grpcauth.manifest.json", []*runtime.ServiceRules{grpcauthtestv1.KindsAuthRules}},
		{"grpcauthtest/v1/conditions_grpcauth.manifest.json", []*runtime.ServiceRules{grpcauthtestv1.TenantsAuthRules}},
		{"grpcauthtest/v1/identities_grpcauth.manifest.json", []*runtime.ServiceRules{grpcauthtestv1.OptionalAuthRules, grpcauthtestv1.DelegatedAuthRules}},
	} {
		b, err := os.ReadFile(filepath.Join(gen, filepath.FromSlash(tc.manifest)))
		if err != nil {
			t.Fatal(err)
		}
		m, err := generator.ReadManifest(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.manifest, err)
		}
		if len(m.Services) != len(tc.rules) {
			t.Fatalf("%s: %d services, want %d", tc.manifest, len(m.Services), len(tc.rules))
		}
		for i, s := range m.Services {
			table := tc.rules[i]
			if s.Name != table.Service {
				t.Errorf("%s: service %q, table %q", tc.manifest, s.Name, table.Service)
			}
			if len(s.Methods) != len(table.Methods) {
				t.Errorf("%s: %d methods, table %d", s.Name, len(s.Methods), len(table.Methods))
				continue
			}
			for j, mm := range s.Methods {
				if diff := cmp.Diff(asManifest(table.Methods[j]), fromManifest(mm)); diff != "" {
					t.Errorf("%s: manifest and rule table differ (-table +manifest):\n%s", mm.Name, diff)
				}
			}
		}
	}
}

// ruleView is what a rule table and a manifest both say about a method.
type ruleView struct {
	FullMethod, Access, PublicReason, Transport, Condition, Source, Authentication string
	Requirements                                                                   []string
}

func asManifest(r *runtime.Rule) ruleView {
	v := ruleView{FullMethod: r.FullMethod, PublicReason: r.PublicReason, Condition: r.Condition, Source: r.Source, Transport: generator.TransportAny, Authentication: generator.AuthenticationRequired}
	if r.Optional {
		v.Authentication = generator.AuthenticationOptional
	}
	switch {
	case r.Undeclared:
		v.Access = generator.AccessUndeclared
	case r.Public:
		v.Access = generator.AccessPublic
	default:
		v.Access = generator.AccessRequirements
	}
	if r.Transport == runtime.TLSRequired {
		v.Transport = generator.TransportTLSRequired
	}
	for _, req := range r.Requirements {
		kinds := make([]string, len(req.Credentials))
		for i, k := range req.Credentials {
			kinds[i] = k.String()
		}
		line := strings.Join(kinds, ",") + " " + strings.Join(req.Scopes, ",")
		if obo := req.OnBehalfOf; obo != nil {
			users := make([]string, len(obo.Credentials))
			for i, k := range obo.Credentials {
				users[i] = k.String()
			}
			line += " for " + strings.Join(users, ",") + " " + strings.Join(obo.Scopes, ",")
		}
		v.Requirements = append(v.Requirements, line)
	}
	return v
}

func fromManifest(m generator.ManifestMethod) ruleView {
	v := ruleView{FullMethod: m.FullMethod, Access: m.Access, PublicReason: m.PublicReason, Transport: m.Transport, Condition: m.Condition, Source: m.Source, Authentication: m.Authentication}
	for _, req := range m.Requirements {
		line := strings.Join(req.Credentials, ",") + " " + strings.Join(req.Scopes, ",")
		if obo := req.OnBehalfOf; obo != nil {
			line += " for " + strings.Join(obo.Credentials, ",") + " " + strings.Join(obo.Scopes, ",")
		}
		v.Requirements = append(v.Requirements, line)
	}
	return v
}
