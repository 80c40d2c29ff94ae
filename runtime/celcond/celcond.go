// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package celcond compiles and evaluates the CEL conditions of grpcauth
// rules. Generated code imports it only for services that have a
// condition, so services without conditions do not link CEL.
//
// A condition sees two variables: `request`, the typed request message
// (absent for client- and bidi-streaming methods, whose conditions are
// decided when the stream opens), and `principal`, a grpcauth.v1.Principal
// (kind, subject, issuer, scopes, claims). It must be of type bool; the
// generator type-checks it against the request descriptor, so a typo fails
// `buf generate`. At run time a condition is compiled once, when the
// program starts; a false result denies with PERMISSION_DENIED
// CONDITION_FAILED, and so does an evaluation error (a missing claim, a
// claim of the wrong type): never OK, never a panic.
package celcond

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/structpb"

	grpcauthv1 "github.com/grpcauth/protoc-gen-go-grpcauth/authoptions/grpcauth/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// Env returns the CEL environment a condition runs in: `principal`
// always, `request` of request's type when request is not nil.
func Env(request proto.Message) (*cel.Env, error) {
	if request == nil {
		return newEnv(nil)
	}
	return newEnv(request.ProtoReflect().Descriptor(), cel.Types(request))
}

// CheckEnv is the environment the generator type-checks a condition in,
// with the same declarations as [Env]: the request type (nil for none)
// comes from descriptors, resolved in files.
func CheckEnv(files *protoregistry.Files, request protoreflect.MessageDescriptor) (*cel.Env, error) {
	if request == nil {
		return newEnv(nil)
	}
	return newEnv(request, cel.TypeDescs(files))
}

// newEnv declares principal and, with a request type, request; names
// resolve in the request's proto package, so its enums and messages are
// written as in the .proto (Order.ORDER_ASC).
func newEnv(request protoreflect.MessageDescriptor, types ...cel.EnvOption) (*cel.Env, error) {
	opts := append(types,
		cel.Types(&grpcauthv1.Principal{}),
		cel.Variable("principal", cel.ObjectType("grpcauth.v1.Principal")),
		cel.ASTValidators(literalPatterns{}, cel.ValidateRegexLiterals()))
	if request != nil {
		opts = append(opts,
			cel.Container(string(request.ParentFile().Package())),
			cel.Variable("request", cel.ObjectType(string(request.FullName()))))
	}
	return cel.NewEnv(opts...)
}

// maxCost bounds the evaluation cost of a condition with a comprehension
// (CEL's cost units, roughly one per operation and per element visited).
const maxCost = 1_000_000

// Program is a compiled condition. It implements runtime.ConditionEvaluator.
type Program struct {
	expr        string
	request     proto.Message
	hasRequest  bool
	readsClaims bool // claims are converted only for conditions that may read them

	once  sync.Once
	prg   cel.Program
	loops bool // has a comprehension: evaluated under the call's context
	err   error
}

// New returns the condition expr for request's type (nil for a condition
// decided at stream open), compiled by Prepare. Generated code declares its
// rules with New: package variables are initialised before the proto types
// they use are registered, so compiling waits for the enforcer, which calls
// Prepare when the rules are registered, at start-up; a condition that does
// not compile makes registration fail.
func New(expr string, request proto.Message) *Program {
	return &Program{expr: expr, request: request, hasRequest: request != nil, readsClaims: strings.Contains(expr, "claims")}
}

// Prepare compiles the condition, once.
func (p *Program) Prepare() error {
	p.once.Do(func() { p.prg, p.loops, p.err = compile(p.expr, p.request) })
	return p.err
}

var _ runtime.ConditionEvaluator = (*Program)(nil)

// Compile parses, type-checks and plans expr now. request is a zero
// message of the method's request type, or nil for a condition decided at
// stream open.
func Compile(expr string, request proto.Message) (*Program, error) {
	p := New(expr, request)
	if err := p.Prepare(); err != nil {
		return nil, err
	}
	return p, nil
}

// literalPatterns refuses matches() with a pattern that is not a string
// literal. A pattern from the request or a claim is the caller's to choose,
// and a short one can make matching take seconds ([^x]{1000} repeated,
// against a long field): CEL's cost model charges for the text, not for the
// pattern's program. A literal pattern is the service owner's, checked by
// cel.ValidateRegexLiterals when the condition is compiled.
type literalPatterns struct{}

func (literalPatterns) Name() string { return "grpcauth.literal_regex_patterns" }

func (literalPatterns) Validate(_ *cel.Env, _ cel.ValidatorConfig, a *celast.AST, iss *cel.Issues) {
	for _, call := range celast.MatchDescendants(celast.NavigateAST(a), celast.FunctionMatcher(overloads.Matches)) {
		c := call.AsCall()
		args := c.Args()
		i := 1 // matches(text, pattern)
		if c.IsMemberFunction() {
			i = 0 // text.matches(pattern)
		}
		if i < len(args) && args[i].Kind() != celast.LiteralKind {
			iss.ReportErrorAtID(args[i].ID(), "the pattern of matches() must be a string literal: a pattern taken from the call could be made to run for seconds")
		}
	}
}

// compile returns the program of expr and whether it has a comprehension
// (all, exists, map, filter...).
func compile(expr string, request proto.Message) (cel.Program, bool, error) {
	env, err := Env(request)
	if err != nil {
		return nil, false, fmt.Errorf("celcond: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, false, fmt.Errorf("celcond: condition %q: %w", expr, iss.Err())
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		return nil, false, fmt.Errorf("celcond: condition %q is of type %s, not bool", expr, ast.OutputType())
	}
	loops := false
	celast.PreOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		loops = loops || e.Kind() == celast.ComprehensionKind
	}))
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if loops {
		// A cost limit and interrupt checks bound what one call can spend
		// on a comprehension (over a large repeated field, or nested).
		// Without one, every operation runs once, each in time linear in
		// the request (matches() takes literal patterns only: see
		// literalPatterns); and CEL charges a call's cost after
		// the call, so a limit there could only stop the last operation
		// early, while tracking it more than doubles what a small
		// condition costs (BenchmarkEvaluate: 516 → 211 ns without it).
		opts = append(opts, cel.CostLimit(maxCost), cel.InterruptCheckFrequency(100))
	}
	prg, err := env.Program(ast, opts...)
	if err != nil {
		return nil, false, fmt.Errorf("celcond: condition %q: %w", expr, err)
	}
	return prg, loops, nil
}

// memoKey names the CEL view of a principal in Principal.Memo.
type memoKey struct{ withClaims bool }

// activation provides the two variables without building a map, and
// converts the principal only if the condition reads it.
type activation struct {
	request    any
	principal  *runtime.Principal
	withClaims bool
	converted  *grpcauthv1.Principal
	err        error
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "principal":
		if a.converted == nil && a.err == nil {
			var v any
			v, a.err = a.principal.Memo(memoKey{withClaims: a.withClaims}, func() (any, error) {
				return toProto(a.principal, a.withClaims)
			})
			a.converted, _ = v.(*grpcauthv1.Principal)
		}
		if a.err != nil {
			return nil, false
		}
		return a.converted, true
	case "request":
		return a.request, a.request != nil
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Evaluate runs the condition. Any evaluation error, and any result other
// than a bool, is an error: the caller denies.
func (p *Program) Evaluate(ctx context.Context, principal *runtime.Principal, request any) (result bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			result, err = false, fmt.Errorf("condition panicked: %v", r)
		}
	}()
	if err := p.Prepare(); err != nil {
		return false, err
	}
	if p.hasRequest {
		if _, ok := request.(proto.Message); !ok {
			return false, fmt.Errorf("the request is %T, not a proto message", request)
		}
	}
	if principal == nil {
		return false, fmt.Errorf("no principal")
	}
	act := &activation{request: request, principal: principal, withClaims: p.readsClaims}
	var out ref.Val
	if p.loops {
		// Interrupt checks run only inside comprehension loops: only
		// there does the call's context (a caller gone away) matter, and
		// only there is it worth ContextEval's cancellable context.
		out, _, err = p.prg.ContextEval(ctx, act)
	} else {
		out, _, err = p.prg.Eval(act)
	}
	if act.err != nil {
		return false, act.err
	}
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("the condition returned %s, not bool", out.Type())
	}
	return b, nil
}

// toProto converts the principal for CEL. Claims that JSON cannot hold are
// an error.
func toProto(p *runtime.Principal, withClaims bool) (*grpcauthv1.Principal, error) {
	out := &grpcauthv1.Principal{Kind: p.Kind.String(), Subject: p.Subject, Issuer: p.Issuer, Scopes: p.Scopes}
	if withClaims && len(p.Claims) > 0 {
		s, err := structpb.NewStruct(p.Claims) // checks and converts every claim
		if err != nil {
			keys := make([]string, 0, len(p.Claims))
			for k := range p.Claims {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return nil, fmt.Errorf("claims %v cannot be given to CEL: %w", keys, err)
		}
		out.Claims = s.Fields
	}
	return out, nil
}
