// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/grpcauth/protoc-gen-go-grpcauth/authoptions"
	"github.com/grpcauth/protoc-gen-go-grpcauth/cmd/protoc-gen-go-grpcauth/generator"
)

var update = flag.Bool("update", false, "rewrite the want.txt files")

// bufLint runs the pinned buf (scripts/tools.sh installs it into .bin)
// with this plugin built onto PATH, over a copy of a testdata workspace
// with the options exported into it, and returns the JSON lines, the text
// output and the exit code.
func bufLint(t *testing.T, workspace string, edit func(dir string)) (annotations []annotation, text string, code int) {
	t.Helper()
	bufPath, err := filepath.Abs(filepath.Join("..", "..", ".bin", "buf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bufPath); err != nil {
		t.Skipf("no %s: run scripts/tools.sh", bufPath)
	}
	bin := pluginBinary(t)
	dir := filepath.Join(t.TempDir(), "ws")
	if err := os.CopyFS(dir, os.DirFS(workspace)); err != nil {
		t.Fatal(err)
	}
	if err := authoptions.Export(filepath.Join(dir, "third_party", "grpcauth")); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(dir)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	lint := func(args ...string) (string, int) {
		cmd := exec.Command(bufPath, append([]string{"lint"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"), "BUF_CACHE_DIR="+cache)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			if stderr.Len() > 0 {
				t.Fatalf("buf lint %v: exit %d, stderr:\n%s", args, exit.ExitCode(), stderr.String())
			}
			return stdout.String(), exit.ExitCode()
		case err != nil:
			t.Fatal(err)
		}
		return stdout.String(), 0
	}
	text, code = lint()
	js, jsCode := lint("--error-format=json")
	if jsCode != code {
		t.Fatalf("buf lint: exit %d, with json %d", code, jsCode)
	}
	for _, line := range strings.Split(strings.TrimSpace(js), "\n") {
		if line == "" {
			continue
		}
		var a annotation
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("buf lint json %q: %v", line, err)
		}
		annotations = append(annotations, a)
	}
	return annotations, text, code
}

type annotation struct {
	Path        string `json:"path"`
	StartLine   int    `json:"start_line"`
	StartColumn int    `json:"start_column"`
	Type        string `json:"type"`
	Message     string `json:"message"`
	Plugin      string `json:"plugin"`
}

var builtPlugin string

// pluginBinary builds buf-plugin-grpcauth once per test run.
func pluginBinary(t *testing.T) string {
	t.Helper()
	if builtPlugin != "" {
		return builtPlugin
	}
	dir, err := os.MkdirTemp("", "buf-plugin-grpcauth")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "buf-plugin-grpcauth")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	builtPlugin = bin
	return bin
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if builtPlugin != "" {
		_ = os.RemoveAll(filepath.Dir(builtPlugin))
	}
	os.Exit(code)
}

// TestBufLint runs real buf lint with the plugin configured in each
// testdata workspace's buf.yaml, and compares what it reports, line by
// line, with want.txt: "path:line:column: RULE_ID: message".
func TestBufLint(t *testing.T) {
	for _, tc := range []struct {
		name, workspace string
		edit            func(dir string)
		code            int
	}{
		{name: "clean", workspace: "clean", code: 0},
		{name: "problems", workspace: "problems", code: 100},
		// One rule by id: the others stay quiet.
		{name: "one_rule", workspace: "problems", code: 100, edit: func(dir string) {
			rewrite(t, filepath.Join(dir, "buf.yaml"), "    - GRPCAUTH\n", "    - GRPCAUTH_CONDITION_VALID\n")
		}},
		// unannotated: deny, as generation with unannotated=deny: a method
		// without a rule is no problem.
		{name: "unannotated_deny", workspace: "problems", code: 100, edit: func(dir string) {
			rewrite(t, filepath.Join(dir, "buf.yaml"), "  - plugin: buf-plugin-grpcauth\n", "  - plugin: buf-plugin-grpcauth\n    options:\n      unannotated: deny\n")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			annotations, text, code := bufLint(t, filepath.Join("testdata", tc.workspace), tc.edit)
			if code != tc.code {
				t.Errorf("buf lint: exit %d, want %d\n%s", code, tc.code, text)
			}
			var got, wantText strings.Builder
			for _, a := range annotations {
				fmt.Fprintf(&got, "%s:%d:%d: %s: %s\n", a.Path, a.StartLine, a.StartColumn, a.Type, a.Message)
				fmt.Fprintf(&wantText, "%s:%d:%d:%s (buf-plugin-grpcauth)\n", a.Path, a.StartLine, a.StartColumn, a.Message)
				if a.Plugin != "buf-plugin-grpcauth" {
					t.Errorf("annotation of plugin %q", a.Plugin)
				}
			}
			wantFile := filepath.Join("testdata", tc.name+".want.txt")
			if *update {
				if err := os.WriteFile(wantFile, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("buf lint reports (-want +got):\n%s", diff)
			}
			// The text buf prints for a person holds the same lines.
			if diff := cmp.Diff(wantText.String(), text); diff != "" {
				t.Errorf("buf lint text output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSameAsGeneration: the problems buf lint reports are those generation
// refuses, message for message (in buf's order, by position).
func TestSameAsGeneration(t *testing.T) {
	annotations, _, _ := bufLint(t, filepath.Join("testdata", "problems"), nil)
	var lint []string
	for _, a := range annotations {
		lint = append(lint, a.Message)
	}
	// The generator's error, as protoc-gen-go-grpcauth answers buf generate.
	bufPath, _ := filepath.Abs(filepath.Join("..", "..", ".bin", "buf"))
	dir := filepath.Join(t.TempDir(), "ws")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "problems"))); err != nil {
		t.Fatal(err)
	}
	if err := authoptions.Export(filepath.Join(dir, "third_party", "grpcauth")); err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(dir, "image.binpb")
	cmd := exec.Command(bufPath, "build", "-o", image)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BUF_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	req := imageRequest(t, b)
	resp := generator.Generate(req)
	gen := strings.Split(resp.GetError(), "\n")
	// buf orders by position, the generator by element.
	slices.Sort(gen)
	slices.Sort(lint)
	if len(gen) < 9 {
		t.Fatalf("generation found %d problems", len(gen))
	}
	if diff := cmp.Diff(gen, lint); diff != "" {
		t.Errorf("generation and lint differ (-generate +lint):\n%s", diff)
	}
}

func rewrite(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// imageRequest is the request buf generate would send for the workspace's
// own files of an image.
func imageRequest(t *testing.T, image []byte) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(image, set); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, f := range set.GetFile() {
		if !strings.HasPrefix(f.GetName(), "grpcauth/") && !strings.HasPrefix(f.GetName(), "google/") {
			targets = append(targets, f.GetName())
		}
	}
	req, err := generator.AnalysisRequest(set.GetFile(), targets, "")
	if err != nil {
		t.Fatal(err)
	}
	return req
}
