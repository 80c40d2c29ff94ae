// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// reasonConstants returns the values of every constant of type Reason
// declared in the package's non-test files.
func reasonConstants(t *testing.T) []runtime.Reason {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []runtime.Reason
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok {
						t.Fatalf("a Reason constant that is not a literal: %T", v)
					}
					s, _ := strconv.Unquote(lit.Value)
					out = append(out, runtime.Reason(s))
				}
			}
		}
	}
	return out
}

// TestReasonsList: Reasons() lists every Reason constant, once.
func TestReasonsList(t *testing.T) {
	consts := reasonConstants(t)
	got := runtime.Reasons()
	slices.Sort(consts)
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	if !slices.Equal(consts, sorted) {
		t.Errorf("Reasons() = %v;\nthe constants are %v", got, consts)
	}
}

var (
	sectionRE = regexp.MustCompile(`(?m)^## ([A-Z][A-Z_]+)$`)
	codeRE    = regexp.MustCompile(`\*\*Code:\*\* (\d+) ([A-Z_]+)`)
)

// TestTroubleshootingGuide: docs/troubleshooting.md has a section for
// every reason and none for a reason that does not exist; each says the
// reason's status code and what the caller sees, the causes, how to
// confirm it and the fix.
func TestTroubleshootingGuide(t *testing.T) {
	b, err := os.ReadFile("../docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	locs := sectionRE.FindAllStringSubmatchIndex(doc, -1)
	sections := map[runtime.Reason]string{}
	for i, l := range locs {
		end := len(doc)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		r := runtime.Reason(doc[l[2]:l[3]])
		if _, dup := sections[r]; dup {
			t.Errorf("two sections for %s", r)
		}
		sections[r] = doc[l[1]:end]
	}
	known := map[runtime.Reason]bool{}
	for _, r := range runtime.Reasons() {
		known[r] = true
		sec, ok := sections[r]
		if !ok {
			t.Errorf("no section ## %s", r)
			continue
		}
		m := codeRE.FindStringSubmatch(sec)
		if m == nil || m[1] != strconv.Itoa(int(r.Code())) {
			t.Errorf("## %s: want **Code:** %d, got %v", r, r.Code(), m)
		}
		for _, part := range []string{"**Caller sees:**", "**Usual causes:**", "**Confirm:**", "**Fix:**"} {
			if !strings.Contains(sec, part) {
				t.Errorf("## %s lacks %s", r, part)
			}
		}
	}
	for r := range sections {
		if !known[r] {
			t.Errorf("section ## %s: no such reason", r)
		}
	}
}
