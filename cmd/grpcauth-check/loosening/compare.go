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
	MadeUndeclared  Kind = "MADE_UNDECLARED"
	DryRunDisabled  Kind = "DRY_RUN_DISABLED"
	MethodRemoved   Kind = "METHOD_REMOVED"
	MethodAdded     Kind = "METHOD_ADDED"
	ReasonChanged   Kind = "PUBLIC_REASON_CHANGED"
	RequirementsSet Kind = "REQUIREMENTS_REWRITTEN"
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
		ConditionChanged, TLSRequiredLifted, Declared, PublicMethodAdded, DryRunEnabled, DryRunMethodAdded:
		return Loosening
	case PublicRemoved, RequirementRemoved, CredentialKindRemoved, ScopeAdded, ConditionAdded,
		TLSRequiredAdded, MadeUndeclared, DryRunDisabled:
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
		out = append(out, compareRequirements(n.Name, o.Requirements, n.Requirements)...)
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

// req is a requirement as sets: any kind of kinds, all scopes.
type req struct {
	kinds, scopes []string
}

func (r req) String() string {
	s := strings.Join(r.kinds, " or ")
	switch len(r.scopes) {
	case 0:
		return s + " with no scope"
	case 1:
		return s + " with scope " + r.scopes[0]
	}
	return s + " with scopes " + strings.Join(r.scopes, " and ")
}

func reqsOf(in []generator.ManifestRequirement) []req {
	out := make([]req, len(in))
	for i, r := range in {
		out[i] = req{kinds: r.Credentials, scopes: r.Scopes}
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
func compareRequirements(method string, oldIn, newIn []generator.ManifestRequirement) []Change {
	o, n := reqsOf(oldIn), reqsOf(newIn)
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
	}
	if m.Transport == generator.TransportTLSRequired {
		b.WriteString(", over TLS only")
	}
	if m.Condition != "" {
		fmt.Fprintf(&b, ", if %s", m.Condition)
	}
	return b.String()
}
