// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"fmt"

	"google.golang.org/protobuf/compiler/protogen"
)

// generateExtras writes what the parameters ask for beside the Go code of
// f, each from f's manifest: the manifest itself (manifest=true), the
// Markdown reference (docs=markdown), the auth matrices (matrix=true).
func generateExtras(gen *protogen.Plugin, f *protogen.File, rules map[*protogen.Method]*effectiveRule, cfg config) error {
	m := manifestOf(f, rules)
	if cfg.manifest {
		b, err := m.Marshal()
		if err != nil {
			return fmt.Errorf("%s: manifest: %w", f.Desc.Path(), err)
		}
		g := gen.NewGeneratedFile(f.GeneratedFilenamePrefix+ManifestSuffix, f.GoImportPath)
		if _, err := g.Write(b); err != nil {
			return err
		}
	}
	if cfg.docs == "markdown" {
		generateDocs(gen, f, m)
	}
	if cfg.matrix {
		generateMatrix(gen, f, m)
	}
	return nil
}
