// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package loosening is grpcauth-check as a library: [Compare] finds every
// change between two sets of manifests (generator.Manifest) and classes it
// as a loosening, a tightening or information; [Run] is the whole command
// over given arguments and output.
package loosening

import (
	"fmt"
	"slices"
	"strings"

	"github.com/grpcauth/protoc-gen-go-grpcauth/cmd/protoc-gen-go-grpcauth/generator"
)

// Kind is the kind of a change, stable: an allow file names it.
type Kind string

// The loosenings: each lets some call through that was refused before.
const (
	// MadePublic: a method that needed a credential (or was undeclared) is public.
	MadePublic Kind = "MADE_PUBLIC"
	// RequirementAdded: a new alternative lets callers in that no old one did.
	RequirementAdded Kind = "REQUIREMENT_ADDED"
	// CredentialKindAdded: a requirement accepts a credential kind it did not.
	CredentialKindAdded Kind = "CREDENTIAL_KIND_ADDED"
	// ScopeRemoved: a requirement no longer needs a scope.
	ScopeRemoved Kind = "SCOPE_REMOVED"
	// ConditionRemoved: the method's condition is gone.
	ConditionRemoved Kind = "CONDITION_REMOVED"
	// ConditionChanged: the condition is another expression; whether it
	// allows more cannot be decided, so it counts as a loosening.
	ConditionChanged Kind = "CONDITION_CHANGED"
	// TLSRequiredLifted: TLS_REQUIRED no longer holds; plaintext calls pass.
	TLSRequiredLifted Kind = "TLS_REQUIRED_LIFTED"
	// Declared: a method generated with unannotated=deny (every call
	// denied) now has requirements.
	Declared Kind = "DECLARED"
	// PublicMethodAdded: a new method is public.
	PublicMethodAdded Kind = "PUBLIC_METHOD_ADDED"
	// DryRunEnabled: a method's rule is now dry-run (`dry_run: true`:
	// denials reported, calls let through).
	DryRunEnabled Kind = "DRY_RUN_ENABLED"
	// DryRunMethodAdded: a new method's rule is dry-run.
	DryRunMethodAdded Kind = "DRY_RUN_METHOD_ADDED"
	// AuthenticationMadeOptional: a call without any credential is now
	// allowed (authentication: OPTIONAL).
	AuthenticationMadeOptional Kind = "AUTHENTICATION_MADE_OPTIONAL"
	// OptionalMethodAdded: a new method lets calls without a credential in.
	OptionalMethodAdded Kind = "OPTIONAL_METHOD_ADDED"
	// EndUserKindAdded: a requirement with on_behalf_of accepts another
	// kind of end-user token.
	EndUserKindAdded Kind = "END_USER_KIND_ADDED"
	// EndUserScopeRemoved: a requirement with on_behalf_of no longer needs
	// a scope of the end user.
	EndUserScopeRemoved Kind = "END_USER_SCOPE_REMOVED"
	// CertificateUnpaired: no requirement takes a client certificate on
	// behalf of an end user any more, so a bearer token sent over a
	// connection with a certificate is decided alone, by the requirements
	// of one credential, and some such call passes that was refused.
	CertificateUnpaired Kind = "CERTIFICATE_UNPAIRED"
)

// The tightenings: each refuses some call that passed before.
const (
	PublicRemoved         Kind = "PUBLIC_REMOVED"
	RequirementRemoved    Kind = "REQUIREMENT_REMOVED"
	CredentialKindRemoved Kind = "CREDENTIAL_KIND_REMOVED"
	ScopeAdded            Kind = "SCOPE_ADDED"
	ConditionAdded        Kind = "CONDITION_ADDED"
	TLSRequiredAdded      Kind = "TLS_REQUIRED_ADDED"
	// MadeUndeclared: a method with a rule now has none and is denied to
	// every caller (unannotated=deny).
	MadeUndeclared Kind = "MADE_UNDECLARED"
	DryRunDisabled Kind = "DRY_RUN_DISABLED"
	// AuthenticationMadeRequired: a call without a credential is refused
	// again.
	AuthenticationMadeRequired Kind = "AUTHENTICATION_MADE_REQUIRED"
	EndUserKindRemoved         Kind = "END_USER_KIND_REMOVED"
	EndUserScopeAdded          Kind = "END_USER_SCOPE_ADDED"
	// CertificatePaired: a requirement now takes a client certificate on
	// behalf of an end user, so a bearer token sent over a connection with
	// a certificate is decided as such a pair, not alone, and some such
	// call is refused that passed.
	CertificatePaired Kind = "CERTIFICATE_PAIRED"
	MethodRemoved     Kind = "METHOD_REMOVED"
	MethodAdded       Kind = "METHOD_ADDED"
	ReasonChanged     Kind = "PUBLIC_REASON_CHANGED"
	RequirementsSet   Kind = "REQUIREMENTS_REWRITTEN"
)

// Class is what a change does to who may call.
type Class int

// The classes.
const (
	// Info changes nobody's access: a method added with a rule or
	// undeclared, a method removed, a public reason reworded, requirements
	// rewritten so that they allow exactly whom they allowed.
	Info Class = iota
	// Tightening refuses some calls that passed before.
	Tightening
	// Loosening lets through some calls that were refused before.
	Loosening
)

func (c Class) String() string {
	switch c {
	case Loosening:
		return "loosening"
	case Tightening:
		return "tightening"
	}
	return "info"
}

// ClassOf returns the class of k.
func ClassOf(k Kind) Class {
	switch k {
	case MadePublic, RequirementAdded, CredentialKindAdded, ScopeRemoved, ConditionRemoved,
		ConditionChanged, TLSRequiredLifted, Declared, PublicMethodAdded, DryRunEnabled, DryRunMethodAdded,
		AuthenticationMadeOptional, OptionalMethodAdded, EndUserKindAdded, EndUserScopeRemoved, CertificateUnpaired:
		return Loosening
	case PublicRemoved, RequirementRemoved, CredentialKindRemoved, ScopeAdded, ConditionAdded,
		TLSRequiredAdded, MadeUndeclared, DryRunDisabled, AuthenticationMadeRequired, EndUserKindRemoved,
		EndUserScopeAdded, CertificatePaired:
		return Tightening
	}
	return Info
}

// Change is one difference between the old and the new rule of a method.
type Change struct {
	// Method is the method's full proto name, "library.v1.LibraryService.GetBook".
	Method string
	// Kind is what changed.
	Kind Kind
	// Detail narrows the change, for an allow file to match: the scope
	// (SCOPE_REMOVED, SCOPE_ADDED), the credential kind
	// (CREDENTIAL_KIND_ADDED, CREDENTIAL_KIND_REMOVED), the requirement
	// (REQUIREMENT_ADDED, REQUIREMENT_REMOVED, as "BEARER_JWT or MTLS with
	// scopes a and b"); empty otherwise.
	Detail string
	// Message says what changed, for a person.
	Message string
}

// Class returns the change's class.
func (c Change) Class() Class { return ClassOf(c.Kind) }

// String returns "<class>: <method>: <KIND>[ "<detail>"]: <message>", the
// line grpcauth-check prints.
func (c Change) String() string {
	kind := string(c.Kind)
	if c.Detail != "" {
		kind += fmt.Sprintf(" %q", c.Detail)
	}
	return fmt.Sprintf("%s: %s: %s: %s", c.Class(), c.Method, kind, c.Message)
}

// Compare returns every change from the methods of old to those of new:
// for each method of new in manifest order, then each method only old has.
// Methods are matched by full name across files, so that a method moved to
// another file is the same method.
func Compare(old, new []*generator.Manifest) []Change {
	before := map[string]generator.ManifestMethod{}
	var beforeOrder []string
	for _, m := range old {
		for _, s := range m.Services {
			for _, mm := range s.Methods {
				before[mm.Name] = mm
				beforeOrder = append(beforeOrder, mm.Name)
			}
		}
	}
	seen := map[string]bool{}
	var out []Change
	for _, m := range new {
		for _, s := range m.Services {
			for _, mm := range s.Methods {
				seen[mm.Name] = true
				o, ok := before[mm.Name]
				if !ok {
					out = append(out, added(mm)...)
					continue
				}
				out = append(out, compareMethod(o, mm)...)
			}
		}
	}
	for _, name := range beforeOrder {
		if !seen[name] {
			out = append(out, Change{Method: name, Kind: MethodRemoved, Message: "removed (was " + describe(before[name]) + ")"})
			seen[name] = true
		}
	}
	return out
}

func added(m generator.ManifestMethod) []Change {
	var out []Change
	switch m.Access {
	case generator.AccessPublic:
		out = append(out, Change{Method: m.Name, Kind: PublicMethodAdded, Message: "new public method (" + m.PublicReason + ")"})
	case generator.AccessRequirements:
		if optional(m) {
			out = append(out, Change{Method: m.Name, Kind: OptionalMethodAdded, Message: "new method, callable without a credential: " + describe(m)})
			break
		}
		out = append(out, Change{Method: m.Name, Kind: MethodAdded, Message: "new method: " + describe(m)})
	default:
		out = append(out, Change{Method: m.Name, Kind: MethodAdded, Message: "new method: " + describe(m)})
	}
	if m.DryRun {
		out = append(out, Change{Method: m.Name, Kind: DryRunMethodAdded, Message: "new method in dry-run: its denials are reported, its calls let through"})
	}
	return out
}

// compareMethod returns the changes from o to n, one method.
func compareMethod(o, n generator.ManifestMethod) []Change {
	var out []Change
	add := func(k Kind, detail, format string, args ...any) {
		out = append(out, Change{Method: n.Name, Kind: k, Detail: detail, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case o.Access == n.Access && n.Access == generator.AccessRequirements:
		out = append(out, compareRules(n.Name, o.Requirements, n.Requirements)...)
		switch oo, no := optional(o), optional(n); {
		case !oo && no:
			add(AuthenticationMadeOptional, "", "authentication optional: calls without a credential are allowed")
		case oo && !no:
			add(AuthenticationMadeRequired, "", "authentication required: calls without a credential are refused")
		}
	case o.Access == n.Access && n.Access == generator.AccessPublic:
		if o.PublicReason != n.PublicReason {
			add(ReasonChanged, "", "public reason was %q, now %q", o.PublicReason, n.PublicReason)
		}
	case o.Access == n.Access:
		// Both undeclared: nothing passes either way.
	case n.Access == generator.AccessPublic:
		add(MadePublic, "", "now public (%s); was %s", n.PublicReason, describe(o))
	case o.Access == generator.AccessUndeclared:
		add(Declared, "", "was undeclared (every call denied), now %s", describe(n))
	case n.Access == generator.AccessUndeclared:
		add(MadeUndeclared, "", "now undeclared (every call denied); was %s", describe(o))
	default: // public → requirements
		add(PublicRemoved, "", "no longer public; now %s", describe(n))
	}
	// An undeclared method refuses everything whatever its transport and
	// condition: from or to one, those do not change who may call.
	if o.Access != generator.AccessUndeclared && n.Access != generator.AccessUndeclared {
		switch {
		case o.Transport == generator.TransportTLSRequired && n.Transport != generator.TransportTLSRequired:
			add(TLSRequiredLifted, "", "TLS_REQUIRED lifted: calls in plaintext are accepted")
		case o.Transport != generator.TransportTLSRequired && n.Transport == generator.TransportTLSRequired:
			add(TLSRequiredAdded, "", "TLS_REQUIRED: calls in plaintext are refused")
		}
		switch {
		case o.Condition != "" && n.Condition == "":
			add(ConditionRemoved, "", "condition %q removed", o.Condition)
		case o.Condition != "" && o.Condition != n.Condition:
			add(ConditionChanged, "", "condition was %q, now %q", o.Condition, n.Condition)
		case o.Condition == "" && n.Condition != "":
			add(ConditionAdded, "", "condition %q added", n.Condition)
		}
		// Dry-run, once it exists (DESIGN §5): a rule whose denials let calls
		// through allows everything.
		switch {
		case !o.DryRun && n.DryRun:
			add(DryRunEnabled, "", "now in dry-run: its denials are reported, its calls let through")
		case o.DryRun && !n.DryRun:
			add(DryRunDisabled, "", "no longer in dry-run: its denials are enforced")
		}
	}
	return out
}

func optional(m generator.ManifestMethod) bool {
	return m.Authentication == generator.AuthenticationOptional
}

// req is a requirement as sets: any kind of kinds, all scopes; with user,
// the kinds and scopes are a workload's, and user is the end user's.
type req struct {
	kinds, scopes []string
	user          *req
}

func (r req) String() string {
	s := strings.Join(r.kinds, " or ")
	switch len(r.scopes) {
	case 0:
		s += " with no scope"
	case 1:
		s += " with scope " + r.scopes[0]
	default:
		s += " with scopes " + strings.Join(r.scopes, " and ")
	}
	if r.user != nil {
		s += " on behalf of an end user's " + r.user.String()
	}
	return s
}

func reqsOf(in []generator.ManifestRequirement) []req {
	out := make([]req, len(in))
	for i, r := range in {
		out[i] = req{kinds: r.Credentials, scopes: r.Scopes}
		if obo := r.OnBehalfOf; obo != nil {
			out[i].user = &req{kinds: obo.Credentials, scopes: obo.Scopes}
		}
	}
	return out
}

// rule is a method's requirements as the decision sees them: a call of one
// credential is decided by single, a call of a workload's credential and
// an end user's token by pairs; but a client certificate beside a token,
// where no requirement takes a certificate on behalf of an end user, is
// not read, and the token is decided alone, by single.
type rule struct{ single, pairs []req }

func ruleOf(in []generator.ManifestRequirement) rule {
	var r rule
	for _, q := range reqsOf(in) {
		if q.user == nil {
			r.single = append(r.single, q)
		} else {
			r.pairs = append(r.pairs, q)
		}
	}
	return r
}

// pairsTake reports whether some requirement with an end user takes a
// workload of kind w.
func (r rule) pairsTake(w string) bool {
	for _, p := range r.pairs {
		if slices.Contains(p.kinds, w) {
			return true
		}
	}
	return false
}

// allowsPair reports whether a workload of kind w holding exactly ws,
// calling on behalf of an end user's token of kind u holding exactly us,
// is allowed.
func (r rule) allowsPair(w string, ws []string, u string, us []string) bool {
	if w == "MTLS" && !r.pairsTake("MTLS") {
		return allows(r.single, u, us) // the certificate is not read
	}
	for _, p := range r.pairs {
		if slices.Contains(p.kinds, w) && subset(p.scopes, ws) && slices.Contains(p.user.kinds, u) && subset(p.user.scopes, us) {
			return true
		}
	}
	return false
}

// bearerKinds are the kinds of an end user's token.
var bearerKinds = []string{"BEARER_JWT", "OAUTH2_TOKEN"}

// compareRules names the changes from the requirements o to n: those of
// one credential by compareRequirements, those with an end user by
// comparePairs, and the change in how a token over a connection with a
// client certificate is decided, when that changes.
func compareRules(method string, o, n []generator.ManifestRequirement) []Change {
	or, nr := ruleOf(o), ruleOf(n)
	out := compareRequirements(method, or.single, nr.single)
	out = append(out, comparePairs(method, or, nr)...)
	// A certificate beside a token is decided as a pair on one side and
	// the token alone on the other. The callers to look at are the least
	// the side deciding the token alone allows, with a certificate holding
	// no scope: its scopes do not matter to that side.
	switch {
	case or.pairsTake("MTLS") && !nr.pairsTake("MTLS"):
		if who, ok := aloneNotPaired(nr.single, or); ok {
			out = append(out, Change{Method: method, Kind: CertificateUnpaired, Message: "no requirement takes a client certificate on behalf of an end user any more: a token over a connection with a certificate is decided alone, and " + who + " passes there"})
		}
	case !or.pairsTake("MTLS") && nr.pairsTake("MTLS"):
		if who, ok := aloneNotPaired(or.single, nr); ok {
			out = append(out, Change{Method: method, Kind: CertificatePaired, Message: "a requirement now takes a client certificate on behalf of an end user: a token over a connection with a certificate is decided as that pair, and " + who + " is refused there"})
		}
	}
	return out
}

// aloneNotPaired finds a token that single allows alone and that paired
// refuses beside a client certificate holding no scope.
func aloneNotPaired(single []req, paired rule) (string, bool) {
	for _, r := range single {
		for _, u := range r.kinds {
			if slices.Contains(bearerKinds, u) && !paired.allowsPair("MTLS", nil, u, r.scopes) {
				return (req{kinds: []string{u}, scopes: r.scopes}).String(), true
			}
		}
	}
	return "", false
}

// comparePairs names the changes from the requirements with an end user of
// o to those of n, as compareRequirements does for those of one credential:
// an unchanged requirement matched first, then each new one to the old one
// it shares the most with (at least a workload kind and an end user's
// kind); each change is a loosening only when a caller it names (workload
// kind and scopes, end user's kind and scopes) is refused by o, a
// tightening only when one is refused by n, REQUIREMENTS_REWRITTEN
// otherwise.
func comparePairs(method string, o, n rule) []Change {
	pairOf := make([]int, len(n.pairs))
	usedOld := make([]bool, len(o.pairs))
	for i := range pairOf {
		pairOf[i] = -1
	}
	same := func(a, b req) bool {
		return sameSet(a.kinds, b.kinds) && sameSet(a.scopes, b.scopes) && sameSet(a.user.kinds, b.user.kinds) && sameSet(a.user.scopes, b.user.scopes)
	}
	for i, nr := range n.pairs {
		for j, or := range o.pairs {
			if !usedOld[j] && same(nr, or) {
				pairOf[i], usedOld[j] = j, true
				break
			}
		}
	}
	shared := func(a, b []string) int { return len(a) - len(minus(a, b)) }
	for {
		best, bi, bj := 0, -1, -1
		for i, nr := range n.pairs {
			if pairOf[i] >= 0 {
				continue
			}
			for j, or := range o.pairs {
				if usedOld[j] {
					continue
				}
				w, u := shared(nr.kinds, or.kinds), shared(nr.user.kinds, or.user.kinds)
				if w == 0 || u == 0 {
					continue
				}
				score := 2*(w+u) + shared(nr.scopes, or.scopes) + shared(nr.user.scopes, or.user.scopes)
				if score > best {
					best, bi, bj = score, i, j
				}
			}
		}
		if bi < 0 {
			break
		}
		pairOf[bi], usedOld[bj] = bj, true
	}
	var out, rewritten []Change
	// refusedBy reports whether r refuses one of the least callers of
	// workload kinds ws with scopes wsc, for end users of kinds us with
	// scopes usc.
	refusedBy := func(r rule, ws, wsc, us, usc []string) bool {
		for _, w := range ws {
			for _, u := range us {
				if !r.allowsPair(w, wsc, u, usc) {
					return true
				}
			}
		}
		return false
	}
	loose := func(c Change, ws, wsc, us, usc []string) {
		if refusedBy(o, ws, wsc, us, usc) {
			out = append(out, c)
			return
		}
		c.Message += ", which allows nobody the old requirements refused"
		rewritten = append(rewritten, c)
	}
	tight := func(c Change, ws, wsc, us, usc []string) {
		if refusedBy(n, ws, wsc, us, usc) {
			out = append(out, c)
			return
		}
		c.Message += ", which refuses nobody the old requirements allowed"
		rewritten = append(rewritten, c)
	}
	change := func(k Kind, detail, format string, args ...any) Change {
		return Change{Method: method, Kind: k, Detail: detail, Message: fmt.Sprintf(format, args...)}
	}
	for i, nr := range n.pairs {
		j := pairOf[i]
		if j < 0 {
			loose(change(RequirementAdded, nr.String(), "requirement added: %s", nr), nr.kinds, nr.scopes, nr.user.kinds, nr.user.scopes)
			continue
		}
		or := o.pairs[j]
		sharedW := minus(nr.kinds, minus(nr.kinds, or.kinds))
		sharedU := minus(nr.user.kinds, minus(nr.user.kinds, or.user.kinds))
		for _, k := range minus(nr.kinds, or.kinds) {
			loose(change(CredentialKindAdded, k, "requirement %s now accepts %s too", or, k), []string{k}, nr.scopes, nr.user.kinds, nr.user.scopes)
		}
		for _, k := range minus(or.kinds, nr.kinds) {
			tight(change(CredentialKindRemoved, k, "requirement %s no longer accepts %s", or, k), []string{k}, or.scopes, or.user.kinds, or.user.scopes)
		}
		for _, k := range minus(nr.user.kinds, or.user.kinds) {
			loose(change(EndUserKindAdded, k, "requirement %s now accepts an end user's %s too", or, k), nr.kinds, nr.scopes, []string{k}, nr.user.scopes)
		}
		for _, k := range minus(or.user.kinds, nr.user.kinds) {
			tight(change(EndUserKindRemoved, k, "requirement %s no longer accepts an end user's %s", or, k), or.kinds, or.scopes, []string{k}, or.user.scopes)
		}
		for _, s := range minus(or.scopes, nr.scopes) {
			loose(change(ScopeRemoved, s, "requirement %s no longer needs %s", or, s), sharedW, nr.scopes, sharedU, nr.user.scopes)
		}
		for _, s := range minus(nr.scopes, or.scopes) {
			tight(change(ScopeAdded, s, "requirement %s now needs %s too", or, s), sharedW, or.scopes, sharedU, or.user.scopes)
		}
		for _, s := range minus(or.user.scopes, nr.user.scopes) {
			loose(change(EndUserScopeRemoved, s, "requirement %s no longer needs %s of the end user", or, s), sharedW, nr.scopes, sharedU, nr.user.scopes)
		}
		for _, s := range minus(nr.user.scopes, or.user.scopes) {
			tight(change(EndUserScopeAdded, s, "requirement %s now needs %s of the end user too", or, s), sharedW, or.scopes, sharedU, or.user.scopes)
		}
	}
	for j, or := range o.pairs {
		if !usedOld[j] {
			tight(change(RequirementRemoved, or.String(), "requirement removed: %s", or), or.kinds, or.scopes, or.user.kinds, or.user.scopes)
		}
	}
	for _, c := range rewritten {
		c.Kind, c.Detail = RequirementsSet, ""
		out = append(out, c)
	}
	return out
}

// allows reports whether a caller with a credential of kind k holding
// exactly scopes is allowed by one of rs.
func allows(rs []req, k string, scopes []string) bool {
	for _, r := range rs {
		if slices.Contains(r.kinds, k) && subset(r.scopes, scopes) {
			return true
		}
	}
	return false
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func sameSet(a, b []string) bool { return subset(a, b) && subset(b, a) }

// compareRequirements names the changes from the alternatives o to n.
// Requirements have no names: an unchanged one is matched first, then each
// remaining new one to the old one it shares the most kinds and scopes with
// (at least one kind). What is left unmatched was added or removed. A
// loosening that lets in nobody new (a requirement split in two, one that
// another already covers), or a tightening that keeps out nobody, is
// reported as REQUIREMENTS_REWRITTEN instead: every caller a reported
// loosening names is one the old rule refused, and every caller the new
// rule lets in that the old refused is named by one; the same for
// tightenings the other way.
func compareRequirements(method string, o, n []req) []Change {
	pairOf := make([]int, len(n)) // index in o, or -1
	usedOld := make([]bool, len(o))
	for i := range pairOf {
		pairOf[i] = -1
	}
	// Unchanged requirements.
	for i, nr := range n {
		for j, or := range o {
			if !usedOld[j] && sameSet(nr.kinds, or.kinds) && sameSet(nr.scopes, or.scopes) {
				pairOf[i], usedOld[j] = j, true
				break
			}
		}
	}
	// Changed ones, best match first.
	for {
		best, bi, bj := 0, -1, -1
		for i, nr := range n {
			if pairOf[i] >= 0 {
				continue
			}
			for j, or := range o {
				if usedOld[j] {
					continue
				}
				shared := len(nr.kinds) - len(minus(nr.kinds, or.kinds))
				if shared == 0 {
					continue
				}
				score := 2*shared + len(nr.scopes) - len(minus(nr.scopes, or.scopes))
				if score > best {
					best, bi, bj = score, i, j
				}
			}
		}
		if bi < 0 {
			break
		}
		pairOf[bi], usedOld[bj] = bj, true
	}

	var out, rewritten []Change
	// loose reports c as a loosening when the callers it names (kind k with
	// scopes) include one the old rule refused, as a rewrite otherwise.
	loose := func(c Change, kinds []string, scopes []string) {
		for _, k := range kinds {
			if !allows(o, k, scopes) {
				out = append(out, c)
				return
			}
		}
		c.Message += ", which allows nobody the old requirements refused"
		rewritten = append(rewritten, c)
	}
	// tight does the same for a tightening: c when the callers it names
	// (kind k with scopes, allowed by the old rule) include one the new rule
	// refuses, a rewrite otherwise.
	tight := func(c Change, kinds []string, scopes []string) {
		for _, k := range kinds {
			if !allows(n, k, scopes) {
				out = append(out, c)
				return
			}
		}
		c.Message += ", which refuses nobody the old requirements allowed"
		rewritten = append(rewritten, c)
	}
	for i, nr := range n {
		j := pairOf[i]
		if j < 0 {
			loose(Change{Method: method, Kind: RequirementAdded, Detail: nr.String(), Message: "requirement added: " + nr.String()}, nr.kinds, nr.scopes)
			continue
		}
		or := o[j]
		for _, k := range minus(nr.kinds, or.kinds) {
			loose(Change{Method: method, Kind: CredentialKindAdded, Detail: k, Message: fmt.Sprintf("requirement %s now accepts %s too", or, k)}, []string{k}, nr.scopes)
		}
		for _, k := range minus(or.kinds, nr.kinds) {
			tight(Change{Method: method, Kind: CredentialKindRemoved, Detail: k, Message: fmt.Sprintf("requirement %s no longer accepts %s", or, k)}, []string{k}, or.scopes)
		}
		shared := minus(nr.kinds, minus(nr.kinds, or.kinds))
		for _, s := range minus(or.scopes, nr.scopes) {
			loose(Change{Method: method, Kind: ScopeRemoved, Detail: s, Message: fmt.Sprintf("requirement %s no longer needs %s", or, s)}, shared, nr.scopes)
		}
		for _, s := range minus(nr.scopes, or.scopes) {
			tight(Change{Method: method, Kind: ScopeAdded, Detail: s, Message: fmt.Sprintf("requirement %s now needs %s too", or, s)}, shared, or.scopes)
		}
	}
	for j, or := range o {
		if !usedOld[j] {
			tight(Change{Method: method, Kind: RequirementRemoved, Detail: or.String(), Message: "requirement removed: " + or.String()}, or.kinds, or.scopes)
		}
	}
	for _, c := range rewritten {
		c.Kind, c.Detail = RequirementsSet, ""
		out = append(out, c)
	}
	return out
}

// describe renders a method's rule for a message.
func describe(m generator.ManifestMethod) string {
	var b strings.Builder
	switch m.Access {
	case generator.AccessUndeclared:
		return "undeclared (every call denied)"
	case generator.AccessPublic:
		fmt.Fprintf(&b, "public (%s)", m.PublicReason)
	default:
		for i, r := range reqsOf(m.Requirements) {
			if i > 0 {
				b.WriteString("; or ")
			}
			b.WriteString(r.String())
		}
		if optional(m) {
			b.WriteString("; or no credential (authentication optional)")
		}
	}
	if m.Transport == generator.TransportTLSRequired {
		b.WriteString(", over TLS only")
	}
	if m.Condition != "" {
		fmt.Fprintf(&b, ", if %s", m.Condition)
	}
	return b.String()
}
