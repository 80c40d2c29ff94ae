// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package celcond compiles and evaluates the CEL conditions of grpcauth
// rules. Generated code imports it only for services that have a
// condition, so services without conditions do not link CEL.
//
// A condition sees `request`, the typed request message (absent for
// client- and bidi-streaming methods, whose conditions are decided when the
// stream opens), and `principal`, a grpcauth.v1.Principal (kind, subject,
// issuer, scopes, claims). In a rule with an on_behalf_of requirement,
// `principal` is the end user and `workload`, a grpcauth.v1.Principal too,
// the workload acting for it; on a call that met another requirement of
// such a rule `workload` is absent, and reading it is an evaluation error. It must be of type bool; the
// generator type-checks it against the request descriptor, so a typo fails
// `buf generate`. At run time a condition is compiled once, when the
// program starts; a false result denies with PERMISSION_DENIED
// CONDITION_FAILED, and so does an evaluation error (a missing claim, a
// claim of the wrong type): never OK, never a panic. An evaluation error
// names its kind and its place in the condition, "no such key (1:17)",
// never a value of the request or the principal, so that it can be logged
// and audited.
package celcond

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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

// Env returns the CEL environment a condition runs in: `principal` and
// `workload` always, `request` of request's type when request is not nil.
// (The generator declares `workload` only for the rules that can have one:
// see [CheckEnv].)
func Env(request proto.Message) (*cel.Env, error) {
	if request == nil {
		return newEnv(nil, true)
	}
	return newEnv(request.ProtoReflect().Descriptor(), true, cel.Types(request))
}

// CheckEnv is the environment the generator type-checks a condition in,
// with the declarations of [Env] but `workload` only when workload is true
// (the rule has an on_behalf_of requirement): the request type (nil for
// none) comes from descriptors, resolved in files.
//
// For the generator; applications do not call it.
func CheckEnv(files *protoregistry.Files, request protoreflect.MessageDescriptor, workload bool) (*cel.Env, error) {
	if request == nil {
		return newEnv(nil, workload)
	}
	return newEnv(request, workload, cel.TypeDescs(files))
}

// newEnv declares principal, workload when asked, and, with a request
// type, request; names resolve in the request's proto package, so its
// enums and messages are written as in the .proto (Order.ORDER_ASC).
func newEnv(request protoreflect.MessageDescriptor, workload bool, types ...cel.EnvOption) (*cel.Env, error) {
	opts := append(types,
		cel.Types(&grpcauthv1.Principal{}),
		cel.Variable("principal", cel.ObjectType("grpcauth.v1.Principal")),
		cel.ASTValidators(literalPatterns{}, cel.ValidateRegexLiterals()))
	if workload {
		opts = append(opts, cel.Variable("workload", cel.ObjectType("grpcauth.v1.Principal")))
	}
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
	info  *celast.SourceInfo // positions of the checked expression's nodes, for errors
	loops bool               // has a comprehension: evaluated under the call's context
	err   error
}

// New returns the condition expr for request's type (nil for a condition
// decided at stream open), compiled by Prepare. Generated code declares its
// rules with New: package variables are initialised before the proto types
// they use are registered, so compiling waits for the enforcer, which calls
// Prepare when the rules are registered, at start-up; a condition that does
// not compile makes registration fail.
//
// For generated code; applications do not call it.
func New(expr string, request proto.Message) *Program {
	return &Program{expr: expr, request: request, hasRequest: request != nil, readsClaims: strings.Contains(expr, "claims")}
}

// Prepare compiles the condition, once.
func (p *Program) Prepare() error {
	p.once.Do(func() { p.prg, p.info, p.loops, p.err = compile(p.expr, p.request) })
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

// compile returns the program of expr, the positions of its nodes, and
// whether it has a comprehension (all, exists, map, filter...).
func compile(expr string, request proto.Message) (cel.Program, *celast.SourceInfo, bool, error) {
	env, err := Env(request)
	if err != nil {
		return nil, nil, false, fmt.Errorf("celcond: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, nil, false, fmt.Errorf("celcond: condition %q: %w", expr, iss.Err())
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		return nil, nil, false, fmt.Errorf("celcond: condition %q is of type %s, not bool", expr, ast.OutputType())
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
		return nil, nil, false, fmt.Errorf("celcond: condition %q: %w", expr, err)
	}
	return prg, ast.NativeRep().SourceInfo(), loops, nil
}

// memoKey names the CEL view of a principal in Principal.Memo.
type memoKey struct{ withClaims bool }

// activation provides the variables without building a map, and converts
// a principal only if the condition reads it.
type activation struct {
	request    any
	withClaims bool
	principal  converted
	workload   converted
	err        error
}

// converted is a principal and, once read, its CEL view.
type converted struct {
	p    *runtime.Principal
	view *grpcauthv1.Principal
}

// resolve returns c's CEL view, converting it the first time.
func (a *activation) resolve(c *converted) (any, bool) {
	if c.p == nil {
		return nil, false
	}
	if c.view == nil && a.err == nil {
		var v any
		v, a.err = c.p.Memo(memoKey{withClaims: a.withClaims}, func() (any, error) {
			return toProto(c.p, a.withClaims)
		})
		c.view, _ = v.(*grpcauthv1.Principal)
	}
	if a.err != nil {
		return nil, false
	}
	return c.view, true
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "principal":
		return a.resolve(&a.principal)
	case "workload":
		return a.resolve(&a.workload)
	case "request":
		return a.request, a.request != nil
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Evaluate runs the condition. Any evaluation error, and any result other
// than a bool, is an error: the caller denies.
//
// An error's text is safe to log and audit: it never holds a value of the
// request or of the principal. cel-go's own errors do ("no such key:
// <the key>", "invalid RFC 3339 timestamp <the text>"), so an evaluation
// error is reported as its kind and, when cel-go knows it, the position in
// the condition of the expression that failed, as (line:column): "no such
// key (1:17)", "division by zero (1:5)", "cost limit exceeded",
// "cancelled". An error of a cancelled call or a passed deadline wraps
// [context.Canceled] or [context.DeadlineExceeded]. workload is nil but on
// a call made on behalf of an end user.
func (p *Program) Evaluate(ctx context.Context, principal, workload *runtime.Principal, request any) (result bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			// Not r itself: a panic's value may quote the request.
			result, err = false, &evalError{kind: "panic"}
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
	act := &activation{request: request, principal: converted{p: principal}, workload: converted{p: workload}, withClaims: p.readsClaims}
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
		return false, describe(err, p.info)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("the condition returned %s, not bool", out.Type())
	}
	return b, nil
}

// toProto converts the principal for CEL. Claims that JSON cannot hold are
// an error, which names neither the claim nor its value (structpb's error
// may quote the value).
func toProto(p *runtime.Principal, withClaims bool) (*grpcauthv1.Principal, error) {
	out := &grpcauthv1.Principal{Kind: p.Kind.String(), Subject: p.Subject, Issuer: p.Issuer, Scopes: p.Scopes}
	if withClaims && len(p.Claims) > 0 {
		s, err := structpb.NewStruct(p.Claims) // checks and converts every claim
		if err != nil {
			return nil, &evalError{kind: "a claim is not a JSON value"}
		}
		out.Claims = s.Fields
	}
	return out, nil
}

// evalError is an evaluation error that is safe to log and audit: what
// kind of error, and where in the condition, never a value.
type evalError struct {
	kind      string
	line, col int   // the failing expression's position, 1-based; 0 when unknown
	cause     error // context.Canceled or context.DeadlineExceeded, else nil
}

func (e *evalError) Error() string {
	if e.line == 0 {
		return e.kind
	}
	return e.kind + " (" + strconv.Itoa(e.line) + ":" + strconv.Itoa(e.col) + ")"
}

func (e *evalError) Unwrap() error { return e.cause }

// describe turns an error of cel-go's evaluation into an evalError. The
// kind comes from a fixed list, matched against the start of cel-go's
// message, which is then dropped: what follows it is often a value. The
// position is that of the node cel-go labelled the error with, found in
// info as the generator reports compile errors (column 1-based).
func describe(err error, info *celast.SourceInfo) *evalError {
	e := &evalError{kind: "evaluation error"}
	var cancelled interpreter.EvalCancelledError
	switch {
	case errors.Is(err, context.Canceled):
		e.kind, e.cause = "cancelled", context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		e.kind, e.cause = "deadline exceeded", context.DeadlineExceeded
	case errors.As(err, &cancelled):
		switch cancelled.Cause {
		case interpreter.CostLimitExceeded:
			e.kind = "cost limit exceeded"
		case interpreter.MemoryLimitExceeded:
			e.kind = "memory limit exceeded"
		default:
			e.kind = "cancelled"
		}
	case errors.Is(err, interpreter.InterruptError{}):
		e.kind = "cancelled"
	default:
		e.kind = kindOf(err.Error())
	}
	var ce *types.Err
	if errors.As(err, &ce) && ce.NodeID() != 0 && info != nil {
		if loc := info.GetStartLocation(ce.NodeID()); loc.Line() > 0 {
			e.line, e.col = loc.Line(), loc.Column()+1
		}
	}
	return e
}

// errorKinds are the kinds of cel-go evaluation error, by the start of
// their message: the longest first where one starts another.
var errorKinds = []struct{ prefix, kind string }{
	{"no such key", "no such key"},
	{"no such attribute", "no such attribute"},
	{"no such field", "no such field"},
	{"no such overload", "no such overload"},
	{"division by zero", "division by zero"},
	{"modulus by zero", "modulus by zero"},
	{"unsigned integer overflow", "unsigned integer overflow"},
	{"integer overflow", "integer overflow"},
	{"duration overflow", "duration overflow"},
	{"timestamp overflow", "timestamp overflow"},
	{"type conversion", "type conversion"},
	{"unsupported type conversion", "type conversion"},
	{"strconv.", "type conversion"},
	{"invalid RFC 3339 timestamp", "invalid timestamp"},
	{"invalid UTF-8", "invalid UTF-8"},
	{"index out of", "index out of range"},
	{"NaN values cannot be ordered", "NaN values cannot be ordered"},
	{"optional.none() dereference", "optional.none() dereference"},
	{"internal error", "internal error"},
}

// kindOf is the kind of an evaluation error whose message is msg.
func kindOf(msg string) string {
	for _, k := range errorKinds {
		if strings.HasPrefix(msg, k.prefix) {
			return k.kind
		}
	}
	if strings.HasPrefix(msg, "index ") && strings.Contains(msg, "out of range") {
		return "index out of range" // "index 3 out of range", "index '3' out of range in list size '2'"
	}
	return "evaluation error"
}
