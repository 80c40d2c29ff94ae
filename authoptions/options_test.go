// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package authoptions_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/grpcauth/protoc-gen-go-grpcauth/authoptions"
)

// TestExportIsTheSource checks that what Export writes is, byte for byte,
// every .proto file of grpcauth/v1 in this module, plus the buf.yaml.
func TestExportIsTheSource(t *testing.T) {
	dir := t.TempDir()
	if err := authoptions.Export(dir); err != nil {
		t.Fatal(err)
	}
	sources, err := filepath.Glob(filepath.Join("grpcauth", "v1", "*.proto"))
	if err != nil || len(sources) == 0 {
		t.Fatalf("no .proto sources found: %v", err)
	}
	written, err := filepath.Glob(filepath.Join(dir, "grpcauth", "v1", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range written {
		names = append(names, filepath.Base(w))
	}
	var want []string
	for _, s := range sources {
		want = append(want, filepath.Base(s))
		src, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, s))
		if err != nil {
			t.Fatalf("%s not exported: %v", s, err)
		}
		if !bytes.Equal(got, src) {
			t.Errorf("exported %s differs from the source", s)
		}
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("exported %q; want %q", names, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "buf.yaml")); err != nil || string(b) != authoptions.BufYAML {
		t.Errorf("buf.yaml = %q, %v", b, err)
	}
	// Exporting again over the same folder is fine.
	if err := authoptions.Export(dir); err != nil {
		t.Fatal(err)
	}
}

func TestExportErrors(t *testing.T) {
	if err := authoptions.Export(""); err == nil || err.Error() != "authoptions: export: no folder given" {
		t.Errorf("Export(\"\") = %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := authoptions.Export(file); err == nil {
		t.Error("Export into a regular file succeeded")
	}
}
