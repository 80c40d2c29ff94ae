// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package generator is protoc-gen-go-grpcauth as a library: [Run] is the
// whole plugin over given arguments, standard input and output, so that it
// can be tested and embedded without a subprocess; [Generate] turns one
// CodeGeneratorRequest into its response. The user manual is the command's
// (protoc-gen-go-grpcauth --help).
package generator

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/grpcauth/protoc-gen-go-grpcauth/authoptions"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

const (
	// PluginName is the plugin's name, as it writes it in generated files.
	PluginName = "protoc-gen-go-grpcauth"
	// Version is the plugin's version, the runtime's: the two are released
	// together.
	Version = runtime.Version
)

//go:embed manual.txt
var manual string

// Manual returns the user manual, the text --help prints.
func Manual() string { return manual }

// Env is what a run of the plugin reads and writes.
type Env struct {
	// Args are the command-line arguments, without the program name.
	// protoc and buf pass none.
	Args []string
	// Stdin holds the CodeGeneratorRequest; Stdout receives the response.
	Stdin  io.Reader
	Stdout io.Writer
	// Stderr receives messages for a person.
	Stderr io.Writer
}

// Run runs the plugin as its main does and returns the exit code: with
// arguments it handles --version, --help and --export-options; without, it
// reads a CodeGeneratorRequest from env.Stdin and writes the response to
// env.Stdout. Generation errors (an element without a rule, a contradiction,
// a condition that does not type-check) go into the response, as protoc
// expects, with exit code 0; a request that cannot be read or a response
// that cannot be written is exit code 1.
func Run(_ context.Context, env Env) int {
	if code := handleArgs(env.Args, env.Stdout, env.Stderr); code >= 0 {
		return code
	}
	in, err := io.ReadAll(env.Stdin)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s: reading the request: %v\n", PluginName, err)
		return 1
	}
	req := &pluginpb.CodeGeneratorRequest{}
	if err := proto.Unmarshal(in, req); err != nil {
		fmt.Fprintf(env.Stderr, "%s: the request is not a CodeGeneratorRequest (run this program through protoc or buf): %v\n", PluginName, err)
		return 1
	}
	out, err := proto.Marshal(Generate(req))
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s: encoding the response: %v\n", PluginName, err)
		return 1
	}
	if _, err := env.Stdout.Write(out); err != nil {
		fmt.Fprintf(env.Stderr, "%s: writing the response: %v\n", PluginName, err)
		return 1
	}
	return 0
}

// Generate returns the response to req: the generated files, or the
// generation error in the response's Error field.
func Generate(req *pluginpb.CodeGeneratorRequest) *pluginpb.CodeGeneratorResponse {
	gen, cfg, err := newPlugin(req)
	if err != nil {
		return &pluginpb.CodeGeneratorResponse{Error: proto.String(err.Error())}
	}
	setFeatures(gen)
	if err := generate(gen, cfg); err != nil {
		gen.Error(err)
	}
	return gen.Response()
}

// newPlugin reads req and its parameters.
func newPlugin(req *pluginpb.CodeGeneratorRequest) (*protogen.Plugin, config, error) {
	var flags flag.FlagSet
	cfg := config{}
	flags.StringVar(&cfg.unannotated, "unannotated", "error", `"error" or "deny": what to do with a method without an effective rule`)
	flags.BoolVar(&cfg.manifest, "manifest", false, "also write <file>"+ManifestSuffix)
	flags.StringVar(&cfg.docs, "docs", "", `"markdown": also write <file>`+DocsSuffix)
	flags.BoolVar(&cfg.matrix, "matrix", false, "also write <file>"+MatrixSuffix)
	set := func(name, value string) error {
		err := flags.Set(name, value)
		if err == nil || flags.Lookup(name) == nil {
			return err
		}
		if b, ok := flags.Lookup(name).Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			return fmt.Errorf("parameter %s=%q: want \"true\" or \"false\"", name, value)
		}
		return fmt.Errorf("parameter %s=%q: %w", name, value, err)
	}
	gen, err := protogen.Options{ParamFunc: set}.New(req)
	if err != nil {
		return nil, cfg, err
	}
	if err := cfg.check(); err != nil {
		return nil, cfg, err
	}
	return gen, cfg, nil
}

// Analysis is what the generator computes from the auth options before it
// writes anything: the findings (what generation refuses, what buf lint
// reports), and the manifest of every file that has none.
type Analysis struct {
	// Findings are those of every file to generate, in file order.
	Findings []Finding
	// Manifests are those of the files to generate that have services and
	// no findings, in file order.
	Manifests []*Manifest
}

// Analyze checks the auth options of every file req asks to generate and
// computes their manifests, with req's parameters (unannotated=deny turns a
// method without a rule into a rule that denies, not a finding). It is what
// Generate computes before emitting code; the buf lint plugin and the
// loosening check call it. The error is for a request that cannot be read
// or a parameter that is wrong.
func Analyze(req *pluginpb.CodeGeneratorRequest) (*Analysis, error) {
	gen, cfg, err := newPlugin(req)
	if err != nil {
		return nil, err
	}
	files, err := registry(gen)
	if err != nil {
		return nil, err
	}
	out := &Analysis{}
	for _, f := range gen.Files {
		if !f.Generate || len(f.Services) == 0 {
			continue
		}
		rules, findings := analyzeFile(f, cfg.unannotated == "deny", files)
		if len(findings) > 0 {
			out.Findings = append(out.Findings, findings...)
			continue
		}
		out.Manifests = append(out.Manifests, manifestOf(f, rules))
	}
	return out, nil
}

// handleArgs handles command-line arguments, which protoc and buf never
// pass. It returns the exit code, or -1 to go on and read a request from
// standard input.
func handleArgs(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		return -1
	case len(args) == 1 && args[0] == "--version":
		fmt.Fprintln(stdout, PluginName, Version)
		return 0
	case len(args) == 1 && (args[0] == "--help" || args[0] == "-h"):
		fmt.Fprint(stdout, manual)
		return 0
	case args[0] == "--export-options":
		if len(args) != 2 || args[1] == "" || strings.HasPrefix(args[1], "-") {
			fmt.Fprintf(stderr, "%s: --export-options takes one folder: --export-options DIR\n", PluginName)
			return 2
		}
		if err := authoptions.Export(args[1]); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", PluginName, err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote the grpcauth.v1 options (%s) to %s: use -I %s with protoc, or list it as a module in buf.yaml\n", Version, args[1], args[1])
		return 0
	}
	fmt.Fprintf(stderr, "%s: unknown argument %q\nThis program is a protoc plugin: run it through protoc or buf. See --help.\n", PluginName, args[0])
	return 2
}

func setFeatures(gen *protogen.Plugin) {
	gen.SupportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL) |
		uint64(pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
	gen.SupportedEditionsMinimum = descriptorpb.Edition_EDITION_PROTO2
	gen.SupportedEditionsMaximum = descriptorpb.Edition_EDITION_2023
}
