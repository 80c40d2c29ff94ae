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

// fence is one fenced code block of the README.
type fence struct {
	lang, body string
	from       string // the file named by a <!-- from PATH --> line just above, if any
	section    string // the ## heading it is under
}

// fences returns the README's fenced blocks, with list indentation removed.
func fences(t *testing.T, readme string) []fence {
	t.Helper()
	var out []fence
	lines := strings.Split(readme, "\n")
	section, from := "", ""
	re := regexp.MustCompile("^( *)```([a-z]*)$")
	fromRe := regexp.MustCompile(`^ *<!-- from (\S+) -->$`)
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(line, "## ") {
			section = strings.TrimPrefix(line, "## ")
		}
		if m := fromRe.FindStringSubmatch(line); m != nil {
			from = m[1]
			continue
		}
		m := re.FindStringSubmatch(line)
		if m == nil || m[2] == "" {
			if strings.TrimSpace(line) != "" {
				from = ""
			}
			continue
		}
		indent := m[1]
		var body []string
		for i++; i < len(lines) && strings.TrimRight(lines[i], " ") != indent+"```"; i++ {
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		if i == len(lines) {
			t.Fatalf("README.md: unclosed %s block in section %q", m[2], section)
		}
		out = append(out, fence{lang: m[2], body: strings.Join(body, "\n") + "\n", from: from, section: section})
		from = ""
	}
	return out
}

// TestReadmeSnippets keeps the README's snippets taken from code that
// compiles and is tested. A block under a <!-- from PATH --> line must
// stand in PATH as it is, line for line (leading white space aside, so that
// a command may come from a doc comment); every block of "Use it in your
// project" needs one. Of the other proto and go blocks, every non-blank
// line must be in the example's .proto or in this package and its demo.
func TestReadmeSnippets(t *testing.T) {
	root := filepath.Join("..", "..")
	readme := read(t, filepath.Join(root, "README.md"))
	sources := map[string]string{"proto": read(t, filepath.Join("proto", "library", "v1", "library.proto"))}
	goFiles, _ := filepath.Glob("*.go")
	demoFiles, _ := filepath.Glob(filepath.Join("demo", "*.go"))
	goFiles = append(goFiles, demoFiles...)
	var goSrc strings.Builder
	for _, f := range goFiles {
		goSrc.WriteString(read(t, f))
	}
	sources["go"] = goSrc.String()
	blocks := fences(t, readme)
	checked, fromFiles := 0, 0
	for _, b := range blocks {
		if b.from != "" {
			fromFiles++
			if src := read(t, filepath.Join(root, filepath.FromSlash(b.from))); !strings.Contains(dedent(src), dedent(b.body)) {
				t.Errorf("README %s block (section %q) does not stand as it is in %s:\n%s", b.lang, b.section, b.from, b.body)
			}
			continue
		}
		if b.section == "Use it in your project" {
			t.Errorf("README %s block in %q has no <!-- from PATH --> line:\n%s", b.lang, b.section, b.body)
		}
		src, ok := sources[b.lang]
		if !ok {
			continue
		}
		checked++
		for _, line := range strings.Split(b.body, "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			if !strings.Contains(src, strings.TrimSpace(line)) {
				t.Errorf("README %s line not found in the example sources: %q", b.lang, line)
			}
		}
	}
	if checked < 2 || fromFiles < 7 {
		t.Fatalf("checked %d proto/go blocks and %d taken from files; want at least 2 and 7", checked, fromFiles)
	}
}

// dedent removes the leading white space of every line.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, " \t")
	}
	return strings.Join(lines, "\n")
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
