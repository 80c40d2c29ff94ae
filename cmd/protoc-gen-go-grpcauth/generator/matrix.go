// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
)

const authmatrixPackage = protogen.GoImportPath("github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authmatrix")

// MatrixSuffix ends the name of the Go file matrix=true writes.
const MatrixSuffix = "_grpcauth_matrix.pb.go"

// matrixVar is the generated auth matrix of a service.
func matrixVar(s *protogen.Service) string { return s.GoName + "AuthMatrix" }

// allKinds are the credential kinds, in the order of grpcauth.v1.CredentialKind.
var allKinds = []string{"BEARER_JWT", "OAUTH2_TOKEN", "API_KEY", "MTLS"}

// matrixCase is one case of a method's matrix: what is sent, over what,
// and the reason it must be denied with ("" for allowed).
type matrixCase struct {
	name      string
	kind      string // "" for no credential
	scopes    []string
	plaintext bool
	want      string // a runtime.Reason constant's name, "" when allowed
	// endUser is the kind of an end user's bearer token sent beside the
	// workload's credential kind ("" for none), holding endUserScopes.
	endUser       string
	endUserScopes []string
}

// matrixCases computes the cases of one method from its manifest entry,
// with the decision of DESIGN §3: transport first, then the credential,
// its kind, the scopes. skipped says which cases cannot be written and why.
func matrixCases(mm ManifestMethod) (cases []matrixCase, skipped []string) {
	if mm.DryRun {
		// Its denials are reported, not made: every call would pass.
		return nil, []string{"the rule is in dry-run (dry_run: true): its would-be denials are reported and calls proceed, so none can be tested as a denial"}
	}
	switch mm.Access {
	case AccessUndeclared:
		return []matrixCase{
			{name: "no credential", want: "ReasonMethodNotDeclared"},
			{name: "BEARER_JWT", kind: "BEARER_JWT", want: "ReasonMethodNotDeclared"},
		}, nil
	case AccessPublic:
		cases = []matrixCase{{name: "no credential"}}
		if mm.Transport == TransportTLSRequired {
			cases = append(cases, matrixCase{name: "no credential, over plaintext", plaintext: true, want: "ReasonTransportInsecure"})
		} else {
			cases = append(cases, matrixCase{name: "no credential, over plaintext", plaintext: true})
		}
		return cases, nil
	}
	// The requirements of one credential, and those with an end user.
	var reqs []req
	var pairs []pairReq
	for _, r := range mm.Requirements {
		if r.OnBehalfOf == nil {
			reqs = append(reqs, req{kinds: r.Credentials, scopes: r.Scopes})
		} else {
			pairs = append(pairs, pairReq{req{r.Credentials, r.Scopes}, req{r.OnBehalfOf.Credentials, r.OnBehalfOf.Scopes}})
		}
	}
	none := "ReasonCredentialsMissing" // what a call without a credential gets
	if mm.Authentication == AuthenticationOptional {
		none = ""
	}
	seen := map[string]bool{}
	add := func(c matrixCase) {
		if !seen[c.name] {
			seen[c.name] = true
			cases = append(cases, c)
		}
	}
	var every []string // every scope of every requirement
	for _, r := range reqs {
		for _, k := range r.kinds {
			add(matrixCase{name: k + withScopes(r.scopes), kind: k, scopes: r.scopes})
			for _, s := range r.scopes {
				fewer := slices.DeleteFunc(slices.Clone(r.scopes), func(x string) bool { return x == s })
				if !allows(reqs, k, fewer) { // another requirement may accept fewer
					name := k + withScopes(fewer) + ", without " + s
					if len(fewer) == 0 {
						name = k + " without scope " + s
					}
					add(matrixCase{name: name, kind: k, scopes: fewer, want: "ReasonScopeInsufficient"})
				}
			}
		}
		for _, s := range r.scopes {
			if !slices.Contains(every, s) {
				every = append(every, s)
			}
		}
	}
	if none == "" {
		add(matrixCase{name: "no credential (authentication optional)"})
	} else {
		add(matrixCase{name: "no credential", want: none})
	}
	for _, k := range allKinds {
		if accepts(reqs, k) {
			continue
		}
		switch {
		case takesWorkload(pairs, k):
			add(matrixCase{name: k + " alone, without an end user's token" + withScopes(every), kind: k, scopes: every, want: "ReasonCredentialsMissing"})
		case takesEndUser(pairs, k):
			add(matrixCase{name: k + " alone, without the workload's credential" + withScopes(every), kind: k, scopes: every, want: "ReasonCredentialsMissing"})
		case k == "MTLS" && none == "":
			add(matrixCase{name: "MTLS, not accepted: the certificate is not read, and authentication is optional" + withScopes(every), kind: k, scopes: every})
		case k == "MTLS":
			// The certificate is the credential only on methods that accept
			// MTLS: here it is not read, and the call has none.
			add(matrixCase{name: "MTLS, not accepted: the certificate is not read" + withScopes(every), kind: k, scopes: every, want: "ReasonCredentialsMissing"})
		case k == "BEARER_JWT" && accepts(reqs, "OAUTH2_TOKEN"):
			skipped = append(skipped, "BEARER_JWT, not accepted: where OAUTH2_TOKEN is, a bearer token is introspected, and the endpoint's answer to a JWT is its own")
		default:
			add(matrixCase{name: k + ", not accepted" + withScopes(every), kind: k, scopes: every, want: "ReasonCredentialKindNotAccepted"})
		}
	}
	if takesWorkload(pairs, "API_KEY") {
		cases = append(cases, pairCases(pairs)...)
	} else {
		// SECURITY-CASES 48: two credentials at once, where no requirement
		// takes an API key beside an end user's token.
		add(matrixCase{name: "API_KEY and BEARER_JWT at once" + withScopes(every), kind: "API_KEY", scopes: every, endUser: "BEARER_JWT", endUserScopes: every, want: "ReasonCredentialsMalformed"})
		if takesWorkload(pairs, "MTLS") {
			cases = append(cases, pairCases(pairs)...)
		}
	}
	if mm.Transport == TransportTLSRequired {
		// No credential: transport is decided first, so TLS_REQUIRED gives
		// TRANSPORT_INSECURE, and a rule without it CREDENTIALS_MISSING
		// (a token over plaintext is refused either way, unless the server
		// allows plaintext credentials).
		add(matrixCase{name: "no credential, over plaintext", plaintext: true, want: "ReasonTransportInsecure"})
	}
	return cases, skipped
}

// pairReq is a requirement with an end user: the workload's kinds and
// scopes, and the end user's.
type pairReq struct{ workload, user req }

func takesWorkload(pairs []pairReq, k string) bool {
	for _, p := range pairs {
		if slices.Contains(p.workload.kinds, k) {
			return true
		}
	}
	return false
}

func takesEndUser(pairs []pairReq, k string) bool {
	for _, p := range pairs {
		if slices.Contains(p.user.kinds, k) {
			return true
		}
	}
	return false
}

// pairAllows reports whether a workload of kind w holding ws, for an end
// user of kind u holding us, meets one of pairs.
func pairAllows(pairs []pairReq, w string, ws []string, u string, us []string) bool {
	for _, p := range pairs {
		if allows([]req{p.workload}, w, ws) && allows([]req{p.user}, u, us) {
			return true
		}
	}
	return false
}

// pairCases are the cases of the requirements with an end user: each pair
// of kinds they take with exactly their scopes, allowed; each with one
// scope fewer (on either side), denied unless another requirement takes
// it; an opaque end user's token where only JWTs are taken.
func pairCases(pairs []pairReq) []matrixCase {
	var out []matrixCase
	seen := map[string]bool{}
	add := func(c matrixCase) {
		if !seen[c.name] {
			seen[c.name] = true
			out = append(out, c)
		}
	}
	for _, p := range pairs {
		for _, w := range p.workload.kinds {
			for _, u := range p.user.kinds {
				of := w + withScopes(p.workload.scopes) + " on behalf of " + u + withScopes(p.user.scopes)
				add(matrixCase{name: of, kind: w, scopes: p.workload.scopes, endUser: u, endUserScopes: p.user.scopes})
				for _, s := range p.workload.scopes {
					fewer := slices.DeleteFunc(slices.Clone(p.workload.scopes), func(x string) bool { return x == s })
					if !pairAllows(pairs, w, fewer, u, p.user.scopes) {
						add(matrixCase{name: of + ", the workload without " + s, kind: w, scopes: fewer, endUser: u, endUserScopes: p.user.scopes, want: "ReasonScopeInsufficient"})
					}
				}
				for _, s := range p.user.scopes {
					fewer := slices.DeleteFunc(slices.Clone(p.user.scopes), func(x string) bool { return x == s })
					if !pairAllows(pairs, w, p.workload.scopes, u, fewer) {
						add(matrixCase{name: of + ", the end user without " + s, kind: w, scopes: p.workload.scopes, endUser: u, endUserScopes: fewer, want: "ReasonScopeInsufficient"})
					}
				}
			}
			if !takesEndUser(pairs, "OAUTH2_TOKEN") {
				// A JWT where only opaque tokens are taken would be
				// introspected, and the endpoint's answer is its own.
				add(matrixCase{name: w + withScopes(p.workload.scopes) + " on behalf of OAUTH2_TOKEN, not accepted" + withScopes(p.user.scopes), kind: w, scopes: p.workload.scopes, endUser: "OAUTH2_TOKEN", endUserScopes: p.user.scopes, want: "ReasonCredentialKindNotAccepted"})
			}
		}
	}
	return out
}

func accepts(reqs []req, k string) bool {
	for _, r := range reqs {
		if slices.Contains(r.kinds, k) {
			return true
		}
	}
	return false
}

func withScopes(scopes []string) string {
	switch len(scopes) {
	case 0:
		return ""
	case 1:
		return " with scope " + scopes[0]
	}
	return " with scopes " + strings.Join(scopes, " ")
}

// req is a requirement as sets, allows the decision on them.
type req struct{ kinds, scopes []string }

func allows(reqs []req, k string, held []string) bool {
	for _, r := range reqs {
		if !slices.Contains(r.kinds, k) {
			continue
		}
		all := true
		for _, s := range r.scopes {
			all = all && slices.Contains(held, s)
		}
		if all {
			return true
		}
	}
	return false
}

// generateMatrix writes f's auth matrices, one per service, from its
// manifest m: a file of its own, so that a build without matrix=true gets
// nothing new.
func generateMatrix(gen *protogen.Plugin, f *protogen.File, m *Manifest) {
	g := gen.NewGeneratedFile(f.GeneratedFilenamePrefix+MatrixSuffix, f.GoImportPath)
	g.P("// Code generated by ", PluginName, ". DO NOT EDIT.")
	g.P("// versions:")
	g.P("// - ", PluginName, " ", Version)
	g.P("// - protoc                 ", compilerVersion(gen))
	g.P("// source: ", f.Desc.Path())
	g.P()
	g.P("package ", f.GoPackageName)
	g.P()
	for i, s := range f.Services {
		genMatrix(g, s, m.Services[i])
	}
}

func genMatrix(g *protogen.GeneratedFile, s *protogen.Service, ms ManifestService) {
	name := matrixVar(s)
	g.P("// ", name, " is the auth matrix of ", s.Desc.FullName(), ": for every method,")
	g.P("// the calls its rule allows and those it denies, with the reason, computed")
	g.P("// from the same rules as ", newNames(s).rules, ". Drive it against a server with")
	g.P("// authtest.RunMatrix in a test.")
	g.P("var ", name, " = &", authmatrixPackage.Ident("Service"), "{")
	g.P("Name: ", strconv.Quote(ms.Name), ",")
	g.P("Methods: []", authmatrixPackage.Ident("Method"), "{")
	for j, m := range s.Methods {
		mm := ms.Methods[j]
		cases, skipped := matrixCases(mm)
		g.P("{")
		g.P("FullMethod: ", strconv.Quote(mm.FullMethod), ",")
		g.P("Type: ", authmatrixPackage.Ident(matrixType(mm.Type)), ",")
		g.P("NewRequest: func() any { return new(", m.Input.GoIdent, ") },")
		g.P("NewResponse: func() any { return new(", m.Output.GoIdent, ") },")
		if mm.Condition != "" {
			g.P("Condition: true,")
		}
		g.P("Cases: []", authmatrixPackage.Ident("Case"), "{")
		for _, c := range cases {
			line := []any{"{Name: ", strconv.Quote(c.name)}
			if c.kind != "" {
				line = append(line, ", Credential: ", runtimePackage.Ident(runtimeKindName(c.kind)))
			}
			if len(c.scopes) > 0 {
				quoted := make([]string, len(c.scopes))
				for i, sc := range c.scopes {
					quoted[i] = strconv.Quote(sc)
				}
				line = append(line, ", Scopes: []string{", strings.Join(quoted, ", "), "}")
			}
			if c.endUser != "" {
				line = append(line, ", EndUser: ", runtimePackage.Ident(runtimeKindName(c.endUser)))
				if len(c.endUserScopes) > 0 {
					quoted := make([]string, len(c.endUserScopes))
					for i, sc := range c.endUserScopes {
						quoted[i] = strconv.Quote(sc)
					}
					line = append(line, ", EndUserScopes: []string{", strings.Join(quoted, ", "), "}")
				}
			}
			if c.plaintext {
				line = append(line, ", Transport: ", authmatrixPackage.Ident("Plaintext"))
			}
			if c.want != "" {
				line = append(line, ", Want: ", runtimePackage.Ident(c.want))
			}
			g.P(append(line, "},")...)
		}
		for _, sk := range skipped {
			g.P("// Not a case: ", sk, ".")
		}
		g.P("},")
		g.P("},")
	}
	g.P("},")
	g.P("}")
	g.P()
}

func matrixType(t string) string {
	switch t {
	case MethodServerStreaming:
		return "ServerStreaming"
	case MethodClientStreaming:
		return "ClientStreaming"
	case MethodBidiStreaming:
		return "BidiStreaming"
	}
	return "Unary"
}

func runtimeKindName(k string) string {
	switch k {
	case "BEARER_JWT":
		return "BearerJWT"
	case "OAUTH2_TOKEN":
		return "OAuth2Token"
	case "API_KEY":
		return "APIKey"
	}
	return "MTLS"
}
