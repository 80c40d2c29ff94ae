// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package authoptions carries the grpcauth.v1 options' .proto files, so
// that a workspace can get the exact version a plugin or runtime was built
// with, offline: `protoc-gen-go-grpcauth --export-options DIR` writes them
// with [Export]. Their Go package is
// github.com/grpcauth/protoc-gen-go-grpcauth/authoptions/grpcauth/v1.
package authoptions

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files holds grpcauth/v1/auth.proto, rules.proto and principal.proto,
// at the paths .proto files import them by.
//
//go:embed grpcauth/v1/auth.proto grpcauth/v1/rules.proto grpcauth/v1/principal.proto
var Files embed.FS

// BufYAML is the buf.yaml [Export] writes beside the files, which makes the
// folder a local buf module that a workspace lists.
const BufYAML = `# Written by protoc-gen-go-grpcauth --export-options: the grpcauth.v1
# options, as the plugin that wrote them was built with. Do not edit; export
# again after upgrading the plugin.
version: v2
`

// Export writes [Files] and a buf.yaml into dir, creating it if needed. The
// folder then works as `protoc -I dir` and as a module of a buf workspace.
// Files it writes replace what was there; nothing else in dir is touched.
func Export(dir string) error {
	if dir == "" {
		return fmt.Errorf("authoptions: export: no folder given")
	}
	err := fs.WalkDir(Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := Files.ReadFile(path)
		if err != nil {
			return err
		}
		return write(filepath.Join(dir, filepath.FromSlash(path)), b)
	})
	if err != nil {
		return fmt.Errorf("authoptions: export to %q: %w", dir, err)
	}
	if err := write(filepath.Join(dir, "buf.yaml"), []byte(BufYAML)); err != nil {
		return fmt.Errorf("authoptions: export to %q: %w", dir, err)
	}
	return nil
}

func write(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil { //nolint:gosec // a source folder users read
		return err
	}
	return os.WriteFile(path, b, 0o644) //nolint:gosec // .proto sources, meant to be read
}
