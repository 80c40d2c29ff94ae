// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package library

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeSnippets keeps the README's proto and Go snippets taken from
// code that compiles: every non-blank line of a ```proto block must be in
// the example's .proto, every line of a ```go block in this package.
func TestReadmeSnippets(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]string{"proto": read(t, filepath.Join("proto", "library", "v1", "library.proto"))}
	goFiles, _ := filepath.Glob("*.go")
	demoFiles, _ := filepath.Glob(filepath.Join("demo", "*.go"))
	goFiles = append(goFiles, demoFiles...)
	var goSrc strings.Builder
	for _, f := range goFiles {
		goSrc.WriteString(read(t, f))
	}
	sources["go"] = goSrc.String()
	blocks := regexp.MustCompile("(?s)```(proto|go)\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) < 2 {
		t.Fatalf("found %d proto/go blocks in README.md; want at least 2", len(blocks))
	}
	for _, b := range blocks {
		src := sources[b[1]]
		for _, line := range strings.Split(b[2], "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			if !strings.Contains(src, strings.TrimSpace(line)) {
				t.Errorf("README %s line not found in the example sources: %q", b[1], line)
			}
		}
	}
}

func read(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
