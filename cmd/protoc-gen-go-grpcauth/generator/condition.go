// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/celcond"
)

// registry holds every file of the request, for resolving request types
// in conditions.
func registry(gen *protogen.Plugin) (*protoregistry.Files, error) {
	files := new(protoregistry.Files)
	for _, f := range gen.Files {
		if err := files.RegisterFile(f.Desc); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Desc.Path(), err)
		}
	}
	return files, nil
}

// conditionAtOpen reports whether m's condition is decided when its stream
// opens: client- and bidi-streaming methods have no single request.
func conditionAtOpen(m *protogen.Method) bool { return m.Desc.IsStreamingClient() }

// checkCondition parses and type-checks expr for method m: `request` is
// m's input type (not declared for client- and bidi-streaming methods),
// `principal` a grpcauth.v1.Principal, and so is `workload` when workload
// is true (the rule has an on_behalf_of requirement); the result must be a
// bool. Findings name the method, point at the declaration of the
// condition (at), and give the position in the expression.
func checkCondition(files *protoregistry.Files, m *protogen.Method, expr string, at site, workload bool) []Finding {
	var env *cel.Env
	var err error
	if conditionAtOpen(m) {
		env, err = celcond.CheckEnv(files, nil, workload)
	} else {
		env, err = celcond.CheckEnv(files, m.Input.Desc, workload)
	}
	if err != nil {
		return []Finding{at.finding(CheckConditionValid, "condition: %v", err)}
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		var out []Finding
		for _, e := range iss.Errors() {
			msg := e.Message
			switch {
			case conditionAtOpen(m) && strings.Contains(msg, "undeclared reference to 'request'"):
				msg = "a client- or bidi-streaming method's condition is decided when the stream opens and cannot use request"
			case !workload && strings.Contains(msg, "undeclared reference to 'workload'"):
				msg = "workload is declared only in a rule with an on_behalf_of requirement"
			}
			out = append(out, at.finding(CheckConditionValid, "condition: %s (%d:%d)", msg, e.Location.Line(), e.Location.Column()+1))
		}
		return out
	}
	if out := ast.OutputType(); !out.IsExactType(types.BoolType) {
		return []Finding{at.finding(CheckConditionValid, "condition: must be of type bool, not %s", out)}
	}
	return nil
}
