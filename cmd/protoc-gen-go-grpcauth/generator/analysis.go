// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// The checks the generator runs on the auth options, by stable id. Each is
// a rule of the buf lint plugin (cmd/buf-plugin-grpcauth) under the same id;
// ids are never renamed.
const (
	// CheckMethodHasRule: every method has an effective rule (its own, its
	// service's or its file's), or is public with a reason.
	CheckMethodHasRule = "GRPCAUTH_METHOD_HAS_RULE"
	// CheckRuleConsistent: a rule does not contradict itself or what it
	// inherits: public with requirements or a condition, public without a
	// reason, empty or repeated credential kinds and scopes, unknown values.
	CheckRuleConsistent = "GRPCAUTH_RULE_CONSISTENT"
	// CheckConditionValid: a condition parses, type-checks against the
	// method's request and grpcauth.v1.Principal, is a bool, and uses only
	// what its method can give it (no request on client and bidi streams,
	// literal patterns for matches()).
	CheckConditionValid = "GRPCAUTH_CONDITION_VALID"
)

// Finding is one problem in the auth options of a .proto file: what
// generation refuses (its Error text is the generator's error line) and
// what buf lint reports at File and Path.
type Finding struct {
	// Check is the id of the check that found it, such as
	// [CheckMethodHasRule].
	Check string
	// Element is the full name of the proto element it is about
	// ("library.v1.LibraryService.DeleteBook"), or the file's path for a
	// file-level rule.
	Element string
	// Message says what is wrong, such as
	// "condition: undefined field 'shelff' (1:8)": a condition's findings
	// end with the line and column in the expression.
	Message string
	// File is the path of the .proto file the problem is declared in.
	File string
	// Path is the source path (as in google.protobuf.SourceCodeInfo) of
	// the declaration to point at: the option that holds the problem, or
	// the element when the problem is a missing option. It may be an
	// element inherited from: a service's condition that does not
	// type-check for one of its methods is found for the method and points
	// at the service's option.
	Path protoreflect.SourcePath
}

// Error returns "<element>: <message>", the generator's error line.
func (f Finding) Error() string { return f.Element + ": " + f.Message }

// site is a place findings point at: an element's name, its file and the
// source path of its declaration or option.
type site struct {
	element string
	file    protoreflect.FileDescriptor
	path    protoreflect.SourcePath
}

func (s site) finding(check, format string, args ...any) Finding {
	f := Finding{Check: check, Element: s.element, Message: fmt.Sprintf(format, args...), Path: s.path}
	if s.file != nil {
		f.File = s.file.Path()
	}
	return f
}

// withElement returns s naming element instead: a method's finding that
// points at a declaration it inherits.
func (s site) withElement(element string) site {
	s.element = element
	return s
}

// Field numbers of the source paths findings point at.
const (
	fileServiceField   = 6 // FileDescriptorProto.service
	fileOptionsField   = 8 // FileDescriptorProto.options
	serviceMethodField = 2 // ServiceDescriptorProto.method
	serviceOptionsFld  = 3 // ServiceDescriptorProto.options
	methodOptionsField = 4 // MethodDescriptorProto.options
	ruleExtensionField = 58350
)

// optionSite is where an element's grpcauth option is declared: the path of
// the option when the file's source info has it, the element's otherwise.
func optionSite(element string, file protoreflect.FileDescriptor, elementPath protoreflect.SourcePath, optionsField int32) site {
	p := append(append(protoreflect.SourcePath{}, elementPath...), optionsField, ruleExtensionField)
	if file.SourceLocations().ByPath(p).Path == nil {
		p = elementPath
	}
	return site{element: element, file: file, path: p}
}

func fileSite(f *protogen.File) site {
	return optionSite(f.Desc.Path(), f.Desc, nil, fileOptionsField)
}

func serviceSite(s *protogen.Service) site {
	return optionSite(string(s.Desc.FullName()), s.Desc.ParentFile(), s.Location.Path, serviceOptionsFld)
}

func methodOptionSite(m *protogen.Method) site {
	return optionSite(string(m.Desc.FullName()), m.Desc.ParentFile(), m.Location.Path, methodOptionsField)
}

func methodSite(m *protogen.Method) site {
	return site{element: string(m.Desc.FullName()), file: m.Desc.ParentFile(), path: m.Location.Path}
}

// analyzeFile validates every level of f and computes the effective rule of
// every method, keyed by the method. It returns every finding of the file;
// the rules are complete only when there is none.
func analyzeFile(f *protogen.File, undeclaredOK bool, files *protoregistry.Files) (map[*protogen.Method]*effectiveRule, []Finding) {
	var findings []Finding
	fileAt := fileSite(f)
	fr, err := fileRule(f)
	if err != nil {
		return nil, []Finding{fileAt.finding(CheckRuleConsistent, "%v", err)}
	}
	findings = append(findings, validateRule(fileAt, fr)...)
	out := map[*protogen.Method]*effectiveRule{}
	for _, s := range f.Services {
		serviceAt := serviceSite(s)
		sr, err := serviceRule(s)
		if err != nil {
			findings = append(findings, serviceAt.finding(CheckRuleConsistent, "%v", err))
			continue
		}
		findings = append(findings, validateRule(serviceAt, sr)...)
		for _, m := range s.Methods {
			methodAt := methodOptionSite(m)
			mr, err := methodRule(m)
			if err != nil {
				findings = append(findings, methodAt.finding(CheckRuleConsistent, "%v", err))
				continue
			}
			if fs := validateRule(methodAt, mr); len(fs) > 0 {
				findings = append(findings, fs...)
				continue
			}
			eff, finding := resolve(methodSite(m), []level{
				{fileAt, fr},
				{serviceAt, sr},
				{methodAt, mr},
			}, undeclaredOK)
			if finding != nil {
				findings = append(findings, *finding)
				continue
			}
			if eff.condition != "" {
				if fs := checkCondition(files, m, eff.condition, eff.conditionAt.withElement(string(m.Desc.FullName())), eff.onBehalfOf()); len(fs) > 0 {
					findings = append(findings, fs...)
					continue
				}
				eff.conditionAtOpen = conditionAtOpen(m)
			}
			out[m] = eff
		}
	}
	return out, findings
}

// AnalysisRequest returns the request to [Analyze] the files named by check
// among files (every file they import included, in any order), as protoc
// would send it with parameter. A file without a
// go_package is given one of its own: nothing is generated from the
// request, and buf's managed mode, which sets go_package only when it
// generates, leaves it out. Options are read again from their wire form,
// so that descriptors parsed without the grpcauth.v1 extensions (as a buf
// plugin receives them) are read with them.
func AnalysisRequest(files []*descriptorpb.FileDescriptorProto, check []string, parameter string) (*pluginpb.CodeGeneratorRequest, error) {
	params := []string{}
	if parameter != "" {
		params = append(params, parameter)
	}
	for _, f := range files {
		if f.GetOptions().GetGoPackage() == "" {
			params = append(params, "M"+f.GetName()+"="+analysisImportPath+strings.TrimSuffix(f.GetName(), ".proto"))
		}
	}
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate: check,
		Parameter:      proto.String(strings.Join(params, ",")),
		ProtoFile:      importsFirst(files),
	}
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	out := &pluginpb.CodeGeneratorRequest{}
	if err := proto.Unmarshal(b, out); err != nil {
		return nil, err
	}
	return out, nil
}

// analysisImportPath prefixes the Go import path given to a file without
// go_package in an analysis request (a reserved domain: never imported).
const analysisImportPath = "grpcauth.invalid/"

// importsFirst orders files so that each comes after the files it imports,
// as protoc sends them; otherwise in the given order.
func importsFirst(files []*descriptorpb.FileDescriptorProto) []*descriptorpb.FileDescriptorProto {
	byName := map[string]*descriptorpb.FileDescriptorProto{}
	for _, f := range files {
		byName[f.GetName()] = f
	}
	done := map[string]bool{}
	out := make([]*descriptorpb.FileDescriptorProto, 0, len(files))
	var visit func(f *descriptorpb.FileDescriptorProto)
	visit = func(f *descriptorpb.FileDescriptorProto) {
		if done[f.GetName()] {
			return
		}
		done[f.GetName()] = true
		for _, d := range f.GetDependency() {
			if dep, ok := byName[d]; ok {
				visit(dep)
			}
		}
		out = append(out, f)
	}
	for _, f := range files {
		visit(f)
	}
	return out
}
