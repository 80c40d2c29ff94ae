// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ConditionEvaluator evaluates a method's compiled condition against the
// principal, the workload (nil but on a call made on behalf of an end user,
// whose end user is then p) and the decoded request (nil when the condition
// is decided at stream open). An error denies the call; its text goes into
// the denial's log line and audit detail, so it must hold no value of the
// request or the principals (runtime/celcond's errors name a kind and a
// position).
type ConditionEvaluator interface {
	Evaluate(ctx context.Context, p, workload *Principal, request any) (bool, error)
}

// Version is the release of this module: the runtime and the plugin
// (protoc-gen-go-grpcauth --version) are released together under it.
const Version = "v0.1.0"

// SupportPackageIsVersion1 is referenced by generated code to check, at
// compile time, that it is compatible with this runtime. Newer runtimes keep
// old constants; a generated file that needs a newer runtime fails to
// compile ("undefined: runtime.SupportPackageIsVersionN") until the module
// is updated to the plugin's version:
//
//	go get github.com/grpcauth/protoc-gen-go-grpcauth@<the version in the generated file's header>
//
// For generated code; applications do not call it.
const SupportPackageIsVersion1 = true

// CredentialKind is a kind of credential a caller can present. The values
// mirror grpcauth.v1.CredentialKind.
type CredentialKind uint8

// The credential kinds.
const (
	// NoCredential is the kind of no credential at all.
	NoCredential CredentialKind = iota
	// BearerJWT is a signed JWT in `authorization: Bearer <jwt>`.
	BearerJWT
	// OAuth2Token is an opaque OAuth2 token checked by RFC 7662 introspection.
	OAuth2Token
	// APIKey is an API key.
	APIKey
	// MTLS is a verified TLS client certificate.
	MTLS

	numCredentialKinds = iota // how many kinds there are
)

// String returns the kind's name as written in .proto files, such as
// "BEARER_JWT".
func (k CredentialKind) String() string {
	switch k {
	case NoCredential:
		return "NONE"
	case BearerJWT:
		return "BEARER_JWT"
	case OAuth2Token:
		return "OAUTH2_TOKEN"
	case APIKey:
		return "API_KEY"
	case MTLS:
		return "MTLS"
	}
	return "UNKNOWN_KIND"
}

// Transport is what the connection a call arrives on must be.
type Transport uint8

// The transports.
const (
	// AnyTransport accepts plaintext and TLS connections.
	AnyTransport Transport = iota
	// TLSRequired refuses calls that do not arrive over TLS.
	TLSRequired
)

// Requirement is one way to be allowed: a credential of any of the
// Credentials kinds that holds all of the Scopes. With OnBehalfOf, that
// credential is a workload's (MTLS or APIKey) and the call must also carry
// an end user's bearer token that meets OnBehalfOf.
type Requirement struct {
	Credentials []CredentialKind
	Scopes      []string
	// OnBehalfOf is the end user the workload calls for, or nil.
	OnBehalfOf *EndUser
}

// EndUser is what a requirement asks of the end user a workload calls for:
// a bearer token of any of the Credentials kinds (BearerJWT, OAuth2Token)
// that holds all of the Scopes.
type EndUser struct {
	Credentials []CredentialKind
	Scopes      []string
}

// accepts reports whether a single credential of kind k can meet r: r has
// no end user and takes k.
func (r *Requirement) accepts(k CredentialKind) bool {
	return r.OnBehalfOf == nil && hasKind(r.Credentials, k)
}

// acceptsPair reports whether r takes a workload credential of kind w
// with an end user's token of kind u.
func (r *Requirement) acceptsPair(w, u CredentialKind) bool {
	return r.OnBehalfOf != nil && hasKind(r.Credentials, w) && hasKind(r.OnBehalfOf.Credentials, u)
}

func hasKind(kinds []CredentialKind, k CredentialKind) bool {
	for _, c := range kinds {
		if c == k {
			return true
		}
	}
	return false
}

// Rule is the effective auth rule of one method, computed by the generator.
// Generated code declares one Rule per method. An [Enforcer] decides from
// its own deep copy, taken when the rule is added: changing a Rule (or the
// generated XxxAuthRules table holding it) afterwards changes no decision.
type Rule struct {
	// FullMethod is the method's name as gRPC sees it: "/pkg.Service/Method".
	FullMethod string
	// Public marks a method callable by anybody; PublicReason says why.
	Public       bool
	PublicReason string
	// Requirements are alternatives: the call is allowed when any one is met.
	Requirements []Requirement
	// Transport is the transport the call must arrive on.
	Transport Transport
	// Optional marks a method callable without a credential (authentication:
	// OPTIONAL): a call that sends none is allowed with no principal, a call
	// that sends one is decided as if Optional were false.
	Optional bool
	// Condition is a CEL expression evaluated after a requirement is met,
	// by Evaluator. A rule with a Condition and no Evaluator denies every
	// call: a condition is never ignored.
	Condition string
	// Evaluator evaluates Condition; generated code compiles it with
	// package runtime/celcond when the program starts.
	Evaluator ConditionEvaluator
	// ConditionAtOpen marks a client- or bidi-streaming method: its
	// condition cannot read the request and is decided when the stream
	// opens. Otherwise the condition is decided once the request is decoded,
	// before the handler runs.
	ConditionAtOpen bool
	// Undeclared marks a method that has no rule in its .proto and was
	// generated with unannotated=deny: every call is refused.
	Undeclared bool
	// Source names the proto element the access was declared on, such as
	// "library.v1.LibraryService" (inherited from the service). For audit.
	Source string
	// DryRun puts the method in dry-run (`dry_run: true` in the .proto, or
	// [WithDryRun] on the enforcer's copy): would-be denials are reported
	// with outcome would_deny and the call proceeds as it would without
	// the rule; the handler sees a principal only when the credential
	// verified. An allowed call costs nothing more for it.
	DryRun bool

	// dryRunByOption marks an enforcer's copy put in dry-run by WithDryRun.
	dryRunByOption bool
	// kinds is what accepts, takesWorkload and takesEndUser find in the
	// requirements, for each kind, in an enforcer's own copy (clone): a
	// look-up in place of a walk of the requirements on every call.
	kinds ruleKinds
}

// ruleKinds holds, as one bit per CredentialKind, the kinds some
// requirement of a rule accepts alone, takes as a workload's and takes as
// an end user's; set tells that they were computed.
type ruleKinds struct {
	set                      bool
	alone, workload, endUser uint32
}

// Every kind has its bit in ruleKinds (a compile error otherwise). A kind
// beyond them, which no authenticator makes and kindOf never returns, has
// none: it is accepted by no owned rule.
var _ [32 - numCredentialKinds]struct{}

// kindBit is k's bit in ruleKinds, 0 for a kind out of its range.
func kindBit(k CredentialKind) uint32 {
	if k >= 32 {
		return 0
	}
	return 1 << k
}

// clone returns a deep copy of r: nothing of it is shared with r but the
// Evaluator (a compiled program, immutable).
func (r *Rule) clone() *Rule {
	c := *r
	if r.Requirements != nil {
		c.Requirements = make([]Requirement, len(r.Requirements))
		for i, req := range r.Requirements {
			c.Requirements[i] = Requirement{
				Credentials: append([]CredentialKind(nil), req.Credentials...),
				Scopes:      append([]string(nil), req.Scopes...),
			}
			if req.OnBehalfOf != nil {
				c.Requirements[i].OnBehalfOf = &EndUser{
					Credentials: append([]CredentialKind(nil), req.OnBehalfOf.Credentials...),
					Scopes:      append([]string(nil), req.OnBehalfOf.Scopes...),
				}
			}
		}
	}
	c.kinds = ruleKinds{}
	for k := CredentialKind(0); k < numCredentialKinds; k++ {
		if c.accepts(k) {
			c.kinds.alone |= kindBit(k)
		}
		if c.takesWorkload(k) {
			c.kinds.workload |= kindBit(k)
		}
		if c.takesEndUser(k) {
			c.kinds.endUser |= kindBit(k)
		}
	}
	c.kinds.set = true
	return &c
}

// check refuses what the generator refuses and the decision relies on
// never seeing, for rules written by hand: an optional rule with a
// condition (a call without a credential would skip it), and a requirement
// with an end user whose kinds are not a workload's and a bearer token's.
func (r *Rule) check() error {
	if r.Optional && r.Condition != "" {
		return errors.New("an optional rule cannot have a condition")
	}
	for i := range r.Requirements {
		obo := r.Requirements[i].OnBehalfOf
		if obo == nil {
			continue
		}
		for _, k := range r.Requirements[i].Credentials {
			if k != MTLS && k != APIKey {
				return fmt.Errorf("requirement %d: the workload's kind %s is not MTLS or API_KEY", i, k)
			}
		}
		for _, k := range obo.Credentials {
			if k != BearerJWT && k != OAuth2Token {
				return fmt.Errorf("requirement %d: the end user's kind %s is not BEARER_JWT or OAUTH2_TOKEN", i, k)
			}
		}
		if len(r.Requirements[i].Credentials) == 0 || len(obo.Credentials) == 0 {
			return fmt.Errorf("requirement %d: no kinds", i)
		}
	}
	return nil
}

// frozen returns the enforcer's own copy of r.
func (r *Rule) frozen() *Rule {
	own := r.clone()
	own.dryRunByOption = false
	return own
}

// acceptedKinds returns the distinct credential kinds of all requirements
// (a workload's kinds for a requirement with an end user), in order of
// first appearance.
func (r *Rule) acceptedKinds() []CredentialKind {
	var out []CredentialKind
	for i := range r.Requirements {
		out = addKinds(out, r.Requirements[i].Credentials)
	}
	return out
}

// endUserKinds returns the distinct kinds of end-user token the rule's
// requirements take, in order of first appearance; none when no
// requirement has an end user.
func (r *Rule) endUserKinds() []CredentialKind {
	var out []CredentialKind
	for i := range r.Requirements {
		if obo := r.Requirements[i].OnBehalfOf; obo != nil {
			out = addKinds(out, obo.Credentials)
		}
	}
	return out
}

// workloadKinds returns the distinct workload kinds of the requirements
// that have an end user.
func (r *Rule) workloadKinds() []CredentialKind {
	var out []CredentialKind
	for i := range r.Requirements {
		if r.Requirements[i].OnBehalfOf != nil {
			out = addKinds(out, r.Requirements[i].Credentials)
		}
	}
	return out
}

func addKinds(out, kinds []CredentialKind) []CredentialKind {
	for _, k := range kinds {
		if !hasKind(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// accepts reports whether a single credential of kind k can meet some
// requirement.
func (r *Rule) accepts(k CredentialKind) bool {
	if r.kinds.set {
		return r.kinds.alone&kindBit(k) != 0
	}
	for i := range r.Requirements {
		if r.Requirements[i].accepts(k) {
			return true
		}
	}
	return false
}

// takesWorkload reports whether some requirement takes a workload
// credential of kind k with an end user's token.
func (r *Rule) takesWorkload(k CredentialKind) bool {
	if r.kinds.set {
		return r.kinds.workload&kindBit(k) != 0
	}
	for i := range r.Requirements {
		if obo := r.Requirements[i].OnBehalfOf; obo != nil && hasKind(r.Requirements[i].Credentials, k) {
			return true
		}
	}
	return false
}

// takesEndUser reports whether some requirement takes an end user's token
// of kind k.
func (r *Rule) takesEndUser(k CredentialKind) bool {
	if r.kinds.set {
		return r.kinds.endUser&kindBit(k) != 0
	}
	for i := range r.Requirements {
		if obo := r.Requirements[i].OnBehalfOf; obo != nil && hasKind(obo.Credentials, k) {
			return true
		}
	}
	return false
}

func kindList(kinds []CredentialKind) string {
	var b strings.Builder
	for i, k := range kinds {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k.String())
	}
	return b.String()
}

// ServiceRules are the rules of every method of one service, as generated.
type ServiceRules struct {
	// Service is the service's full proto name, such as "library.v1.LibraryService".
	Service string
	// Methods holds one rule per method of the service.
	Methods []*Rule
}

// Lookup returns the rule of fullMethod ("/pkg.Service/Method"), or nil.
func (s *ServiceRules) Lookup(fullMethod string) *Rule {
	for _, r := range s.Methods {
		if r.FullMethod == fullMethod {
			return r
		}
	}
	return nil
}
