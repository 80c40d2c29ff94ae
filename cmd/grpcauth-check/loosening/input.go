// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package loosening

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/grpcauth/protoc-gen-go-grpcauth/cmd/protoc-gen-go-grpcauth/generator"
)

// errNoBase is an input with nothing to compare against: a git ref that is
// not in the clone, or one that holds no manifests. Exit code 3.
type errNoBase struct{ msg string }

func (e *errNoBase) Error() string { return e.msg }

// readInput reads the manifests of an input: a folder of manifests, or a
// buf image whose manifests are computed here. unannotated is the
// generator's parameter of that name, for images.
func readInput(path, unannotated string) ([]*generator.Manifest, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return readDir(path)
	}
	return readImage(path, unannotated)
}

// readDir reads every *_grpcauth.manifest.json under dir, in lexical order,
// through an os.Root: a link out of dir is not followed.
func readDir(dir string) ([]*generator.Manifest, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close() //nolint:errcheck // read-only: a close error loses nothing
	var out []*generator.Manifest
	var names []string
	err = fs.WalkDir(root.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, generator.ManifestSuffix) {
			return nil
		}
		name := filepath.Join(dir, filepath.FromSlash(path))
		b, err := root.ReadFile(path)
		if err != nil {
			return err
		}
		m, err := generator.ReadManifest(b)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, m)
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no manifests (*%s): generate with the parameter manifest=true", dir, generator.ManifestSuffix)
	}
	return out, checkUnique(out, names)
}

// checkUnique refuses a method that two manifests hold.
func checkUnique(ms []*generator.Manifest, names []string) error {
	where := map[string]string{}
	var errs []error
	for i, m := range ms {
		for _, s := range m.Services {
			for _, mm := range s.Methods {
				if w, ok := where[mm.Name]; ok {
					errs = append(errs, fmt.Errorf("%s: in %s and %s", mm.Name, w, names[i]))
				}
				where[mm.Name] = names[i]
			}
		}
	}
	return errors.Join(errs...)
}

// The field numbers of buf.alpha.image.v1: an Image is a
// FileDescriptorSet whose files carry an ImageFileExtension.
const (
	imageFileExtensionField = 8042 // ImageFile.buf_extension
	imageIsImportField      = 1    // ImageFileExtension.is_import
)

// readImage computes the manifests of a buf image (buf build -o FILE.binpb)
// or of a FileDescriptorSet with its imports (protoc --include_imports
// --descriptor_set_out). In an image the files that are not imports are
// checked; in a FileDescriptorSet, every file.
func readImage(path, unannotated string) ([]*generator.Manifest, error) {
	if strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".txtpb") {
		return nil, fmt.Errorf("%s: only binary images are read: buf build -o image.binpb", path)
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the image the user named
	if err != nil {
		return nil, err
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(b, set); err != nil {
		return nil, fmt.Errorf("%s: not a buf image or FileDescriptorSet: %w", path, err)
	}
	if len(set.GetFile()) == 0 {
		return nil, fmt.Errorf("%s: not a buf image or FileDescriptorSet: no files", path)
	}
	var check []string
	for _, f := range set.GetFile() {
		if !imageIsImport(f) {
			check = append(check, f.GetName())
		}
	}
	parameter := ""
	if unannotated != "" {
		parameter = "unannotated=" + unannotated
	}
	req, err := generator.AnalysisRequest(set.GetFile(), check, parameter)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	a, err := generator.Analyze(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(a.Findings) > 0 {
		lines := make([]string, len(a.Findings))
		for i, f := range a.Findings {
			lines[i] = "  " + f.Error()
		}
		return nil, fmt.Errorf("%s: the protos do not generate:\n%s", path, strings.Join(lines, "\n"))
	}
	if len(a.Manifests) == 0 {
		return nil, fmt.Errorf("%s: no services", path)
	}
	return a.Manifests, nil
}

// imageIsImport reads ImageFileExtension.is_import from f's unknown fields:
// false when f has no image extension (a FileDescriptorSet).
func imageIsImport(f *descriptorpb.FileDescriptorProto) bool {
	b := f.ProtoReflect().GetUnknown()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return false
		}
		if num == imageFileExtensionField && typ == protowire.BytesType {
			if ext, k := protowire.ConsumeBytes(b); k > 0 && extIsImport(ext) {
				return true
			}
		}
		b = b[m:]
	}
	return false
}

func extIsImport(b []byte) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if num == imageIsImportField && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			return m > 0 && v != 0
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return false
		}
		b = b[m:]
	}
	return false
}

// readGit reads the manifests under dir as they are at commit ref of the
// git repository dir is in (git ls-tree, then git cat-file blob REF:path
// for each, the content git show REF:path prints).
func readGit(ctx context.Context, ref, dir string) ([]*generator.Manifest, string, error) {
	if ref == "" || strings.HasPrefix(ref, "-") {
		return nil, "", fmt.Errorf("-against-git %q: not a commit name", ref)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	top, err := git(ctx, abs, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, "", fmt.Errorf("%s: not in a git repository: %w", dir, err)
	}
	top = strings.TrimSpace(top)
	rel, err := filepath.Rel(top, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, "", fmt.Errorf("%s: outside the repository at %s", dir, top)
	}
	rel = filepath.ToSlash(rel)
	where := ref + ":" + rel
	if _, err := git(ctx, top, "rev-parse", "--verify", "--quiet", ref+"^{commit}"); err != nil {
		why := "the first commit, or a clone without that history"
		if out, err := git(ctx, top, "rev-parse", "--is-shallow-repository"); err == nil && strings.TrimSpace(out) == "true" {
			why = "this clone is shallow: fetch more history (git fetch --deepen=1, or actions/checkout with fetch-depth: 2)"
		}
		return nil, where, &errNoBase{fmt.Sprintf("%s is not a commit here (%s): nothing to compare against", ref, why)}
	}
	list, err := git(ctx, top, "ls-tree", "-r", "-z", "--name-only", ref, "--", rel)
	if err != nil {
		return nil, where, err
	}
	var out []*generator.Manifest
	var names []string
	for _, name := range strings.Split(list, "\x00") {
		if !strings.HasSuffix(name, generator.ManifestSuffix) {
			continue
		}
		b, err := git(ctx, top, "cat-file", "blob", ref+":"+name)
		if err != nil {
			return nil, where, err
		}
		m, err := generator.ReadManifest([]byte(b))
		if err != nil {
			return nil, where, fmt.Errorf("%s:%s: %w", ref, name, err)
		}
		out = append(out, m)
		names = append(names, ref+":"+name)
	}
	if len(out) == 0 {
		return nil, where, &errNoBase{fmt.Sprintf("%s holds no manifests (*%s) under %s: nothing to compare against", ref, generator.ManifestSuffix, rel)}
	}
	return out, where, checkUnique(out, names)
}

// git runs git in dir and returns its standard output; the error holds
// its standard error.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...) // #nosec G204 -- fixed git subcommands; the ref is refused when it looks like a flag
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", fmt.Errorf("git %s: %w", args[0], err)
		}
		return "", fmt.Errorf("git %s: %s", args[0], msg)
	}
	return stdout.String(), nil
}
