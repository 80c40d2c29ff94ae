// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// update rewrites the golden files: go test ./cmd/protoc-gen-go-grpcauth/generator -update
var update = flag.Bool("update", false, "rewrite golden files")

// compilerVersion is fixed so golden headers do not depend on the machine.
var fixedCompiler = &pluginpb.Version{Major: proto.Int32(5), Minor: proto.Int32(29), Patch: proto.Int32(0)}

// request compiles the .proto files of dir (with authoptions on the import
// path) into the request protoc would send, parameter included.
func request(t testing.TB, dir, parameter string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".proto") {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: []string{dir, filepath.Join("..", "..", "..", "authoptions")},
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := c.Compile(context.Background(), files...)
	if err != nil {
		t.Fatalf("compile %s: %v", dir, err)
	}
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate:  files,
		Parameter:       proto.String(parameter),
		CompilerVersion: fixedCompiler,
	}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range compiled {
		add(f)
	}
	// Round-trip through the wire format, as protoc hands it over, so that
	// options are parsed with the linked grpcauth.v1 extensions.
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	out := &pluginpb.CodeGeneratorRequest{}
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// run runs the plugin on req as main does and returns its response.
func run(t *testing.T, req *pluginpb.CodeGeneratorRequest) *pluginpb.CodeGeneratorResponse {
	t.Helper()
	return Generate(req)
}

// TestGolden runs every case under testdata. A case is a folder with
// .proto files, an optional "parameter" file, and either the expected
// generated files (want/) or the expected error text (error.txt).
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no golden cases found")
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			param, _ := os.ReadFile(filepath.Join(dir, "parameter"))
			parameter := "paths=source_relative"
			if p := strings.TrimSpace(string(param)); p != "" {
				parameter += "," + p
			}
			resp := run(t, request(t, dir, parameter))
			errFile := filepath.Join(dir, "error.txt")
			wantDir := filepath.Join(dir, "want")
			if strings.HasPrefix(filepath.Base(dir), "invalid_") {
				if resp.Error == nil {
					t.Fatalf("generation succeeded; want an error")
				}
				got := resp.GetError() + "\n"
				if *update {
					writeFile(t, errFile, []byte(got))
				}
				want, err := os.ReadFile(errFile)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("error text mismatch (-want +got):\n%s", diff)
				}
				// The same problems as findings, where buf lint reports them.
				gotFindings := findingLines(t, request(t, dir, parameter))
				findingsFile := filepath.Join(dir, "findings.txt")
				if *update {
					writeFile(t, findingsFile, []byte(gotFindings))
				}
				wantFindings, err := os.ReadFile(findingsFile)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(string(wantFindings), gotFindings); diff != "" {
					t.Errorf("findings mismatch (-want +got):\n%s", diff)
				}
				return
			}
			if resp.Error != nil {
				t.Fatalf("generation failed: %s", resp.GetError())
			}
			if got := resp.GetSupportedFeatures(); got != uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL|pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS) {
				t.Errorf("supported features = %d", got)
			}
			got := map[string]string{}
			for _, f := range resp.File {
				got[f.GetName()] = f.GetContent()
			}
			if *update {
				os.RemoveAll(wantDir)
				for name, content := range got {
					writeFile(t, filepath.Join(wantDir, name), []byte(content))
				}
			}
			want := map[string]string{}
			filepath.WalkDir(wantDir, func(path string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					b, _ := os.ReadFile(path)
					rel, _ := filepath.Rel(wantDir, path)
					want[filepath.ToSlash(rel)] = string(b)
				}
				return nil
			})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("generated files mismatch (-want +got); rerun with -update if intended:\n%s", diff)
			}
		})
	}
}

// findingLines runs Analyze on req and writes each finding as
// "file:line:column: CHECK: element: message", the position being the
// start of the declaration it points at, as buf lint shows it.
func findingLines(t *testing.T, req *pluginpb.CodeGeneratorRequest) string {
	t.Helper()
	a, err := Analyze(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Manifests) != 0 {
		t.Errorf("%d manifests of files with findings", len(a.Manifests))
	}
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: req.GetProtoFile()})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range a.Findings {
		fd, err := files.FindFileByPath(f.File)
		if err != nil {
			t.Fatalf("finding %q: file: %v", f.Error(), err)
		}
		loc := fd.SourceLocations().ByPath(f.Path)
		if loc.Path == nil && len(f.Path) > 0 {
			t.Errorf("finding %q: path %v has no source location", f.Error(), f.Path)
		}
		fmt.Fprintf(&b, "%s:%d:%d: %s: %s\n", f.File, loc.StartLine+1, loc.StartColumn+1, f.Check, f.Error())
	}
	return b.String()
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestManualIsPackageDoc keeps --help equal to the package doc comment.
func TestManualIsPackageDoc(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "main.go"), nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	var p comment.Parser
	text := string((&comment.Printer{TextWidth: 0}).Text(p.Parse(docText(f))))
	if *update {
		writeFile(t, "manual.txt", []byte(text))
	}
	if diff := cmp.Diff(text, manual); diff != "" {
		t.Errorf("manual.txt is not the package doc; rerun with -update (-doc +manual):\n%s", diff)
	}
}

func docText(f *ast.File) string { return f.Doc.Text() }

// TestManualVersion keeps the manual's install lines at the plugin's own
// version.
func TestManualVersion(t *testing.T) {
	for _, want := range []string{
		"go install github.com/grpcauth/protoc-gen-go-grpcauth/cmd/protoc-gen-go-grpcauth@" + Version + "\n",
		"go get github.com/grpcauth/protoc-gen-go-grpcauth@" + Version + "\n",
	} {
		if !strings.Contains(manual, want) {
			t.Errorf("the manual does not say %q", want)
		}
	}
}

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		stdout   string
		inStderr string
	}{
		{args: nil, code: -1},
		{args: []string{"--version"}, code: 0, stdout: "protoc-gen-go-grpcauth " + Version + "\n"},
		{args: []string{"--help"}, code: 0, stdout: manual},
		{args: []string{"--frobnicate"}, code: 2, inStderr: `unknown argument "--frobnicate"`},
		{args: []string{"--version", "x"}, code: 2, inStderr: `unknown argument "--version"`},
		{args: []string{"--export-options"}, code: 2, inStderr: "--export-options takes one folder"},
		{args: []string{"--export-options", ""}, code: 2, inStderr: "--export-options takes one folder"},
		{args: []string{"--export-options", "--help"}, code: 2, inStderr: "--export-options takes one folder"},
		{args: []string{"--export-options", "a", "b"}, code: 2, inStderr: "--export-options takes one folder"},
	} {
		var out, errb bytes.Buffer
		if code := handleArgs(tc.args, &out, &errb); code != tc.code {
			t.Errorf("%v: code %d, want %d", tc.args, code, tc.code)
		}
		if out.String() != tc.stdout {
			t.Errorf("%v: stdout %q, want %q", tc.args, out.String(), tc.stdout)
		}
		if !strings.Contains(errb.String(), tc.inStderr) {
			t.Errorf("%v: stderr %q, want it to contain %q", tc.args, errb.String(), tc.inStderr)
		}
	}
}

// TestExportOptions runs --export-options and checks what it wrote; the
// consumer test (scripts/consumer.sh) then builds a workspace on it with buf
// and protoc.
func TestExportOptions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "third_party", "grpcauth")
	var out, errb bytes.Buffer
	if code := handleArgs([]string{"--export-options", dir}, &out, &errb); code != 0 {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
	if !strings.Contains(out.String(), "-I "+dir) {
		t.Errorf("stdout %q does not say how to use the folder", out.String())
	}
	for _, f := range []string{"buf.yaml", "grpcauth/v1/auth.proto", "grpcauth/v1/rules.proto", "grpcauth/v1/principal.proto"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := handleArgs([]string{"--export-options", blocked}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "export to") {
		t.Errorf("export into a file: code %d, stderr %q", code, errb.String())
	}
}

// TestRun drives the plugin as main does, over given standard input and
// output: the response on stdout is Generate's, byte for byte; a request
// that is not one is exit code 1 with a message, nothing on stdout.
func TestRun(t *testing.T) {
	req := request(t, filepath.Join("testdata", "unary"), "paths=source_relative")
	in, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Run(context.Background(), Env{Stdin: bytes.NewReader(in), Stdout: &out, Stderr: &errb}); code != 0 {
		t.Fatalf("Run = %d, stderr %q", code, errb.String())
	}
	want, err := proto.Marshal(Generate(req))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Error("Run's response differs from Generate's")
	}
	resp := &pluginpb.CodeGeneratorResponse{}
	if err := proto.Unmarshal(out.Bytes(), resp); err != nil || len(resp.GetFile()) == 0 || resp.Error != nil {
		t.Fatalf("response: %v, %d files, error %q", err, len(resp.GetFile()), resp.GetError())
	}
	out.Reset()
	errb.Reset()
	if code := Run(context.Background(), Env{Stdin: strings.NewReader("\xff not a request"), Stdout: &out, Stderr: &errb}); code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), "not a CodeGeneratorRequest") {
		t.Errorf("garbage on stdin: code %d, stdout %d bytes, stderr %q", code, out.Len(), errb.String())
	}
	out.Reset()
	if code := Run(context.Background(), Env{Args: []string{"--version"}, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}); code != 0 || out.String() != PluginName+" "+Version+"\n" {
		t.Errorf("--version: code %d, %q", code, out.String())
	}
}

func TestBadParameter(t *testing.T) {
	resp := run(t, request(t, filepath.Join("testdata", "unary"), "unannotated=allow"))
	if want := `parameter unannotated="allow": want "error" or "deny"`; resp.GetError() != want {
		t.Errorf("error = %q, want %q", resp.GetError(), want)
	}
	resp = run(t, request(t, filepath.Join("testdata", "unary"), "docs=html"))
	if want := `parameter docs="html": want "markdown"`; resp.GetError() != want {
		t.Errorf("error = %q, want %q", resp.GetError(), want)
	}
	resp = run(t, request(t, filepath.Join("testdata", "unary"), "manifest=maybe"))
	if want := `parameter manifest="maybe": want "true" or "false"`; resp.GetError() != want {
		t.Errorf("error = %q, want %q", resp.GetError(), want)
	}
	resp = run(t, request(t, filepath.Join("testdata", "unary"), "bogus=1"))
	if !strings.Contains(resp.GetError(), "bogus") {
		t.Errorf("error = %q, want it to name the unknown parameter", resp.GetError())
	}
}
